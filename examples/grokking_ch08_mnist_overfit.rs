//! *Grokking Deep Learning*, chapter 8: a three-layer network on MNIST, and how it overfits.
//!
//! 784 pixels -> 40 relu units -> 10 outputs, squared error, one image at a time (alpha
//! 0.005), 350 passes over the first 1,000 training images. The weights are drawn as the book
//! draws them, `0.2 * np.random.random(shape) - 0.1` after `np.random.seed(1)`, from
//! [`NumpyRandomState`], in `f64`. Every 10 iterations (and at the last) the network is tested
//! on all 10,000 test images. Training accuracy climbs to 1.0 while test accuracy peaks at
//! I:10 (0.8114) and falls to 0.7073: the network memorises its 1,000 images.
//!
//! The book's `layer_2_delta = labels - layer_2` is the derivative of half the squared error,
//! so backward runs from `error * 0.5`. Its `relu2deriv` never masks the hidden delta (see
//! [`BookRelu`](common::mnist::BookRelu)); `--true-grad` uses relu's true derivative instead.
//! The test set is evaluated 1,000 images at a time on an inference tape, not image by image
//! as in the book: same numbers, far less time.
//!
//! The 36 printed lines are the book's, digit for digit.
//!
//! ```sh
//! cargo run --release --example grokking_ch08_mnist_overfit [-- --iterations 350] [--true-grad]
//! ```

mod common;

use common::descend;
use common::mnist::{args, book_uniform, count_correct, option, ratio, relu_net_test, rows, str5};
use tapegrad::autograd::{Param, Tape};
use tapegrad::books::NumpyRandomState;
// The tests build the data and choose the derivatives through these.
pub use common::mnist::{BookMnist, Derivatives};

/// Trains for `iterations` passes and returns the printed lines; `progress` sees each line as
/// soon as it is made.
pub fn run(
    data: &BookMnist,
    iterations: usize,
    derivatives: Derivatives,
    progress: &mut dyn FnMut(&str),
) -> Vec<String> {
    let (alpha, hidden_size, pixels_per_image, num_labels) = (0.005, 40, 784, 10);
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
    let images: Vec<_> = (0..n).map(|i| rows(&data.images, i, i + 1)).collect();
    let labels: Vec<_> = (0..n).map(|i| rows(&data.labels, i, i + 1)).collect();

    let mut lines = Vec::new();
    for j in 0..iterations {
        let (mut error, mut correct_cnt) = (0.0, 0);
        for (image, label) in images.iter().zip(&labels) {
            let tape = Tape::new();
            let layer_0 = tape.constant(image.clone());
            let layer_1 =
                derivatives.relu_dropout(layer_0.matmul(tape.param(&weights_0_1)), None, 1.0);
            let layer_2 = layer_1.matmul(tape.param(&weights_1_2));
            let squared_error = (layer_2 - tape.constant(label.clone())).square().sum();
            error += squared_error.item();
            correct_cnt += count_correct(&layer_2.value(), label);
            let grads = tape.backward(squared_error * 0.5);
            descend(&mut weights_1_2, &grads, alpha);
            descend(&mut weights_0_1, &grads, alpha);
        }
        if j % 10 == 0 || j == iterations - 1 {
            let (test_error, test_correct) = relu_net_test(data, &weights_0_1, &weights_1_2);
            let n_test = data.test_images.shape()[0];
            let line = format!(
                "I:{j} Train-Err:{} Train-Acc:{} Test-Err:{} Test-Acc:{}",
                str5(error / n as f64),
                ratio(correct_cnt, n),
                str5(test_error / n_test as f64),
                ratio(test_correct, n_test)
            );
            progress(&line);
            lines.push(line);
        }
    }
    lines
}

fn main() {
    let args = args(
        "Grokking ch.8: 784-40-10 on 1,000 MNIST images, overfitting (the book's 36 lines).

usage: grokking_ch08_mnist_overfit [--iterations N] [--true-grad]
  --iterations N  passes over the 1,000 images (350 in the book)
  --true-grad     relu's true derivative instead of the book's relu2deriv",
        &["--true-grad"],
        &["--iterations"],
    );
    let iterations = option(&args, "--iterations", 350);
    let derivatives = Derivatives::from_args(&args);
    let data = BookMnist::load();
    let start = std::time::Instant::now();
    let lines = run(&data, iterations, derivatives, &mut |line| {
        println!("{line}")
    });
    if let Some(last) = lines.last() {
        println!("RESULT ch8_overfit {last}");
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
