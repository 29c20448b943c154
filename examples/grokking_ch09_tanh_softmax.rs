//! *Grokking Deep Learning*, chapter 9: the MNIST network upgraded with tanh and softmax.
//!
//! 784 -> 100 tanh units (with dropout, `* mask * 2`) -> 10 softmax outputs; batches of 100,
//! alpha 2, 300 passes over the first 1,000 training images, tested every 10 iterations (and
//! at the last) on all 10,000 test images. tanh prefers a narrower start, so `weights_0_1` is
//! `0.02 * np.random.random(...) - 0.01`; `weights_1_2` stays `0.2 * ... - 0.1`.
//!
//! The book's `layer_2_delta = (labels - layer_2) / (batch_size * layer_2.shape[0])` is the
//! gradient of softmax cross-entropy, summed over the batch and divided by 100 * 100: that is
//! the loss backward runs from (the fused `softmax_cross_entropy`). Its `tanh2deriv` is taken
//! after dropout doubled `layer_1`; [`BookTanhDropout`](common::mnist::BookTanhDropout)
//! reproduces that rule, `--true-grad` uses the true derivative instead.
//!
//! Weights and masks come from [`NumpyRandomState`] in the book's order, in `f64`; the
//! printed lines are the book's (I:290 Test-Acc 0.8701). `--seed N` changes
//! `np.random.seed(1)`.
//!
//! ```sh
//! cargo run --release --example grokking_ch09_tanh_softmax [-- --seed 1] [--true-grad]
//! ```

mod common;

use common::descend;
use common::mnist::{
    args, book_mask, book_uniform, count_correct, evaluate, option, ratio, rows, str5,
};
use tapegrad::autograd::random::NumpyRandomState;
use tapegrad::autograd::{Param, Reduce, Tape};
// The tests build the data and choose the derivatives through these.
pub use common::mnist::{BookMnist, Derivatives};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// `np.random.seed(...)`: 1 in the book.
    pub seed: u32,
    /// Passes over the 1,000 training images: 300 in the book.
    pub iterations: usize,
    /// The book's backprop rules or the true derivatives.
    pub derivatives: Derivatives,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            iterations: 300,
            derivatives: Derivatives::Book,
        }
    }
}

/// Trains and returns the printed lines; `progress` sees each line as soon as it is made.
pub fn run(data: &BookMnist, options: Options, progress: &mut dyn FnMut(&str)) -> Vec<String> {
    let (alpha, hidden_size, pixels_per_image, num_labels, batch_size) = (2.0, 100, 784, 10, 100);
    let mut rng = NumpyRandomState::new(options.seed);
    let mut weights_0_1 = Param::new(
        "weights_0_1",
        book_uniform(&mut rng, &[pixels_per_image, hidden_size], 0.02, 0.01),
    );
    let mut weights_1_2 = Param::new(
        "weights_1_2",
        book_uniform(&mut rng, &[hidden_size, num_labels], 0.2, 0.1),
    );
    let n = data.images.shape()[0];
    let batches: Vec<_> = (0..n / batch_size)
        .map(|i| {
            let (start, end) = (i * batch_size, (i + 1) * batch_size);
            (
                rows(&data.images, start, end),
                rows(&data.labels, start, end),
            )
        })
        .collect();

    let mut lines = Vec::new();
    for j in 0..options.iterations {
        let (mut error, mut correct_cnt) = (0.0, 0);
        for (images, labels) in &batches {
            let tape = Tape::new();
            let layer_0 = tape.constant(images.clone());
            let hidden = layer_0.matmul(tape.param(&weights_0_1));
            let dropout_mask = book_mask(&mut rng, &[batch_size, hidden_size]);
            let layer_1 = options.derivatives.tanh_dropout(hidden, &dropout_mask);
            let logits = layer_1.matmul(tape.param(&weights_1_2));
            let targets = tape.constant(labels.clone());
            let layer_2 = tape.no_grad(|| logits.softmax(-1));
            error += (targets - layer_2).square().sum().item();
            correct_cnt += count_correct(&layer_2.value(), labels);
            let loss = logits.softmax_cross_entropy(targets, Reduce::Sum)
                / (batch_size * batch_size) as f64;
            let grads = tape.backward(loss);
            descend(&mut weights_1_2, &grads, alpha);
            descend(&mut weights_0_1, &grads, alpha);
        }
        if j % 10 == 0 || j == options.iterations - 1 {
            let (w01, w12) = (&weights_0_1, &weights_1_2);
            let per_chunk = evaluate(&data.test_images, &data.test_labels, 1000, |x, y| {
                let tape = x.tape();
                let layer_2 = x.matmul(tape.param(w01)).tanh().matmul(tape.param(w12));
                let probabilities = layer_2.softmax(-1);
                let test_error = (tape.constant(y.clone()) - probabilities).square().sum();
                (test_error.item(), count_correct(&layer_2.value(), y))
            });
            let test_error: f64 = per_chunk.iter().map(|c| c.0).sum();
            let test_correct: usize = per_chunk.iter().map(|c| c.1).sum();
            let n_test = data.test_images.shape()[0];
            let line = format!(
                "I:{j} Test-Acc:{} Train-Acc:{} Test-Err:{} Train-Err:{}",
                ratio(test_correct, n_test),
                ratio(correct_cnt, n),
                str5(test_error / n_test as f64),
                str5(error / n as f64)
            );
            progress(&line);
            lines.push(line);
        }
    }
    lines
}

fn main() {
    let args = args();
    let options = Options {
        seed: option(&args, "--seed", 1),
        iterations: option(&args, "--iterations", 300),
        derivatives: Derivatives::from_args(&args),
    };
    let data = BookMnist::load();
    let start = std::time::Instant::now();
    let lines = run(&data, options, &mut |line| println!("{line}"));
    let seed = options.seed;
    if let Some(at290) = lines.iter().find(|l| l.starts_with("I:290 ")) {
        println!("RESULT ch9[book seed={seed}] {at290}");
    }
    if let Some(last) = lines.last() {
        println!("RESULT ch9[book seed={seed}] final {last}");
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
