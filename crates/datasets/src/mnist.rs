//! MNIST (handwritten digits) and Fashion-MNIST (clothing): the standard four IDX files each.
//!
//! ```no_run
//! use tapegrad_datasets::Mnist;
//! let mnist = Mnist::load()?; // data dir from TAPEGRAD_DATA_DIR, downloads if missing
//! assert_eq!(mnist.train_images.shape(), &[60_000, 28, 28]);
//! let train = mnist.train(); // x: [60000, 784] in [0, 1], y: one-hot [60000, 10]
//! # Ok::<(), tapegrad_datasets::DatasetError>(())
//! ```
//!
//! # Verification
//! * MNIST: the SHA-256 of each file's **decompressed** content ([`MNIST_FILES`]). Mirrors
//!   serve differently compressed `.gz` files of the same content, so the content is what is
//!   pinned. It is checked on every load, while the file is parsed.
//! * Fashion-MNIST: the MD5 of each `.gz` file, as published by its authors in the data set's
//!   README ([`FASHION_MNIST_FILES`]). A recompressed copy therefore fails the check even when
//!   its content is right: use the authors' files.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array3, ArrayD, Ix1, Ix3};
use tapegrad_autograd::Real;

use crate::batch::{flatten_pixels, one_hot, Dataset};
use crate::download::{verify_present, Check, DataSource, RemoteFile};
use crate::error::{DatasetError, IdxError, Result};
use crate::idx::read_idx_with_sha256;

/// MNIST mirrors, in the order tried (those torchvision and TensorFlow use, then the original).
pub const MNIST_MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Fashion-MNIST mirror (the authors').
pub const FASHION_MNIST_MIRRORS: &[&str] =
    &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];

const fn mnist_file(name: &'static str, sha256: &'static str) -> RemoteFile {
    RemoteFile {
        folder: "mnist",
        name,
        mirrors: MNIST_MIRRORS,
        check: Check::Sha256Decompressed(sha256),
    }
}

const fn fashion_file(name: &'static str, md5: &'static str) -> RemoteFile {
    RemoteFile {
        folder: "fashion-mnist",
        name,
        mirrors: FASHION_MNIST_MIRRORS,
        check: Check::Md5(md5),
    }
}

/// The MNIST files: train images, train labels, test images, test labels, each with the
/// SHA-256 of its decompressed content.
pub const MNIST_FILES: [RemoteFile; 4] = [
    mnist_file(
        "train-images-idx3-ubyte.gz",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    mnist_file(
        "train-labels-idx1-ubyte.gz",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    mnist_file(
        "t10k-images-idx3-ubyte.gz",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    mnist_file(
        "t10k-labels-idx1-ubyte.gz",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// The Fashion-MNIST files, same order, each with the MD5 of the `.gz` file published by the
/// data set's authors.
pub const FASHION_MNIST_FILES: [RemoteFile; 4] = [
    fashion_file(
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    fashion_file(
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    fashion_file(
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    fashion_file(
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
];

/// Which of the two data sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistKind {
    /// Handwritten digits 0-9.
    Digits,
    /// Zalando's clothing images.
    Fashion,
}

impl MnistKind {
    /// The four files.
    pub fn files(self) -> &'static [RemoteFile; 4] {
        match self {
            MnistKind::Digits => &MNIST_FILES,
            MnistKind::Fashion => &FASHION_MNIST_FILES,
        }
    }

    /// Names of the ten classes.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            MnistKind::Digits => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            MnistKind::Fashion => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }
}

/// MNIST or Fashion-MNIST as bytes: 28x28 images (0 = background) and labels 0-9.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// Training images `[60000, 28, 28]`.
    pub train_images: Array3<u8>,
    /// Training labels `[60000]`.
    pub train_labels: Array1<u8>,
    /// Test images `[10000, 28, 28]`.
    pub test_images: Array3<u8>,
    /// Test labels `[10000]`.
    pub test_labels: Array1<u8>,
    /// Digits or fashion.
    pub kind: MnistKind,
}

impl Mnist {
    /// MNIST from the data dir (`TAPEGRAD_DATA_DIR`, else the platform cache dir), downloading
    /// missing files into `<data dir>/mnist/`.
    pub fn load() -> Result<Self> {
        Self::load_with(&DataSource::from_env())
    }

    /// MNIST from a [`DataSource`] (data dir, mirrors, offline mode).
    pub fn load_with(source: &DataSource) -> Result<Self> {
        Self::load_kind(source, MnistKind::Digits)
    }

    /// MNIST from a folder holding the four files (gzipped or not, under their official
    /// names, with or without `.gz`). Never downloads.
    pub fn load_from(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_dir(dir.as_ref(), MnistKind::Digits)
    }

    /// Fashion-MNIST from the data dir, downloading missing files into
    /// `<data dir>/fashion-mnist/`.
    pub fn fashion() -> Result<Self> {
        Self::fashion_with(&DataSource::from_env())
    }

    /// Fashion-MNIST from a [`DataSource`].
    pub fn fashion_with(source: &DataSource) -> Result<Self> {
        Self::load_kind(source, MnistKind::Fashion)
    }

    /// Fashion-MNIST from a folder holding the four files. Never downloads.
    pub fn fashion_from(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_dir(dir.as_ref(), MnistKind::Fashion)
    }

    fn load_kind(source: &DataSource, kind: MnistKind) -> Result<Self> {
        // Every file is tried before failing, so that one error lists all the missing ones.
        let mut paths = Vec::with_capacity(4);
        let mut failed = Vec::new();
        for f in kind.files() {
            match source.fetch(f) {
                Ok(path) => paths.push(path),
                Err(e) => failed.push(e),
            }
        }
        match failed.len() {
            0 => Self::parse(&paths, kind),
            1 => Err(failed.remove(0)),
            _ => Err(DatasetError::Several(failed)),
        }
    }

    fn load_dir(dir: &Path, kind: MnistKind) -> Result<Self> {
        let mut paths = Vec::with_capacity(4);
        for f in kind.files() {
            let gz = dir.join(f.name);
            let raw = dir.join(f.name.trim_end_matches(".gz"));
            paths.push(if !gz.is_file() && raw.is_file() {
                raw
            } else {
                gz
            });
        }
        Self::parse(&paths, kind)
    }

    fn parse(paths: &[PathBuf], kind: MnistKind) -> Result<Self> {
        let files = kind.files();
        let mut arrays = Vec::with_capacity(4);
        for (path, spec) in paths.iter().zip(files.iter()) {
            let (data, sha) = read_idx_with_sha256(path)?;
            match spec.check {
                Check::Sha256Decompressed(want) if sha != want => {
                    return Err(DatasetError::Verification {
                        path: path.clone(),
                        what: format!(
                            "SHA-256 of the decompressed content is {sha}, expected {want}"
                        ),
                    });
                }
                // Published digests are of the .gz files; an uncompressed copy has none.
                Check::Md5(_) if path.extension().is_some_and(|e| e == "gz") => {
                    verify_present(path, &spec.check)?
                }
                _ => {}
            }
            let arr = data
                .into_array::<u8>()
                .map_err(|source| DatasetError::Idx {
                    path: path.clone(),
                    source,
                })?;
            arrays.push((path.clone(), arr));
        }
        let mut it = arrays.into_iter();
        let mut next = || it.next().expect("four files");
        let train_images = as_images(next())?;
        let train_labels = as_labels(next(), train_images.shape()[0])?;
        let test_images = as_images(next())?;
        let test_labels = as_labels(next(), test_images.shape()[0])?;
        Ok(Mnist {
            train_images,
            train_labels,
            test_images,
            test_labels,
            kind,
        })
    }

    /// The training set as `x: [N, 784]` in `[0, 1]` (pixel / 255) and one-hot `y: [N, 10]`.
    pub fn train(&self) -> Dataset<f32> {
        self.train_as()
    }

    /// The test set, like [`train`](Self::train).
    pub fn test(&self) -> Dataset<f32> {
        self.test_as()
    }

    /// The training set in any [`Real`] type.
    pub fn train_as<T: Real>(&self) -> Dataset<T> {
        to_dataset(&self.train_images, &self.train_labels)
    }

    /// The test set in any [`Real`] type.
    pub fn test_as<T: Real>(&self) -> Dataset<T> {
        to_dataset(&self.test_images, &self.test_labels)
    }

    /// Names of the ten classes.
    pub fn class_names(&self) -> [&'static str; 10] {
        self.kind.class_names()
    }
}

fn to_dataset<T: Real>(images: &Array3<u8>, labels: &Array1<u8>) -> Dataset<T> {
    let labels: Vec<u8> = labels.iter().copied().collect();
    Dataset::new(flatten_pixels(images.view(), 255.0), one_hot(&labels, 10))
}

fn shape_err(path: PathBuf, expected: &str, found: &[usize]) -> DatasetError {
    DatasetError::Idx {
        path,
        source: IdxError::WrongShape {
            expected: expected.to_string(),
            found: found.to_vec(),
        },
    }
}

fn as_images((path, a): (PathBuf, ArrayD<u8>)) -> Result<Array3<u8>> {
    let found = a.shape().to_vec();
    if found.len() != 3 || found[1] != 28 || found[2] != 28 {
        return Err(shape_err(path, "[N, 28, 28] images", &found));
    }
    Ok(a.into_dimensionality::<Ix3>().expect("rank checked"))
}

fn as_labels((path, a): (PathBuf, ArrayD<u8>), n_images: usize) -> Result<Array1<u8>> {
    let found = a.shape().to_vec();
    let labels = a
        .into_dimensionality::<Ix1>()
        .map_err(|_| shape_err(path.clone(), "[N] labels", &found))?;
    check_labels(&path, &labels, n_images)?;
    Ok(labels)
}

fn check_labels(path: &Path, labels: &Array1<u8>, n_images: usize) -> Result<()> {
    if labels.len() != n_images {
        return Err(DatasetError::Invalid(format!(
            "{}: {} labels for {n_images} images; the files do not belong together (delete them and load again)",
            path.display(),
            labels.len()
        )));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DatasetError::Invalid(format!(
            "{}: label {l} at index {i} is not a class 0-9; the file is damaged (delete it and load again)",
            path.display()
        )));
    }
    Ok(())
}

/// How many labels of each class 0-9.
pub fn label_histogram(labels: &Array1<u8>) -> [usize; 10] {
    let mut h = [0usize; 10];
    for &l in labels {
        if let Some(c) = h.get_mut(l as usize) {
            *c += 1;
        }
    }
    h
}
