//! # tapegrad-datasets
//!
//! MNIST, Fashion-MNIST and notMNIST: download from mirrors, verify, cache, parse and batch.

#![warn(missing_docs)]
