//! Which hand-written vector kernels this CPU runs, and the views of generic slices that they
//! take.
//!
//! The portable kernels are written so that the compiler vectorises them, but the width it
//! picks is a tuning choice of the target: for Intel's AVX-512 cores it prefers 256-bit
//! vectors, which halves the multiply-adds per instruction and, with 16-lane accumulators
//! split in two, runs out of registers. The hot `f32` kernels therefore also exist as AVX-512
//! intrinsics, chosen at run time; each performs the portable kernel's operations in the
//! same order, so both give the same bits.

/// Whether the `f32` AVX-512 kernels run here: the CPU has AVX-512F, and the build fuses
/// multiply-adds (the portable kernels' multiply-add is one rounding only then, as the
/// intrinsics' always is).
#[inline]
pub(crate) fn avx512_f32() -> bool {
    #[cfg(test)]
    if PORTABLE_ONLY.get() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    return cfg!(target_feature = "fma") && std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

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
fn as_f32_mut<T: 'static>(x: &mut [T]) -> Option<&mut [f32]> {
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

#[cfg(test)]
std::thread_local! {
    /// Set by [`portable`]: this thread takes the portable kernels.
    static PORTABLE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f()` with the portable kernels on this thread (call it on a one-thread pool's thread, so
/// that nothing it runs moves to another), for comparing them with the vector kernels.
#[cfg(test)]
pub(crate) fn portable<R>(f: impl FnOnce() -> R) -> R {
    PORTABLE_ONLY.set(true);
    let result = f();
    PORTABLE_ONLY.set(false);
    result
}

/// `run()` on one thread with the vector kernels and again with the portable ones, for a
/// test to compare: `(vector, portable)`. Where this machine has no vector kernels, both are
/// portable (and a note says so).
#[cfg(test)]
pub(crate) fn vector_and_portable<R: Send>(run: impl Fn() -> R + Sync) -> (R, R) {
    let one_thread = super::thread_pool(1);
    if !one_thread.install(avx512_f32) {
        eprintln!("no vector kernels on this machine: the portable ones compared with themselves");
    }
    let vector = one_thread.install(&run);
    let portable = one_thread.install(|| portable(&run));
    (vector, portable)
}
