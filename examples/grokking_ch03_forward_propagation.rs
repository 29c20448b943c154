//! *Grokking Deep Learning*, chapter 3: forward propagation.
//!
//! A prediction is a weighted sum of the inputs: one input and one weight, several inputs
//! (a dot product), one input and several outputs (a scaled vector), several of both (a
//! vector-matrix product), and two layers stacked. Only the forward pass is needed here, so the
//! tape is an inference tape: it computes values and records nothing for backward.
//!
//! The stacked network runs with the book's weights (written row per hidden unit and
//! transposed, `.T`) and with the variant from the study notes (first row `[0.1, 0.1, -0.1]`,
//! not transposed), which gives `[0.411 1.086 -0.286]`.
//!
//! ```sh
//! cargo run --release --example grokking_ch03_forward_propagation
//! ```

mod common;

use common::values;
use tapegrad::autograd::{scalar, tensor, Tape, Var};
use tapegrad::books::pyfmt::{array_str, float_repr, list_repr};

/// The book's `neural_network(input, weight)`: `input * weight`.
fn neural_network<'t>(input: Var<'t, f64>, weight: Var<'t, f64>) -> Var<'t, f64> {
    input * weight
}

/// Two layers: `hid = input . weights[0]`, `pred = hid . weights[1]`.
fn stacked<'t>(input: Var<'t, f64>, weights: [Var<'t, f64>; 2]) -> Var<'t, f64> {
    let hid = input.matmul(weights[0]);
    hid.matmul(weights[1])
}

/// A 3 x 3 matrix from its rows.
fn matrix(rows: [[f64; 3]; 3]) -> tapegrad::autograd::Tensor<f64> {
    tensor(&[3, 3], rows.concat())
}

/// Every printed line, in order.
pub fn run() -> Vec<String> {
    let tape = Tape::<f64>::inference();
    let mut out = Vec::new();

    // 1) One input, one weight.
    let number_of_toes = [8.5, 9.5, 10.0, 9.0];
    let pred = neural_network(
        tape.constant(scalar(number_of_toes[0])),
        tape.constant(scalar(0.1)),
    );
    out.push(format!("single in/out: {}", float_repr(pred.item())));

    // 2) Several inputs, one output: a dot product.
    let toes = [8.5, 9.5, 9.9, 9.0];
    let wlrec = [0.65, 0.8, 0.8, 0.9];
    let nfans = [1.2, 1.3, 0.5, 1.0];
    let weights = tape.constant(tensor(&[3], vec![0.1, 0.2, 0.0]));
    let input = tape.constant(tensor(&[3], vec![toes[0], wlrec[0], nfans[0]]));
    out.push(format!(
        "multi in, single out: {}",
        float_repr(input.dot(weights).item())
    ));

    // 3) One input, several outputs: the weights scaled by the input.
    let weights = tape.constant(tensor(&[3], vec![0.3, 0.2, 0.9]));
    let pred = tape.constant(scalar(wlrec[0])) * weights;
    out.push(format!(
        "single in, multi out: {}",
        list_repr(&values(&pred.value()))
    ));

    // 4) Several inputs, several outputs: row i of the weights makes output i.
    let weights = tape.constant(matrix([[0.1, 0.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]]));
    let pred = weights.matmul(tape.constant(tensor(&[3], vec![8.5, 0.65, 1.2])));
    out.push(format!(
        "multi in, multi out: {}",
        list_repr(&values(&pred.value()))
    ));

    // 5) Predicting on predictions.
    let input = tape.constant(tensor(&[3], vec![toes[0], wlrec[0], nfans[0]]));
    let ih_book = tape
        .constant(matrix([
            [0.1, 0.2, -0.1],
            [-0.1, 0.1, 0.9],
            [0.1, 0.4, 0.1],
        ]))
        .t();
    let hp_book = tape
        .constant(matrix([[0.3, 1.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]]))
        .t();
    let book = values(&stacked(input, [ih_book, hp_book]).value());
    out.push(format!("stacked (book weights, .T): {}", array_str(&book)));
    let ih_seed = tape.constant(matrix([
        [0.1, 0.1, -0.1],
        [-0.1, 0.1, 0.9],
        [0.1, 0.4, 0.1],
    ]));
    let hp_seed = tape.constant(matrix([[0.3, 1.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]]));
    let seed = values(&stacked(input, [ih_seed, hp_seed]).value());
    out.push(format!(
        "stacked (seed variant, no .T): {}",
        array_str(&seed)
    ));
    out.push(format!(
        "RESULT ch3 stacked(book) {} ; stacked(seed variant) {}",
        list_repr(&book),
        list_repr(&seed)
    ));
    out
}

fn main() {
    for line in run() {
        println!("{line}");
    }
}
