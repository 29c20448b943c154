//! What each fuzz target does with its input. Shared by the fuzz targets and by the
//! regression test that replays the saved corpus (`tests/fuzz_regressions.rs`), so both run
//! exactly the same code. Every loader must return an error, never panic, hang or allocate
//! far beyond its input, whatever the bytes.

use std::path::PathBuf;

use tapegrad_autograd::Tensor;
use tapegrad_datasets::idx::{decode_idx, parse_idx, read_idx, IdxData};
use tapegrad_datasets::notmnist::{decode_png, NotMnist};
use tapegrad_nn::checkpoint::Checkpoint;
use tapegrad_nn::io::decode;
use tapegrad_nn::layer::{Linear, Sequential};
use tapegrad_nn::optim::{Adam, Optimizer};

mod http_response;
mod weights;

pub use http_response::download_response;
pub use weights::weights;

/// A file of this process and thread for loaders that read from a path.
fn scratch_file(tag: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "tapegrad-fuzz-{tag}-{}-{thread}",
        std::process::id()
    ))
}

/// The IDX reader: in memory (exact length known), as a stream (gzip or raw, length
/// unknown), and from a file (raw length, or the gzip trailer's size hint).
pub fn idx(data: &[u8]) {
    if let Ok(parsed) = parse_idx(data) {
        // Whatever parses in memory parses identically as a stream.
        let streamed = decode_idx(data).expect("parse_idx accepted it");
        // Bit for bit: a NaN read identically by both paths is still unequal to itself.
        assert_eq!(bits(&parsed), bits(&streamed));
    }
    let _ = decode_idx(data);
    let path = scratch_file("idx");
    if std::fs::write(&path, data).is_ok() {
        let _ = read_idx(&path);
        let _ = std::fs::remove_file(&path);
    }
}

/// The shape and the bit pattern of every element.
fn bits(data: &IdxData) -> (Vec<usize>, Vec<u64>) {
    fn of<A: Copy>(a: &ndarray::ArrayD<A>, f: impl Fn(A) -> u64) -> (Vec<usize>, Vec<u64>) {
        (a.shape().to_vec(), a.iter().map(|&x| f(x)).collect())
    }
    match data {
        IdxData::U8(a) => of(a, u64::from),
        IdxData::I8(a) => of(a, |x| x as u64),
        IdxData::I16(a) => of(a, |x| x as u64),
        IdxData::I32(a) => of(a, |x| x as u64),
        IdxData::F32(a) => of(a, |x| u64::from(x.to_bits())),
        IdxData::F64(a) => of(a, f64::to_bits),
    }
}

/// The notMNIST archive reader (gzip, tar, PNG) and the PNG decoder alone.
pub fn notmnist_archive(data: &[u8]) {
    if let Ok(set) = NotMnist::from_archive_bytes(data, 0) {
        assert_eq!(set.images.shape()[0], set.labels.len());
        assert!(set.labels.iter().all(|&l| l < 10));
    }
    let _ = decode_png(data);
}

/// The safetensors loader in both element types, and the checkpoint loader followed by a
/// restore into a small model with an Adam optimizer (names and shapes checked, all or
/// nothing).
pub fn checkpoint(data: &[u8]) {
    let _ = decode::<f64>("fuzz.safetensors".as_ref(), data);
    let _ = decode::<f32>("fuzz.safetensors".as_ref(), data);
    if let Ok(ckpt) = Checkpoint::<f32>::decode(data, "fuzz.ckpt") {
        let mut model = Sequential::<f32>::new().add(Linear::new(4, 3, 0));
        let before: Vec<(String, Tensor<f32>)> = tapegrad_nn::Module::state_dict(&model);
        let mut opt = Adam::new(0.01);
        let restored = ckpt.restore(
            "fuzz.ckpt",
            &mut model,
            Some(&mut opt as &mut dyn Optimizer<f32>),
        );
        if restored.is_err() {
            assert_eq!(tapegrad_nn::Module::state_dict(&model), before);
        }
    }
}
