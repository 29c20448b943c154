//! Comparing tapegrad's values and gradients with JAX's, and describing a program that
//! disagrees.

use std::fmt::Write;

use ndarray::Dimension;
use serde_json::Value;
use tapegrad::autograd::Tensor;

use crate::jax::{objective, tensor_from};
use crate::program::{Node, Outcome, Program};

/// Relative tolerance: both sides compute in f64, with other summation orders and other
/// formulas for the same function, which differ by a few units in the last place (about
/// 1e-15 relative), far below it; a wrong op differs by far more.
pub const RTOL: f64 = 1e-6;

/// Absolute tolerance, as a fraction of the largest magnitude in the tensor (or 1, if that is
/// smaller). It covers the elements that are tiny only because of cancellation or saturation,
/// where both sides are right to within rounding of the magnitudes involved and nowhere near
/// relatively: a sum of terms that cancel, the derivative `1 - tanh(x)^2` at large `x`, a
/// softmax gradient of nearly equal values. A wrong op is off by far more than 1e-9 of the
/// tensor's scale.
pub const ATOL: f64 = 1e-9;

/// Whether `ours` is within the tolerances of `theirs`, for a tensor whose largest
/// magnitude is `scale`. NaN is never close.
fn close(ours: f64, theirs: f64, scale: f64) -> bool {
    (ours - theirs).abs() <= RTOL * theirs.abs() + ATOL * scale.max(1.0)
}

/// Where `ours` first differs from `theirs`, if it does.
pub fn first_difference(ours: &Tensor<f64>, theirs: &Tensor<f64>) -> Option<String> {
    if ours.shape() != theirs.shape() {
        return Some(format!(
            "shape: tapegrad {:?}, JAX {:?}",
            ours.shape(),
            theirs.shape()
        ));
    }
    let scale = theirs.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    ours.indexed_iter()
        .zip(theirs.iter())
        .find(|((_, &a), &b)| !close(a, b, scale))
        .map(|((idx, &a), &b)| {
            format!(
                "at {:?}: tapegrad {a:e}, JAX {b:e} (difference {:.1e}, allowed {:.1e})",
                idx.slice(),
                (a - b).abs(),
                RTOL * b.abs() + ATOL * scale
            )
        })
}

/// Every disagreement between tapegrad's outcome and JAX's result for one program.
pub fn compare(program: &Program, ours: &Outcome, jax: &Value) -> Vec<String> {
    if let Some(e) = jax.get("error") {
        return vec![format!(
            "JAX could not evaluate it:\n{}",
            e.as_str().unwrap_or("")
        )];
    }
    let mut out = Vec::new();
    for (i, node) in program.nodes.iter().enumerate() {
        if let Node::Op { op, .. } = node {
            let theirs = tensor_from(&jax["values"][i]);
            if let Some(d) = first_difference(&ours.values[i], &theirs) {
                out.push(format!("value of %{i} ({}) {d}", op.name()));
            }
        }
    }
    let theirs = objective(jax);
    if !close(ours.objective, theirs, theirs.abs()) {
        out.push(format!(
            "objective: tapegrad {:e}, JAX {theirs:e}",
            ours.objective
        ));
    }
    for (i, grad) in ours.grads.iter().enumerate() {
        if let Some(g) = grad {
            let theirs = tensor_from(&jax["grads"][i]);
            if let Some(d) = first_difference(g, &theirs) {
                out.push(format!(
                    "gradient of the objective with respect to %{i} {d}"
                ));
            }
        }
    }
    out
}

/// The program as text, one node a line, for failure messages.
pub fn listing(program: &Program, ours: &Outcome) -> String {
    let mut s = String::new();
    for (i, node) in program.nodes.iter().enumerate() {
        let shape = ours.values[i].shape().to_vec();
        match node {
            Node::Leaf {
                value,
                requires_grad,
            } => {
                let kind = if *requires_grad { "var" } else { "constant" };
                let shown: Vec<f64> = value.iter().take(8).copied().collect();
                let more = if value.len() > 8 { ", ..." } else { "" };
                let _ = writeln!(s, "  %{i} = {kind} {shape:?} {shown:?}{more}");
            }
            Node::Op { op, args } => {
                let args: Vec<String> = args.iter().map(|a| format!("%{a}")).collect();
                let _ = writeln!(
                    s,
                    "  %{i} = {}({}) -> {shape:?}",
                    op.describe(),
                    args.join(", ")
                );
            }
        }
    }
    let sinks: Vec<String> = program
        .objective
        .iter()
        .map(|(i, _)| format!("%{i}"))
        .collect();
    let _ = writeln!(s, "  objective = weighted sums of {}", sinks.join(", "));
    s
}
