//! *Grokking Deep Learning*, chapter 8: mini-batch gradient descent (with dropout).
//!
//! The dropout network of `grokking_ch08_dropout` (784-100-10, relu, `dropout_mask * 2`),
//! trained on batches of 100 images: ten updates per pass over the 1,000 training images,
//! 300 passes, tested every 10 on all 10,000 test images.
//!
//! The book's code has a known slip (iamtrask/Grokking-Deep-Learning issues #16 and #31): its
//! five backprop-and-update lines are indented inside the `for k in range(batch_size)` loop
//! that counts correct answers, so every batch makes 100 updates, all from the same forward
//! pass. Each pushes the same stale `layer_2_delta` back through the `weights_1_2` that the
//! previous ones already moved. With its alpha of 0.001 that acts like a step about 100 times
//! larger, and it is what printed the book's curve (I:290 Test-Acc 0.7975).
//!
//! * Default: what the book means, one update per batch from `tape.backward`. The step the
//!   book's curve actually took needs alpha 0.1 here (the reference's `fixed_a01` run).
//! * `--book`: the published code, 100 updates per batch with alpha 0.001. Each repeat
//!   backpropagates the stale delta with [`Tape::backward_with`]: through a one-op tape holding
//!   the current `weights_1_2`, then from `layer_1` down the batch's own tape to
//!   `weights_0_1`. It does 100 times the backward work, as the book's code does.
//! * `--alpha A` changes the step (`--alpha 0.01` is the study notes' de-indented run);
//!   `--true-grad` uses the true derivatives instead of the book's backprop rules
//!   ([`BookRelu`](common::mnist::BookRelu), [`BookDropout`](common::mnist::BookDropout)).
//!
//! Weights and masks come from [`NumpyRandomState`] in the book's order, in `f64`. Both forms
//! print their reference run's 30 lines digit for digit: `--book` the book's curve (I:290
//! Test-Acc 0.7975), the default the reference's `fixed_a01` run (I:290 0.806).
//!
//! ```sh
//! cargo run --release --example grokking_ch08_batch [-- --book] [--alpha 0.1] [--true-grad]
//! ```

mod common;

use common::descend;
use common::mnist::{
    args, book_mask, book_uniform, count_correct, option, ratio, relu_net_test, rows, str5,
};
use tapegrad::autograd::{Param, Tape};
use tapegrad::books::NumpyRandomState;
// The tests build the data and choose the derivatives through these.
pub use common::mnist::{BookMnist, Derivatives};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The published code: 100 updates per batch from one forward pass.
    pub book: bool,
    /// The step: 0.1 for one update per batch, 0.001 in the book's code.
    pub alpha: f64,
    /// Passes over the 1,000 training images: 300 in the book.
    pub iterations: usize,
    /// The book's backprop rules or the true derivatives.
    pub derivatives: Derivatives,
}

impl Options {
    /// The book's run as published (`book`) or as meant.
    pub fn new(book: bool) -> Self {
        Options {
            book,
            alpha: if book { 0.001 } else { 0.1 },
            iterations: 300,
            derivatives: Derivatives::Book,
        }
    }
}

/// Trains and returns the printed lines; `progress` sees each line as soon as it is made.
pub fn run(data: &BookMnist, options: Options, progress: &mut dyn FnMut(&str)) -> Vec<String> {
    let alpha = options.alpha;
    let (batch_size, pixels_per_image, num_labels, hidden_size) = (100, 784, 10, 100);
    let mut rng = NumpyRandomState::new(1);
    let mut weights_0_1 = Param::new(
        "weights_0_1",
        book_uniform(&mut rng, &[pixels_per_image, hidden_size], 0.2, 0.1),
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
            let layer_1 = options
                .derivatives
                .relu_dropout(hidden, Some(&dropout_mask), 2.0);
            let layer_2 = layer_1.matmul(tape.param(&weights_1_2)).retain_grad();
            let squared_error = (layer_2 - tape.constant(labels.clone())).square().sum();
            error += squared_error.item();
            correct_cnt += count_correct(&layer_2.value(), labels);
            // The book's `layer_2_delta = (labels - layer_2) / batch_size`.
            let grads = tape.backward(squared_error * 0.5 / batch_size as f64);
            if !options.book {
                descend(&mut weights_1_2, &grads, alpha);
                descend(&mut weights_0_1, &grads, alpha);
                continue;
            }
            // The published code: the five backprop lines run once per image of the batch.
            let layer_2_delta = grads.get(layer_2).expect("retained").clone();
            let weight_delta_1_2 = grads.param(&weights_1_2).expect("bound").clone();
            for k in 0..batch_size {
                let layer_1_grad = if k == 0 {
                    None // the tape's own backward already used the current weights_1_2
                } else {
                    // layer_2_delta.dot(weights_1_2.T) with today's weights_1_2.
                    let step = Tape::new();
                    let stale_layer_1 = step.var(layer_1.value());
                    let layer_2 = stale_layer_1.matmul(step.param(&weights_1_2));
                    let back = step.backward_with(layer_2, layer_2_delta.clone());
                    Some(back.get(stale_layer_1).expect("a leaf").clone())
                };
                weights_1_2
                    .value_mut()
                    .zip_mut_with(&weight_delta_1_2, |w, &d| *w -= d * alpha);
                match layer_1_grad {
                    None => descend(&mut weights_0_1, &grads, alpha),
                    Some(g) => descend(&mut weights_0_1, &tape.backward_with(layer_1, g), alpha),
                }
            }
        }
        if j % 10 == 0 {
            let (test_error, test_correct) = relu_net_test(data, &weights_0_1, &weights_1_2);
            let n_test = data.test_images.shape()[0];
            let line = format!(
                "I:{j} Test-Err:{} Test-Acc:{} Train-Err:{} Train-Acc:{}",
                str5(test_error / n_test as f64),
                ratio(test_correct, n_test),
                str5(error / n as f64),
                ratio(correct_cnt, n)
            );
            progress(&line);
            lines.push(line);
        }
    }
    lines
}

fn main() {
    let args = args(
        "Grokking ch.8: mini-batches of 100 with dropout.

usage: grokking_ch08_batch [--book] [--alpha A] [--iterations N] [--true-grad]
  (default)       one update per batch, alpha 0.1: what the book means (I:290 Test-Acc 0.806)
  --book          the published code: 100 updates per batch, alpha 0.001 (the book's
                  curve, I:290 Test-Acc 0.7975)
  --alpha A       another step (0.01 is the study notes' de-indented run)
  --iterations N  passes over the 1,000 images (300 in the book)
  --true-grad     the true derivatives instead of the book's backprop rules",
        &["--book", "--true-grad"],
        &["--alpha", "--iterations"],
    );
    let book = args.iter().any(|a| a == "--book");
    let mut options = Options::new(book);
    options.alpha = option(&args, "--alpha", options.alpha);
    options.iterations = option(&args, "--iterations", options.iterations);
    options.derivatives = Derivatives::from_args(&args);
    let data = BookMnist::load();
    let start = std::time::Instant::now();
    let lines = run(&data, options, &mut |line| println!("{line}"));
    if let Some(last) = lines.last() {
        let form = if book { "book" } else { "one update per batch" };
        println!("RESULT ch8_batch[{form}, alpha {}] {last}", options.alpha);
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
