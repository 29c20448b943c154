//! Elementwise loops with numpy broadcasting.
//!
//! Every elementwise op's forward and backward is one call here with a closure, so the fast
//! paths (contiguous slices, a scalar operand, a bias row repeated over a batch) and the
//! threading live in one place. Large arrays are split over rayon's threads; results do not
//! depend on the thread count because every element is computed on its own. Each loop runs
//! in the version compiled for the CPU ([`dispatch`](super::dispatch)), with the closure
//! inlined into it.

use ndarray::{ArrayD, IxDyn, Zip};
use rayon::prelude::*;

use super::broadcast::broadcast_shape;
use super::dispatch::dispatch;
use crate::{Real, Tensor};

/// Arrays with at least this many elements are processed by several threads; below it the cost
/// of waking threads exceeds the work.
pub const PARALLEL_MIN_LEN: usize = 1 << 15;

/// Elements per parallel task: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 13;

fn from_vec<T: Real>(shape: &[usize], data: Vec<T>) -> Tensor<T> {
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .expect("kernel output length matches its shape")
        .into_shared()
}

fn map_slice<T: Real>(src: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    if src.len() >= PARALLEL_MIN_LEN {
        // Whole chunks per task, each a plain loop over slices, so that the loop vectorises
        // (rayon's per-element iterators do not).
        let mut out = super::pool::take(src.len());
        out.spare_capacity_mut()[..src.len()]
            .par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, s)| {
                dispatch(
                    #[inline(always)]
                    |_| {
                        for (o, &x) in o.iter_mut().zip(s) {
                            o.write(f(x));
                        }
                    },
                )
            });
        // SAFETY: the chunks cover the first `src.len()` values of the spare capacity, one
        // chunk of `src` each, and every value of every chunk was written above.
        unsafe { out.set_len(src.len()) };
        out
    } else {
        let mut out = super::pool::take(src.len());
        dispatch(
            #[inline(always)]
            |_| out.extend(src.iter().map(|&x| f(x))),
        );
        out
    }
}

fn zip_slices<T: Real>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync) -> Vec<T> {
    // A hard check: the parallel form below relies on it to fill the whole output.
    assert_eq!(
        a.len(),
        b.len(),
        "zip_slices: operands of different lengths"
    );
    if a.len() >= PARALLEL_MIN_LEN {
        let mut out = super::pool::take(a.len());
        out.spare_capacity_mut()[..a.len()]
            .par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(o, (a, b))| {
                dispatch(
                    #[inline(always)]
                    |_| {
                        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                            o.write(f(x, y));
                        }
                    },
                )
            });
        // SAFETY: as in `map_slice`: the chunks cover the first `a.len()` values, and `b` is
        // as long as `a`.
        unsafe { out.set_len(a.len()) };
        out
    } else {
        let mut out = super::pool::take(a.len());
        dispatch(
            #[inline(always)]
            |_| out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y))),
        );
        out
    }
}

/// `f(src, dst)` over pieces of `a`: for a function that works on whole slices (and so can
/// look at several elements at once), with the same threading as [`map`]. `f` must write every
/// element of `dst` from the element of `src` at the same place, so that the result does not
/// depend on how the array is cut. A closure is inlined into the version compiled for the CPU;
/// a kernel passed by name (such as [`math::tanh_slice`](super::math::tanh_slice)) chooses its
/// own.
pub fn map_slices<T: Real>(a: &Tensor<T>, f: impl Fn(&[T], &mut [T]) + Sync) -> Tensor<T> {
    let contiguous = a.as_standard_layout();
    let src = contiguous.as_slice().expect("standard layout");
    let mut out = super::pool::for_overwrite(src.len());
    if src.len() >= PARALLEL_MIN_LEN {
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, s)| {
                dispatch(
                    #[inline(always)]
                    |_| f(s, o),
                )
            });
    } else {
        dispatch(
            #[inline(always)]
            |_| f(src, &mut out),
        );
    }
    from_vec(a.shape(), out)
}

/// `f` applied to every element.
pub fn map<T: Real>(a: &Tensor<T>, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
    match a.as_slice() {
        Some(src) => from_vec(a.shape(), map_slice(src, f)),
        None => a.map(|&x| f(x)).into_shared(),
    }
}

/// `f(a, b)` element by element, broadcasting `a` and `b` against each other; `None` if their
/// shapes do not broadcast.
pub fn zip_with<T: Real>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T + Sync,
) -> Option<Tensor<T>> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa == sb {
        if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
            return Some(from_vec(sa, zip_slices(x, y, f)));
        }
    }
    let out_shape = broadcast_shape(sa, sb)?;
    if b.len() == 1 && sa == out_shape.as_slice() {
        let y = *b.iter().next().expect("one element");
        return Some(map(a, |x| f(x, y)));
    }
    if a.len() == 1 && sb == out_shape.as_slice() {
        let x = *a.iter().next().expect("one element");
        return Some(map(b, |y| f(x, y)));
    }
    if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
        // A row operand repeated over leading axes, e.g. a bias [n] against activations [m, n].
        if sa == out_shape.as_slice() && is_trailing(sb, sa) && !y.is_empty() {
            let mut out = Vec::with_capacity(x.len());
            dispatch(
                #[inline(always)]
                |_| {
                    for row in x.chunks_exact(y.len()) {
                        out.extend(row.iter().zip(y).map(|(&p, &q)| f(p, q)));
                    }
                },
            );
            return Some(from_vec(&out_shape, out));
        }
        if sb == out_shape.as_slice() && is_trailing(sa, sb) && !x.is_empty() {
            let mut out = Vec::with_capacity(y.len());
            dispatch(
                #[inline(always)]
                |_| {
                    for row in y.chunks_exact(x.len()) {
                        out.extend(x.iter().zip(row).map(|(&p, &q)| f(p, q)));
                    }
                },
            );
            return Some(from_vec(&out_shape, out));
        }
    }
    let shape = IxDyn(&out_shape);
    let av = a.broadcast(shape.clone())?;
    let bv = b.broadcast(shape.clone())?;
    let mut out = ArrayD::<T>::zeros(shape);
    dispatch(
        #[inline(always)]
        |_| {
            Zip::from(&mut out)
                .and(&av)
                .and(&bv)
                .for_each(|o, &x, &y| *o = f(x, y))
        },
    );
    Some(out.into_shared())
}

/// `dst += src`, element by element.
fn add_slice<T: Real>(dst: &mut [T], src: &[T]) {
    dispatch(
        #[inline(always)]
        |_| {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        },
    );
}

/// Whether `small` equals the trailing axes of `big` (ignoring leading 1s of `small`), so that
/// `small`'s contiguous data repeats along `big`'s leading axes.
fn is_trailing(small: &[usize], big: &[usize]) -> bool {
    let small = {
        let first = small.iter().position(|&d| d != 1).unwrap_or(small.len());
        &small[first..]
    };
    small.len() <= big.len() && big[big.len() - small.len()..] == *small
}

/// `acc += g`, in place when `acc` is not shared, for same-shaped tensors.
pub fn add_assign<T: Real>(acc: &mut Tensor<T>, g: &Tensor<T>) {
    debug_assert_eq!(acc.shape(), g.shape());
    if let (Some(dst), Some(src)) = (acc.as_slice_mut(), g.as_slice()) {
        if dst.len() >= PARALLEL_MIN_LEN {
            dst.par_chunks_mut(CHUNK)
                .zip(src.par_chunks(CHUNK))
                .for_each(|(d, s)| add_slice(d, s));
        } else {
            add_slice(dst, src);
        }
        return;
    }
    Zip::from(acc.view_mut()).and(g).for_each(|d, &s| *d += s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::tensor;

    /// The parallel forms fill every element of their output, whatever the pool hands them
    /// (buffers of NaN here) and however many threads run, a ragged last chunk included.
    #[test]
    fn the_parallel_forms_write_every_element() {
        let len = PARALLEL_MIN_LEN + CHUNK / 2 + 3;
        let a = tensor(&[len], (0..len).map(|i| i as f32).collect());
        let b = tensor(&[len], (0..len).map(|i| (i % 7) as f32).collect());
        for threads in [1, 2, 3] {
            crate::kernels::thread_pool(threads).install(|| {
                for _ in 0..2 {
                    crate::kernels::pool::give_back(vec![f32::NAN; len]);
                }
                let doubled = map(&a, |x| 2.0 * x);
                let sum = zip_with(&a, &b, |x, y| x + y).expect("same shapes");
                for i in 0..len {
                    assert_eq!(
                        doubled[[i]],
                        2.0 * i as f32,
                        "map at {i} on {threads} threads"
                    );
                    assert_eq!(
                        sum[[i]],
                        (i + i % 7) as f32,
                        "zip at {i} on {threads} threads"
                    );
                }
            });
        }
    }

    #[test]
    fn broadcasting_fast_paths_agree_with_the_general_path() {
        let a = tensor(&[2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let row = tensor(&[3], vec![10.0, 20.0, 30.0]);
        let col = tensor(&[2, 1], vec![100.0, 200.0]);
        let s = tensor(&[], vec![0.5]);
        let sum = |x: f64, y: f64| x + y;
        assert_eq!(
            zip_with(&a, &row, sum).unwrap().as_slice().unwrap(),
            &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
        );
        assert_eq!(
            zip_with(&row, &a, sum).unwrap().as_slice().unwrap(),
            &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
        );
        assert_eq!(
            zip_with(&a, &col, sum).unwrap().as_slice().unwrap(),
            &[101.0, 102.0, 103.0, 204.0, 205.0, 206.0]
        );
        assert_eq!(zip_with(&s, &a, sum).unwrap()[[1, 2]], 6.5);
        let outer = zip_with(&col, &row, |x, y| x * y).unwrap();
        assert_eq!(outer.shape(), &[2, 3]);
        assert_eq!(outer[[1, 2]], 6000.0);
        assert!(zip_with(&a, &tensor(&[2], vec![1.0, 2.0]), sum).is_none());
        // A transposed (non-contiguous) view goes through the general path.
        let t = a.clone().reversed_axes();
        let r = zip_with(&t, &t, sum).unwrap();
        assert_eq!(r.shape(), &[3, 2]);
        assert_eq!(r[[2, 1]], 12.0);
    }

    #[test]
    fn large_arrays_use_threads_and_give_the_same_numbers() {
        let n = PARALLEL_MIN_LEN * 3 + 7;
        let a = tensor(&[n], (0..n).map(|i| i as f32).collect());
        let b = map(&a, |x| x * 2.0);
        assert_eq!(b[[n - 1]], 2.0 * (n - 1) as f32);
        let mut acc = a.clone();
        add_assign(&mut acc, &b);
        assert_eq!(acc[[5]], 15.0);
        assert_eq!(a[[5]], 5.0, "the shared original must not change");
    }
}
