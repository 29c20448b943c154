//! Typed errors. Every message says what went wrong and what to do about it.

use std::fmt;
use std::path::PathBuf;

/// A problem with the bytes of an IDX file (the format of MNIST and Fashion-MNIST).
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The data ends before the header does.
    #[error("IDX data is only {len} bytes long, too short for its header ({needed} bytes); the file is truncated: delete it and download it again")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The first two bytes of an IDX file must be zero.
    #[error("not an IDX file: the magic number starts with {found:02x?} instead of [00, 00] (is this the right file, or a web page saved in its place?)")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The third byte names an element type that IDX does not define.
    #[error("unknown IDX element type 0x{code:02x} (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64); the file is damaged or not IDX")]
    UnknownType {
        /// The type byte found.
        code: u8,
    },
    /// The fourth byte gives the number of dimensions; zero is not allowed.
    #[error(
        "IDX header declares rank {rank}; expected 1 to {max}. The file is damaged or not IDX"
    )]
    BadRank {
        /// Declared rank.
        rank: u8,
        /// Largest accepted rank.
        max: u8,
    },
    /// The declared dimensions overflow the address space.
    #[error(
        "IDX header declares dimensions {dims:?}, whose size overflows what this machine can address; the header is damaged: delete the file and download it again"
    )]
    SizeOverflow {
        /// Declared dimensions.
        dims: Vec<u32>,
    },
    /// The payload is shorter or longer than the header says.
    #[error("IDX header declares dimensions {dims:?} ({declared} bytes of data) but the file holds {}; the file is truncated or damaged: delete it and download it again", describe_actual(*.actual, *.longer))]
    SizeMismatch {
        /// Declared dimensions.
        dims: Vec<u32>,
        /// Declared payload size in bytes.
        declared: u64,
        /// Payload bytes found (when `longer`, reading stopped after this many).
        actual: u64,
        /// The data goes on past the declared size.
        longer: bool,
    },
    /// The gzip layer is damaged.
    #[error("the gzip stream is corrupt ({0}); delete the file and download it again")]
    Gzip(#[source] std::io::Error),
    /// Reading failed.
    #[error("could not read IDX data: {0}; check that the file exists and is readable")]
    Io(#[source] std::io::Error),
    /// The file parsed, but holds another element type than the caller asked for.
    #[error("IDX file holds {found} elements, but {expected} was asked for; read it as {found} (or with `read_idx`, which accepts any element type)")]
    WrongType {
        /// Element type asked for.
        expected: &'static str,
        /// Element type in the file.
        found: &'static str,
    },
    /// The file parsed, but has another shape than the data set needs.
    #[error("IDX data has shape {found:?}; expected {expected}")]
    WrongShape {
        /// What was expected, in words.
        expected: String,
        /// Shape found.
        found: Vec<usize>,
    },
}

/// What to do about a failed read or write.
fn io_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | FileTooLarge => {
            "the disk is full (or the file is over a size limit): free some space, or point \
             TAPEGRAD_CACHE_DIR at another disk; files written before are unchanged"
        }
        PermissionDenied | ReadOnlyFilesystem => {
            "the folder is not writable: point TAPEGRAD_CACHE_DIR (derived files) or \
             TAPEGRAD_DATA_DIR (downloads) at a writable folder; files written before are \
             unchanged"
        }
        NotADirectory => "a part of the path is a file, not a folder: choose another path",
        _ => "check that the path exists and that its folder is readable and writable",
    }
}

fn describe_actual(actual: u64, longer: bool) -> String {
    if longer {
        format!("more ({actual} bytes or more)")
    } else {
        format!("only {actual} bytes")
    }
}

/// One failed try at one URL.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The URL tried.
    pub url: String,
    /// What went wrong.
    pub error: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.error)
    }
}

fn list_attempts(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("\n  - {a}"))
        .collect::<String>()
}

/// Getting a file from the network (or from where the user put it) failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Every mirror was tried and none gave a verified file.
    #[error("could not download {file}: every mirror failed:{}\nDownload the file by hand and put it at {} (or set TAPEGRAD_DATA_DIR to a folder that holds {}/{file})", list_attempts(.attempts), .destination.display(), .folder)]
    AllMirrorsFailed {
        /// File name.
        file: String,
        /// Data-set folder inside the data dir (`mnist`, `fashion-mnist`, `notmnist`).
        folder: String,
        /// Each URL tried, with its failure.
        attempts: Vec<Attempt>,
        /// Where the file is expected.
        destination: PathBuf,
    },
    /// Downloads are switched off and the file is not in the data dir.
    #[error("{file} is not at {} and downloads are switched off. Download it from one of:{}\nand put it at that path (or set TAPEGRAD_DATA_DIR to a folder that holds {folder}/{file})", .destination.display(), .urls.iter().map(|u| format!("\n  - {u}")).collect::<String>())]
    Offline {
        /// File name.
        file: String,
        /// Data-set folder inside the data dir.
        folder: String,
        /// URLs the file could be fetched from.
        urls: Vec<String>,
        /// Where the file is expected.
        destination: PathBuf,
    },
    /// The data dir could not be written.
    #[error("could not write into {}: {source}. Choose a writable folder with TAPEGRAD_DATA_DIR", .path.display())]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Any failure of this crate.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// An IDX file could not be parsed.
    #[error("{}: {source}", .path.display())]
    Idx {
        /// File involved.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: IdxError,
    },
    /// A file could not be fetched.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Several files of a data set could not be fetched: each one's error, so that all of them
    /// can be put right at once.
    #[error("{} files of the data set could not be fetched:{}", .0.len(), .0.iter().map(|e| format!("\n\n* {e}")).collect::<String>())]
    Several(Vec<DatasetError>),
    /// A file that is present fails its checksum.
    #[error("{}: {what}. The file is damaged or not the expected one: delete it and load again to download a fresh copy", .path.display())]
    Verification {
        /// File involved.
        path: PathBuf,
        /// What did not match.
        what: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}; {}", .path.display(), io_hint(.source))]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A notMNIST archive is damaged or laid out unexpectedly.
    #[error("{}: {what}. Delete the archive and load again to download a fresh copy", .path.display())]
    Archive {
        /// Archive involved.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A class holds far fewer images than the data set should.
    #[error("notMNIST class {class} has only {found} readable images, fewer than the {min} expected; the archive is incomplete: delete it and load again")]
    TooFewImages {
        /// Letter.
        class: char,
        /// Readable images found.
        found: usize,
        /// Minimum expected.
        min: usize,
    },
    /// Images and labels disagree, or an argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// Encoding a picture failed.
    #[error("could not write the picture {}: {what}; check that the folder exists and is writable", .path.display())]
    Picture {
        /// Output path.
        path: PathBuf,
        /// What failed.
        what: String,
    },
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;
