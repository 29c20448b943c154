//! Derivatives of functions, JAX-style: `grad`, `vjp`, `jvp`, `hvp`, `hessian`, `jacobian`.
//!
//! Each takes a function of one variable, written with tape ops, and a point, and returns
//! tensors; each runs on a tape of its own. Under the hood they are [`Tape::grad`] and
//! [`Tape::grad_with`], which record backward on the tape so that it can be differentiated
//! again:
//!
//! * `vjp(f, x, u) = uᵀ J` is one backward pass;
//! * `jvp(f, x, v) = J v` is the derivative of `uᵀ J v` by `u`: a backward pass recorded as
//!   a function of the seed `u` (linear in it), then differentiated by `u` (the "double vjp"
//!   form of forward mode). It costs about three forward passes and needs no second
//!   derivative rule per op, only that every op's `backward_vars` is differentiable by the
//!   incoming gradient, which it always is;
//! * `hvp(f, x, v) = H v` is the gradient of `∇f(x) · v`: one backward pass over the
//!   recorded backward pass.
//!
//! For a function of several variables, or a loss over a model's parameters, use
//! [`Tape::grad`] directly: a Hessian-vector product is two calls.
//!
//! ```
//! use tapegrad_autograd::{functional, tensor, Var};
//!
//! // f(x) = sum(x^3): gradient 3x^2, Hessian diag(6x).
//! fn f<'t>(x: Var<'t, f64>) -> Var<'t, f64> { (x * x * x).sum() }
//! let x = tensor(&[2], vec![1.0, 2.0]);
//! let v = tensor(&[2], vec![1.0, 1.0]);
//! assert_eq!(functional::grad(f, &x).as_slice().unwrap(), &[3.0, 12.0]);
//! assert_eq!(functional::hvp(f, &x, &v).as_slice().unwrap(), &[6.0, 12.0]);
//! assert_eq!(functional::hessian(f, &x).as_slice().unwrap(), &[6.0, 0.0, 0.0, 12.0]);
//! ```

use crate::{zeros, Real, Tape, Tensor, Var};

/// The gradient of a function with one-element output at `x`, shaped like `x`.
///
/// # Panics
/// If `f`'s output has more than one element.
#[track_caller]
pub fn grad<T: Real>(f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>, x: &Tensor<T>) -> Tensor<T> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv);
    tape.grad(y, &[xv])[0].value()
}

/// The value `f(x)` and the vector-Jacobian product `uᵀ J` (shaped like `x`), for `u`
/// shaped like `f(x)`.
///
/// # Panics
/// If `u`'s shape differs from `f(x)`'s.
#[track_caller]
pub fn vjp<T: Real>(
    f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>,
    x: &Tensor<T>,
    u: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv);
    let g = tape.grad_with(y, tape.constant(u.clone()), &[xv])[0];
    (y.value(), g.value())
}

/// The value `f(x)` and the Jacobian-vector product `J v` (shaped like `f(x)`), for `v`
/// shaped like `x`: the directional derivative of `f` at `x` along `v`.
///
/// ```
/// use tapegrad_autograd::{functional, tensor};
/// // f(x) = x * x elementwise: J = diag(2x).
/// let x = tensor(&[3], vec![1.0f64, 2.0, 3.0]);
/// let v = tensor(&[3], vec![1.0, 0.0, -1.0]);
/// let (y, jv) = functional::jvp(|x| x * x, &x, &v);
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 4.0, 9.0]);
/// assert_eq!(jv.as_slice().unwrap(), &[2.0, 0.0, -6.0]);
/// ```
///
/// # Panics
/// If `v`'s shape differs from `x`'s.
#[track_caller]
pub fn jvp<T: Real>(
    f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>,
    x: &Tensor<T>,
    v: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    assert_eq!(
        x.shape(),
        v.shape(),
        "jvp: the tangent has shape {:?} but the input {:?}",
        v.shape(),
        x.shape()
    );
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv);
    // uᵀ J as a function of a seed u (its value does not matter: the result is linear in u).
    let u = tape.var(zeros(y.value().shape()));
    let ut_j = tape.grad_with(y, u, &[xv])[0];
    let along_v = (ut_j * tape.constant(v.clone())).sum();
    let jv = tape.grad(along_v, &[u])[0];
    (y.value(), jv.value())
}

/// The Hessian-vector product `H v` of a function with one-element output at `x`, for `v`
/// shaped like `x`, without forming `H`.
///
/// # Panics
/// If `f`'s output has more than one element or `v`'s shape differs from `x`'s.
#[track_caller]
pub fn hvp<T: Real>(
    f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>,
    x: &Tensor<T>,
    v: &Tensor<T>,
) -> Tensor<T> {
    assert_eq!(
        x.shape(),
        v.shape(),
        "hvp: the vector has shape {:?} but the input {:?}",
        v.shape(),
        x.shape()
    );
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let g = tape.grad(f(xv), &[xv])[0];
    let along_v = (g * tape.constant(v.clone())).sum();
    tape.grad(along_v, &[xv])[0].value()
}

/// The Hessian of a function with one-element output at `x`, of shape `x.shape ++ x.shape`:
/// one Hessian-vector product per element of `x`, so for small inputs only.
///
/// # Panics
/// If `f`'s output has more than one element.
#[track_caller]
pub fn hessian<T: Real>(f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>, x: &Tensor<T>) -> Tensor<T> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let g = tape.grad(f(xv), &[xv])[0];
    let rows = (0..x.len()).map(|i| {
        let gi = g.reshape(&[x.len()]).narrow(0, i, 1).sum();
        tape.grad(gi, &[xv])[0].value()
    });
    stack_rows(x.shape(), x.shape(), rows)
}

/// The Jacobian of `f` at `x`, of shape `f(x).shape ++ x.shape`: one vector-Jacobian product
/// per element of the output.
#[track_caller]
pub fn jacobian<T: Real>(f: impl for<'t> Fn(Var<'t, T>) -> Var<'t, T>, x: &Tensor<T>) -> Tensor<T> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv);
    let out_shape = y.shape();
    let n = y.len();
    let rows = (0..n).map(|i| {
        let yi = y.reshape(&[n]).narrow(0, i, 1).sum();
        tape.grad(yi, &[xv])[0].value()
    });
    stack_rows(&out_shape, x.shape(), rows)
}

/// One tensor of shape `outer ++ inner` from `outer.product()` rows of shape `inner`.
fn stack_rows<T: Real>(
    outer: &[usize],
    inner: &[usize],
    rows: impl Iterator<Item = Tensor<T>>,
) -> Tensor<T> {
    let mut data =
        Vec::with_capacity(outer.iter().product::<usize>() * inner.iter().product::<usize>());
    for row in rows {
        data.extend(row.iter().copied());
    }
    let shape: Vec<usize> = outer.iter().chain(inner).copied().collect();
    crate::tensor(&shape, data)
}
