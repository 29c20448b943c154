//! Finding data files, and downloading them when they are missing.
//!
//! [`DataSource`] says where files live (the data dir), whether the network may be used, and
//! which mirrors to try. A missing file is downloaded:
//!
//! 1. mirrors are tried in order; each one up to `retries + 1` times;
//! 2. the body streams into `.<name>.part` in the destination folder, with a progress bar on
//!    stderr (hidden when stderr is not a terminal or [`DownloadOptions::progress`] is off);
//! 3. a transfer cut off mid-file is resumed with an HTTP `Range` request (or restarted when
//!    the server ignores ranges, or when a resumed file fails verification);
//! 4. the complete file is flushed to disk and verified (checksum or structure, per data set);
//! 5. only then is it renamed to its final name. A file that fails verification is deleted
//!    and never appears under the final name.
//!
//! When every mirror fails, [`DownloadError::AllMirrorsFailed`] lists each URL with its
//! failure and the exact path where the file can be put by hand.
//!
//! What is done with each response (steps 2 and 3) is [`receive`], a function of the status,
//! the headers and the body alone, testable without a network.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cache::{self, commit};
use crate::error::{Attempt, DatasetError, DownloadError, Result};

mod response;

use response::receive_with_progress;
pub use response::{receive, PartFile, ResponseHead, TransferFailure};

/// How a downloaded (or present) file is checked.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// SHA-256 (lowercase hex) of the gzip file's decompressed content. Used for MNIST, whose
    /// `.gz` files differ between mirrors (recompressed copies) while the content does not.
    Sha256Decompressed(&'static str),
    /// MD5 (lowercase hex) of the file as downloaded, as published by the data set's authors.
    Md5(&'static str),
    /// A structural check (no published digest exists). Returns what is wrong.
    Custom(fn(&Path) -> std::result::Result<(), String>),
}

impl Check {
    /// Runs the check on a file. `Err` says what did not match.
    pub fn verify(&self, path: &Path) -> std::result::Result<(), String> {
        match *self {
            Check::Sha256Decompressed(want) => {
                let got = sha256_decompressed(path)?;
                if got == want {
                    Ok(())
                } else {
                    Err(format!(
                        "SHA-256 of the decompressed content is {got}, expected {want}"
                    ))
                }
            }
            Check::Md5(want) => {
                let got = md5_file(path).map_err(|e| format!("cannot read: {e}"))?;
                if got == want {
                    Ok(())
                } else {
                    Err(format!("MD5 is {got}, expected {want}"))
                }
            }
            Check::Custom(f) => f(path),
        }
    }
}

/// SHA-256 of a gzip file's decompressed content (or of the file itself if not gzip).
pub fn sha256_decompressed(path: &Path) -> std::result::Result<String, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("cannot read: {e}"))?;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read: {e}"))?;
    let r = std::io::BufReader::with_capacity(1 << 16, f);
    if crate::idx::is_gzip(&magic[..n]) {
        cache::sha256_reader(flate2::bufread::MultiGzDecoder::new(r))
            .map_err(|e| format!("not a valid gzip file ({e})"))
    } else {
        cache::sha256_reader(r).map_err(|e| format!("cannot read: {e}"))
    }
}

fn md5_file(path: &Path) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    let mut f = File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(cache::hex(&h.finalize()))
}

/// A file of a data set and where it can be fetched from.
#[derive(Clone, Copy, Debug)]
pub struct RemoteFile {
    /// Folder of the data set inside the data dir (`mnist`, `fashion-mnist`, `notmnist`).
    pub folder: &'static str,
    /// File name, identical on every mirror.
    pub name: &'static str,
    /// Mirror base URLs (each ends with `/`), tried in order.
    pub mirrors: &'static [&'static str],
    /// How the file is verified.
    pub check: Check,
}

/// Knobs for downloads.
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    /// Extra tries per mirror after a transient failure (broken transfer, 5xx, timeout).
    pub retries: u32,
    /// Pause before a retry (doubled on each further retry).
    pub retry_delay: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for any single read from the network (a stalled transfer fails after this).
    pub read_timeout: Duration,
    /// Show a progress bar on stderr (it is hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            retries: 2,
            retry_delay: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            progress: true,
        }
    }
}

/// Where data files are found, and whether and from where missing ones are downloaded.
///
/// ```no_run
/// use tapegrad_datasets::{DataSource, Mnist};
/// // Files already in /data/mnist are used; missing ones are downloaded there.
/// let source = DataSource::new("/data");
/// let mnist = Mnist::load_with(&source)?;
/// // Never touch the network: a missing file is an error naming the path to put it at.
/// let mnist = Mnist::load_with(&DataSource::from_env().offline())?;
/// # Ok::<(), tapegrad_datasets::DatasetError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DataSource {
    data_dir: PathBuf,
    cache_dir: PathBuf,
    download: bool,
    mirrors: Option<Vec<String>>,
    options: DownloadOptions,
}

impl Default for DataSource {
    fn default() -> Self {
        Self::from_env()
    }
}

impl DataSource {
    /// Data dir from `TAPEGRAD_DATA_DIR` (else the platform cache dir), cache dir from
    /// `TAPEGRAD_CACHE_DIR` (else the platform cache dir), downloads on, default mirrors.
    pub fn from_env() -> Self {
        DataSource {
            data_dir: cache::default_data_dir(),
            cache_dir: cache::default_cache_dir(),
            download: true,
            mirrors: None,
            options: DownloadOptions::default(),
        }
    }

    /// Like [`from_env`](Self::from_env) but with the given data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DataSource {
            data_dir: data_dir.into(),
            ..Self::from_env()
        }
    }

    /// Sets the folder for derived caches (parsed arrays).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = dir.into();
        self
    }

    /// Never downloads: missing files are an error saying where to put them.
    pub fn offline(mut self) -> Self {
        self.download = false;
        self
    }

    /// Replaces the built-in mirror list (base URLs ending in `/`; the file name is appended).
    pub fn with_mirrors<S: Into<String>>(mut self, mirrors: impl IntoIterator<Item = S>) -> Self {
        self.mirrors = Some(mirrors.into_iter().map(Into::into).collect());
        self
    }

    /// Sets retries, timeouts and the progress bar.
    pub fn with_options(mut self, options: DownloadOptions) -> Self {
        self.options = options;
        self
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The cache dir for derived files.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Where `file` is (or would be) in the data dir.
    pub fn path_of(&self, file: &RemoteFile) -> PathBuf {
        self.data_dir.join(file.folder).join(file.name)
    }

    fn urls(&self, file: &RemoteFile) -> Vec<String> {
        let join = |base: &str| {
            if base.ends_with('/') {
                format!("{base}{}", file.name)
            } else {
                format!("{base}/{}", file.name)
            }
        };
        match &self.mirrors {
            Some(m) => m.iter().map(|b| join(b)).collect(),
            None => file.mirrors.iter().map(|b| join(b)).collect(),
        }
    }

    /// The path of `file`, downloading and verifying it first if it is not there yet.
    pub fn fetch(&self, file: &RemoteFile) -> Result<PathBuf> {
        let dest = self.path_of(file);
        if dest.is_file() {
            return Ok(dest);
        }
        let urls = self.urls(file);
        if !self.download {
            return Err(DownloadError::Offline {
                file: file.name.to_string(),
                folder: file.folder.to_string(),
                urls,
                destination: dest,
            }
            .into());
        }
        download(
            file.name,
            file.folder,
            &urls,
            &dest,
            &|p| file.check.verify(p),
            &self.options,
        )?;
        Ok(dest)
    }
}

fn agent(opts: &DownloadOptions) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_recv_response(Some(opts.read_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .user_agent(concat!("tapegrad-datasets/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Downloads `urls` (tried in order) to `dest`, verifying before the final rename.
///
/// `name` and `folder` only go into messages. See the [module docs](self) for the steps.
pub fn download(
    name: &str,
    folder: &str,
    urls: &[String],
    dest: &Path,
    verify: &dyn Fn(&Path) -> std::result::Result<(), String>,
    opts: &DownloadOptions,
) -> std::result::Result<(), DownloadError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let io_err = |source| DownloadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io_err)?;
    // A fixed name, so that a later run can resume what an interrupted one left.
    let part = dir.join(format!(".{name}.part"));
    let agent = agent(opts);
    let mut attempts = Vec::new();
    for url in urls {
        let mut restarted = false;
        let mut tries = 0u32;
        let mut budget = opts.retries + 1;
        while tries < budget {
            tries += 1;
            let resumed_from = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            match transfer(&agent, url, name, &part, opts) {
                Ok(()) => {}
                Err(failure) => {
                    attempts.push(Attempt {
                        url: url.clone(),
                        error: failure.message().to_string(),
                    });
                    match failure {
                        TransferFailure::NextMirror(_) => break,
                        TransferFailure::Restart(_) => {
                            let _ = fs::remove_file(&part);
                        }
                        TransferFailure::Retry(_) => {}
                    }
                    if tries < budget {
                        std::thread::sleep(opts.retry_delay * 2u32.saturating_pow(tries - 1));
                    }
                    continue;
                }
            }
            match verify(&part) {
                Ok(()) => {
                    commit(&part, dest).map_err(|source| DownloadError::Io {
                        path: dest.to_path_buf(),
                        source,
                    })?;
                    return Ok(());
                }
                Err(e) => {
                    let _ = fs::remove_file(&part);
                    attempts.push(Attempt {
                        url: url.clone(),
                        error: format!("verification failed: {e}"),
                    });
                    // A resumed file may mix two different versions: one clean restart.
                    if resumed_from > 0 && !restarted {
                        restarted = true;
                        budget += 1;
                        continue;
                    }
                    break;
                }
            }
        }
    }
    Err(DownloadError::AllMirrorsFailed {
        file: name.to_string(),
        folder: folder.to_string(),
        attempts,
        destination: dest.to_path_buf(),
    })
}

/// One request for `url`, resuming from what `part` holds; the response goes through
/// [`receive`].
fn transfer(
    agent: &ureq::Agent,
    url: &str,
    name: &str,
    part: &Path,
    opts: &DownloadOptions,
) -> std::result::Result<(), TransferFailure> {
    let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = req.call().map_err(|e| match e {
        ureq::Error::BadUri(_) | ureq::Error::HostNotFound => {
            TransferFailure::NextMirror(e.to_string())
        }
        _ => TransferFailure::Retry(e.to_string()),
    })?;
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let head = ResponseHead {
        status: resp.status().as_u16(),
        content_length: header("content-length"),
        content_range: header("content-range"),
    };

    let bar = if opts.progress {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());

    let mut file = PartOnDisk {
        path: part,
        file: None,
    };
    let mut body = resp.into_body().into_reader();
    let outcome = receive_with_progress(&head, have, &mut body, &mut file, &bar);
    bar.finish_and_clear();
    // Keep what arrived (flushed) so that the next try resumes from it.
    let synced = file.file.map_or(Ok(()), |f| f.sync_all());
    outcome?;
    synced.map_err(|e| TransferFailure::NextMirror(format!("cannot write {}: {e}", part.display())))
}

/// The `.part` file, opened on first use: a response that is refused leaves none behind.
struct PartOnDisk<'a> {
    path: &'a Path,
    file: Option<File>,
}

impl PartOnDisk<'_> {
    fn file(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(self.path)?;
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

impl Write for PartOnDisk<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let path = self.path.display().to_string();
        self.file()?
            .write(buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl PartFile for PartOnDisk<'_> {
    fn keep_first(&mut self, len: u64) -> std::io::Result<()> {
        let path = self.path.display().to_string();
        self.file()?
            .keep_first(len)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))
    }
}

/// Turns a present-but-wrong file into the error that tells the user what to do.
pub(crate) fn verify_present(path: &Path, check: &Check) -> Result<()> {
    check
        .verify(path)
        .map_err(|what| DatasetError::Verification {
            path: path.to_path_buf(),
            what,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_urls_get_the_file_name() {
        let f = crate::mnist::MNIST_FILES[0];
        let src = DataSource::new("/data").with_mirrors(["http://a/x/", "http://b/y"]);
        assert_eq!(
            src.urls(&f),
            [
                "http://a/x/train-images-idx3-ubyte.gz",
                "http://b/y/train-images-idx3-ubyte.gz"
            ]
        );
        assert_eq!(
            src.path_of(&f),
            Path::new("/data/mnist/train-images-idx3-ubyte.gz")
        );
        assert!(DataSource::new("/d").urls(&f)[0].starts_with("https://ossci-datasets"));
    }
}
