//! The op trait: how an operation computes its value and its gradient.
//!
//! Every op on the tape, built in or written by a user, is a value implementing [`Op`]. The
//! struct itself is the op's saved context (PyTorch's `ctx`): `forward` may keep in `self`
//! whatever backward will need (a mask, the indices of a max, a softmax), and `backward` reads
//! it back together with the op's inputs and output, which the tape keeps for it.
//!
//! ```
//! use tapegrad_autograd::{tensor, BackwardContext, Op, OpError, Tape, Tensor};
//!
//! /// y = x^3, dy/dx = 3x^2
//! struct Cube;
//!
//! impl Op<f64> for Cube {
//!     fn name(&self) -> &str { "cube" }
//!     fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
//!         Ok(inputs[0].mapv(|x| x * x * x).into_shared())
//!     }
//!     fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
//!         let g = ctx.grad_output() * &ctx.input(0).mapv(|x| 3.0 * x * x);
//!         vec![Some(g.into_shared())]
//!     }
//! }
//!
//! let tape = Tape::new();
//! let x = tape.var(tensor(&[2], vec![1.0, 2.0]));
//! let y = tape.apply(Cube, &[x]).sum();
//! let grads = tape.backward(y);
//! assert_eq!(grads.get(x).unwrap().as_slice().unwrap(), &[3.0, 12.0]);
//! ```

use crate::{OpError, Real, Tensor};

/// An operation that can be recorded on a [`Tape`](crate::Tape).
///
/// Implement it to add an op of your own, then record it with
/// [`Tape::apply`](crate::Tape::apply) (or [`Tape::try_apply`](crate::Tape::try_apply)).
/// Built-in ops implement this same trait: nothing a user writes is second class.
///
/// Check a new op with [`gradcheck`](crate::gradcheck) before trusting it.
pub trait Op<T: Real>: 'static {
    /// A short name for messages, tape listings and gradcheck reports (`"matmul"`).
    fn name(&self) -> &str;

    /// Computes the output from the input values.
    ///
    /// Runs once, when the op is recorded. Anything backward needs beyond the inputs and the
    /// output can be stored in `self`. Return an [`OpError`] for inputs the op cannot take.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError>;

    /// Computes the gradient of the loss with respect to each input, given the gradient with
    /// respect to the output ([`BackwardContext::grad_output`]).
    ///
    /// Return one entry per input, in order. `None` means "no gradient" (the input is not
    /// differentiable, or [`BackwardContext::needs_grad`] says nobody asked for it). A gradient
    /// may have the output's broadcast shape: the tape sums it back to the input's shape, so an
    /// op that broadcasts its inputs need not undo the broadcast itself.
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>>;
}

/// What [`Op::backward`] can see: the op's inputs and output as recorded, and the gradient
/// flowing back into the output.
pub struct BackwardContext<'a, T: Real> {
    pub(crate) inputs: &'a [&'a Tensor<T>],
    pub(crate) output: &'a Tensor<T>,
    pub(crate) grad_output: &'a Tensor<T>,
    pub(crate) needs_grad: &'a [bool],
}

impl<'a, T: Real> BackwardContext<'a, T> {
    /// Builds a context by hand, for calling an op's backward outside a tape (gradcheck does).
    pub fn new(
        inputs: &'a [&'a Tensor<T>],
        output: &'a Tensor<T>,
        grad_output: &'a Tensor<T>,
        needs_grad: &'a [bool],
    ) -> Self {
        assert_eq!(
            inputs.len(),
            needs_grad.len(),
            "BackwardContext: one needs_grad flag per input"
        );
        BackwardContext {
            inputs,
            output,
            grad_output,
            needs_grad,
        }
    }

    /// The value of input `i`, as it was when the op ran.
    #[inline]
    pub fn input(&self, i: usize) -> &'a Tensor<T> {
        self.inputs[i]
    }

    /// All input values.
    #[inline]
    pub fn inputs(&self) -> &'a [&'a Tensor<T>] {
        self.inputs
    }

    /// The op's output value.
    #[inline]
    pub fn output(&self) -> &'a Tensor<T> {
        self.output
    }

    /// The gradient of the loss with respect to the op's output; it has the output's shape.
    #[inline]
    pub fn grad_output(&self) -> &'a Tensor<T> {
        self.grad_output
    }

    /// Whether anyone needs the gradient of input `i`; ops may skip the work when not.
    #[inline]
    pub fn needs_grad(&self, i: usize) -> bool {
        self.needs_grad[i]
    }
}
