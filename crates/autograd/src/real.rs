//! The element types a tape can differentiate: `f32` for training, `f64` for gradcheck.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float, FromPrimitive, ToPrimitive};

/// A floating-point element type: `f32` or `f64`.
///
/// Everything in tapegrad is generic over `Real`. Models usually train in `f32`;
/// [`gradcheck`](crate::gradcheck) always works in `f64`, where central differences are
/// accurate to about 1e-10.
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
{
    /// The name of the type, as used in messages and in saved files (`"f32"`, `"f64"`).
    const DTYPE: &'static str;

    /// Converts an `f64` literal to this type (rounding to nearest for `f32`).
    fn lit(x: f64) -> Self;

    /// `tanh self` in a form that loops vectorise: [`kernels::math::tanh_f32`] for `f32`,
    /// [`kernels::math::tanh_f64`] for `f64`.
    ///
    /// [`kernels::math::tanh_f32`]: crate::kernels::math::tanh_f32
    /// [`kernels::math::tanh_f64`]: crate::kernels::math::tanh_f64
    #[doc(hidden)]
    #[inline(always)]
    fn vector_tanh(self) -> Self {
        Self::lit(crate::kernels::math::tanh_f64(
            self.to_f64().unwrap_or(f64::NAN),
        ))
    }

    /// [`vector_tanh`](Self::vector_tanh) of every element of `src` into `dst` (same
    /// length): [`kernels::math::tanh_f32_slice`] or [`kernels::math::tanh_f64_slice`], which
    /// skip the exponential for runs of small values.
    ///
    /// [`kernels::math::tanh_f32_slice`]: crate::kernels::math::tanh_f32_slice
    /// [`kernels::math::tanh_f64_slice`]: crate::kernels::math::tanh_f64_slice
    #[doc(hidden)]
    #[inline]
    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        for (d, &x) in dst.iter_mut().zip(src) {
            *d = x.vector_tanh();
        }
    }

    /// Runs `f` on this thread's pool of spare buffers of this type (see `kernels::pool`);
    /// the default keeps none.
    #[doc(hidden)]
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
        f(&mut Vec::new())
    }

    /// Converts a count or index to this type.
    fn from_usize_lossy(n: usize) -> Self {
        Self::lit(n as f64)
    }

    /// The packed GEMM's micro-kernel for this type on this CPU, if there is one; products
    /// fall back to `matrixmultiply` without it.
    #[doc(hidden)]
    fn packed_kernel() -> Option<&'static crate::kernels::gemm::PackedKernel<Self>> {
        None
    }

    /// A kernel for two rows' dot products with the rows of a matrix on this CPU, and the
    /// widest matrix it takes, if there is one; `row_dots_form` goes row by row without it.
    #[doc(hidden)]
    fn row_pair_dots() -> Option<(crate::kernels::gemm::RowPairDots<Self>, usize)> {
        None
    }

    /// `C = alpha * A B + beta * C` on raw strided storage.
    ///
    /// # Safety
    /// The pointers and strides must describe valid, non-overlapping matrices of the given
    /// sizes (`a`: m x k, `b`: k x n, `c`: m x n), with `c` writable.
    #[allow(clippy::too_many_arguments)]
    #[doc(hidden)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Real for f32 {
    const DTYPE: &'static str = "f32";

    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
        thread_local! {
            static POOL: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        POOL.with(|p| f(&mut p.borrow_mut()))
    }

    #[inline]
    fn lit(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn vector_tanh(self) -> Self {
        crate::kernels::math::tanh_f32(self)
    }

    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        crate::kernels::math::tanh_f32_slice(src, dst);
    }

    fn packed_kernel() -> Option<&'static crate::kernels::gemm::PackedKernel<Self>> {
        crate::kernels::gemm::f32_kernel()
    }

    fn row_pair_dots() -> Option<(crate::kernels::gemm::RowPairDots<Self>, usize)> {
        crate::kernels::gemm::f32_row_pair_dots()
    }

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract; see the trait method's documentation.
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

impl Real for f64 {
    const DTYPE: &'static str = "f64";

    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        crate::kernels::math::tanh_f64_slice(src, dst);
    }

    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
        thread_local! {
            static POOL: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        POOL.with(|p| f(&mut p.borrow_mut()))
    }

    #[inline]
    fn lit(x: f64) -> Self {
        x
    }

    fn packed_kernel() -> Option<&'static crate::kernels::gemm::PackedKernel<Self>> {
        crate::kernels::gemm::f64_kernel()
    }

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract; see the trait method's documentation.
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}
