//! notMNIST (letters A-J rendered from many fonts, 28x28 grayscale) and the Udacity
//! assignment's pipeline: load, per-class statistics, merge into balanced splits, shuffle,
//! measure overlap between and within splits, and sanitise.
//!
//! The original archives `notMNIST_small.tar.gz` (18,726 files) and `notMNIST_large.tar.gz`
//! hold folders `A`..`J` of PNGs and are read straight from the archive (gzip + tar
//! streaming, PNGs decoded in memory; nothing is extracted). Unreadable files (the small
//! archive has two zero-byte PNGs) are skipped with a warning on stderr and listed in
//! [`NotMnist::skipped`].
//!
//! The parsed arrays are cached in the cache dir (`TAPEGRAD_CACHE_DIR`, never the data dir)
//! in a checksummed binary file, so the second load takes a fraction of a second.
//!
//! ```no_run
//! use tapegrad_datasets::notmnist::{merge_datasets, NotMnist};
//! use tapegrad_autograd::random::SplitMix64;
//!
//! let small = NotMnist::load_small()?;
//! assert_eq!(small.len(), 18_724);
//! println!("{:?}", small.class_counts()); // [1872, 1873, 1873, 1873, 1873, 1872, ...]
//! let stats = small.class_stats();
//! println!("A: mean {:.6} std {:.6}", stats[0].mean, stats[0].std); // -0.132626 0.445128
//! let mut rng = SplitMix64::new(133);
//! let (valid, train) = merge_datasets(&small, 12_700, 5_000, &mut rng)?;
//! # Ok::<(), tapegrad_datasets::DatasetError>(())
//! ```
//!
//! # Verification
//! No digest of the original archives is published, and the archives served today cannot be
//! compared with the originals from here. A downloaded archive is therefore checked for
//! **structure**: the gzip stream must be intact (its CRC-32 is checked to the end), the tar
//! must parse, and every class folder `A`..`J` must hold the expected number of non-empty
//! files (exactly the known counts for the small archive; at least 45,000 per class, the
//! course's own threshold, for the large one). [`NOTMNIST_SMALL_REPACK_SHA256`] is the SHA-256 of
//! one known re-packed copy of the small set; it identifies that copy only.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;
use ndarray::{s, Array1, Array3, ArrayView3, Axis};
use tapegrad_autograd::random::RandomStream;
use tapegrad_autograd::Real;

use crate::batch::{one_hot, permutation, shuffle_in_place, Dataset};
use crate::cache::{binary, source_key, ByteReader};
use crate::download::{verify_present, Check, DataSource, RemoteFile};
use crate::error::{DatasetError, Result};

/// The ten classes, label 0 = `A`.
pub const LETTERS: [char; 10] = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];

/// Side of every image.
pub const IMAGE_SIZE: usize = 28;
const PIXELS: usize = IMAGE_SIZE * IMAGE_SIZE;

/// Readable images per class in `notMNIST_small` (the course's counts).
pub const SMALL_CLASS_COUNTS: [usize; 10] =
    [1872, 1873, 1873, 1873, 1873, 1872, 1872, 1872, 1872, 1872];

/// The course's minimum number of images per class for `notMNIST_small`.
pub const SMALL_MIN_PER_CLASS: usize = 1800;
/// The course's minimum number of images per class for `notMNIST_large`.
pub const LARGE_MIN_PER_CLASS: usize = 45_000;

/// SHA-256 of a known re-pack of `notMNIST_small` (sorted names, owner 0, fixed mtime,
/// `gzip -n -9`): not the original archive, whose digest is not known here.
pub const NOTMNIST_SMALL_REPACK_SHA256: &str =
    "8939d15cbefd663a4cb326e25ebed5fdc161a2ea6571691ea94e59f5e4cf7045";

/// Mirrors of the archives: the author's, then the one the Udacity notebook uses.
pub const NOTMNIST_MIRRORS: &[&str] = &[
    "http://yaroslavvb.com/upload/notMNIST/",
    "https://commondatastorage.googleapis.com/books1000/",
];

/// `notMNIST_small.tar.gz`, checked by structure (see the [module docs](self)).
pub const NOTMNIST_SMALL: RemoteFile = RemoteFile {
    folder: "notmnist",
    name: "notMNIST_small.tar.gz",
    mirrors: NOTMNIST_MIRRORS,
    check: Check::Custom(verify_small_archive),
};

/// `notMNIST_large.tar.gz`, checked by structure (see the [module docs](self)).
pub const NOTMNIST_LARGE: RemoteFile = RemoteFile {
    folder: "notmnist",
    name: "notMNIST_large.tar.gz",
    mirrors: NOTMNIST_MIRRORS,
    check: Check::Custom(verify_large_archive),
};

/// A PNG that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedFile {
    /// Path inside the archive.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// notMNIST images as bytes, grouped by class (A first) and sorted by file name within a
/// class, like `sorted(os.listdir(folder))` in the course's `load_letter`.
#[derive(Clone, Debug)]
pub struct NotMnist {
    /// Images `[N, 28, 28]`, 0 = black.
    pub images: Array3<u8>,
    /// Labels 0-9 for `A`-`J`.
    pub labels: Array1<u8>,
    /// Files that could not be decoded, with the reason.
    pub skipped: Vec<SkippedFile>,
}

/// Mean and standard deviation of one class after normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassStats {
    /// Letter.
    pub letter: char,
    /// Images in the class.
    pub count: usize,
    /// Mean of all normalised pixels.
    pub mean: f32,
    /// Population standard deviation of all normalised pixels.
    pub std: f32,
}

/// Whether the classes hold similar numbers of images.
#[derive(Clone, Debug, PartialEq)]
pub struct Balance {
    /// Images per class.
    pub counts: [usize; 10],
    /// Smallest class size.
    pub min: usize,
    /// Largest class size.
    pub max: usize,
    /// `(max - min) / mean`.
    pub spread: f64,
}

impl Balance {
    /// True when `(max - min) / mean <= tolerance` (e.g. `0.01` for within 1 %).
    pub fn is_balanced(&self, tolerance: f64) -> bool {
        self.spread <= tolerance
    }
}

impl NotMnist {
    /// `notMNIST_small` from the data dir (downloading it if missing), parsed arrays cached
    /// in the cache dir.
    pub fn load_small() -> Result<Self> {
        Self::load_small_with(&DataSource::from_env())
    }

    /// `notMNIST_large` from the data dir (downloading it if missing: about 250 MB).
    pub fn load_large() -> Result<Self> {
        Self::load_large_with(&DataSource::from_env())
    }

    /// `notMNIST_small` from a [`DataSource`].
    pub fn load_small_with(source: &DataSource) -> Result<Self> {
        let path = source.fetch(&NOTMNIST_SMALL)?;
        Self::from_archive_cached(&path, source.cache_dir(), SMALL_MIN_PER_CLASS)
    }

    /// `notMNIST_large` from a [`DataSource`].
    pub fn load_large_with(source: &DataSource) -> Result<Self> {
        let path = source.fetch(&NOTMNIST_LARGE)?;
        Self::from_archive_cached(&path, source.cache_dir(), LARGE_MIN_PER_CLASS)
    }

    /// Parses an archive (`.tar.gz` or `.tar`) without any cache. Each class must have at
    /// least `min_per_class` readable images.
    pub fn from_archive(path: &Path, min_per_class: usize) -> Result<Self> {
        let data = parse_archive(path)?;
        data.check_minimum(min_per_class)?;
        Ok(data)
    }

    /// Parses an archive held in memory (`.tar.gz` or `.tar` bytes), like
    /// [`from_archive`](Self::from_archive).
    pub fn from_archive_bytes(bytes: &[u8], min_per_class: usize) -> Result<Self> {
        let data = parse_archive_from(bytes, Path::new("<archive in memory>"))?;
        data.check_minimum(min_per_class)?;
        Ok(data)
    }

    /// Like [`from_archive`](Self::from_archive), reusing the parsed arrays cached in
    /// `cache_dir` when they were built from this very file (same path, size and time).
    pub fn from_archive_cached(
        path: &Path,
        cache_dir: &Path,
        min_per_class: usize,
    ) -> Result<Self> {
        let key = source_key(path)?;
        let stem = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "notmnist".into());
        let cache = cache_dir.join("notmnist").join(format!("{stem}.bin"));
        if let Some(payload) = binary::read(&cache, CACHE_KIND, &key)? {
            if let Some(data) = Self::decode_cache(&payload) {
                data.check_minimum(min_per_class)?;
                return Ok(data);
            }
        }
        let data = parse_archive(path)?;
        data.check_minimum(min_per_class)?;
        binary::write(&cache, CACHE_KIND, &key, &data.encode_cache())?;
        Ok(data)
    }

    fn check_minimum(&self, min: usize) -> Result<()> {
        for (c, &n) in self.class_counts().iter().enumerate() {
            if n < min {
                return Err(DatasetError::TooFewImages {
                    class: LETTERS[c],
                    found: n,
                    min,
                });
            }
        }
        Ok(())
    }

    fn encode_cache(&self) -> Vec<u8> {
        let n = self.len();
        let mut out = Vec::with_capacity(16 + n * (PIXELS + 1));
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend(self.images.iter().copied());
        out.extend(self.labels.iter().copied());
        out.extend_from_slice(&(self.skipped.len() as u64).to_le_bytes());
        for s in &self.skipped {
            for t in [&s.path, &s.reason] {
                out.extend_from_slice(&(t.len() as u64).to_le_bytes());
                out.extend_from_slice(t.as_bytes());
            }
        }
        out
    }

    fn decode_cache(b: &[u8]) -> Option<Self> {
        let mut r = ByteReader::new(b);
        let n = usize::try_from(r.u64()?).ok()?;
        let images = r.take(n.checked_mul(PIXELS)?)?.to_vec();
        let labels = r.take(n)?.to_vec();
        let k = r.u64()?;
        let mut skipped = Vec::new();
        for _ in 0..k {
            let mut text = || -> Option<String> {
                let len = usize::try_from(r.u64()?).ok()?;
                String::from_utf8(r.take(len)?.to_vec()).ok()
            };
            let path = text()?;
            let reason = text()?;
            skipped.push(SkippedFile { path, reason });
        }
        if !r.is_done() || labels.iter().any(|&l| l > 9) {
            return None;
        }
        Some(NotMnist {
            images: Array3::from_shape_vec((n, IMAGE_SIZE, IMAGE_SIZE), images).ok()?,
            labels: Array1::from_vec(labels),
            skipped,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Images per class, `A` first.
    pub fn class_counts(&self) -> [usize; 10] {
        counts(&self.labels)
    }

    /// The class-balance check of the assignment (problem 2/3).
    pub fn balance(&self) -> Balance {
        balance(self.class_counts())
    }

    /// The images of one class (0 = `A`).
    ///
    /// # Panics
    /// If `class > 9`.
    pub fn class_images(&self, class: usize) -> ArrayView3<'_, u8> {
        assert!(class < 10, "class_images: class {class} is not 0-9");
        let counts = self.class_counts();
        let start: usize = counts[..class].iter().sum();
        self.images.slice(s![start..start + counts[class], .., ..])
    }

    /// Per-class mean and standard deviation after `(x - 127.5) / 255`, computed in `f32`
    /// exactly like numpy's `np.mean` / `np.std` on the course's float32 arrays (pairwise
    /// summation), so the printed digits match the course's (A: -0.132626, 0.445128).
    pub fn class_stats(&self) -> [ClassStats; 10] {
        std::array::from_fn(|c| {
            let x = normalize(self.class_images(c));
            let (mean, std) = numpy_mean_std(x.as_slice().expect("contiguous"));
            ClassStats {
                letter: LETTERS[c],
                count: x.shape()[0],
                mean,
                std,
            }
        })
    }

    /// Each class as float32 images normalised to `(x - 127.5) / 255` (the course's
    /// `letter_sets`, one array per letter).
    pub fn letter_sets(&self) -> Vec<Array3<f32>> {
        (0..10).map(|c| normalize(self.class_images(c))).collect()
    }

    /// All images and labels as one [`Split`] (same order).
    pub fn as_split(&self) -> Split {
        Split {
            images: self.images.clone(),
            labels: self.labels.clone(),
        }
    }
}

const CACHE_KIND: &str = "notmnist-u8-v1";

fn counts(labels: &Array1<u8>) -> [usize; 10] {
    let mut c = [0usize; 10];
    for &l in labels {
        c[l as usize] += 1;
    }
    c
}

fn balance(counts: [usize; 10]) -> Balance {
    let min = *counts.iter().min().expect("ten classes");
    let max = *counts.iter().max().expect("ten classes");
    let mean = counts.iter().sum::<usize>() as f64 / 10.0;
    Balance {
        counts,
        min,
        max,
        spread: if mean > 0.0 {
            (max - min) as f64 / mean
        } else {
            0.0
        },
    }
}

/// `(x - 127.5) / 255` as float32, computed like the course (`float64` arithmetic, then stored
/// into a float32 array).
pub fn normalize(images: ArrayView3<'_, u8>) -> Array3<f32> {
    let lut: Vec<f32> = (0..=255u8)
        .map(|p| ((p as f64 - 255.0 / 2.0) / 255.0) as f32)
        .collect();
    images.mapv(|p| lut[p as usize])
}

/// numpy's pairwise summation for float32 (`pairwise_sum_FLOAT`): blocks of 8 partial sums
/// up to 128 elements, halves above.
fn pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0f32;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `np.mean(x)` and `np.std(x)` of a contiguous float32 array, digit for digit: float32
/// pairwise sums, the divisions by the count done in float64 and rounded back to float32.
pub fn numpy_mean_std(x: &[f32]) -> (f32, f32) {
    let n = x.len() as f64;
    let mean = (pairwise_sum(x) as f64 / n) as f32;
    let sq: Vec<f32> = x
        .iter()
        .map(|&v| {
            let d = v - mean;
            d * d
        })
        .collect();
    let var = (pairwise_sum(&sq) as f64 / n) as f32;
    (mean, var.sqrt())
}

/// Decodes one notMNIST PNG: 8-bit (or expandable) grayscale, 28x28.
pub fn decode_png(bytes: &[u8]) -> std::result::Result<[u8; PIXELS], String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("not a valid PNG ({e})"))?;
    let (w, h) = (reader.info().width, reader.info().height);
    if (w, h) != (IMAGE_SIZE as u32, IMAGE_SIZE as u32) {
        return Err(format!("image is {w}x{h}, expected 28x28"));
    }
    let size = reader
        .output_buffer_size()
        .ok_or("image too large to decode")?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("damaged PNG data ({e})"))?;
    let mut out = [0u8; PIXELS];
    match info.color_type {
        png::ColorType::Grayscale => {
            for (y, row) in out.chunks_exact_mut(IMAGE_SIZE).enumerate() {
                let line = &buf[y * info.line_size..y * info.line_size + IMAGE_SIZE];
                row.copy_from_slice(line);
            }
        }
        other => return Err(format!("color type {other:?}, expected grayscale")),
    }
    Ok(out)
}

/// The class of an archive member `.../X/name.png`, if it is one.
fn class_of(path: &str) -> Option<(usize, &str)> {
    let mut parts = path.rsplit('/');
    let file = parts.next()?;
    let folder = parts.next()?;
    if !file.ends_with(".png") || file.starts_with("._") {
        return None;
    }
    let mut chars = folder.chars();
    let letter = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    LETTERS.iter().position(|&l| l == letter).map(|c| (c, file))
}

/// Walks the PNG members of an archive (gzip detected by content).
fn for_each_png(path: &Path, f: impl FnMut(usize, &str, &[u8])) -> std::result::Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    for_each_png_in(BufReader::with_capacity(1 << 16, file), f)
}

/// Walks the PNG members of an archive read from `r` (gzip detected by content).
fn for_each_png_in<R: std::io::BufRead>(
    mut r: R,
    mut f: impl FnMut(usize, &str, &[u8]),
) -> std::result::Result<(), String> {
    let gz = {
        let prefix = std::io::BufRead::fill_buf(&mut r).map_err(|e| format!("cannot read: {e}"))?;
        crate::idx::is_gzip(prefix)
    };
    let reader: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(r))
    } else {
        Box::new(r)
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive ({e})"))?;
    let mut buf = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("damaged archive ({e})"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("bad member name ({e})"))?
            .to_string_lossy()
            .into_owned();
        let Some((class, _)) = class_of(&name) else {
            continue;
        };
        buf.clear();
        // notMNIST PNGs are well under a kilobyte; a huge member is not one of them.
        (&mut entry)
            .take(MAX_PNG_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("damaged archive ({e})"))?;
        // Drain the rest of an oversized member so the tar stream stays aligned.
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| format!("damaged archive ({e})"))?;
        f(class, &name, &buf);
    }
    Ok(())
}

const MAX_PNG_BYTES: u64 = 1 << 20;

fn parse_archive(path: &Path) -> Result<NotMnist> {
    let file = File::open(path).map_err(|e| DatasetError::Archive {
        path: path.to_path_buf(),
        what: format!("cannot open: {e}"),
    })?;
    parse_archive_from(BufReader::with_capacity(1 << 16, file), path)
}

/// Parses the archive read from `r`; `path` names it in messages.
fn parse_archive_from<R: std::io::BufRead>(r: R, path: &Path) -> Result<NotMnist> {
    let started = Instant::now();
    let mut items: Vec<(usize, String, [u8; PIXELS])> = Vec::new();
    let mut skipped = Vec::new();
    for_each_png_in(r, |class, name, bytes| {
        let decoded = if bytes.len() as u64 > MAX_PNG_BYTES {
            Err("larger than 1 MiB, not a notMNIST image".to_string())
        } else {
            decode_png(bytes)
        };
        match decoded {
            Ok(px) => items.push((class, name.to_string(), px)),
            Err(reason) => {
                eprintln!("warning: notMNIST: skipping unreadable {name}: {reason}");
                skipped.push(SkippedFile {
                    path: name.to_string(),
                    reason,
                });
            }
        }
    })
    .map_err(|what| DatasetError::Archive {
        path: path.to_path_buf(),
        what,
    })?;
    // Archive order is arbitrary; the course sorts file names within each class.
    items.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let n = items.len();
    let mut images = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (c, _, px) in &items {
        images.extend_from_slice(px);
        labels.push(*c as u8);
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: notMNIST: {} unreadable file(s) skipped in {} ({} images read in {:.1?})",
            skipped.len(),
            path.display(),
            n,
            started.elapsed()
        );
    }
    Ok(NotMnist {
        images: Array3::from_shape_vec((n, IMAGE_SIZE, IMAGE_SIZE), images).expect("sizes agree"),
        labels: Array1::from_vec(labels),
        skipped,
    })
}

/// Non-empty PNG members per class: the structural fingerprint used to verify archives.
pub fn archive_file_counts(path: &Path) -> std::result::Result<[usize; 10], String> {
    let mut counts = [0usize; 10];
    for_each_png(path, |class, _, bytes| {
        if !bytes.is_empty() {
            counts[class] += 1;
        }
    })?;
    Ok(counts)
}

fn verify_small_archive(path: &Path) -> std::result::Result<(), String> {
    let counts = archive_file_counts(path)?;
    if counts != SMALL_CLASS_COUNTS {
        return Err(format!(
            "non-empty PNGs per class A-J are {counts:?}, expected {SMALL_CLASS_COUNTS:?}"
        ));
    }
    Ok(())
}

fn verify_large_archive(path: &Path) -> std::result::Result<(), String> {
    let counts = archive_file_counts(path)?;
    if let Some(c) = counts.iter().position(|&n| n < LARGE_MIN_PER_CLASS) {
        return Err(format!(
            "class {} has {} non-empty PNGs, expected at least {LARGE_MIN_PER_CLASS}",
            LETTERS[c], counts[c]
        ));
    }
    Ok(())
}

/// Checks a notMNIST archive that is already present (same checks as after a download).
pub fn verify_archive(path: &Path, large: bool) -> Result<()> {
    let check = if large {
        NOTMNIST_LARGE.check
    } else {
        NOTMNIST_SMALL.check
    };
    verify_present(path, &check)
}

/// Images and labels of one split (train, validation or test).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Images `[N, 28, 28]` as bytes.
    pub images: Array3<u8>,
    /// Labels 0-9.
    pub labels: Array1<u8>,
}

impl Split {
    /// An empty split.
    pub fn empty() -> Self {
        Split {
            images: Array3::zeros((0, IMAGE_SIZE, IMAGE_SIZE)),
            labels: Array1::zeros(0),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The images at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Split {
        Split {
            images: self.images.select(Axis(0), idx),
            labels: self.labels.select(Axis(0), idx),
        }
    }

    /// Images `start..end`, in order.
    ///
    /// # Panics
    /// If the range is out of bounds.
    pub fn range(&self, start: usize, end: usize) -> Split {
        Split {
            images: self.images.slice(s![start..end, .., ..]).to_owned(),
            labels: self.labels.slice(s![start..end]).to_owned(),
        }
    }

    /// Images per class.
    pub fn class_counts(&self) -> [usize; 10] {
        counts(&self.labels)
    }

    /// Images normalised to `(x - 127.5) / 255`, float32 `[N, 28, 28]` (the course's arrays).
    pub fn normalized(&self) -> Array3<f32> {
        normalize(self.images.view())
    }

    /// As a [`Dataset`]: `x` = normalised images flattened to `[N, 784]`, `y` = one-hot `[N, 10]`.
    pub fn to_dataset<T: Real>(&self) -> Dataset<T> {
        let lut: Vec<T> = (0..=255u8)
            .map(|p| T::lit((p as f64 - 127.5) / 255.0))
            .collect();
        let x: Vec<T> = self.images.iter().map(|&p| lut[p as usize]).collect();
        let labels: Vec<u8> = self.labels.to_vec();
        Dataset::new(
            tapegrad_autograd::tensor(&[self.len(), PIXELS], x),
            one_hot(&labels, 10),
        )
    }

    /// The course's `randomize`: the same random permutation applied to images and labels.
    pub fn randomize<R: RandomStream + ?Sized>(&self, rng: &mut R) -> Split {
        self.select(&permutation(self.len(), rng))
    }
}

/// The course's `merge_datasets`: for each class in turn, shuffle its images (with `rng`),
/// put the first `valid_size / 10` in the validation split and the next `train_size / 10` in
/// the training split. Returns `(validation, training)`, both grouped by class; follow with
/// [`Split::randomize`].
///
/// With a [`NumpyRandomState`](tapegrad_autograd::random::NumpyRandomState) seeded like the course,
/// the splits are identical to numpy's.
pub fn merge_datasets<R: RandomStream + ?Sized>(
    data: &NotMnist,
    train_size: usize,
    valid_size: usize,
    rng: &mut R,
) -> Result<(Split, Split)> {
    let (v_per, t_per) = (valid_size / 10, train_size / 10);
    let counts = data.class_counts();
    if let Some(c) = counts.iter().position(|&n| n < v_per + t_per) {
        return Err(DatasetError::Invalid(format!(
            "merge_datasets: class {} has {} images, fewer than the {} per class that valid_size {valid_size} and train_size {train_size} need; ask for fewer",
            LETTERS[c], counts[c], v_per + t_per
        )));
    }
    let mut valid = Vec::with_capacity(v_per * 10);
    let mut train = Vec::with_capacity(t_per * 10);
    let mut start = 0;
    for &n in &counts {
        let mut idx: Vec<usize> = (start..start + n).collect();
        shuffle_in_place(&mut idx, rng);
        valid.extend_from_slice(&idx[..v_per]);
        train.extend_from_slice(&idx[v_per..v_per + t_per]);
        start += n;
    }
    let all = data.as_split();
    Ok((all.select(&valid), all.select(&train)))
}

/// Train, validation and test splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// Training split.
    pub train: Split,
    /// Validation split.
    pub valid: Split,
    /// Test split.
    pub test: Split,
}

impl Splits {
    /// The course's splits: `train_size` + `valid_size` from `train_source` (notMNIST_large),
    /// `test_size` from `test_source` (notMNIST_small), each merged with equal classes and
    /// then shuffled, in the course's order of random draws.
    pub fn udacity<R: RandomStream + ?Sized>(
        train_source: &NotMnist,
        test_source: &NotMnist,
        train_size: usize,
        valid_size: usize,
        test_size: usize,
        rng: &mut R,
    ) -> Result<Splits> {
        let (valid, train) = merge_datasets(train_source, train_size, valid_size, rng)?;
        let (_, test) = merge_datasets(test_source, test_size, 0, rng)?;
        let train = train.randomize(rng);
        let test = test.randomize(rng);
        let valid = valid.randomize(rng);
        Ok(Splits { train, valid, test })
    }

    /// Overlaps between and within the splits.
    pub fn overlaps(&self, tolerance: Option<f64>) -> OverlapReport {
        let pair = |a: &Split, b: &Split| Overlap {
            exact: exact_overlap(a, b),
            near: tolerance.map(|t| near_overlap(a, b, t)),
        };
        let within = |a: &Split| Overlap {
            exact: duplicates_within(a),
            near: tolerance.map(|t| near_duplicates_within(a, t)),
        };
        OverlapReport {
            train_valid: pair(&self.train, &self.valid),
            train_test: pair(&self.train, &self.test),
            valid_test: pair(&self.valid, &self.test),
            within_train: within(&self.train),
            within_valid: within(&self.valid),
            within_test: within(&self.test),
        }
    }

    /// Sanitised splits: duplicates removed within each split (first kept), then every
    /// validation image also in train removed, then every test image also in train or
    /// validation removed. With a `tolerance`, near duplicates count too.
    pub fn sanitized(&self, tolerance: Option<f64>) -> Splits {
        let train = sanitize(&self.train, &[], tolerance);
        let valid = sanitize(&self.valid, &[&train], tolerance);
        let test = sanitize(&self.test, &[&train, &valid], tolerance);
        Splits { train, valid, test }
    }
}

/// Overlap counts for one pair of splits (or one split with itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// Between splits: distinct images present in both (numpy `intersect1d` of content
    /// hashes). Within a split: images that repeat an earlier one (`len - distinct`).
    pub exact: usize,
    /// Images of the first split with a near twin (see [`near_overlap`]); `None` when no
    /// tolerance was given.
    pub near: Option<usize>,
}

/// Overlaps between and within train, validation and test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverlapReport {
    /// Train vs validation.
    pub train_valid: Overlap,
    /// Train vs test.
    pub train_test: Overlap,
    /// Validation vs test.
    pub valid_test: Overlap,
    /// Within train.
    pub within_train: Overlap,
    /// Within validation.
    pub within_valid: Overlap,
    /// Within test.
    pub within_test: Overlap,
}

fn image_rows(s: &Split) -> Vec<&[u8]> {
    s.images
        .as_slice()
        .map(|a| a.chunks_exact(PIXELS).collect())
        .unwrap_or_else(|| panic!("split images are always contiguous"))
}

/// Distinct images present in both splits (exact content match), like the course's
/// `np.intersect1d` of md5 hashes.
pub fn exact_overlap(a: &Split, b: &Split) -> usize {
    let in_b: std::collections::HashSet<&[u8]> = image_rows(b).into_iter().collect();
    let in_a: std::collections::HashSet<&[u8]> = image_rows(a).into_iter().collect();
    in_a.iter().filter(|img| in_b.contains(*img)).count()
}

/// Images that repeat an earlier image of the same split (`len - distinct`).
pub fn duplicates_within(a: &Split) -> usize {
    let distinct: std::collections::HashSet<&[u8]> = image_rows(a).into_iter().collect();
    a.len() - distinct.len()
}

/// Sums of 4x4 blocks of 7x7 pixels. For any partition of the pixels, the summed block
/// differences bound the pixel L1 distance from below, so they filter candidates cheaply.
struct Signature {
    blocks: [u16; 16],
}

impl Signature {
    fn of(img: &[u8]) -> Self {
        let mut blocks = [0u16; 16];
        for (i, &p) in img.iter().enumerate() {
            let (y, x) = (i / IMAGE_SIZE, i % IMAGE_SIZE);
            blocks[(y / 7) * 4 + x / 7] += u16::from(p);
        }
        Signature { blocks }
    }

    /// Sums of the four 14x14 quadrants.
    fn quadrants(&self) -> [u32; 4] {
        let b = |r: usize, c: usize| u32::from(self.blocks[r * 4 + c]);
        std::array::from_fn(|q| {
            let (r, c) = ((q / 2) * 2, (q % 2) * 2);
            b(r, c) + b(r, c + 1) + b(r + 1, c) + b(r + 1, c + 1)
        })
    }

    fn distance(&self, other: &Signature) -> u32 {
        self.blocks
            .iter()
            .zip(other.blocks.iter())
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum()
    }
}

/// Sum of absolute differences in byte units, stopping once it exceeds `budget`.
fn l1_within(a: &[u8], b: &[u8], budget: u32) -> bool {
    let mut sum = 0u32;
    for (ca, cb) in a.chunks(112).zip(b.chunks(112)) {
        sum += ca
            .iter()
            .zip(cb)
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum::<u32>();
        if sum > budget {
            return false;
        }
    }
    true
}

/// A cheap hasher for the small integer keys of [`NearIndex`] (no untrusted input).
#[derive(Default)]
struct CellHasher(u64);

impl std::hash::Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

type Cells = HashMap<[u32; 4], Vec<usize>, std::hash::BuildHasherDefault<CellHasher>>;

/// Finds images within an L1 budget of a query among indexed images.
///
/// Images within the budget differ by at most the budget in each quadrant sum, so bucketing
/// quadrant sums on a grid of that pitch leaves only the 3^4 neighbouring cells to search;
/// block sums then discard most candidates before the pixels are compared.
struct NearIndex<'a> {
    budget: u32,
    pitch: u32,
    cells: Cells,
    rows: Vec<&'a [u8]>,
    sigs: Vec<Signature>,
    quads: Vec<[u32; 4]>,
}

impl<'a> NearIndex<'a> {
    fn new(tolerance: f64) -> Self {
        let budget = (tolerance.max(0.0) * 255.0 * PIXELS as f64).floor() as u32;
        NearIndex {
            budget,
            pitch: budget.max(1),
            cells: Cells::default(),
            rows: Vec::new(),
            sigs: Vec::new(),
            quads: Vec::new(),
        }
    }

    fn insert(&mut self, img: &'a [u8]) {
        let sig = Signature::of(img);
        let quads = sig.quadrants();
        self.cells
            .entry(quads.map(|q| q / self.pitch))
            .or_default()
            .push(self.rows.len());
        self.rows.push(img);
        self.sigs.push(sig);
        self.quads.push(quads);
    }

    /// Whether an indexed image other than `skip` is within the budget of `img`.
    fn has_near(&self, img: &[u8], skip: Option<usize>) -> bool {
        let sig = Signature::of(img);
        let quads = sig.quadrants();
        let key = quads.map(|q| q / self.pitch);
        let quad_distance = |j: usize| -> u32 {
            quads
                .iter()
                .zip(self.quads[j].iter())
                .map(|(&x, &y)| x.abs_diff(y))
                .sum()
        };
        (0..81usize).any(|n| {
            let mut cell = key;
            let mut code = n;
            for c in cell.iter_mut() {
                let step = code % 3;
                code /= 3;
                match step {
                    0 if *c == 0 => return false,
                    0 => *c -= 1,
                    2 => *c += 1,
                    _ => {}
                }
            }
            self.cells.get(&cell).is_some_and(|list| {
                list.iter().any(|&j| {
                    Some(j) != skip
                        && quad_distance(j) <= self.budget
                        && sig.distance(&self.sigs[j]) <= self.budget
                        && l1_within(img, self.rows[j], self.budget)
                })
            })
        })
    }
}

/// For each image of `a`, whether some image of `b` is within `tolerance` (mean absolute
/// difference of pixels scaled to [0, 1]); with `same`, an image never matches itself.
fn near_flags(a: &Split, b: &Split, tolerance: f64, same: bool) -> Vec<bool> {
    let mut index = NearIndex::new(tolerance);
    for r in image_rows(b) {
        index.insert(r);
    }
    image_rows(a)
        .iter()
        .enumerate()
        .map(|(i, img)| index.has_near(img, same.then_some(i)))
        .collect()
}

/// Images of `a` that have a near twin in `b`: mean absolute pixel difference (pixels scaled
/// to [0, 1]) at most `tolerance`. Exact duplicates count (difference 0).
pub fn near_overlap(a: &Split, b: &Split, tolerance: f64) -> usize {
    near_flags(a, b, tolerance, false)
        .into_iter()
        .filter(|&x| x)
        .count()
}

/// Images of `a` with a near twin elsewhere in `a` (see [`near_overlap`]).
pub fn near_duplicates_within(a: &Split, tolerance: f64) -> usize {
    near_flags(a, a, tolerance, true)
        .into_iter()
        .filter(|&x| x)
        .count()
}

/// `target` without the images that also appear in any of `others` (exactly, or within
/// `tolerance` when given) and without repeats inside `target` (the first is kept).
pub fn sanitize(target: &Split, others: &[&Split], tolerance: Option<f64>) -> Split {
    let rows = image_rows(target);
    let mut keep = vec![true; rows.len()];
    // Within the split: exact repeats, then (optionally) near twins of an earlier kept image.
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if seen.insert(r, i).is_some() {
            keep[i] = false;
        }
    }
    for other in others {
        match tolerance {
            Some(t) => {
                for (k, hit) in keep.iter_mut().zip(near_flags(target, other, t, false)) {
                    *k &= !hit;
                }
            }
            None => {
                let set: std::collections::HashSet<&[u8]> = image_rows(other).into_iter().collect();
                for (k, r) in keep.iter_mut().zip(&rows) {
                    *k &= !set.contains(r);
                }
            }
        }
    }
    if let Some(t) = tolerance {
        // Greedy, in order: an image goes only if it is near one already kept.
        let mut index = NearIndex::new(t);
        for (i, r) in rows.iter().enumerate() {
            if keep[i] {
                if index.has_near(r, None) {
                    keep[i] = false;
                } else {
                    index.insert(r);
                }
            }
        }
    }
    let kept: Vec<usize> = (0..rows.len()).filter(|&i| keep[i]).collect();
    target.select(&kept)
}

/// Where a data set file is expected (for messages and tests).
pub fn expected_path(source: &DataSource, large: bool) -> PathBuf {
    source.path_of(if large {
        &NOTMNIST_LARGE
    } else {
        &NOTMNIST_SMALL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(images: Vec<[u8; PIXELS]>) -> Split {
        let n = images.len();
        Split {
            images: Array3::from_shape_vec((n, IMAGE_SIZE, IMAGE_SIZE), images.concat()).unwrap(),
            labels: Array1::zeros(n),
        }
    }

    fn pattern(seed: u8) -> [u8; PIXELS] {
        std::array::from_fn(|i| ((i as u32 * 31 + seed as u32 * 97) % 256) as u8)
    }

    #[test]
    fn exact_and_near_overlaps() {
        let (p, q, r) = (pattern(1), pattern(2), pattern(3));
        let mut p_near = p;
        p_near[100] = p_near[100].wrapping_add(40); // mean |diff| = 40 / 255 / 784 ~ 0.0002
        let a = split(vec![p, q, q, r]);
        let b = split(vec![p_near, q]);
        assert_eq!(exact_overlap(&a, &b), 1, "q, counted once");
        assert_eq!(duplicates_within(&a), 1);
        assert_eq!(near_overlap(&a, &b, 0.001), 3, "p (near), q and its repeat");
        assert_eq!(
            near_overlap(&a, &b, 0.0001),
            2,
            "p_near too far at this tolerance"
        );
        assert_eq!(near_duplicates_within(&a, 0.001), 2);
        let clean = sanitize(&a, &[&b], None);
        assert_eq!(clean, split(vec![p, r]));
        let clean = sanitize(&a, &[&b], Some(0.001));
        assert_eq!(clean, split(vec![r]));
        let within = sanitize(&split(vec![p, p_near, q]), &[], Some(0.001));
        assert_eq!(within, split(vec![p, q]), "the first of near twins is kept");
    }

    #[test]
    fn numpy_pairwise_mean_and_std() {
        // Exactly representable: mean 4.5, population std sqrt(8.25).
        let x: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let (m, s) = numpy_mean_std(&x);
        assert_eq!(m, 4.5);
        assert_eq!(s, 8.25f32.sqrt());
        // Long arrays take the pairwise path.
        let y = vec![0.1f32; 1000];
        let (m, _) = numpy_mean_std(&y);
        assert!((m - 0.1).abs() < 1e-7);
    }

    #[test]
    fn archive_member_names() {
        assert_eq!(
            class_of("notMNIST_small/A/MDEtMDEtMDAudHRm.png"),
            Some((0, "MDEtMDEtMDAudHRm.png"))
        );
        assert_eq!(class_of("notMNIST_large/J/x.png"), Some((9, "x.png")));
        assert_eq!(class_of("notMNIST_small/K/x.png"), None);
        assert_eq!(class_of("notMNIST_small/A/._x.png"), None);
        assert_eq!(class_of("notMNIST_small/A/readme.txt"), None);
        assert_eq!(class_of("x.png"), None);
    }
}
