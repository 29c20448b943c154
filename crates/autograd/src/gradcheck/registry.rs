//! The registry of built-in ops and their gradcheck cases.
//!
//! Every [`OpKind`] has cases: sample inputs (several shapes, broadcasting, batch dimensions,
//! values kept away from kinks such as relu at 0 and ties of max) and a closure applying the
//! op. [`all_cases`] lists them all; the test suite gradchecks every one in f64.

use super::{gradcheck, GradcheckError, GradcheckOptions, GradcheckReport};
use crate::ops::OpKind;
use crate::random::SplitMix64;
use crate::tensor::tensor;
use crate::{Tensor, Var};

/// The function a case applies to its input variables.
pub type CaseFn = dyn for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>;

/// One gradcheck case: inputs and the function of them to check.
pub struct Case {
    /// What the case exercises, e.g. `"add [2, 3] + [3] (broadcast)"`.
    pub label: String,
    /// The input values, in f64.
    pub inputs: Vec<Tensor<f64>>,
    /// Tolerances, where the op needs other than the defaults.
    pub options: GradcheckOptions,
    build: Box<CaseFn>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shapes: Vec<_> = self.inputs.iter().map(|t| t.shape().to_vec()).collect();
        f.debug_struct("Case")
            .field("label", &self.label)
            .field("input_shapes", &shapes)
            .finish()
    }
}

impl Case {
    /// A case applying `build` to variables holding `inputs`.
    pub fn new(
        label: impl Into<String>,
        inputs: Vec<Tensor<f64>>,
        build: impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + 'static,
    ) -> Self {
        Case {
            label: label.into(),
            inputs,
            options: GradcheckOptions::default(),
            build: Box::new(build),
        }
    }

    /// The same case with other tolerances.
    pub fn with_options(mut self, options: GradcheckOptions) -> Self {
        self.options = options;
        self
    }

    /// Applies the case's function to `vars`.
    pub fn apply<'t>(&self, vars: &[Var<'t, f64>]) -> Var<'t, f64> {
        (self.build)(vars)
    }

    /// Gradchecks the case.
    pub fn check(&self) -> Result<GradcheckReport, GradcheckError> {
        gradcheck(|v| self.apply(v), &self.inputs, &self.options)
    }
}

/// Every case of every built-in op, with the op it belongs to.
pub fn all_cases() -> Vec<(OpKind, Case)> {
    OpKind::all()
        .into_iter()
        .flat_map(|k| k.gradcheck_cases().into_iter().map(move |c| (k, c)))
        .collect()
}

/// Deterministic sample values for gradcheck cases.
///
/// Values are drawn from `±[lo, hi]` with random signs; keeping `lo` above zero keeps inputs
/// away from the kinks at 0 (relu, abs, leaky relu) and from division by zero.
pub fn sample(shape: &[usize], seed: u64) -> Tensor<f64> {
    sample_in(shape, seed, 0.2, 1.0, true)
}

/// Positive sample values in `[lo, hi]`, for ln, sqrt, pow with a real exponent, divisors.
pub fn positive(shape: &[usize], seed: u64) -> Tensor<f64> {
    sample_in(shape, seed, 0.5, 2.0, false)
}

/// Sample values in `±[lo, hi]` (random signs when `signed`).
pub fn sample_in(shape: &[usize], seed: u64, lo: f64, hi: f64, signed: bool) -> Tensor<f64> {
    let mut rng = SplitMix64::new(seed);
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let mag = lo + (hi - lo) * rng.next_f64();
            if signed && rng.next_u64() & 1 == 1 {
                -mag
            } else {
                mag
            }
        })
        .collect();
    tensor(shape, data)
}

/// Sample values that are pairwise at least `0.5 / n` apart (a shuffled ramp with jitter), so
/// that a max, min or sort has no ties and finite differences never cross a kink.
pub fn distinct(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let span = n.max(1) as f64;
    let data = order
        .into_iter()
        .map(|r| -1.0 + 2.0 * (r as f64 + 0.25 + 0.5 * rng.next_f64()) / span)
        .collect();
    tensor(shape, data)
}
