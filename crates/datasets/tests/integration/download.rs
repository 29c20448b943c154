//! The real download path against a local HTTP server on 127.0.0.1 serving the real MNIST
//! files: mirrors, 404s, checksum failures, broken transfers, resume and restart.
//!
//! The server is a few dozen lines on `std::net` so that a test can cut a response off at an
//! exact byte and close the connection, which an HTTP library would not let it do.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tapegrad_datasets::download::{Check, RemoteFile};
use tapegrad_datasets::mnist::MNIST_FILES;
use tapegrad_datasets::{
    DataSource, DatasetError, DownloadError, DownloadOptions, IdxError, Mnist,
};

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    range: Option<String>,
}

struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `files` (name -> bytes) under these routes:
    /// `/ok/NAME` (with Range support), `/missing/NAME` (404), `/cut/NAME` (first response
    /// cut off halfway, later ones honour Range), `/cutnorange/NAME` (cut, then ignores Range),
    /// `/flaky/NAME` (500 once), `/wrong/NAME` (another file's bytes), `/corrupt/NAME`
    /// (the gzip with a damaged middle).
    fn start(files: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut hits: HashMap<String, usize> = HashMap::new();
            // Bounded: stops when dropped, and after a minute whatever happens.
            while !stop2.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &files, &mut hits, &seen2),
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server {
            port,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn url(&self, route: &str) -> String {
        format!("http://127.0.0.1:{}/{route}/", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    hits: &mut HashMap<String, usize>,
    seen: &Mutex<Vec<Seen>>,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
    });
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("").to_string();
    let name = parts.next().unwrap_or("").to_string();
    let count = {
        let c = hits.entry(format!("{route}/{name}")).or_insert(0);
        *c += 1;
        *c
    };
    let Some(body) = files.get(&name) else {
        return respond(&mut stream, "404 Not Found", &[], b"no such file", None);
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    match route.as_str() {
        "missing" => respond(&mut stream, "404 Not Found", &[], b"not here", None),
        "flaky" if count == 1 => {
            respond(&mut stream, "503 Service Unavailable", &[], b"busy", None)
        }
        "wrong" => {
            let other = files.values().find(|v| *v != body).unwrap();
            respond(&mut stream, "200 OK", &[], other, None)
        }
        "corrupt" => {
            let mut bad = body.clone();
            let mid = bad.len() / 2;
            for b in &mut bad[mid..mid + 64] {
                *b ^= 0x5a;
            }
            respond(&mut stream, "200 OK", &[], &bad, None)
        }
        "cut" | "cutnorange" if count == 1 => {
            respond(&mut stream, "200 OK", &[], body, Some(body.len() / 2))
        }
        "cutnorange" => respond(&mut stream, "200 OK", &[], body, None),
        _ => match start {
            Some(s) if s >= body.len() => {
                respond(&mut stream, "416 Range Not Satisfiable", &[], b"", None)
            }
            Some(s) => {
                let cr = format!("Content-Range: bytes {s}-{}/{}", body.len() - 1, body.len());
                respond(&mut stream, "206 Partial Content", &[&cr], &body[s..], None)
            }
            None => respond(&mut stream, "200 OK", &[], body, None),
        },
    }
}

/// Writes a response; with `cut_at`, announces the full length but sends only that many bytes
/// and closes the connection.
fn respond(
    stream: &mut TcpStream,
    status: &str,
    extra: &[&str],
    body: &[u8],
    cut_at: Option<usize>,
) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\nAccept-Ranges: bytes\r\n",
        body.len()
    );
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..cut_at.unwrap_or(body.len())]);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

fn real_files() -> HashMap<String, Vec<u8>> {
    MNIST_FILES
        .iter()
        .map(|f| {
            let path = common::require(&format!("mnist/{}", f.name));
            (f.name.to_string(), std::fs::read(path).unwrap())
        })
        .collect()
}

fn quick() -> DownloadOptions {
    DownloadOptions {
        retries: 1,
        retry_delay: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        progress: false,
    }
}

fn source(dir: &Path, mirrors: &[String]) -> DataSource {
    DataSource::new(dir)
        .with_mirrors(mirrors.iter().cloned())
        .with_options(quick())
        .with_cache_dir(dir.join("derived"))
}

/// Every name in `dir/mnist` (including hidden temporaries).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("mnist"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const LABELS: RemoteFile = MNIST_FILES[1];

#[test]
fn download_success_lands_verified_files_and_loads() {
    let files = real_files();
    let server = Server::start(files.clone());
    let tmp = tempfile::tempdir().unwrap();
    let mnist = Mnist::load_with(&source(tmp.path(), &[server.url("ok")])).unwrap();
    assert_eq!(mnist.train_images.shape(), &[60_000, 28, 28]);
    assert_eq!(mnist.test_labels.len(), 10_000);
    let mut names: Vec<String> = MNIST_FILES.iter().map(|f| f.name.to_string()).collect();
    names.sort();
    assert_eq!(
        listing(tmp.path()),
        names,
        "only the four verified files, no temporaries"
    );
    for f in &MNIST_FILES {
        assert_eq!(
            std::fs::read(tmp.path().join("mnist").join(f.name)).unwrap(),
            files[f.name]
        );
    }
    // A second load uses the files already there: no new request.
    let before = server.seen().len();
    Mnist::load_with(&source(tmp.path(), &[server.url("ok")])).unwrap();
    assert_eq!(server.seen().len(), before);
}

#[test]
fn first_mirror_404_then_second_mirror_works() {
    let server = Server::start(real_files());
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), &[server.url("missing"), server.url("ok")]);
    let path = src.fetch(&LABELS).unwrap();
    assert_eq!(path, tmp.path().join("mnist").join(LABELS.name));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "404 is not retried: {seen:?}");
    assert!(seen[0].path.starts_with("/missing/"));
    assert!(seen[1].path.starts_with("/ok/"));
}

#[test]
fn checksum_mismatch_is_rejected_and_the_cache_is_untouched() {
    let server = Server::start(real_files());
    let tmp = tempfile::tempdir().unwrap();
    let err = source(tmp.path(), &[server.url("wrong")])
        .fetch(&LABELS)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("verification failed"), "{msg}");
    assert!(msg.contains(&server.url("wrong")), "{msg}");
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));
    // A present file with the wrong content is refused at load time as well.
    let dir = tmp.path().join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let files = real_files();
    for f in &MNIST_FILES {
        std::fs::write(dir.join(f.name), &files[f.name]).unwrap();
    }
    std::fs::write(dir.join(LABELS.name), &files[MNIST_FILES[3].name]).unwrap();
    let err = Mnist::load_from(&dir).unwrap_err();
    assert!(matches!(err, DatasetError::Verification { .. }), "{err}");
    assert!(err.to_string().contains("delete it"), "{err}");
}

#[test]
fn transfer_cut_off_mid_file_is_resumed_with_range() {
    let files = real_files();
    let server = Server::start(files.clone());
    let tmp = tempfile::tempdir().unwrap();
    let path = source(tmp.path(), &[server.url("cut")])
        .fetch(&LABELS)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), files[LABELS.name]);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    let half = files[LABELS.name].len() / 2;
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={half}-").as_str())
    );
    assert_eq!(listing(tmp.path()), vec![LABELS.name.to_string()]);
}

#[test]
fn transfer_cut_off_is_restarted_when_the_server_ignores_range() {
    let files = real_files();
    let server = Server::start(files.clone());
    let tmp = tempfile::tempdir().unwrap();
    let path = source(tmp.path(), &[server.url("cutnorange")])
        .fetch(&LABELS)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), files[LABELS.name]);
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn leftover_partial_file_is_resumed_and_a_bad_one_restarted() {
    let files = real_files();
    let server = Server::start(files.clone());
    let body = &files[LABELS.name];

    // A good prefix left by an interrupted run: resumed.
    let tmp = tempfile::tempdir().unwrap();
    let part = tmp
        .path()
        .join("mnist")
        .join(format!(".{}.part", LABELS.name));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, &body[..1000]).unwrap();
    let path = source(tmp.path(), &[server.url("ok")])
        .fetch(&LABELS)
        .unwrap();
    assert_eq!(&std::fs::read(path).unwrap(), body);
    assert_eq!(server.seen()[0].range.as_deref(), Some("bytes=1000-"));

    // A prefix from some other file: the resumed result fails verification, one clean restart.
    let tmp = tempfile::tempdir().unwrap();
    let part = tmp
        .path()
        .join("mnist")
        .join(format!(".{}.part", LABELS.name));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, vec![7u8; 1000]).unwrap();
    let n = server.seen().len();
    let path = source(tmp.path(), &[server.url("ok")])
        .fetch(&LABELS)
        .unwrap();
    assert_eq!(&std::fs::read(path).unwrap(), body);
    let seen = &server.seen()[n..];
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].range, None, "restart from scratch");
}

#[test]
fn server_errors_are_retried() {
    let server = Server::start(real_files());
    let tmp = tempfile::tempdir().unwrap();
    source(tmp.path(), &[server.url("flaky")])
        .fetch(&LABELS)
        .unwrap();
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn corrupt_gzip_download_is_an_error_not_a_panic() {
    let server = Server::start(real_files());
    let tmp = tempfile::tempdir().unwrap();
    let err = source(tmp.path(), &[server.url("corrupt")])
        .fetch(&MNIST_FILES[0])
        .unwrap_err();
    assert!(err.to_string().contains("verification failed"), "{err}");
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn all_mirrors_failing_lists_each_url_and_the_drop_path() {
    let server = Server::start(real_files());
    // A port nobody listens on: connection refused.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{closed}/mnist/");
    let tmp = tempfile::tempdir().unwrap();
    let err = source(tmp.path(), &[server.url("missing"), dead.clone()])
        .fetch(&LABELS)
        .unwrap_err();
    let DatasetError::Download(DownloadError::AllMirrorsFailed {
        attempts,
        destination,
        ..
    }) = &err
    else {
        panic!("unexpected error {err:?}")
    };
    let expected_dest: PathBuf = tmp.path().join("mnist").join(LABELS.name);
    assert_eq!(destination, &expected_dest);
    assert!(attempts[0].url.starts_with(&server.url("missing")));
    assert!(attempts[0].error.contains("404"), "{attempts:?}");
    assert!(attempts.iter().any(|a| a.url.starts_with(&dead)));
    let msg = err.to_string();
    assert!(msg.contains(&expected_dest.display().to_string()), "{msg}");
    assert!(msg.contains("TAPEGRAD_DATA_DIR"), "{msg}");
    assert!(msg.contains(&dead), "{msg}");
}

#[test]
fn offline_error_names_every_missing_path_and_the_urls() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Mnist::load_with(&DataSource::new(tmp.path()).offline()).unwrap_err();
    // All four files are missing: one error lists them all, so they can be fetched at once.
    let DatasetError::Several(errors) = &err else {
        panic!("unexpected error {err:?}")
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with("4 files of the data set could not be fetched"),
        "{msg}"
    );
    assert_eq!(errors.len(), 4);
    for (e, file) in errors.iter().zip(MNIST_FILES.iter()) {
        let DatasetError::Download(DownloadError::Offline {
            destination, urls, ..
        }) = e
        else {
            panic!("unexpected error {e:?}")
        };
        assert_eq!(destination, &tmp.path().join("mnist").join(file.name));
        assert!(urls[0].starts_with("https://ossci-datasets.s3.amazonaws.com/mnist/"));
        assert!(msg.contains(&destination.display().to_string()), "{msg}");
    }
    assert!(listing(tmp.path()).is_empty());

    // With only one missing, the error is that file's own.
    let files = real_files();
    for f in &MNIST_FILES[1..] {
        let dir = tmp.path().join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(f.name), &files[f.name]).unwrap();
    }
    let err = Mnist::load_with(&DataSource::new(tmp.path()).offline()).unwrap_err();
    let DatasetError::Download(DownloadError::Offline { destination, .. }) = &err else {
        panic!("unexpected error {err:?}")
    };
    assert_eq!(
        destination,
        &tmp.path().join("mnist").join(MNIST_FILES[0].name)
    );
}

#[test]
fn damaged_files_in_the_data_dir_give_errors_not_panics() {
    let files = real_files();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for f in &MNIST_FILES {
        std::fs::write(dir.join(f.name), &files[f.name]).unwrap();
    }
    // Corrupt gzip (damaged deflate data).
    let mut bad = files[LABELS.name].clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 32] {
        *b ^= 0xa5;
    }
    std::fs::write(dir.join(LABELS.name), &bad).unwrap();
    let err = Mnist::load_from(dir).unwrap_err();
    assert!(
        matches!(
            &err,
            DatasetError::Idx {
                source: IdxError::Gzip(_),
                ..
            }
        ),
        "{err:?}"
    );
    // Wrong magic number (uncompressed, so the name without .gz is used).
    std::fs::remove_file(dir.join(LABELS.name)).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        b"\x01\x02\x08\x01\x00\x00\x00\x01\x05",
    )
    .unwrap();
    let err = Mnist::load_from(dir).unwrap_err();
    assert!(
        matches!(
            &err,
            DatasetError::Idx {
                source: IdxError::BadMagic { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn md5_check_of_published_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("empty.gz");
    std::fs::write(&p, b"").unwrap();
    Check::Md5("d41d8cd98f00b204e9800998ecf8427e")
        .verify(&p)
        .unwrap();
    let e = Check::Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d")
        .verify(&p)
        .unwrap_err();
    assert!(e.contains("d41d8cd98f00b204e9800998ecf8427e"), "{e}");
}
