//! Shared helpers for the Rust peers: MNIST loading, the deterministic
//! SplitMix64 stream used for every initial weight, the shuffle order and the
//! matmul inputs (the same stream is implemented in python/common.py), and the
//! RESULT line. See ../README.md for the exact definitions.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

pub const IN: usize = 784;
pub const CLASSES: usize = 10;

/// Directory holding the gzipped IDX files. `PEERS_MNIST_DIR` overrides it.
pub fn mnist_dir() -> PathBuf {
    if let Ok(d) = std::env::var("PEERS_MNIST_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist")
}

fn read_gz(name: &str) -> Vec<u8> {
    let path = mnist_dir().join(name);
    let f = File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(BufReader::new(f))
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("cannot gunzip {}: {e}", path.display()));
    out
}

fn be_u32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Images as f32 pixels / 255, row-major [n, 784].
pub fn load_images(name: &str) -> (usize, Vec<f32>) {
    let b = read_gz(name);
    assert_eq!(be_u32(&b, 0), 0x0803, "{name}: not an idx3 image file");
    let (n, r, c) = (be_u32(&b, 4), be_u32(&b, 8), be_u32(&b, 12));
    assert_eq!(r * c, IN);
    let px = &b[16..16 + n * IN];
    (n, px.iter().map(|&p| p as f32 / 255.0).collect())
}

pub fn load_labels(name: &str) -> Vec<u8> {
    let b = read_gz(name);
    assert_eq!(be_u32(&b, 0), 0x0801, "{name}: not an idx1 label file");
    let n = be_u32(&b, 4);
    b[8..8 + n].to_vec()
}

pub struct Mnist {
    pub train_x: Vec<f32>,
    pub train_y: Vec<u8>,
    pub test_x: Vec<f32>,
    pub test_y: Vec<u8>,
}

pub fn load_mnist() -> Mnist {
    let (_, train_x) = load_images("train-images-idx3-ubyte.gz");
    let train_y = load_labels("train-labels-idx1-ubyte.gz");
    let (_, test_x) = load_images("t10k-images-idx3-ubyte.gz");
    let test_y = load_labels("t10k-labels-idx1-ubyte.gz");
    assert_eq!(train_y.len(), 60_000);
    assert_eq!(test_y.len(), 10_000);
    Mnist { train_x, train_y, test_x, test_y }
}

/// SplitMix64 (Steele, Lea, Flood 2014).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// `n` values `lo + (hi - lo) * u` (computed in f64, rounded to f32), u from
/// SplitMix64 seeded with `seed`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    let mut r = SplitMix64(seed);
    (0..n).map(|_| (lo + (hi - lo) * r.next_f64()) as f32).collect()
}

/// Glorot-uniform [fan_in, fan_out] row-major (input-major).
pub fn glorot(seed: u64, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform(seed, fan_in * fan_out, -limit, limit)
}

/// Transpose a row-major [rows, cols] matrix into [cols, rows].
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; a.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

/// Fisher-Yates: p = 0..n; for i = n-1 down to 1: j = next_u64() % (i+1); swap.
pub fn permutation(seed: u64, n: usize) -> Vec<usize> {
    let mut r = SplitMix64(seed);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (r.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// Training set reordered by the mlp shuffle (seed 3): (x [60000*784], labels).
pub fn shuffled_train(m: &Mnist) -> (Vec<f32>, Vec<u8>) {
    let perm = permutation(SEED_SHUFFLE, m.train_y.len());
    let mut x = Vec::with_capacity(m.train_x.len());
    let mut y = Vec::with_capacity(perm.len());
    for &p in &perm {
        x.extend_from_slice(&m.train_x[p * IN..(p + 1) * IN]);
        y.push(m.train_y[p]);
    }
    (x, y)
}

pub fn one_hot(labels: &[u8]) -> Vec<f32> {
    let mut o = vec![0.0f32; labels.len() * CLASSES];
    for (i, &l) in labels.iter().enumerate() {
        o[i * CLASSES + l as usize] = 1.0;
    }
    o
}

/// Fraction of rows of `scores` ([n, 10] row-major) whose first maximum is the label.
pub fn accuracy_from_scores(scores: &[f32], labels: &[u8]) -> f64 {
    let mut ok = 0usize;
    for (i, &l) in labels.iter().enumerate() {
        let row = &scores[i * CLASSES..(i + 1) * CLASSES];
        let mut best = 0;
        for k in 1..CLASSES {
            if row[k] > row[best] {
                best = k;
            }
        }
        ok += (best == l as usize) as usize;
    }
    ok as f64 / labels.len() as f64
}

pub const SEED_MLP_W1: u64 = 1;
pub const SEED_MLP_W2: u64 = 2;
pub const SEED_SHUFFLE: u64 = 3;
pub const SEED_TINY_W01: u64 = 11;
pub const SEED_TINY_W12: u64 = 12;
pub const SEED_MATMUL_A: u64 = 21;
pub const SEED_MATMUL_B: u64 = 22;

pub const MLP_HIDDEN: usize = 512;
pub const MLP_BATCH: usize = 128;
pub const MLP_LR: f64 = 0.001;
pub const MLP_RHO: f64 = 0.9;
pub const MLP_EPS: f64 = 1e-7;

pub const TINY_N: usize = 1000;
pub const TINY_HIDDEN: usize = 40;
pub const TINY_ALPHA: f64 = 0.005;
pub const TINY_PASSES: usize = 10;

pub const SCALAR_N: usize = 100_000;
pub const MATMUL_N: usize = 1024;
pub const MATMUL_REPS: usize = 20;

pub fn matmul_inputs() -> (Vec<f32>, Vec<f32>) {
    let n = MATMUL_N * MATMUL_N;
    (uniform(SEED_MATMUL_A, n, -1.0, 1.0), uniform(SEED_MATMUL_B, n, -1.0, 1.0))
}

pub fn gflops(seconds: f64) -> f64 {
    MATMUL_REPS as f64 * 2.0 * (MATMUL_N as f64).powi(3) / seconds / 1e9
}

pub fn print_result(peer: &str, workload: &str, seconds: f64, metric: f64) {
    println!("RESULT peer={peer} workload={workload} seconds={seconds:.6} metric={metric}");
}

/// Run `f` on a thread with a large stack: the scalar workload builds a
/// 200,000-node chain, and some frameworks walk or drop it recursively.
pub fn with_big_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(4 << 30)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("workload thread panicked");
}

/// The workload named by the first CLI argument.
pub fn workload_arg(known: &[&str]) -> String {
    let w = std::env::args().nth(1).unwrap_or_default();
    if !known.contains(&w.as_str()) {
        eprintln!("usage: {} <{}>", std::env::args().next().unwrap_or_default(), known.join("|"));
        std::process::exit(2);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same check values as README.md and python/common.py.
    #[test]
    fn shared_stream_matches_reference() {
        assert_eq!(SplitMix64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(permutation(3, 10), vec![2, 8, 7, 4, 5, 6, 0, 1, 9, 3]);
        let p = permutation(SEED_SHUFFLE, 60_000);
        assert_eq!(&p[..8], &[33122, 49731, 53520, 20171, 57761, 20946, 9335, 4361]);
        assert_eq!(p[59_999], 19053);
        let w1 = glorot(SEED_MLP_W1, IN, MLP_HIDDEN);
        assert_eq!(w1[0], 0.009_057_883_173_227_31_f32);
        assert_eq!(w1[IN * MLP_HIDDEN - 1], -0.064_940_117_299_556_73_f32);
        assert_eq!(glorot(SEED_MLP_W2, MLP_HIDDEN, CLASSES)[0], 0.019_553_130_492_568_016_f32);
        assert_eq!(uniform(SEED_TINY_W01, 1, -0.1, 0.1)[0], -0.036_751_121_282_577_515_f32);
        assert_eq!(uniform(SEED_TINY_W12, 1, -0.1, 0.1)[0], 0.015_820_240_601_897_24_f32);
        let (a, b) = matmul_inputs();
        assert_eq!((a[0], b[0]), (-0.946_959_197_521_209_7_f32, 0.562_923_550_605_773_9_f32));
    }
}
