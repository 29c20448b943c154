//! Transcendental functions written for elementwise loops: only arithmetic, comparisons and
//! bit operations, no branches and no calls into the C math library, so the compiler
//! vectorises a loop over a slice.
//!
//! The C library's `tanh` takes 15-30 ns per value, one value at a time; a chapter-10 style
//! convolutional network evaluates 10^8 of them per pass over the MNIST test set. The versions
//! here are within 2 units in the last place of the exact result (checked against the C
//! library in the tests) and run several values per instruction.

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::dispatch::dispatch;

/// `ln 2` split so that `n * LN2_HI` is exact for the `n` used here (fdlibm's constants).
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `1.5 * 2^52`: adding it rounds a float to an integer, which then sits in the low bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `1 / k!` for `k = 13` down to `2`: the Taylor series of `e^r`, whose truncation error at
/// `|r| <= ln(2) / 2` is below `4e-18` relative.
const EXP_TAYLOR: [f64; 12] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// `e^y` for `0 <= y <= 700`: `y = n ln 2 + r` with `|r| <= ln(2) / 2`, `e^r` by its Taylor
/// series, times `2^n` built from its bits.
#[inline(always)]
fn exp_nonnegative(y: f64) -> f64 {
    let t = y * std::f64::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let mut p = EXP_TAYLOR[0];
    for c in &EXP_TAYLOR[1..] {
        p = p * r + c;
    }
    p = (p * r + 1.0) * r + 1.0;
    let k = t.to_bits().wrapping_sub(SHIFTER.to_bits());
    p * f64::from_bits(k.wrapping_add(1023) << 52)
}

/// Cephes' rational approximation of `(tanh(x) - x) / x^3` for `|x| < 0.625`:
/// `P(x^2) / Q(x^2)`.
#[allow(clippy::excessive_precision)]
const TANH_P: [f64; 3] = [
    -9.643_991_794_250_522_386_28e-1,
    -9.928_772_310_019_185_865_64e1,
    -1.614_687_684_417_084_479_52e3,
];
#[allow(clippy::excessive_precision)]
const TANH_Q: [f64; 3] = [
    1.128_116_784_916_329_314_02e2,
    2.235_488_390_601_004_485_83e3,
    4.844_063_053_251_254_860_48e3,
];

/// `tanh x` in `f64`, within 2 units in the last place; NaN stays NaN, `±inf` gives `±1`.
///
/// For `|x| < 0.625` a rational approximation, above it `1 - 2 / (e^{2|x|} + 1)` (from
/// `|x| = 20` on, `tanh` rounds to 1). Both are computed and one is selected, so a loop over
/// many values has no branch.
///
/// ```
/// use tapegrad_autograd::kernels::math::tanh_f64;
/// assert_eq!(tanh_f64(0.0), 0.0);
/// assert!((tanh_f64(0.5) - 0.5f64.tanh()).abs() <= 2.0 * f64::EPSILON);
/// assert_eq!(tanh_f64(-30.0), -1.0);
/// ```
#[inline(always)]
pub fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    let z = a * a;
    let p = (TANH_P[0] * z + TANH_P[1]) * z + TANH_P[2];
    let q = ((z + TANH_Q[0]) * z + TANH_Q[1]) * z + TANH_Q[2];
    let e = exp_nonnegative(2.0 * a.min(20.0));
    // One division serves both forms, `a + a (z p / q)` and `1 - 2 / (e + 1)` (written
    // `1 + (-2 / (e + 1))`, the same bits): a vector division costs as much as the whole
    // polynomial.
    let small = a < 0.625;
    let r = if small { z * p } else { -2.0 } / if small { q } else { e + 1.0 };
    let t = if small { a + a * r } else { 1.0 + r };
    if x.is_nan() {
        x
    } else {
        t.copysign(x)
    }
}

/// [`tanh_f64`] of every element of `src` into `dst`, the same bits, faster where the values
/// are small: each run of eight values all below `0.625` in magnitude (a network's
/// pre-activations, mostly) skips the exponential, which is most of the work.
///
/// ```
/// use tapegrad_autograd::kernels::math::{tanh_f64, tanh_f64_slice};
/// let x: Vec<f64> = (0..20).map(|i| (i as f64 - 10.0) / 7.0).collect();
/// let mut y = vec![0.0; 20];
/// tanh_f64_slice(&x, &mut y);
/// assert!(x.iter().zip(&y).all(|(&x, &y)| y.to_bits() == tanh_f64(x).to_bits()));
/// ```
///
/// # Panics
/// If the slices differ in length.
pub fn tanh_f64_slice(src: &[f64], dst: &mut [f64]) {
    dispatch(
        #[inline(always)]
        |_| {
            // NaN compares false, so a NaN takes the general path.
            by_runs::<f64, 8>(src, dst, |x| x.abs() < 0.625, tanh_small, tanh_f64);
        },
    );
}

/// `dst[i] = general(src[i])` for every `i`, except that each whole run of `RUN` elements that
/// all satisfy `is_easy` takes `easy` instead (a cheaper branch that gives the same bits for
/// those values). Each run is one fixed-size loop, so both branches vectorise.
///
/// # Panics
/// If the slices differ in length.
#[inline(always)]
fn by_runs<T: Copy, const RUN: usize>(
    src: &[T],
    dst: &mut [T],
    is_easy: impl Fn(T) -> bool,
    easy: impl Fn(T) -> T,
    general: impl Fn(T) -> T,
) {
    assert_eq!(src.len(), dst.len(), "tanh: source and destination lengths");
    let mut d = dst.chunks_exact_mut(RUN);
    let mut s = src.chunks_exact(RUN);
    for (d, s) in (&mut d).zip(&mut s) {
        // No early exit, so the test vectorises too.
        let all_easy = s.iter().fold(true, |all, &x| all & is_easy(x));
        if all_easy {
            for (d, &x) in d.iter_mut().zip(s) {
                *d = easy(x);
            }
        } else {
            for (d, &x) in d.iter_mut().zip(s) {
                *d = general(x);
            }
        }
    }
    for (d, &x) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = general(x);
    }
}

/// [`tanh_f64`] for `|x| < 0.625` only: its rational branch, the same operations.
#[inline(always)]
fn tanh_small(x: f64) -> f64 {
    let a = x.abs();
    let z = a * a;
    let p = (TANH_P[0] * z + TANH_P[1]) * z + TANH_P[2];
    let q = ((z + TANH_Q[0]) * z + TANH_Q[1]) * z + TANH_Q[2];
    (a + a * (z * p / q)).copysign(x)
}

/// The constants of [`exp_0_19`], shared with its vector form.
// The coefficients as Cephes publishes them (rounded to f32 on compilation).
#[allow(clippy::excessive_precision)]
mod exp_0_19_constants {
    /// `1.5 * 2^23`: adding it rounds to an integer (nearest, ties to even) and leaves it in
    /// the low mantissa bits, from where it is moved into the exponent of the scale.
    pub(super) const ROUND: f32 = 12_582_912.0;
    /// `ln 2` in two parts, so that `n * LN2_HI` is exact.
    pub(super) const LN2_HI: f32 = 0.693_359_4;
    /// See [`LN2_HI`].
    pub(super) const LN2_LO: f32 = -2.121_944_4e-4;
    /// `e^r = 1 + r + r^2 P(r)`: the coefficients of `P`, highest degree first.
    pub(super) const POLYNOMIAL: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ];
}

/// `e^x` for `x` in `[0, 19]`: `2^n e^r` with `n = round(x / ln 2)` and `|r| <= ln(2) / 2`,
/// `e^r` by Cephes' degree-7 polynomial (relative error about 1 ulp).
#[inline(always)]
fn exp_0_19(x: f32) -> f32 {
    use exp_0_19_constants::*;
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = POLYNOMIAL[1..]
        .iter()
        .fold(POLYNOMIAL[0], |p, &c| p * r + c);
    let p = p * r * r + r + 1.0;
    let scale = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    p * scale
}

/// Below this magnitude [`tanh_f32`] takes its odd polynomial.
const SMALL_TANH: f32 = 0.625;

/// `tanh(9.5)` rounds to 1 in `f32`: [`tanh_f32`] clamps its argument there, which keeps
/// `e^{2|x|}` finite.
const SATURATED_TANH: f32 = 9.5;

/// `tanh x = x + x^3 P(x^2)` for `|x| < 0.625`: the coefficients of `P`, highest degree first
/// (Cephes' `tanhf`, rounded to `f32` on compilation).
#[allow(clippy::excessive_precision)]
const TANH_F32_ODD: [f32; 5] = [
    -5.704_988_7e-3,
    2.063_908_9e-2,
    -5.373_971_6e-2,
    1.333_144_2e-1,
    -3.333_328_2e-1,
];

/// [`tanh_f32`] for `|x| < 0.625` only: its odd polynomial, the same operations.
#[inline(always)]
fn tanh_f32_small(x: f32) -> f32 {
    let a = x.abs();
    let z = a * a;
    // On |x| with the sign put back last, so the result is exactly odd (and -0 stays -0).
    let p = TANH_F32_ODD[1..]
        .iter()
        .fold(TANH_F32_ODD[0], |p, &c| p * z + c);
    (p * z * a + a).copysign(x)
}

/// `tanh x` for `f32` in `f32` arithmetic, 16 values per AVX-512 instruction instead of the 8
/// of [`tanh_f64`]: at most 1 unit in the last place from the exact value (the tests check a
/// sample spread over every binade), NaN for NaN, `±1` for `±inf`.
///
/// Below `|x| = 0.625` an odd polynomial in `x`, above it `1 - 2 / (e^{2|x|} + 1)` with the
/// sign of `x`; both are computed and one is selected, so a loop has no branch.
///
/// ```
/// use tapegrad_autograd::kernels::math::tanh_f32;
/// assert_eq!(tanh_f32(0.0), 0.0);
/// assert!((tanh_f32(0.5) - 0.5f32.tanh()).abs() <= f32::EPSILON);
/// assert_eq!(tanh_f32(20.0), 1.0);
/// ```
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let small = tanh_f32_small(x);
    // NaN passes the clamp unchanged.
    let clamped = if a > SATURATED_TANH {
        SATURATED_TANH
    } else {
        a
    };
    let e = exp_0_19(clamped + clamped);
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if a < SMALL_TANH {
        small
    } else if a.is_nan() {
        x
    } else {
        large
    }
}

/// [`tanh_f32`] of every element of `src` into `dst`, the same bits, faster where the values
/// are small: each run of sixteen values all below `0.625` in magnitude takes only the odd
/// polynomial, with no exponential and no division.
///
/// ```
/// use tapegrad_autograd::kernels::math::{tanh_f32, tanh_f32_slice};
/// let x: Vec<f32> = (0..40).map(|i| (i as f32 - 20.0) / 9.0).collect();
/// let mut y = vec![0.0; 40];
/// tanh_f32_slice(&x, &mut y);
/// assert!(x.iter().zip(&y).all(|(&x, &y)| y.to_bits() == tanh_f32(x).to_bits()));
/// ```
///
/// # Panics
/// If the slices differ in length.
pub fn tanh_f32_slice(src: &[f32], dst: &mut [f32]) {
    dispatch(
        #[inline(always)]
        |isa| {
            #[cfg(target_arch = "x86_64")]
            if let Some(_avx512) = isa.avx512() {
                // SAFETY: an `Avx512` token exists only in the version `dispatch` runs on a CPU
                // with AVX-512F.
                return unsafe { avx512::tanh_slice(src, dst) };
            }
            let _ = isa;
            // NaN compares false, so a NaN takes the general path.
            by_runs::<f32, 16>(src, dst, |x| x.abs() < SMALL_TANH, tanh_f32_small, tanh_f32);
        },
    );
}

/// `tanh x` for `f32` or `f64`: [`tanh_f32`] for `f32`, [`tanh_f64`] for `f64`.
#[inline(always)]
pub fn tanh<T: crate::Real>(x: T) -> T {
    super::element::Element::vector_tanh(x)
}

/// [`tanh`] of every element of `src` into `dst`: [`tanh_f32_slice`] or [`tanh_f64_slice`].
///
/// # Panics
/// If the slices differ in length.
pub fn tanh_slice<T: crate::Real>(src: &[T], dst: &mut [T]) {
    assert_eq!(src.len(), dst.len(), "tanh: source and destination lengths");
    <T as super::element::Element>::tanh_slice(src, dst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dispatch::{at_level, Level};

    /// How many representable `f64`s lie between `a` and `b` (same sign assumed).
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn tanh_is_within_two_ulps_of_the_c_library() {
        let mut worst = 0;
        let mut check = |x: f64| {
            let (ours, libm) = (tanh_f64(x), x.tanh());
            let d = ulps(ours, libm);
            assert!(d <= 2, "tanh({x:e}) = {ours:e}, C library {libm:e}");
            worst = worst.max(d);
        };
        for i in 0..400_000 {
            // Dense over [-25, 25], around the switch at 0.625, and over tiny values.
            check(-25.0 + i as f64 * 1.25e-4);
            check(0.625 + (i as f64 - 200_000.0) * 1e-9);
            check(i as f64 * 1e-13);
            check(-(i as f64) * 3.7e-300);
        }
        assert!(worst <= 2);
    }

    #[test]
    fn the_slice_form_gives_the_same_bits_as_one_value_at_a_time() {
        // Runs of eight small values (the fast path), runs with one large value or a NaN in
        // them, and a tail shorter than eight.
        let mut x: Vec<f64> = (0..4099)
            .map(|i| ((i * 7919) % 2000) as f64 * 3e-4)
            .collect();
        for (i, v) in x.iter_mut().enumerate() {
            if i % 2 == 1 {
                *v = -*v;
            }
        }
        x[17] = 3.5;
        x[40] = f64::NAN;
        x[41] = f64::NEG_INFINITY;
        x[100..116].fill(-0.0);
        x[4097] = 25.0;
        let mut y = vec![0.0; x.len()];
        tanh_f64_slice(&x, &mut y);
        for (&x, &y) in x.iter().zip(&y) {
            let want = tanh_f64(x);
            assert!(
                y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                "tanh({x:e}): slice {y:e}, one at a time {want:e}"
            );
        }
    }

    #[test]
    fn the_f32_slice_forms_give_the_same_bits_as_one_value_at_a_time() {
        // Runs of sixteen small values (the polynomial alone), runs with one large value, a NaN
        // or an infinity in them, values on both sides of the switch at 0.625 and of the
        // clamp at 9.5, values spread over every binade, and a tail shorter than sixteen.
        let mut x: Vec<f32> = (0..4099)
            .map(|i| ((i * 7919) % 2000) as f32 * 3e-4)
            .collect();
        x[17] = 3.5;
        x[40] = f32::NAN;
        x[41] = f32::NEG_INFINITY;
        x[100..132].fill(-0.0);
        x[4097] = -25.0;
        for edge in [SMALL_TANH, SATURATED_TANH] {
            let mut v = edge;
            for _ in 0..40 {
                x.extend([v, -v]);
                v = f32::from_bits(v.to_bits() - 1);
            }
            let mut v = edge;
            for _ in 0..40 {
                x.extend([v, -v]);
                v = f32::from_bits(v.to_bits() + 1);
            }
        }
        x.extend((0..60_000u32).map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761) >> 1)));
        x.extend((0..60_000u32).map(|i| -f32::from_bits(i.wrapping_mul(2_246_822_519) >> 1)));
        x.extend([
            f32::INFINITY,
            f32::MIN_POSITIVE,
            -f32::MAX,
            1e-40,
            2.0,
            3.0,
            4.0,
        ]);
        // Every level: the AVX-512 intrinsics and the compiled kernels alike.
        for cap in Level::ALL {
            let mut y = vec![0.0; x.len()];
            at_level(cap, || tanh_f32_slice(&x, &mut y));
            for (&x, &y) in x.iter().zip(&y) {
                let want = tanh_f32(x);
                assert!(
                    y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                    "tanh({x:e}): slice at {cap} {y:e}, one at a time {want:e}"
                );
            }
        }
    }

    #[test]
    fn tanh_special_values() {
        assert_eq!(tanh_f64(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tanh_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(tanh_f64(f64::INFINITY), 1.0);
        assert_eq!(tanh_f64(f64::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f64(1e300), 1.0);
        assert!(tanh_f64(f64::NAN).is_nan());
        assert_eq!(tanh_f64(f64::MIN_POSITIVE / 8.0), f64::MIN_POSITIVE / 8.0);
        for x in [0.5f32, -3.0, 1e-3, 0.7, 9.0] {
            let exact = (x as f64).tanh() as f32;
            let d = (tanh(x).to_bits() as i64 - exact.to_bits() as i64).unsigned_abs();
            assert!(d <= 1, "tanh({x}): {} vs {exact}", tanh(x));
        }
        assert_eq!(tanh(0.5f64), tanh_f64(0.5));
    }

    #[test]
    fn tanh_f32_is_within_one_ulp_of_the_exact_value() {
        let ulps = |a: f32, b: f32| (a.to_bits() as i32).abs_diff(b.to_bits() as i32);
        let mut worst = 0;
        // Every 997th positive f32, from the subnormals to the largest finite value; the exact
        // value is the f64 tanh rounded to f32.
        for bits in (0u32..0x7F80_0000).step_by(997) {
            let x = f32::from_bits(bits);
            let want = (x as f64).tanh() as f32;
            let got = tanh_f32(x);
            worst = worst.max(ulps(got, want));
            assert_eq!(
                tanh_f32(-x).to_bits(),
                (-got).to_bits(),
                "tanh is odd, at {x}"
            );
        }
        assert!(worst <= 1, "worst error {worst} ulp");
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }
}
