//! Second-order and forward-mode gradient checks.
//!
//! * [`gradgradcheck`] (PyTorch's name): the gradient of `f`, taken as a variable with
//!   [`Tape::grad_with`] for a fixed random seed `u`, is itself a function of the inputs and
//!   of `u`; [`gradcheck`] compares its derivatives (the ops' second derivatives and the
//!   linearity in `u`) with finite differences of it.
//! * [`jvpcheck`]: the Jacobian-vector product `J v` of forward mode against the finite
//!   difference `(f(x + eps v) - f(x - eps v)) / 2 eps`, and `uᵀ (J v)` against `(uᵀ J) v`
//!   from an ordinary backward pass.

use super::{gradcheck, relative_difference, GradcheckError, GradcheckOptions, GradcheckReport};
use crate::random::SplitMix64;
use crate::tensor::tensor;
use crate::{Tape, Tensor, Var};

/// Random values in `[-1, 1)` shaped `shape`.
fn random_like(shape: &[usize], rng: &mut SplitMix64) -> Tensor<f64> {
    let n = shape.iter().product();
    tensor(shape, (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect())
}

/// The gradients of `f` at `xs` for the seed `u`, flattened and joined into one vector.
fn seeded_gradient<'t, F>(f: &F, xs: &[Var<'t, f64>], u: Var<'t, f64>) -> Var<'t, f64>
where
    F: for<'s> Fn(&[Var<'s, f64>]) -> Var<'s, f64>,
{
    let tape = u.tape();
    let grads = tape.grad_with(f(xs), u, xs);
    let flat: Vec<Var<'t, f64>> = grads.iter().map(|g| g.reshape(&[g.len()])).collect();
    Var::concat(&flat, 0)
}

/// Checks the second derivatives of `f` at `inputs`: the gradient of `f` seeded with a random
/// `u` (shaped like the output), recorded with [`Tape::grad_with`], is gradchecked as a
/// function of the inputs and of `u`.
///
/// ```
/// use tapegrad_autograd::gradcheck::{gradgradcheck, GradcheckOptions};
/// use tapegrad_autograd::tensor;
///
/// let x = tensor(&[3], vec![0.5, -1.0, 2.0]);
/// let report = gradgradcheck(|v| (v[0] * v[0] * v[0]).sum(), &[x], &GradcheckOptions::default())
///     .expect("x^3 has a correct second derivative");
/// assert!(report.relative_difference < 1e-7);
/// ```
///
/// # Errors
/// A [`GradcheckError::Backward`] if an op has no
/// [`backward_vars`](crate::Op::backward_vars), or the first mismatch.
pub fn gradgradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let mut rng = SplitMix64::new(options.seed ^ 0x6767_7261_6467);
    let u = {
        let tape = Tape::<f64>::new();
        let xs: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
        let y = f(&xs);
        let u = random_like(&y.shape(), &mut rng);
        // The gradient as variables must be the gradient: the check below only says that it
        // is differentiated correctly.
        let as_vars = tape.try_grad_with(y, tape.constant(u.clone()), &xs)?;
        let as_tensors = tape.backward_with(y, u.clone());
        for (i, (v, x)) in as_vars.iter().zip(&xs).enumerate() {
            let a: Vec<f64> = v.value().iter().copied().collect();
            let b: Vec<f64> = match as_tensors.get(*x) {
                Some(g) => g.iter().copied().collect(),
                None => vec![0.0; a.len()],
            };
            if let Some(k) = (0..a.len())
                .find(|&k| (a[k] - b[k]).abs() > options.atol + options.rtol * b[k].abs())
            {
                return Err(GradcheckError::Mismatch {
                    input: i,
                    shape: x.shape(),
                    location: format!(
                        "element {k} of the gradient from backward_vars against backward"
                    ),
                    analytic: a[k],
                    numerical: b[k],
                    atol: options.atol,
                    rtol: options.rtol,
                    relative_difference: relative_difference(&a, &b),
                });
            }
        }
        u
    };
    let mut all = inputs.to_vec();
    all.push(u);
    let n = inputs.len();
    gradcheck(|v| seeded_gradient(&f, &v[..n], v[n]), &all, options)
}

/// The result of [`jvpcheck`]: the largest disagreements found.
#[derive(Clone, Debug, PartialEq)]
pub struct JvpReport {
    /// `||Jv - fd|| / (||Jv|| + ||fd||)` for the finite difference `fd` along `v`.
    pub finite_difference: f64,
    /// `|uᵀ(Jv) - (uᵀJ)v| / (|uᵀ(Jv)| + |(uᵀJ)v|)`: forward mode against reverse mode.
    pub reverse_mode: f64,
}

/// Checks forward mode at `inputs`: for a random tangent `v` (one per input), `J v` computed
/// by [`Tape::grad_with`] the forward-mode way (see [`crate::functional::jvp`]) must equal the
/// central finite difference of `f` along `v`, and `uᵀ(J v)` must equal `(uᵀ J) v` from a
/// backward pass, for a random `u`.
///
/// ```
/// use tapegrad_autograd::gradcheck::{jvpcheck, GradcheckOptions};
/// use tapegrad_autograd::tensor;
///
/// let x = tensor(&[2, 2], vec![0.5, -1.0, 2.0, 0.25]);
/// jvpcheck(|v| v[0].tanh().matmul(v[0]), &[x], &GradcheckOptions::default())
///     .expect("tanh and matmul have correct forward modes");
/// ```
///
/// # Errors
/// A [`GradcheckError::Backward`] if an op has no `backward_vars`, or a
/// [`GradcheckError::Mismatch`] naming the output element that disagrees.
pub fn jvpcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<JvpReport, GradcheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let mut rng = SplitMix64::new(options.seed ^ 0x006a_7670);
    let tangents: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|x| random_like(x.shape(), &mut rng))
        .collect();
    let tape = Tape::<f64>::new();
    let xs: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let y = f(&xs);
    let out_shape = y.shape();
    let u_dummy = tape.var(crate::zeros(&out_shape));
    let ut_j = tape.try_grad_with(y, u_dummy, &xs)?;
    let along_v = ut_j
        .iter()
        .zip(&tangents)
        .map(|(g, v)| (*g * tape.constant(v.clone())).sum())
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| tape.constant(crate::scalar(0.0)));
    let jv = tape.try_grad(along_v, &[u_dummy])?[0].value();

    // Forward mode against the finite difference along v.
    let shifted = |sign: f64| -> Tensor<f64> {
        let t = Tape::<f64>::new();
        let vs: Vec<Var<'_, f64>> = inputs
            .iter()
            .zip(&tangents)
            .map(|(x, v)| t.var((x + &(v * (sign * options.eps))).into_shared()))
            .collect();
        f(&vs).value()
    };
    let (plus, minus) = (shifted(1.0), shifted(-1.0));
    let fd: Vec<f64> = plus
        .iter()
        .zip(minus.iter())
        .map(|(p, m)| (p - m) / (2.0 * options.eps))
        .collect();
    let jv_flat: Vec<f64> = jv.iter().copied().collect();
    for (k, (&a, &n)) in jv_flat.iter().zip(&fd).enumerate() {
        if (a - n).abs() > options.atol + options.rtol * n.abs() {
            return Err(GradcheckError::Mismatch {
                input: 0,
                shape: out_shape.clone(),
                location: format!("output element {k} of J v (forward mode) against the finite difference along v"),
                analytic: a,
                numerical: n,
                atol: options.atol,
                rtol: options.rtol,
                relative_difference: relative_difference(&jv_flat, &fd),
            });
        }
    }

    // Forward mode against reverse mode: uᵀ(Jv) = (uᵀJ)v.
    let u = random_like(&out_shape, &mut rng);
    let forward: f64 = u.iter().zip(&jv_flat).map(|(u, jv)| u * jv).sum();
    let grads = tape.backward_with(y, u);
    let reverse: f64 = xs
        .iter()
        .zip(&tangents)
        .map(|(x, v)| match grads.get(*x) {
            Some(g) => g.iter().zip(v.iter()).map(|(g, v)| g * v).sum(),
            None => 0.0,
        })
        .sum();
    let reverse_mode =
        (forward - reverse).abs() / (forward.abs() + reverse.abs()).max(f64::MIN_POSITIVE);
    if (forward - reverse).abs() > options.atol + options.rtol * reverse.abs() {
        return Err(GradcheckError::Mismatch {
            input: 0,
            shape: out_shape,
            location: "uᵀ(J v) from forward mode against (uᵀ J) v from reverse mode".into(),
            analytic: forward,
            numerical: reverse,
            atol: options.atol,
            rtol: options.rtol,
            relative_difference: reverse_mode,
        });
    }
    Ok(JvpReport {
        finite_difference: relative_difference(&jv_flat, &fd),
        reverse_mode,
    })
}
