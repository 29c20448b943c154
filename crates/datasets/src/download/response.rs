//! What a download does with one HTTP response, apart from the network: whether the body
//! continues the bytes already kept, replaces them or is not wanted, and streaming it into
//! the `.part` file with every length the server announced checked.
//!
//! [`receive`] takes the status, the headers it needs and the body as a reader, so servers
//! that misbehave (wrong lengths, odd ranges, bodies cut short) can be tested, and fuzzed,
//! without one:
//!
//! ```
//! use tapegrad_datasets::download::{receive, ResponseHead, TransferFailure};
//!
//! // 5 bytes kept from an earlier try; the server resumes at byte 5 of 10.
//! let mut part = b"01234".to_vec();
//! let head = ResponseHead {
//!     status: 206,
//!     content_length: Some("5".into()),
//!     content_range: Some("bytes 5-9/10".into()),
//! };
//! receive(&head, 5, &mut &b"56789"[..], &mut part).unwrap();
//! assert_eq!(part, b"0123456789");
//!
//! // A body cut short keeps what arrived, for the next try to resume from.
//! let mut part = Vec::new();
//! let head = ResponseHead { status: 200, content_length: Some("10".into()), ..Default::default() };
//! let err = receive(&head, 0, &mut &b"0123"[..], &mut part).unwrap_err();
//! assert!(matches!(err, TransferFailure::Retry(_)), "{err:?}");
//! assert_eq!(part, b"0123");
//! ```
//!
//! The body is kept as it arrives, whatever its `Content-Encoding`: the data sets' files are
//! gzip files themselves, and no `Accept-Encoding` is sent, so a server that labels a `.gz`
//! file `Content-Encoding: gzip` still sends the file's own bytes, which verification then
//! decompresses.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use indicatif::ProgressBar;

/// Why one transfer try did not complete, and so what the download does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferFailure {
    /// Try the same URL again, resuming from the bytes that arrived (broken transfer, 5xx,
    /// timeout).
    Retry(String),
    /// Try the same URL again from the first byte: the bytes kept so far do not fit what the
    /// server sent, so the `.part` file is deleted first.
    Restart(String),
    /// Not worth trying this URL again (404, 403, a bad URL, a file that cannot be written).
    NextMirror(String),
}

impl TransferFailure {
    /// What went wrong, for the list of attempts in the final error.
    pub fn message(&self) -> &str {
        match self {
            TransferFailure::Retry(m)
            | TransferFailure::Restart(m)
            | TransferFailure::NextMirror(m) => m,
        }
    }
}

/// The parts of an HTTP response head that a download reads: the status and two headers, as
/// sent (`None` when absent or not text).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (`200`, `206`, `404`, ...).
    pub status: u16,
    /// The `Content-Length` header: the body's length in bytes.
    pub content_length: Option<String>,
    /// The `Content-Range` header of a partial response: `bytes START-END/TOTAL`.
    pub content_range: Option<String>,
}

/// Where a transfer writes the file it receives: the `.part` file of a download, or a
/// `Vec<u8>` in tests.
pub trait PartFile: Write {
    /// Keeps the first `len` bytes and drops the rest; later writes continue after them.
    /// `len` is never more than the bytes there.
    fn keep_first(&mut self, len: u64) -> std::io::Result<()>;
}

impl PartFile for File {
    fn keep_first(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(|_| ())
    }
}

impl PartFile for Vec<u8> {
    fn keep_first(&mut self, len: u64) -> std::io::Result<()> {
        match usize::try_from(len) {
            Ok(len) if len <= self.len() => {
                self.truncate(len);
                Ok(())
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cannot keep {len} bytes of {}", self.len()),
            )),
        }
    }
}

/// What a response asks of the part file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Keep the first `start` bytes and append the body, which ends before byte `end` of the
    /// file; the whole file has `total` bytes. Each is known when the server said so.
    Write {
        start: u64,
        end: Option<u64>,
        total: Option<u64>,
    },
    /// The bytes kept are already the whole file.
    Complete,
}

/// Handles one response to a download request for a file of which `have` bytes are already
/// in `part` (a request for `have > 0` asked for the range from `have` on).
///
/// A `200` replaces what `part` holds, a `206` must continue it at exactly `have`, a `416`
/// says it is already whole; every other status is a failure. The body is then streamed into
/// `part`, and `Ok` means it arrived with every length the server announced (the file still
/// has to be verified). On a failure the bytes that arrived stay in `part`, except for
/// [`TransferFailure::Restart`], after which the caller discards them.
pub fn receive(
    head: &ResponseHead,
    have: u64,
    body: &mut dyn Read,
    part: &mut dyn PartFile,
) -> Result<(), TransferFailure> {
    receive_with_progress(head, have, body, part, &ProgressBar::hidden())
}

/// [`receive`], moving `bar` as bytes arrive.
pub(crate) fn receive_with_progress(
    head: &ResponseHead,
    have: u64,
    body: &mut dyn Read,
    part: &mut dyn PartFile,
    bar: &ProgressBar,
) -> Result<(), TransferFailure> {
    let (start, end, total) = match plan(head, have)? {
        Plan::Complete => return Ok(()),
        Plan::Write { start, end, total } => (start, end, total),
    };
    let cannot_write = |e: std::io::Error| TransferFailure::NextMirror(format!("cannot write {e}"));
    part.keep_first(start).map_err(cannot_write)?;
    if let Some(total) = total {
        bar.set_length(total);
    }
    bar.set_position(start);

    let mut buf = vec![0u8; 1 << 16];
    let mut got = start;
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                part.write_all(&buf[..n]).map_err(cannot_write)?;
                got += n as u64;
                bar.set_position(got);
                // A server that sends more than it announced is sending something else: stop
                // before it fills the disk.
                if let Some(end) = end.filter(|&e| got > e) {
                    return Err(TransferFailure::Restart(format!(
                        "the server sent more than the {} bytes it announced; restarting",
                        end - start
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(TransferFailure::Retry(format!(
                    "transfer broken after {got} bytes ({e}); will resume"
                )))
            }
        }
    }
    // A body that stopped early, or a range that was not the rest of the file: resume.
    match end.max(total) {
        Some(whole) if got < whole => Err(TransferFailure::Retry(format!(
            "transfer ended after {got} of {whole} bytes; will resume"
        ))),
        _ => Ok(()),
    }
}

/// Decides from the status and headers alone what the body is, given `have` bytes kept.
fn plan(head: &ResponseHead, have: u64) -> Result<Plan, TransferFailure> {
    let status = head.status;
    // Without a length a body cut short could not be told from a whole one.
    let length = || match head.content_length.as_deref() {
        None => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            TransferFailure::Retry(format!(
                "HTTP {status} with an invalid Content-Length {v:?}"
            ))
        }),
    };
    match status {
        200 => {
            let length = length()?;
            Ok(Plan::Write {
                start: 0,
                end: length,
                total: length,
            })
        }
        206 => {
            let restart = |why: String| TransferFailure::Restart(format!("{why}; restarting"));
            let Some(range) = head.content_range.as_deref().and_then(content_range) else {
                return Err(restart(
                    "partial response without a valid Content-Range".into(),
                ));
            };
            if range.start != have {
                return Err(restart(format!(
                    "server resumed at byte {} instead of {have}",
                    range.start
                )));
            }
            let sent = range.end - range.start + 1;
            if let Some(length) = length().map_err(|e| restart(e.message().to_string()))? {
                if length != sent {
                    return Err(restart(format!(
                        "Content-Length {length} does not match Content-Range {:?}",
                        head.content_range.as_deref().unwrap_or_default()
                    )));
                }
            }
            Ok(Plan::Write {
                start: have,
                end: Some(range.end + 1),
                total: range.total,
            })
        }
        // The range starts at or past the end: what we have may already be complete.
        416 if have > 0 => Ok(Plan::Complete),
        408 | 429 | 500..=599 => Err(TransferFailure::Retry(format!("HTTP {status}"))),
        _ => Err(TransferFailure::NextMirror(format!("HTTP {status}"))),
    }
}

/// A `Content-Range: bytes START-END/TOTAL` header (TOTAL may be `*`, unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

/// Parses a `Content-Range` header; `None` unless `START <= END` and, when TOTAL is known,
/// `END < TOTAL`, as HTTP requires.
fn content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    // END + 1 is used as a length: it must not overflow.
    let valid = start <= end && end < u64::MAX && total.is_none_or(|t| end < t);
    valid.then_some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, length: Option<&str>, range: Option<&str>) -> ResponseHead {
        ResponseHead {
            status,
            content_length: length.map(Into::into),
            content_range: range.map(Into::into),
        }
    }

    #[test]
    fn parses_content_range() {
        let r = |start, end, total| Some(ContentRange { start, end, total });
        assert_eq!(content_range("bytes 100-199/200"), r(100, 199, Some(200)));
        assert_eq!(content_range("bytes 5-9/*"), r(5, 9, None));
        assert_eq!(content_range("items 1-2/3"), None);
        assert_eq!(content_range("bytes */200"), None);
        assert_eq!(content_range("bytes 9-5/20"), None);
        assert_eq!(content_range("bytes 5-9/9"), None);
        assert_eq!(content_range("bytes 5-9/abc"), None);
    }

    #[test]
    fn a_full_response_replaces_what_was_kept() {
        let mut part = b"old bytes".to_vec();
        receive(&head(200, Some("3"), None), 9, &mut &b"new"[..], &mut part).unwrap();
        assert_eq!(part, b"new");
    }

    #[test]
    fn a_partial_response_must_continue_where_the_file_stops() {
        let mut part = b"0123".to_vec();
        let err = receive(
            &head(206, None, Some("bytes 3-9/10")),
            4,
            &mut &b"3456789"[..],
            &mut part,
        )
        .unwrap_err();
        assert!(matches!(err, TransferFailure::Restart(_)), "{err:?}");
        assert_eq!(
            part, b"0123",
            "nothing written before the range was checked"
        );
    }

    /// A length that does not fit the range, or one so large that the end of the file cannot
    /// be computed, is a reason to start over, never an overflow.
    #[test]
    fn lengths_that_disagree_restart() {
        for (length, range) in [
            ("3", "bytes 4-9/10"),
            ("18446744073709551615", "bytes 4-9/*"),
            ("6", "bytes 4-18446744073709551615/*"),
        ] {
            let mut part = b"0123".to_vec();
            let err = receive(
                &head(206, Some(length), Some(range)),
                4,
                &mut &b"456789"[..],
                &mut part,
            )
            .unwrap_err();
            assert!(
                matches!(err, TransferFailure::Restart(_)),
                "{range}: {err:?}"
            );
        }
    }

    #[test]
    fn more_than_announced_restarts() {
        let mut part = Vec::new();
        let err = receive(&head(200, Some("2"), None), 0, &mut &b"abc"[..], &mut part).unwrap_err();
        assert!(matches!(err, TransferFailure::Restart(_)), "{err:?}");
        // Without a Content-Length the range says where the body ends.
        let err = receive(
            &head(206, None, Some("bytes 0-1/5")),
            0,
            &mut &b"abcde"[..],
            &mut part,
        )
        .unwrap_err();
        assert!(matches!(err, TransferFailure::Restart(_)), "{err:?}");
    }

    #[test]
    fn a_range_short_of_the_end_resumes() {
        let mut part = b"01".to_vec();
        let head = head(206, None, Some("bytes 2-3/6"));
        let err = receive(&head, 2, &mut &b"23"[..], &mut part).unwrap_err();
        assert!(matches!(err, TransferFailure::Retry(_)), "{err:?}");
        assert_eq!(part, b"0123");
    }

    #[test]
    fn statuses_say_whether_to_retry() {
        let mut part = b"kept".to_vec();
        let mut run =
            |status, have| receive(&head(status, None, None), have, &mut &b"x"[..], &mut part);
        assert_eq!(run(416, 4), Ok(()));
        assert!(matches!(run(416, 0), Err(TransferFailure::NextMirror(_))));
        assert!(matches!(run(503, 4), Err(TransferFailure::Retry(_))));
        assert!(matches!(run(404, 4), Err(TransferFailure::NextMirror(_))));
        assert_eq!(part, b"kept");
    }
}
