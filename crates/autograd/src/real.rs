//! The element types a tape can differentiate: `f32` for training, `f64` for gradcheck.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float, FromPrimitive, ToPrimitive};

use crate::kernels::element::Element;

/// A floating-point element type: `f32` or `f64`.
///
/// Everything in tapegrad is generic over `Real`. Models usually train in `f32`;
/// [`gradcheck`](crate::gradcheck) always works in `f64`, where central differences are
/// accurate to about 1e-10. It is implemented for those two only (a supertrait that other
/// crates cannot name carries the kernels of each).
///
/// ```
/// use tapegrad_autograd::Real;
/// fn half<T: Real>(x: T) -> T { x * T::lit(0.5) }
/// assert_eq!(half(3.0f32), 1.5);
/// ```
pub trait Real:
    Float
    + FromPrimitive
    + ToPrimitive
    + LinalgScalar
    + ScalarOperand
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Element
{
    /// The name of the type, as used in messages and in saved files (`"f32"`, `"f64"`).
    const DTYPE: &'static str;

    /// Converts an `f64` literal to this type (rounding to nearest for `f32`).
    fn lit(x: f64) -> Self;

    /// Converts a count or index to this type.
    fn from_usize_lossy(n: usize) -> Self {
        Self::lit(n as f64)
    }
}

impl Real for f32 {
    const DTYPE: &'static str = "f32";

    #[inline]
    fn lit(x: f64) -> Self {
        x as f32
    }
}

impl Real for f64 {
    const DTYPE: &'static str = "f64";

    #[inline]
    fn lit(x: f64) -> Self {
        x
    }
}
