//! *Grokking Deep Learning*, chapter 4: hot/cold learning and gradient descent.
//!
//! * Hot/cold learning nudges the weight up or down by a fixed step, whichever lowers the
//!   error (1101 iterations). It runs in the book's form (`down_error < up_error`) and in the
//!   study notes' form (`down_error < error`); both end on the same line.
//! * Gradient descent moves the weight by `(pred - goal) * input`, which is the derivative of
//!   half the squared error: here it comes from `tape.backward(error * 0.5)`.
//! * With input 2 the same update overshoots and diverges; `alpha = 0.1` tames it.
//!
//! ```sh
//! cargo run --release --example grokking_ch04_gradient_descent
//! ```

mod common;

use common::descend;
use tapegrad::autograd::{scalar, Param, Tape};
use tapegrad::books::pyfmt::float_repr;

fn error_line(error: f64, prediction: f64) -> String {
    format!(
        "Error:{} Prediction:{}",
        float_repr(error),
        float_repr(prediction)
    )
}

/// Hot/cold learning; returns the last iteration's line.
fn hot_cold(book_form: bool) -> String {
    let (mut weight, input, goal_prediction, step_amount) = (0.5, 0.5, 0.8, 0.001);
    let mut last = String::new();
    for _ in 0..1101 {
        // No gradient is needed: only predictions for three candidate weights.
        let tape = Tape::<f64>::inference();
        let input = tape.constant(scalar(input));
        let prediction = input * weight;
        let error = (prediction - goal_prediction).square().item();
        last = error_line(error, prediction.item());
        let up_prediction = input * (weight + step_amount);
        let up_error = (goal_prediction - up_prediction).square().item();
        let down_prediction = input * (weight - step_amount);
        let down_error = (goal_prediction - down_prediction).square().item();
        if book_form {
            if down_error < up_error {
                weight -= step_amount;
            }
            if down_error > up_error {
                weight += step_amount;
            }
        } else {
            if down_error < error {
                weight -= step_amount;
            }
            if up_error < error {
                weight += step_amount;
            }
        }
    }
    last
}

/// Gradient descent on one weight from 0.5 towards the goal 0.8; one line per iteration.
fn gradient_descent(input: f64, alpha: f64, iterations: usize) -> Vec<String> {
    let goal_pred = 0.8;
    let mut weight = Param::new("weight", scalar(0.5));
    let mut lines = Vec::new();
    for _ in 0..iterations {
        let tape = Tape::new();
        let pred = tape.constant(scalar(input)) * tape.param(&weight);
        let error = (pred - goal_pred).square();
        lines.push(error_line(error.item(), pred.item()));
        // d(error / 2)/d(weight) = (pred - goal_pred) * input: the book's direction_and_amount.
        let grads = tape.backward(error * 0.5);
        descend(&mut weight, &grads, alpha);
    }
    lines
}

/// Every printed line, in order.
pub fn run() -> Vec<String> {
    let mut out = vec!["== hot/cold, 1101 iterations (last line) ==".to_string()];
    out.push(format!("seed form: {}", hot_cold(false)));
    out.push(format!("book form: {}", hot_cold(true)));
    out.push("== gradient descent input=0.5 (no alpha), 20 iterations ==".into());
    let gd = gradient_descent(0.5, 1.0, 20);
    out.extend(gd.iter().cloned());
    out.push("== breaking GD: input=2 (no alpha), 20 iterations ==".into());
    let diverge = gradient_descent(2.0, 1.0, 20);
    out.extend(diverge.iter().cloned());
    out.push("== input=2, alpha=0.1, 20 iterations ==".into());
    let tamed = gradient_descent(2.0, 0.1, 20);
    out.extend(tamed.iter().cloned());
    out.push(format!("RESULT hotcold_last: {}", hot_cold(false)));
    out.push(format!("RESULT gd_input0.5_last: {}", gd[gd.len() - 1]));
    out.push(format!(
        "RESULT diverge_input2_last: {}",
        diverge[diverge.len() - 1]
    ));
    out.push(format!("RESULT alpha0.1_last: {}", tamed[tamed.len() - 1]));
    out
}

fn main() {
    for line in run() {
        println!("{line}");
    }
}
