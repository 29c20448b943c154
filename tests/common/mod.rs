//! Shared by the tests that train on the real data sets: they never skip, and missing data is
//! a failure that says how to provide it.
#![allow(dead_code)]

use std::path::PathBuf;

/// Checks that `TAPEGRAD_DATA_DIR` is set and holds `files` (paths inside it), so that a test
/// neither skips nor starts a download; panics with what to do otherwise.
#[track_caller]
pub fn require_data(files: &[&str]) -> PathBuf {
    let Some(dir) = std::env::var_os("TAPEGRAD_DATA_DIR").filter(|v| !v.is_empty()) else {
        panic!(
            "TAPEGRAD_DATA_DIR is not set: this test trains on the real data. Set it to the \
             folder holding mnist/ and notmnist/, e.g. \
             TAPEGRAD_DATA_DIR=$PWD/../shared/data cargo test --profile release-test"
        )
    };
    let dir = PathBuf::from(dir);
    for f in files {
        let path = dir.join(f);
        assert!(
            path.is_file(),
            "real data missing: {} does not exist (TAPEGRAD_DATA_DIR={}). Put the file there \
             (layout: <dir>/mnist/*.gz, <dir>/notmnist/notMNIST_small.tar.gz) or point \
             TAPEGRAD_DATA_DIR at the right folder.",
            path.display(),
            dir.display()
        );
    }
    dir
}

/// The four MNIST files.
pub const MNIST: [&str; 4] = [
    "mnist/train-images-idx3-ubyte.gz",
    "mnist/train-labels-idx1-ubyte.gz",
    "mnist/t10k-images-idx3-ubyte.gz",
    "mnist/t10k-labels-idx1-ubyte.gz",
];

/// The notMNIST_small archive.
pub const NOTMNIST_SMALL: [&str; 1] = ["notmnist/notMNIST_small.tar.gz"];
