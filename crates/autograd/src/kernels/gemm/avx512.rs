//! AVX-512 micro-kernels for the packed GEMM: a 12-row tile of `c`, two vectors wide.
//!
//! Each step along the inner dimension loads two vectors of the packed `b` panel, broadcasts
//! the twelve values of the packed `a` panel one at a time and issues 24 multiply-adds into 24
//! accumulators (of the 32 vector registers, 27 are in use). A Zen 4 core retires one 512-bit
//! multiply-add per cycle, and 14 loads per 24 of them leave the load ports room.

use std::arch::x86_64::*;

use super::packed::{Destination, PackedKernel};

/// Rows of a tile: values of `a` broadcast per step.
const ROWS: usize = 12;

macro_rules! tile_kernel {
    ($name:ident, $kernel:ident, $t:ty, $lanes:expr,
     $setzero:ident, $set1:ident, $loadu:ident, $storeu:ident, $fmadd:ident, $mul:ident,
     $add:ident, $prefetch_distance:expr) => {
        /// The packed-GEMM kernel of this type on AVX-512.
        pub(super) static $kernel: PackedKernel<$t> = PackedKernel {
            rows: ROWS,
            columns: 2 * $lanes,
            tile: $name,
        };

        /// `dst = alpha * a b + beta * dst` for one tile, or the raw sums `a b` into a buffer.
        ///
        /// # Safety
        /// The CPU supports AVX-512F (checked by [`PackedKernel::detect`]'s caller); `a` is
        /// valid for `ROWS * depth` reads and `b` for `2 * LANES * depth` (packed panels);
        /// `Destination::Matrix` addresses `ROWS` rows of `2 * LANES` contiguous writable
        /// values at its row stride, `Destination::Buffer` `ROWS * 2 * LANES` writable values.
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(depth: usize, a: *const $t, b: *const $t, dst: Destination<$t>) {
            let mut acc = [[$setzero(); 2]; ROWS];
            let (mut a, mut b) = (a, b);
            // SAFETY (whole body): every pointer read stays within the panels described in the
            // contract: `depth` steps of ROWS values of `a` and 2 * LANES values of `b`; the
            // prefetches are hints that never fault.
            unsafe {
                for _ in 0..depth {
                    _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add($prefetch_distance) as *const i8);
                    let b0 = $loadu(b);
                    let b1 = $loadu(b.add($lanes));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $set1(*a.add(i));
                        row[0] = $fmadd(ai, b0, row[0]);
                        row[1] = $fmadd(ai, b1, row[1]);
                    }
                    a = a.add(ROWS);
                    b = b.add(2 * $lanes);
                }
                match dst {
                    Destination::Matrix {
                        ptr,
                        row_stride,
                        alpha,
                        beta,
                    } => {
                        let (alpha_v, beta_v) = ($set1(alpha), $set1(beta));
                        for (i, row) in acc.iter().enumerate() {
                            let c = ptr.offset(i as isize * row_stride);
                            for (v, &sum) in row.iter().enumerate() {
                                let c = c.add(v * $lanes);
                                let r = if alpha == 1.0 {
                                    sum
                                } else {
                                    $mul(sum, alpha_v)
                                };
                                let out = if beta == 0.0 {
                                    r
                                } else if beta == 1.0 {
                                    $add($loadu(c), r)
                                } else {
                                    $fmadd($loadu(c), beta_v, r)
                                };
                                $storeu(c, out);
                            }
                        }
                    }
                    Destination::Buffer(out) => {
                        for (i, row) in acc.iter().enumerate() {
                            for (v, &sum) in row.iter().enumerate() {
                                $storeu(out.add((2 * i + v) * $lanes), sum);
                            }
                        }
                    }
                }
            }
        }
    };
}

tile_kernel!(
    tile_f32,
    F32,
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps,
    512
);
tile_kernel!(
    tile_f64,
    F64,
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd,
    256
);

/// The `f32` kernel, where this CPU has AVX-512F.
pub(super) fn f32_kernel() -> Option<&'static PackedKernel<f32>> {
    is_x86_feature_detected!("avx512f").then_some(&F32)
}

/// The `f64` kernel, where this CPU has AVX-512F.
pub(super) fn f64_kernel() -> Option<&'static PackedKernel<f64>> {
    is_x86_feature_detected!("avx512f").then_some(&F64)
}
