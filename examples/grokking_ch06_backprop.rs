//! *Grokking Deep Learning*, chapter 6: the streetlights, and the first deep network.
//!
//! * 6.6, learning the whole data set: one linear layer of three weights, trained one street
//!   light pattern at a time (alpha 0.1, 40 passes over the six patterns).
//! * 6.22, backpropagation: 3 lights -> 4 ReLU units -> walk/stop, alpha 0.2, 60 passes over
//!   four patterns, the error printed every 10. The weights are drawn exactly as the book
//!   does, `2 * np.random.random((3, 4)) - 1` then `(4, 1)` after `np.random.seed(1)`, from
//!   [`NumpyRandomState`], so the error curve is the book's: the six printed errors are the
//!   ones in the book's notebook, digit for digit.
//!
//! The book writes the weight deltas out by hand (`layer_1_delta = layer_2_delta.dot(
//! weights_1_2.T) * relu2deriv(layer_1)`); here `tape.backward` computes them. The book's
//! `layer_2 - goal` is the derivative of half the squared error, so backward runs from
//! `error * 0.5`.
//!
//! ```sh
//! cargo run --release --example grokking_ch06_backprop
//! ```

mod common;

use common::{descend, values};
use tapegrad::autograd::{tensor, Param, Tape, Tensor};
use tapegrad::books::pyfmt::{array_str, float_repr, list_repr};
use tapegrad::books::NumpyRandomState;

/// `2 * np.random.random(shape) - 1`: uniform in [-1, 1), filled in row-major order.
fn uniform_weights(rng: &mut NumpyRandomState, shape: &[usize]) -> Tensor<f64> {
    let n = shape.iter().product();
    tensor(
        shape,
        (0..n).map(|_| 2.0 * rng.random_sample() - 1.0).collect(),
    )
}

/// 6.6: returns the summed error of every pass and the final weights.
fn whole_dataset() -> (Vec<f64>, Vec<f64>) {
    let alpha = 0.1;
    let streetlights = [
        [1., 0., 1.],
        [0., 1., 1.],
        [0., 0., 1.],
        [1., 1., 1.],
        [0., 1., 1.],
        [1., 0., 1.],
    ];
    let walk_vs_stop = [0., 1., 0., 1., 1., 0.];
    let mut weights = Param::new("weights", tensor(&[3], vec![0.5, 0.48, -0.7]));
    let mut errors = Vec::new();
    for _ in 0..40 {
        let mut error_for_all_lights = 0.0;
        for (lights, goal_prediction) in streetlights.iter().zip(walk_vs_stop) {
            let tape = Tape::new();
            let input = tape.constant(tensor(&[3], lights.to_vec()));
            let prediction = input.dot(tape.param(&weights));
            let error = (prediction - goal_prediction).square();
            error_for_all_lights += error.item();
            let grads = tape.backward(error * 0.5);
            descend(&mut weights, &grads, alpha);
        }
        errors.push(error_for_all_lights);
    }
    (errors, values(weights.value()))
}

/// 6.22: returns the summed error of every tenth pass.
fn first_deep_network() -> Vec<f64> {
    let alpha = 0.2;
    let hidden_size = 4;
    let streetlights = [[1., 0., 1.], [0., 1., 1.], [0., 0., 1.], [1., 1., 1.]];
    let walk_vs_stop = [1., 1., 0., 0.];
    let mut rng = NumpyRandomState::new(1);
    let mut weights_0_1 = Param::new("weights_0_1", uniform_weights(&mut rng, &[3, hidden_size]));
    let mut weights_1_2 = Param::new("weights_1_2", uniform_weights(&mut rng, &[hidden_size, 1]));
    let mut printed = Vec::new();
    for iteration in 0..60 {
        let mut layer_2_error = 0.0;
        for (lights, goal) in streetlights.iter().zip(walk_vs_stop) {
            let tape = Tape::new();
            let layer_0 = tape.constant(tensor(&[1, 3], lights.to_vec()));
            let layer_1 = layer_0.matmul(tape.param(&weights_0_1)).relu();
            let layer_2 = layer_1.matmul(tape.param(&weights_1_2));
            let error = (layer_2 - goal).square().sum();
            layer_2_error += error.item();
            let grads = tape.backward(error * 0.5);
            descend(&mut weights_1_2, &grads, alpha);
            descend(&mut weights_0_1, &grads, alpha);
        }
        if iteration % 10 == 9 {
            printed.push(layer_2_error);
        }
    }
    printed
}

/// Every printed line, in order.
pub fn run() -> Vec<String> {
    let (errors_66, weights) = whole_dataset();
    let mut out = vec![
        format!("6.6 first-epoch Error: {}", float_repr(errors_66[0])),
        format!(
            "6.6 last-epoch (40) Error: {}",
            float_repr(errors_66[errors_66.len() - 1])
        ),
        format!("6.6 final weights: {}", array_str(&weights)),
    ];
    let errs = first_deep_network();
    out.extend(errs.iter().map(|&e| format!("Error:   {}", float_repr(e))));
    out.push(format!(
        "RESULT ch6_streetlights_epoch40_error: {}",
        float_repr(errors_66[errors_66.len() - 1])
    ));
    out.push(format!("RESULT ch6_backprop_errors: {}", list_repr(&errs)));
    out
}

fn main() {
    for line in run() {
        println!("{line}");
    }
}
