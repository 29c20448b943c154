//! Reductions along axes (sum, max, min, logsumexp, argmax), and the reverse: a reduced value
//! spread back over the axes it was reduced along, which every reduction's gradient needs.
//!
//! Axes are given resolved: sorted, distinct, in range (see `ops::resolve_axes`).
//!
//! Inputs are read in C order. Axes of size 1 are ignored and neighbouring axes that are both
//! reduced or both kept are merged, so most reductions become one of two loops over contiguous
//! memory: rows (reduce the last axes: softmax-like, per-sample sums) or columns (reduce
//! leading or middle axes: a bias gradient is the column sum of `[N, M]`). Other axis sets are
//! first permuted into rows.
//!
//! Summation order is fixed by the shapes alone, never by the number of threads: rows are
//! summed pairwise (numpy's algorithm: blocks of 128 with eight accumulators, halves above
//! that), columns in order from the first row down. These are the orders numpy uses, so sums
//! and means of contiguous arrays over all elements, trailing axes or leading axes agree with
//! numpy to the last bit. Threads split the work over output elements (or, for one long sum,
//! over the fixed halves of the pairwise tree), so they do not change any result. The loops
//! run in the version compiled for the CPU ([`dispatch`](super::dispatch)).

use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

use super::dispatch::dispatch;
use super::elementwise::PARALLEL_MIN_LEN;
use crate::{Real, Tensor};

/// Elements per parallel task.
const CHUNK: usize = 1 << 13;

/// Pairwise sums switch from eight accumulators to halving above this length (numpy's value).
const PAIRWISE_BLOCK: usize = 128;

/// How a reduction combines the values of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// Their sum (0 for an empty group).
    Sum,
    /// Their maximum (NaN if any is NaN; `-inf` for an empty group).
    Max,
    /// Their minimum (NaN if any is NaN; `+inf` for an empty group).
    Min,
}

impl Fold {
    fn identity<T: Real>(self) -> T {
        match self {
            Fold::Sum => T::zero(),
            Fold::Max => T::neg_infinity(),
            Fold::Min => T::infinity(),
        }
    }
}

#[inline(always)]
fn max_nan<T: Real>(acc: T, v: T) -> T {
    if v > acc || v.is_nan() {
        v
    } else {
        acc
    }
}

#[inline(always)]
fn min_nan<T: Real>(acc: T, v: T) -> T {
    if v < acc || v.is_nan() {
        v
    } else {
        acc
    }
}

/// Where the groups of a reduction lie in the C-order buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The input is `[outer, len, inner]` and the middle axis is reduced: output element
    /// `(o, j)` combines `x[o, r, j]` for `r` in `0..len`. `inner == 1` is a row reduction.
    Block {
        outer: usize,
        len: usize,
        inner: usize,
    },
    /// The reduced axes are interleaved with kept ones.
    General,
}

fn layout(shape: &[usize], axes: &[usize]) -> Layout {
    // (reduced, merged size) runs, ignoring axes of size 1.
    let mut runs: Vec<(bool, usize)> = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let reduced = axes.binary_search(&i).is_ok();
        match runs.last_mut() {
            Some((r, size)) if *r == reduced => *size *= d,
            _ => runs.push((reduced, d)),
        }
    }
    let (outer, len, inner) = match runs.as_slice() {
        [] => (1, 1, 1),
        [(true, n)] => (1, *n, 1),
        [(false, a)] => (*a, 1, 1),
        [(false, a), (true, n)] => (*a, *n, 1),
        [(true, n), (false, b)] => (1, *n, *b),
        [(false, a), (true, n), (false, b)] => (*a, *n, *b),
        _ => return Layout::General,
    };
    Layout::Block { outer, len, inner }
}

/// The shape after reducing `axes` of `shape`: those axes removed, or kept with size 1.
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.binary_search(&i).is_ok(), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// How many elements each output element of a reduction over `axes` combines.
pub fn group_size(shape: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| shape[a]).product()
}

fn from_vec<T: Real>(shape: &[usize], data: Vec<T>) -> Tensor<T> {
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .expect("kernel output length matches its shape")
        .into_shared()
}

/// `x` with its axes permuted to `[kept..., reduced...]`, in C order: a row reduction.
fn kept_then_reduced<T: Real>(a: &Tensor<T>, axes: &[usize]) -> (Vec<T>, usize) {
    let mut perm: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
    perm.extend_from_slice(axes);
    let len = group_size(a.shape(), axes);
    let permuted = a.view().permuted_axes(IxDyn(&perm));
    (permuted.iter().copied().collect(), len)
}

/// The sum of `x` by numpy's pairwise algorithm (what `np.sum` does along a contiguous axis):
/// far more accurate than a running sum in `f32`, and as fast.
pub fn pairwise_sum<T: Real>(x: &[T]) -> T {
    pairwise_map(x, &|v| v)
}

/// The pairwise sum of `f(v)` over `x`.
pub fn pairwise_map<T: Real, F: Fn(T) -> T + Sync>(x: &[T], f: &F) -> T {
    let n = x.len();
    if n >= PARALLEL_MIN_LEN {
        let (a, b) = x.split_at(pairwise_half(n));
        let (sa, sb) = rayon::join(|| pairwise_map(a, f), || pairwise_map(b, f));
        return sa + sb;
    }
    dispatch(
        #[inline(always)]
        |_| pairwise_serial(x, f),
    )
}

/// Where the pairwise tree splits `n > PAIRWISE_BLOCK` values: about half, a multiple of 8.
#[inline(always)]
fn pairwise_half(n: usize) -> usize {
    let half = n / 2;
    half - half % 8
}

/// [`pairwise_map`] on the calling thread, for fewer than [`PARALLEL_MIN_LEN`] values: the
/// tree walked with a stack of its own, left half before right half, each node's sum `left +
/// right`, so that it is inlined into the version compiled for the CPU (a recursive function
/// would not be).
#[inline(always)]
fn pairwise_serial<T: Real, F: Fn(T) -> T>(x: &[T], f: &F) -> T {
    if x.len() <= PAIRWISE_BLOCK {
        return pairwise_block(x, f);
    }
    // Each level of the tree takes at most 9/16 of its range (half rounded down to a multiple
    // of 8), so fewer than 2^15 values are at most 12 levels above the blocks of 128; each
    // level leaves at most two steps pending.
    assert!(
        x.len() < PARALLEL_MIN_LEN,
        "pairwise_serial: {} values",
        x.len()
    );
    const STEPS: usize = 32;
    // A step that adds the last two sums (no range starts at `usize::MAX`).
    const ADD: (usize, usize) = (usize::MAX, 0);
    let mut steps = [(0, 0); STEPS];
    let mut sums = [T::zero(); STEPS / 2];
    steps[0] = (0, x.len());
    let (mut pending, mut done) = (1, 0);
    while pending > 0 {
        pending -= 1;
        let (start, len) = steps[pending];
        if (start, len) == ADD {
            done -= 1;
            let right = sums[done];
            sums[done - 1] += right;
        } else if len <= PAIRWISE_BLOCK {
            sums[done] = pairwise_block(&x[start..start + len], f);
            done += 1;
        } else {
            let half = pairwise_half(len);
            steps[pending] = ADD;
            steps[pending + 1] = (start + half, len - half);
            steps[pending + 2] = (start, half);
            pending += 3;
        }
    }
    sums[0]
}

/// A leaf of the pairwise tree (at most [`PAIRWISE_BLOCK`] values): a running sum below 8
/// values, else eight interleaved partial sums added as a tree, then the rest one by one.
#[inline(always)]
fn pairwise_block<T: Real, F: Fn(T) -> T>(x: &[T], f: &F) -> T {
    let n = x.len();
    if n < 8 {
        let mut res = T::zero();
        for &v in x {
            res += f(v);
        }
        return res;
    }
    let mut r = [T::zero(); 8];
    for (acc, &v) in r.iter_mut().zip(x) {
        *acc = f(v);
    }
    let whole = n - n % 8;
    for block in x[8..whole].chunks_exact(8) {
        for (acc, &v) in r.iter_mut().zip(block) {
            *acc += f(v);
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &x[whole..] {
        res += f(v);
    }
    res
}

fn fold_slice<T: Real>(x: &[T], fold: Fold) -> T {
    let serial = |x: &[T], g: fn(T, T) -> T| {
        dispatch(
            #[inline(always)]
            |_| x.iter().copied().fold(fold.identity(), g),
        )
    };
    let chunked = |g: fn(T, T) -> T| {
        if x.len() >= PARALLEL_MIN_LEN {
            x.par_chunks(CHUNK)
                .map(|c| serial(c, g))
                .reduce(|| fold.identity(), g)
        } else {
            serial(x, g)
        }
    };
    match fold {
        Fold::Sum => pairwise_sum(x),
        Fold::Max => chunked(max_nan),
        Fold::Min => chunked(min_nan),
    }
}

/// Combines rows `1..len` of a `[len, inner]` block into `out` (columns `j0..j0 + out.len()`),
/// which starts as row 0.
fn fold_columns<T: Real>(out: &mut [T], block: &[T], inner: usize, j0: usize, fold: Fold) {
    dispatch(
        #[inline(always)]
        |_| fold_columns_here(out, block, inner, j0, fold),
    )
}

/// [`fold_columns`] in the caller's version.
#[inline(always)]
fn fold_columns_here<T: Real>(out: &mut [T], block: &[T], inner: usize, j0: usize, fold: Fold) {
    let w = out.len();
    out.copy_from_slice(&block[j0..j0 + w]);
    for row in block.chunks_exact(inner).skip(1) {
        let row = &row[j0..j0 + w];
        // One loop per fold, so the sum's vectorises.
        match fold {
            Fold::Sum => out.iter_mut().zip(row).for_each(|(o, &v)| *o += v),
            Fold::Max => out
                .iter_mut()
                .zip(row)
                .for_each(|(o, &v)| *o = max_nan(*o, v)),
            Fold::Min => out
                .iter_mut()
                .zip(row)
                .for_each(|(o, &v)| *o = min_nan(*o, v)),
        }
    }
}

fn reduce_block<T: Real>(x: &[T], outer: usize, len: usize, inner: usize, fold: Fold) -> Vec<T> {
    let mut out = vec![T::zero(); outer * inner];
    let parallel = x.len() >= PARALLEL_MIN_LEN;
    if inner == 1 {
        if outer == 1 {
            out[0] = fold_slice(x, fold);
        } else if parallel {
            out.par_iter_mut()
                .zip(x.par_chunks(len))
                .with_min_len((CHUNK / len).max(1))
                .for_each(|(o, row)| *o = fold_slice(row, fold));
        } else {
            for (o, row) in out.iter_mut().zip(x.chunks(len)) {
                *o = fold_slice(row, fold);
            }
        }
        return out;
    }
    let block_len = len * inner;
    if parallel && outer > 1 {
        out.par_chunks_mut(inner)
            .zip(x.par_chunks(block_len))
            .for_each(|(o, b)| fold_columns(o, b, inner, 0, fold));
    } else if parallel {
        // One block (a column sum over a long batch): split the columns.
        let width = (CHUNK / len).max(64);
        out.par_chunks_mut(width)
            .enumerate()
            .for_each(|(c, o)| fold_columns(o, x, inner, c * width, fold));
    } else {
        for (o, b) in out.chunks_mut(inner).zip(x.chunks(block_len)) {
            fold_columns(o, b, inner, 0, fold);
        }
    }
    out
}

/// Reduces `a` over `axes` with `fold`, keeping the reduced axes with size 1 if `keepdims`.
pub fn reduce<T: Real>(a: &Tensor<T>, axes: &[usize], fold: Fold, keepdims: bool) -> Tensor<T> {
    let out_shape = reduced_shape(a.shape(), axes, keepdims);
    if a.is_empty() {
        let n = out_shape.iter().product();
        return from_vec(&out_shape, vec![fold.identity(); n]);
    }
    let data = match layout(a.shape(), axes) {
        Layout::Block { outer, len, inner } => {
            let std = a.as_standard_layout();
            let x = std.as_slice().expect("standard layout");
            reduce_block(x, outer, len, inner, fold)
        }
        Layout::General => {
            let (x, len) = kept_then_reduced(a, axes);
            reduce_block(&x, x.len() / len, len, 1, fold)
        }
    };
    from_vec(&out_shape, data)
}

/// `ln(sum(exp(a)))` over `axes`, computed as `m + ln(sum(exp(a - m)))` with `m` the group's
/// maximum, so that no exponential overflows (`m` is replaced by 0 where it is infinite, so
/// that a group of `-inf` gives `-inf` rather than NaN).
pub fn logsumexp<T: Real>(a: &Tensor<T>, axes: &[usize], keepdims: bool) -> Tensor<T> {
    let out_shape = reduced_shape(a.shape(), axes, keepdims);
    let shift = |m: T| if m.is_finite() { m } else { T::zero() };
    if let (Layout::Block { len, inner: 1, .. }, Some(x)) = (layout(a.shape(), axes), a.as_slice())
    {
        if !x.is_empty() {
            let row = |r: &[T]| {
                let m = shift(fold_slice(r, Fold::Max));
                m + pairwise_map(r, &|v| (v - m).exp()).ln()
            };
            let data: Vec<T> = if x.len() >= PARALLEL_MIN_LEN {
                x.par_chunks(len)
                    .with_min_len((CHUNK / len).max(1))
                    .map(row)
                    .collect()
            } else {
                x.chunks(len).map(row).collect()
            };
            return from_vec(&out_shape, data);
        }
    }
    let m = reduce(a, axes, Fold::Max, true).mapv(shift);
    let m = m.as_slice().expect("fresh arrays are contiguous");
    let e = zip_reduced(a, m, axes, |v, m| (v - m).exp());
    let s = reduce(&e, axes, Fold::Sum, keepdims);
    let data = s.iter().zip(m).map(|(&s, &m)| m + s.ln()).collect();
    from_vec(&out_shape, data)
}

/// `f(x, k)` for every element of `x`, where `k` holds one value per group of a reduction of
/// `x` over `axes` (in C order; the data of a reduced tensor, with or without kept axes):
/// `k` is broadcast back along the reduced axes. The result has `x`'s shape.
pub fn zip_reduced<T: Real>(
    x: &Tensor<T>,
    k: &[T],
    axes: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> Tensor<T> {
    let shape = x.shape();
    if x.is_empty() {
        return from_vec(shape, Vec::new());
    }
    let Layout::Block { len, inner, .. } = layout(shape, axes) else {
        let keep = reduced_shape(shape, axes, true);
        let k = ArrayD::from_shape_vec(IxDyn(&keep), k.to_vec()).expect("one value per group");
        let k = k.broadcast(IxDyn(shape)).expect("kept axes broadcast");
        return ndarray::Zip::from(x)
            .and(&k)
            .map_collect(|&v, &kv| f(v, kv))
            .into_shared();
    };
    let std = x.as_standard_layout();
    let xs = std.as_slice().expect("standard layout");
    let mut out = vec![T::zero(); xs.len()];
    let parallel = xs.len() >= PARALLEL_MIN_LEN;
    if inner == 1 {
        let body = |((o, r), &kv): ((&mut [T], &[T]), &T)| {
            dispatch(
                #[inline(always)]
                |_| {
                    for (o, &v) in o.iter_mut().zip(r) {
                        *o = f(v, kv);
                    }
                },
            )
        };
        if parallel {
            out.par_chunks_mut(len)
                .zip(xs.par_chunks(len))
                .zip(k.par_iter())
                .with_min_len((CHUNK / len).max(1))
                .for_each(body);
        } else {
            out.chunks_mut(len)
                .zip(xs.chunks(len))
                .zip(k)
                .for_each(body);
        }
    } else {
        let body = |(c, (o, r)): (usize, (&mut [T], &[T]))| {
            let kr = &k[(c / len) * inner..][..inner];
            dispatch(
                #[inline(always)]
                |_| {
                    for ((o, &v), &kv) in o.iter_mut().zip(r).zip(kr) {
                        *o = f(v, kv);
                    }
                },
            )
        };
        if parallel {
            out.par_chunks_mut(inner)
                .zip(xs.par_chunks(inner))
                .enumerate()
                .with_min_len((CHUNK / inner).max(1))
                .for_each(body);
        } else {
            out.chunks_mut(inner)
                .zip(xs.chunks(inner))
                .enumerate()
                .for_each(body);
        }
    }
    from_vec(shape, out)
}

/// A tensor of `shape` holding, at each element, the value `k` has for its group of a
/// reduction over `axes` (see [`zip_reduced`]): the gradient of a sum.
pub fn expand_reduced<T: Real>(k: &[T], shape: &[usize], axes: &[usize]) -> Tensor<T> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return from_vec(shape, Vec::new());
    }
    let Layout::Block { outer, len, inner } = layout(shape, axes) else {
        let keep = reduced_shape(shape, axes, true);
        let k = ArrayD::from_shape_vec(IxDyn(&keep), k.to_vec()).expect("one value per group");
        return k
            .broadcast(IxDyn(shape))
            .expect("kept axes broadcast")
            .to_owned()
            .into_shared();
    };
    let mut out = Vec::with_capacity(n);
    if inner == 1 {
        for &v in &k[..outer] {
            out.extend(std::iter::repeat_n(v, len));
        }
    } else {
        for group in k.chunks_exact(inner) {
            for _ in 0..len {
                out.extend_from_slice(group);
            }
        }
    }
    from_vec(shape, out)
}

/// The index along `axis` of the first maximum (`max`) or minimum of each lane of `a`, as numpy's
/// `argmax` / `argmin` (a NaN counts as the extreme: the first NaN is returned). The result
/// has `a`'s shape without `axis`.
///
/// # Panics
/// If `axis` has size 0 (an empty lane has no extreme).
pub fn arg_extreme<T: Real>(a: &Tensor<T>, axis: usize, max: bool) -> ArrayD<usize> {
    let shape = a.shape();
    let out_shape = reduced_shape(shape, &[axis], false);
    let len = shape[axis];
    assert!(len > 0, "arg_extreme: the axis is empty");
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let better = |v: T, best: T| {
        let strictly = if max { v > best } else { v < best };
        strictly || (v.is_nan() && !best.is_nan())
    };
    let std = a.as_standard_layout();
    let x = std.as_slice().expect("standard layout");
    let mut out = vec![0usize; outer * inner];
    dispatch(
        #[inline(always)]
        |_| {
            for o in 0..outer {
                let block = &x[o * len * inner..(o + 1) * len * inner];
                for j in 0..inner {
                    let (mut best, mut at) = (block[j], 0);
                    for r in 1..len {
                        let v = block[r * inner + j];
                        if better(v, best) {
                            best = v;
                            at = r;
                        }
                    }
                    out[o * inner + j] = at;
                }
            }
        },
    );
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("one index per lane")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::tensor;

    fn ramp(shape: &[usize]) -> Tensor<f64> {
        let n = shape.iter().product();
        tensor(shape, (0..n).map(|i| ((i * 7) % 11) as f64 - 5.0).collect())
    }

    /// A sum by ndarray's own axis sums, for comparison.
    fn reference(a: &Tensor<f64>, axes: &[usize]) -> ArrayD<f64> {
        let mut acc = a.to_owned();
        for &ax in axes.iter().rev() {
            acc = acc.sum_axis(ndarray::Axis(ax));
        }
        acc
    }

    #[test]
    fn every_layout_agrees_with_ndarray() {
        let a = ramp(&[3, 4, 5]);
        for axes in [
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![0, 1],
            vec![1, 2],
            vec![0, 2],
            vec![0, 1, 2],
        ] {
            let s = reduce(&a, &axes, Fold::Sum, false);
            assert_eq!(s, reference(&a, &axes).into_shared(), "axes {axes:?}");
            let kept = reduce(&a, &axes, Fold::Sum, true);
            assert_eq!(
                kept.shape(),
                reduced_shape(&[3, 4, 5], &axes, true).as_slice()
            );
            // Spreading back and summing again multiplies by the group size.
            let k = kept.as_slice().unwrap();
            let back = expand_reduced(k, &[3, 4, 5], &axes);
            let again = reduce(&back, &axes, Fold::Sum, false);
            let g = group_size(&[3, 4, 5], &axes) as f64;
            assert_eq!(again, s.mapv(|v| v * g), "axes {axes:?}");
            let z = zip_reduced(&a, k, &axes, |x, s| x - s);
            assert_eq!(z, &a - &back, "axes {axes:?}");
        }
        // A transposed view goes through the copy to standard layout.
        let t = ramp(&[4, 6]).reversed_axes();
        assert_eq!(
            reduce(&t, &[1], Fold::Max, false),
            t.fold_axis(ndarray::Axis(1), f64::NEG_INFINITY, |a, &b| a.max(b))
                .into_shared()
        );
    }

    #[test]
    fn sums_match_numpy_bit_for_bit() {
        // numpy 2.4.6: np.full(100000, 0.1, dtype=np.float32).sum() == 10000.0009765625, where a
        // running sum drifts to 9998.557.
        let ones = tensor(&[100_000], vec![0.1f32; 100_000]);
        assert_eq!(reduce(&ones, &[0], Fold::Sum, false)[[]], 10_000.001f32);
        // x = (np.arange(10000, dtype=np.float32) * np.float32(0.1)).reshape(100, 100)
        let x: Vec<f32> = (0..10_000).map(|i| i as f32 * 0.1).collect();
        let m = tensor(&[100, 100], x);
        // x.sum(axis=0)[:3], x.sum(axis=1)[:3], x.sum()
        let cols = reduce(&m, &[0], Fold::Sum, false);
        assert_eq!(
            &cols.as_slice().unwrap()[..3],
            &[49500.0f32, 49510.016, 49519.973]
        );
        let rows = reduce(&m, &[1], Fold::Sum, false);
        assert_eq!(&rows.as_slice().unwrap()[..3], &[495.0f32, 1495.0, 2495.0]);
        assert_eq!(reduce(&m, &[0, 1], Fold::Sum, false)[[]], 4999500.0f32);
    }

    /// The pairwise sum as first written, recursively: the stack walk must give its bits.
    fn recursive_pairwise(x: &[f32]) -> f32 {
        let n = x.len();
        if n <= PAIRWISE_BLOCK {
            return pairwise_block(x, &|v| v);
        }
        let (a, b) = x.split_at(pairwise_half(n));
        recursive_pairwise(a) + recursive_pairwise(b)
    }

    #[test]
    fn the_pairwise_stack_walk_gives_the_recursive_trees_bits() {
        let data: Vec<f32> = (0..70_000)
            .map(|i| ((i * 7919 % 1013) as f32).sin() * 1e3)
            .collect();
        let lengths = (0..300).chain([511, 512, 513, 1000, 4097, 32_767, 32_768, 70_000]);
        for n in lengths {
            let want = recursive_pairwise(&data[..n]);
            let got = pairwise_sum(&data[..n]);
            assert_eq!(got.to_bits(), want.to_bits(), "{n} values: {got} vs {want}");
        }
    }

    #[test]
    fn large_reductions_do_not_depend_on_threads() {
        let n = PARALLEL_MIN_LEN * 2 + 3;
        let data: Vec<f32> = (0..n).map(|i| ((i % 97) as f32).sin()).collect();
        let a = tensor(&[n], data.clone());
        let s = reduce(&a, &[0], Fold::Sum, false)[[]];
        let serial =
            crate::kernels::thread_pool(1).install(|| reduce(&a, &[0], Fold::Sum, false)[[]]);
        assert_eq!(s.to_bits(), serial.to_bits());
        let cols = tensor(&[3, n / 3], data[..n / 3 * 3].to_vec());
        let c = reduce(&cols, &[0], Fold::Sum, false);
        assert_eq!(c[[5]], data[5] + data[n / 3 + 5] + data[2 * (n / 3) + 5]);
    }

    #[test]
    fn extremes_propagate_nan_and_argmax_takes_the_first() {
        let a = tensor(&[2, 3], vec![1.0, f64::NAN, 3.0, 2.0, 5.0, 5.0]);
        let m = reduce(&a, &[1], Fold::Max, false);
        assert!(m[[0]].is_nan());
        assert_eq!(m[[1]], 5.0);
        let am = arg_extreme(&a, 1, true);
        assert_eq!(am.as_slice().unwrap(), &[1, 1]);
        assert_eq!(arg_extreme(&a, 0, false).as_slice().unwrap(), &[0, 0, 0]);
        let l = logsumexp(&tensor(&[2], vec![1000.0, 1000.0]), &[0], false);
        assert!((l[[]] - (1000.0 + 2f64.ln())).abs() < 1e-9);
        let none = logsumexp(&tensor(&[2], vec![f64::NEG_INFINITY; 2]), &[0], false);
        assert_eq!(none[[]], f64::NEG_INFINITY);
    }
}
