//! AVX-512 kernels: the packed GEMM's micro-kernels (a 12-row tile of `c`, two vectors
//! wide), and the `f32` forms for few output columns in intrinsics, whose portable forms the
//! compiler splits into 256-bit halves on Intel cores (see `kernels::simd`).
//!
//! Each step of the micro-kernel along the inner dimension loads two vectors of the packed `b`
//! panel, broadcasts the twelve values of the packed `a` panel one at a time and issues 24
//! multiply-adds into 24 accumulators (of the 32 vector registers, 27 are in use). A Zen 4 core
//! retires one 512-bit multiply-add per cycle, a Sapphire Rapids core two; 14 loads per 24 of
//! them leave the load ports room.

use std::arch::x86_64::*;

use super::packed::{Destination, PackedKernel};
use crate::kernels::dispatch::Avx512;

/// Rows of a tile: values of `a` broadcast per step.
const ROWS: usize = 12;

macro_rules! tile_kernel {
    ($name:ident, $kernel:ident, $t:ty, $lanes:expr, $pack_rows:expr,
     $setzero:ident, $set1:ident, $loadu:ident, $storeu:ident, $fmadd:ident, $mul:ident,
     $add:ident, $prefetch_distance:expr) => {
        /// The packed-GEMM kernel of this type on AVX-512.
        pub(super) static $kernel: PackedKernel<$t> = PackedKernel {
            rows: ROWS,
            columns: 2 * $lanes,
            tile: $name,
            pack_rows: $pack_rows,
        };

        /// `dst = alpha * a b + beta * dst` for one tile, or the raw sums `a b` into a buffer.
        ///
        /// # Safety
        /// The CPU supports AVX-512F (`gemm::f32_kernel` and `f64_kernel` hand the kernel out
        /// only at the AVX-512 level); `a` is
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
                    // Both cache lines of the step's `b` row, a fixed distance ahead (one
                    // prefetch per step covered every other line: 2.7 % slower on one thread,
                    // 4-6 % on two, on a Sapphire Rapids core).
                    _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add($prefetch_distance) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(
                        b.wrapping_add($prefetch_distance + $lanes) as *const i8
                    );
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
    pack_rows_f32,
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
    pack_rows_f64,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd,
    256
);

/// Packs a panel of `a` for the `f32` kernel: `out[p * ROWS + q] = lines[q][p]` for `ROWS`
/// contiguous lines of equal length.
///
/// Sixteen steps of every line are loaded as vectors, transposed in registers (as a 16 x 16
/// block whose last four lines are zero) and stored as sixteen steps of `ROWS` values: about
/// a hundred vector instructions where moving the 192 values one by one takes 384. (In a
/// profile of 1024 x 1024 products on one thread, packing `a` went from 3.9 % of the time to
/// 3.2 %; `matmul` on two threads, +2.5 %, median of 6 paired rounds.)
///
/// # Panics
/// If there are not `ROWS` lines of equal length or `out` is shorter than they are together.
fn pack_rows_f32(lines: &[&[f32]], out: &mut [f32]) {
    let len = lines.first().map_or(0, |l| l.len());
    assert!(
        lines.len() == ROWS && lines.iter().all(|l| l.len() == len) && out.len() >= ROWS * len,
        "pack_rows_f32: {} lines into {} values: expected {ROWS} lines of {len}",
        lines.len(),
        out.len()
    );
    // SAFETY: reached only through `F32`, which `gemm::f32_kernel` hands out only at the
    // AVX-512 level, which `dispatch::level` chooses only where the CPU has AVX-512F; the
    // lengths were checked above.
    unsafe { pack_rows_f32_avx512(lines, out) }
}

/// [`pack_rows_f32`]'s body.
///
/// # Safety
/// The CPU supports AVX-512F; `lines` holds `ROWS` lines of one length `len` and `out` at
/// least `ROWS * len` values.
#[target_feature(enable = "avx512f")]
unsafe fn pack_rows_f32_avx512(lines: &[&[f32]], out: &mut [f32]) {
    const STEPS: usize = 16;
    let len = lines[0].len();
    let whole = len / STEPS * STEPS;
    let dst = out.as_mut_ptr();
    for p0 in (0..whole).step_by(STEPS) {
        let mut r = [_mm512_setzero_ps(); STEPS];
        for (v, line) in r.iter_mut().zip(lines) {
            // SAFETY: `p0 + STEPS <= whole <= len`, the line's length.
            *v = unsafe { _mm512_loadu_ps(line.as_ptr().add(p0)) };
        }
        for (p, step) in transpose_16x16(r).into_iter().enumerate() {
            // SAFETY: `(p0 + p) * ROWS + ROWS <= whole * ROWS <= out.len()`; the mask
            // writes the first ROWS lanes only.
            unsafe { _mm512_mask_storeu_ps(dst.add((p0 + p) * ROWS), 0x0fff, step) };
        }
    }
    for p in whole..len {
        for (q, line) in lines.iter().enumerate() {
            out[p * ROWS + q] = line[p];
        }
    }
}

/// Packs a panel of `a` for the `f64` kernel, as [`pack_rows_f32`] does for `f32`: the
/// portable interleave, compiled for AVX-512.
fn pack_rows_f64(lines: &[&[f64]], out: &mut [f64]) {
    // SAFETY: reached only through `F64`, which `gemm::f64_kernel` hands out only at the
    // AVX-512 level, which `dispatch::level` chooses only where the CPU has AVX-512F.
    unsafe { pack_rows_f64_avx512(lines, out) }
}

/// [`pack_rows_f64`]'s body.
///
/// # Safety
/// The CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn pack_rows_f64_avx512(lines: &[&[f64]], out: &mut [f64]) {
    super::packed::interleave_lines(lines, ROWS, out);
}

/// The transpose of a 16 x 16 block of `f32`: `out[p]` lane `q` is `r[q]` lane `p`.
///
/// Pairs of rows are interleaved (`unpack`), then pairs of pairs (`shuffle_ps`), which
/// leaves a 4 x 4 transposed block in each 128-bit lane; two rounds of `shuffle_f32x4` then
/// gather those blocks across the four groups of rows.
#[target_feature(enable = "avx512f")]
fn transpose_16x16(r: [__m512; 16]) -> [__m512; 16] {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4 g + s], 128-bit lane k: rows 4 g .. 4 g + 4 at step 4 k + s.
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (lo, hi) = (&t[4 * g..4 * g + 2], &t[4 * g + 2..4 * g + 4]);
        u[4 * g] = _mm512_shuffle_ps::<0x44>(lo[0], hi[0]);
        u[4 * g + 1] = _mm512_shuffle_ps::<0xee>(lo[0], hi[0]);
        u[4 * g + 2] = _mm512_shuffle_ps::<0x44>(lo[1], hi[1]);
        u[4 * g + 3] = _mm512_shuffle_ps::<0xee>(lo[1], hi[1]);
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for s in 0..4 {
        // Lanes 0 and 2, or 1 and 3, of the groups of rows 0-3 with 4-7, and 8-11 with 12-15.
        let even_lo = _mm512_shuffle_f32x4::<0x88>(u[s], u[4 + s]);
        let odd_lo = _mm512_shuffle_f32x4::<0xdd>(u[s], u[4 + s]);
        let even_hi = _mm512_shuffle_f32x4::<0x88>(u[8 + s], u[12 + s]);
        let odd_hi = _mm512_shuffle_f32x4::<0xdd>(u[8 + s], u[12 + s]);
        out[s] = _mm512_shuffle_f32x4::<0x88>(even_lo, even_hi);
        out[8 + s] = _mm512_shuffle_f32x4::<0xdd>(even_lo, even_hi);
        out[4 + s] = _mm512_shuffle_f32x4::<0x88>(odd_lo, odd_hi);
        out[12 + s] = _mm512_shuffle_f32x4::<0xdd>(odd_lo, odd_hi);
    }
    out
}

/// Widest `bt` that [`row_pair_dots`] takes: two rows of `N` accumulators each, plus the two
/// rows' vectors and one of `bt`, fit in the 32 vector registers up to `N = 14`; 12 leaves
/// the compiler room.
pub(super) const PAIR_MAX_N: usize = 12;

/// The dot products of two rows `x0` and `x1` with each of the `n = bt.len() / x0.len()` rows
/// of `bt` (row-major), `n` from 1 to [`PAIR_MAX_N`], into `out[0][..n]` and `out[1][..n]`.
///
/// Each vector of `bt` loaded serves both rows, where the compiled `row_dots` loads it once
/// per row; the sums are the same as its fused ones (the AVX2 and AVX-512 levels'): per lane
/// a chain of multiply-adds along the row, the lanes folded in halves (8, 4, 2, 1), then the
/// leftover products chained on.
///
/// # Panics
/// If the rows differ in length or `bt` does not hold 1 to [`PAIR_MAX_N`] of them.
pub(super) fn row_pair_dots(
    _: Avx512,
    x0: &[f32],
    x1: &[f32],
    bt: &[f32],
    out: &mut [[f32; 16]; 2],
) {
    let k = x0.len();
    let n = bt.len().checked_div(k).unwrap_or(0);
    assert!(
        x1.len() == k && n * k == bt.len() && (1..=PAIR_MAX_N).contains(&n),
        "row_pair_dots: rows of {k} and {} against {} values: expected 1 to {PAIR_MAX_N} rows \
         of the same length",
        x1.len(),
        bt.len()
    );
    macro_rules! width {
        ($($w:literal)*) => {
            match n {
                // SAFETY: the `Avx512` token exists only where the CPU has AVX-512F; the
                // lengths were checked above.
                $($w => unsafe { row_pair_dots_of::<$w>(x0, x1, bt, out) },)*
                _ => unreachable!("checked above"),
            }
        };
    }
    width!(1 2 3 4 5 6 7 8 9 10 11 12)
}

/// [`row_pair_dots`] for `N` rows of `bt`.
///
/// # Safety
/// The CPU supports AVX-512F; `x0` and `x1` have the same length `k` and `bt` holds `N * k`
/// values.
#[target_feature(enable = "avx512f")]
unsafe fn row_pair_dots_of<const N: usize>(
    x0: &[f32],
    x1: &[f32],
    bt: &[f32],
    out: &mut [[f32; 16]; 2],
) {
    const LANES: usize = 16;
    let k = x0.len();
    let full = k - k % LANES;
    let mut acc = [[_mm512_setzero_ps(); N]; 2];
    // SAFETY: each load reads LANES values at `p < full <= k` of a row of `k` values (`x0`,
    // `x1`, or row `j < N` of `bt`, which holds `N * k`).
    unsafe {
        let (p0, p1, b) = (x0.as_ptr(), x1.as_ptr(), bt.as_ptr());
        for p in (0..full).step_by(LANES) {
            let a0 = _mm512_loadu_ps(p0.add(p));
            let a1 = _mm512_loadu_ps(p1.add(p));
            let [acc0, acc1] = &mut acc;
            for (j, (s0, s1)) in acc0.iter_mut().zip(acc1.iter_mut()).enumerate() {
                let y = _mm512_loadu_ps(b.add(j * k + p));
                *s0 = _mm512_fmadd_ps(a0, y, *s0);
                *s1 = _mm512_fmadd_ps(a1, y, *s1);
            }
        }
    }
    for ((out, acc), x) in out.iter_mut().zip(&acc).zip([x0, x1]) {
        for (j, (out, &acc)) in out.iter_mut().zip(acc).enumerate() {
            let row = &bt[j * k..(j + 1) * k];
            *out = x[full..]
                .iter()
                .zip(&row[full..])
                .fold(fold_lanes(acc), |sum, (&x, &y)| x.mul_add(y, sum));
        }
    }
}

/// The sum of `v`'s 16 lanes as the portable kernels fold them: lane `l` plus lane `l + 8`,
/// then `+ 4`, `+ 2`, `+ 1`.
#[inline]
#[target_feature(enable = "avx512f")]
fn fold_lanes(v: __m512) -> f32 {
    let low = _mm512_castps512_ps256(v);
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    let eight = _mm256_add_ps(low, high);
    let four = _mm_add_ps(
        _mm256_castps256_ps128(eight),
        _mm256_extractf128_ps::<1>(eight),
    );
    let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    let one = _mm_add_ss(two, _mm_shuffle_ps::<1>(two, two));
    _mm_cvtss_f32(one)
}

/// `narrow_transposed_of_width` for `f32`: outputs `start..start + 32` of `a b` with `a` the
/// transpose of `at` (`k x m`, row-major) and `b` row-major `k x N`, each output's `N` sums
/// into `out`. Two vectors of a row of `at` per step, `2 N` accumulators.
///
/// # Safety
/// The CPU supports AVX-512F.
///
/// # Panics
/// If `start + 32 > m` while `m >= 32`, or the lengths do not fit `k` rows.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn narrow_transposed<const N: usize>(
    at: &[f32],
    m: usize,
    start: usize,
    b: &[f32],
    out: &mut [[f32; 16]; 32],
) {
    const J: usize = 32;
    let mut acc = [[_mm512_setzero_ps(); 2]; N];
    for (q, b_row) in b.chunks_exact(N).enumerate() {
        let row = &at[q * m..(q + 1) * m];
        super::prefetch(row, start + super::PREFETCH_AHEAD * J);
        let mut short = [0.0f32; J];
        let piece: &[f32; J] = match row.get(start..start + J) {
            Some(whole) => whole.try_into().expect("a whole block"),
            None => {
                // Fewer than J columns in all: the rest are zeros, as in the portable kernel.
                let have = &row[start.min(m)..];
                short[..have.len()].copy_from_slice(have);
                &short
            }
        };
        // SAFETY: `piece` is 32 `f32`s, valid for two unaligned vector reads.
        let x = unsafe {
            [
                _mm512_loadu_ps(piece.as_ptr()),
                _mm512_loadu_ps(piece.as_ptr().add(16)),
            ]
        };
        for (acc, &y) in acc.iter_mut().zip(b_row) {
            let y = _mm512_set1_ps(y);
            acc[0] = _mm512_fmadd_ps(x[0], y, acc[0]);
            acc[1] = _mm512_fmadd_ps(x[1], y, acc[1]);
        }
    }
    let mut sums = [[[0.0f32; 16]; 2]; N];
    for (sums, acc) in sums.iter_mut().zip(&acc) {
        for (sum, &v) in sums.iter_mut().zip(acc) {
            // SAFETY: `sum` is 16 `f32`s, valid for one unaligned vector write.
            unsafe { _mm512_storeu_ps(sum.as_mut_ptr(), v) };
        }
    }
    for (i, out) in out.iter_mut().enumerate() {
        for (j, sums) in sums.iter().enumerate() {
            out[j] = sums[i / 16][i % 16];
        }
    }
}

/// `narrow_rows_of_width` for `f32` and 16 columns: the rows of `a` (`rows x k`, row-major)
/// times `b` (`k x 16`, row-major) into `out`, eight rows at a time, one accumulator each.
///
/// # Safety
/// The CPU supports AVX-512F.
///
/// # Panics
/// If `out` does not have a row for each row of `a`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn narrow_rows_16(a: &[f32], b: &[f32], out: &mut [[f32; 16]]) {
    const ROWS: usize = super::NARROW_ROWS;
    let (b_rows, _) = b.as_chunks::<16>();
    let k = b_rows.len();
    let a_rows: Vec<&[f32]> = a.chunks_exact(k).collect();
    assert_eq!(
        a_rows.len(),
        out.len(),
        "narrow_rows_16: a row of output per row"
    );
    for (tile_out, tile) in out.chunks_mut(ROWS).zip(a_rows.chunks(ROWS)) {
        // A short last tile repeats its last row; the copies' sums are dropped.
        let xs: [&[f32]; ROWS] = std::array::from_fn(|i| &tile[i.min(tile.len() - 1)][..k]);
        let mut acc = [_mm512_setzero_ps(); ROWS];
        for (q, b_row) in b_rows.iter().enumerate() {
            // SAFETY: `b_row` is 16 `f32`s, valid for one unaligned vector read.
            let y = unsafe { _mm512_loadu_ps(b_row.as_ptr()) };
            for (acc, x) in acc.iter_mut().zip(&xs) {
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(x[q]), y, *acc);
            }
        }
        for (out, &acc) in tile_out.iter_mut().zip(&acc) {
            // SAFETY: `out` is 16 `f32`s, valid for one unaligned vector write.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), acc) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_rows_in_registers_matches_the_portable_interleave() {
        if super::super::f32_kernel().is_none() {
            eprintln!("this CPU has no AVX-512F: nothing to compare");
            return;
        }
        // Whole blocks of 16 steps, a remainder, and a remainder alone.
        for len in [0, 7, 16, 37, 512] {
            let data: Vec<Vec<f32>> = (0..ROWS)
                .map(|q| (0..len).map(|p| (q * 1000 + p) as f32).collect())
                .collect();
            let lines: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
            let mut want = vec![f32::NAN; ROWS * len];
            super::super::packed::interleave_lines(&lines, ROWS, &mut want);
            // One value past the end must be left alone.
            let mut got = vec![f32::NAN; ROWS * len + 1];
            pack_rows_f32(&lines, &mut got);
            assert_eq!(&got[..ROWS * len], &want[..], "{len} steps");
            assert!(
                got[ROWS * len].is_nan(),
                "{len} steps: wrote past the panel"
            );
            for (p, step) in got.chunks_exact(ROWS).enumerate() {
                assert!(step
                    .iter()
                    .enumerate()
                    .all(|(q, &x)| x == (q * 1000 + p) as f32));
            }
        }
    }

    #[test]
    #[should_panic(expected = "pack_rows_f32")]
    fn packing_rows_checks_the_panel_shape() {
        if super::super::f32_kernel().is_none() {
            panic!("pack_rows_f32: no AVX-512F, nothing to check");
        }
        let line = [0.0f32; 16];
        pack_rows_f32(&[&line[..]; 11], &mut [0.0; 16 * 11]);
    }
}
