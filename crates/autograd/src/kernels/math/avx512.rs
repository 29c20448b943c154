//! [`tanh_f32_slice`](super::tanh_f32_slice) in AVX-512 intrinsics: sixteen values per
//! instruction whatever vector width the compiler prefers for the target (see
//! `kernels::simd`), with [`tanh_f32`](super::tanh_f32)'s operations in its order, so the
//! same bits.

use std::arch::x86_64::*;

use super::{tanh_f32, SMALL_TANH};

const LANES: usize = 16;

/// [`tanh_f32`] of every element of `src` into `dst` (same length), each run of sixteen values
/// all below [`SMALL_TANH`] in magnitude by the odd polynomial alone.
///
/// # Safety
/// The CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tanh_slice(src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "tanh: source and destination lengths");
    let (runs, rest) = src.as_chunks::<LANES>();
    let (out_runs, out_rest) = dst.as_chunks_mut::<LANES>();
    let small = _mm512_set1_ps(SMALL_TANH);
    for (x, out) in runs.iter().zip(out_runs) {
        // SAFETY: `x` and `out` are 16 `f32`s each, valid for one unaligned vector access.
        let x = unsafe { _mm512_loadu_ps(x.as_ptr()) };
        let a = abs(x);
        // Ordered comparison: a NaN lane is not small, and takes the general form.
        let all_small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, small) == u16::MAX;
        let y = if all_small {
            odd_polynomial(x, a)
        } else {
            general(x, a)
        };
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), y) };
    }
    for (d, &x) in out_rest.iter_mut().zip(rest) {
        *d = tanh_f32(x);
    }
}

/// `|x|`: the sign bit cleared.
#[inline]
#[target_feature(enable = "avx512f")]
fn abs(x: __m512) -> __m512 {
    let magnitude = _mm512_set1_epi32(i32::MAX);
    _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), magnitude))
}

/// `magnitude` (non-negative) with the sign of `sign`.
#[inline]
#[target_feature(enable = "avx512f")]
fn with_sign_of(magnitude: __m512, sign: __m512) -> __m512 {
    let sign_bit = _mm512_set1_epi32(i32::MIN);
    let sign = _mm512_and_si512(_mm512_castps_si512(sign), sign_bit);
    let magnitude = _mm512_andnot_si512(sign_bit, _mm512_castps_si512(magnitude));
    _mm512_castsi512_ps(_mm512_or_si512(magnitude, sign))
}

/// `c0 x + c1`, a multiplication and an addition, each rounded (the scalar code's `c0 * x + c1`).
#[inline]
#[target_feature(enable = "avx512f")]
fn mul_add_rounded(x: __m512, c0: __m512, c1: f32) -> __m512 {
    _mm512_add_ps(_mm512_mul_ps(c0, x), _mm512_set1_ps(c1))
}

/// `tanh_f32_small`: the odd polynomial for `|x| < 0.625`, given `a = |x|`.
#[inline]
#[target_feature(enable = "avx512f")]
fn odd_polynomial(x: __m512, a: __m512) -> __m512 {
    let [c0, c1, c2, c3, c4] = super::TANH_F32_ODD;
    let z = _mm512_mul_ps(a, a);
    let p = mul_add_rounded(z, _mm512_set1_ps(c0), c1);
    let p = mul_add_rounded(z, p, c2);
    let p = mul_add_rounded(z, p, c3);
    let p = mul_add_rounded(z, p, c4);
    let t = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, z), a), a);
    with_sign_of(t, x)
}

/// `exp_0_19`: `e^x` for `x` in `[0, 19]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp_0_19(x: __m512) -> __m512 {
    use super::exp_0_19_constants::*;
    let round = _mm512_set1_ps(ROUND);
    let t = _mm512_add_ps(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        round,
    );
    let n = _mm512_sub_ps(t, round);
    let r = _mm512_sub_ps(
        _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(LN2_HI))),
        _mm512_mul_ps(n, _mm512_set1_ps(LN2_LO)),
    );
    let [c0, c1, c2, c3, c4, c5] = POLYNOMIAL;
    let p = mul_add_rounded(r, _mm512_set1_ps(c0), c1);
    let p = mul_add_rounded(r, p, c2);
    let p = mul_add_rounded(r, p, c3);
    let p = mul_add_rounded(r, p, c4);
    let p = mul_add_rounded(r, p, c5);
    let one = _mm512_set1_ps(1.0);
    let p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), one);
    let exponent = _mm512_add_epi32(
        _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(round)),
        _mm512_set1_epi32(127),
    );
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(exponent));
    _mm512_mul_ps(p, scale)
}

/// `tanh_f32` on every lane: the odd polynomial below `0.625`, `x` itself for NaN, else
/// `1 - 2 / (e^{2|x|} + 1)` with the sign of `x`.
#[inline]
#[target_feature(enable = "avx512f")]
fn general(x: __m512, a: __m512) -> __m512 {
    let small = odd_polynomial(x, a);
    let limit = _mm512_set1_ps(super::SATURATED_TANH);
    let clamped = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, limit), a, limit);
    let e = exp_0_19(_mm512_add_ps(clamped, clamped));
    let one = _mm512_set1_ps(1.0);
    let quotient = _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(e, one));
    let large = with_sign_of(_mm512_sub_ps(one, quotient), x);
    let is_small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(SMALL_TANH));
    let is_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a);
    let y = _mm512_mask_blend_ps(is_nan, large, x);
    _mm512_mask_blend_ps(is_small, y, small)
}
