//! Reductions: sum, mean, max, min (over everything or along axes, optionally keeping the
//! reduced axes), logsumexp, and argmax / argmin (which have no gradient).
//!
//! Axes are `isize`, negative ones counting from the end (`-1` is the last axis), as in numpy.
//! With `keepdims` the reduced axes stay with size 1, so the result broadcasts against the
//! input: `x - x.max_axes(&[-1], true)` subtracts each row's maximum.
//!
//! Sums are computed in a fixed order that does not depend on the number of threads, the
//! order numpy uses: values along the last axes are summed pairwise, values down leading axes
//! one row after the other (see [`kernels::reduce`](crate::kernels::reduce)).

use ndarray::ArrayD;

use super::{op_family, or_panic, resolve_axes, resolve_axis};
use crate::gradcheck::registry::{distinct, sample, Case};
use crate::kernels::reduce::{
    arg_extreme, expand_reduced, group_size, logsumexp, reduce, zip_reduced, Fold,
};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The reductions.
    Reduction {
        /// The sum of all elements.
        Sum => "sum",
        /// Sums along axes.
        SumAxes => "sum_axes",
        /// The mean of all elements.
        Mean => "mean",
        /// Means along axes.
        MeanAxes => "mean_axes",
        /// The largest element.
        Max => "max",
        /// Maxima along axes.
        MaxAxes => "max_axes",
        /// The smallest element.
        Min => "min",
        /// Minima along axes.
        MinAxes => "min_axes",
        /// `ln(sum(exp(x)))` along axes, computed stably.
        LogSumExp => "logsumexp",
    }
}

/// Which axes a reduction was asked for, and the resolved, sorted ones once its input is known.
struct Axes {
    /// `None`: every axis.
    requested: Option<Vec<isize>>,
    keepdims: bool,
    resolved: Vec<usize>,
}

impl Axes {
    fn all() -> Self {
        Axes {
            requested: None,
            keepdims: false,
            resolved: Vec::new(),
        }
    }

    fn some(axes: &[isize], keepdims: bool) -> Self {
        Axes {
            requested: Some(axes.to_vec()),
            keepdims,
            resolved: Vec::new(),
        }
    }

    fn resolve(&mut self, op: &str, shape: &[usize]) -> Result<(), OpError> {
        self.resolved = match &self.requested {
            None => (0..shape.len()).collect(),
            Some(axes) => resolve_axes(op, axes, shape)?,
        };
        Ok(())
    }
}

/// The output gradient as C-order data, one value per reduced group.
fn group_values<T: Real>(g: &Tensor<T>) -> std::borrow::Cow<'_, [T]> {
    match g.as_slice() {
        Some(s) => s.into(),
        None => g.iter().copied().collect::<Vec<_>>().into(),
    }
}

/// A reduced value (or its gradient) repeated over the axes it was reduced along, back to the
/// input's `shape`.
fn expand_var<'t, T: Real>(g: Var<'t, T>, shape: &[usize], axes: &[usize]) -> Var<'t, T> {
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
        .collect();
    g.reshape(&kept).broadcast_to(shape)
}

/// Sum or mean over axes: `y = sum(x)` or `y = sum(x) / n` over each group of `n` elements;
/// `dy/dx = 1` or `1/n` for every element of the group.
struct SumOp {
    kind: Reduction,
    axes: Axes,
}

impl<T: Real> Op<T> for SumOp {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let a = x[0];
        self.axes.resolve(self.kind.name(), a.shape())?;
        let axes = &self.axes.resolved;
        let sum = reduce(a, axes, Fold::Sum, self.axes.keepdims);
        Ok(match self.kind {
            Reduction::Mean | Reduction::MeanAxes => {
                // A true division, as numpy's mean does, so results agree bit for bit.
                let n = T::from_usize_lossy(group_size(a.shape(), axes));
                sum.mapv(|s| s / n).into_shared()
            }
            _ => sum,
        })
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let shape = ctx.input(0).shape();
        let axes = &self.axes.resolved;
        let g = group_values(ctx.grad_output());
        let grad = match self.kind {
            Reduction::Mean | Reduction::MeanAxes => {
                let n = T::from_usize_lossy(group_size(shape, axes));
                let scaled: Vec<T> = g.iter().map(|&g| g / n).collect();
                expand_reduced(&scaled, shape, axes)
            }
            _ => expand_reduced(&g, shape, axes),
        };
        vec![Some(grad)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let shape = ctx.input(0).shape();
        let axes = &self.axes.resolved;
        let grad = expand_var(ctx.grad_output(), &shape, axes);
        Some(vec![Some(match self.kind {
            Reduction::Mean | Reduction::MeanAxes => {
                grad.div_scalar(T::from_usize_lossy(group_size(&shape, axes)))
            }
            _ => grad,
        })])
    }
}

/// Maximum or minimum over axes: `y = max(x)` over each group. The gradient goes to the
/// elements equal to `y`, split evenly when several tie: `dy/dx_i = [x_i = y] / #{j: x_j = y}`
/// (PyTorch's `amax`/`amin` rule, which keeps gradients of symmetric inputs symmetric).
struct ExtremeOp {
    kind: Reduction,
    axes: Axes,
}

impl ExtremeOp {
    fn is_max(&self) -> bool {
        matches!(self.kind, Reduction::Max | Reduction::MaxAxes)
    }
}

impl<T: Real> Op<T> for ExtremeOp {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let a = x[0];
        let name = self.kind.name();
        self.axes.resolve(name, a.shape())?;
        let axes = &self.axes.resolved;
        if group_size(a.shape(), axes) == 0 {
            let what = if self.is_max() { "maximum" } else { "minimum" };
            return Err(OpError::new(
                name,
                &[a.shape()],
                format!("cannot take the {what} of no elements: the reduced axes are empty"),
            ));
        }
        let fold = if self.is_max() { Fold::Max } else { Fold::Min };
        Ok(reduce(a, axes, fold, self.axes.keepdims))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let axes = &self.axes.resolved;
        let (mask, ties) = self.picked(ctx.input(0), ctx.output());
        let g = group_values(ctx.grad_output());
        let share: Vec<T> = g.iter().zip(ties.iter()).map(|(&g, &n)| g / n).collect();
        vec![Some(zip_reduced(&mask, &share, axes, |m, s| m * s))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let axes = &self.axes.resolved;
        let share = ctx.input(0).with_value(|x| {
            ctx.output().with_value(|y| {
                let (mask, ties) = self.picked(x, y);
                let inverse: Vec<T> = ties.iter().map(|&n| T::one() / n).collect();
                zip_reduced(&mask, &inverse, axes, |m, s| m * s)
            })
        });
        let shape = ctx.input(0).shape();
        let grad = expand_var(ctx.grad_output(), &shape, axes);
        Some(vec![Some(grad * ctx.constant(share))])
    }
}

impl ExtremeOp {
    /// 1 where an element of `x` is its group's extreme `y`, 0 elsewhere; and how many tie in
    /// each group.
    fn picked<T: Real>(&self, x: &Tensor<T>, y: &Tensor<T>) -> (Tensor<T>, Tensor<T>) {
        let axes = &self.axes.resolved;
        let mask = zip_reduced(x, &group_values(y), axes, |x, y| {
            if x == y {
                T::one()
            } else {
                T::zero()
            }
        });
        let ties = reduce(&mask, axes, Fold::Sum, false);
        (mask, ties)
    }
}

/// `y = ln(sum(exp(x)))` over each group, computed as `m + ln(sum(exp(x - m)))` with `m` the
/// group's maximum so that nothing overflows; `dy/dx_i = exp(x_i - y)` (the softmax).
struct LogSumExpOp {
    axes: Axes,
}

impl<T: Real> Op<T> for LogSumExpOp {
    fn name(&self) -> &str {
        Reduction::LogSumExp.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        self.axes.resolve("logsumexp", x[0].shape())?;
        Ok(logsumexp(x[0], &self.axes.resolved, self.axes.keepdims))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (x, axes) = (ctx.input(0), &self.axes.resolved);
        let y = group_values(ctx.output());
        let g = group_values(ctx.grad_output());
        // A group of -inf (fully masked) has y = -inf and gets no gradient rather than NaN.
        let p = zip_reduced(x, &y, axes, |x, y| {
            if y == T::neg_infinity() {
                T::zero()
            } else {
                (x - y).exp()
            }
        });
        vec![Some(zip_reduced(&p, &g, axes, |p, g| p * g))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (x, axes) = (ctx.input(0), &self.axes.resolved);
        let shape = x.shape();
        // A group of -inf (fully masked) gets no gradient rather than NaN: its -inf is raised
        // to the lowest finite value, so that exp(x - y) is exp(-inf) = 0 there.
        let lowest = ctx.constant(crate::scalar(T::min_value()));
        let y = expand_var(ctx.output().maximum(lowest), &shape, axes);
        let g = expand_var(ctx.grad_output(), &shape, axes);
        Some(vec![Some((x - y).exp() * g)])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The sum of all elements, as a rank-0 value.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(x.sum().item(), 10.0);
    /// ```
    #[track_caller]
    pub fn sum(self) -> Var<'t, T> {
        let kind = Reduction::Sum;
        or_panic(self.record1(
            kind,
            SumOp {
                kind,
                axes: Axes::all(),
            },
        ))
    }

    /// Sums along `axes` (negative axes count from the end), keeping them with size 1 if
    /// `keepdims`; numpy's `x.sum(axis=axes, keepdims=keepdims)`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let cols = x.sum_axes(&[0], false); // the bias gradient of a batch
    /// assert_eq!(cols.value().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum_axes(&[-1], true).shape(), vec![2, 1]);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or named twice; see [`try_sum_axes`](Self::try_sum_axes).
    #[track_caller]
    pub fn sum_axes(self, axes: &[isize], keepdims: bool) -> Var<'t, T> {
        or_panic(self.try_sum_axes(axes, keepdims))
    }

    /// [`sum_axes`](Self::sum_axes), or an error for an axis out of range or named twice.
    #[track_caller]
    pub fn try_sum_axes(self, axes: &[isize], keepdims: bool) -> Result<Var<'t, T>, OpError> {
        let kind = Reduction::SumAxes;
        let axes = Axes::some(axes, keepdims);
        self.record1(kind, SumOp { kind, axes })
    }

    /// The mean of all elements, as a rank-0 value (NaN for an empty value, like numpy).
    #[track_caller]
    pub fn mean(self) -> Var<'t, T> {
        let kind = Reduction::Mean;
        or_panic(self.record1(
            kind,
            SumOp {
                kind,
                axes: Axes::all(),
            },
        ))
    }

    /// Means along `axes`, keeping them with size 1 if `keepdims`; numpy's
    /// `x.mean(axis=axes, keepdims=keepdims)`.
    ///
    /// # Panics
    /// If an axis is out of range or named twice; see [`try_mean_axes`](Self::try_mean_axes).
    #[track_caller]
    pub fn mean_axes(self, axes: &[isize], keepdims: bool) -> Var<'t, T> {
        or_panic(self.try_mean_axes(axes, keepdims))
    }

    /// [`mean_axes`](Self::mean_axes), or an error for an axis out of range or named twice.
    #[track_caller]
    pub fn try_mean_axes(self, axes: &[isize], keepdims: bool) -> Result<Var<'t, T>, OpError> {
        let kind = Reduction::MeanAxes;
        let axes = Axes::some(axes, keepdims);
        self.record1(kind, SumOp { kind, axes })
    }

    #[track_caller]
    fn extreme(self, kind: Reduction, axes: Axes) -> Result<Var<'t, T>, OpError> {
        self.record1(kind, ExtremeOp { kind, axes })
    }

    /// The largest element, as a rank-0 value. Its gradient is shared evenly by the elements
    /// that tie for the maximum.
    ///
    /// # Panics
    /// If the value is empty; see [`try_max`](Self::try_max).
    #[track_caller]
    pub fn max(self) -> Var<'t, T> {
        or_panic(self.try_max())
    }

    /// [`max`](Self::max), or an error for an empty value.
    #[track_caller]
    pub fn try_max(self) -> Result<Var<'t, T>, OpError> {
        self.extreme(Reduction::Max, Axes::all())
    }

    /// Maxima along `axes`, keeping them with size 1 if `keepdims`; numpy's
    /// `x.max(axis=axes, keepdims=keepdims)`. The gradient of each maximum is shared evenly
    /// by the elements that tie for it.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(tensor(&[2, 3], vec![1.0, 5.0, 5.0, 4.0, 2.0, 0.0]));
    /// let m = x.max_axes(&[1], false);
    /// assert_eq!(m.value().as_slice().unwrap(), &[5.0, 4.0]);
    /// let g = tape.backward(m.sum());
    /// assert_eq!(g.get(x).unwrap().as_slice().unwrap(), &[0.0, 0.5, 0.5, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range, named twice or empty; see
    /// [`try_max_axes`](Self::try_max_axes).
    #[track_caller]
    pub fn max_axes(self, axes: &[isize], keepdims: bool) -> Var<'t, T> {
        or_panic(self.try_max_axes(axes, keepdims))
    }

    /// [`max_axes`](Self::max_axes), or an error for an axis out of range, named twice, or of
    /// size 0.
    #[track_caller]
    pub fn try_max_axes(self, axes: &[isize], keepdims: bool) -> Result<Var<'t, T>, OpError> {
        self.extreme(Reduction::MaxAxes, Axes::some(axes, keepdims))
    }

    /// The smallest element, as a rank-0 value. Its gradient is shared evenly by the elements
    /// that tie for the minimum.
    ///
    /// # Panics
    /// If the value is empty; see [`try_min`](Self::try_min).
    #[track_caller]
    pub fn min(self) -> Var<'t, T> {
        or_panic(self.try_min())
    }

    /// [`min`](Self::min), or an error for an empty value.
    #[track_caller]
    pub fn try_min(self) -> Result<Var<'t, T>, OpError> {
        self.extreme(Reduction::Min, Axes::all())
    }

    /// Minima along `axes`, keeping them with size 1 if `keepdims`; numpy's
    /// `x.min(axis=axes, keepdims=keepdims)`. Ties share the gradient evenly.
    ///
    /// # Panics
    /// If an axis is out of range, named twice or empty; see
    /// [`try_min_axes`](Self::try_min_axes).
    #[track_caller]
    pub fn min_axes(self, axes: &[isize], keepdims: bool) -> Var<'t, T> {
        or_panic(self.try_min_axes(axes, keepdims))
    }

    /// [`min_axes`](Self::min_axes), or an error for an axis out of range, named twice, or of
    /// size 0.
    #[track_caller]
    pub fn try_min_axes(self, axes: &[isize], keepdims: bool) -> Result<Var<'t, T>, OpError> {
        self.extreme(Reduction::MinAxes, Axes::some(axes, keepdims))
    }

    /// `ln(sum(exp(x)))` along `axes`, keeping them with size 1 if `keepdims`; computed as
    /// `m + ln(sum(exp(x - m)))` with `m` the maximum, so large inputs do not overflow. Its
    /// gradient is the softmax of `x` along `axes`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let z = tape.var(tensor(&[2], vec![1000.0, 1000.0]));
    /// let l = z.logsumexp_axes(&[0], false).item();
    /// assert!((l - (1000.0 + 2f32.ln())).abs() < 1e-3);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or named twice; see
    /// [`try_logsumexp_axes`](Self::try_logsumexp_axes).
    #[track_caller]
    pub fn logsumexp_axes(self, axes: &[isize], keepdims: bool) -> Var<'t, T> {
        or_panic(self.try_logsumexp_axes(axes, keepdims))
    }

    /// [`logsumexp_axes`](Self::logsumexp_axes), or an error for an axis out of range or named
    /// twice.
    #[track_caller]
    pub fn try_logsumexp_axes(self, axes: &[isize], keepdims: bool) -> Result<Var<'t, T>, OpError> {
        let axes = Axes::some(axes, keepdims);
        self.record1(Reduction::LogSumExp, LogSumExpOp { axes })
    }

    fn arg_extreme(self, name: &str, axis: isize, max: bool) -> Result<ArrayD<usize>, OpError> {
        self.with_value(|v| {
            let axis = resolve_axis(name, axis, v.shape())?;
            if v.shape()[axis] == 0 {
                return Err(OpError::new(
                    name,
                    &[v.shape()],
                    format!("axis {axis} is empty, so it has no extreme element"),
                ));
            }
            Ok(arg_extreme(v, axis, max))
        })
    }

    /// The index of the largest element along `axis` (the first one on ties), for each lane:
    /// numpy's `x.argmax(axis=axis)`, as when turning class scores into predicted labels.
    /// Not recorded on the tape (an index has no gradient).
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let scores = tape.var(tensor(&[2, 3], vec![0.1, 0.7, 0.2, 0.5, 0.4, 0.1]));
    /// assert_eq!(scores.argmax(-1).as_slice().unwrap(), &[1, 0]);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0; see [`try_argmax`](Self::try_argmax).
    #[track_caller]
    pub fn argmax(self, axis: isize) -> ArrayD<usize> {
        or_panic(self.try_argmax(axis))
    }

    /// [`argmax`](Self::argmax), or an error for an axis out of range or of size 0.
    pub fn try_argmax(self, axis: isize) -> Result<ArrayD<usize>, OpError> {
        self.arg_extreme("argmax", axis, true)
    }

    /// The index of the smallest element along `axis` (the first one on ties), for each lane:
    /// numpy's `x.argmin(axis=axis)`. Not recorded on the tape.
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0; see [`try_argmin`](Self::try_argmin).
    #[track_caller]
    pub fn argmin(self, axis: isize) -> ArrayD<usize> {
        or_panic(self.try_argmin(axis))
    }

    /// [`argmin`](Self::argmin), or an error for an axis out of range or of size 0.
    pub fn try_argmin(self, axis: isize) -> Result<ArrayD<usize>, OpError> {
        self.arg_extreme("argmin", axis, false)
    }
}

type AxesFn = for<'t> fn(Var<'t, f64>, &[isize], bool) -> Var<'t, f64>;

/// Cases of an axis-taking reduction: single axes (first, middle, last, negative), several
/// axes, none, every axis, with and without kept axes, on a few shapes.
fn axes_cases(name: &str, gen: fn(&[usize], u64) -> Tensor<f64>, f: AxesFn) -> Vec<Case> {
    let plans: &[(&[usize], &[isize])] = &[
        (&[4, 3], &[0]),
        (&[4, 3], &[1]),
        (&[4, 3], &[-1]),
        (&[2, 3, 4], &[0]),
        (&[2, 3, 4], &[1]),
        (&[2, 3, 4], &[-1]),
        (&[2, 3, 4], &[0, 2]),
        (&[2, 3, 4], &[-2, -1]),
        (&[2, 3, 4], &[0, 1]),
        (&[2, 3, 4], &[0, 1, 2]),
        (&[3, 1, 4], &[0, 2]),
        (&[5], &[0]),
        (&[3, 2], &[]),
    ];
    let mut cases = Vec::new();
    for (i, &(shape, axes)) in plans.iter().enumerate() {
        for keepdims in [false, true] {
            let axes = axes.to_vec();
            cases.push(Case::new(
                format!("{name} {shape:?} axes {axes:?} keepdims {keepdims}"),
                vec![gen(shape, 100 + i as u64)],
                move |v| f(v[0], &axes, keepdims),
            ));
        }
    }
    cases
}

fn all_cases(
    name: &str,
    gen: fn(&[usize], u64) -> Tensor<f64>,
    f: fn(Var<'_, f64>) -> Var<'_, f64>,
) -> Vec<Case> {
    [&[3, 4][..], &[2, 3, 2], &[5], &[]]
        .iter()
        .enumerate()
        .map(|(i, &shape)| {
            Case::new(
                format!("{name} {shape:?}"),
                vec![gen(shape, 1 + i as u64)],
                move |v| f(v[0]),
            )
        })
        .collect()
}

/// Gradcheck cases for the reductions; maxima and minima get inputs without ties.
pub(crate) fn gradcheck_cases(kind: Reduction) -> Vec<Case> {
    match kind {
        Reduction::Sum => all_cases("sum", sample, |x| x.sum()),
        Reduction::SumAxes => axes_cases("sum_axes", sample, |x, a, k| x.sum_axes(a, k)),
        Reduction::Mean => all_cases("mean", sample, |x| x.mean()),
        Reduction::MeanAxes => axes_cases("mean_axes", sample, |x, a, k| x.mean_axes(a, k)),
        Reduction::Max => all_cases("max", distinct, |x| x.max()),
        Reduction::MaxAxes => axes_cases("max_axes", distinct, |x, a, k| x.max_axes(a, k)),
        Reduction::Min => all_cases("min", distinct, |x| x.min()),
        Reduction::MinAxes => axes_cases("min_axes", distinct, |x, a, k| x.min_axes(a, k)),
        Reduction::LogSumExp => axes_cases("logsumexp", sample, |x, a, k| x.logsumexp_axes(a, k)),
    }
}

#[cfg(test)]
mod tests {
    use crate::{tensor, Tape};

    #[test]
    fn values_follow_numpy() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2, 3], vec![1.0, -2.0, 3.0, 4.0, 5.0, -6.0]));
        assert_eq!(x.sum().item(), 5.0);
        assert_eq!(x.mean().item(), 5.0 / 6.0);
        assert_eq!(x.max().item(), 5.0);
        assert_eq!(x.min().item(), -6.0);
        let m = x.mean_axes(&[0], false);
        assert_eq!(m.value().as_slice().unwrap(), &[2.5, 1.5, -1.5]);
        let k = x.max_axes(&[-1], true);
        assert_eq!(k.shape(), vec![2, 1]);
        assert_eq!(k.value().as_slice().unwrap(), &[3.0, 5.0]);
        assert_eq!(x.min_axes(&[0, 1], false).item(), -6.0);
        assert_eq!(x.sum_axes(&[], false).value(), x.value());
        assert_eq!(x.argmax(1).as_slice().unwrap(), &[2, 1]);
        assert_eq!(x.argmin(0).as_slice().unwrap(), &[0, 0, 1]);
        assert!(tape.len() > 1);
    }

    #[test]
    fn gradients_are_spread_over_the_reduced_axes() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let w = tape.constant(tensor(&[2], vec![10.0, 20.0]));
        let y = (x.mean_axes(&[0], false) * w).sum();
        let g = tape.backward(y);
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[5.0, 10.0, 5.0, 10.0]
        );
    }

    #[test]
    fn tied_maxima_share_the_gradient() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2, 3], vec![2.0, 2.0, 2.0, 1.0, 7.0, 7.0]));
        let g = tape.backward(x.max());
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 0.0, 0.5, 0.5]
        );
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2, 3], vec![2.0, 2.0, 2.0, 1.0, 7.0, 7.0]));
        let g = tape.backward(x.min_axes(&[1], false).sum());
        let third = 1.0 / 3.0;
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[third, third, third, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn logsumexp_is_stable_and_its_gradient_is_the_softmax() {
        let tape = Tape::<f32>::new();
        let z = tape.var(tensor(&[2, 2], vec![1000.0, 1001.0, -1000.0, -1000.0]));
        let l = z.logsumexp_axes(&[1], false);
        let v = l.value();
        assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
        assert!((v[[1]] - (-1000.0 + 2f32.ln())).abs() < 1e-3);
        let g = tape.backward(l.sum());
        let g = g.get(z).unwrap();
        // y is only known to f32 spacing near 1000 (6e-5).
        assert!((g[[0, 1]] - 1.0 / (1.0 + (-1f32).exp())).abs() < 2e-4);
        assert!((g[[1, 0]] - 0.5).abs() < 1e-4);
        let masked = Tape::<f64>::new();
        let m = masked.var(tensor(&[2], vec![f64::NEG_INFINITY; 2]));
        let out = m.logsumexp_axes(&[0], false);
        assert_eq!(out.item(), f64::NEG_INFINITY);
        let g = masked.backward(out);
        assert_eq!(g.get(m).unwrap().as_slice().unwrap(), &[0.0, 0.0]);
    }

    #[test]
    fn bad_axes_are_reported() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3], vec![0.0; 6]));
        let e = x.try_sum_axes(&[2], false).unwrap_err().to_string();
        assert!(
            e.starts_with("sum_axes:") && e.contains("out of range"),
            "{e}"
        );
        let e = x.try_mean_axes(&[1, -1], true).unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let e = x.try_argmax(-3).unwrap_err().to_string();
        assert!(e.starts_with("argmax:"), "{e}");
        let empty = tape.var(tensor(&[2, 0], vec![]));
        let e = empty.try_max_axes(&[1], false).unwrap_err().to_string();
        assert!(e.starts_with("max_axes:") && e.contains("empty"), "{e}");
        assert!(empty.try_min().is_err());
        assert!(empty.try_argmin(1).is_err());
        assert_eq!(empty.sum().item(), 0.0);
        assert_eq!(empty.max_axes(&[0], false).shape(), vec![0]);
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.max_axes(&[5], true)))
                .unwrap_err();
        assert!(panic.downcast_ref::<String>().unwrap().contains("axis 5"));
    }
}
