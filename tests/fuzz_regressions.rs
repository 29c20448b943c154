//! Replays every saved fuzz input (the corpus each fuzz target built, and the inputs that
//! once crashed a loader) through the same entry points the fuzz targets call
//! (`fuzz/src/entry.rs`): none may panic. Fuzzing itself is manual (`cargo +nightly fuzz run`,
//! see docs/debugging.md); this test keeps what it found fixed.

use std::alloc::System;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cap::Cap;

/// Counts every byte allocated, so that a header claiming a huge size is caught even where
/// the operating system would hand out the (untouched) memory without complaint: past the
/// limit an allocation fails and the test aborts.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, 1 << 30);

/// No saved input is larger than a few kilobytes: nothing should ever hold more than this.
const MEMORY_LIMIT: usize = 128 << 20;

#[path = "../fuzz/src/entry.rs"]
mod entry;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    inputs_in(&[
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ])
}

/// The files (not folders) directly in `dirs`, sorted; at least one.
fn inputs_in(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no saved inputs in {dirs:?}");
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    replay_files(target, &inputs(target), run);
}

fn replay_files(target: &str, files: &[PathBuf], run: fn(&[u8])) {
    let started = Instant::now();
    for path in files {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} makes the loader panic",
            path.display()
        );
        let peak = ALLOCATOR.max_allocated();
        assert!(
            peak <= MEMORY_LIMIT,
            "{target}: {} took the memory in use to {peak} bytes",
            path.display()
        );
    }
    eprintln!(
        "{target}: {} inputs replayed in {:.1?}",
        files.len(),
        started.elapsed()
    );
}

#[test]
fn idx_inputs_never_panic() {
    replay("idx", entry::idx);
}

#[test]
fn notmnist_archive_inputs_never_panic() {
    replay("notmnist_archive", entry::notmnist_archive);
}

#[test]
fn checkpoint_inputs_never_panic() {
    replay("checkpoint", entry::checkpoint);
}

#[test]
fn weights_inputs_never_panic() {
    replay("weights", entry::weights);
}

#[test]
fn download_response_inputs_never_panic() {
    replay("download_response", entry::download_response);
}

/// The seeds are valid files: the loaders must accept them, or the fuzzer would start from
/// nothing but errors.
#[test]
fn the_seed_files_are_accepted() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let read = |p: &str| std::fs::read(corpus.join(p)).unwrap();
    for name in ["u8.idx", "f64.idx.gz", "images.idx3.gz"] {
        tapegrad_datasets::idx::decode_idx(&read(&format!("idx/{name}"))[..])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let set =
        tapegrad_datasets::NotMnist::from_archive_bytes(&read("notmnist_archive/small.tar.gz"), 0)
            .unwrap();
    assert_eq!(set.len(), 5, "{:?}", set.skipped);
    assert_eq!(set.skipped.len(), 2);
    tapegrad_nn::checkpoint::Checkpoint::<f32>::decode(&read("checkpoint/adam.ckpt"), "adam.ckpt")
        .unwrap();
}
