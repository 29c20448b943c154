//! Dropout as a mask multiply.
//!
//! [`Var::dropout`] is inverted dropout: during training each unit is kept with probability
//! `1 - p` and scaled by `1 / (1 - p)`, so that nothing needs rescaling at test time (where
//! dropout is simply not applied). [`Var::dropout_with_mask`] multiplies by a mask you made
//! yourself, for reproducing a book's exact masks or sharing one mask across steps.

use super::{op_family, or_panic};
use crate::gradcheck::registry::{sample, Case};
use crate::kernels::broadcast::broadcast_shape;
use crate::kernels::elementwise::zip_with;
use crate::random::{RandomStream, SplitMix64};
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// Regularization ops.
    Regularization {
        /// Inverted dropout with a freshly drawn mask.
        Dropout => "dropout",
        /// Multiplication by a given (already scaled) mask.
        DropoutMask => "dropout_with_mask",
    }
}

/// Inverted dropout: `y = x m / q` with `m` a mask of 0s and 1s (1 with probability
/// `q = 1 - p`); `dy/dx = m / q`.
///
/// Dividing by `q` (rather than multiplying by a precomputed `1/q`) gives the same bits as the
/// numpy `a = a * d; a = a / keep_prob` of the Coursera assignments.
struct DropoutOp<T> {
    keep_flags: Tensor<T>,
    keep: T,
}

impl<T: Real> Op<T> for DropoutOp<T> {
    fn name(&self) -> &str {
        Regularization::Dropout.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let q = self.keep;
        Ok(zip_with(x[0], &self.keep_flags, |x, m| x * m / q).expect("mask drawn in x's shape"))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let q = self.keep;
        let g = zip_with(ctx.grad_output(), &self.keep_flags, |g, m| g * m / q);
        vec![Some(g.expect("mask drawn in x's shape"))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let flags = ctx.constant(self.keep_flags.clone());
        Some(vec![Some(
            (ctx.grad_output() * flags).div_scalar(self.keep),
        )])
    }
}

/// `y = x * mask` for a fixed mask (broadcast to `x`'s shape); `dy/dx = mask`.
struct MaskOp<T> {
    mask: Tensor<T>,
}

impl<T: Real> Op<T> for MaskOp<T> {
    fn name(&self) -> &str {
        Regularization::DropoutMask.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (x, mask) = (x[0], &self.mask);
        if broadcast_shape(x.shape(), mask.shape()).as_deref() != Some(x.shape()) {
            return Err(OpError::new(
                Regularization::DropoutMask.name(),
                &[x.shape(), mask.shape()],
                "the mask must have the input's shape, or a shape that broadcasts to it (such \
                 as [1, H] to share one mask across a batch [N, H])",
            ));
        }
        Ok(zip_with(x, mask, |x, m| x * m).expect("checked above"))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = zip_with(ctx.grad_output(), &self.mask, |g, m| g * m);
        vec![Some(g.expect("checked in forward"))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(
            ctx.grad_output() * ctx.constant(self.mask.clone()),
        )])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Inverted dropout with drop probability `p`: each element is kept with probability
    /// `1 - p` and then divided by `1 - p` (so `p = 0.5` doubles the kept units, as the books
    /// do), or set to 0. Its gradient is the same mask. Apply it only while training.
    ///
    /// One uniform value is drawn from `rng` per element, in C order, and the element is kept
    /// when it is below `1 - p`. With a stream whose [`RandomStream::next_f64`] is numpy's
    /// `np.random.rand`, this is exactly numpy's
    /// `d = np.random.rand(*a.shape) < keep_prob; a = a * d; a = a / keep_prob`.
    ///
    /// ```
    /// use tapegrad_autograd::random::SplitMix64;
    /// use tapegrad_autograd::{ones, Tape};
    /// let tape = Tape::<f32>::new();
    /// let h = tape.var(ones(&[2, 4]));
    /// let mut rng = SplitMix64::new(0);
    /// let d = h.dropout(0.5, &mut rng);
    /// assert!(d.value().iter().all(|&v| v == 0.0 || v == 2.0));
    /// ```
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`; see [`try_dropout`](Self::try_dropout).
    #[track_caller]
    pub fn dropout(self, p: f64, rng: &mut impl RandomStream) -> Var<'t, T> {
        or_panic(self.try_dropout(p, rng))
    }

    /// [`dropout`](Self::dropout), or an error if `p` is not in `[0, 1)` (nothing is drawn
    /// then).
    #[track_caller]
    pub fn try_dropout(self, p: f64, rng: &mut impl RandomStream) -> Result<Var<'t, T>, OpError> {
        let shape = self.shape();
        if !(0.0..1.0).contains(&p) {
            return Err(OpError::new(
                Regularization::Dropout.name(),
                &[&shape],
                format!(
                    "the drop probability p = {p} must be in [0, 1) (p is the fraction dropped; \
                     keep_prob = 1 - p)"
                ),
            ));
        }
        let keep = 1.0 - p;
        let n = shape.iter().product();
        let flags = (0..n)
            .map(|_| {
                if rng.next_f64() < keep {
                    T::one()
                } else {
                    T::zero()
                }
            })
            .collect();
        let op = DropoutOp {
            keep_flags: tensor(&shape, flags),
            keep: T::lit(keep),
        };
        self.record1(Regularization::Dropout, op)
    }

    /// `self * mask` with a mask you supply, already scaled (for inverted dropout, kept units
    /// hold `1 / (1 - p)`, dropped ones 0). Its gradient is the mask. The mask may broadcast
    /// to `self`'s shape.
    ///
    /// Grokking Deep Learning's dropout (`mask = np.random.randint(2, size=shape)`, then
    /// `layer *= mask * 2`):
    ///
    /// ```
    /// use tapegrad_autograd::{ones, tensor, Tape};
    /// // np.random.seed(2); mask = np.random.randint(2, size=(2, 4))
    /// let mask = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    /// let tape = Tape::<f64>::new();
    /// let layer = tape.var(ones(&[2, 4]));
    /// let d = layer.dropout_with_mask(tensor(&[2, 4], mask.map(|m| m * 2.0).to_vec()));
    /// assert_eq!(d.value().as_slice().unwrap(), &[0.0, 2.0, 2.0, 0.0, 0.0, 2.0, 0.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If the mask does not broadcast to `self`'s shape; see
    /// [`try_dropout_with_mask`](Self::try_dropout_with_mask).
    #[track_caller]
    pub fn dropout_with_mask(self, mask: Tensor<T>) -> Var<'t, T> {
        or_panic(self.try_dropout_with_mask(mask))
    }

    /// [`dropout_with_mask`](Self::dropout_with_mask), or an error if the mask does not
    /// broadcast to `self`'s shape.
    #[track_caller]
    pub fn try_dropout_with_mask(self, mask: Tensor<T>) -> Result<Var<'t, T>, OpError> {
        self.record1(Regularization::DropoutMask, MaskOp { mask })
    }
}

/// Gradcheck cases for dropout: masks from seeded streams (drawn afresh, identically, on every
/// evaluation) and fixed masks.
pub(crate) fn gradcheck_cases(kind: Regularization) -> Vec<Case> {
    match kind {
        Regularization::Dropout => vec![
            Case::new(
                "dropout p=0.5 [4, 3] SplitMix64",
                vec![sample(&[4, 3], 1)],
                |v| v[0].dropout(0.5, &mut SplitMix64::new(7)),
            ),
            Case::new(
                "dropout p=0.2 [2, 3, 4] SplitMix64",
                vec![sample(&[2, 3, 4], 2)],
                |v| v[0].dropout(0.2, &mut SplitMix64::new(8)),
            ),
            Case::new("dropout p=0.3 [5] SplitMix64", vec![sample(&[5], 3)], |v| {
                v[0].dropout(0.3, &mut SplitMix64::new(1))
            }),
            Case::new("dropout p=0 [3, 2]", vec![sample(&[3, 2], 4)], |v| {
                v[0].dropout(0.0, &mut SplitMix64::new(9))
            }),
        ],
        Regularization::DropoutMask => {
            let mask = tensor(
                &[4, 3],
                vec![2.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 2.0],
            );
            let row = tensor(&[1, 3], vec![1.25, 0.0, 1.25]);
            vec![
                Case::new(
                    "dropout_with_mask [4, 3]",
                    vec![sample(&[4, 3], 11)],
                    move |v| v[0].dropout_with_mask(mask.clone()),
                ),
                Case::new(
                    "dropout_with_mask [4, 3] with a [1, 3] mask (broadcast)",
                    vec![sample(&[4, 3], 12)],
                    move |v| v[0].dropout_with_mask(row.clone()),
                ),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::random::SplitMix64;
    use crate::{ones, Tape};

    #[test]
    fn keeps_about_one_minus_p_and_preserves_the_mean() {
        let tape = Tape::<f32>::new();
        let x = tape.var(ones(&[100, 100]));
        let y = x.dropout(0.25, &mut SplitMix64::new(3)).value();
        let kept = y.iter().filter(|&&v| v != 0.0).count();
        assert!((7300..7700).contains(&kept), "{kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
        let mean = y.iter().sum::<f32>() / 1e4;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        let same = x.dropout(0.0, &mut SplitMix64::new(3));
        assert_eq!(same.value(), x.value());
    }

    #[test]
    fn bad_probabilities_and_masks_are_rejected() {
        let tape = Tape::<f32>::new();
        let x = tape.var(ones(&[2, 3]));
        let mut rng = SplitMix64::new(0);
        for p in [1.0, -0.1, f64::NAN, 1.5] {
            let e = x.try_dropout(p, &mut rng).unwrap_err().to_string();
            assert!(e.starts_with("dropout:") && e.contains("[0, 1)"), "{e}");
        }
        assert_eq!(rng, SplitMix64::new(0), "nothing is drawn for a rejected p");
        let e = x
            .try_dropout_with_mask(ones(&[3, 2]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3], [3, 2]"), "{e}");
        assert!(x.try_dropout_with_mask(ones(&[2, 1, 3])).is_err());
        assert!(x.try_dropout_with_mask(ones(&[3])).is_ok());
    }
}
