//! *Grokking Deep Learning*, chapter 8: dropout against overfitting.
//!
//! The network of `grokking_ch08_mnist_overfit` with 100 hidden units, and half of them
//! switched off at random for each training image: `dropout_mask = np.random.randint(2,
//! size=layer_1.shape)`, `layer_1 *= dropout_mask * 2`. 300 iterations, one image at a time
//! (alpha 0.005), tested on all 10,000 test images every 10 iterations (without dropout).
//! Test accuracy now holds at about 0.81 instead of sliding to 0.70.
//!
//! The weights and then the masks are drawn from [`NumpyRandomState`] in the book's order
//! (`weights_0_1`, `weights_1_2`, then one mask per image), in `f64`, and backward uses the
//! book's rules ([`BookRelu`](common::mnist::BookRelu), whose delta is never masked, and
//! [`BookDropout`](common::mnist::BookDropout), which multiplies the delta by the 0/1 mask, not
//! by `mask * 2`): the printed lines are the book's. `--true-grad` uses the true derivatives
//! instead.
//!
//! `--variant seed` and `--variant seed_x2` are the study notes' runs: 40 hidden units, with
//! `layer_1 *= dropout_mask` (the notes as printed) or `* 2`; they also print the last
//! iteration. `--seed N` changes `np.random.seed(1)`.
//!
//! ```sh
//! cargo run --release --example grokking_ch08_dropout [-- --variant book|seed|seed_x2] [--seed 1] [--true-grad]
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

/// Which run: the book's, or one of the study notes'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 100 hidden units, `layer_1 *= dropout_mask * 2`.
    Book,
    /// 40 hidden units, `layer_1 *= dropout_mask`.
    Seed,
    /// 40 hidden units, `layer_1 *= dropout_mask * 2`.
    SeedX2,
}

impl Variant {
    /// The name used on the command line and in the result line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Book => "book",
            Variant::Seed => "seed",
            Variant::SeedX2 => "seed_x2",
        }
    }
}

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The book's run or the notes'.
    pub variant: Variant,
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
            variant: Variant::Book,
            seed: 1,
            iterations: 300,
            derivatives: Derivatives::Book,
        }
    }
}

/// Trains and returns the printed lines; `progress` sees each line as soon as it is made.
pub fn run(data: &BookMnist, options: Options, progress: &mut dyn FnMut(&str)) -> Vec<String> {
    let (hidden_size, scale) = match options.variant {
        Variant::Book => (100, 2.0),
        Variant::Seed => (40, 1.0),
        Variant::SeedX2 => (40, 2.0),
    };
    let (alpha, pixels_per_image, num_labels) = (0.005, 784, 10);
    let mut rng = NumpyRandomState::new(options.seed);
    let mut weights_0_1 = Param::new(
        "weights_0_1",
        book_uniform(&mut rng, &[pixels_per_image, hidden_size], 0.2, 0.1),
    );
    let mut weights_1_2 = Param::new(
        "weights_1_2",
        book_uniform(&mut rng, &[hidden_size, num_labels], 0.2, 0.1),
    );
    let n = data.images.shape()[0];
    let images: Vec<_> = (0..n).map(|i| rows(&data.images, i, i + 1)).collect();
    let labels: Vec<_> = (0..n).map(|i| rows(&data.labels, i, i + 1)).collect();

    let mut lines = Vec::new();
    for j in 0..options.iterations {
        let (mut error, mut correct_cnt) = (0.0, 0);
        for (image, label) in images.iter().zip(&labels) {
            let tape = Tape::new();
            let layer_0 = tape.constant(image.clone());
            let hidden = layer_0.matmul(tape.param(&weights_0_1));
            let dropout_mask = book_mask(&mut rng, &[1, hidden_size]);
            let layer_1 = options
                .derivatives
                .relu_dropout(hidden, Some(&dropout_mask), scale);
            let layer_2 = layer_1.matmul(tape.param(&weights_1_2));
            let squared_error = (layer_2 - tape.constant(label.clone())).square().sum();
            error += squared_error.item();
            correct_cnt += count_correct(&layer_2.value(), label);
            let grads = tape.backward(squared_error * 0.5);
            descend(&mut weights_1_2, &grads, alpha);
            descend(&mut weights_0_1, &grads, alpha);
        }
        let last = j == options.iterations - 1;
        if j % 10 == 0 || (options.variant != Variant::Book && last) {
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
        "Grokking ch.8: dropout on 784-100-10 (the book's curve, I:290 Test-Acc 0.8181).

usage: grokking_ch08_dropout [--variant book|seed|seed_x2] [--seed N] [--iterations N] [--true-grad]
  --variant V     book (hidden 100, mask * 2), or the study notes' hidden-40 runs:
                  seed (mask only), seed_x2 (mask * 2)
  --seed N        np.random.seed(N), 1 in the book
  --iterations N  passes over the 1,000 images (300 in the book)
  --true-grad     the true derivatives instead of the book's backprop rules",
        &["--true-grad"],
        &["--variant", "--seed", "--iterations"],
    );
    let variant = match option(&args, "--variant", "book".to_string()).as_str() {
        "book" => Variant::Book,
        "seed" => Variant::Seed,
        "seed_x2" => Variant::SeedX2,
        other => panic!("--variant {other}: expected book, seed or seed_x2"),
    };
    let options = Options {
        variant,
        seed: option(&args, "--seed", 1),
        iterations: option(&args, "--iterations", 300),
        derivatives: Derivatives::from_args(&args),
    };
    let data = BookMnist::load();
    let start = std::time::Instant::now();
    let lines = run(&data, options, &mut |line| println!("{line}"));
    if let Some(last) = lines.last() {
        println!(
            "RESULT ch8_dropout[{} seed={}] {last}",
            variant.name(),
            options.seed
        );
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
