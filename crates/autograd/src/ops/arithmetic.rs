//! Arithmetic: `+ - * /`, negation, the scalar forms, powers, maximum and minimum.
//!
//! Binary ops broadcast their operands by numpy's rules. Their backward returns gradients of
//! the broadcast (output) shape; the tape sums each back to its operand's shape.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::{indicator, op_family, or_panic};
use crate::gradcheck::registry::{positive, sample, Case};
use crate::kernels::elementwise::{map, zip_with};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The arithmetic ops.
    Arithmetic {
        /// `a + b`
        Add => "add",
        /// `a - b`
        Sub => "sub",
        /// `a * b`
        Mul => "mul",
        /// `a / b`
        Div => "div",
        /// `-a`
        Neg => "neg",
        /// `a + c` for a scalar `c`
        AddScalar => "add_scalar",
        /// `a * c` for a scalar `c`
        MulScalar => "mul_scalar",
        /// `a / c` for a scalar `c` (a true division, so results match numpy's bit for bit)
        DivScalar => "div_scalar",
        /// `c - a` for a scalar `c`
        RSubScalar => "rsub_scalar",
        /// `c / a` for a scalar `c`
        RDivScalar => "rdiv_scalar",
        /// `a^p` for a scalar `p`
        PowScalar => "pow_scalar",
        /// `a^b` elementwise
        Pow => "pow",
        /// `max(a, b)` elementwise
        Maximum => "maximum",
        /// `min(a, b)` elementwise
        Minimum => "minimum",
    }
}

/// Applies `f` to two broadcast operands, or explains why their shapes do not broadcast.
pub(crate) fn broadcast_binary<T: Real>(
    op: &str,
    inputs: &[&Tensor<T>],
    f: impl Fn(T, T) -> T + Sync,
) -> Result<Tensor<T>, OpError> {
    let (a, b) = (inputs[0], inputs[1]);
    zip_with(a, b, f).ok_or_else(|| {
        OpError::new(
            op,
            &[a.shape(), b.shape()],
            "the shapes do not broadcast (numpy rule: aligned from the last axis, each pair of \
             sizes must be equal or one of them 1)",
        )
    })
}

fn grad_if<T: Real>(
    ctx: &BackwardContext<'_, T>,
    i: usize,
    f: impl FnOnce() -> Tensor<T>,
) -> Option<Tensor<T>> {
    ctx.needs_grad(i).then(f)
}

fn zip<T: Real>(a: &Tensor<T>, b: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) -> Tensor<T> {
    zip_with(a, b, f).expect("backward operands broadcast like the forward's")
}

/// `a + b`; `d/da = 1`, `d/db = 1`.
struct AddOp;

impl<T: Real> Op<T> for AddOp {
    fn name(&self) -> &str {
        Arithmetic::Add.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        broadcast_binary("add", x, |a, b| a + b)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        vec![Some(g.clone()), Some(g.clone())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        Some(vec![Some(g), Some(g)])
    }
}

/// `a - b`; `d/da = 1`, `d/db = -1`.
struct SubOp;

impl<T: Real> Op<T> for SubOp {
    fn name(&self) -> &str {
        Arithmetic::Sub.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        broadcast_binary("sub", x, |a, b| a - b)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        vec![Some(g.clone()), grad_if(ctx, 1, || map(g, |v| -v))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        Some(vec![Some(g), ctx.grad_if(1, || -g)])
    }
}

/// `a * b`; `d/da = b`, `d/db = a`.
struct MulOp;

impl<T: Real> Op<T> for MulOp {
    fn name(&self) -> &str {
        Arithmetic::Mul.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        broadcast_binary("mul", x, |a, b| a * b)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        vec![
            grad_if(ctx, 0, || zip(g, ctx.input(1), |g, b| g * b)),
            grad_if(ctx, 1, || zip(g, ctx.input(0), |g, a| g * a)),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, a, b) = (ctx.grad_output(), ctx.input(0), ctx.input(1));
        Some(vec![ctx.grad_if(0, || g * b), ctx.grad_if(1, || g * a)])
    }
}

/// `a / b`; `d/da = 1/b`, `d/db = -a/b^2 = -(a/b)/b`.
struct DivOp;

impl<T: Real> Op<T> for DivOp {
    fn name(&self) -> &str {
        Arithmetic::Div.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        broadcast_binary("div", x, |a, b| a / b)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        let b = ctx.input(1);
        vec![
            grad_if(ctx, 0, || zip(g, b, |g, b| g / b)),
            grad_if(ctx, 1, || {
                let g_out = zip(g, ctx.output(), |g, y| -g * y);
                zip(&g_out, b, |v, b| v / b)
            }),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, b, y) = (ctx.grad_output(), ctx.input(1), ctx.output());
        Some(vec![
            ctx.grad_if(0, || g / b),
            ctx.grad_if(1, || -(g * y) / b),
        ])
    }
}

/// `-a`; `d/da = -1`.
struct NegOp;

impl<T: Real> Op<T> for NegOp {
    fn name(&self) -> &str {
        Arithmetic::Neg.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| -a))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(map(ctx.grad_output(), |g| -g))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(-ctx.grad_output())])
    }
}

/// An op of one tensor and one fixed scalar `c`: `a + c`, `a * c`, `a / c`, `c - a`, `c / a`,
/// `a^c`. Derivatives: `1`, `c`, `1/c`, `-1`, `-c/a^2 = -y/a`, `c a^(c-1)`.
struct ScalarOp<T> {
    kind: Arithmetic,
    c: T,
}

/// `a^c`, exact for the small integer powers people write (`x^2`, `x^3`), like numpy.
fn pow_scalar<T: Real>(a: T, c: T) -> T {
    if c == T::lit(2.0) {
        a * a
    } else if c == T::one() {
        a
    } else if c == T::lit(3.0) {
        a * a * a
    } else if c == T::lit(0.5) {
        a.sqrt()
    } else if c == -T::one() {
        T::one() / a
    } else {
        a.powf(c)
    }
}

impl<T: Real> Op<T> for ScalarOp<T> {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        // One loop per kind, so that the loop body has no branch and vectorises.
        let (a, c) = (x[0], self.c);
        Ok(match self.kind {
            Arithmetic::AddScalar => map(a, |a| a + c),
            Arithmetic::MulScalar => map(a, |a| a * c),
            Arithmetic::DivScalar => map(a, |a| a / c),
            Arithmetic::RSubScalar => map(a, |a| c - a),
            Arithmetic::RDivScalar => map(a, |a| c / a),
            Arithmetic::PowScalar => map(a, |a| pow_scalar(a, c)),
            other => unreachable!("{} is not a scalar op", other.name()),
        })
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        let grad = match self.kind {
            Arithmetic::AddScalar => g.clone(),
            Arithmetic::MulScalar => map(g, |g| g * self.c),
            Arithmetic::DivScalar => map(g, |g| g / self.c),
            Arithmetic::RSubScalar => map(g, |g| -g),
            Arithmetic::RDivScalar => {
                let gy = zip(g, ctx.output(), |g, y| g * y);
                zip(&gy, ctx.input(0), |gy, a| -gy / a)
            }
            Arithmetic::PowScalar => {
                let c = self.c;
                if c == T::zero() {
                    map(g, |_| T::zero())
                } else {
                    zip(g, ctx.input(0), |g, a| g * c * pow_scalar(a, c - T::one()))
                }
            }
            other => unreachable!("{} is not a scalar op", other.name()),
        };
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, c) = (ctx.grad_output(), self.c);
        let grad = match self.kind {
            Arithmetic::AddScalar => g,
            Arithmetic::MulScalar => g.mul_scalar(c),
            Arithmetic::DivScalar => g.div_scalar(c),
            Arithmetic::RSubScalar => -g,
            Arithmetic::RDivScalar => -(g * ctx.output()) / ctx.input(0),
            Arithmetic::PowScalar if c == T::zero() => g.mul_scalar(T::zero()),
            Arithmetic::PowScalar => g * ctx.input(0).powf(c - T::one()).mul_scalar(c),
            other => unreachable!("{} is not a scalar op", other.name()),
        };
        Some(vec![Some(grad)])
    }
}

/// `a^b` elementwise; `d/da = b a^(b-1)`, `d/db = a^b ln a` (defined for `a > 0`).
struct PowOp;

impl<T: Real> Op<T> for PowOp {
    fn name(&self) -> &str {
        Arithmetic::Pow.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        broadcast_binary("pow", x, |a, b| a.powf(b))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (g, a, b, y) = (ctx.grad_output(), ctx.input(0), ctx.input(1), ctx.output());
        vec![
            grad_if(ctx, 0, || {
                let dab = zip(a, b, |a, b| {
                    if b == T::zero() {
                        T::zero()
                    } else {
                        b * a.powf(b - T::one())
                    }
                });
                zip(g, &dab, |g, d| g * d)
            }),
            grad_if(ctx, 1, || {
                let gy = zip(g, y, |g, y| g * y);
                zip(&gy, a, |gy, a| gy * a.ln())
            }),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, a, b, y) = (ctx.grad_output(), ctx.input(0), ctx.input(1), ctx.output());
        Some(vec![
            ctx.grad_if(0, || {
                // b a^(b-1), taken as 0 where b = 0: there the exponent is 0 instead of -1,
                // so that a = 0 gives 0 * 1 rather than 0 * inf.
                let nonzero = ctx.constant(b.with_value(|b| indicator(b, |b| b != T::zero())));
                g * b * a.pow(b - nonzero)
            }),
            ctx.grad_if(1, || g * y * a.ln()),
        ])
    }
}

/// `max(a, b)` or `min(a, b)` elementwise. The gradient goes to the operand that was picked;
/// on a tie it is split evenly, like PyTorch.
struct PickOp {
    kind: Arithmetic,
}

impl<T: Real> Op<T> for PickOp {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        match self.kind {
            Arithmetic::Maximum => broadcast_binary("maximum", x, |a, b| a.max(b)),
            _ => broadcast_binary("minimum", x, |a, b| a.min(b)),
        }
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output();
        let share = self.share(ctx.input(0), ctx.input(1));
        vec![
            grad_if(ctx, 0, || zip(g, &share, |g, s| g * s)),
            grad_if(ctx, 1, || zip(g, &share, |g, s| g * (T::one() - s))),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        let share = ctx
            .input(0)
            .with_value(|a| ctx.input(1).with_value(|b| self.share(a, b)));
        let share = ctx.constant(share);
        Some(vec![
            ctx.grad_if(0, || g * share),
            ctx.grad_if(1, || g * share.rsub_scalar(T::one())),
        ])
    }
}

impl PickOp {
    /// The fraction of the gradient that goes to `a`, elementwise: 1 where `a` was picked, 0
    /// where `b` was, one half on a tie.
    fn share<T: Real>(&self, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
        let half = T::lit(0.5);
        let first_wins = self.kind == Arithmetic::Maximum;
        zip(a, b, |a, b| {
            if a == b {
                half
            } else if (a > b) == first_wins {
                T::one()
            } else {
                T::zero()
            }
        })
    }
}

impl<'t, T: Real> Var<'t, T> {
    #[track_caller]
    fn scalar_op(self, kind: Arithmetic, c: T) -> Var<'t, T> {
        or_panic(self.record1(kind, ScalarOp { kind, c }))
    }

    /// `self + rhs` (the `+` operator), or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_add(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Arithmetic::Add, AddOp)
    }

    /// `self - rhs` (the `-` operator), or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_sub(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Arithmetic::Sub, SubOp)
    }

    /// `self * rhs` elementwise (the `*` operator), or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_mul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Arithmetic::Mul, MulOp)
    }

    /// `self / rhs` elementwise (the `/` operator), or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_div(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Arithmetic::Div, DivOp)
    }

    /// `self + c` for a scalar (also written `self + c`).
    #[track_caller]
    pub fn add_scalar(self, c: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::AddScalar, c)
    }

    /// `self - c` for a scalar (also written `self - c`).
    #[track_caller]
    pub fn sub_scalar(self, c: T) -> Var<'t, T> {
        // a - c and a + (-c) round identically in IEEE arithmetic.
        self.scalar_op(Arithmetic::AddScalar, -c)
    }

    /// `self * c` for a scalar (also written `self * c`).
    #[track_caller]
    pub fn mul_scalar(self, c: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::MulScalar, c)
    }

    /// `self / c` for a scalar (also written `self / c`).
    #[track_caller]
    pub fn div_scalar(self, c: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::DivScalar, c)
    }

    /// `c - self` for a scalar (also written `c - self` for `f32` and `f64`).
    #[track_caller]
    pub fn rsub_scalar(self, c: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::RSubScalar, c)
    }

    /// `c / self` for a scalar (also written `c / self` for `f32` and `f64`).
    #[track_caller]
    pub fn rdiv_scalar(self, c: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::RDivScalar, c)
    }

    /// `self^p` elementwise for a scalar exponent.
    #[track_caller]
    pub fn powf(self, p: T) -> Var<'t, T> {
        self.scalar_op(Arithmetic::PowScalar, p)
    }

    /// `self^exponent` elementwise, broadcasting; the base must be positive where the
    /// exponent's gradient is wanted.
    #[track_caller]
    pub fn pow(self, exponent: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_pow(exponent))
    }

    /// `self^exponent`, or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_pow(self, exponent: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(exponent, Arithmetic::Pow, PowOp)
    }

    /// `max(self, other)` elementwise, broadcasting.
    #[track_caller]
    pub fn maximum(self, other: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_maximum(other))
    }

    /// `max(self, other)`, or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_maximum(self, other: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        let kind = Arithmetic::Maximum;
        self.record2(other, kind, PickOp { kind })
    }

    /// `min(self, other)` elementwise, broadcasting.
    #[track_caller]
    pub fn minimum(self, other: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_minimum(other))
    }

    /// `min(self, other)`, or an error if the shapes do not broadcast.
    #[track_caller]
    pub fn try_minimum(self, other: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        let kind = Arithmetic::Minimum;
        self.record2(other, kind, PickOp { kind })
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $var_method:ident, $scalar_method:ident) => {
        impl<'t, T: Real> $trait for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                or_panic(Var::$var_method(self, rhs))
            }
        }

        impl<'t, T: Real> $trait<T> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Var<'t, T> {
                Var::$scalar_method(self, rhs)
            }
        }
    };
}

binary_operator!(Add, add, try_add, add_scalar);
binary_operator!(Sub, sub, try_sub, sub_scalar);
binary_operator!(Mul, mul, try_mul, mul_scalar);
binary_operator!(Div, div, try_div, div_scalar);

macro_rules! scalar_on_the_left {
    ($($t:ty),*) => {$(
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn add(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.add_scalar(self)
            }
        }

        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn sub(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.rsub_scalar(self)
            }
        }

        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn mul(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.mul_scalar(self)
            }
        }

        impl<'t> Div<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn div(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.rdiv_scalar(self)
            }
        }
    )*};
}

scalar_on_the_left!(f32, f64);

impl<'t, T: Real> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        or_panic(self.record1(Arithmetic::Neg, NegOp))
    }
}

/// Gradcheck cases for the arithmetic ops: same shapes, broadcasting both ways, scalars.
pub(crate) fn gradcheck_cases(kind: Arithmetic) -> Vec<Case> {
    type Bin = for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>;
    let binary = |name: &str, f: Bin, positive_rhs: bool| -> Vec<Case> {
        let rhs = |shape: &[usize], seed| {
            if positive_rhs {
                positive(shape, seed)
            } else {
                sample(shape, seed)
            }
        };
        vec![
            Case::new(
                format!("{name} [2, 3] with [2, 3]"),
                vec![sample(&[2, 3], 1), rhs(&[2, 3], 2)],
                move |v| f(v[0], v[1]),
            ),
            Case::new(
                format!("{name} [4, 3] with [3] (row broadcast)"),
                vec![sample(&[4, 3], 3), rhs(&[3], 4)],
                move |v| f(v[0], v[1]),
            ),
            Case::new(
                format!("{name} [2, 1, 3] with [4, 1] (both broadcast)"),
                vec![sample(&[2, 1, 3], 5), rhs(&[4, 1], 6)],
                move |v| f(v[0], v[1]),
            ),
            Case::new(
                format!("{name} [] with [3, 2] (scalar on the left)"),
                vec![sample(&[], 7), rhs(&[3, 2], 8)],
                move |v| f(v[0], v[1]),
            ),
        ]
    };
    let unary = |name: &str, f: fn(Var<'_, f64>) -> Var<'_, f64>, pos: bool| -> Vec<Case> {
        let gen = |shape: &[usize], seed| {
            if pos {
                positive(shape, seed)
            } else {
                sample(shape, seed)
            }
        };
        vec![
            Case::new(format!("{name} [5]"), vec![gen(&[5], 11)], move |v| f(v[0])),
            Case::new(
                format!("{name} [2, 3, 2]"),
                vec![gen(&[2, 3, 2], 12)],
                move |v| f(v[0]),
            ),
            Case::new(format!("{name} []"), vec![gen(&[], 13)], move |v| f(v[0])),
        ]
    };
    match kind {
        Arithmetic::Add => binary("add", |a, b| a + b, false),
        Arithmetic::Sub => binary("sub", |a, b| a - b, false),
        Arithmetic::Mul => binary("mul", |a, b| a * b, false),
        Arithmetic::Div => binary("div", |a, b| a / b, true),
        Arithmetic::Neg => unary("neg", |a| -a, false),
        Arithmetic::AddScalar => unary("add_scalar 1.5", |a| a + 1.5, false),
        Arithmetic::MulScalar => unary("mul_scalar -2.5", |a| a * -2.5, false),
        Arithmetic::DivScalar => unary("div_scalar 4", |a| a / 4.0, false),
        Arithmetic::RSubScalar => unary("rsub_scalar 1 - a", |a| 1.0 - a, false),
        Arithmetic::RDivScalar => unary("rdiv_scalar 2 / a", |a| 2.0 / a, true),
        Arithmetic::PowScalar => {
            let mut cases = unary("pow_scalar a^2", |a| a.powf(2.0), false);
            cases.extend(unary("pow_scalar a^3", |a| a.powf(3.0), false));
            cases.extend(unary("pow_scalar a^-1.5", |a| a.powf(-1.5), true));
            cases.extend(unary("pow_scalar a^0.5", |a| a.powf(0.5), true));
            cases
        }
        Arithmetic::Pow => {
            let mut cases = vec![Case::new(
                "pow [2, 3] ^ [2, 3]",
                vec![positive(&[2, 3], 21), sample(&[2, 3], 22)],
                |v| v[0].pow(v[1]),
            )];
            cases.push(Case::new(
                "pow [3, 2] ^ [2] (broadcast exponent)",
                vec![positive(&[3, 2], 23), sample(&[2], 24)],
                |v| v[0].pow(v[1]),
            ));
            cases
        }
        Arithmetic::Maximum => binary("maximum", |a, b| a.maximum(b), false),
        Arithmetic::Minimum => binary("minimum", |a, b| a.minimum(b), false),
    }
}

#[cfg(test)]
mod tests {
    use crate::{scalar, tensor, Tape};

    #[test]
    fn quadratic_has_the_textbook_derivative() {
        // d/dx (x^2 + 5x + 4) = 2x + 5
        for x0 in [-3.0, 0.0, 0.5, 7.0] {
            let tape = Tape::<f64>::new();
            let x = tape.var(scalar(x0));
            let y = x.powf(2.0) + x * 5.0 + 4.0;
            assert_eq!(y.item(), x0 * x0 + 5.0 * x0 + 4.0);
            let g = tape.backward(y);
            assert_eq!(g.get(x).unwrap()[[]], 2.0 * x0 + 5.0);
        }
    }

    #[test]
    fn broadcast_gradients_are_summed_back_to_the_operand_shape() {
        let tape = Tape::<f64>::new();
        let a = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let b = tape.var(tensor(&[3], vec![1.0, 1.0, 1.0]));
        let y = (a * b).sum();
        let g = tape.backward(y);
        assert_eq!(g.get(b).unwrap().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
        assert_eq!(g.get(a).unwrap().shape(), &[2, 3]);
    }

    #[test]
    fn mismatched_shapes_name_the_op_and_both_shapes() {
        let tape = Tape::<f32>::new();
        let a = tape.var(tensor(&[2, 3], vec![0.0; 6]));
        let b = tape.var(tensor(&[4], vec![0.0; 4]));
        let err = a.try_add(b).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("add:"), "{msg}");
        assert!(msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a * b)).unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(
            text.starts_with("mul:") && text.contains("broadcast"),
            "{text}"
        );
    }

    #[test]
    fn scalars_on_the_left_work_for_both_float_types() {
        let tape = Tape::<f32>::new();
        let x = tape.var(scalar(4.0f32));
        assert_eq!((1.0f32 - x).item(), -3.0);
        assert_eq!((2.0f32 / x).item(), 0.5);
        let t64 = Tape::<f64>::new();
        let y = t64.var(scalar(4.0));
        assert_eq!((3.0 * y + 1.0).item(), 13.0);
    }
}
