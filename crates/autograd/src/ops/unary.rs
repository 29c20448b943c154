//! Elementwise functions of one tensor: exp, ln, sqrt, abs, square, clamp.
//!
//! Each forward is one [`map`] over the input and each backward one [`zip_with`] of the
//! incoming gradient with the input or the output, whichever gives the derivative directly.

use super::{indicator, op_family, or_panic};
use crate::gradcheck::registry::{positive, sample, sample_in, Case};
use crate::kernels::elementwise::{map, zip_with};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The elementwise functions of one tensor.
    Unary {
        /// `e^a`
        Exp => "exp",
        /// `ln a`, the natural logarithm
        Ln => "ln",
        /// `sqrt(a)`
        Sqrt => "sqrt",
        /// `|a|`
        Abs => "abs",
        /// `a^2`
        Square => "square",
        /// `a` limited to `[lo, hi]`
        Clamp => "clamp",
    }
}

/// `f(g, v)` for the gradient and a same-shaped saved value (the input or the output).
fn zip<T: Real>(g: &Tensor<T>, v: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) -> Tensor<T> {
    zip_with(g, v, f).expect("the output gradient has the shape of the op's input and output")
}

/// `y = e^a`; `dy/da = e^a = y`.
struct ExpOp;

impl<T: Real> Op<T> for ExpOp {
    fn name(&self) -> &str {
        Unary::Exp.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a.exp()))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(zip(ctx.grad_output(), ctx.output(), |g, y| g * y))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(ctx.grad_output() * ctx.output())])
    }
}

/// `y = ln a`; `dy/da = 1/a`.
struct LnOp;

impl<T: Real> Op<T> for LnOp {
    fn name(&self) -> &str {
        Unary::Ln.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a.ln()))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(zip(ctx.grad_output(), ctx.input(0), |g, a| g / a))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(ctx.grad_output() / ctx.input(0))])
    }
}

/// `y = sqrt(a)`; `dy/da = 1 / (2 sqrt(a)) = 1 / (2y)`.
struct SqrtOp;

impl<T: Real> Op<T> for SqrtOp {
    fn name(&self) -> &str {
        Unary::Sqrt.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a.sqrt()))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(zip(ctx.grad_output(), ctx.output(), |g, y| {
            g / (y + y)
        }))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let y = ctx.output();
        Some(vec![Some(ctx.grad_output() / (y + y))])
    }
}

/// `y = |a|`; `dy/da = sign(a)`, taken as 0 at `a = 0` (a subgradient, as in PyTorch).
struct AbsOp;

impl<T: Real> Op<T> for AbsOp {
    fn name(&self) -> &str {
        Unary::Abs.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a.abs()))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let zero = T::zero();
        let grad = zip(ctx.grad_output(), ctx.input(0), |g, a| {
            if a > zero {
                g
            } else if a < zero {
                -g
            } else {
                zero
            }
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let sign = ctx.input(0).with_value(|a| {
            map(a, |a| {
                if a > T::zero() {
                    T::one()
                } else if a < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                }
            })
        });
        Some(vec![Some(ctx.grad_output() * ctx.constant(sign))])
    }
}

/// `y = a^2`; `dy/da = 2a`.
struct SquareOp;

impl<T: Real> Op<T> for SquareOp {
    fn name(&self) -> &str {
        Unary::Square.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a * a))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(zip(ctx.grad_output(), ctx.input(0), |g, a| {
            g * (a + a)
        }))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let a = ctx.input(0);
        Some(vec![Some(ctx.grad_output() * (a + a))])
    }
}

/// `y = min(max(a, lo), hi)`; `dy/da = 1` for `lo < a < hi`, 0 outside (where the output is a
/// constant bound) and at the bounds themselves. NaN inputs stay NaN.
struct ClampOp<T> {
    lo: T,
    hi: T,
}

impl<T: Real> Op<T> for ClampOp<T> {
    fn name(&self) -> &str {
        Unary::Clamp.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (lo, hi) = (self.lo, self.hi);
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(OpError::new(
                "clamp",
                &[x[0].shape()],
                format!(
                    "the bounds must satisfy lo <= hi (got lo = {lo}, hi = {hi}); pass an \
                     infinite bound (such as f32::INFINITY) for a side without a bound"
                ),
            ));
        }
        // Comparisons rather than max/min, so that a NaN input is not silently replaced by a
        // bound: a NaN in the activations should stay visible.
        Ok(map(x[0], |a| {
            if a < lo {
                lo
            } else if a > hi {
                hi
            } else {
                a
            }
        }))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (lo, hi) = (self.lo, self.hi);
        let grad = zip(ctx.grad_output(), ctx.input(0), |g, a| {
            if a > lo && a < hi {
                g
            } else {
                T::zero()
            }
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (lo, hi) = (self.lo, self.hi);
        let inside = ctx
            .input(0)
            .with_value(|a| indicator(a, |a| a > lo && a < hi));
        Some(vec![Some(ctx.grad_output() * ctx.constant(inside))])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// `e^x` elementwise.
    #[track_caller]
    pub fn exp(self) -> Var<'t, T> {
        or_panic(self.record1(Unary::Exp, ExpOp))
    }

    /// The natural logarithm `ln x` elementwise (NaN for negative inputs, `-inf` at 0).
    #[track_caller]
    pub fn ln(self) -> Var<'t, T> {
        or_panic(self.record1(Unary::Ln, LnOp))
    }

    /// `sqrt(x)` elementwise. Its gradient is infinite at 0.
    #[track_caller]
    pub fn sqrt(self) -> Var<'t, T> {
        or_panic(self.record1(Unary::Sqrt, SqrtOp))
    }

    /// `|x|` elementwise; the gradient at 0 is taken to be 0.
    #[track_caller]
    pub fn abs(self) -> Var<'t, T> {
        or_panic(self.record1(Unary::Abs, AbsOp))
    }

    /// `x^2` elementwise (exact, and cheaper than `powf(2.0)` in backward).
    #[track_caller]
    pub fn square(self) -> Var<'t, T> {
        or_panic(self.record1(Unary::Square, SquareOp))
    }

    /// `x` limited to `[lo, hi]` elementwise: `lo` below it, `hi` above. The gradient is 1
    /// strictly inside the interval and 0 outside.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let p = tape.var(tensor(&[3], vec![0.0, 0.5, 1.0]));
    /// // keep probabilities away from 0 and 1 before taking logs
    /// let safe = p.clamp(1e-7, 1.0 - 1e-7);
    /// assert_eq!(safe.value()[[1]], 0.5);
    /// ```
    ///
    /// # Panics
    /// If `lo > hi` or either bound is NaN; see [`try_clamp`](Var::try_clamp).
    #[track_caller]
    pub fn clamp(self, lo: T, hi: T) -> Var<'t, T> {
        or_panic(self.try_clamp(lo, hi))
    }

    /// `x` limited to `[lo, hi]`, or an error if `lo > hi` or either bound is NaN. Pass an
    /// infinite bound to clamp one side only.
    #[track_caller]
    pub fn try_clamp(self, lo: T, hi: T) -> Result<Var<'t, T>, OpError> {
        self.record1(Unary::Clamp, ClampOp { lo, hi })
    }
}

/// Gradcheck cases for the elementwise functions: vectors, a 3-D batch and a scalar, with
/// inputs inside each function's domain and away from its kinks.
pub(crate) fn gradcheck_cases(kind: Unary) -> Vec<Case> {
    type Gen = fn(&[usize], u64) -> Tensor<f64>;
    let cases = |name: &str, f: fn(Var<'_, f64>) -> Var<'_, f64>, gen: Gen| -> Vec<Case> {
        vec![
            Case::new(format!("{name} [5]"), vec![gen(&[5], 31)], move |v| f(v[0])),
            Case::new(
                format!("{name} [2, 3, 4]"),
                vec![gen(&[2, 3, 4], 32)],
                move |v| f(v[0]),
            ),
            Case::new(format!("{name} []"), vec![gen(&[], 33)], move |v| f(v[0])),
        ]
    };
    match kind {
        Unary::Exp => {
            let mut c = cases("exp", |a| a.exp(), sample);
            c.push(Case::new(
                "exp [3, 2] in ±[1, 3]",
                vec![sample_in(&[3, 2], 34, 1.0, 3.0, true)],
                |v| v[0].exp(),
            ));
            c
        }
        Unary::Ln => {
            let mut c = cases("ln", |a| a.ln(), positive);
            c.push(Case::new(
                "ln [4, 3] in [0.05, 20]",
                vec![sample_in(&[4, 3], 35, 0.05, 20.0, false)],
                |v| v[0].ln(),
            ));
            c
        }
        Unary::Sqrt => cases("sqrt", |a| a.sqrt(), positive),
        Unary::Abs => cases("abs", |a| a.abs(), sample),
        Unary::Square => cases("square", |a| a.square(), sample),
        Unary::Clamp => {
            // Samples are ±[0.2, 1]; bounds at ±0.6 clip some and pass others, and 0.6 is far
            // (in units of the finite-difference step) from every sample drawn here.
            let mut c = cases("clamp(-0.6, 0.6)", |a| a.clamp(-0.6, 0.6), sample);
            c.push(Case::new(
                "clamp(0.1, inf) [3, 4] in ±[0.2, 1]",
                vec![sample(&[3, 4], 36)],
                |v| v[0].clamp(0.1, f64::INFINITY),
            ));
            c.push(Case::new(
                "clamp(-inf, -0.5) [6]",
                vec![sample(&[6], 37)],
                |v| v[0].clamp(f64::NEG_INFINITY, -0.5),
            ));
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{scalar, tensor, Tape};

    #[test]
    fn values_and_derivatives_match_the_formulas() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[3], vec![0.5, 1.0, 4.0]));
        let y = x.exp() + x.ln() + x.sqrt() + x.square();
        let g = tape.backward(y.sum());
        let gx = g.get(x).unwrap();
        for (i, &a) in [0.5f64, 1.0, 4.0].iter().enumerate() {
            let want = a.exp() + a.ln() + a.sqrt() + a * a;
            assert!((y.value()[[i]] - want).abs() < 1e-12);
            let dwant = a.exp() + 1.0 / a + 0.5 / a.sqrt() + 2.0 * a;
            assert!((gx[[i]] - dwant).abs() < 1e-12, "{} vs {dwant}", gx[[i]]);
        }
    }

    #[test]
    fn abs_and_clamp_gradients_are_zero_where_flat() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[5], vec![-2.0, -0.5, 0.0, 0.5, 2.0]));
        let c = x.clamp(-1.0, 1.0);
        assert_eq!(c.value().as_slice().unwrap(), &[-1.0, -0.5, 0.0, 0.5, 1.0]);
        let g = tape.backward((c + x.abs()).sum());
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[-1.0, 0.0, 1.0, 2.0, 1.0]
        );
    }

    #[test]
    fn clamp_keeps_nan_and_rejects_reversed_bounds() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2], vec![f64::NAN, 3.0]));
        let c = x.clamp(0.0, 1.0);
        assert!(c.value()[[0]].is_nan());
        assert_eq!(c.value()[[1]], 1.0);
        let err = x.try_clamp(1.0, 0.0).unwrap_err().to_string();
        assert!(
            err.starts_with("clamp:") && err.contains("lo <= hi"),
            "{err}"
        );
        assert!(x.try_clamp(f64::NAN, 1.0).is_err());
    }

    #[test]
    fn rank_zero_inputs_work() {
        let tape = Tape::<f32>::new();
        let x = tape.var(scalar(4.0f32));
        assert_eq!(x.sqrt().item(), 2.0);
        let g = tape.backward(x.sqrt());
        assert_eq!(g.get(x).unwrap()[[]], 0.25);
    }
}
