//! Small helpers shared by the Grokking examples.

// Each example uses only some of these.
#![allow(dead_code)]

pub mod background;
pub mod mnist;

use tapegrad::autograd::{Gradients, Param, Tensor};

/// The book's update `weight -= weight_delta * alpha`, with the weight delta taken from
/// backward. A frozen parameter has no gradient and is left as it is.
///
/// # Panics
/// If a trainable parameter got no gradient (it was not bound to the tape backward ran on).
pub fn descend(param: &mut Param<f64>, grads: &Gradients<f64>, alpha: f64) {
    if !param.is_trainable() {
        return;
    }
    let weight_delta = grads
        .param(param)
        .unwrap_or_else(|| panic!("'{}' got no gradient", param.name()));
    param
        .value_mut()
        .zip_mut_with(weight_delta, |w, &d| *w -= d * alpha);
}

/// A tensor's elements in row-major order, for printing.
pub fn values(t: &Tensor<f64>) -> Vec<f64> {
    t.iter().copied().collect()
}
