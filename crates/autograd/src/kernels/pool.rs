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

/// Scratch buffers shorter than this are left to the allocator (and do not push larger
/// buffers out of the pool).
const MIN_SCRATCH: usize = 1 << 12;

/// At most this many buffers are kept per thread and element type (the oldest goes first).
const MAX_BUFFERS: usize = 16;

/// A pooled buffer with a capacity of `len` to `2 len`, still holding its old contents.
fn find<T: Real>(len: usize) -> Option<Vec<T>> {
    T::with_pool(|pool| {
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len && v.capacity() <= 2 * len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| pool.swap_remove(i))
    })
}

/// An empty vector with room for `len` elements, from the pool when a buffer of a fitting
/// capacity (`len` to `2 len`) is there.
pub(crate) fn take<T: Real>(len: usize) -> Vec<T> {
    if len < MIN_LEN {
        return Vec::with_capacity(len);
    }
    match find(len) {
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

/// `len` elements of no particular value (a recycled buffer's old contents, or zeros), for an
/// output that is written in full before it is read: a pooled buffer then costs no pass over
/// its memory at all, where [`zeroed`] would write it twice.
pub(crate) fn for_overwrite<T: Real>(len: usize) -> Vec<T> {
    if len < MIN_LEN {
        return vec![T::zero(); len];
    }
    scratch(len)
}

/// `len` elements of no particular value, from the pool whatever the length: working space
/// that a kernel needs on every call (a GEMM's packed operands) and hands back with
/// [`give_back`].
pub(crate) fn scratch<T: Real>(len: usize) -> Vec<T> {
    if len < MIN_SCRATCH {
        return vec![T::zero(); len];
    }
    match find(len) {
        Some(mut v) if v.len() >= len => {
            v.truncate(len);
            v
        }
        Some(mut v) => {
            v.resize(len, T::zero());
            v
        }
        None => vec![T::zero(); len],
    }
}

/// Working space of `len` elements of no particular value that starts on a 64-byte boundary
/// (a cache line, and an AVX-512 vector), from the pool like [`scratch`] and handed back to
/// it when dropped.
///
/// A kernel's vector loads from it never straddle two cache lines. The C allocator places
/// large blocks 16 bytes past a page boundary, so every 64-byte load from a packed GEMM panel
/// in a plain buffer touched two lines (measured: 3 % of a 1024x1024 product on a Sapphire
/// Rapids core).
pub(crate) struct AlignedScratch<T: Real> {
    buffer: Vec<T>,
    start: usize,
    len: usize,
}

/// See [`AlignedScratch`].
pub(crate) fn aligned_scratch<T: Real>(len: usize) -> AlignedScratch<T> {
    let slack = 64 / std::mem::size_of::<T>();
    let buffer = scratch::<T>(len + slack);
    // An element pointer is aligned to the element's size, which divides 64: a boundary lies
    // within `slack` elements.
    let start = buffer.as_ptr().align_offset(64);
    debug_assert!(start < slack);
    AlignedScratch { buffer, start, len }
}

impl<T: Real> std::ops::Deref for AlignedScratch<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.buffer[self.start..self.start + self.len]
    }
}

impl<T: Real> std::ops::DerefMut for AlignedScratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buffer[self.start..self.start + self.len]
    }
}

impl<T: Real> Drop for AlignedScratch<T> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.buffer));
    }
}

/// Keeps `v` in this thread's pool for [`take`], [`for_overwrite`] or [`scratch`] (the oldest
/// buffer goes when the pool is full).
pub(crate) fn give_back<T: Real>(v: Vec<T>) {
    if v.capacity() < MIN_SCRATCH {
        return;
    }
    T::with_pool(|pool| {
        if pool.len() >= MAX_BUFFERS {
            pool.remove(0);
        }
        pool.push(v);
    });
}

/// Keeps the buffer of `t` for reuse if `t` is its last holder and it is large enough.
pub(crate) fn recycle<T: Real>(t: Tensor<T>) {
    if t.len() < MIN_LEN {
        return;
    }
    if let Ok(owned) = t.try_into_owned_nocopy() {
        let (v, _) = owned.into_raw_vec_and_offset();
        give_back(v);
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

    #[test]
    fn a_buffer_for_overwriting_keeps_its_old_contents_and_has_the_asked_length() {
        let t = crate::tensor::tensor::<f32>(&[MIN_LEN + 8], vec![3.0; MIN_LEN + 8]);
        let ptr = t.as_ptr();
        recycle(t);
        let v = for_overwrite::<f32>(MIN_LEN);
        assert_eq!((v.as_ptr(), v.len()), (ptr, MIN_LEN));
        assert!(v.iter().all(|&x| x == 3.0));
        drop(v);
        // Longer than the pooled contents but within its capacity: the rest is filled.
        let mut short = Vec::with_capacity(2 * MIN_LEN);
        short.resize(MIN_LEN, 5.0f32);
        let ptr = short.as_ptr();
        recycle(crate::tensor::tensor::<f32>(&[MIN_LEN], short));
        let w = for_overwrite::<f32>(MIN_LEN + 100);
        assert_eq!((w.as_ptr(), w.len()), (ptr, MIN_LEN + 100));
        assert!(w[..MIN_LEN].iter().all(|&x| x == 5.0));
        assert!(w[MIN_LEN..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn aligned_scratch_starts_on_a_cache_line_and_goes_back_to_the_pool() {
        for len in [MIN_SCRATCH, MIN_LEN + 3] {
            let mut first = aligned_scratch::<f32>(len);
            assert_eq!((first.len(), first.as_ptr() as usize % 64), (len, 0));
            first.fill(7.0);
            let ptr = first.as_ptr();
            drop(first);
            let again = aligned_scratch::<f32>(len);
            assert_eq!(again.as_ptr(), ptr, "the buffer was not reused");
            assert!(again.iter().all(|&x| x == 7.0));
            let wide = aligned_scratch::<f64>(len);
            assert_eq!((wide.len(), wide.as_ptr() as usize % 64), (len, 0));
        }
    }
}
