//! Reductions: sum, mean, max, min (over everything or along axes, optionally keeping the
//! reduced axes), logsumexp, and argmax (which has no gradient).

use super::{op_family, or_panic};
use crate::gradcheck::registry::{sample, Case};
use crate::kernels::elementwise::map;
use crate::tensor::scalar;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var};

op_family! {
    /// The reductions.
    Reduction {
        /// The sum of all elements.
        Sum => "sum",
    }
}

/// `sum(a)` over every element; `d/da = 1` everywhere.
struct SumOp;

impl<T: Real> Op<T> for SumOp {
    fn name(&self) -> &str {
        Reduction::Sum.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let total = match x[0].as_slice() {
            Some(s) => s.iter().copied().sum(),
            None => x[0].iter().copied().sum(),
        };
        Ok(scalar(total))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output()[[]];
        vec![Some(map(ctx.input(0), |_| g))]
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The sum of all elements, as a rank-0 value.
    #[track_caller]
    pub fn sum(self) -> Var<'t, T> {
        or_panic(self.record1(Reduction::Sum, SumOp))
    }
}

/// Gradcheck cases for the reductions.
pub(crate) fn gradcheck_cases(kind: Reduction) -> Vec<Case> {
    match kind {
        Reduction::Sum => vec![
            Case::new("sum [3, 4]", vec![sample(&[3, 4], 1)], |v| v[0].sum()),
            Case::new("sum []", vec![sample(&[], 2)], |v| v[0].sum()),
        ],
    }
}
