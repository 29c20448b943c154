//! Micro-benchmarks of the kernels and ops behind the book chapters' training loops.
//!
//! ```sh
//! cargo bench -p tapegrad-autograd --bench kernels            # everything
//! cargo bench -p tapegrad-autograd --bench kernels -- matmul  # one group
//! ```
//!
//! Groups: `matmul` (the products of Deep Learning with Python ch.2's 784-512-10 network at
//! batch 128, of Grokking ch.8's 784-40-10 network at batch 1, and their gradients, which
//! multiply by transposed views), `conv2d` (Grokking ch.10: 16 kernels of 3x3 over a batch of
//! 128 images of 27x27, forward and forward + backward), `fused` (ch.10's test-set
//! evaluation of 128 images through the tape's ops and through the fused kernel),
//! `softmax_cross_entropy` (batch 128 x
//! 10 classes, forward + backward), `broadcast` (a `[128, 512] + [512]` bias add and its
//! gradient) and `tape` (recording and differentiating one scalar op, the per-op overhead
//! that batch-size-1 loops pay).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use tapegrad_autograd::kernels::fused::{conv_tanh_dense, ImageLanes};
use tapegrad_autograd::kernels::gemm::gemm;
use tapegrad_autograd::ndarray::{Array2, Ix2, Ix4};
use tapegrad_autograd::{scalar, tensor, Conv2dOptions, Reduce, Tape, Tensor};

/// Deterministic values in [-0.5, 0.5) (a linear congruential stream).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn random(shape: &[usize], seed: u64) -> Tensor<f32> {
    tensor(shape, values(shape.iter().product(), seed))
}

fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    random(&[rows, cols], seed)
        .into_dimensionality::<Ix2>()
        .expect("two axes")
        .into_owned()
}

/// `(label, m, k, n, a is a transposed view, b is a transposed view)`.
const PRODUCTS: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("mlp x.W1 128x784x512", 128, 784, 512, false, false),
    ("mlp x^T.g dW1 784x128x512", 784, 128, 512, true, false),
    ("mlp h.W2 128x512x10", 128, 512, 10, false, false),
    ("mlp g.W2^T dh 128x10x512", 128, 10, 512, false, true),
    ("mlp h^T.g dW2 512x128x10", 512, 128, 10, true, false),
    ("tiny x.W01 1x784x40", 1, 784, 40, false, false),
    ("tiny h.W12 1x40x10", 1, 40, 10, false, false),
    ("tiny g.W12^T dh 1x10x40", 1, 10, 40, false, true),
    ("tiny x^T.g dW01 784x1x40", 784, 1, 40, true, false),
    ("square 1024x1024x1024", 1024, 1024, 1024, false, false),
];

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    for &(label, m, k, n, at, bt) in PRODUCTS {
        let a_store = if at { matrix(k, m, 1) } else { matrix(m, k, 1) };
        let b_store = if bt { matrix(n, k, 2) } else { matrix(k, n, 2) };
        let a = if at { a_store.t() } else { a_store.view() };
        let b = if bt { b_store.t() } else { b_store.view() };
        let mut out = Array2::<f32>::zeros((m, n));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(BenchmarkId::new("gemm", label), |bench| {
            bench.iter(|| gemm(1.0, &a, &b, 0.0, &mut out.view_mut()))
        });
    }
    // Through the tape: the op's own allocation and vector-shaped fast paths included.
    for &(label, m, k, n) in &[
        ("tape 128x784x512", 128, 784, 512),
        ("tape 1x784x40", 1, 784, 40),
    ] {
        let (a, b) = (random(&[m, k], 3), random(&[k, n], 4));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(
            BenchmarkId::new("matmul forward+backward", label),
            |bench| {
                bench.iter(|| {
                    let tape = Tape::new();
                    let (x, w) = (tape.constant(a.clone()), tape.var(b.clone()));
                    let y = x.matmul(w).sum();
                    black_box(tape.backward(y))
                })
            },
        );
    }
    group.finish();
}

fn conv2d(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d");
    group.sample_size(20);
    let images = random(&[128, 1, 27, 27], 5);
    let kernels = random(&[16, 1, 3, 3], 6);
    group.bench_function("ch10 128x1x27x27 * 16x1x3x3 forward", |bench| {
        bench.iter(|| {
            let tape = Tape::inference();
            let y = tape.constant(images.clone()).conv2d(
                tape.constant(kernels.clone()),
                None,
                Conv2dOptions::default(),
            );
            black_box(y.value())
        })
    });
    group.bench_function("ch10 128x1x27x27 * 16x1x3x3 forward+backward", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let k = tape.var(kernels.clone());
            let y = tape
                .constant(images.clone())
                .conv2d(k, None, Conv2dOptions::default())
                .tanh()
                .sum();
            black_box(tape.backward(y))
        })
    });
    group.finish();
}

/// Grokking ch.10's test-set evaluation, 128 images: the tape's conv2d, tanh and matmul, and
/// the fused kernel that gives the same numbers.
fn fused_inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("fused");
    group.sample_size(20);
    let images = random(&[128, 1, 27, 27], 7);
    let kernels = random(&[16, 1, 3, 3], 8);
    let weights = random(&[10_000, 10], 9);
    group.bench_function("ch10 128 images conv2d+tanh+matmul on a tape", |bench| {
        bench.iter(|| {
            let tape = Tape::inference();
            let y = tape
                .constant(images.clone())
                .conv2d(
                    tape.constant(kernels.clone()),
                    None,
                    Conv2dOptions::default(),
                )
                .reshape(&[128, 10_000])
                .tanh()
                .matmul(tape.constant(weights.clone()));
            black_box(y.value())
        })
    });
    let lanes = ImageLanes::new(images.view().into_dimensionality::<Ix4>().expect("rank 4"));
    group.bench_function("ch10 128 images conv_tanh_dense", |bench| {
        bench.iter(|| {
            black_box(conv_tanh_dense(
                &lanes,
                kernels.view().into_dimensionality::<Ix4>().expect("rank 4"),
                weights.view().into_dimensionality::<Ix2>().expect("rank 2"),
            ))
        })
    });
    group.finish();
}

fn softmax_cross_entropy(c: &mut Criterion) {
    let mut group = c.benchmark_group("softmax_cross_entropy");
    let logits = random(&[128, 10], 7);
    let labels: Vec<usize> = (0..128).map(|i| (i * 7) % 10).collect();
    let mut onehot = vec![0.0f32; 128 * 10];
    for (row, &l) in labels.iter().enumerate() {
        onehot[row * 10 + l] = 1.0;
    }
    let onehot = tensor(&[128, 10], onehot);
    group.bench_function("128x10 labels forward+backward", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let z = tape.var(logits.clone());
            let loss = z.softmax_cross_entropy_with_labels(&labels, Reduce::Mean);
            black_box(tape.backward(loss))
        })
    });
    group.bench_function("128x10 one-hot forward+backward", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let z = tape.var(logits.clone());
            let loss = z.softmax_cross_entropy(tape.constant(onehot.clone()), Reduce::Mean);
            black_box(tape.backward(loss))
        })
    });
    group.finish();
}

fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast");
    let x = random(&[128, 512], 8);
    let bias = random(&[512], 9);
    group.throughput(Throughput::Elements(128 * 512));
    group.bench_function("[128,512] + [512] forward", |bench| {
        bench.iter(|| {
            let tape = Tape::inference();
            black_box((tape.constant(x.clone()) + tape.constant(bias.clone())).value())
        })
    });
    group.bench_function("[128,512] + [512] forward+backward", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let (h, b) = (tape.var(x.clone()), tape.var(bias.clone()));
            let y = (h + b).relu().sum();
            black_box(tape.backward(y))
        })
    });
    group.finish();
}

fn tape_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("tape");
    const OPS: usize = 1000;
    group.throughput(Throughput::Elements(OPS as u64));
    group.bench_function("1000 scalar ops record", |bench| {
        bench.iter(|| {
            let tape = Tape::<f64>::new();
            let mut y = tape.var(scalar(1.0));
            for _ in 0..OPS / 2 {
                y = y * 1.0001 + 0.0001;
            }
            black_box(y.item())
        })
    });
    group.bench_function("1000 scalar ops record+backward", |bench| {
        bench.iter(|| {
            let tape = Tape::<f64>::new();
            let x = tape.var(scalar(1.0));
            let mut y = x;
            for _ in 0..OPS / 2 {
                y = y * 1.0001 + 0.0001;
            }
            black_box(tape.backward(y))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    matmul,
    conv2d,
    fused_inference,
    softmax_cross_entropy,
    broadcast,
    tape_overhead
);
criterion_main!(benches);
