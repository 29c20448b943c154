//! The adjoint of a linear op, as an op of its own: what the `backward_vars` of a linear op
//! (picking entries by index, pooling by average) records, so that its gradient can be
//! differentiated again.
//!
//! For a linear map `y = L x`, the gradient is `dx = Lᵀ g`, itself linear in `g`; the gradient
//! of that is `L h` again. So the adjoint's forward is the op's tensor backward, and its
//! backward is the op's forward: no formula is written twice.

use super::OpKind;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

/// `Lᵀ g` for the linear op `L` (`op`, as it ran on a value shaped like `input`).
struct Adjoint<T: Real, O> {
    op: O,
    kind: OpKind,
    name: String,
    input: Tensor<T>,
    output: Tensor<T>,
}

impl<T: Real, O: Op<T> + Clone> Op<T> for Adjoint<T, O> {
    fn name(&self) -> &str {
        &self.name
    }
    fn forward(&mut self, g: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let inputs = [&self.input];
        let ctx = BackwardContext::new(&inputs, &self.output, g[0], &[true]);
        Ok(self
            .op
            .backward(&ctx)
            .swap_remove(0)
            .expect("a linear op's backward gives its input a gradient"))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let again = self.op.clone().forward(&[ctx.grad_output()]);
        vec![Some(
            again.expect("the op ran on a value of this shape before"),
        )]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let h = ctx.grad_output();
        let again = h.tape().record(self.op.clone(), Some(self.kind), &[h]);
        Some(vec![Some(
            again.expect("the op ran on a value of this shape before"),
        )])
    }
}

/// The `backward_vars` of an op that is linear in its only input: `Lᵀ g` recorded as an
/// [`Adjoint`] of a copy of the op.
pub(crate) fn linear_backward_vars<'t, T: Real, O: Op<T> + Clone>(
    op: &O,
    kind: impl Into<OpKind>,
    ctx: &VarContext<'_, 't, T>,
) -> Option<Vec<Option<Var<'t, T>>>> {
    let grad = record_adjoint(
        op.clone(),
        kind.into(),
        ctx.input(0).value(),
        ctx.output().value(),
        ctx.grad_output(),
    );
    Some(vec![Some(grad)])
}

/// `Lᵀ g` for the linear op `op` of kind `kind`, which maps values shaped like `input` to
/// values shaped like `output` (only their shapes matter).
pub(crate) fn record_adjoint<'t, T: Real, O: Op<T> + Clone>(
    op: O,
    kind: OpKind,
    input: Tensor<T>,
    output: Tensor<T>,
    g: Var<'t, T>,
) -> Var<'t, T> {
    let adjoint = Adjoint {
        op,
        kind,
        name: format!("{}_adjoint", kind.name()),
        input,
        output,
    };
    g.tape()
        .record(adjoint, None, &[g])
        .expect("the gradient has the op's output shape")
}
