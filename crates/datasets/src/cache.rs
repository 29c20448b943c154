//! Where files live, atomic writes, and the binary cache for parsed arrays.
//!
//! * The **data dir** holds downloaded originals: `TAPEGRAD_DATA_DIR` if set, else
//!   `<platform cache dir>/tapegrad` (e.g. `~/.cache/tapegrad` on Linux). Layout:
//!   `<dir>/mnist/<official names>.gz`, `<dir>/fashion-mnist/...`,
//!   `<dir>/notmnist/notMNIST_small.tar.gz`.
//! * The **cache dir** holds derived files (e.g. parsed notMNIST arrays):
//!   `TAPEGRAD_CACHE_DIR` if set, else `<platform cache dir>/tapegrad/derived`. Nothing
//!   derived is ever written into the data dir, which may be read-only or shared.
//!
//! Every write is atomic: a temporary file in the destination folder is written, flushed to
//! disk, checked, then renamed over the final name, so a crash or a failed check never leaves
//! a half-written or wrong file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{DatasetError, Result};

/// Environment variable naming the data dir (downloaded originals).
pub const DATA_DIR_ENV: &str = "TAPEGRAD_DATA_DIR";
/// Environment variable naming the cache dir (derived files).
pub const CACHE_DIR_ENV: &str = "TAPEGRAD_CACHE_DIR";

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn platform_cache() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("tapegrad")
}

/// The data dir: `TAPEGRAD_DATA_DIR`, else `<platform cache dir>/tapegrad`.
pub fn default_data_dir() -> PathBuf {
    env_dir(DATA_DIR_ENV).unwrap_or_else(platform_cache)
}

/// The cache dir for derived files: `TAPEGRAD_CACHE_DIR`, else
/// `<platform cache dir>/tapegrad/derived`.
pub fn default_cache_dir() -> PathBuf {
    env_dir(CACHE_DIR_ENV).unwrap_or_else(|| platform_cache().join("derived"))
}

/// A temporary path next to `dest` (same folder, so the final rename is atomic).
pub(crate) fn temp_path(dest: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{tag}.{}.{n}", std::process::id()))
}

/// Flushes a folder's entry list to disk, so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &Path) {
    // Not every platform can open a folder for syncing; the rename is still atomic there.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Renames `tmp` to `dest` and syncs the folder.
pub(crate) fn commit(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    fs::rename(tmp, dest)?;
    if let Some(dir) = dest.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Writes `bytes` to `dest` atomically: temp file in the same folder, fsync, rename.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    let tmp = temp_path(dest, "tmp");
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        commit(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(DatasetError::io(dest, e));
    }
    Ok(())
}

/// SHA-256 of a byte slice, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of everything a reader yields, as lowercase hex.
pub fn sha256_reader<R: Read>(mut r: R) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The binary format of derived caches.
///
/// ```text
/// magic   8 bytes  "TGDSCACH"
/// version u32 LE   FORMAT_VERSION
/// kind    u32 LE + bytes   what is stored (e.g. "notmnist-v1")
/// key     u32 LE + bytes   identity of the source (path, size, mtime)
/// length  u64 LE           payload length
/// sha256  32 bytes         of the payload
/// payload
/// ```
pub mod binary {
    use super::*;

    const MAGIC: &[u8; 8] = b"TGDSCACH";
    /// Bumped whenever the layout changes; older files are then rebuilt.
    pub const FORMAT_VERSION: u32 = 1;

    /// Writes a cache file atomically.
    pub fn write(path: &Path, kind: &str, key: &str, payload: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        for s in [kind, key] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(payload));
        out.extend_from_slice(payload);
        write_atomic(path, &out)
    }

    /// Reads a cache file. `Ok(None)` when it is absent, of another version, kind or key, or
    /// fails its checksum: the caller then rebuilds it.
    pub fn read(path: &Path, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let mut bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DatasetError::io(path, e)),
        };
        let Some(start) = check(&bytes, kind, key) else {
            return Ok(None);
        };
        bytes.drain(..start);
        Ok(Some(bytes))
    }

    /// Validates the header and checksum; returns the payload's offset.
    fn check(b: &[u8], kind: &str, key: &str) -> Option<usize> {
        let mut r = ByteReader::new(b);
        if r.take(8)? != MAGIC || r.u32()? != FORMAT_VERSION {
            return None;
        }
        for want in [kind, key] {
            let n = r.u32()? as usize;
            if r.take(n)? != want.as_bytes() {
                return None;
            }
        }
        let len = usize::try_from(r.u64()?).ok()?;
        let digest: [u8; 32] = r.take(32)?.try_into().ok()?;
        let payload_start = r.pos();
        let payload = r.take(len)?;
        if !r.is_done() || Sha256::digest(payload).as_slice() != digest {
            return None;
        }
        Some(payload_start)
    }
}

/// Bounds-checked little-endian reads from a byte slice.
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// A cheap identity for a source file: canonical path, size and modification time. A cache
/// built from another file, or from this one before it changed, does not match.
pub(crate) fn source_key(path: &Path) -> Result<String> {
    let meta = fs::metadata(path).map_err(|e| DatasetError::io(path, e))?;
    let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("{}|{}|{}", canonical.display(), meta.len(), mtime))
}
