//! # tapegrad-datasets
//!
//! MNIST, Fashion-MNIST and notMNIST for tapegrad: download from mirrors, verify, cache,
//! parse, preprocess and batch; plus the small data sets of the book chapters and pictures of
//! samples and predictions.
//!
//! ```no_run
//! use tapegrad_datasets::{Mnist, NotMnist};
//!
//! let mnist = Mnist::load()?;                 // [60000, 28, 28] u8 images, u8 labels
//! let train = mnist.train();                  // x: [60000, 784] f32 in [0, 1], y: one-hot
//! for (x, y) in train.batches(128).shuffle(0) {
//!     // one training step on (x, y)
//! #   let _ = (x, y);
//! }
//! let letters = NotMnist::load_small()?;      // 18,724 letters A-J
//! # Ok::<(), tapegrad_datasets::DatasetError>(())
//! ```
//!
//! # Where the files are
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TAPEGRAD_DATA_DIR` | the **data dir**: downloaded originals, laid out as `<dir>/mnist/train-images-idx3-ubyte.gz` (the official names), `<dir>/fashion-mnist/...`, `<dir>/notmnist/notMNIST_small.tar.gz` | `<platform cache dir>/tapegrad` (`~/.cache/tapegrad` on Linux) |
//! | `TAPEGRAD_CACHE_DIR` | the **cache dir**: derived files, e.g. parsed notMNIST arrays | `<platform cache dir>/tapegrad/derived` |
//!
//! `load` uses the files already in the data dir and downloads missing ones into it. Nothing
//! else is ever written there, so it can be a read-only shared folder once filled. To work
//! offline, put the files there by hand (the error for a missing file names the exact path)
//! or use [`DataSource::offline`].
//!
//! # Downloads
//!
//! Mirrors are tried in order, with retries, resume of a broken transfer (HTTP `Range`), a
//! progress bar on stderr (hidden when stderr is not a terminal), verification, and an atomic
//! rename: a file that fails verification never lands in the data dir. See [`download`].
//!
//! | data set | mirrors | verified by |
//! |---|---|---|
//! | MNIST | ossci-datasets S3, cvdf-datasets GCS, yann.lecun.com | SHA-256 of the decompressed files |
//! | Fashion-MNIST | the authors' S3 bucket | the authors' published MD5s of the `.gz` files |
//! | notMNIST | yaroslavvb.com, the Udacity notebook's GCS bucket | structure only: gzip CRC, tar, per-class file counts (no digest of the originals is known) |
//!
//! # Modules
//!
//! * [`idx`]: the IDX format (all six element types, gzip or raw, bounded reads).
//! * [`mnist`]: MNIST and Fashion-MNIST.
//! * [`notmnist`]: notMNIST and the Udacity assignment's pipeline (statistics, merge,
//!   overlaps, sanitised splits).
//! * [`download`] and [`cache`]: finding, fetching, verifying and caching files.
//! * [`batch`]: one-hot, flattening, standardisation, splits, [`Batches`].
//! * [`toy`]: streetlights, the toes/wlrec/nfans tables, `make_moons`, `make_circles`.
//! * [`picture`]: PNG grids of samples and of predictions.
//! * [`error`]: the typed errors; every message says what to do.

#![warn(missing_docs)]

pub mod batch;
pub mod cache;
pub mod download;
pub mod error;
pub mod idx;
pub mod mnist;
pub mod notmnist;
pub mod picture;
pub mod toy;

pub use batch::{Batches, Dataset};
pub use download::{DataSource, DownloadOptions};
pub use error::{DatasetError, DownloadError, IdxError, Result};
pub use mnist::Mnist;
pub use notmnist::NotMnist;
