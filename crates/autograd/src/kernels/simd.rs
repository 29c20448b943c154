//! Views of generic slices as `f32`, for the hand-written AVX-512 kernels.
//!
//! The kernels are written so that the compiler vectorises them, but the width it picks is a
//! tuning choice of the target: for Intel's AVX-512 cores it prefers 256-bit vectors, which
//! halves the multiply-adds per instruction and, with 16-lane accumulators split in two, runs
//! out of registers. The hot `f32` kernels therefore also exist as AVX-512 intrinsics, run at
//! the AVX-512 level (see [`dispatch`](super::dispatch)); each performs the compiled kernel's
//! operations in the same order, with fused multiply-adds as the AVX2 level has them, so both
//! give the same bits.

/// `x` as `f32`s, if `T` is `f32`.
#[inline]
pub(crate) fn as_f32<T: 'static>(x: &[T]) -> Option<&[f32]> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: `T` is `f32` (same type id), so the slice's memory holds `x.len()` `f32`s.
        Some(unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) })
    } else {
        None
    }
}

/// `x` as `f32`s, if `T` is `f32`.
#[inline]
pub(crate) fn as_f32_mut<T: 'static>(x: &mut [T]) -> Option<&mut [f32]> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: `T` is `f32` (same type id), so the slice's memory holds `x.len()` `f32`s,
        // borrowed mutably and exclusively through `x` for the result's lifetime.
        Some(unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) })
    } else {
        None
    }
}

/// Vectors of `L` lanes as the 16-lane `f32` vectors of the AVX-512 kernels, if `T` is `f32`
/// and `L` is 16.
#[inline]
pub(crate) fn as_f32_lanes<T: 'static, const L: usize>(x: &[[T; L]]) -> Option<&[[f32; 16]]> {
    if L != 16 {
        return None;
    }
    as_f32(x.as_flattened()).map(|x| x.as_chunks().0)
}

/// See [`as_f32_lanes`].
#[inline]
pub(crate) fn as_f32_lanes_mut<T: 'static, const L: usize>(
    x: &mut [[T; L]],
) -> Option<&mut [[f32; 16]]> {
    if L != 16 {
        return None;
    }
    as_f32_mut(x.as_flattened_mut()).map(|x| x.as_chunks_mut().0)
}
