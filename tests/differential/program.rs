//! A program: leaves (input tensors) and op steps over earlier values, in the form that both
//! tapegrad (here) and the JAX evaluator (`eval_jax.py`) run.
//!
//! Every value of a program is a node, numbered in order: a leaf or an op applied to earlier
//! nodes. The JSON form of an op is `{"op": NAME, "args": [...], ...parameters}`, with NAME the
//! tapegrad method that records it; `eval_jax.py` implements each NAME with JAX.

use std::ops::Range;

use serde_json::{json, Value};
use tapegrad::autograd::random::SplitMix64;
use tapegrad::autograd::{tensor, Conv2dOptions, Reduce, Tape, Tensor, Var};

/// One op with its parameters. Inputs are given separately, as node numbers.
#[derive(Clone, Debug)]
pub enum OpSpec {
    /// `+ - * /` and the other elementwise ops of two broadcast operands.
    Binary(Binary),
    /// An op of one tensor and one fixed scalar.
    Scalar(ScalarKind, f64),
    /// An op of one tensor without parameters.
    Unary(UnaryKind),
    Clamp(f64, f64),
    LeakyRelu(f64),
    Elu(f64),
    Softmax(isize),
    LogSoftmax(isize),
    /// A reduction over every axis (`axes: None`, the `sum()` form) or over some.
    Reduce {
        kind: ReduceKind,
        axes: Option<Vec<isize>>,
        keepdims: bool,
    },
    Transpose(isize, isize),
    Permute(Vec<isize>),
    Reshape(Vec<usize>),
    BroadcastTo(Vec<usize>),
    Narrow {
        axis: isize,
        start: usize,
        len: usize,
    },
    /// `slice_axis` with a range whose ends may be open; `inclusive` for `a..=b`.
    SliceAxis {
        axis: isize,
        start: Option<usize>,
        end: Option<usize>,
        inclusive: bool,
    },
    Slice(Vec<Range<usize>>),
    /// `slice_step(axis, start, end, step)`: every `step`-th element of `start..end`.
    SliceStep {
        axis: isize,
        start: usize,
        end: usize,
        step: isize,
    },
    IndexSelect(isize, Vec<usize>),
    Gather(isize, Vec<usize>),
    Concat(isize),
    Stack(isize),
    Pad(Vec<(usize, usize)>, f64),
    /// Inputs: image, weight and, when there are three, bias.
    Conv2d(Conv2dOptions),
    /// Inputs: output gradient and weight; the convolution's input shape.
    Conv2dInputGrad(Conv2dOptions, [usize; 4]),
    /// Inputs: image and output gradient; the convolution's weight shape.
    Conv2dWeightGrad(Conv2dOptions, [usize; 4]),
    MaxPool2d((usize, usize), (usize, usize)),
    AvgPool2d((usize, usize), (usize, usize)),
    SoftmaxCrossEntropy(Reduce),
    SoftmaxCrossEntropyLabels(Vec<usize>, Reduce),
    BceWithLogits(Reduce),
    Mse(Reduce),
    /// Inverted dropout with a mask drawn from `SplitMix64::new(seed)`.
    Dropout {
        p: f64,
        seed: u64,
    },
    DropoutWithMask(Tensor<f64>),
}

macro_rules! named_kinds {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }
    };
}

named_kinds!(
    /// Ops of two broadcast operands.
    Binary {
        Add => "add", Sub => "sub", Mul => "mul", Div => "div", Pow => "pow",
        Maximum => "maximum", Minimum => "minimum", Matmul => "matmul", Dot => "dot",
        Outer => "outer",
    }
);

named_kinds!(
    /// Ops of a tensor and a scalar `c`.
    ScalarKind {
        Add => "add_scalar", Sub => "sub_scalar", Mul => "mul_scalar", Div => "div_scalar",
        RSub => "rsub_scalar", RDiv => "rdiv_scalar", Pow => "powf",
    }
);

named_kinds!(
    /// Ops of one tensor without parameters.
    UnaryKind {
        Neg => "neg", Exp => "exp", Ln => "ln", Sqrt => "sqrt", Abs => "abs",
        Square => "square", Relu => "relu", Sigmoid => "sigmoid", Tanh => "tanh",
        Softplus => "softplus", T => "t", Flatten => "flatten", Erf => "erf", Gelu => "gelu",
        GeluTanh => "gelu_tanh", Silu => "silu",
    }
);

named_kinds!(
    /// The reductions.
    ReduceKind {
        Sum => "sum", Mean => "mean", Max => "max", Min => "min", LogSumExp => "logsumexp",
    }
);

/// A node of a program.
#[derive(Clone, Debug)]
pub enum Node {
    /// An input: a variable (`requires_grad`) or a constant.
    Leaf {
        value: Tensor<f64>,
        requires_grad: bool,
    },
    /// An op applied to earlier nodes.
    Op { op: OpSpec, args: Vec<usize> },
}

/// A random op program and the scalar objective whose gradients are compared.
#[derive(Clone, Debug)]
pub struct Program {
    /// The seed it was generated from.
    pub seed: u64,
    pub nodes: Vec<Node>,
    /// `objective = sum over (node, weights) of sum(value(node) * weights)`, over the nodes that
    /// no op uses, so that every value reaches the objective. Random weights rather than a
    /// plain sum: the gradient of `sum(softmax(x))` is zero whatever softmax's backward does.
    pub objective: Vec<(usize, Tensor<f64>)>,
}

/// What tapegrad computes for a program: every node's value, the objective and the gradient
/// of the objective with respect to each variable leaf (`None` for constants).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub values: Vec<Tensor<f64>>,
    pub objective: f64,
    pub grads: Vec<Option<Tensor<f64>>>,
}

fn reduce_name(r: Reduce) -> &'static str {
    match r {
        Reduce::Mean => "mean",
        Reduce::Sum => "sum",
    }
}

/// A float for JSON, which has no infinity: those become strings Python's `float` reads.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

pub fn tensor_json(t: &Tensor<f64>) -> Value {
    json!({"shape": t.shape(), "data": t.iter().map(|&x| number(x)).collect::<Vec<_>>()})
}

/// The keep flags (1 kept, 0 dropped) that `dropout(p, SplitMix64::new(seed))` draws for `n`
/// elements: as documented, one uniform value per element in C order, kept when below `1 - p`.
pub fn dropout_keep_flags(p: f64, seed: u64, n: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| if rng.next_f64() < 1.0 - p { 1.0 } else { 0.0 })
        .collect()
}

impl OpSpec {
    /// The op's name in the JSON form (the tapegrad method's name).
    pub fn name(&self) -> &'static str {
        match self {
            OpSpec::Binary(k) => k.name(),
            OpSpec::Scalar(k, _) => k.name(),
            OpSpec::Unary(k) => k.name(),
            OpSpec::Clamp(..) => "clamp",
            OpSpec::LeakyRelu(_) => "leaky_relu",
            OpSpec::Elu(_) => "elu",
            OpSpec::Softmax(_) => "softmax",
            OpSpec::LogSoftmax(_) => "log_softmax",
            OpSpec::Reduce { kind, .. } => kind.name(),
            OpSpec::Transpose(..) => "transpose",
            OpSpec::Permute(_) => "permute",
            OpSpec::Reshape(_) => "reshape",
            OpSpec::BroadcastTo(_) => "broadcast_to",
            OpSpec::Narrow { .. } => "narrow",
            OpSpec::SliceAxis { .. } => "slice_axis",
            OpSpec::Slice(_) => "slice",
            OpSpec::SliceStep { .. } => "slice_step",
            OpSpec::IndexSelect(..) => "index_select",
            OpSpec::Gather(..) => "gather",
            OpSpec::Concat(_) => "concat",
            OpSpec::Stack(_) => "stack",
            OpSpec::Pad(..) => "pad",
            OpSpec::Conv2d(_) => "conv2d",
            OpSpec::Conv2dInputGrad(..) => "conv2d_input_grad",
            OpSpec::Conv2dWeightGrad(..) => "conv2d_weight_grad",
            OpSpec::MaxPool2d(..) => "max_pool2d",
            OpSpec::AvgPool2d(..) => "avg_pool2d",
            OpSpec::SoftmaxCrossEntropy(_) => "softmax_cross_entropy",
            OpSpec::SoftmaxCrossEntropyLabels(..) => "softmax_cross_entropy_with_labels",
            OpSpec::BceWithLogits(_) => "bce_with_logits",
            OpSpec::Mse(_) => "mse",
            OpSpec::Dropout { .. } => "dropout",
            OpSpec::DropoutWithMask(_) => "dropout_with_mask",
        }
    }

    /// The op's parameters as JSON fields. `input_len` is the element count of the first input
    /// (dropout's mask is drawn per element).
    pub fn params(&self, input_len: usize) -> Value {
        match self {
            OpSpec::Binary(_) | OpSpec::Unary(_) => json!({}),
            OpSpec::Scalar(_, c) => json!({"c": number(*c)}),
            OpSpec::Clamp(lo, hi) => json!({"lo": number(*lo), "hi": number(*hi)}),
            OpSpec::LeakyRelu(s) => json!({"slope": s}),
            OpSpec::Elu(a) => json!({"alpha": a}),
            OpSpec::Softmax(axis) | OpSpec::LogSoftmax(axis) => json!({"axis": axis}),
            OpSpec::Reduce { axes, keepdims, .. } => json!({"axes": axes, "keepdims": keepdims}),
            OpSpec::Transpose(i, j) => json!({"axis0": i, "axis1": j}),
            OpSpec::Permute(axes) => json!({"axes": axes}),
            OpSpec::Reshape(shape) | OpSpec::BroadcastTo(shape) => json!({"shape": shape}),
            OpSpec::Narrow { axis, start, len } => {
                json!({"axis": axis, "start": start, "end": start + len})
            }
            OpSpec::SliceAxis {
                axis,
                start,
                end,
                inclusive,
            } => {
                let end = end.map(|e| if *inclusive { e + 1 } else { e });
                json!({"axis": axis, "start": start, "end": end})
            }
            OpSpec::SliceStep {
                axis,
                start,
                end,
                step,
            } => json!({"axis": axis, "start": start, "end": end, "step": step}),
            OpSpec::Slice(ranges) => json!({
                "ranges": ranges.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>()
            }),
            OpSpec::IndexSelect(axis, idx) | OpSpec::Gather(axis, idx) => {
                json!({"axis": axis, "indices": idx})
            }
            OpSpec::Concat(axis) | OpSpec::Stack(axis) => json!({"axis": axis}),
            OpSpec::Pad(pads, value) => json!({"pads": pads, "value": number(*value)}),
            OpSpec::Conv2d(o) => json!({"stride": [o.stride.0, o.stride.1],
                                        "padding": [o.padding.0, o.padding.1]}),
            OpSpec::Conv2dInputGrad(o, shape) | OpSpec::Conv2dWeightGrad(o, shape) => {
                json!({"stride": [o.stride.0, o.stride.1],
                       "padding": [o.padding.0, o.padding.1], "shape": shape})
            }
            OpSpec::MaxPool2d(k, s) | OpSpec::AvgPool2d(k, s) => {
                json!({"kernel": [k.0, k.1], "stride": [s.0, s.1]})
            }
            OpSpec::SoftmaxCrossEntropy(r) | OpSpec::BceWithLogits(r) | OpSpec::Mse(r) => {
                json!({"reduction": reduce_name(*r)})
            }
            OpSpec::SoftmaxCrossEntropyLabels(labels, r) => {
                json!({"labels": labels, "reduction": reduce_name(*r)})
            }
            // JAX cannot draw tapegrad's random stream: the keep flags travel with the program.
            OpSpec::Dropout { p, seed } => {
                json!({"p": p, "keep": dropout_keep_flags(*p, *seed, input_len)})
            }
            OpSpec::DropoutWithMask(mask) => json!({"mask": tensor_json(mask)}),
        }
    }

    /// Records the op on the tape of `a`, through the public API a user calls.
    pub fn apply<'t>(&self, a: &[Var<'t, f64>]) -> Var<'t, f64> {
        let x = a[0];
        match self {
            OpSpec::Binary(k) => match k {
                Binary::Add => x + a[1],
                Binary::Sub => x - a[1],
                Binary::Mul => x * a[1],
                Binary::Div => x / a[1],
                Binary::Pow => x.pow(a[1]),
                Binary::Maximum => x.maximum(a[1]),
                Binary::Minimum => x.minimum(a[1]),
                Binary::Matmul => x.matmul(a[1]),
                Binary::Dot => x.dot(a[1]),
                Binary::Outer => x.outer(a[1]),
            },
            // The operator forms where there are some, the methods elsewhere.
            &OpSpec::Scalar(k, c) => match k {
                ScalarKind::Add => x + c,
                ScalarKind::Sub => x - c,
                ScalarKind::Mul => c * x,
                ScalarKind::Div => x.div_scalar(c),
                ScalarKind::RSub => c - x,
                ScalarKind::RDiv => c / x,
                ScalarKind::Pow => x.powf(c),
            },
            OpSpec::Unary(k) => match k {
                UnaryKind::Neg => -x,
                UnaryKind::Exp => x.exp(),
                UnaryKind::Ln => x.ln(),
                UnaryKind::Sqrt => x.sqrt(),
                UnaryKind::Abs => x.abs(),
                UnaryKind::Square => x.square(),
                UnaryKind::Relu => x.relu(),
                UnaryKind::Sigmoid => x.sigmoid(),
                UnaryKind::Tanh => x.tanh(),
                UnaryKind::Softplus => x.softplus(),
                UnaryKind::T => x.t(),
                UnaryKind::Flatten => x.flatten(),
                UnaryKind::Erf => x.erf(),
                UnaryKind::Gelu => x.gelu(),
                UnaryKind::GeluTanh => x.gelu_tanh(),
                UnaryKind::Silu => x.silu(),
            },
            &OpSpec::Clamp(lo, hi) => x.clamp(lo, hi),
            &OpSpec::LeakyRelu(s) => x.leaky_relu(s),
            &OpSpec::Elu(a) => x.elu(a),
            &OpSpec::Softmax(axis) => x.softmax(axis),
            &OpSpec::LogSoftmax(axis) => x.log_softmax(axis),
            OpSpec::Reduce {
                kind,
                axes,
                keepdims,
            } => match (kind, axes) {
                (ReduceKind::Sum, None) => x.sum(),
                (ReduceKind::Mean, None) => x.mean(),
                (ReduceKind::Max, None) => x.max(),
                (ReduceKind::Min, None) => x.min(),
                (ReduceKind::Sum, Some(ax)) => x.sum_axes(ax, *keepdims),
                (ReduceKind::Mean, Some(ax)) => x.mean_axes(ax, *keepdims),
                (ReduceKind::Max, Some(ax)) => x.max_axes(ax, *keepdims),
                (ReduceKind::Min, Some(ax)) => x.min_axes(ax, *keepdims),
                (ReduceKind::LogSumExp, ax) => {
                    x.logsumexp_axes(ax.as_deref().unwrap_or(&[]), *keepdims)
                }
            },
            &OpSpec::Transpose(i, j) => x.transpose(i, j),
            OpSpec::Permute(axes) => x.permute(axes),
            OpSpec::Reshape(shape) => x.reshape(shape),
            OpSpec::BroadcastTo(shape) => x.broadcast_to(shape),
            &OpSpec::Narrow { axis, start, len } => x.narrow(axis, start, len),
            &OpSpec::SliceAxis {
                axis,
                start,
                end,
                inclusive,
            } => match (start, end, inclusive) {
                (None, None, _) => x.slice_axis(axis, ..),
                (Some(s), None, _) => x.slice_axis(axis, s..),
                (None, Some(e), false) => x.slice_axis(axis, ..e),
                (None, Some(e), true) => x.slice_axis(axis, ..=e),
                (Some(s), Some(e), false) => x.slice_axis(axis, s..e),
                (Some(s), Some(e), true) => x.slice_axis(axis, s..=e),
            },
            &OpSpec::SliceStep {
                axis,
                start,
                end,
                step,
            } => x.slice_step(axis, start, end, step),
            OpSpec::Slice(ranges) => x.slice(ranges),
            OpSpec::IndexSelect(axis, idx) => x.index_select(*axis, idx),
            OpSpec::Gather(axis, idx) => x.gather(*axis, idx),
            &OpSpec::Concat(axis) => Var::concat(a, axis),
            &OpSpec::Stack(axis) => Var::stack(a, axis),
            OpSpec::Pad(pads, value) => x.pad(pads, *value),
            &OpSpec::Conv2d(options) => x.conv2d(a[1], a.get(2).copied(), options),
            &OpSpec::Conv2dInputGrad(options, shape) => x.conv2d_input_grad(a[1], shape, options),
            &OpSpec::Conv2dWeightGrad(options, shape) => x.conv2d_weight_grad(a[1], shape, options),
            &OpSpec::MaxPool2d(k, s) => x.max_pool2d(k, s),
            &OpSpec::AvgPool2d(k, s) => x.avg_pool2d(k, s),
            &OpSpec::SoftmaxCrossEntropy(r) => x.softmax_cross_entropy(a[1], r),
            OpSpec::SoftmaxCrossEntropyLabels(labels, r) => {
                x.softmax_cross_entropy_with_labels(labels, *r)
            }
            &OpSpec::BceWithLogits(r) => x.bce_with_logits(a[1], r),
            &OpSpec::Mse(r) => x.mse(a[1], r),
            &OpSpec::Dropout { p, seed } => x.dropout(p, &mut SplitMix64::new(seed)),
            OpSpec::DropoutWithMask(mask) => x.dropout_with_mask(mask.clone()),
        }
    }

    /// A short description for failure messages, e.g. `max_pool2d {"kernel":[2,2],...}`.
    pub fn describe(&self) -> String {
        let params = match self {
            // The keep flags and masks are long and follow from the seed.
            OpSpec::Dropout { p, seed } => json!({"p": p, "seed": seed}),
            OpSpec::DropoutWithMask(mask) => json!({"mask_shape": mask.shape()}),
            _ => self.params(0),
        };
        match params.as_object() {
            Some(m) if m.is_empty() => self.name().to_owned(),
            _ => format!("{} {params}", self.name()),
        }
    }
}

impl Program {
    /// Runs the program on a fresh tape in f64: every value, the objective and the gradients.
    pub fn run(&self) -> (Outcome, Vec<tapegrad::autograd::OpKind>) {
        let tape = Tape::<f64>::new();
        let mut vars: Vec<Var<'_, f64>> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let v = match node {
                Node::Leaf {
                    value,
                    requires_grad: true,
                } => tape.var(value.clone()),
                Node::Leaf { value, .. } => tape.constant(value.clone()),
                Node::Op { op, args } => {
                    let inputs: Vec<_> = args.iter().map(|&i| vars[i]).collect();
                    op.apply(&inputs)
                }
            };
            vars.push(v);
        }
        let objective = self
            .objective
            .iter()
            .map(|(i, w)| (vars[*i] * tape.constant(w.clone())).sum())
            .reduce(|acc, term| acc + term)
            .expect("a program has at least one node");
        let kinds = tape.nodes().into_iter().filter_map(|n| n.kind).collect();
        let grads = tape.backward(objective);
        let outcome = Outcome {
            values: vars.iter().map(|v| v.value()).collect(),
            objective: objective.item(),
            grads: self
                .nodes
                .iter()
                .zip(&vars)
                .map(|(node, v)| match node {
                    Node::Leaf {
                        value,
                        requires_grad: true,
                    } => Some(
                        grads
                            .get(*v)
                            .cloned()
                            .unwrap_or_else(|| tensor(value.shape(), vec![0.0; value.len()])),
                    ),
                    _ => None,
                })
                .collect(),
        };
        (outcome, kinds)
    }

    /// The JSON form read by `eval_jax.py`; `values` are the nodes' values (dropout draws
    /// its mask per element of its input).
    pub fn to_json(&self, values: &[Tensor<f64>]) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|node| match node {
                Node::Leaf {
                    value,
                    requires_grad,
                } => json!({"leaf": tensor_json(value), "requires_grad": requires_grad}),
                Node::Op { op, args } => {
                    let mut v = op.params(values[args[0]].len());
                    v["op"] = json!(op.name());
                    v["args"] = json!(args);
                    v
                }
            })
            .collect();
        let objective: Vec<Value> = self
            .objective
            .iter()
            .map(|(i, w)| json!({"node": i, "weights": tensor_json(w)}))
            .collect();
        json!({"seed": self.seed, "nodes": nodes, "objective": objective})
    }
}
