//! The derived-file cache never holds a damaged file: not after SIGKILL mid-write, not after a
//! full disk, and an unwritable cache folder gives a clear error.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_datasets::cache::{binary, write_atomic};

const KIND: &str = "test-payload-v1";
const KEY: &str = "source-key";
const WRITE_CHILD: &str = "TAPEGRAD_DATASETS_CACHE_WRITE_CHILD";
const FULL_DISK_CHILD: &str = "TAPEGRAD_DATASETS_FULL_DISK_CHILD";

/// A payload that says which write it came from: 4 MiB of the byte `k`.
fn payload(k: u8) -> Vec<u8> {
    vec![k; 4 << 20]
}

#[test]
fn child_writing_the_cache_in_a_loop() {
    let Ok(path) = std::env::var(WRITE_CHILD) else {
        return;
    };
    let start = Instant::now();
    let mut k = 0u8;
    while start.elapsed() < Duration::from_secs(20) {
        binary::write(Path::new(&path), KIND, KEY, &payload(k)).unwrap();
        k = k.wrapping_add(1);
    }
}

#[test]
fn killing_a_cache_write_never_leaves_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("derived").join("data.bin");
    let mut rng = SplitMix64::new(99);
    for round in 0..5 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_writing_the_cache_in_a_loop",
                "--nocapture",
            ])
            .env(WRITE_CHILD, &path)
            .spawn()
            .unwrap();
        let since = Instant::now();
        while !path.exists() && since.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let data = binary::read(&path, KIND, KEY)
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: the cache file is damaged"));
        assert_eq!(data.len(), 4 << 20);
        assert!(
            data.iter().all(|&b| b == data[0]),
            "round {round}: two writes mixed"
        );
    }
    let interrupted = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "data.bin")
        .count();
    eprintln!("{interrupted} kills landed mid-write (their temporary files remain, unused)");
}

#[test]
fn child_writing_on_a_full_disk() {
    let Ok(path) = std::env::var(FULL_DISK_CHILD) else {
        return;
    };
    let path = Path::new(&path);
    let err = binary::write(path, KIND, KEY, &payload(2)).unwrap_err();
    let text = err.to_string();
    eprintln!("full disk: {text}");
    assert!(text.contains("the disk is full"), "{text}");
    assert!(text.contains("data.bin"), "{text}");
    assert_eq!(binary::read(path, KIND, KEY).unwrap().unwrap(), payload(1));
    let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(files, 1, "a temporary file was left behind");
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    binary::write(&path, KIND, KEY, &payload(1)).unwrap();
    // RLIMIT_FSIZE limits root too; with SIGXFSZ ignored, the write fails with EFBIG part
    // way, as on a full disk. 200 blocks is at most 200 KB, far below the 4 MiB payload.
    let status = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 200 && exec \"$0\" --exact child_writing_on_a_full_disk --nocapture")
        .arg(std::env::current_exe().unwrap())
        .env(FULL_DISK_CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success(), "the child's checks failed: {status}");
}

#[test]
fn an_unwritable_cache_folder_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Permission bits do not stop root, so use a path below a plain file.
    let file = dir.path().join("cache");
    std::fs::write(&file, b"x").unwrap();
    let err = write_atomic(&file.join("notmnist").join("data.bin"), b"payload")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a folder"), "{err}");
    assert!(err.contains("cache"), "{err}");
    let err = binary::read(&file.join("data.bin"), KIND, KEY)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a folder"), "{err}");
}
