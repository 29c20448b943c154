//! The download's handling of one HTTP response (`tapegrad_datasets::download::receive`):
//! status, `Content-Length`, `Content-Range`, bodies cut short, a disk that fills up, and
//! whatever gzip body arrives going through the verification a downloaded MNIST file gets.
//!
//! An input is a response as text: a status line, header lines, an empty line, the body.
//! Three made-up headers set the scene:
//!
//! ```text
//! HTTP/1.1 206 Partial Content
//! Content-Length: 5
//! Content-Range: bytes 5-9/10
//! X-Have: 5          <- bytes kept from an earlier try (at most 64 KiB)
//! X-Cut: 3           <- the connection breaks after this many body bytes
//! X-Disk: 8          <- the disk is full after this many bytes of the file
//!
//! 56789
//! ```

use std::io::{Read, Write};
use std::sync::OnceLock;

use ndarray::{ArrayD, IxDyn};
use tapegrad_datasets::download::{receive, Check, PartFile, ResponseHead, TransferFailure};
use tapegrad_datasets::idx::{encode_idx, IdxData};

use super::scratch_file;

/// The most bytes a scene keeps from an earlier try.
const MAX_HAVE: usize = 64 << 10;

/// A response and the circumstances it arrives in.
struct Scene<'a> {
    head: ResponseHead,
    have: usize,
    cut: Option<usize>,
    disk: Option<usize>,
    body: &'a [u8],
}

fn scene(data: &[u8]) -> Scene<'_> {
    let (head, body) = match data.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => (data, &data[data.len()..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut scene = Scene {
        head: ResponseHead {
            status,
            ..ResponseHead::default()
        },
        have: 0,
        cut: None,
        disk: None,
        body,
    };
    let number = |v: &str| v.trim().parse::<usize>().ok();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => scene.head.content_length = Some(value.trim().to_string()),
            "content-range" => scene.head.content_range = Some(value.trim().to_string()),
            "x-have" => scene.have = number(value).unwrap_or(0).min(MAX_HAVE),
            "x-cut" => scene.cut = number(value),
            "x-disk" => scene.disk = number(value),
            _ => {}
        }
    }
    scene
}

/// A body that breaks off after `cut` bytes, as a dropped connection does.
struct Body<'a> {
    rest: &'a [u8],
    cut: Option<usize>,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cut == Some(0) {
            return Err(std::io::ErrorKind::ConnectionReset.into());
        }
        // Small reads, so that a break can fall anywhere.
        let n = buf
            .len()
            .min(self.rest.len())
            .min(self.cut.unwrap_or(usize::MAX))
            .min(4096);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.cut = self.cut.map(|c| c - n);
        Ok(n)
    }
}

/// The part file in memory, on a disk that holds `room` bytes.
struct Disk {
    bytes: Vec<u8>,
    room: usize,
    full: bool,
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.room.saturating_sub(self.bytes.len()));
        if n == 0 && !buf.is_empty() {
            self.full = true;
            return Err(std::io::Error::other("no space left on device"));
        }
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PartFile for Disk {
    fn keep_first(&mut self, len: u64) -> std::io::Result<()> {
        self.bytes.keep_first(len)
    }
}

/// The content of the small gzip file the seeds serve, and its SHA-256, as an MNIST file's
/// digest is checked.
fn expected_digest() -> &'static str {
    static DIGEST: OnceLock<String> = OnceLock::new();
    DIGEST.get_or_init(|| {
        let labels = ArrayD::from_shape_vec(IxDyn(&[10]), (0..10).collect()).expect("10 labels");
        tapegrad_datasets::cache::sha256_reader(&encode_idx(&IdxData::U8(labels))[..])
            .expect("reading memory")
    })
}

/// One response handled: the part file ends up holding exactly what the response says, and
/// a transfer that succeeds is verified like a downloaded MNIST file.
pub fn download_response(data: &[u8]) {
    let scene = scene(data);
    let kept: Vec<u8> = (0..scene.have).map(|i| (i % 251) as u8).collect();
    let mut disk = Disk {
        bytes: kept.clone(),
        room: scene.disk.unwrap_or(usize::MAX),
        full: false,
    };
    let mut body = Body {
        rest: scene.body,
        cut: scene.cut,
    };
    let outcome = receive(&scene.head, scene.have as u64, &mut body, &mut disk);
    let got = &disk.bytes;
    let status = scene.head.status;
    let cut_short = scene.cut.is_some_and(|c| c < scene.body.len());

    // Whatever was written is what was kept, then the start of the body.
    let start = match status {
        200 => 0,
        206 => scene.have,
        _ => {
            assert_eq!(got, &kept, "HTTP {status} changed the part file");
            assert!(
                outcome.is_ok() == (status == 416 && scene.have > 0),
                "HTTP {status}: {outcome:?}"
            );
            return;
        }
    };
    if !got.is_empty() || outcome.is_ok() {
        // A refused 206 writes nothing; any other write starts from the bytes kept.
        if got != &kept {
            assert_eq!(&got[..start], &kept[..start], "the bytes kept were changed");
            let tail = &got[start..];
            assert!(tail.len() <= scene.body.len(), "more written than sent");
            assert_eq!(
                tail,
                &scene.body[..tail.len()],
                "the body was not written as sent"
            );
        }
    }
    match &outcome {
        Ok(()) => {
            assert!(!cut_short && !disk.full, "a broken transfer succeeded");
            assert_eq!(&got[start..], scene.body, "success without the whole body");
            let number = |v: &str| v.trim().parse::<usize>().ok();
            if let Some(length) = scene.head.content_length.as_deref().and_then(number) {
                assert_eq!(got.len() - start, length, "a body of another length");
            }
            if status == 206 {
                // The file ends where the range does: `bytes START-END/TOTAL`.
                let range = scene.head.content_range.as_deref().unwrap_or_default();
                let end = range.split_once('-').and_then(|(_, r)| r.split('/').next());
                assert_eq!(end.and_then(number), got.len().checked_sub(1), "{range}");
            }
            verify(got);
        }
        Err(TransferFailure::NextMirror(_)) => {
            assert!(
                disk.full,
                "HTTP {status} refused with no write error: {outcome:?}"
            )
        }
        Err(TransferFailure::Retry(_) | TransferFailure::Restart(_)) => {}
    }
}

/// The verification a downloaded MNIST file gets: the SHA-256 of its decompressed content.
fn verify(file: &[u8]) {
    let path = scratch_file("download");
    if std::fs::write(&path, file).is_ok() {
        let check = Check::Sha256Decompressed(expected_digest());
        // The seeds' gzip file passes; anything else must be refused, not crash.
        let _ = check.verify(&path);
        let _ = std::fs::remove_file(&path);
    }
}
