//! The seeded generator of random op programs.
//!
//! A program starts from one or two leaves and applies one op of a chosen kind (so that a
//! fixed list of seeds covers every op) and then a few random ones, each to earlier values or
//! to new leaves of fitting shapes. Ops run as they are chosen, so that the generator sees
//! their values: an op is applied only inside its domain (ln of positive values, a divisor
//! away from 0; otherwise a positive transform such as softplus is put in front), and a kink
//! (relu at 0, a tie for a maximum, a clamp bound) is hit only by values that every correct
//! implementation computes bit for bit: leaves and what data movement and selection make of
//! them. A computed value nearer a kink than rounding could explain is not used there, since
//! tapegrad and JAX may round it to different sides.

use tapegrad::autograd::{Tape, Tensor, Var};

#[path = "fitting.rs"]
mod fitting;

use crate::program::{Binary, Node, OpSpec, Program, ReduceKind, ScalarKind, UnaryKind};
use crate::values::{away_from, broadcast_shape, fill, partner_shape, tame, Fill, Rng, MAX_LEAF};

/// What the generator can be asked to apply; together they call every differentiable op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Binary(Binary),
    Scalar(ScalarKind),
    Unary(UnaryKind),
    Clamp,
    LeakyRelu,
    Elu,
    Softmax,
    LogSoftmax,
    Reduce(ReduceKind, bool),
    Transpose,
    Permute,
    Reshape,
    BroadcastTo,
    Slice,
    SliceStep,
    IndexSelect,
    Gather,
    Concat,
    Stack,
    Pad,
    Conv2d,
    Conv2dInputGrad,
    Conv2dWeightGrad,
    MaxPool2d,
    AvgPool2d,
    SoftmaxCrossEntropy,
    SoftmaxCrossEntropyLabels,
    BceWithLogits,
    Mse,
    Dropout,
    DropoutWithMask,
}

impl Choice {
    /// Every choice, in a fixed order.
    pub fn all() -> Vec<Choice> {
        let mut all: Vec<Choice> = Vec::new();
        all.extend(Binary::ALL.iter().map(|&k| Choice::Binary(k)));
        all.extend(ScalarKind::ALL.iter().map(|&k| Choice::Scalar(k)));
        all.extend(UnaryKind::ALL.iter().map(|&k| Choice::Unary(k)));
        for k in ReduceKind::ALL {
            all.push(Choice::Reduce(*k, true));
            if *k != ReduceKind::LogSumExp {
                all.push(Choice::Reduce(*k, false));
            }
        }
        all.extend([
            Choice::Clamp,
            Choice::LeakyRelu,
            Choice::Elu,
            Choice::Softmax,
            Choice::LogSoftmax,
            Choice::Transpose,
            Choice::Permute,
            Choice::Reshape,
            Choice::BroadcastTo,
            Choice::Slice,
            Choice::SliceStep,
            Choice::IndexSelect,
            Choice::Gather,
            Choice::Concat,
            Choice::Stack,
            Choice::Pad,
            Choice::Conv2d,
            Choice::Conv2dInputGrad,
            Choice::Conv2dWeightGrad,
            Choice::MaxPool2d,
            Choice::AvgPool2d,
            Choice::SoftmaxCrossEntropy,
            Choice::SoftmaxCrossEntropyLabels,
            Choice::BceWithLogits,
            Choice::Mse,
            Choice::Dropout,
            Choice::DropoutWithMask,
        ]);
        all
    }
}

/// Generates the program of `seed`, whose first op is `focus`. Programs whose gradients
/// overflow are drawn again from a derived seed, so the result depends on `seed` alone.
pub fn generate(seed: u64, focus: Choice) -> Program {
    for attempt in 0..100u64 {
        let mut rng = Rng::new(seed ^ attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let program = build(&mut rng, seed, focus);
        let (outcome, _) = program.run();
        if tame(&tapegrad::autograd::scalar(outcome.objective))
            && outcome.grads.iter().flatten().all(tame)
        {
            return program;
        }
    }
    panic!("seed {seed}: no program with finite gradients in 100 attempts ({focus:?})")
}

fn build(rng: &mut Rng, seed: u64, focus: Choice) -> Program {
    let tape = Tape::new();
    let mut g = Gen {
        rng,
        tape: &tape,
        nodes: Vec::new(),
        vars: Vec::new(),
        exact: Vec::new(),
        used: Vec::new(),
    };
    for _ in 0..g.rng.range(1, 2) {
        let shape = g.rng.shape(0, 4);
        g.new_leaf(&shape, None);
    }
    let mut done = false;
    for _ in 0..30 {
        if g.apply_choice(focus) {
            done = true;
            break;
        }
    }
    assert!(done, "seed {seed}: the generator could not apply {focus:?}");
    let all = Choice::all();
    for _ in 0..g.rng.range(2, 7) {
        let c = g.rng.pick(&all);
        g.apply_choice(c);
    }
    let sinks: Vec<usize> = (0..g.nodes.len()).filter(|&i| !g.used[i]).collect();
    let objective = sinks
        .into_iter()
        .map(|i| {
            let shape = g.shape(i);
            let n: usize = shape.iter().product();
            let w: Vec<f64> = (0..n)
                .map(|_| {
                    let m = g.rng.uniform(0.5, 1.5);
                    if g.rng.chance(0.5) {
                        -m
                    } else {
                        m
                    }
                })
                .collect();
            (i, tapegrad::autograd::tensor(&shape, w))
        })
        .collect();
    Program {
        seed,
        nodes: g.nodes,
        objective,
    }
}

struct Gen<'r, 't> {
    rng: &'r mut Rng,
    tape: &'t Tape<f64>,
    nodes: Vec<Node>,
    vars: Vec<Var<'t, f64>>,
    /// Whether each value is reproduced bit for bit by any correct implementation.
    exact: Vec<bool>,
    /// Whether an op uses each value (the others enter the objective).
    used: Vec<bool>,
}

/// Ops whose result is one of their inputs' elements (or a fixed value), so exact inputs give
/// an exact result.
fn keeps_exactness(op: &OpSpec) -> bool {
    match op {
        OpSpec::Binary(k) => matches!(k, Binary::Maximum | Binary::Minimum),
        // Scaling by a power of two rounds nothing.
        OpSpec::Scalar(ScalarKind::Mul, c) => [0.5, 2.0, -0.5, -2.0, 1.0, -1.0].contains(c),
        OpSpec::Scalar(..) => false,
        OpSpec::Unary(k) => matches!(
            k,
            UnaryKind::Neg | UnaryKind::Abs | UnaryKind::Relu | UnaryKind::T | UnaryKind::Flatten
        ),
        OpSpec::LeakyRelu(s) => [0.0, 0.5, 0.25].contains(s),
        OpSpec::Elu(_) => false,
        OpSpec::Reduce { kind, .. } => matches!(kind, ReduceKind::Max | ReduceKind::Min),
        OpSpec::Clamp(..)
        | OpSpec::Transpose(..)
        | OpSpec::Permute(_)
        | OpSpec::Reshape(_)
        | OpSpec::BroadcastTo(_)
        | OpSpec::Narrow { .. }
        | OpSpec::SliceAxis { .. }
        | OpSpec::Slice(_)
        | OpSpec::SliceStep { .. }
        | OpSpec::IndexSelect(..)
        | OpSpec::Gather(..)
        | OpSpec::Concat(_)
        | OpSpec::Stack(_)
        | OpSpec::Pad(..)
        | OpSpec::MaxPool2d(..) => true,
        OpSpec::Dropout { p, .. } => *p == 0.0 || *p == 0.5,
        OpSpec::DropoutWithMask(_) => true,
        _ => false,
    }
}

impl<'t> Gen<'_, 't> {
    fn shape(&self, i: usize) -> Vec<usize> {
        self.vars[i].shape()
    }

    fn value(&self, i: usize) -> Tensor<f64> {
        self.vars[i].value()
    }

    /// A new leaf; a variable four times in five, else a constant.
    fn new_leaf(&mut self, shape: &[usize], how: Option<Fill>) -> usize {
        let how = how.unwrap_or_else(|| self.rng.pick(&Fill::GENERAL));
        let value = fill(self.rng, shape, how);
        let requires_grad = self.rng.chance(0.8);
        let var = if requires_grad {
            self.tape.var(value.clone())
        } else {
            self.tape.constant(value.clone())
        };
        self.nodes.push(Node::Leaf {
            value,
            requires_grad,
        });
        self.vars.push(var);
        self.exact.push(true);
        self.used.push(false);
        self.nodes.len() - 1
    }

    /// Applies `op` to `args`; `None` (and nothing recorded in the program) when the result is
    /// not finite or too large to be used further.
    fn push(&mut self, op: OpSpec, args: &[usize]) -> Option<usize> {
        let inputs: Vec<_> = args.iter().map(|&i| self.vars[i]).collect();
        let out = op.apply(&inputs);
        if !tame(&out.value()) || out.len() > 8 * MAX_LEAF {
            return None;
        }
        let exact = keeps_exactness(&op) && args.iter().all(|&i| self.exact[i]);
        for &i in args {
            self.used[i] = true;
        }
        self.nodes.push(Node::Op {
            op,
            args: args.to_vec(),
        });
        self.vars.push(out);
        self.exact.push(exact);
        self.used.push(false);
        Some(self.nodes.len() - 1)
    }

    /// An existing value whose shape satisfies `ok` (preferably one no op uses yet) three
    /// times in four, when there is one; otherwise a new leaf of shape `make()`.
    fn operand(
        &mut self,
        ok: impl Fn(&[usize]) -> bool,
        make: impl FnOnce(&mut Rng) -> Vec<usize>,
    ) -> usize {
        let fits: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| ok(&self.shape(i)))
            .collect();
        if !fits.is_empty() && self.rng.chance(0.75) {
            let fresh: Vec<usize> = fits.iter().copied().filter(|&i| !self.used[i]).collect();
            if !fresh.is_empty() && self.rng.chance(0.7) {
                return self.rng.pick(&fresh);
            }
            return self.rng.pick(&fits);
        }
        let shape = make(self.rng);
        self.new_leaf(&shape, None)
    }

    fn any_operand(&mut self) -> usize {
        self.operand(|_| true, |r| r.shape(0, 4))
    }

    fn ranked_operand(&mut self, lo: usize, hi: usize) -> usize {
        self.operand(|s| (lo..=hi).contains(&s.len()), |r| r.shape(lo, hi))
    }

    /// `i` if all its values exceed `lo`; otherwise a positive transform of it.
    fn positive(&mut self, i: usize, lo: f64) -> Option<usize> {
        let v = self.value(i);
        if v.iter().all(|&x| x > lo) {
            return Some(i);
        }
        let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let (first, shift) = match self.rng.below(4) {
            0 if max < 20.0 => (OpSpec::Unary(UnaryKind::Exp), 0.05),
            1 => (OpSpec::Unary(UnaryKind::Square), 0.25),
            2 => (OpSpec::Unary(UnaryKind::Sigmoid), 0.1),
            _ => (OpSpec::Unary(UnaryKind::Softplus), 0.1),
        };
        let j = self.push(first, &[i])?;
        self.push(OpSpec::Scalar(ScalarKind::Add, shift), &[j])
    }

    /// `i` if its values are away from 0; otherwise a positive transform, negated half of the
    /// time.
    fn nonzero(&mut self, i: usize) -> Option<usize> {
        if self.value(i).iter().all(|x| x.abs() > 0.1) {
            return Some(i);
        }
        let j = self.positive(i, 0.1)?;
        if self.rng.chance(0.5) {
            self.push(OpSpec::Unary(UnaryKind::Neg), &[j])
        } else {
            Some(j)
        }
    }

    /// Whether `i` may meet the kinks at `points`: exact values may sit on them.
    fn kink_ok(&self, i: usize, points: &[f64]) -> bool {
        self.exact[i] || away_from(&self.value(i), points)
    }

    /// A second operand broadcasting with `a`: an existing value or a new leaf.
    fn partner(&mut self, a: usize, how: Option<Fill>) -> usize {
        let sa = self.shape(a);
        if self.rng.chance(0.3) {
            let fits: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    broadcast_shape(&sa, &self.shape(i))
                        .is_some_and(|s| s.iter().product::<usize>() <= 4 * MAX_LEAF)
                })
                .collect();
            return self.rng.pick(&fits);
        }
        let shape = partner_shape(self.rng, &sa, false);
        self.new_leaf(&shape, how)
    }

    fn apply_choice(&mut self, c: Choice) -> bool {
        self.try_choice(c).is_some()
    }

    fn try_choice(&mut self, c: Choice) -> Option<usize> {
        match c {
            Choice::Binary(k) => self.binary(k),
            Choice::Scalar(k) => self.scalar(k),
            Choice::Unary(k) => self.unary(k),
            Choice::Clamp => {
                let a = self.any_operand();
                let bounds = [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0];
                let (mut lo, mut hi) = (self.rng.pick(&bounds), self.rng.pick(&bounds));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                match self.rng.below(5) {
                    0 => lo = f64::NEG_INFINITY,
                    1 => hi = f64::INFINITY,
                    _ => {}
                }
                self.kink_ok(a, &[lo, hi]).then_some(())?;
                self.push(OpSpec::Clamp(lo, hi), &[a])
            }
            Choice::LeakyRelu => {
                let a = self.any_operand();
                self.kink_ok(a, &[0.0]).then_some(())?;
                let slope = self.rng.pick(&[0.01, 0.2, 0.0, -0.5, 0.25]);
                self.push(OpSpec::LeakyRelu(slope), &[a])
            }
            Choice::Elu => {
                let a = self.any_operand();
                // Below zero the slope tends to alpha, above it is 1: a kink unless alpha is 1.
                self.kink_ok(a, &[0.0]).then_some(())?;
                let alpha = self.rng.pick(&[1.0, 0.5, 2.0]);
                self.push(OpSpec::Elu(alpha), &[a])
            }
            Choice::Softmax | Choice::LogSoftmax => {
                let a = self.ranked_operand(1, 4);
                let n = self.shape(a).len();
                let axis = self.rng.below(n);
                let axis = self.rng.axis_form(axis, n);
                let op = if c == Choice::Softmax {
                    OpSpec::Softmax(axis)
                } else {
                    OpSpec::LogSoftmax(axis)
                };
                self.push(op, &[a])
            }
            Choice::Reduce(kind, with_axes) => self.reduce(kind, with_axes),
            Choice::Transpose => {
                let a = self.ranked_operand(1, 4);
                let n = self.shape(a).len();
                let (i, j) = (self.rng.below(n), self.rng.below(n));
                let op = OpSpec::Transpose(self.rng.axis_form(i, n), self.rng.axis_form(j, n));
                self.push(op, &[a])
            }
            Choice::Permute => {
                let a = self.any_operand();
                let n = self.shape(a).len();
                let axes = self
                    .rng
                    .permutation(n)
                    .into_iter()
                    .map(|p| self.rng.axis_form(p, n))
                    .collect();
                self.push(OpSpec::Permute(axes), &[a])
            }
            Choice::Reshape => {
                let a = self.any_operand();
                let n: usize = self.shape(a).iter().product();
                let shape = self.factor(n);
                self.push(OpSpec::Reshape(shape), &[a])
            }
            Choice::BroadcastTo => {
                let a = self.any_operand();
                let mut shape: Vec<usize> = (0..self.rng.below(3))
                    .map(|_| self.rng.range(1, 3))
                    .collect();
                for d in self.shape(a) {
                    shape.push(if d == 1 { self.rng.range(1, 3) } else { d });
                }
                self.push(OpSpec::BroadcastTo(shape), &[a])
            }
            Choice::Slice => self.slice(),
            Choice::SliceStep => {
                let a = self.ranked_operand(1, 4);
                let shape = self.shape(a);
                let axis = self.rng.below(shape.len());
                let n = shape[axis];
                let start = self.rng.below(n);
                let end = start + 1 + self.rng.below(n - start);
                let step = self.rng.pick(&[1isize, 2, 3]);
                let axis = self.rng.axis_form(axis, shape.len());
                self.push(
                    OpSpec::SliceStep {
                        axis,
                        start,
                        end,
                        step,
                    },
                    &[a],
                )
            }
            Choice::IndexSelect | Choice::Gather => {
                let a = self.ranked_operand(1, 4);
                let shape = self.shape(a);
                let axis = self.rng.below(shape.len());
                let count = if c == Choice::Gather {
                    shape.iter().product::<usize>() / shape[axis]
                } else {
                    self.rng.range(1, 5)
                };
                let idx = (0..count).map(|_| self.rng.below(shape[axis])).collect();
                let axis_form = self.rng.axis_form(axis, shape.len());
                let op = if c == Choice::Gather {
                    OpSpec::Gather(axis_form, idx)
                } else {
                    OpSpec::IndexSelect(axis_form, idx)
                };
                self.push(op, &[a])
            }
            Choice::Concat | Choice::Stack => self.join(c == Choice::Stack),
            Choice::Pad => {
                let a = self.any_operand();
                let pads = (0..self.shape(a).len())
                    .map(|_| (self.rng.range(0, 2), self.rng.range(0, 2)))
                    .collect();
                let value = self.rng.pick(&[0.0, 0.0, 1.5, -1.0]);
                self.push(OpSpec::Pad(pads, value), &[a])
            }
            Choice::Conv2d => self.conv2d(),
            Choice::Conv2dInputGrad => self.conv2d_input_grad(),
            Choice::Conv2dWeightGrad => self.conv2d_weight_grad(),
            Choice::MaxPool2d | Choice::AvgPool2d => self.pool(c == Choice::MaxPool2d),
            Choice::SoftmaxCrossEntropy | Choice::SoftmaxCrossEntropyLabels => {
                self.cross_entropy(c == Choice::SoftmaxCrossEntropyLabels)
            }
            Choice::BceWithLogits => {
                let z = self.any_operand();
                let shape = self.shape(z);
                let t = if self.rng.chance(0.3) {
                    let u = self.operand(|s| s == shape.as_slice(), |_| shape.clone());
                    self.push(OpSpec::Unary(UnaryKind::Sigmoid), &[u])?
                } else {
                    self.new_leaf(&shape, Some(Fill::UnitInterval))
                };
                let r = self.reduction();
                self.push(OpSpec::BceWithLogits(r), &[z, t])
            }
            Choice::Mse => {
                let p = self.any_operand();
                let shape = self.shape(p);
                let t = self.operand(|s| s == shape.as_slice(), |_| shape.clone());
                let r = self.reduction();
                self.push(OpSpec::Mse(r), &[p, t])
            }
            Choice::Dropout => {
                let a = self.any_operand();
                let p = self.rng.pick(&[0.0, 0.25, 0.5]);
                let seed = self.rng.next_u64() % 1000;
                self.push(OpSpec::Dropout { p, seed }, &[a])
            }
            Choice::DropoutWithMask => {
                let a = self.any_operand();
                let shape = partner_shape(self.rng, &self.shape(a), true);
                let n: usize = shape.iter().product();
                let data = (0..n).map(|_| self.rng.pick(&[0.0, 2.0, 0.5])).collect();
                let mask = tapegrad::autograd::tensor(&shape, data);
                self.push(OpSpec::DropoutWithMask(mask), &[a])
            }
        }
    }
}
