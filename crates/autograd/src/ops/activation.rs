//! Activations: relu, leaky relu, sigmoid, tanh, softplus, softmax and log-softmax.
//!
//! The elementwise activations are one [`map`] forward and one [`zip_with`] backward each.
//! Softmax and log-softmax work along an axis (the last one for `[batch, classes]` logits)
//! with the kernels of [`kernels::softmax`](crate::kernels::softmax). All of them are
//! computed in forms that give no NaN or infinity for finite inputs, however large.

use super::{indicator, op_family, or_panic, resolve_axis};
use crate::gradcheck::registry::{distinct, sample, sample_in, Case};
use crate::kernels::elementwise::{map, map_slices, zip_with};
use crate::kernels::math;
use crate::kernels::softmax::{log_softmax, log_softmax_backward, softmax, softmax_backward};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The activations.
    Activation {
        /// `max(a, 0)`
        Relu => "relu",
        /// `a` where positive, `slope * a` elsewhere
        LeakyRelu => "leaky_relu",
        /// `1 / (1 + e^-a)`
        Sigmoid => "sigmoid",
        /// `tanh a`
        Tanh => "tanh",
        /// `ln(1 + e^a)`
        Softplus => "softplus",
        /// `e^a / sum(e^a)` along an axis
        Softmax => "softmax",
        /// `a - ln sum(e^a)` along an axis
        LogSoftmax => "log_softmax",
    }
}

/// `f(g, v)` for the gradient and a same-shaped saved value (the input or the output).
fn zip<T: Real>(g: &Tensor<T>, v: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) -> Tensor<T> {
    zip_with(g, v, f).expect("the output gradient has the shape of the op's input and output")
}

/// The logistic function, without overflow: `e^(-|x|)` is at most 1, and for negative `x`
/// the form `e^x / (1 + e^x)` keeps the precision of small results.
#[inline]
fn sigmoid<T: Real>(x: T) -> T {
    let e = (-x.abs()).exp();
    let numerator = if x >= T::zero() { T::one() } else { e };
    numerator / (T::one() + e)
}

/// `y = max(a, 0)`; `dy/da = 1` where `y > 0`, else 0 (0 at the kink, as in PyTorch).
struct ReluOp;

impl<T: Real> Op<T> for ReluOp {
    fn name(&self) -> &str {
        Activation::Relu.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let zero = T::zero();
        // A comparison rather than max: it vectorises to a select and lets NaN through.
        Ok(map(x[0], |a| if a < zero { zero } else { a }))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let zero = T::zero();
        let grad = zip(ctx.grad_output(), ctx.output(), |g, y| {
            if y > zero {
                g
            } else {
                zero
            }
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let active = ctx.output().with_value(|y| indicator(y, |y| y > T::zero()));
        Some(vec![Some(ctx.grad_output() * ctx.constant(active))])
    }
}

/// `y = a` for `a > 0`, `slope * a` otherwise; `dy/da = 1` for `a > 0`, `slope` otherwise.
struct LeakyReluOp<T> {
    slope: T,
}

impl<T: Real> Op<T> for LeakyReluOp<T> {
    fn name(&self) -> &str {
        Activation::LeakyRelu.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (zero, slope) = (T::zero(), self.slope);
        Ok(map(x[0], |a| if a > zero { a } else { slope * a }))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        // From the input, not the output: a negative slope would flip the output's sign.
        let (zero, slope) = (T::zero(), self.slope);
        let grad = zip(ctx.grad_output(), ctx.input(0), |g, a| {
            if a > zero {
                g
            } else {
                g * slope
            }
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let slope = self.slope;
        let factor = ctx
            .input(0)
            .with_value(|a| map(a, |a| if a > T::zero() { T::one() } else { slope }));
        Some(vec![Some(ctx.grad_output() * ctx.constant(factor))])
    }
}

/// `y = 1 / (1 + e^-a)`; `dy/da = y (1 - y)`.
struct SigmoidOp;

impl<T: Real> Op<T> for SigmoidOp {
    fn name(&self) -> &str {
        Activation::Sigmoid.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], sigmoid))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let grad = zip(ctx.grad_output(), ctx.output(), |g, y| {
            g * y * (T::one() - y)
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let y = ctx.output();
        Some(vec![Some(ctx.grad_output() * y * y.rsub_scalar(T::one()))])
    }
}

/// `y = tanh a`; `dy/da = 1 - y^2`.
///
/// Computed by [`math::tanh_slice`], which vectorises (the C library's `tanh` does one value
/// at a time, several times slower), within 2 units in the last place.
struct TanhOp;

impl<T: Real> Op<T> for TanhOp {
    fn name(&self) -> &str {
        Activation::Tanh.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map_slices(x[0], math::tanh_slice))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let grad = zip(ctx.grad_output(), ctx.output(), |g, y| {
            g * (T::one() - y * y)
        });
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let y = ctx.output();
        Some(vec![Some(
            ctx.grad_output() * (y * y).rsub_scalar(T::one()),
        )])
    }
}

/// `y = ln(1 + e^a)`, computed as `max(a, 0) + ln(1 + e^-|a|)` so that large `a` cannot
/// overflow; `dy/da = sigmoid(a)`.
struct SoftplusOp;

impl<T: Real> Op<T> for SoftplusOp {
    fn name(&self) -> &str {
        Activation::Softplus.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], |a| a.max(T::zero()) + (-a.abs()).exp().ln_1p()))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let grad = zip(ctx.grad_output(), ctx.input(0), |g, a| g * sigmoid(a));
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(ctx.grad_output() * ctx.input(0).sigmoid())])
    }
}

/// `y_i = e^(a_i - m) / sum_j e^(a_j - m)` along an axis, `m` the maximum along it (which
/// cancels, and keeps every exponent at most 0); `da = y * (g - sum(g * y))`, the sum along the
/// axis.
struct SoftmaxOp {
    axis: isize,
    resolved: usize,
}

impl<T: Real> Op<T> for SoftmaxOp {
    fn name(&self) -> &str {
        Activation::Softmax.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        self.resolved = resolve_axis("softmax", self.axis, x[0].shape())?;
        Ok(softmax(x[0], self.resolved))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let grad = softmax_backward(ctx.output(), ctx.grad_output(), self.resolved);
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, y) = (ctx.grad_output(), ctx.output());
        let along = (g * y).sum_axes(&[self.resolved as isize], true);
        Some(vec![Some(y * (g - along))])
    }
}

/// `y_i = (a_i - m) - ln sum_j e^(a_j - m)` along an axis, `m` the maximum along it;
/// `da = g - softmax(a) * sum(g)` with `softmax(a) = e^y`, the sum along the axis.
struct LogSoftmaxOp {
    axis: isize,
    resolved: usize,
}

impl<T: Real> Op<T> for LogSoftmaxOp {
    fn name(&self) -> &str {
        Activation::LogSoftmax.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        self.resolved = resolve_axis("log_softmax", self.axis, x[0].shape())?;
        Ok(log_softmax(x[0], self.resolved))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let grad = log_softmax_backward(ctx.output(), ctx.grad_output(), self.resolved);
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, y) = (ctx.grad_output(), ctx.output());
        let along = g.sum_axes(&[self.resolved as isize], true);
        Some(vec![Some(g - y.exp() * along)])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The rectified linear unit `max(x, 0)` elementwise. Its gradient is 1 where the output
    /// is positive and 0 elsewhere (including at 0).
    #[track_caller]
    pub fn relu(self) -> Var<'t, T> {
        or_panic(self.record1(Activation::Relu, ReluOp))
    }

    /// Leaky relu: `x` where positive, `slope * x` elsewhere (`slope` is often 0.01), so that
    /// negative inputs still pass a small gradient.
    #[track_caller]
    pub fn leaky_relu(self, slope: T) -> Var<'t, T> {
        or_panic(self.record1(Activation::LeakyRelu, LeakyReluOp { slope }))
    }

    /// The logistic sigmoid `1 / (1 + e^-x)` elementwise, in `(0, 1)`; finite for any finite
    /// input, e.g. exactly 0 and 1 at -1000 and 1000.
    #[track_caller]
    pub fn sigmoid(self) -> Var<'t, T> {
        or_panic(self.record1(Activation::Sigmoid, SigmoidOp))
    }

    /// The hyperbolic tangent `tanh x` elementwise, in `(-1, 1)`.
    #[track_caller]
    pub fn tanh(self) -> Var<'t, T> {
        or_panic(self.record1(Activation::Tanh, TanhOp))
    }

    /// Softplus `ln(1 + e^x)` elementwise, a smooth relu whose derivative is `sigmoid(x)`;
    /// computed without overflow for large `x`.
    #[track_caller]
    pub fn softplus(self) -> Var<'t, T> {
        or_panic(self.record1(Activation::Softplus, SoftplusOp))
    }

    /// Softmax along `axis` (`-1` for the last): `e^x / sum(e^x)` along it, so that each lane
    /// along the axis is a probability distribution. Subtracting each lane's maximum first
    /// keeps it finite for any finite logits.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let logits = tape.var(tensor(&[1, 3], vec![3.0, 1.0, 0.2]));
    /// let p = logits.softmax(-1).value();
    /// assert!((p[[0, 0]] - 0.8360188).abs() < 1e-6);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range; see [`try_softmax`](Var::try_softmax).
    #[track_caller]
    pub fn softmax(self, axis: isize) -> Var<'t, T> {
        or_panic(self.try_softmax(axis))
    }

    /// Softmax along `axis`, or an error if the axis is out of range.
    #[track_caller]
    pub fn try_softmax(self, axis: isize) -> Result<Var<'t, T>, OpError> {
        self.record1(Activation::Softmax, SoftmaxOp { axis, resolved: 0 })
    }

    /// Log-softmax along `axis` (`-1` for the last): `x - ln sum(e^x)` along it, the log of
    /// [`softmax`](Var::softmax) computed directly, so that it stays finite where the softmax
    /// underflows to 0. Pair it with a negative log-likelihood for cross-entropy.
    ///
    /// # Panics
    /// If `axis` is out of range; see [`try_log_softmax`](Var::try_log_softmax).
    #[track_caller]
    pub fn log_softmax(self, axis: isize) -> Var<'t, T> {
        or_panic(self.try_log_softmax(axis))
    }

    /// Log-softmax along `axis`, or an error if the axis is out of range.
    #[track_caller]
    pub fn try_log_softmax(self, axis: isize) -> Result<Var<'t, T>, OpError> {
        self.record1(Activation::LogSoftmax, LogSoftmaxOp { axis, resolved: 0 })
    }
}

/// Gradcheck cases for the activations: elementwise ones on vectors, batches and scalars with
/// inputs away from 0 (the relu kink) and out into the saturated range; softmax and
/// log-softmax along every axis of a 3-D input.
pub(crate) fn gradcheck_cases(kind: Activation) -> Vec<Case> {
    type Unary = fn(Var<'_, f64>) -> Var<'_, f64>;
    let elementwise = |name: &str, f: Unary, wide: bool| -> Vec<Case> {
        let mut cases = vec![
            Case::new(format!("{name} [5]"), vec![sample(&[5], 41)], move |v| {
                f(v[0])
            }),
            Case::new(
                format!("{name} [3, 4]"),
                vec![sample(&[3, 4], 42)],
                move |v| f(v[0]),
            ),
            Case::new(
                format!("{name} [2, 3, 4]"),
                vec![sample(&[2, 3, 4], 43)],
                move |v| f(v[0]),
            ),
            Case::new(
                format!("{name} []"),
                vec![sample(&[], 44)],
                move |v| f(v[0]),
            ),
        ];
        if wide {
            cases.push(Case::new(
                format!("{name} [4, 3] in ±[1, 8]"),
                vec![sample_in(&[4, 3], 45, 1.0, 8.0, true)],
                move |v| f(v[0]),
            ));
        }
        cases
    };
    type Along = fn(Var<'_, f64>, isize) -> Var<'_, f64>;
    let along_axes = |name: &str, f: Along| -> Vec<Case> {
        let mut cases: Vec<Case> = [0isize, 1, -1]
            .into_iter()
            .map(|axis| {
                Case::new(
                    format!("{name} [2, 3, 4] axis {axis}"),
                    vec![distinct(&[2, 3, 4], 50 + axis.unsigned_abs() as u64)],
                    move |v| f(v[0], axis),
                )
            })
            .collect();
        cases.push(Case::new(
            format!("{name} [5] axis 0"),
            vec![sample(&[5], 54)],
            move |v| f(v[0], 0),
        ));
        cases.push(Case::new(
            format!("{name} [1, 10] axis -1 (batch of one)"),
            vec![sample_in(&[1, 10], 55, 0.0, 3.0, true)],
            move |v| f(v[0], -1),
        ));
        cases.push(Case::new(
            format!("{name} [3, 4] axis 1, logits near 100"),
            vec![sample_in(&[3, 4], 56, 99.0, 101.0, false)],
            move |v| f(v[0], 1),
        ));
        cases
    };
    match kind {
        Activation::Relu => elementwise("relu", |a| a.relu(), false),
        Activation::LeakyRelu => {
            let mut cases = elementwise("leaky_relu 0.1", |a| a.leaky_relu(0.1), false);
            cases.push(Case::new(
                "leaky_relu -0.3 [2, 5]",
                vec![sample(&[2, 5], 46)],
                |v| v[0].leaky_relu(-0.3),
            ));
            cases
        }
        Activation::Sigmoid => elementwise("sigmoid", |a| a.sigmoid(), true),
        Activation::Tanh => elementwise("tanh", |a| a.tanh(), true),
        Activation::Softplus => elementwise("softplus", |a| a.softplus(), true),
        Activation::Softmax => along_axes("softmax", |a, axis| a.softmax(axis)),
        Activation::LogSoftmax => along_axes("log_softmax", |a, axis| a.log_softmax(axis)),
    }
}

#[cfg(test)]
mod tests {
    use crate::{scalar, tensor, Tape};

    #[test]
    fn softmax_matches_the_lesson() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[3], vec![3.0, 1.0, 0.2]));
        let p = x.softmax(0).value();
        let want = [0.8360188f32, 0.11314284, 0.05083836];
        for (got, want) in p.iter().zip(want) {
            assert!((got - want).abs() <= 1e-7, "{p} vs {want:?}");
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let tape = Tape::<f64>::new();
        let data: Vec<f64> = (0..24).map(|i| (i as f64 * 0.37).sin() * 5.0).collect();
        let x = tape.var(tensor(&[2, 3, 4], data));
        for (axis, len) in [(0isize, 2usize), (1, 3), (2, 4), (-1, 4)] {
            let p = x.softmax(axis).value();
            let ax = ndarray::Axis(axis.rem_euclid(3) as usize);
            for s in p.sum_axis(ax) {
                assert!((s - 1.0).abs() < 1e-12, "axis {axis}: {s}");
            }
            assert_eq!(p.shape()[ax.0], len);
            let lp = x.log_softmax(axis).value();
            for (a, b) in lp.iter().zip(p.iter()) {
                assert!((a.exp() - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn huge_logits_stay_finite() {
        let tape = Tape::<f32>::new();
        let big = tape.var(tensor(&[2], vec![1000.0, 1001.0]));
        let small = tape.var(tensor(&[2], vec![0.0, 1.0]));
        let p = big.softmax(-1).value();
        assert!(p.iter().all(|v| v.is_finite()));
        assert_eq!(p, small.softmax(-1).value());
        let lp = tape
            .constant(tensor(&[1, 3], vec![1e30, -1e30, 0.0]))
            .log_softmax(-1);
        assert!(lp.value().iter().all(|v| v.is_finite()), "{}", lp.value());
        assert_eq!(lp.value()[[0, 0]], 0.0);
        let x = tape.var(tensor(&[1, 3], vec![1e30f32, -1e30, 0.0]));
        let g = tape.backward(x.log_softmax(-1).sum());
        assert!(g.get(x).unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn saturated_activations_stay_finite() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[4], vec![-1000.0, 1000.0, -30.0, 30.0]));
        let s = x.sigmoid().value();
        assert_eq!(s[[0]], 0.0);
        assert_eq!(s[[1]], 1.0);
        assert!(s[[2]] > 0.0 && s[[2]] < 1e-12);
        let sp = x.softplus().value();
        assert_eq!(sp[[0]], 0.0);
        assert_eq!(sp[[1]], 1000.0);
        let g = tape.backward((x.sigmoid() + x.softplus() + x.tanh()).sum());
        assert!(g.get(x).unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn relu_family_values_and_gradients() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[4], vec![-2.0, -0.5, 0.0, 3.0]));
        let r = x.relu();
        let l = x.leaky_relu(0.1);
        assert_eq!(r.value().as_slice().unwrap(), &[0.0, 0.0, 0.0, 3.0]);
        assert_eq!(l.value().as_slice().unwrap(), &[-0.2, -0.05, 0.0, 3.0]);
        let g = tape.backward((r + l).sum());
        assert_eq!(g.get(x).unwrap().as_slice().unwrap(), &[0.1, 0.1, 0.1, 2.0]);
    }

    #[test]
    fn bad_axes_are_errors_that_name_the_op() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3], vec![0.0; 6]));
        let err = x.try_softmax(2).unwrap_err().to_string();
        assert!(
            err.starts_with("softmax:") && err.contains("[2, 3]"),
            "{err}"
        );
        let err = x.try_log_softmax(-3).unwrap_err().to_string();
        assert!(err.starts_with("log_softmax:"), "{err}");
        assert!(tape.var(scalar(1.0f32)).try_softmax(0).is_err());
        assert!(x.try_softmax(-2).is_ok());
    }

    #[test]
    fn strided_input_gives_the_same_softmax_and_gradient() {
        let tape = Tape::<f64>::new();
        let data = tensor(&[3, 4], (0..12).map(|i| (i as f64 * 0.7).cos()).collect());
        let seed = tensor(&[4, 3], (0..12).map(|i| i as f64 * 0.1 - 0.5).collect());
        let t = data.clone().reversed_axes();
        let tc = t.as_standard_layout().into_owned().into_shared();
        let (xs, xc) = (tape.var(t), tape.var(tc));
        let (ys, yc) = (xs.log_softmax(-1), xc.log_softmax(-1));
        assert_eq!(ys.value(), yc.value());
        let gs = tape.backward_with(ys, seed.clone());
        let gc = tape.backward_with(yc, seed);
        assert_eq!(gs.get(xs).unwrap(), gc.get(xc).unwrap());
    }
}
