//! The array type that flows through a tape, and small helpers to build one.

use ndarray::{ArcArray, ArrayD, IxDyn};

use crate::Real;

/// An n-dimensional array whose buffer is shared by reference counting.
///
/// Cloning a `Tensor` clones a pointer, not the data: the tape, the nodes that saved a value for
/// backward and the model parameter that a value came from all share one buffer. Writing to a
/// shared tensor (through `view_mut`, or `as_slice_mut`) copies it first, so a value saved for
/// backward can never be changed behind the tape's back.
pub type Tensor<T> = ArcArray<T, IxDyn>;

/// A tensor of the given shape from row-major data.
///
/// # Panics
/// If `data.len()` is not the product of `shape`.
///
/// ```
/// use tapegrad_autograd::tensor;
/// let t = tensor(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.0]);
/// assert_eq!(t[[1, 0]], 3.0);
/// ```
#[track_caller]
pub fn tensor<T: Real>(shape: &[usize], data: Vec<T>) -> Tensor<T> {
    let n: usize = shape.iter().product();
    assert_eq!(
        n,
        data.len(),
        "tensor: shape {shape:?} holds {n} elements but {} were given",
        data.len()
    );
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .expect("length checked above")
        .into_shared()
}

/// A rank-0 tensor holding one value.
pub fn scalar<T: Real>(x: T) -> Tensor<T> {
    ArrayD::from_elem(IxDyn(&[]), x).into_shared()
}

/// A tensor of the given shape filled with `x`.
pub fn full<T: Real>(shape: &[usize], x: T) -> Tensor<T> {
    ArrayD::from_elem(IxDyn(shape), x).into_shared()
}

/// A tensor of zeros.
pub fn zeros<T: Real>(shape: &[usize]) -> Tensor<T> {
    full(shape, T::zero())
}

/// A tensor of ones.
pub fn ones<T: Real>(shape: &[usize]) -> Tensor<T> {
    full(shape, T::one())
}

/// Converts any owned array (of any dimensionality) into a [`Tensor`] without copying.
pub fn into_tensor<T: Real, D: ndarray::Dimension>(a: ndarray::Array<T, D>) -> Tensor<T> {
    a.into_dyn().into_shared()
}
