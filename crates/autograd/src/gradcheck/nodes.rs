//! Model-wide gradient checking: every recorded op's backward against finite differences of
//! that same op's forward, on the inputs it actually saw.
//!
//! [`gradcheck`](super::gradcheck) checks a whole function of a few small inputs. A real model
//! on a real batch has too many parameters for that, and when it fails it cannot say which
//! op is wrong. [`check_model`] and [`check_tape`] instead check each node of a recorded tape
//! on its own: for node `y = op(x_1, .., x_n)` with a random vector `v` of `y`'s shape, the
//! op's backward gives `v^T dy/dx_k`, and central differences of the op's forward give
//! `(v^T op(.., x_k + eps e, ..) - v^T op(.., x_k - eps e, ..)) / (2 eps)` for elements `e` of
//! each input that needs a gradient (all of them for small inputs, a random sample for large
//! ones). The first node whose two numbers disagree is named, with the line that recorded it:
//! a custom op with a wrong backward buried in a big model is found at once.
//!
//! Only the op itself is re-run (through the tape's stored op, which is why the tape must be
//! `f64`: rebuild the model in `f64` for the check, as in the example below). Its forward must
//! be deterministic given the state it saved: dropout keeps its mask, so it is re-applied as
//! drawn. An op's saved state is recomputed from its original inputs after the check, so the
//! tape can still be differentiated afterwards.
//!
//! Kinks (relu at exactly 0, ties of a max) have no derivative; there the backward is accepted
//! when it matches either one-sided difference, and the report counts such elements.
//!
//! ```
//! use tapegrad_autograd::gradcheck::{check_model, NodeCheckOptions};
//! use tapegrad_autograd::{tensor, Real, Tape, Var};
//!
//! // The model, generic over the element type: trained in f32, checked in f64.
//! fn loss<T: Real>(tape: &Tape<T>) -> Var<'_, T> {
//!     let x = tape.constant(tensor(&[4, 3], (0..12).map(|i| T::lit(i as f64 / 6.0 - 1.0)).collect()));
//!     let w = tape.var(tensor(&[3, 2], (0..6).map(|i| T::lit(0.1 * i as f64 - 0.2)).collect()));
//!     x.matmul(w).tanh().square().mean()
//! }
//!
//! let report = check_model(loss::<f64>, &NodeCheckOptions::default()).expect("all ops agree");
//! assert_eq!(report.nodes.len(), 4); // matmul, tanh, square, mean
//! println!("{report}");
//! ```

use std::fmt;
use std::panic::Location;

use ndarray::{ArrayD, IxDyn};

use super::multi_index;
use crate::kernels::broadcast::sum_to_shape;
use crate::random::{RandomStream, SplitMix64};
use crate::tape::Node;
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Tape, Tensor, Var};

/// Step size, tolerances and sampling of a model-wide check.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCheckOptions {
    /// Finite-difference step (default 1e-6).
    pub eps: f64,
    /// Absolute tolerance (default 1e-5).
    pub atol: f64,
    /// Relative tolerance, times the numerical value (default 1e-3).
    pub rtol: f64,
    /// Inputs with at most this many elements are checked element by element; larger ones at
    /// this many elements drawn at random (default 64).
    pub elements_per_input: usize,
    /// Seed of the random output vectors and of the sampled elements (default 0).
    pub seed: u64,
}

impl Default for NodeCheckOptions {
    fn default() -> Self {
        NodeCheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            elements_per_input: 64,
            seed: 0,
        }
    }
}

/// How one node's backward compared with finite differences of its forward.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCheck {
    /// Position on the tape.
    pub node: usize,
    /// The op's name.
    pub op: String,
    /// The line of user code that recorded it.
    pub location: &'static Location<'static>,
    /// Shapes of the op's inputs.
    pub input_shapes: Vec<Vec<usize>>,
    /// How many input elements were compared.
    pub compared: usize,
    /// Elements at a kink, accepted because they matched a one-sided difference.
    pub kinks: usize,
    /// The largest `|analytic - numerical|`.
    pub max_abs_error: f64,
    /// `||g - g_num|| / (||g|| + ||g_num||)` over the compared elements.
    pub relative_difference: f64,
    /// The first disagreement, if the node failed.
    pub mismatch: Option<NodeMismatch>,
}

impl NodeCheck {
    /// The row of node `index` before anything is compared.
    pub(super) fn unchecked(index: usize, node: &Node<f64>, inputs: &[Tensor<f64>]) -> Self {
        NodeCheck {
            node: index,
            op: node.kind.name().to_owned(),
            location: node.location,
            input_shapes: inputs.iter().map(|x| x.shape().to_vec()).collect(),
            compared: 0,
            kinks: 0,
            max_abs_error: 0.0,
            relative_difference: 0.0,
            mismatch: None,
        }
    }

    /// Whether the node's backward agreed with finite differences.
    pub fn passed(&self) -> bool {
        self.mismatch.is_none()
    }
}

/// Where a node's backward disagreed with finite differences of its forward.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeMismatch {
    /// A derivative differs.
    Value {
        /// Which input of the op.
        input: usize,
        /// The input element.
        element: Vec<usize>,
        /// `v^T dy/dx` from the op's backward.
        analytic: f64,
        /// The same from central differences of the op's forward.
        numerical: f64,
    },
    /// The gradient from `backward_vars` differs from the one from `backward`
    /// (second-order check).
    VarsValue {
        /// Which input of the op.
        input: usize,
        /// The input element.
        element: Vec<usize>,
        /// The gradient's element from `backward_vars`.
        vars: f64,
        /// The same from `backward`.
        tensor: f64,
    },
    /// The derivative of the gradient from `backward_vars` differs from finite differences
    /// of `backward` (second-order check).
    SecondOrder {
        /// With respect to what: `"input 1"`, or `"the output gradient"`.
        wrt: String,
        /// The element of it.
        element: Vec<usize>,
        /// The derivative of `rᵀ dx` recorded through `backward_vars`.
        analytic: f64,
        /// The same from central differences of `backward`.
        numerical: f64,
    },
    /// The op has no `backward_vars`, so its gradient cannot be differentiated (second-order
    /// check).
    NotTwiceDifferentiable,
    /// The backward returned a gradient of a shape that does not sum back to the input's.
    Shape {
        /// Which input.
        input: usize,
        /// The gradient's shape.
        gradient: Vec<usize>,
        /// The input's shape.
        expected: Vec<usize>,
    },
    /// The backward returned another number of gradients than the op has inputs.
    Count {
        /// Gradients returned.
        returned: usize,
        /// Inputs.
        inputs: usize,
    },
    /// The backward returned no gradient for an input that needs one.
    Missing {
        /// Which input.
        input: usize,
    },
    /// The forward failed, or changed its output shape, on slightly moved inputs.
    Forward {
        /// What happened.
        message: String,
    },
    /// A value involved is NaN or infinite, so nothing can be compared.
    NonFinite {
        /// Which input.
        input: usize,
        /// Which value, in words.
        what: String,
    },
}

impl fmt::Display for NodeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeMismatch::Value {
                input,
                element,
                analytic,
                numerical,
            } => write!(
                f,
                "input {input}, element {element:?}: backward gives {analytic:.10e}, finite \
                 differences of forward give {numerical:.10e}"
            ),
            NodeMismatch::VarsValue {
                input,
                element,
                vars,
                tensor,
            } => write!(
                f,
                "input {input}, element {element:?}: backward_vars gives the gradient \
                 {vars:.10e}, backward gives {tensor:.10e}"
            ),
            NodeMismatch::SecondOrder {
                wrt,
                element,
                analytic,
                numerical,
            } => write!(
                f,
                "{wrt}, element {element:?}: differentiating the gradient from backward_vars \
                 gives {analytic:.10e}, finite differences of backward give {numerical:.10e}"
            ),
            NodeMismatch::NotTwiceDifferentiable => write!(
                f,
                "the op has no backward_vars, so its gradient cannot be differentiated; \
                 implement Op::backward_vars"
            ),
            NodeMismatch::Shape {
                input,
                gradient,
                expected,
            } => write!(
                f,
                "input {input}: backward returned a gradient of shape {gradient:?} for an input \
                 of shape {expected:?}"
            ),
            NodeMismatch::Count { returned, inputs } => write!(
                f,
                "backward returned {returned} gradients for {inputs} inputs"
            ),
            NodeMismatch::Missing { input } => write!(
                f,
                "backward returned no gradient (None) for input {input}, which needs one"
            ),
            NodeMismatch::Forward { message } => write!(f, "{message}"),
            NodeMismatch::NonFinite { input, what } => {
                write!(f, "input {input}: {what} is not finite")
            }
        }
    }
}

/// The result of checking every op of a tape.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeCheckReport {
    /// One entry per checked node (those with an op that gradients flow through), in
    /// recording order.
    pub nodes: Vec<NodeCheck>,
    /// What was checked: 1 for each op's `backward` against its forward
    /// ([`check_tape`]), 2 for the derivative of its `backward_vars` against its `backward`
    /// ([`check_tape_second_order`](super::check_tape_second_order)).
    pub order: usize,
}

impl TapeCheckReport {
    /// The first node (in recording order) whose backward is wrong.
    pub fn first_failure(&self) -> Option<&NodeCheck> {
        self.nodes.iter().find(|n| !n.passed())
    }

    /// The largest relative difference over all nodes.
    pub fn max_relative_difference(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.relative_difference)
            .fold(0.0, f64::max)
    }
}

impl fmt::Display for TapeCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let s: Vec<String> = n.input_shapes.iter().map(|s| format!("{s:?}")).collect();
                s.join(" ")
            })
            .collect();
        let op_width = self
            .nodes
            .iter()
            .map(|n| n.op.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let shape_width = shapes.iter().map(String::len).max().unwrap_or(0).max(12);
        writeln!(
            f,
            "{:>5}  {:<op_width$} {:<shape_width$} {:>8} {:>6} {:>11}  {:<6} recorded at",
            "node", "op", "input shapes", "compared", "kinks", "rel. diff", "result"
        )?;
        for (n, shapes) in self.nodes.iter().zip(&shapes) {
            writeln!(
                f,
                "{:>5}  {:<op_width$} {:<shape_width$} {:>8} {:>6} {:>11.3e}  {:<6} {}:{}",
                format!("#{}", n.node),
                n.op,
                shapes,
                n.compared,
                n.kinks,
                n.relative_difference,
                if n.passed() { "ok" } else { "WRONG" },
                n.location.file(),
                n.location.line()
            )?;
        }
        match self.first_failure() {
            Some(n) => write!(
                f,
                "first wrong node: #{} `{}` recorded at {}:{}: {}",
                n.node,
                n.op,
                n.location.file(),
                n.location.line(),
                n.mismatch.as_ref().expect("a failure has a mismatch")
            ),
            None => write!(
                f,
                "{} nodes checked, all agree (largest relative difference {:.3e})",
                self.nodes.len(),
                self.max_relative_difference()
            ),
        }
    }
}

/// A model-wide check that found a wrong backward: the first wrong node, and the report of
/// every node.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeCheckError {
    /// Every node's result; at least one failed.
    pub report: TapeCheckReport,
}

impl TapeCheckError {
    /// The first node (in recording order) whose backward is wrong.
    pub fn node(&self) -> &NodeCheck {
        self.report
            .first_failure()
            .expect("an error has a failed node")
    }
}

impl fmt::Display for TapeCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.node();
        let (what, reference) = match self.report.order {
            1 => ("backward", "finite differences of its forward"),
            _ => (
                "second derivative (backward_vars)",
                "its backward and finite differences of it",
            ),
        };
        writeln!(
            f,
            "the {what} of `{}` (node #{}, recorded at {}:{}) disagrees with {reference} \
             (relative difference {:.3e}): {}",
            n.op,
            n.node,
            n.location.file(),
            n.location.line(),
            n.relative_difference,
            n.mismatch.as_ref().expect("a failure has a mismatch")
        )?;
        write!(f, "{}", self.report)
    }
}

impl std::error::Error for TapeCheckError {}

/// Records `build` on a fresh `f64` tape and checks every op on it (see the
/// [module docs](self)).
///
/// `build` records the model's loss (or any output) on the tape it is given; make the model
/// generic over [`Real`](crate::Real), or build it in `f64`, and pass one batch.
pub fn check_model<F>(
    build: F,
    options: &NodeCheckOptions,
) -> Result<TapeCheckReport, TapeCheckError>
where
    F: for<'t> FnOnce(&'t Tape<f64>) -> Var<'t, f64>,
{
    let tape = Tape::<f64>::new();
    let _output = build(&tape);
    check_tape(&tape, options)
}

/// Checks every op recorded on `tape` that gradients flow through (see the
/// [module docs](self)).
///
/// # Panics
/// If a value of the tape is borrowed elsewhere during the check (it needs the stored ops).
pub fn check_tape(
    tape: &Tape<f64>,
    options: &NodeCheckOptions,
) -> Result<TapeCheckReport, TapeCheckError> {
    let mut nodes = tape.nodes.borrow_mut();
    let mut rng = SplitMix64::new(options.seed ^ 0x6e6f_6465);
    let mut checks = Vec::new();
    for i in 0..nodes.len() {
        let (before, rest) = nodes.split_at_mut(i);
        let node = &mut rest[0];
        let (inputs, needs) = node_inputs(before, node);
        let mut check = NodeCheck::unchecked(i, node, &inputs);
        let Some(op) = node.op.as_mut() else { continue };
        let result = compare(
            op.as_mut(),
            &inputs,
            &needs,
            &node.value,
            options,
            &mut rng,
            &mut check,
        );
        // Perturbed forwards overwrote what the op saved for backward: recompute it.
        let refs: Vec<&Tensor<f64>> = inputs.iter().collect();
        let restored = op.forward(&refs);
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
        order: 1,
    };
    if report.first_failure().is_some() {
        Err(TapeCheckError { report })
    } else {
        Ok(report)
    }
}

/// The values of a node's inputs (`before` holds the nodes recorded before it) and whether
/// each needs a gradient.
pub(super) fn node_inputs(before: &[Node<f64>], node: &Node<f64>) -> (Vec<Tensor<f64>>, Vec<bool>) {
    node.inputs
        .iter()
        .map(|&j| {
            (
                before[j as usize].value.clone(),
                before[j as usize].requires_grad,
            )
        })
        .unzip()
}

fn project(y: &Tensor<f64>, v: &Tensor<f64>) -> f64 {
    y.iter().zip(v.iter()).map(|(a, b)| a * b).sum()
}

fn close(a: f64, n: f64, o: &NodeCheckOptions) -> bool {
    (a - n).abs() <= o.atol + o.rtol * n.abs()
}

/// Which elements of an input of `len` elements to compare.
pub(super) fn pick_elements(len: usize, max: usize, rng: &mut SplitMix64) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    // A partial Fisher-Yates shuffle: `max` distinct indices.
    let mut idx: Vec<usize> = (0..len).collect();
    for k in 0..max {
        let j = k + rng.below((len - k) as u64) as usize;
        idx.swap(k, j);
    }
    let mut picked = idx[..max].to_vec();
    picked.sort_unstable();
    picked
}

fn compare(
    op: &mut dyn Op<f64>,
    inputs: &[Tensor<f64>],
    needs: &[bool],
    output: &Tensor<f64>,
    o: &NodeCheckOptions,
    rng: &mut SplitMix64,
    check: &mut NodeCheck,
) -> Result<(), NodeMismatch> {
    let v = tensor(
        output.shape(),
        (0..output.len())
            .map(|_| rng.next_f64() * 2.0 - 1.0)
            .collect(),
    );
    let refs: Vec<&Tensor<f64>> = inputs.iter().collect();
    let grads = op.backward(&BackwardContext::new(&refs, output, &v, needs));
    if grads.len() != inputs.len() {
        return Err(NodeMismatch::Count {
            returned: grads.len(),
            inputs: inputs.len(),
        });
    }
    let p0 = project(output, &v);
    let eval = |op: &mut dyn Op<f64>, args: &[&Tensor<f64>]| -> Result<f64, NodeMismatch> {
        let y = op
            .forward(args)
            .map_err(|e: OpError| NodeMismatch::Forward {
                message: format!("forward failed on slightly moved inputs: {e}"),
            })?;
        if y.shape() != output.shape() {
            return Err(NodeMismatch::Forward {
                message: format!(
                    "forward gave shape {:?} on slightly moved inputs, {:?} on the original \
                     ones",
                    y.shape(),
                    output.shape()
                ),
            });
        }
        Ok(project(&y, &v))
    };
    let (mut diff2, mut a2, mut n2) = (0.0, 0.0, 0.0);
    let mut first = None;
    for (k, g) in grads.into_iter().enumerate() {
        if !needs[k] {
            continue;
        }
        let x = &inputs[k];
        let g = match g {
            None => return Err(NodeMismatch::Missing { input: k }),
            Some(g) if g.shape() == x.shape() => g,
            Some(g) => sum_to_shape(&g, x.shape()).ok_or_else(|| NodeMismatch::Shape {
                input: k,
                gradient: g.shape().to_vec(),
                expected: x.shape().to_vec(),
            })?,
        };
        let g: Vec<f64> = g.iter().copied().collect();
        if g.iter().any(|v| !v.is_finite()) {
            return Err(NodeMismatch::NonFinite {
                input: k,
                what: "the gradient from backward".into(),
            });
        }
        let base: Vec<f64> = x.iter().copied().collect();
        for e in pick_elements(x.len(), o.elements_per_input, rng) {
            let at = |op: &mut dyn Op<f64>, delta: f64| -> Result<f64, NodeMismatch> {
                let mut moved = base.clone();
                moved[e] += delta;
                let moved = ArrayD::from_shape_vec(IxDyn(x.shape()), moved)
                    .expect("same length")
                    .into_shared();
                let mut args = refs.clone();
                args[k] = &moved;
                eval(op, &args)
            };
            let plus = at(op, o.eps)?;
            let minus = at(op, -o.eps)?;
            let central = (plus - minus) / (2.0 * o.eps);
            if !central.is_finite() {
                return Err(NodeMismatch::NonFinite {
                    input: k,
                    what: format!("the forward near element {:?}", multi_index(e, x.shape())),
                });
            }
            let a = g[e];
            let right = (plus - p0) / o.eps;
            let left = (p0 - minus) / o.eps;
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
                    first = Some(NodeMismatch::Value {
                        input: k,
                        element: multi_index(e, x.shape()),
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
