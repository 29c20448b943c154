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

use crate::{OpError, Real, Tape, Tensor, Var};

/// An operation that can be recorded on a [`Tape`](crate::Tape).
///
/// Implement it to add an op of your own, then record it with
/// [`Tape::apply`](crate::Tape::apply) (or [`Tape::try_apply`](crate::Tape::try_apply)).
/// Built-in ops implement this same trait: nothing a user writes is second class.
///
/// The gradient can be written in two ways, and an op needs at least one:
///
/// * [`backward`](Op::backward) computes the input gradients as tensors: the fastest form,
///   used by [`Tape::backward`](crate::Tape::backward).
/// * [`backward_vars`](Op::backward_vars) computes them with [`Var`] ops, recorded on the
///   tape, so that they can be differentiated again: [`Tape::grad`](crate::Tape::grad),
///   Hessian-vector products, [`jvp`](crate::functional::jvp). An op that implements only
///   this form gets `backward` for free (its default evaluates `backward_vars` on a scratch
///   tape), so writing the backward once with `Var` ops gives every order.
///
/// Check a new op with [`gradcheck`](crate::gradcheck) before trusting it, and with
/// [`gradgradcheck`](crate::gradcheck::gradgradcheck) if it has `backward_vars`.
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
    ///
    /// The default evaluates [`backward_vars`](Op::backward_vars) on a scratch tape that
    /// records nothing.
    ///
    /// # Panics
    /// The default panics if the op implements neither form.
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let tape = Tape::inference();
        let leaf = |t: &Tensor<T>| tape.constant(t.clone());
        let inputs: Vec<Var<'_, T>> = ctx.inputs.iter().map(|t| leaf(t)).collect();
        let vctx = VarContext {
            inputs: &inputs,
            output: leaf(ctx.output),
            grad_output: leaf(ctx.grad_output),
            needs_grad: ctx.needs_grad,
        };
        match self.backward_vars(&vctx) {
            Some(grads) => grads.into_iter().map(|g| g.map(|v| v.value())).collect(),
            None => panic!(
                "{}: the op implements neither backward nor backward_vars",
                self.name()
            ),
        }
    }

    /// The gradient of each input written with [`Var`] ops on the tape, so that it can itself
    /// be differentiated; `None` (the default) if the op does not support that.
    ///
    /// Same contract as [`backward`](Op::backward): one entry per input, `None` for no
    /// gradient, and a gradient may have the output's broadcast shape. Whatever the op saved
    /// in `self` during forward enters as constants ([`VarContext::constant`]).
    ///
    /// ```
    /// use tapegrad_autograd::{scalar, Op, OpError, Tape, Tensor, Var, VarContext};
    ///
    /// /// y = x^3, written once: dy/dx = 3x^2 as `Var` ops, so d2y/dx2 = 6x comes for free.
    /// struct Cube;
    ///
    /// impl Op<f64> for Cube {
    ///     fn name(&self) -> &str { "cube" }
    ///     fn forward(&mut self, x: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
    ///         Ok(x[0].mapv(|x| x * x * x).into_shared())
    ///     }
    ///     fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, f64>) -> Option<Vec<Option<Var<'t, f64>>>> {
    ///         let x = ctx.input(0);
    ///         Some(vec![Some(ctx.grad_output() * x.square() * 3.0)])
    ///     }
    /// }
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(scalar(2.0));
    /// let y = tape.apply(Cube, &[x]);
    /// let dy = tape.grad(y, &[x])[0];
    /// let d2y = tape.grad(dy, &[x])[0];
    /// assert_eq!((dy.item(), d2y.item()), (12.0, 12.0));
    /// assert_eq!(tape.backward(y).get(x).unwrap()[[]], 12.0);
    /// ```
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let _ = ctx;
        None
    }
}

/// What [`Op::backward_vars`] can see: the op's inputs and output as variables of the tape,
/// and the gradient flowing back into the output, also a variable (it may depend on other
/// variables when a gradient is differentiated again).
pub struct VarContext<'a, 't, T: Real> {
    pub(crate) inputs: &'a [Var<'t, T>],
    pub(crate) output: Var<'t, T>,
    pub(crate) grad_output: Var<'t, T>,
    pub(crate) needs_grad: &'a [bool],
}

impl<'a, 't, T: Real> VarContext<'a, 't, T> {
    /// Input `i`, the variable the op was applied to.
    #[inline]
    pub fn input(&self, i: usize) -> Var<'t, T> {
        self.inputs[i]
    }

    /// All inputs.
    #[inline]
    pub fn inputs(&self) -> &'a [Var<'t, T>] {
        self.inputs
    }

    /// The op's output.
    #[inline]
    pub fn output(&self) -> Var<'t, T> {
        self.output
    }

    /// The gradient with respect to the output; it has the output's shape.
    #[inline]
    pub fn grad_output(&self) -> Var<'t, T> {
        self.grad_output
    }

    /// Whether anyone needs the gradient of input `i`.
    #[inline]
    pub fn needs_grad(&self, i: usize) -> bool {
        self.needs_grad[i]
    }

    /// A constant on the tape: something the op saved during forward (a mask, indices turned
    /// into a selection), which second derivatives treat as fixed.
    #[track_caller]
    pub fn constant(&self, value: Tensor<T>) -> Var<'t, T> {
        self.output.tape().constant(value)
    }

    /// `f()` if input `i` needs a gradient.
    #[inline]
    pub fn grad_if(&self, i: usize, f: impl FnOnce() -> Var<'t, T>) -> Option<Var<'t, T>> {
        self.needs_grad(i).then(f)
    }
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
