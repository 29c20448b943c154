//! Slicing with a step: `x[start..end:step]` along one axis, numpy's `x[start:end:step]`.
//!
//! The op is linear, so its `backward_vars` records the adjoint (the gradient scattered back
//! into every `step`-th place) as an op of its own.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::adjoint::linear_backward_vars;
use super::{op_family, or_panic, resolve_axis};
use crate::gradcheck::registry::{sample, Case};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// Slices with a step.
    Strided {
        /// `x[start..end:step]` along an axis
        SliceStep => "slice_step",
    }
}

/// `y = x[start..end:step]` along `axis`: the elements at `start`, `start + step`, ... below
/// `end`; a negative step walks from the end of the range back to its start. The gradient is
/// the incoming gradient at those places and zero elsewhere.
#[derive(Clone)]
struct SliceStepOp {
    axis: isize,
    start: usize,
    end: usize,
    step: isize,
    resolved: usize,
}

impl SliceStepOp {
    fn slice(&self) -> Slice {
        Slice::new(self.start as isize, Some(self.end as isize), self.step)
    }
}

impl<T: Real> Op<T> for SliceStepOp {
    fn name(&self) -> &str {
        Strided::SliceStep.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        const OP: &str = "slice_step";
        let shape = x[0].shape();
        self.resolved = resolve_axis(OP, self.axis, shape)?;
        let size = shape[self.resolved];
        if self.step == 0 {
            return Err(OpError::new(OP, &[shape], "the step must not be 0"));
        }
        if self.start > self.end || self.end > size {
            return Err(OpError::new(
                OP,
                &[shape],
                format!(
                    "the range {}..{} is out of bounds for axis {} of size {size}",
                    self.start, self.end, self.resolved
                ),
            ));
        }
        let mut y = x[0].clone();
        y.slice_axis_inplace(Axis(self.resolved), self.slice());
        Ok(y)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let mut dx = ArrayD::<T>::zeros(IxDyn(ctx.input(0).shape()));
        dx.slice_axis_mut(Axis(self.resolved), self.slice())
            .assign(ctx.grad_output());
        vec![Some(dx.into_shared())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        linear_backward_vars(self, Strided::SliceStep, ctx)
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Every `step`-th element of `start..end` along `axis` (numpy's `x[start:end:step]`);
    /// a negative `step` takes them from the end of the range backwards (`x[start:end][::step]`,
    /// so `slice_step(0, 0, n, -1)` reverses an axis of length `n`).
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(tensor(&[2, 5], (0..10).map(|v| v as f32).collect()));
    /// let y = x.slice_step(1, 0, 5, 2); // columns 0, 2, 4
    /// assert_eq!(y.value().iter().copied().collect::<Vec<_>>(), [0., 2., 4., 5., 7., 9.]);
    /// let g = tape.backward(y.sum());
    /// assert_eq!(&g.get(x).unwrap().as_slice().unwrap()[..5], &[1., 0., 1., 0., 1.]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, `start > end`, `end` exceeds the axis or `step` is 0; see
    /// [`try_slice_step`](Var::try_slice_step).
    #[track_caller]
    pub fn slice_step(self, axis: isize, start: usize, end: usize, step: isize) -> Var<'t, T> {
        or_panic(self.try_slice_step(axis, start, end, step))
    }

    /// [`slice_step`](Var::slice_step), or an error instead of the panic.
    #[track_caller]
    pub fn try_slice_step(
        self,
        axis: isize,
        start: usize,
        end: usize,
        step: isize,
    ) -> Result<Var<'t, T>, OpError> {
        let op = SliceStepOp {
            axis,
            start,
            end,
            step,
            resolved: 0,
        };
        self.record1(Strided::SliceStep, op)
    }
}

/// Gradcheck cases: steps 2 and 3, a negative step, a step past the end, several axes.
pub(crate) fn gradcheck_cases(kind: Strided) -> Vec<Case> {
    match kind {
        Strided::SliceStep => vec![
            Case::new("slice_step [7] 0..7:2", vec![sample(&[7], 71)], |v| {
                v[0].slice_step(0, 0, 7, 2)
            }),
            Case::new(
                "slice_step [3, 8] axis 1, 1..8:3",
                vec![sample(&[3, 8], 72)],
                |v| v[0].slice_step(1, 1, 8, 3),
            ),
            Case::new(
                "slice_step [4, 3, 2] axis 0, 0..4:-1 (reversed)",
                vec![sample(&[4, 3, 2], 73)],
                |v| v[0].slice_step(0, 0, 4, -1),
            ),
            Case::new(
                "slice_step [2, 6] axis -1, 2..5:10 (one element)",
                vec![sample(&[2, 6], 74)],
                |v| v[0].slice_step(-1, 2, 5, 10),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use crate::{tensor, Tape};

    #[test]
    fn steps_pick_what_numpy_picks() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[10], (0..10).map(f64::from).collect()));
        // numpy: np.arange(10)[1:9:3] = [1, 4, 7]; np.arange(10)[2:7][::-2] = [6, 4, 2].
        let values = |v: crate::Var<'_, f64>| v.value().iter().copied().collect::<Vec<_>>();
        assert_eq!(values(x.slice_step(0, 1, 9, 3)), [1.0, 4.0, 7.0]);
        assert_eq!(values(x.slice_step(0, 2, 7, -2)), [6.0, 4.0, 2.0]);
        let y = x.slice_step(0, 2, 7, -2);
        let seed = tensor(&[3], vec![10.0, 20.0, 30.0]);
        let g = tape.backward_with(y, seed);
        let mut want = vec![0.0; 10];
        want[6] = 10.0;
        want[4] = 20.0;
        want[2] = 30.0;
        assert_eq!(g.get(x).unwrap().as_slice().unwrap(), want.as_slice());
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_op() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3], vec![0.0; 6]));
        for (axis, start, end, step) in [(1, 0, 3, 0), (1, 2, 1, 1), (1, 0, 4, 1), (2, 0, 1, 1)] {
            let err = x.try_slice_step(axis, start, end, step).unwrap_err();
            assert!(err.to_string().starts_with("slice_step:"), "{err}");
        }
    }
}
