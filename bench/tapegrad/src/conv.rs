//! `conv`: Grokking Deep Learning ch.10's convolutional network, trained by the tape.
//!
//! 16 kernels of 3x3 over the 25x25 positions of each 28x28 image (the book's
//! `range(28 - 3)` leaves out the last row and column, so the image is cropped to 27x27), tanh,
//! dropout (numpy's `randint(2)` mask, kept units doubled), 10,000 -> 10 softmax, batch 128
//! (7 batches: 896 of the first 1,000 images), SGD with alpha 2 on the book's delta
//! `(softmax - labels) / (batch * batch)`. Weights and masks come from `np.random.seed(1)`'s
//! stream in the book's order; the hidden units are numbered kernel-major here (the conv's
//! output layout) instead of the book's position-major, so the rows of the 10,000 x 10 weight
//! and the mask columns are permuted accordingly: the same network, relabelled.
//!
//! The gradients are the true ones (autograd), like the reference run with `--fixed-sign`,
//! except that the book's hand-written kernel delta uses `1 - (2 tanh)^2` and an undoubled
//! mask; so accuracies follow a similar but not identical curve.
//!
//! Each training step takes its batch through one tape in chunks of 64 images, one backward
//! pass each, and applies the sum of their gradients: the batch's gradient, summed in another
//! order, with each chunk's activations still in cache when its backward pass reads them.
//!
//! One iteration = the 7 training steps + the accuracy on the 10,000 test images, through
//! [`conv_tanh_dense`], the fused inference kernel for convolution, tanh and dense layer (the
//! same numbers as the tape's ops, bit for bit; `BENCH_TAPE_TEST=1` evaluates through the
//! tape instead, in chunks of 48 (`BENCH_TEST_CHUNK`) spread over rayon's threads).
//! Timed: the 10 iterations.

use std::time::Instant;

use rayon::prelude::*;

use tapegrad::autograd::kernels::fused::{conv_tanh_dense, ImageLanes};
use tapegrad::autograd::ndarray::{concatenate, s, Array2, Axis, Ix2, Slice};
use tapegrad::autograd::{tensor, Conv2dOptions, Gradients, Param, Reduce, Tape, Tensor};
use tapegrad::books::NumpyRandomState;
use tapegrad::nn::optim::{Optimizer, Sgd};

use crate::common::*;

const BATCH: usize = 128;
/// Images per pass through the tape: each batch's gradient is accumulated over chunks of this
/// many, whose activations (2.6 MB a layer) mostly stay in cache from the forward pass to the
/// backward pass, where the whole batch's (5 MB a layer, seven of them) would not. (Measured:
/// 32 and 64 both beat 128 by about 5 %, 16 loses to all; 64 keeps each op large enough to
/// share between two threads.)
const CHUNK: usize = 64;
const KERNELS: usize = 16;
const SIDE: usize = 25;
const POSITIONS: usize = SIDE * SIDE;
const HIDDEN: usize = POSITIONS * KERNELS;
const ITERATIONS: usize = 10;

struct ConvNet {
    kernels: Param<f32>,
    w: Param<f32>,
}

impl ConvNet {
    /// `kernels = 0.02 * random((9, 16)) - 0.01`, `weights_1_2 = 0.2 * random((10000, 10)) -
    /// 0.1`, after `np.random.seed(1)`.
    fn new(rng: &mut NumpyRandomState) -> Self {
        let book_kernels: Vec<f64> = (0..9 * KERNELS)
            .map(|_| 0.02 * rng.random_sample() - 0.01)
            .collect();
        let book_w: Vec<f64> = (0..HIDDEN * CLASSES)
            .map(|_| 0.2 * rng.random_sample() - 0.1)
            .collect();
        // kernels[p][o] (p = 3 r + c) -> weight [o, 0, r, c]
        let mut k = vec![0.0f32; KERNELS * 9];
        for p in 0..9 {
            for o in 0..KERNELS {
                k[o * 9 + p] = book_kernels[p * KERNELS + o] as f32;
            }
        }
        let mut w = vec![0.0f32; HIDDEN * CLASSES];
        for pos in 0..POSITIONS {
            for o in 0..KERNELS {
                let (ours, book) = (o * POSITIONS + pos, pos * KERNELS + o);
                for c in 0..CLASSES {
                    w[ours * CLASSES + c] = book_w[book * CLASSES + c] as f32;
                }
            }
        }
        ConvNet {
            kernels: Param::new("kernels", tensor(&[KERNELS, 1, 3, 3], k)),
            w: Param::new("weights_1_2", tensor(&[HIDDEN, CLASSES], w)),
        }
    }
}

/// The book's `np.random.randint(2, size=(n, 10000)) * 2`, columns relabelled kernel-major,
/// into `mask` (`[n, 10000]`): refilling one tensor, once the previous step's tape has let go
/// of it, spares allocating and faulting in 5 MB a step.
fn fill_dropout_mask(rng: &mut NumpyRandomState, mask: &mut Tensor<f32>) {
    let mut words = vec![0u64; HIDDEN.div_ceil(64)];
    let mut mask = mask.view_mut();
    let mask = mask.as_slice_mut().expect("a fresh tensor is contiguous");
    for row in mask.chunks_exact_mut(HIDDEN) {
        rng.fill_randint2_bits(HIDDEN, &mut words);
        // Draw `pos * 16 + o` is bit `o` of the position's 16 bits; it goes to column
        // `o * 625 + pos`, as 2.0 (bits `1 << 30`) or 0.0.
        let by_position: Vec<u32> = (0..POSITIONS)
            .map(|pos| (words[pos / 4] >> (pos % 4 * KERNELS)) as u32 & 0xffff)
            .collect();
        for (o, out) in row.chunks_exact_mut(POSITIONS).enumerate() {
            for (m, &bits) in out.iter_mut().zip(&by_position) {
                *m = f32::from_bits((bits >> o & 1) << 30);
            }
        }
    }
}

/// `tanh(conv(x cropped to 27x27))` flattened to `[n, 10000]`.
fn hidden<'t>(
    tape: &'t Tape<f32>,
    kernels: tapegrad::Var<'t, f32>,
    x: &Tensor<f32>,
) -> tapegrad::Var<'t, f32> {
    let n = x.shape()[0];
    let x = tape
        .constant(x.clone())
        .slice(&[0..n, 0..1, 0..SIDE + 2, 0..SIDE + 2]);
    x.conv2d(kernels, None, Conv2dOptions::default())
        .reshape(&[n, HIDDEN])
        .tanh()
}

/// The test set's logits through the tape's ops, `chunk` images per inference tape, the chunks
/// spread over rayon's threads: the same numbers as the fused kernel.
fn tape_test_logits(
    kernels: &Tensor<f32>,
    w: &Tensor<f32>,
    test_x: &Tensor<f32>,
    chunk: usize,
) -> Array2<f32> {
    let n = test_x.shape()[0];
    let parts: Vec<Array2<f32>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let (s, e) = (c * chunk, ((c + 1) * chunk).min(n));
            let tape = Tape::inference();
            let logits = hidden(&tape, tape.constant(kernels.clone()), &rows(test_x, s, e))
                .matmul(tape.constant(w.clone()));
            let logits = logits.value().clone();
            logits
                .into_dimensionality::<Ix2>()
                .expect("rank 2")
                .to_owned()
        })
        .collect();
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    concatenate(Axis(0), &views).expect("chunks of [n, 10]")
}

/// The result of a test pass, or its panic passed on.
fn join<R>(handle: std::thread::ScopedJoinHandle<'_, R>) -> R {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

pub fn run() {
    let test_chunk = env_usize("BENCH_TEST_CHUNK", 48);
    // BENCH_TAPE_TEST=1: the test pass through the tape's ops instead of the fused kernel.
    let tape_test = env_usize("BENCH_TAPE_TEST", 0) == 1;
    let mnist = mnist();
    let (train, test) = (mnist.train(), mnist.test());
    let images = train
        .x
        .slice_axis(Axis(0), Slice::from(0..1000))
        .to_owned()
        .into_shape_with_order(vec![1000, 1, 28, 28])
        .expect("784 pixels")
        .into_shared();
    let labels = rows(&train.y, 0, 1000).to_owned().into_shared();
    drop(train);
    let test_x = test
        .x
        .clone()
        .into_shape_with_order(vec![10_000, 1, 28, 28])
        .expect("784 pixels");
    let test_labels = labels_of(&test.y);
    let label_of_train = labels_of(&labels);

    let mut rng = NumpyRandomState::new(1);
    let mut net = ConvNet::new(&mut rng);
    let mut opt = Sgd::new(2.0);
    let scale = 1.0 / (BATCH * BATCH) as f32;
    let mut acc = 0.0;
    // The test pass of iteration `it` reads a snapshot of the weights, so it runs on threads of
    // its own while iteration `it + 1` trains, filling the moments the training step leaves a
    // core idle; the numbers are those of running them one after the other.
    let test_threads = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("test-pass-{i}"))
        .start_handler(|_| crate::background::yield_to_other_threads())
        .build()
        .expect("threads for the test pass");
    // The test images' top-left 27 x 27 pixels, laid out once for the fused kernel.
    let test_lanes = ImageLanes::new(test_x.slice(s![.., .., ..SIDE + 2, ..SIDE + 2]));
    let test_pass = |kernels: &Tensor<f32>, w: &Tensor<f32>| -> (f64, f64) {
        let start = Instant::now();
        let logits = if tape_test {
            tape_test_logits(kernels, w, &test_x, test_chunk)
        } else {
            conv_tanh_dense(
                &test_lanes,
                kernels.view().into_dimensionality().expect("rank 4"),
                w.view().into_dimensionality().expect("rank 2"),
            )
        };
        let correct = accuracy(&logits.into_dyn().into_shared(), &test_labels) * 10_000.0;
        (correct.round() / 10_000.0, start.elapsed().as_secs_f64())
    };
    let report = |it: usize, train_acc: f64, train_secs: f64, (acc, test_secs): (f64, f64)| {
        eprintln!(
            "I:{it} Test-Acc:{acc} Train-Acc:{train_acc}   (train {train_secs:.3}s test {test_secs:.3}s)"
        );
        acc
    };

    let mut mask = tensor(&[BATCH, HIDDEN], vec![0.0f32; BATCH * HIDDEN]);
    let timer = Timer::start();
    std::thread::scope(|scope| {
        let mut pending = None;
        for it in 0..ITERATIONS {
            let ti = Instant::now();
            let mut correct = 0usize;
            for b in 0..1000 / BATCH {
                fill_dropout_mask(&mut rng, &mut mask);
                let grads = {
                    let tape = Tape::new();
                    let (kernels, w) = (tape.param(&net.kernels), tape.param(&net.w));
                    let mut grads: Option<Gradients<f32>> = None;
                    for c in (0..BATCH).step_by(CHUNK) {
                        let (s, e) = (b * BATCH + c, b * BATCH + c + CHUNK);
                        let h = hidden(&tape, kernels, &rows(&images, s, e))
                            .dropout_with_mask(rows(&mask, c, c + CHUNK));
                        let logits = h.matmul(w);
                        correct += (accuracy(&logits.value(), &label_of_train[s..e]) * CHUNK as f64)
                            .round() as usize;
                        let loss = logits
                            .softmax_cross_entropy(tape.constant(rows(&labels, s, e)), Reduce::Sum)
                            * scale;
                        let chunk = tape.backward(loss);
                        match &mut grads {
                            Some(grads) => grads.accumulate(chunk),
                            None => grads = Some(chunk),
                        }
                    }
                    grads.expect("a batch has chunks")
                };
                opt.step(&mut [&mut net.kernels, &mut net.w], &grads);
            }
            let train_secs = ti.elapsed().as_secs_f64();
            let (kernels, w) = (net.kernels.value().clone(), net.w.value().clone());
            let (test_threads, test_pass) = (&test_threads, &test_pass);
            let test = scope.spawn(move || test_threads.install(|| test_pass(&kernels, &w)));
            let train_acc = correct as f64 / 1000.0;
            if let Some((it, train_acc, train_secs, test)) =
                pending.replace((it, train_acc, train_secs, test))
            {
                report(it, train_acc, train_secs, join(test));
            }
        }
        if let Some((it, train_acc, train_secs, test)) = pending {
            acc = report(it, train_acc, train_secs, join(test));
        }
    });
    let secs = timer.stop();
    eprintln!("per iteration {:.4}s", secs / ITERATIONS as f64);
    print_result("conv", secs, acc);
}
