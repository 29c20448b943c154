//! The `f32` convolution and dense layer of the fused pass in AVX-512 intrinsics: one image per
//! lane of a 16-lane vector whatever width the compiler prefers for the target (see
//! `kernels::simd`), the portable kernels' multiply-adds in their order, so the same bits.

use std::arch::x86_64::*;

use super::CHAINS;

/// `convolve_maps_of` for `f32` groups of 16 images: the maps of `B` kernels of `K` taps.
///
/// # Safety
/// The CPU supports AVX-512F.
///
/// # Panics
/// If `maps` does not hold `B` maps of at least [`CHAINS`] positions each, or a window reads
/// past `pixels`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn convolve_maps<const K: usize, const B: usize>(
    pixels: &[[f32; 16]],
    taps: &[[f32; K]; B],
    offsets: &[usize; K],
    maps: &mut [[f32; 16]],
) {
    let span = maps.len() / B;
    assert!(
        span >= CHAINS && span * B == maps.len(),
        "convolve_maps: {} positions for {B} maps of at least {CHAINS}",
        maps.len()
    );
    let reach = offsets.iter().max().map_or(0, |&m| m + span);
    assert!(
        reach <= pixels.len(),
        "convolve_maps: windows reach pixel {reach} of {}",
        pixels.len()
    );
    let load = |p: &[f32; 16]| {
        // SAFETY: `p` is 16 `f32`s, valid for one unaligned vector read.
        unsafe { _mm512_loadu_ps(p.as_ptr()) }
    };
    let mut q = 0;
    loop {
        // The last run ends at the map's end, overlapping the one before (the portable
        // kernel's runs: the same positions, the same values).
        let first = q.min(span - CHAINS);
        let mut acc = [[_mm512_setzero_ps(); CHAINS]; B];
        for (t, &offset) in offsets.iter().enumerate() {
            let xs: [__m512; CHAINS] = std::array::from_fn(|c| load(&pixels[first + offset + c]));
            for (acc, taps) in acc.iter_mut().zip(taps) {
                let w = _mm512_set1_ps(taps[t]);
                for (acc, &x) in acc.iter_mut().zip(&xs) {
                    *acc = _mm512_fmadd_ps(w, x, *acc);
                }
            }
        }
        for (map, acc) in maps.chunks_exact_mut(span).zip(&acc) {
            for (out, &sum) in map[first..first + CHAINS].iter_mut().zip(acc) {
                // SAFETY: `out` is 16 `f32`s, valid for one unaligned vector write.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr(), sum) };
            }
        }
        if first + CHAINS == span {
            break;
        }
        q += CHAINS;
    }
}

/// `dense_block` for `f32` groups of 16 images and `C` columns: `sums[c] += h * rows[i][start +
/// c]` for each hidden vector `h = hidden[i]` in order.
///
/// # Safety
/// The CPU supports AVX-512F.
///
/// # Panics
/// If a row of `rows` (`columns` values) lacks the columns `start..start + C`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dense_block<const C: usize>(
    sums: &mut [[f32; 16]; C],
    hidden: &[[f32; 16]],
    rows: &[f32],
    columns: usize,
    start: usize,
) {
    // SAFETY: each of `sums` is 16 `f32`s, valid for one unaligned vector read.
    let mut acc: [__m512; C] =
        std::array::from_fn(|c| unsafe { _mm512_loadu_ps(sums[c].as_ptr()) });
    for (h, row) in hidden.iter().zip(rows.chunks_exact(columns)) {
        // SAFETY: `h` is 16 `f32`s.
        let h = unsafe { _mm512_loadu_ps(h.as_ptr()) };
        let row: &[f32; C] = row[start..start + C].try_into().expect("C columns");
        for (acc, &w) in acc.iter_mut().zip(row) {
            *acc = _mm512_fmadd_ps(h, _mm512_set1_ps(w), *acc);
        }
    }
    for (sums, acc) in sums.iter_mut().zip(acc) {
        // SAFETY: `sums` is 16 `f32`s, valid for one unaligned vector write.
        unsafe { _mm512_storeu_ps(sums.as_mut_ptr(), acc) };
    }
}
