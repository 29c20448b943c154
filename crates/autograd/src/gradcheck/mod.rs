//! Gradient checking: compares the tape's gradients with central finite differences.
//!
//! For a function `f` of some input tensors, [`gradcheck`] computes the Jacobian two ways, in
//! f64: analytically, by backward passes on the tape, and numerically, by
//! `(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)` for each input element `i`. The two must agree
//! element by element within `atol + rtol * |numerical|`.
//!
//! Small problems compare the full Jacobian. When the output is large, each backward pass is
//! seeded with a fixed random vector `v` instead of each unit vector, comparing `v^T J` (one
//! entry per input element); when an input is large too, random directions `u` are compared
//! (`v^T J u`), which catches a wrong gradient with probability one.
//!
//! The report also gives the relative difference `||g - g_num|| / (||g|| + ||g_num||)` that
//! Andrew Ng's course teaches (below 1e-7 is good; above 1e-3 there is a bug).
//!
//! ```
//! use tapegrad_autograd::gradcheck::{gradcheck, GradcheckOptions};
//! use tapegrad_autograd::tensor;
//!
//! let x = tensor(&[3], vec![0.5, -1.0, 2.0]);
//! let report = gradcheck(|v| (v[0] * v[0] * v[0]).sum(), &[x], &GradcheckOptions::default())
//!     .expect("x^3 has a correct gradient");
//! assert!(report.relative_difference < 1e-7);
//! ```

mod higher;
pub mod nodes;
pub mod registry;
mod second_order;

pub use higher::{gradgradcheck, jvpcheck, JvpReport};
pub use second_order::{check_model_second_order, check_tape_second_order};

pub use nodes::{
    check_model, check_tape, NodeCheck, NodeCheckOptions, NodeMismatch, TapeCheckError,
    TapeCheckReport,
};

use std::fmt;

use thiserror::Error;

use crate::random::SplitMix64;
use crate::tensor::tensor;
use crate::{OpError, Tape, Tensor, Var};

/// Step size and tolerances of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step (default 1e-6).
    pub eps: f64,
    /// Absolute tolerance (default 1e-5).
    pub atol: f64,
    /// Relative tolerance, times the numerical value (default 1e-3).
    pub rtol: f64,
    /// Compare the full Jacobian while `outputs * inputs` is at most this (default 4096).
    pub full_jacobian_max: usize,
    /// Past this many elements an input is checked along random directions instead of element
    /// by element (default 2048).
    pub elementwise_max: usize,
    /// How many random directions per large input (default 4).
    pub directions: usize,
    /// Seed of the random seeds and directions (default 0).
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            full_jacobian_max: 4096,
            elementwise_max: 2048,
            directions: 4,
            seed: 0,
        }
    }
}

impl GradcheckOptions {
    /// Defaults with other tolerances.
    pub fn tolerances(atol: f64, rtol: f64) -> Self {
        GradcheckOptions {
            atol,
            rtol,
            ..Self::default()
        }
    }
}

/// How the Jacobian of one input was compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Every (output, input) element pair.
    Full,
    /// `v^T J` for a random output vector `v`, per input element.
    VectorJacobian,
    /// `v^T J u` for random `v` and several random input directions `u`.
    Directions,
}

/// The comparison for one input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputReport {
    /// The input's position in the argument list.
    pub input: usize,
    /// Its shape.
    pub shape: Vec<usize>,
    /// How its Jacobian was compared.
    pub mode: CheckMode,
    /// How many numbers were compared.
    pub compared: usize,
    /// The largest `|analytic - numerical|`.
    pub max_abs_error: f64,
    /// `||g - g_num|| / (||g|| + ||g_num||)` over this input's compared numbers.
    pub relative_difference: f64,
}

/// The result of a gradient check that passed: how closely each input agreed.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// One entry per input.
    pub inputs: Vec<InputReport>,
    /// `||g - g_num|| / (||g|| + ||g_num||)` over everything compared.
    pub relative_difference: f64,
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<6} {:<16} {:<15} {:>9} {:>12} {:>12}",
            "input", "shape", "mode", "compared", "max |err|", "rel. diff"
        )?;
        for r in &self.inputs {
            writeln!(
                f,
                "{:<6} {:<16} {:<15} {:>9} {:>12.3e} {:>12.3e}",
                r.input,
                format!("{:?}", r.shape),
                format!("{:?}", r.mode),
                r.compared,
                r.max_abs_error,
                r.relative_difference
            )?;
        }
        write!(f, "relative difference: {:.3e}", self.relative_difference)
    }
}

/// Why a gradient check failed.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum GradcheckError {
    /// An analytic derivative disagrees with the numerical one.
    #[error(
        "gradient mismatch for input {input} (shape {shape:?}) at {location}: analytic \
         {analytic:.10e}, numerical {numerical:.10e} (|diff| {diff:.3e} > atol {atol:e} + rtol \
         {rtol:e} * |numerical|); relative difference over the input {relative_difference:.3e}",
        diff = (analytic - numerical).abs()
    )]
    Mismatch {
        /// Which input.
        input: usize,
        /// Its shape.
        shape: Vec<usize>,
        /// Where in the Jacobian, in words (element index, output element or direction).
        location: String,
        /// The tape's value.
        analytic: f64,
        /// The finite-difference value.
        numerical: f64,
        /// The absolute tolerance used.
        atol: f64,
        /// The relative tolerance used.
        rtol: f64,
        /// `||g - g_num|| / (||g|| + ||g_num||)` over the whole input.
        relative_difference: f64,
    },
    /// The function produced NaN or infinity at the given input.
    #[error("the function's {what} is not finite ({value}); gradcheck needs finite values")]
    NonFinite {
        /// Which value: "output" or "analytic gradient of input k".
        what: String,
        /// The offending value.
        value: f64,
    },
    /// The function's output does not depend on any input, or has no elements.
    #[error("the output has no elements to check")]
    EmptyOutput,
    /// An op in the function rejected its inputs.
    #[error(transparent)]
    Op(#[from] OpError),
    /// A gradient could not be taken as a variable (an op without
    /// [`backward_vars`](crate::Op::backward_vars)), for a second-order or forward-mode check.
    #[error(transparent)]
    Backward(#[from] crate::BackwardError),
}

/// Checks the gradients of `f` at `inputs` against central finite differences.
///
/// `f` receives one variable per input (all requiring gradients) and returns the output, of
/// any shape. Returns a report of how closely every input agreed, or the first mismatch.
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    // The analytic side: the output and, per seed, one backward pass.
    let tape = Tape::<f64>::new();
    let vars: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let out = f(&vars);
    let out_value = out.value();
    let out_shape = out_value.shape().to_vec();
    let n_out = out_value.len();
    if n_out == 0 {
        return Err(GradcheckError::EmptyOutput);
    }
    if let Some(&bad) = out_value.iter().find(|x| !x.is_finite()) {
        return Err(GradcheckError::NonFinite {
            what: "output".into(),
            value: bad,
        });
    }
    let n_in: usize = inputs.iter().map(|x| x.len()).sum();
    let full = n_out * n_in <= options.full_jacobian_max;
    let mut rng = SplitMix64::new(options.seed ^ 0x6772_6164);
    // Seeds for backward: every unit vector of the output, or one random vector.
    let seeds: Vec<Tensor<f64>> = if full {
        (0..n_out)
            .map(|j| {
                let mut e = vec![0.0; n_out];
                e[j] = 1.0;
                tensor(&out_shape, e)
            })
            .collect()
    } else {
        let v = (0..n_out).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        vec![tensor(&out_shape, v)]
    };
    let analytic: Vec<Vec<Vec<f64>>> = seeds
        .iter()
        .map(|seed| {
            let grads = tape.backward_with(out, seed.clone());
            vars.iter()
                .zip(inputs)
                .map(|(v, x)| match grads.get(*v) {
                    Some(g) => g.iter().copied().collect(),
                    None => vec![0.0; x.len()],
                })
                .collect()
        })
        .collect();
    for (k, g) in analytic.iter().flatten().enumerate() {
        if let Some(&bad) = g.iter().find(|x| !x.is_finite()) {
            return Err(GradcheckError::NonFinite {
                what: format!("analytic gradient of input {}", k % inputs.len()),
                value: bad,
            });
        }
    }

    // The numerical side: each seed's projection of the output, at perturbed inputs.
    let eval = |perturbed: &[Tensor<f64>]| -> Result<Tensor<f64>, GradcheckError> {
        // A recording tape, so that a function that differentiates inside (a gradient of a
        // gradient, as gradgradcheck checks) computes the same thing here as analytically.
        let t = Tape::<f64>::new();
        let vs: Vec<Var<'_, f64>> = perturbed.iter().map(|x| t.var(x.clone())).collect();
        Ok(f(&vs).value())
    };
    let project = |y: &Tensor<f64>, seed: &Tensor<f64>| -> f64 {
        y.iter().zip(seed.iter()).map(|(a, b)| a * b).sum()
    };
    let eps = options.eps;
    let mut reports = Vec::with_capacity(inputs.len());
    let (mut all_diff, mut all_a, mut all_n) = (0.0, 0.0, 0.0);
    for (i, x) in inputs.iter().enumerate() {
        let mut pairs: Vec<(String, f64, f64)> = Vec::new();
        let mode = if full {
            CheckMode::Full
        } else if x.len() <= options.elementwise_max {
            CheckMode::VectorJacobian
        } else {
            CheckMode::Directions
        };
        let at = |delta: &Tensor<f64>, sign: f64| -> Result<Tensor<f64>, GradcheckError> {
            let mut args: Vec<Tensor<f64>> = inputs.to_vec();
            let shifted = &args[i] + &(delta * (sign * eps));
            args[i] = shifted.into_shared();
            eval(&args)
        };
        if mode == CheckMode::Directions {
            for d in 0..options.directions {
                let u: Vec<f64> = (0..x.len()).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
                let u = tensor(x.shape(), u);
                let (plus, minus) = (at(&u, 1.0)?, at(&u, -1.0)?);
                let numerical =
                    (project(&plus, &seeds[0]) - project(&minus, &seeds[0])) / (2.0 * eps);
                let a: f64 = analytic[0][i]
                    .iter()
                    .zip(u.iter())
                    .map(|(g, u)| g * u)
                    .sum();
                pairs.push((format!("random direction {d}"), a, numerical));
            }
        } else {
            for e in 0..x.len() {
                let mut unit = vec![0.0; x.len()];
                unit[e] = 1.0;
                let unit = tensor(x.shape(), unit);
                let (plus, minus) = (at(&unit, 1.0)?, at(&unit, -1.0)?);
                let index = multi_index(e, x.shape());
                for (s, seed) in seeds.iter().enumerate() {
                    let numerical = (project(&plus, seed) - project(&minus, seed)) / (2.0 * eps);
                    let a = analytic[s][i][e];
                    let location = if full {
                        format!(
                            "element {index:?}, output element {:?}",
                            multi_index(s, &out_shape)
                        )
                    } else {
                        format!("element {index:?} (random output projection)")
                    };
                    pairs.push((location, a, numerical));
                }
            }
        }
        let (mut diff, mut na, mut nn, mut max_abs) = (0.0, 0.0, 0.0, 0.0f64);
        for (_, a, n) in &pairs {
            diff += (a - n) * (a - n);
            na += a * a;
            nn += n * n;
            max_abs = max_abs.max((a - n).abs());
        }
        let rel = relative(diff, na, nn);
        if let Some((location, a, n)) = pairs
            .iter()
            .find(|(_, a, n)| (a - n).abs() > options.atol + options.rtol * n.abs())
        {
            return Err(GradcheckError::Mismatch {
                input: i,
                shape: x.shape().to_vec(),
                location: location.clone(),
                analytic: *a,
                numerical: *n,
                atol: options.atol,
                rtol: options.rtol,
                relative_difference: rel,
            });
        }
        all_diff += diff;
        all_a += na;
        all_n += nn;
        reports.push(InputReport {
            input: i,
            shape: x.shape().to_vec(),
            mode,
            compared: pairs.len(),
            max_abs_error: max_abs,
            relative_difference: rel,
        });
    }
    Ok(GradcheckReport {
        inputs: reports,
        relative_difference: relative(all_diff, all_a, all_n),
    })
}

/// `||g - n|| / (||g|| + ||n||)` from the squared norms; 0 when both are zero.
fn relative(diff2: f64, a2: f64, n2: f64) -> f64 {
    let denom = a2.sqrt() + n2.sqrt();
    if denom == 0.0 {
        0.0
    } else {
        diff2.sqrt() / denom
    }
}

/// The course's relative difference between two gradient vectors:
/// `||g - g_num|| / (||g|| + ||g_num||)`.
///
/// ```
/// use tapegrad_autograd::gradcheck::relative_difference;
/// assert_eq!(relative_difference(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
/// ```
pub fn relative_difference(analytic: &[f64], numerical: &[f64]) -> f64 {
    assert_eq!(
        analytic.len(),
        numerical.len(),
        "relative_difference: the vectors differ in length"
    );
    let mut d = 0.0;
    let mut a = 0.0;
    let mut n = 0.0;
    for (x, y) in analytic.iter().zip(numerical) {
        d += (x - y) * (x - y);
        a += x * x;
        n += y * y;
    }
    relative(d, a, n)
}

/// The multi-index of the `flat`-th element of a row-major array of `shape`.
pub(crate) fn multi_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[d] = flat % n;
            flat /= n;
        }
    }
    idx
}
