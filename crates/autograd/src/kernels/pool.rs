//! Recycled buffers for large outputs.
//!
//! A training step allocates the same multi-megabyte activations and gradients again and
//! again. Freed, they go back to the C allocator, which returns them to the operating system;
//! the next step's buffers then fault every page in afresh (measured as about a quarter of the
//! Grokking ch.10 network's time). Here the tape hands the buffers of its values and of the
//! gradients it has consumed to a small per-thread pool, and the elementwise kernels and
//! products take their outputs from it: the pages stay mapped. Buffers below [`MIN_LEN`]
//! elements are left to the allocator, which serves those well.

use crate::{Real, Tensor};

/// Buffers with fewer elements than this are not pooled.
pub(crate) const MIN_LEN: usize = 1 << 16;

/// At most this many buffers are kept per thread and element type (the oldest goes first).
const MAX_BUFFERS: usize = 16;

/// An empty vector with room for `len` elements, from the pool when a buffer of a fitting
/// capacity (`len` to `2 len`) is there.
pub(crate) fn take<T: Real>(len: usize) -> Vec<T> {
    if len < MIN_LEN {
        return Vec::with_capacity(len);
    }
    let found = T::with_pool(|pool| {
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len && v.capacity() <= 2 * len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| pool.swap_remove(i))
    });
    match found {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(len),
    }
}

/// `len` zeros, in a pooled buffer when one fits.
pub(crate) fn zeroed<T: Real>(len: usize) -> Vec<T> {
    if len < MIN_LEN {
        return vec![T::zero(); len];
    }
    let mut v = take(len);
    v.resize(len, T::zero());
    v
}

/// Keeps the buffer of `t` for reuse if `t` is its last holder and it is large enough.
pub(crate) fn recycle<T: Real>(t: Tensor<T>) {
    if t.len() < MIN_LEN {
        return;
    }
    if let Ok(owned) = t.try_into_owned_nocopy() {
        let (v, _) = owned.into_raw_vec_and_offset();
        T::with_pool(|pool| {
            if pool.len() >= MAX_BUFFERS {
                pool.remove(0);
            }
            pool.push(v);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_is_reused_and_a_shared_one_is_not() {
        let t = crate::tensor::zeros::<f32>(&[MIN_LEN]);
        let held = t.clone();
        recycle(t);
        // Still held elsewhere: not taken.
        let fresh = take::<f32>(MIN_LEN);
        assert!(fresh.is_empty());
        let ptr = held.as_ptr();
        recycle(held);
        let again = zeroed::<f32>(MIN_LEN);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.iter().all(|&x| x == 0.0));
    }
}
