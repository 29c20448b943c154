//! *Grokking Deep Learning*, chapter 10: a convolutional layer on MNIST.
//!
//! Sixteen 3x3 kernels slide over each 28x28 image (the book's `expand` takes the 25x25
//! top-left positions, `range(28 - 3)`, so the last row and column are never a kernel's
//! corner), tanh, dropout (`* mask * 2`), then the 10,000 hidden values -> 10 softmax outputs.
//! Batches of 128 (seven per pass, 896 of the first 1,000 images; training accuracy is still
//! divided by 1,000, as in the book), alpha 2, 300 iterations, and after every iteration the
//! whole 10,000-image test set.
//!
//! The book's `expand` + `flattened_input.dot(kernels)` is an im2col convolution, which is
//! what [`conv2d`](tapegrad::autograd::Var::conv2d) computes; it gives channels first,
//! `[N, 16, 25, 25]`. The book's hidden layer lists the 16 kernel outputs of each position
//! together, so its `weights_1_2` rows and dropout masks are in (position, kernel) order: they
//! are drawn in the book's order from [`NumpyRandomState`] and stored in conv2d's (kernel,
//! position) order, the same numbers in other places, so nothing is permuted while training.
//! The kernels are the book's `(9, 16)` matrix stored as conv2d's `[16, 1, 3, 3]` weight.
//!
//! The book's kernel update `kernels -= alpha * k_update` has a sign slip
//! (iamtrask/Grokking-Deep-Learning issues #55 and #65): `k_update` is already the descent
//! direction, so the kernels climb the loss, and the book's curve collapses at I:16-20 and
//! I:41-45 before recovering.
//!
//! * Default: gradient descent on every weight (the reference's `--fixed-sign` run: I:299
//!   Test-Acc 0.8702, a smooth curve).
//! * `--book-sign`: the kernels ascend, as published (the book's curve: I:299 0.8774).
//! * `--true-grad`: the true derivative of tanh-then-dropout instead of the book's rule
//!   ([`BookTanhDropout`](common::mnist::BookTanhDropout)).
//! * `--iterations N`, `--seed N`.
//!
//! The test set is evaluated by the fused inference kernel for this stack of layers
//! (convolution, tanh, dense), which keeps each image's hidden values in registers instead of
//! writing 10,000 of them per image and reading them back twice. Only the predicted classes
//! matter for the accuracy, so [`conv_tanh_dense_classes`] finds them in `f32` wherever a
//! rounding-error bound proves them equal to the `f64` network's, and evaluates the few
//! images left undecided in `f64`: the classes, and so the printed accuracies, are the `f64`
//! forward pass's. `--f64-test` evaluates everything in `f64` through [`conv_tanh_dense`]
//! (the tape's numbers bit for bit), `--tape-test` through the tape's ops, 24 images per
//! inference tape: the same accuracies, more slowly. The test pass runs on threads of its own
//! while the next iteration trains. Training is `f64`, with the book's random stream, so the
//! printed curve is the book's.
//!
//! ```sh
//! cargo run --release --example grokking_ch10_conv [-- --book-sign] [--iterations 300] [--true-grad] [--f64-test | --tape-test]
//! ```

mod common;

use std::time::Instant;

use common::descend;
use common::mnist::{args, book_uniform, count_correct, evaluate_in_parallel, option, ratio, rows};
use tapegrad::autograd::kernels::fused::{
    conv_tanh_dense, conv_tanh_dense_classes, CertifiedImages, ImageLanes,
};
use tapegrad::autograd::ndarray::s;
use tapegrad::autograd::{tensor, Conv2dOptions, Param, Reduce, Tape, Tensor, Var};
use tapegrad::books::NumpyRandomState;
// The tests build the data and choose the derivatives through these.
pub use common::mnist::{BookMnist, Derivatives};

/// Kernels, positions (25 x 25) and hidden values per image.
const NUM_KERNELS: usize = 16;
const POSITIONS: usize = 25 * 25;
const HIDDEN_SIZE: usize = NUM_KERNELS * POSITIONS;

/// Test images per evaluation step: their hidden layers (1.9 MB) stay in cache, and 24 is a
/// whole number of the 8-row tiles of the output layer's product.
const TEST_CHUNK: usize = 24;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The book's `kernels -= alpha * k_update`: gradient ascent on the kernels.
    pub book_sign: bool,
    /// `np.random.seed(...)`: 1 in the book.
    pub seed: u32,
    /// 300 in the book.
    pub iterations: usize,
    /// The book's backprop rule for tanh after dropout, or the true derivative.
    pub derivatives: Derivatives,
    /// How the test set is evaluated (the same accuracies every way).
    pub test_pass: TestPass,
}

/// How the test set is evaluated: each gives the classes of the `f64` network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestPass {
    /// [`conv_tanh_dense_classes`]: `f32` where a rounding-error bound decides, `f64` where
    /// it does not.
    Certified,
    /// [`conv_tanh_dense`] in `f64`.
    Fused,
    /// The tape's ops.
    Tape,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            book_sign: false,
            seed: 1,
            iterations: 300,
            derivatives: Derivatives::Book,
            test_pass: TestPass::Certified,
        }
    }
}

/// The book's `kernels` `(9, 16)`, element `[3 r + c, k]`, as conv2d's weight `[k, 0, r, c]`.
fn kernels_as_conv_weight(book: &Tensor<f64>) -> Tensor<f64> {
    let w = book.t().to_owned();
    tensor(&[NUM_KERNELS, 1, 3, 3], w.iter().copied().collect())
}

/// A hidden index of the book (position-major, `p * 16 + k`) in conv2d's order (`k * 625 + p`).
fn conv_order(book_index: usize) -> usize {
    let (position, kernel) = (book_index / NUM_KERNELS, book_index % NUM_KERNELS);
    kernel * POSITIONS + position
}

/// The book's `weights_1_2` `(10000, 10)` with its rows moved to conv2d's order.
fn rows_to_conv_order(book: &Tensor<f64>) -> Tensor<f64> {
    let cols = book.shape()[1];
    let src = book.as_standard_layout();
    let src = src.as_slice().expect("standard layout");
    let mut out = vec![0.0; src.len()];
    for (i, row) in src.chunks_exact(cols).enumerate() {
        let j = conv_order(i);
        out[j * cols..(j + 1) * cols].copy_from_slice(row);
    }
    tensor(book.shape(), out)
}

/// `np.random.randint(2, size=(batch, 10000))`, drawn in the book's order, stored in conv2d's,
/// into `mask` (`[batch, 10000]`). Filling the same tensor every batch spares the allocation
/// of 10 MB and the page faults of writing it fresh.
fn fill_dropout_mask(rng: &mut NumpyRandomState, mask: &mut Tensor<f64>) {
    let mut bits = vec![0u8; HIDDEN_SIZE];
    let mut mask = mask.view_mut();
    let mask = mask.as_slice_mut().expect("a fresh tensor is contiguous");
    for image in mask.chunks_exact_mut(HIDDEN_SIZE) {
        rng.fill_randint2(&mut bits);
        // Book order is position-major: `k * 625 + p` takes bit `p * 16 + k` (written in order,
        // read across the 10 kB of bits).
        for (kernel, out) in image.chunks_exact_mut(POSITIONS).enumerate() {
            for (position, m) in out.iter_mut().enumerate() {
                *m = f64::from(bits[position * NUM_KERNELS + kernel]);
            }
        }
    }
}

/// The convolutional layer before its activation: `[N, 784]` images -> `[N, 10000]`, channels
/// first.
fn convolve<'t>(images: Var<'t, f64>, kernels: Var<'t, f64>) -> Var<'t, f64> {
    let n = images.shape()[0];
    let top_left = images
        .reshape(&[n, 1, 28, 28])
        .slice(&[0..n, 0..1, 0..27, 0..27]);
    top_left
        .conv2d(kernels, None, Conv2dOptions::default())
        .reshape(&[n, HIDDEN_SIZE])
}

/// The number of test images classified right by the network with these weights, evaluated
/// as `pass` says: the same numbers every way.
fn test_correct(
    data: &BookMnist,
    test_set: &TestSet,
    kernels: &Tensor<f64>,
    weights_1_2: &Tensor<f64>,
    pass: TestPass,
) -> usize {
    let kernels_4 = kernels.view().into_dimensionality().expect("[16, 1, 3, 3]");
    let weights_2 = weights_1_2
        .view()
        .into_dimensionality()
        .expect("[10000, 10]");
    match pass {
        TestPass::Tape => {
            evaluate_in_parallel(&data.test_images, &data.test_labels, TEST_CHUNK, |x, y| {
                let tape = x.tape();
                let layer_1 = convolve(x, tape.constant(kernels.clone())).tanh();
                let layer_2 = layer_1.matmul(tape.constant(weights_1_2.clone()));
                count_correct(&layer_2.value(), y)
            })
            .into_iter()
            .sum()
        }
        TestPass::Fused => {
            let lanes = test_set
                .lanes
                .as_ref()
                .expect("laid out for the fused pass");
            let logits = conv_tanh_dense(lanes, kernels_4, weights_2);
            count_correct(&logits.into_dyn().into_shared(), &data.test_labels)
        }
        TestPass::Certified => {
            let images = test_set
                .certified
                .as_ref()
                .expect("laid out for the certified pass");
            let found = conv_tanh_dense_classes(images, kernels_4, weights_2);
            found
                .classes
                .iter()
                .zip(&test_set.labels)
                .filter(|(c, l)| c == l)
                .count()
        }
    }
}

/// The test images' top-left 27 x 27 pixels, laid out once, before training starts, for the
/// fused kernel that `pass` uses, and their labels. (Laid out on first use instead, by a test
/// pass that starts while the one before it is still laying them out on the same threads, one
/// waiting on the other's lock inside rayon's work stealing could block both for good.)
struct TestSet {
    labels: Vec<usize>,
    lanes: Option<ImageLanes<f64>>,
    certified: Option<CertifiedImages>,
}

impl TestSet {
    fn new(data: &BookMnist, pass: TestPass) -> Self {
        let labels = data
            .test_labels
            .outer_iter()
            .map(|row| row.iter().position(|&v| v == 1.0).expect("a one-hot label"))
            .collect();
        let n = data.test_images.shape()[0];
        let crop = data
            .test_images
            .view()
            .into_shape_with_order((n, 1, 28, 28))
            .expect("784 pixels per image")
            .slice_move(s![.., .., ..27, ..27]);
        TestSet {
            labels,
            lanes: (pass == TestPass::Fused).then(|| ImageLanes::new(crop)),
            certified: (pass == TestPass::Certified).then(|| CertifiedImages::new(crop)),
        }
    }
}

/// Trains and returns the printed lines; `progress` sees each line, with the seconds spent
/// training and testing, as soon as it is made.
///
/// The test pass of iteration `j` reads a snapshot of the weights, so it runs on threads of
/// its own while iteration `j + 1` trains: each fills the moments the other leaves a core
/// idle. The numbers are those of running them one after the other.
pub fn run(
    data: &BookMnist,
    options: Options,
    progress: &mut dyn FnMut(&str, f64, f64),
) -> Vec<String> {
    let (alpha, batch_size, num_labels) = (2.0, 128, 10);
    let mut rng = NumpyRandomState::new(options.seed);
    let book_kernels = book_uniform(&mut rng, &[9, NUM_KERNELS], 0.02, 0.01);
    let book_weights_1_2 = book_uniform(&mut rng, &[HIDDEN_SIZE, num_labels], 0.2, 0.1);
    let mut kernels = Param::new("kernels", kernels_as_conv_weight(&book_kernels));
    let mut weights_1_2 = Param::new("weights_1_2", rows_to_conv_order(&book_weights_1_2));
    let n = data.images.shape()[0];
    let n_test = data.test_images.shape()[0];
    let batches: Vec<_> = (0..n / batch_size)
        .map(|i| {
            let (start, end) = (i * batch_size, (i + 1) * batch_size);
            (
                rows(&data.images, start, end),
                rows(&data.labels, start, end),
            )
        })
        .collect();
    // The book's `kernels -= alpha * k_update` with `k_update` pointing downhill.
    let kernel_alpha = if options.book_sign { -alpha } else { alpha };
    // At the lowest priority: the test pass fills the moments training leaves a core idle
    // rather than taking turns with the training step's threads.
    let test_threads = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("test-pass-{i}"))
        .start_handler(|_| common::background::yield_to_other_threads())
        .build()
        .expect("threads for the test pass");
    let test_set = &TestSet::new(data, options.test_pass);

    let mut mask = tensor(
        &[batch_size, HIDDEN_SIZE],
        vec![0.0; batch_size * HIDDEN_SIZE],
    );
    let mut lines = Vec::new();
    std::thread::scope(|scope| {
        let mut report = |j: usize, correct_cnt: usize, train_s: f64, test: (usize, f64)| {
            let line = format!(
                "I:{j} Test-Acc:{} Train-Acc:{}",
                ratio(test.0, n_test),
                ratio(correct_cnt, n)
            );
            progress(&line, train_s, test.1);
            lines.push(line);
        };
        let mut pending = None;
        for j in 0..options.iterations {
            let start = Instant::now();
            let mut correct_cnt = 0;
            for (images, labels) in &batches {
                let tape = Tape::new();
                let layer_0 = tape.constant(images.clone());
                let hidden = convolve(layer_0, tape.param(&kernels));
                fill_dropout_mask(&mut rng, &mut mask);
                let layer_1 = options.derivatives.tanh_dropout(hidden, &mask);
                let logits = layer_1.matmul(tape.param(&weights_1_2));
                let layer_2 = tape.no_grad(|| logits.softmax(-1));
                correct_cnt += count_correct(&layer_2.value(), labels);
                let targets = tape.constant(labels.clone());
                let loss = logits.softmax_cross_entropy(targets, Reduce::Sum)
                    / (batch_size * batch_size) as f64;
                let grads = tape.backward(loss);
                descend(&mut weights_1_2, &grads, alpha);
                descend(&mut kernels, &grads, kernel_alpha);
            }
            let train_s = start.elapsed().as_secs_f64();
            let (k, w) = (kernels.value().clone(), weights_1_2.value().clone());
            let test_threads = &test_threads;
            let test = scope.spawn(move || {
                let start = Instant::now();
                let correct = test_threads
                    .install(|| test_correct(data, test_set, &k, &w, options.test_pass));
                (correct, start.elapsed().as_secs_f64())
            });
            if let Some((j, correct_cnt, train_s, test)) =
                pending.replace((j, correct_cnt, train_s, test))
            {
                report(j, correct_cnt, train_s, join(test));
            }
        }
        if let Some((j, correct_cnt, train_s, test)) = pending {
            report(j, correct_cnt, train_s, join(test));
        }
    });
    lines
}

/// The result of a test pass, or its panic passed on.
fn join<R>(handle: std::thread::ScopedJoinHandle<'_, R>) -> R {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The line with the highest test accuracy (the first, on ties).
pub fn best(lines: &[String]) -> Option<&String> {
    let acc = |l: &String| -> f64 {
        l.split("Test-Acc:")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .map_or(0.0, |s| s.parse().unwrap_or(0.0))
    };
    lines
        .iter()
        .fold(None, |best: Option<&String>, l| match best {
            Some(b) if acc(b) >= acc(l) => Some(b),
            _ => Some(l),
        })
}

fn main() {
    let args = args(
        "Grokking ch.10: 16 3x3 kernels, tanh, dropout, softmax on MNIST, tested every iteration.

usage: grokking_ch10_conv [--book-sign] [--iterations N] [--seed N] [--true-grad]
                          [--f64-test | --tape-test]
  (default)       gradient descent on every weight (I:299 Test-Acc 0.8702)
  --book-sign     the book's kernels -= alpha * k_update: the kernels climb the loss
                  (the book's curve, I:299 Test-Acc 0.8774)
  --iterations N  300 in the book
  --seed N        np.random.seed(N), 1 in the book
  --true-grad     the true derivative of tanh after dropout instead of the book's rule
  --f64-test      evaluate the test set in f64 only, through the fused kernel (slower,
                  the same numbers) instead of f32 checked by a rounding-error bound
  --tape-test     evaluate the test set through the tape's ops (slower still, the same
                  numbers)",
        &["--book-sign", "--true-grad", "--f64-test", "--tape-test"],
        &["--iterations", "--seed"],
    );
    let options = Options {
        book_sign: args.iter().any(|a| a == "--book-sign"),
        seed: option(&args, "--seed", 1),
        iterations: option(&args, "--iterations", 300),
        derivatives: Derivatives::from_args(&args),
        test_pass: if args.iter().any(|a| a == "--tape-test") {
            TestPass::Tape
        } else if args.iter().any(|a| a == "--f64-test") {
            TestPass::Fused
        } else {
            TestPass::Certified
        },
    };
    let data = BookMnist::load();
    let start = Instant::now();
    let (mut train_total, mut test_total) = (0.0, 0.0);
    let lines = run(&data, options, &mut |line, train_s, test_s| {
        train_total += train_s;
        test_total += test_s;
        println!("{line}   (train {train_s:.2}s test {test_s:.2}s)");
    });
    let sign = if options.book_sign {
        "book-sign"
    } else {
        "fixed-sign"
    };
    if let (Some(last), Some(best)) = (lines.last(), best(&lines)) {
        println!(
            "RESULT ch10_conv[{sign}] seed={} iterations={} last: {last}",
            options.seed, options.iterations
        );
        println!("RESULT best: {best}");
        let per = lines.len() as f64;
        println!(
            "TIME per iteration: train {:.3}s, test {:.3}s",
            train_total / per,
            test_total / per
        );
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
