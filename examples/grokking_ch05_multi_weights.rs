//! *Grokking Deep Learning*, chapter 5: learning several weights at a time.
//!
//! 1. Several inputs, one output: each weight's delta is `delta * input[i]`.
//! 2. The same with weight 0 frozen ([`Param::freeze`]): it gets no gradient, so it stays
//!    put, and the other two weights learn the whole job (alpha 0.3).
//! 3. One input, several outputs, 20 iterations (the book shows the first step).
//! 4. Several inputs, several outputs: the weight deltas are `outer(delta, input)`, which
//!    takes the error to about 1e-33 in 2000 iterations. The study notes applied
//!    `outer(input, delta)` instead, the gradient transposed: that update only moves the
//!    predictions along the input vector, so the error freezes at
//!    `[0.01126, 0.00396, 0.6175]`. Both are run.
//!
//! Every weight delta comes from `tape.backward(error * 0.5)`: the book's
//! `delta = pred - true` is the derivative of half the squared error. Each product is rounded
//! before it is summed, as in the book's notebook, whose one-step weights of section 4 this
//! prints digit for digit.
//!
//! ```sh
//! cargo run --release --example grokking_ch05_multi_weights
//! ```

mod common;

use common::{descend, values};
use tapegrad::autograd::{scalar, tensor, Param, Tape, Tensor, Var};
use tapegrad::books::pyfmt::{float_repr, list_repr};

const TOES: [f64; 4] = [8.5, 9.5, 9.9, 9.0];
const WLREC: [f64; 4] = [0.65, 0.8, 0.8, 0.9];
const NFANS: [f64; 4] = [1.2, 1.3, 0.5, 1.0];
const HURT: [f64; 4] = [0.1, 0.0, 0.0, 0.9];
const WIN: [f64; 4] = [1.0, 1.0, 0.0, 1.0];
const SAD: [f64; 4] = [0.1, 0.0, 0.1, 0.2];

/// Sections 1 and 2: three inputs, one output, three iterations. Each weight is its own
/// [`Param`], so that one of them can be frozen.
fn multi_input(alpha: f64, freeze_first: bool) -> Vec<String> {
    let truth = WIN[0];
    let mut weights: Vec<Param<f64>> = [0.1, 0.2, -0.1]
        .iter()
        .enumerate()
        .map(|(i, &w)| Param::new(format!("weights[{i}]"), scalar(w)))
        .collect();
    if freeze_first {
        weights[0].freeze();
    }
    let mut lines = Vec::new();
    for _ in 0..3 {
        let tape = Tape::new();
        let input = tape.constant(tensor(&[3], vec![TOES[0], WLREC[0], NFANS[0]]));
        let bound: Vec<Var<'_, f64>> = weights.iter().map(|w| tape.param(w)).collect();
        // retain_grad keeps d(error / 2)/d(pred) = pred - true: the book's delta.
        let pred = input.dot(Var::stack(&bound, 0)).retain_grad();
        let error = (pred - truth).square();
        let grads = tape.backward(error * 0.5);
        let delta = grads.get(pred).expect("retained")[[]];
        // A frozen weight gets no gradient; the book prints its delta as 0.
        let weight_deltas: Vec<String> = weights
            .iter()
            .map(|w| grads.param(w).map_or("0".into(), |g| float_repr(g[[]])))
            .collect();
        lines.push(format!(
            "Error:{} Prediction:{} Delta:{} Weight_delta:[{}]",
            float_repr(error.item()),
            float_repr(pred.item()),
            float_repr(delta),
            weight_deltas.join(", ")
        ));
        for w in &mut weights {
            descend(w, &grads, alpha);
        }
    }
    lines
}

/// Section 3: one input (win/loss record) predicting hurt, win and sad. Returns the line
/// with the weights after the first step (the book's single step) and one line per iteration.
fn multi_output() -> (String, Vec<String>) {
    let alpha = 0.1;
    let truth = tensor(&[3], vec![HURT[0], WIN[0], SAD[0]]);
    let mut weights = Param::new("weights", tensor(&[3], vec![0.3, 0.2, 0.9]));
    let mut lines = Vec::new();
    let mut first_step = String::new();
    for iteration in 0..20 {
        let tape = Tape::new();
        let pred = tape.param(&weights) * WLREC[0];
        let error = (pred - tape.constant(truth.clone())).square();
        lines.push(format!(
            "Error:{} Prediction:{}",
            list_repr(&values(&error.value())),
            list_repr(&values(&pred.value()))
        ));
        let grads = tape.backward(error.sum() * 0.5);
        descend(&mut weights, &grads, alpha);
        if iteration == 0 {
            first_step = format!(
                "after 1 iteration (book's single step) Weights:{}",
                list_repr(&values(weights.value()))
            );
        }
    }
    (first_step, lines)
}

/// A matrix as a Python nested list, as numpy's `tolist()` prints it.
fn nested_list_repr(m: &Tensor<f64>) -> String {
    let cols = m.shape()[1];
    let rows: Vec<String> = values(m).chunks(cols).map(list_repr).collect();
    format!("[{}]", rows.join(", "))
}

/// Section 4: three inputs, three outputs, alpha 0.01. Returns the last iteration's errors and
/// the weights after the first step.
fn multi_in_multi_out(seed_transposed_update: bool, iterations: usize) -> (Vec<f64>, Tensor<f64>) {
    let alpha = 0.01;
    let input = tensor(&[3], vec![TOES[0], WLREC[0], NFANS[0]]);
    let truth = tensor(&[3], vec![HURT[0], WIN[0], SAD[0]]);
    let mut weights = Param::new(
        "weights",
        tensor(&[3, 3], vec![0.1, 0.1, -0.3, 0.1, 0.2, 0.0, 0.0, 1.3, 0.1]),
    );
    let mut error = Vec::new();
    let mut first_weights = None;
    for _ in 0..iterations {
        let tape = Tape::new();
        // pred[i] = input . weights[i]
        let pred = tape.param(&weights).matmul(tape.constant(input.clone()));
        let squared = (pred - tape.constant(truth.clone())).square();
        error = values(&squared.value());
        let grads = tape.backward(squared.sum() * 0.5);
        if seed_transposed_update {
            // outer(input, delta) is the gradient outer(delta, input) transposed: not the
            // direction of steepest descent, so it is applied by hand.
            let weight_deltas = grads.param(&weights).expect("trainable").t().to_owned();
            weights
                .value_mut()
                .zip_mut_with(&weight_deltas, |w, &d| *w -= d * alpha);
        } else {
            descend(&mut weights, &grads, alpha);
        }
        first_weights.get_or_insert_with(|| weights.value().to_owned().into_shared());
    }
    (error, first_weights.expect("at least one iteration"))
}

/// Every printed line, in order.
pub fn run() -> Vec<String> {
    let mut out = vec!["== (1) multi-input GD, alpha=0.01 ==".to_string()];
    let l1 = multi_input(0.01, false);
    out.extend(l1.iter().cloned());
    out.push("== (2) freeze weight[0], alpha=0.3 ==".into());
    let l2 = multi_input(0.3, true);
    out.extend(l2.iter().cloned());
    out.push("== (3) single input, multiple outputs, 20 iterations ==".into());
    let (first_step, l3) = multi_output();
    out.push(first_step);
    out.extend(l3.iter().cloned());
    out.push("== (4) multi-in multi-out ==".into());
    let (_, book_first_weights) = multi_in_multi_out(false, 1);
    out.push(format!(
        "book, 1 step, weights: {}",
        nested_list_repr(&book_first_weights)
    ));
    let (e_book, _) = multi_in_multi_out(false, 2000);
    out.push(format!(
        "book update outer_prod(delta,input), 2000 iters, Error: {}",
        list_repr(&e_book)
    ));
    let (e_seed, _) = multi_in_multi_out(true, 2000);
    out.push(format!(
        "seed update outer_prod(input,delta), 2000 iters, Error: {}",
        list_repr(&e_seed)
    ));
    let without_delta = |line: &str| line.split(" Delta").next().unwrap_or(line).to_string();
    out.push(format!(
        "RESULT ch5_multi_input_iter3: {}",
        without_delta(&l1[l1.len() - 1])
    ));
    out.push(format!(
        "RESULT ch5_freeze_iter3: {}",
        without_delta(&l2[l2.len() - 1])
    ));
    out.push(format!(
        "RESULT ch5_multi_output_iter20: {}",
        l3[l3.len() - 1]
    ));
    out.push(format!(
        "RESULT ch5_mimo_seed_bug_plateau: {}",
        list_repr(&e_seed)
    ));
    out.push(format!("RESULT ch5_mimo_book_2000: {}", list_repr(&e_book)));
    out
}

fn main() {
    for line in run() {
        println!("{line}");
    }
}
