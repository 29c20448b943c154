//! What the kernels need of an element type beyond arithmetic: the type's own kernels and its
//! pool of spare buffers. A supertrait of [`Real`](crate::Real) that no other crate can name,
//! so `Real` stays implemented for `f32` and `f64` only and none of this is public.

use super::gemm::PackedKernel;

/// The kernels and buffers of an element type (`f32` or `f64`); see the module.
pub trait Element: Sized + 'static {
    /// `tanh self` in a form that loops vectorise: [`tanh_f32`] or [`tanh_f64`].
    ///
    /// [`tanh_f32`]: super::math::tanh_f32
    /// [`tanh_f64`]: super::math::tanh_f64
    fn vector_tanh(self) -> Self;

    /// [`vector_tanh`](Self::vector_tanh) of every element of `src` into `dst` (same length):
    /// [`tanh_f32_slice`](super::math::tanh_f32_slice) or
    /// [`tanh_f64_slice`](super::math::tanh_f64_slice).
    fn tanh_slice(src: &[Self], dst: &mut [Self]);

    /// Runs `f` on this thread's pool of spare buffers of this type (see `kernels::pool`).
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R;

    /// The packed GEMM's micro-kernel for this type at the kernels' level, if there is one;
    /// products go to `matrixmultiply` without it.
    fn packed_kernel() -> Option<&'static PackedKernel<Self>>;

    /// `C = alpha * A B + beta * C` on raw strided storage, through `matrixmultiply`.
    ///
    /// # Safety
    /// The pointers and strides must describe valid matrices of the given sizes (`a`: m x k,
    /// `b`: k x n, `c`: m x n), with `c` writable and overlapping neither.
    #[allow(clippy::too_many_arguments)]
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

/// The parts of [`Element`] that differ between `f32` and `f64` only in names.
macro_rules! element {
    ($t:ty, $tanh:ident, $tanh_slice:ident, $kernel:ident, $gemm:ident) => {
        impl Element for $t {
            #[inline(always)]
            fn vector_tanh(self) -> Self {
                super::math::$tanh(self)
            }

            fn tanh_slice(src: &[Self], dst: &mut [Self]) {
                super::math::$tanh_slice(src, dst);
            }

            fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
                thread_local! {
                    static POOL: std::cell::RefCell<Vec<Vec<$t>>> =
                        const { std::cell::RefCell::new(Vec::new()) };
                }
                POOL.with(|p| f(&mut p.borrow_mut()))
            }

            fn packed_kernel() -> Option<&'static PackedKernel<Self>> {
                super::gemm::$kernel()
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
                // SAFETY: the caller's contract is `matrixmultiply`'s (see the trait method).
                unsafe {
                    matrixmultiply::$gemm(
                        m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
                    )
                }
            }
        }
    };
}

element!(f32, tanh_f32, tanh_f32_slice, f32_kernel, sgemm);
element!(f64, tanh_f64, tanh_f64_slice, f64_kernel, dgemm);
