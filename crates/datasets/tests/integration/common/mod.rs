//! Shared helpers for the tests that read the real data sets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The data dir for real-data tests: `TAPEGRAD_DATA_DIR`, else the default data dir.
///
/// These tests never skip: missing data is a failure that says how to provide it.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("TAPEGRAD_DATA_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => tapegrad_datasets::cache::default_data_dir(),
    }
}

/// `<data dir>/<rel>`, or a loud failure naming the variable to set.
#[track_caller]
pub fn require(rel: &str) -> PathBuf {
    let dir = data_dir();
    let path = dir.join(rel);
    if !path.is_file() {
        match std::env::var_os("TAPEGRAD_DATA_DIR").filter(|v| !v.is_empty()) {
            Some(v) => panic!(
                "real data missing: {} does not exist, but TAPEGRAD_DATA_DIR={} says the data is there. \
                 Put the file there (layout: <dir>/mnist/*.gz, <dir>/notmnist/notMNIST_small.tar.gz) or point TAPEGRAD_DATA_DIR at the right folder.",
                path.display(),
                Path::new(&v).display()
            ),
            None => panic!(
                "real data missing: {} does not exist. TAPEGRAD_DATA_DIR is not set, so the default data dir {} was used. \
                 Set TAPEGRAD_DATA_DIR to the folder holding mnist/ and notmnist/ (for example TAPEGRAD_DATA_DIR=$PWD/../shared/data from the repository root).",
                path.display(),
                dir.display()
            ),
        }
    }
    path
}
