//! notMNIST (letters A-J rendered from many fonts, 28x28 grayscale): load, per-class
//! statistics, and the Udacity assignment's balanced splits (merge, shuffle). How much the
//! splits overlap and the sanitised splits, the assignment's problem 5, are the [`Splits`]
//! methods and functions of their own module, re-exported here.
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

mod archive;
mod overlap;
pub use archive::{archive_file_counts, decode_png, verify_archive};
use archive::{parse_archive, parse_archive_from, verify_large_archive, verify_small_archive};
pub use overlap::{
    duplicates_within, exact_overlap, near_duplicates_within, near_overlap, sanitize, Overlap,
    OverlapReport, Splits,
};

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
/// With a stream that shuffles like numpy's `np.random.shuffle` (the books crate has one),
/// seeded like the course, the splits are identical to numpy's.
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
}
