//! The model-wide second-order check: every recorded op's [`backward_vars`](crate::Op::backward_vars)
//! against finite differences of that op's own `backward`, on the inputs it actually saw.
//!
//! [`check_model`](super::check_model) trusts nothing but each op's forward. This check builds
//! on it: once every `backward` is right, an op's gradient as variables must (a) have the same
//! value as its `backward` and (b) be differentiated correctly, for a Hessian-vector product
//! or a gradient penalty through it to be right. For node `y = op(x_1, .., x_n)`, with random
//! `u` shaped like `y` and `r_k` shaped like `x_k`, the scalar
//! `s(x, u) = sum_k r_kᵀ dx_k(x, u)` is recorded through `backward_vars` on a scratch tape and
//! differentiated by it; finite differences of the same `s` computed with the op's `backward`
//! (and forward) give the reference, for sampled elements of every input needing a gradient
//! and of `u`. The first node that disagrees is named: the op, its position, the line that
//! recorded it and its input shapes.
//!
//! ```
//! use tapegrad_autograd::gradcheck::{check_model_second_order, NodeCheckOptions};
//! use tapegrad_autograd::{tensor, Real, Tape, Var};
//!
//! fn loss<T: Real>(tape: &Tape<T>) -> Var<'_, T> {
//!     let x = tape.constant(tensor(&[4, 3], (0..12).map(|i| T::lit(i as f64 / 6.0 - 1.0)).collect()));
//!     let w = tape.var(tensor(&[3, 2], (0..6).map(|i| T::lit(0.1 * i as f64 - 0.2)).collect()));
//!     x.matmul(w).tanh().square().mean()
//! }
//!
//! let report = check_model_second_order(loss::<f64>, &NodeCheckOptions::default())
//!     .expect("every op's gradient is differentiated correctly");
//! assert_eq!(report.nodes.len(), 4);
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use ndarray::{ArrayD, IxDyn};

use super::multi_index;
use super::nodes::{
    node_inputs, pick_elements, NodeCheck, NodeMismatch, TapeCheckError, TapeCheckReport,
};
use super::NodeCheckOptions;
use crate::kernels::broadcast::sum_to_shape;
use crate::random::SplitMix64;
use crate::tape::NodeKind;
use crate::tensor::tensor;
use crate::{BackwardContext, BackwardError, Op, OpError, Tape, Tensor, Var, VarContext};

/// An op of the checked tape, lent to the scratch tape and given back afterwards.
struct Lent {
    name: String,
    op: Rc<RefCell<Box<dyn Op<f64>>>>,
}

impl Op<f64> for Lent {
    fn name(&self) -> &str {
        &self.name
    }
    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        self.op.borrow_mut().forward(inputs)
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        self.op.borrow().backward(ctx)
    }
    fn backward_vars<'t>(
        &self,
        ctx: &VarContext<'_, 't, f64>,
    ) -> Option<Vec<Option<Var<'t, f64>>>> {
        self.op.borrow().backward_vars(ctx)
    }
}

/// Records `build` on a fresh `f64` tape and checks the second derivatives of every op on it
/// (the method: docs/higher-order.md). Run [`check_model`](super::check_model) first: this check
/// takes each op's `backward` as the truth.
pub fn check_model_second_order<F>(
    build: F,
    options: &NodeCheckOptions,
) -> Result<TapeCheckReport, TapeCheckError>
where
    F: for<'t> FnOnce(&'t Tape<f64>) -> Var<'t, f64>,
{
    let tape = Tape::<f64>::new();
    let _output = build(&tape);
    check_tape_second_order(&tape, options)
}

/// Checks the second derivatives of every op recorded on `tape` that gradients flow through
/// (the method: docs/higher-order.md). An op without `backward_vars` fails with
/// [`NodeMismatch::NotTwiceDifferentiable`].
///
/// # Panics
/// If a value of the tape is borrowed elsewhere during the check (it needs the stored ops).
pub fn check_tape_second_order(
    tape: &Tape<f64>,
    options: &NodeCheckOptions,
) -> Result<TapeCheckReport, TapeCheckError> {
    let mut nodes = tape.nodes.borrow_mut();
    let mut rng = SplitMix64::new(options.seed ^ 0x7365_636f_6e64);
    let mut checks = Vec::new();
    for i in 0..nodes.len() {
        let (before, rest) = nodes.split_at_mut(i);
        let node = &mut rest[0];
        let (inputs, needs) = node_inputs(before, node);
        let mut check = NodeCheck::unchecked(i, node, &inputs);
        let Some(op) = node.op.take() else { continue };
        let shared = Rc::new(RefCell::new(op));
        let lent = Lent {
            name: check.op.clone(),
            op: Rc::clone(&shared),
        };
        let kind = match node.kind {
            NodeKind::Builtin(k) => Some(k),
            _ => None,
        };
        let result = compare(
            lent, kind, &shared, &inputs, &needs, options, &mut rng, &mut check,
        );
        let mut op = Rc::try_unwrap(shared)
            .ok()
            .expect("the scratch tape is gone")
            .into_inner();
        // Moved inputs overwrote what the op saved for backward: recompute it.
        let refs: Vec<&Tensor<f64>> = inputs.iter().collect();
        let restored = op.forward(&refs);
        node.op = Some(op);
        check.mismatch = match (result, restored) {
            (Err(m), _) => Some(m),
            (Ok(()), Err(e)) => Some(NodeMismatch::Forward {
                message: format!("forward failed when re-run on its original inputs: {e}"),
            }),
            (Ok(()), Ok(_)) => None,
        };
        checks.push(check);
    }
    let report = TapeCheckReport {
        nodes: checks,
        order: 2,
    };
    if report.first_failure().is_some() {
        Err(TapeCheckError { report })
    } else {
        Ok(report)
    }
}

fn random_like(shape: &[usize], rng: &mut SplitMix64) -> Tensor<f64> {
    let n = shape.iter().product();
    tensor(shape, (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect())
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(a, b)| a * b).sum()
}

fn close(a: f64, n: f64, o: &NodeCheckOptions) -> bool {
    (a - n).abs() <= o.atol + o.rtol * n.abs()
}

/// `sum_k r_kᵀ dx_k` from the op's forward and tensor backward at `args` and `u`.
fn reference(
    op: &RefCell<Box<dyn Op<f64>>>,
    args: &[&Tensor<f64>],
    u: &Tensor<f64>,
    needs: &[bool],
    r: &[Option<Tensor<f64>>],
) -> Result<f64, NodeMismatch> {
    let y = op
        .borrow_mut()
        .forward(args)
        .map_err(|e| NodeMismatch::Forward {
            message: format!("forward failed on slightly moved inputs: {e}"),
        })?;
    if y.shape() != u.shape() {
        return Err(NodeMismatch::Forward {
            message: format!(
                "forward gave shape {:?} on slightly moved inputs, {:?} on the original ones",
                y.shape(),
                u.shape()
            ),
        });
    }
    let grads = op
        .borrow()
        .backward(&BackwardContext::new(args, &y, u, needs));
    let mut s = 0.0;
    for (k, (g, r)) in grads.into_iter().zip(r).enumerate() {
        let (Some(g), Some(r)) = (g, r) else { continue };
        let g = sum_to_shape(&g, r.shape()).ok_or_else(|| NodeMismatch::Shape {
            input: k,
            gradient: g.shape().to_vec(),
            expected: r.shape().to_vec(),
        })?;
        s += dot(&g, r);
    }
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
fn compare(
    lent: Lent,
    kind: Option<crate::OpKind>,
    op: &RefCell<Box<dyn Op<f64>>>,
    inputs: &[Tensor<f64>],
    needs: &[bool],
    o: &NodeCheckOptions,
    rng: &mut SplitMix64,
    check: &mut NodeCheck,
) -> Result<(), NodeMismatch> {
    let scratch = Tape::<f64>::new();
    let xs: Vec<Var<'_, f64>> = inputs
        .iter()
        .zip(needs)
        .map(|(x, &need)| {
            if need {
                scratch.var(x.clone())
            } else {
                scratch.constant(x.clone())
            }
        })
        .collect();
    let y = scratch
        .record(lent, kind, &xs)
        .map_err(|e| NodeMismatch::Forward {
            message: format!("forward failed when re-run on its original inputs: {e}"),
        })?;
    let u_value = random_like(&y.shape(), rng);
    let u = scratch.var(u_value.clone());
    let wrt: Vec<Var<'_, f64>> = xs
        .iter()
        .zip(needs)
        .filter(|p| *p.1)
        .map(|p| *p.0)
        .collect();
    let as_vars = match scratch.try_grad_with(y, u, &wrt) {
        Ok(g) => g,
        Err(BackwardError::NotTwiceDifferentiable { .. }) => {
            return Err(NodeMismatch::NotTwiceDifferentiable)
        }
        Err(e) => {
            return Err(NodeMismatch::Forward {
                message: format!("its gradient could not be recorded: {e}"),
            })
        }
    };

    // (a) The value of backward_vars is the value of backward.
    let refs: Vec<&Tensor<f64>> = inputs.iter().collect();
    let y_value = y.value();
    let tensors = op
        .borrow()
        .backward(&BackwardContext::new(&refs, &y_value, &u_value, needs));
    let mut wrt_index = 0;
    let mut r: Vec<Option<Tensor<f64>>> = vec![None; inputs.len()];
    let mut s = scratch.constant(crate::scalar(0.0));
    for (k, g) in tensors.into_iter().enumerate() {
        if !needs[k] {
            continue;
        }
        let x = &inputs[k];
        let vars = as_vars[wrt_index];
        wrt_index += 1;
        let g = match g {
            None => return Err(NodeMismatch::Missing { input: k }),
            Some(g) => sum_to_shape(&g, x.shape()).ok_or_else(|| NodeMismatch::Shape {
                input: k,
                gradient: g.shape().to_vec(),
                expected: x.shape().to_vec(),
            })?,
        };
        let a: Vec<f64> = vars.value().iter().copied().collect();
        let b: Vec<f64> = g.iter().copied().collect();
        if let Some(e) = (0..a.len()).find(|&e| !close(a[e], b[e], o)) {
            return Err(NodeMismatch::VarsValue {
                input: k,
                element: multi_index(e, x.shape()),
                vars: a[e],
                tensor: b[e],
            });
        }
        let rk = random_like(x.shape(), rng);
        s = s + (vars * scratch.constant(rk.clone())).sum();
        r[k] = Some(rk);
    }

    // (b) Its derivative, against finite differences of backward.
    let analytic = scratch.backward(s);
    let p0 = s.value()[[]];
    let (mut diff2, mut a2, mut n2) = (0.0, 0.0, 0.0);
    let mut first = None;
    // The inputs that need a gradient, then the output gradient `u` (index `inputs.len()`).
    let targets: Vec<(usize, Var<'_, f64>)> = xs
        .iter()
        .enumerate()
        .filter(|(k, _)| needs[*k])
        .map(|(k, v)| (k, *v))
        .chain(std::iter::once((inputs.len(), u)))
        .collect();
    for (k, var) in targets {
        let base_tensor = if k < inputs.len() {
            &inputs[k]
        } else {
            &u_value
        };
        let shape = base_tensor.shape().to_vec();
        let g: Vec<f64> = match analytic.get(var) {
            Some(g) => g.iter().copied().collect(),
            None => vec![0.0; base_tensor.len()],
        };
        let base: Vec<f64> = base_tensor.iter().copied().collect();
        for e in pick_elements(base.len(), o.elements_per_input, rng) {
            let at = |delta: f64| -> Result<f64, NodeMismatch> {
                let mut moved = base.clone();
                moved[e] += delta;
                let moved = ArrayD::from_shape_vec(IxDyn(&shape), moved)
                    .expect("same length")
                    .into_shared();
                if k < inputs.len() {
                    let mut args = refs.clone();
                    args[k] = &moved;
                    reference(op, &args, &u_value, needs, &r)
                } else {
                    reference(op, &refs, &moved, needs, &r)
                }
            };
            let (plus, minus) = (at(o.eps)?, at(-o.eps)?);
            let central = (plus - minus) / (2.0 * o.eps);
            let wrt = if k < inputs.len() {
                format!("input {k}")
            } else {
                "the output gradient".to_owned()
            };
            if !central.is_finite() {
                return Err(NodeMismatch::NonFinite {
                    input: k,
                    what: format!(
                        "the backward near element {:?} of {wrt}",
                        multi_index(e, &shape)
                    ),
                });
            }
            let a = g[e];
            let (right, left) = ((plus - p0) / o.eps, (p0 - minus) / o.eps);
            let n = if close(a, central, o) {
                central
            } else if close(a, right, o) {
                check.kinks += 1;
                right
            } else if close(a, left, o) {
                check.kinks += 1;
                left
            } else {
                if first.is_none() {
                    first = Some(NodeMismatch::SecondOrder {
                        wrt,
                        element: multi_index(e, &shape),
                        analytic: a,
                        numerical: central,
                    });
                }
                central
            };
            check.compared += 1;
            diff2 += (a - n) * (a - n);
            a2 += a * a;
            n2 += n * n;
            check.max_abs_error = check.max_abs_error.max((a - n).abs());
        }
    }
    check.relative_difference = super::relative(diff2, a2, n2);
    first.map_or(Ok(()), Err)
}
