//! Matrix products through a blocked, vectorised, multi-threaded GEMM.
//!
//! Where the CPU has AVX-512, products of at least moderate size go through the crate's own
//! packed GEMM (`packed`, with the micro-kernels of `avx512`): 1024x1024 `f32` products
//! at 193 GFLOP/s median on this project's reference machine (2 cores), against 178 for
//! `matrixmultiply` and 189 for numpy's OpenBLAS in the same alternating runs. Elsewhere,
//! and for the shapes where it measured faster (short inner dimensions, a few columns, a
//! transposed right operand), the backend is `matrixmultiply`, which takes arbitrary row and
//! column strides, so transposed operands are never copied. Products with a handful of output
//! columns or a short inner dimension have kernels of their own here.
//!
//! `matrixmultiply` runs single-threaded here; large products are cut into blocks of output
//! columns (or rows) that rayon's pool multiplies in parallel. One pool for the GEMM and the
//! elementwise loops means their threads never spin against each other on the same cores, and
//! each block packs only its own part of the operand it cuts. Every output element is still
//! the same sum in the same order, whatever the cut, so results do not depend on the number of
//! threads (in either backend).

use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::dispatch::{dispatch, Isa};
use super::{pool, simd};
use crate::Real;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod packed;

pub(crate) use packed::PackedKernel;

/// The packed GEMM's `f32` kernel at the kernels' level, if it has one (AVX-512).
pub(crate) fn f32_kernel() -> Option<&'static PackedKernel<f32>> {
    #[cfg(target_arch = "x86_64")]
    if super::dispatch::level() == super::dispatch::Level::Avx512 {
        return Some(&avx512::F32);
    }
    None
}

/// The packed GEMM's `f64` kernel at the kernels' level, if it has one (AVX-512).
pub(crate) fn f64_kernel() -> Option<&'static PackedKernel<f64>> {
    #[cfg(target_arch = "x86_64")]
    if super::dispatch::level() == super::dispatch::Level::Avx512 {
        return Some(&avx512::F64);
    }
    None
}

/// `$f::<$t, N>(args)` with `N` the compile-time constant equal to `$n`, from 1 to 16:
/// the few-column and short-inner kernels keep their accumulators in registers only when
/// their width is known at compile time.
macro_rules! with_width {
    ($n:expr, $f:ident::<$t:ty>$args:tt) => {
        with_width!(@ $n, $f, $t, $args, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    };
    (@ $n:expr, $f:ident, $t:ty, $args:tt, $($w:literal)*) => {
        match $n {
            $($w => $f::<$t, $w> $args,)*
            n => unreachable!("{}: widths 1 to 16 only, not {n}", stringify!($f)),
        }
    };
}

/// `c = alpha * a b + beta * c`.
///
/// Any strides are accepted, so `a.t()` costs nothing. With `beta == 0` the old contents of `c`
/// are ignored (even NaN).
///
/// # Panics
/// If the shapes do not fit: `a` is m x k, `b` is k x n, `c` is m x n.
pub fn gemm<T: Real>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: cannot compute [{m}, {k}] x [{k2}, {n}] into [{}, {}]",
        c.nrows(),
        c.ncols()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == T::zero() {
            c.fill(T::zero());
        } else {
            c.mapv_inplace(|x| x * beta);
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let work = m * n * k;
    let single = std::mem::size_of::<T>() == 4;
    // Only for a `b` that is column-major and not also row-major (one column is both), which
    // the narrow form would copy.
    if let (true, Some(a), Some(bt)) = (
        single && n <= NARROW_MAX_N && k >= NARROW_MIN_K && b.to_slice().is_none(),
        a.to_slice(),
        b.t().to_slice(),
    ) {
        return row_dots_form(alpha, a, bt, beta, c);
    }
    if let (true, Some(a)) = (
        n <= NARROW_MAX_N && k >= NARROW_MIN_K && m >= 2,
        a.to_slice(),
    ) {
        return narrow_form(alpha, a, b, beta, c);
    }
    // In `f64` (two accumulator vectors per output column where `f32` has one) this form
    // measured slower than `matrixmultiply`.
    if let (true, Some(at)) = (
        single && n <= NARROW_MAX_N && k >= NARROW_MIN_K && m >= NARROW_COLUMNS,
        a.t().to_slice(),
    ) {
        return narrow_transposed_form(alpha, at, b, beta, c);
    }
    if k <= SHORT_MAX_K && n >= SHORT_MIN_N && c.is_standard_layout() {
        // A transposed `b` (the `g W^T` of a dense layer's backward with few outputs) is
        // copied: it has `k <= 16` rows against `m` of `c`.
        let b = b.as_standard_layout();
        let b = b.as_slice().expect("standard layout");
        split_rows(
            c,
            work,
            1,
            #[inline(always)]
            |isa, c, first| {
                let a = a.slice(s![first..first + c.nrows(), ..]);
                let c = c.as_slice_mut().expect("whole rows of a row-major matrix");
                short_form(isa, alpha, &a, b, beta, c);
            },
        );
        return;
    }
    if let (Some(kernel), true) = (
        T::packed_kernel(),
        k >= PACKED_MIN && n >= PACKED_MIN && m >= PACKED_MIN_ROWS && b.strides()[1] == 1,
    ) {
        let threads = if work >= PARALLEL_MIN_MACS {
            threads
        } else {
            1
        };
        return packed::gemm(kernel, alpha, a, b, beta, c, threads);
    }
    if threads > 1 && work >= PARALLEL_MIN_MACS {
        // Blocks of whole micro-kernel panels, one per thread (each block packs all of the
        // operand it does not cut, so more blocks cost more packing), none below the threshold.
        let tasks = threads.min(work / (PARALLEL_MIN_MACS / 2)).max(2);
        if n >= m {
            let per = n.div_ceil(tasks).next_multiple_of(PANEL);
            if per < n {
                c.axis_chunks_iter_mut(Axis(1), per)
                    .into_par_iter()
                    .zip(b.axis_chunks_iter(Axis(1), per))
                    .for_each(|(mut c, b)| gemm_serial(alpha, a, &b, beta, &mut c));
                return;
            }
        } else {
            let per = m.div_ceil(tasks).next_multiple_of(PANEL);
            if per < m {
                c.axis_chunks_iter_mut(Axis(0), per)
                    .into_par_iter()
                    .zip(a.axis_chunks_iter(Axis(0), per))
                    .for_each(|(mut c, a)| gemm_serial(alpha, &a, b, beta, &mut c));
                return;
            }
        }
    }
    gemm_serial(alpha, a, b, beta, c);
}

/// `a b` in a fresh row-major buffer of `m * n` values, for an output that no other product
/// is added into.
///
/// Where the product goes to a kernel that writes its output before reading it (the packed
/// GEMM and `matrixmultiply`, both with `beta = 0`), the buffer is not cleared first. A fresh
/// 1024x1024 `f32` output is 4 MiB that would otherwise be zeroed on the calling thread while
/// the other threads wait.
///
/// # Panics
/// If the shapes do not fit: `a` is m x k, `b` is k x n.
pub(crate) fn product<T: Real>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>) -> Vec<T> {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k,
        "matmul: cannot multiply [{m}, {k}] by [{}, {n}]: the inner dimensions differ",
        b.nrows()
    );
    let len = m * n;
    if vector_shaped(m, k, n) {
        // The vector shapes of `matmul_into` add into their output: it is cleared once, here,
        // rather than handed over with `beta = 0` to be cleared again (Grokking ch.8's
        // batch-size-1 net, `tiny`: 0.171 -> 0.150 s).
        let mut out = pool::zeroed(len);
        let mut c = ArrayViewMut2::from_shape((m, n), &mut out[..]).expect("m * n values");
        matmul_into(a, b, T::one(), &mut c);
        return out;
    }
    // The forms for few columns or a short inner dimension write through references: they
    // get initialised memory.
    if n <= NARROW_MAX_N || k <= SHORT_MAX_K {
        let mut out = pool::for_overwrite(len);
        let mut c = ArrayViewMut2::from_shape((m, n), &mut out[..]).expect("m * n values");
        matmul_into(a, b, T::zero(), &mut c);
        return out;
    }
    let mut out = pool::take::<T>(len);
    // SAFETY: `out` has room for `len = m * n` values, which the view addresses row-major
    // from its start; nothing else refers to them. With `n > NARROW_MAX_N`, `k > SHORT_MAX_K`
    // and `m > 1`, `gemm` hands the product to the packed GEMM or to `matrixmultiply`. With
    // `beta = 0` both write every element of `c` through raw pointers before reading it, and
    // form no reference to one (`packed::gemm`'s contract; `matrixmultiply` documents "if
    // beta is zero, then C does not need to be initialized"), so all `len` values are
    // initialised when `set_len` runs. A panic on the way leaves `out` empty.
    unsafe {
        let mut c = ArrayViewMut2::from_shape_ptr((m, n), out.as_mut_ptr());
        gemm(T::one(), a, b, T::zero(), &mut c);
        out.set_len(len);
    }
    out
}

/// Products with at most this many output columns, and an inner dimension at least
/// [`NARROW_MIN_K`] long, go through [`narrow_form`].
const NARROW_MAX_N: usize = 16;
/// See [`NARROW_MAX_N`].
const NARROW_MIN_K: usize = 64;
/// Rows of `a` that [`narrow_form`] carries through one pass over `b`.
const NARROW_ROWS: usize = 8;

/// `c = alpha a b + beta c` for few output columns (a 10-class output layer: `[m, 10000] @
/// [10000, 10]`).
///
/// GEMM packs both operands into panels before multiplying, which costs as much as the
/// product itself when each element of `a` is used only `n` times, and its micro-kernels are
/// wider than `n`. Here `a` is read in place, [`NARROW_ROWS`] rows at a time, and `b` row by
/// row: each row of `b` (`n` values, one or two vectors) is multiplied by one element of each
/// of the rows and added to their accumulators, which stay in registers for the whole inner
/// dimension. `n` is a compile-time constant in the loop, so no lane is wasted on padding.
/// Each output element is one fixed sequence of multiply-adds along the inner dimension, so
/// the result does not depend on how rows are spread over threads.
fn narrow_form<T: Real>(
    alpha: T,
    a: &[T],
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, n) = c.dim();
    let k = b.nrows();
    let b = b.as_standard_layout();
    let b = b.as_slice().expect("standard layout");
    split_rows(
        c,
        m * n * k,
        NARROW_ROWS,
        #[inline(always)]
        |isa, c, first| {
            let sums = narrow_rows(isa, &a[first * k..(first + c.nrows()) * k], b, n);
            store_sums(c, &sums, alpha, beta);
        },
    );
}

/// Runs `rows(isa, part, first)` on `c` cut into parts of whole `multiple`-row blocks
/// (`first` the part's first row), each part in the version compiled for the kernels' level
/// (`rows` is to be marked `#[inline(always)]`, see [`dispatch`]): one part per thread, as
/// many as the work pays for, or all of `c` on the calling thread for a small product.
fn split_rows<T: Real>(
    c: &mut ArrayViewMut2<'_, T>,
    work: usize,
    multiple: usize,
    rows: impl Fn(Isa, &mut ArrayViewMut2<'_, T>, usize) + Sync,
) {
    let part = |c: &mut ArrayViewMut2<'_, T>, first: usize| {
        dispatch(
            #[inline(always)]
            |isa| rows(isa, c, first),
        )
    };
    let threads = rayon::current_num_threads();
    if threads > 1 && work >= PARALLEL_MIN_MACS {
        let tasks = threads.min(work / (PARALLEL_MIN_MACS / 2)).max(2);
        let per = c.nrows().div_ceil(tasks).next_multiple_of(multiple);
        c.axis_chunks_iter_mut(Axis(0), per)
            .into_par_iter()
            .enumerate()
            .for_each(|(t, mut c)| part(&mut c, t * per));
    } else {
        part(c, 0);
    }
}

/// `c = alpha * sums + beta * c`, row by row, for the first `c.ncols()` sums of each row.
#[inline(always)]
fn store_sums<T: Real>(
    c: &mut ArrayViewMut2<'_, T>,
    sums: &[[T; NARROW_MAX_N]],
    alpha: T,
    beta: T,
) {
    for (mut row, sums) in c.rows_mut().into_iter().zip(sums) {
        for (dst, &s) in row.iter_mut().zip(sums) {
            store(dst, alpha, s, beta);
        }
    }
}

/// Lanes of each partial sum in [`row_dots_form`]: one 64-byte vector of `f32`.
const DOT_LANES: usize = 16;

/// `c = alpha a b + beta c` for few output columns with `b` the transpose of a row-major
/// matrix `bt` (`n x k`): a convolution's weight gradient `dY cols^T`, `[16, 625] @ [625,
/// 9]` for each image.
///
/// Each output is the dot product of a row of `a` and a row of `bt`, both contiguous: for each
/// row of `a`, the `n` rows of `bt` are walked together, [`DOT_LANES`] steps at a time, into `n`
/// vectors of partial sums held in registers, which are then added up in a fixed tree. The
/// narrow form would have to copy `b` into rows first, and would fill sixteen lanes with nine
/// columns. The sums are those of one fixed order per output, so the result does not depend
/// on how rows are spread over threads. `f32` only: in `f64` the narrow form keeps the order
/// of summation that results elsewhere were checked against.
fn row_dots_form<T: Real>(alpha: T, a: &[T], bt: &[T], beta: T, c: &mut ArrayViewMut2<'_, T>) {
    let (m, n) = c.dim();
    let k = a.len() / m;
    let row_of = |r: usize| &a[r * k..][..k];
    split_rows(
        c,
        m * n * k,
        1,
        #[inline(always)]
        |isa, c, first| {
            let rows = c.nrows();
            let mut r = 0;
            #[cfg(target_arch = "x86_64")]
            if let (Some(avx512), Some(a), Some(bt), true) = (
                isa.avx512(),
                simd::as_f32(a),
                simd::as_f32(bt),
                n <= avx512::PAIR_MAX_N,
            ) {
                let mut sums = [[T::zero(); NARROW_MAX_N]; 2];
                while r + 2 <= rows {
                    let (x0, x1) = (&a[(first + r) * k..][..k], &a[(first + r + 1) * k..][..k]);
                    let sums_f32: &mut [[f32; NARROW_MAX_N]; 2] = simd::as_f32_lanes_mut(&mut sums)
                        .expect("f32 like `a`")
                        .try_into()
                        .expect("two rows");
                    avx512::row_pair_dots(avx512, x0, x1, bt, sums_f32);
                    for (i, sums) in sums.iter().enumerate() {
                        for (dst, &sum) in c.row_mut(r + i).iter_mut().zip(sums) {
                            store(dst, alpha, sum, beta);
                        }
                    }
                    r += 2;
                }
            }
            for r in r..rows {
                let sums = row_dots(isa, row_of(first + r), bt, n);
                for (dst, &sum) in c.row_mut(r).iter_mut().zip(&sums) {
                    store(dst, alpha, sum, beta);
                }
            }
        },
    );
}

/// The dot products of `x` with each of the `n` rows of `bt` (`n x x.len()`, row-major), for
/// `n` from 1 to [`NARROW_MAX_N`]: [`row_dots_of_width`] with `n` fixed at compile time.
#[inline(always)]
fn row_dots<T: Real>(isa: Isa, x: &[T], bt: &[T], n: usize) -> [T; NARROW_MAX_N] {
    with_width!(n, row_dots_of_width::<T>(isa, x, bt))
}

/// See [`row_dots`]; `N` is the number of rows of `bt`.
#[inline(always)]
fn row_dots_of_width<T: Real, const N: usize>(isa: Isa, x: &[T], bt: &[T]) -> [T; NARROW_MAX_N] {
    let k = x.len();
    let rows: [&[T]; N] = std::array::from_fn(|j| &bt[j * k..][..k]);
    let mut acc = [[T::zero(); DOT_LANES]; N];
    let full = k - k % DOT_LANES;
    for p in (0..full).step_by(DOT_LANES) {
        let xs: &[T; DOT_LANES] = x[p..p + DOT_LANES].try_into().expect("whole lanes");
        for (acc, row) in acc.iter_mut().zip(&rows) {
            let ys: &[T; DOT_LANES] = row[p..p + DOT_LANES].try_into().expect("whole lanes");
            for ((acc, &x), &y) in acc.iter_mut().zip(xs).zip(ys) {
                *acc = isa.fma(x, y, *acc);
            }
        }
    }
    let mut out = [T::zero(); NARROW_MAX_N];
    for ((out, acc), row) in out.iter_mut().zip(&mut acc).zip(&rows) {
        // Halves folded onto each other: lane l gathers the lanes l mod 8, then mod 4, ...
        let mut width = DOT_LANES / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        *out = x[full..]
            .iter()
            .zip(&row[full..])
            .fold(acc[0], |sum, (&x, &y)| isa.fma(x, y, sum));
    }
    out
}

/// Rows of the output (columns of `a^T`) that [`narrow_transposed_form`] keeps in registers
/// through one pass over the inner dimension.
const NARROW_COLUMNS: usize = 32;

/// `c = alpha a b + beta c` for few output columns with `a` the transpose of a row-major
/// matrix `at` (`k x m`): a weight gradient `h^T g`, `[10000, 128]^T @ [128, 10]`.
///
/// For [`NARROW_COLUMNS`] rows of `c` at a time, the inner dimension is walked row by row of
/// `at`: each step multiplies a contiguous piece of one row of `at` by the step's row of `b`
/// into `n x NARROW_COLUMNS` accumulators held in registers, and the pieces of the steps
/// further on are prefetched (the walk touches `k` rows of `at` once per block, more streams
/// than the hardware follows). Each output is the chain of multiply-adds along the inner
/// dimension in order, as in [`narrow_form`], so the result is the same as for a contiguous
/// `a` and does not depend on how blocks are spread over threads.
fn narrow_transposed_form<T: Real>(
    alpha: T,
    at: &[T],
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, n) = c.dim();
    let b = b.as_standard_layout();
    let b = b.as_slice().expect("standard layout");
    let k = at.len() / m;
    split_rows(
        c,
        m * n * k,
        NARROW_COLUMNS,
        #[inline(always)]
        |isa, c, first| {
            for (r, mut rows) in c.axis_chunks_iter_mut(Axis(0), NARROW_COLUMNS).enumerate() {
                let sums = narrow_transposed_block(isa, at, m, first + r * NARROW_COLUMNS, b, n);
                store_sums(&mut rows, &sums, alpha, beta);
            }
        },
    );
}

/// Outputs `first..first + NARROW_COLUMNS` (fewer at the end) of [`narrow_transposed_form`],
/// one array of `n` sums each.
#[inline(always)]
fn narrow_transposed_block<T: Real>(
    isa: Isa,
    at: &[T],
    m: usize,
    first: usize,
    b: &[T],
    n: usize,
) -> [[T; NARROW_MAX_N]; NARROW_COLUMNS] {
    with_width!(n, narrow_transposed_of_width::<T>(isa, at, m, first, b))
}

/// See [`narrow_transposed_block`]; `N` is the number of columns of `b`, `J` (that is,
/// [`NARROW_COLUMNS`]) the outputs computed together.
#[inline(always)]
fn narrow_transposed_of_width<T: Real, const N: usize>(
    isa: Isa,
    at: &[T],
    m: usize,
    first: usize,
    b: &[T],
) -> [[T; NARROW_MAX_N]; NARROW_COLUMNS] {
    const J: usize = NARROW_COLUMNS;
    if first >= m {
        return [[T::zero(); NARROW_MAX_N]; J];
    }
    // A short last block reads the block before it again (its sums are dropped).
    let start = first.min(m.saturating_sub(J));
    let skip = first - start;
    let width = J.min(m);
    #[cfg(target_arch = "x86_64")]
    if let Some(_avx512) = isa.avx512() {
        if let (Some(at), Some(b)) = (simd::as_f32(at), simd::as_f32(b)) {
            let mut sums = [[T::zero(); NARROW_MAX_N]; J];
            let sums_f32: &mut [[f32; NARROW_MAX_N]; J] = simd::as_f32_lanes_mut(&mut sums)
                .expect("f32 like `at`")
                .try_into()
                .expect("J outputs");
            // SAFETY: an `Avx512` token exists only in the version `dispatch` runs on a CPU
            // with AVX-512F.
            unsafe { avx512::narrow_transposed::<N>(at, m, start, b, sums_f32) };
            let mut out = [[T::zero(); NARROW_MAX_N]; J];
            out[..width - skip].copy_from_slice(&sums[skip..width]);
            return out;
        }
    }
    let mut acc = [[T::zero(); J]; N];
    for (q, b_row) in b.chunks_exact(N).enumerate() {
        let row = &at[q * m..(q + 1) * m];
        prefetch(row, start + PREFETCH_AHEAD * J);
        let piece: [T; J] = match row.get(start..start + J) {
            Some(whole) => whole.try_into().expect("a whole block"),
            None => std::array::from_fn(|i| row.get(start + i).copied().unwrap_or(T::zero())),
        };
        for (acc, &y) in acc.iter_mut().zip(b_row) {
            for (acc, &x) in acc.iter_mut().zip(&piece) {
                *acc = isa.fma(x, y, *acc);
            }
        }
    }
    let mut out = [[T::zero(); NARROW_MAX_N]; J];
    for (i, out) in out.iter_mut().enumerate().take(width - skip) {
        for (j, acc) in acc.iter().enumerate() {
            out[j] = acc[skip + i];
        }
    }
    out
}

/// How many blocks ahead [`narrow_transposed_of_width`] prefetches each row.
const PREFETCH_AHEAD: usize = 4;

/// Asks the cache for the line holding `row[at]`, if it is inside `row`.
#[inline(always)]
fn prefetch<T>(row: &[T], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = row.get(at) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint; it never faults, and the address is inside `row`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, at);
}

/// The rows of the row-major `a` (`rows x k`) times the row-major `k x n` matrix `b`, for `n`
/// from 1 to [`NARROW_MAX_N`]: [`narrow_rows_of_width`] with `n` fixed at compile time.
#[inline(always)]
fn narrow_rows<T: Real>(isa: Isa, a: &[T], b: &[T], n: usize) -> Vec<[T; NARROW_MAX_N]> {
    with_width!(n, narrow_rows_padded::<T>(isa, a, b))
}

/// [`narrow_rows_of_width`], except that nine to fifteen `f32` columns, one 16-lane vector and
/// some change that the compiler splits into narrower vectors and scalars, are padded with
/// zero columns to 16 so that each row's multiply-add is one instruction. The padding's sums
/// are dropped; each kept sum is the same chain as without it.
#[inline(always)]
fn narrow_rows_padded<T: Real, const N: usize>(
    isa: Isa,
    a: &[T],
    b: &[T],
) -> Vec<[T; NARROW_MAX_N]> {
    if std::mem::size_of::<T>() != 4 || N <= 8 || N >= 16 {
        return narrow_rows_of_width::<T, N>(isa, a, b);
    }
    let mut padded = vec![T::zero(); b.len() / N * 16];
    for (dst, src) in padded.chunks_exact_mut(16).zip(b.chunks_exact(N)) {
        dst[..N].copy_from_slice(&src[..N]);
    }
    narrow_rows_of_width::<T, 16>(isa, a, &padded)
}

/// See [`narrow_rows`]; `N` is the number of columns of `b`.
#[inline(always)]
fn narrow_rows_of_width<T: Real, const N: usize>(
    isa: Isa,
    a: &[T],
    b: &[T],
) -> Vec<[T; NARROW_MAX_N]> {
    #[cfg(target_arch = "x86_64")]
    if let (true, Some(_avx512)) = (N == 16, isa.avx512()) {
        if let (Some(a_f32), Some(b_f32)) = (simd::as_f32(a), simd::as_f32(b)) {
            let mut out = vec![[T::zero(); NARROW_MAX_N]; a.len() / (b.len() / N)];
            let lanes = simd::as_f32_lanes_mut(&mut out).expect("f32 like `a`");
            // SAFETY: an `Avx512` token exists only in the version `dispatch` runs on a CPU
            // with AVX-512F.
            unsafe { avx512::narrow_rows_16(a_f32, b_f32, lanes) };
            return out;
        }
    }
    let b_rows: Vec<&[T; N]> = b
        .chunks_exact(N)
        .map(|r| r.try_into().expect("N elements"))
        .collect();
    let k = b_rows.len();
    let a_rows: Vec<&[T]> = a.chunks_exact(k).collect();
    let mut out = vec![[T::zero(); NARROW_MAX_N]; a_rows.len()];
    for (tile_out, tile) in out.chunks_mut(NARROW_ROWS).zip(a_rows.chunks(NARROW_ROWS)) {
        // A short last tile repeats its last row; the copies' sums are dropped.
        let xs: [&[T]; NARROW_ROWS] = std::array::from_fn(|i| &tile[i.min(tile.len() - 1)][..k]);
        let mut acc = [[T::zero(); N]; NARROW_ROWS];
        for (q, &b_row) in b_rows.iter().enumerate() {
            for (acc, x) in acc.iter_mut().zip(&xs) {
                let x = x[q];
                for (acc, &y) in acc.iter_mut().zip(b_row) {
                    *acc = isa.fma(x, y, *acc);
                }
            }
        }
        for (out, acc) in tile_out.iter_mut().zip(&acc) {
            out[..N].copy_from_slice(acc);
        }
    }
    out
}

/// Products with an inner dimension at most this long, and at least [`SHORT_MIN_N`] output
/// columns, go through [`short_form`], their rows spread over threads when the work pays for
/// it.
const SHORT_MAX_K: usize = 16;
/// See [`SHORT_MAX_K`].
const SHORT_MIN_N: usize = 64;
/// Output columns per step of [`short_form`]: one or two vector registers.
const SHORT_LANES: usize = 16;
/// Rows of `c` that [`short_form`] carries across all its columns before the next rows.
const SHORT_ROWS: usize = 16;

/// `c = alpha a b + beta c` for a short inner dimension (a convolution's first layer: 16
/// kernels of 3x3 taps against the `[9, 625]` column matrix of one image), with `b` and `c`
/// row-major.
///
/// GEMM would pack `b` for a product that reads each of its elements only `m` times. Here
/// [`SHORT_LANES`] columns of every row of `b` are loaded into registers once and every row of
/// `a` is multiplied against them; `k` is a compile-time constant, so the sum over it is fully
/// unrolled. Each output element is one fixed sequence of multiply-adds.
#[inline(always)]
fn short_form<T: Real>(isa: Isa, alpha: T, a: &ArrayView2<'_, T>, b: &[T], beta: T, c: &mut [T]) {
    with_width!(
        a.ncols(),
        short_form_of_depth::<T>(isa, alpha, a, b, beta, c)
    )
}

/// See [`short_form`]; `K` is the inner dimension.
#[inline(always)]
fn short_form_of_depth<T: Real, const K: usize>(
    isa: Isa,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    let n = b.len() / K;
    let weights: Vec<[T; K]> = a
        .rows()
        .into_iter()
        .map(|r| std::array::from_fn(|t| r[t]))
        .collect();
    let b_rows: [&[T]; K] = std::array::from_fn(|t| &b[t * n..][..n]);
    let full = n - n % SHORT_LANES;
    // A few rows of `c` at a time across all its columns: each block of columns loaded from
    // `b` serves them all, and the stores go along a few rows instead of down every row of a
    // tall `c` (`g W^T` has 128 rows 40 kB apart: a page each per block of columns).
    for (weights, c) in weights.chunks(SHORT_ROWS).zip(c.chunks_mut(SHORT_ROWS * n)) {
        for j in (0..full).step_by(SHORT_LANES) {
            let cols: [&[T; SHORT_LANES]; K] = std::array::from_fn(|t| {
                b_rows[t][j..j + SHORT_LANES]
                    .try_into()
                    .expect("SHORT_LANES elements")
            });
            for (w, c_row) in weights.iter().zip(c.chunks_exact_mut(n)) {
                let mut acc = [T::zero(); SHORT_LANES];
                for (&w, col) in w.iter().zip(&cols) {
                    for (acc, &x) in acc.iter_mut().zip(col.iter()) {
                        *acc = isa.fma(w, x, *acc);
                    }
                }
                for (dst, &sum) in c_row[j..j + SHORT_LANES].iter_mut().zip(&acc) {
                    store(dst, alpha, sum, beta);
                }
            }
        }
    }
    for (w, c_row) in weights.iter().zip(c.chunks_exact_mut(n)) {
        for (j, dst) in c_row.iter_mut().enumerate().skip(full) {
            let sum = w
                .iter()
                .zip(&b_rows)
                .fold(T::zero(), |acc, (&w, row)| isa.fma(w, row[j], acc));
            store(dst, alpha, sum, beta);
        }
    }
}

/// `*dst = alpha * sum + beta * *dst`, where `beta == 0` ignores the old value (even NaN).
///
/// `alpha == 1` (nearly every product) skips the multiplication, whose result is `sum` itself:
/// a short product such as a convolution's `[16, 9] @ [9, 625]` has one store per nine
/// multiply-adds, and the multiply would take the same unit as they do.
#[inline(always)]
fn store<T: Real>(dst: &mut T, alpha: T, sum: T, beta: T) {
    let scaled = if alpha == T::one() { sum } else { alpha * sum };
    *dst = if beta == T::zero() {
        scaled
    } else {
        scaled + beta * *dst
    };
}

/// Products go through the packed GEMM (where the CPU has its kernel) when the inner and
/// column dimensions are at least this long, there are at least [`PACKED_MIN_ROWS`] rows
/// and `b`'s rows are contiguous; elsewhere `matrixmultiply` measured faster (short inner
/// dimensions, a few columns, a transposed `b`).
const PACKED_MIN: usize = 64;
/// See [`PACKED_MIN`].
const PACKED_MIN_ROWS: usize = 24;

/// Below this many multiply-adds a product runs on the calling thread: splitting it would cost
/// more in packing and waking threads than it saves.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// Block sizes are multiples of this (a multiple of the micro-kernels' panel sizes), so that
/// blocks are whole panels and the cut adds no partial ones.
const PANEL: usize = 32;

/// [`gemm`] on the calling thread; shapes already checked, none of `m`, `n`, `k` zero.
fn gemm_serial<T: Real>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let (rsa, csa) = strides(a.strides());
    let (rsb, csb) = strides(b.strides());
    let (rsc, csc) = strides(c.strides());
    // SAFETY: the views guarantee that every (row, column) index within the dimensions checked
    // above addresses valid memory through these strides; `c` is borrowed mutably, so it cannot
    // overlap `a` or `b`, which are borrowed shared for the whole call.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

/// `c = a b + beta c` for matrices of any strides.
///
/// A product with a single row, a single column or a single inner term (`m`, `n` or `k` is 1:
/// a vector times a matrix, as in a batch-size-1 training loop, or a rank-1 gradient update)
/// reads each element once, so GEMM's packing of the operands costs more than the product
/// itself: those run as direct loops over rows or columns (several times faster at
/// `[1, 784] @ [784, 40]`). Everything else goes to [`gemm`].
///
/// # Panics
/// If the shapes do not fit: `a` is m x k, `b` is k x n, `c` is m x n.
pub fn matmul_into<T: Real>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if !vector_shaped(m, k, n) || k == 0 {
        gemm(T::one(), a, b, beta, c);
        return;
    }
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "matmul_into: cannot compute [{m}, {k}] x [{}, {n}] into {:?}",
        b.nrows(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if beta == T::zero() {
        c.fill(T::zero());
    } else if beta != T::one() {
        c.mapv_inplace(|x| x * beta);
    }
    dispatch(
        #[inline(always)]
        |_| vector_product(a, b, c),
    );
}

/// `c += a b` for the vector shapes of [`matmul_into`] (`m`, `n` or `k` is 1; none is 0).
#[inline(always)]
fn vector_product<T: Real>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    // Each case first tries contiguous slices (the usual layouts: row-major values and the
    // transposed views of row-major values), where the loops vectorise; any other strides go
    // through ndarray's strided rows and columns.
    if k == 1 {
        // Rank-1 update: row i of c gains a_i0 times the row of b.
        let b_row = b.row(0);
        if let (Some(bs), Some(cs)) = (b_row.to_slice(), c.as_slice_mut()) {
            for (&p, c_row) in a.column(0).iter().zip(cs.chunks_exact_mut(n)) {
                axpy(c_row, p, bs);
            }
        } else {
            for (&p, mut c_row) in a.column(0).iter().zip(c.rows_mut()) {
                c_row.scaled_add(p, &b_row);
            }
        }
    } else if m == 1 {
        let a_row = a.row(0);
        let mut c_row = c.row_mut(0);
        if let (Some(bs), Some(cs)) = (b.to_slice(), c_row.as_slice_mut()) {
            // c += sum_k a_k b_k: whole rows of b, read in order.
            for (&p, b_row) in a_row.iter().zip(bs.chunks_exact(n)) {
                axpy(cs, p, b_row);
            }
        } else if let (Some(bts), Some(xs)) = (b.t().to_slice(), a_row.to_slice()) {
            // b = W^T: its columns are W's rows, so each output is one contiguous dot product.
            for (cj, w_row) in c_row.iter_mut().zip(bts.chunks_exact(k)) {
                *cj += dot(xs, w_row);
            }
        } else {
            for (cj, b_col) in c_row.iter_mut().zip(b.columns()) {
                *cj += a_row.dot(&b_col);
            }
        }
    } else {
        let b_col = b.column(0);
        let mut c_col = c.column_mut(0);
        if let (Some(xs), Some(as_)) = (b_col.to_slice(), a.to_slice()) {
            for (ci, a_row) in c_col.iter_mut().zip(as_.chunks_exact(k)) {
                *ci += dot(a_row, xs);
            }
        } else if let (Some(ats), Some(cs)) = (a.t().to_slice(), c_col.as_slice_mut()) {
            // a = X^T: its columns are X's rows; c gains b_k times each of them.
            for (&q, x_row) in b_col.iter().zip(ats.chunks_exact(m)) {
                axpy(cs, q, x_row);
            }
        } else {
            for (ci, a_row) in c_col.iter_mut().zip(a.rows()) {
                *ci += a_row.dot(&b_col);
            }
        }
    }
}

/// `y += alpha x`.
#[inline(always)]
fn axpy<T: Real>(y: &mut [T], alpha: T, x: &[T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `sum_i x_i y_i`, in eight interleaved partial sums so that the loop vectorises (the order
/// is fixed, so the result does not vary between runs).
#[inline(always)]
fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::zero(); LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (p, q) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] += p[l] * q[l];
        }
    }
    let mut total = T::zero();
    for (&p, &q) in xr.iter().zip(yr) {
        total += p * q;
    }
    acc.iter().fold(total, |s, &v| s + v)
}

/// Whether `[m, k] x [k, n]` is one of the shapes [`matmul_into`] computes with its own
/// vector loops (a matrix-vector, vector-matrix or outer product), which add into `c`.
fn vector_shaped(m: usize, k: usize, n: usize) -> bool {
    m == 1 || n == 1 || k == 1
}

fn strides(s: &[isize]) -> (isize, isize) {
    (s[0], s[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::thread_pool;
    use ndarray::{array, Array2};

    /// The gradient checker's sample values for `shape`, in `f32`.
    fn sample_f32(shape: [usize; 2], seed: u64) -> Array2<f32> {
        crate::gradcheck::registry::sample(&shape, seed)
            .into_dimensionality::<ndarray::Ix2>()
            .expect("rank 2")
            .mapv(|v| v as f32)
    }

    #[test]
    fn transposed_views_multiply_without_copies() {
        let a = array![[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = array![[1.0f64, 0.0, 2.0], [0.0, 1.0, 3.0]];
        let mut c = Array2::zeros((3, 3));
        gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert_eq!(c, a.dot(&b));
        let mut d = Array2::zeros((2, 2));
        gemm(1.0, &a.t(), &a.view(), 0.0, &mut d.view_mut());
        assert_eq!(d, a.t().dot(&a));
        gemm(1.0, &a.t(), &a.view(), 1.0, &mut d.view_mut());
        assert_eq!(d, a.t().dot(&a) * 2.0);
    }

    /// `product` fills its buffer whatever route it takes (packed GEMM with edge tiles,
    /// `matrixmultiply` for a transposed `b`, the narrow and short forms, a single row), on one
    /// and on two threads: the pool is first stocked with buffers of NaN, which show through
    /// wherever a value was left unwritten.
    #[test]
    fn a_fresh_product_writes_every_element_of_its_buffer() {
        for threads in [1, 2] {
            thread_pool(threads).install(|| {
                for (m, k, n, bt) in [
                    (100, 200, 300, false),
                    (37, 513, 70, false),
                    (300, 300, 300, true),
                    (50, 40, 30, false),
                    (90, 100, 10, false),
                    (60, 9, 200, false),
                    (1, 300, 300, false),
                    (256, 256, 256, false),
                ] {
                    let a = sample_f32([m, k], 1);
                    let b_own = sample_f32([k, n], 2);
                    let b_t = b_own.t().as_standard_layout().to_owned();
                    let b = if bt { b_t.t() } else { b_own.view() };
                    for _ in 0..2 {
                        pool::give_back(vec![f32::NAN; m * n]);
                    }
                    let got = product(&a.view(), &b);
                    let mut want = Array2::zeros((m, n));
                    matmul_into(&a.view(), &b, 0.0, &mut want.view_mut());
                    assert_eq!(got.len(), m * n);
                    assert!(
                        got.iter()
                            .zip(&want)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "[{m}, {k}] x [{k}, {n}] (b transposed: {bt}) on {threads} threads"
                    );
                }
            });
        }
    }

    /// Every width of `b` from 1 to 100 and every height of `a` from 1 to 60 (whole, partial
    /// and half-wide last panels of either kernel), against a triple loop, through `gemm`'s own
    /// choice of route, with `a` row-major and transposed, for inner lengths either side of
    /// the limits of the narrow, short and packed forms and of the threshold for threads, on
    /// 1 and 2 threads.
    #[test]
    fn every_width_and_height_agrees_with_a_triple_loop() {
        fn check<T: Real>(tolerance: f64) {
            let value = |i: usize, j: usize, s: usize| {
                T::lit(((i * 7 + j * 13 + s) % 17) as f64 / 8.0 - 1.0)
            };
            let widths = [(1, 130), (5, 17), (13, 3), (40, 130), (100, 130)]
                .into_iter()
                .flat_map(|(m, k)| (1..=100).map(move |n| (m, k, n)));
            let heights = [(100, 80), (20, 40)]
                .into_iter()
                .flat_map(|(k, n)| (1..=60).map(move |m| (m, k, n)));
            let shapes: Vec<_> = widths.chain(heights).collect();
            for threads in [1, 2] {
                thread_pool(threads).install(|| {
                    for &(m, k, n) in &shapes {
                        let a = Array2::from_shape_fn((m, k), |(i, j)| value(i, j, 1));
                        let a_t = a.t().as_standard_layout().to_owned();
                        let b = Array2::from_shape_fn((k, n), |(i, j)| value(i, j, 2));
                        for (layout, a_view) in [("row-major", a.view()), ("transposed", a_t.t())] {
                            let mut c = Array2::from_elem((m, n), T::nan());
                            gemm(T::one(), &a_view, &b.view(), T::zero(), &mut c.view_mut());
                            for ((i, j), got) in c.indexed_iter() {
                                let want: f64 = (0..k)
                                    .map(|p| {
                                        a[[i, p]].to_f64().unwrap() * b[[p, j]].to_f64().unwrap()
                                    })
                                    .sum();
                                let got = got.to_f64().unwrap();
                                assert!(
                                    (got - want).abs() <= tolerance * (1.0 + want.abs()),
                                    "[{m}, {k}] ({layout}) x [{k}, {n}] on {threads} threads \
                                     at ({i}, {j}): {got} vs {want}"
                                );
                            }
                        }
                    }
                });
            }
        }
        check::<f32>(1e-5);
        check::<f64>(1e-12);
    }

    #[test]
    fn parallel_blocks_and_dot_form_agree_with_one_serial_product() {
        let pool = thread_pool;
        // Wide (split by columns), tall (split by rows), few columns (narrow form), transposed.
        for (m, k, n, at) in [
            (128, 784, 512, false),
            (784, 128, 512, true),
            (1000, 300, 40, false),
            (100, 1000, 10, false),
            (101, 67, 7, false),
            (512, 128, 10, true),
            // Few columns of a transposed `a`, with a ragged last block.
            (45, 70, 3, true),
            (100, 64, 16, true),
            // Short inner dimension (a first convolution layer), with a ragged last block.
            (16, 9, 625, false),
            // A convolution's weight gradient: a long inner dimension, nine columns.
            (16, 625, 9, false),
            (3, 100, 16, false),
            (128, 10, 10000, false),
            (5, 3, 70, false),
            (3, 16, 64, true),
        ] {
            let a_shape = if at { [k, m] } else { [m, k] };
            let a_store = sample_f32(a_shape, 1);
            let a = if at { a_store.t() } else { a_store.view() };
            let b = sample_f32([k, n], 2);
            // `b` as it is, and as the transpose of a row-major `[n, k]` (the row-dots form,
            // the short form's copy).
            let b_rows = b.t().as_standard_layout().to_owned();
            for b in [b.view(), b_rows.t()] {
                let mut serial = Array2::<f32>::ones((m, n));
                gemm_serial(1.0, &a, &b, 0.5, &mut serial.view_mut());
                let mut one = Array2::<f32>::ones((m, n));
                pool(1).install(|| gemm(1.0, &a, &b, 0.5, &mut one.view_mut()));
                for threads in [2, 3] {
                    let mut many = Array2::<f32>::ones((m, n));
                    pool(threads).install(|| gemm(1.0, &a, &b, 0.5, &mut many.view_mut()));
                    assert_eq!(many, one, "({m}, {k}, {n}) on {threads} threads");
                }
                let worst = one
                    .iter()
                    .zip(serial.iter())
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-4, "({m}, {k}, {n}): off by {worst}");
            }
        }
    }

    #[test]
    fn a_transposed_left_operand_gives_the_bits_of_a_contiguous_one() {
        // The same chains of multiply-adds, whether `a` is read as rows or as columns.
        for (m, k, n) in [(300, 128, 10), (33, 64, 1), (70, 100, 16)] {
            let at = sample_f32([k, m], 21);
            let a = at.t().as_standard_layout().to_owned();
            let b = sample_f32([k, n], 22);
            let mut rows = Array2::<f32>::zeros((m, n));
            gemm(1.0, &a.view(), &b.view(), 0.0, &mut rows.view_mut());
            let mut columns = Array2::<f32>::zeros((m, n));
            gemm(1.0, &at.t(), &b.view(), 0.0, &mut columns.view_mut());
            assert!(
                rows.iter()
                    .zip(&columns)
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "({m}, {k}, {n})"
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_row_pair_kernel_gives_the_bits_of_the_row_kernel() {
        dispatch(|isa| {
            let Some(token) = isa.avx512() else {
                eprintln!("kernels below AVX-512: no row-pair kernel to compare");
                return;
            };
            for k in [1, 15, 16, 17, 64, 625] {
                let values = |seed: u64, len: usize| -> Vec<f32> {
                    crate::gradcheck::registry::sample(&[len], seed)
                        .iter()
                        .map(|&v| v as f32)
                        .collect()
                };
                let (x0, x1) = (values(31, k), values(32, k));
                for n in 1..=avx512::PAIR_MAX_N {
                    let bt = values(33 + n as u64, n * k);
                    let mut pair = [[0.0; NARROW_MAX_N]; 2];
                    avx512::row_pair_dots(token, &x0, &x1, &bt, &mut pair);
                    for (x, pair) in [&x0, &x1].into_iter().zip(&pair) {
                        let single = row_dots(isa, x, &bt, n);
                        assert!(
                            pair[..n]
                                .iter()
                                .zip(&single[..n])
                                .all(|(p, q)| p.to_bits() == q.to_bits()),
                            "k {k}, n {n}: {:?} against {:?}",
                            &pair[..n],
                            &single[..n]
                        );
                    }
                }
            }
        });
    }

    #[test]
    fn the_avx512_kernels_give_the_bits_of_the_compiled_ones() {
        // (m, k, n, a transposed): the transposed narrow form (full blocks, a ragged last
        // block, fewer rows than a block), the narrow form padded to 16 columns and at 16.
        for (m, k, n, at) in [
            (300, 128, 10, true),
            (45, 70, 3, true),
            (20, 64, 16, true),
            (100, 64, 16, true),
            (100, 1000, 10, false),
            (70, 100, 16, false),
            (13, 300, 12, false),
        ] {
            let a_shape = if at { [k, m] } else { [m, k] };
            let a_store = sample_f32(a_shape, 41);
            let a = if at { a_store.t() } else { a_store.view() };
            let b = sample_f32([k, n], 42);
            let product = || {
                let mut c = Array2::<f32>::ones((m, n));
                gemm(1.0, &a, &b.view(), 0.5, &mut c.view_mut());
                c
            };
            let (avx512, avx2) = crate::kernels::dispatch::avx512_and_avx2(product);
            assert!(
                avx512
                    .iter()
                    .zip(&avx2)
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "({m}, {k}, {n}, transposed {at})"
            );
        }
    }

    #[test]
    fn vector_shaped_products_agree_with_gemm_for_any_strides() {
        use ndarray::{Array2, ArrayView2};
        // (m, k, n) with one of them 1, each operand row-major or a transposed view.
        for (m, k, n) in [(1, 7, 5), (6, 7, 1), (6, 1, 5), (1, 1, 5), (1, 7, 1)] {
            let a = crate::gradcheck::registry::sample(&[m, k], 11)
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let at = crate::gradcheck::registry::sample(&[k, m], 12)
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let b = crate::gradcheck::registry::sample(&[k, n], 13)
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let bt = crate::gradcheck::registry::sample(&[n, k], 14)
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let c0 = crate::gradcheck::registry::sample(&[m, n], 15)
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let lhs: [ArrayView2<'_, f64>; 2] = [a.view(), at.t()];
            let rhs: [ArrayView2<'_, f64>; 2] = [b.view(), bt.t()];
            for x in &lhs {
                for y in &rhs {
                    for beta in [0.0, 1.0, 0.5] {
                        let mut expected = c0.to_owned();
                        gemm(1.0, x, y, beta, &mut expected.view_mut());
                        let mut got = c0.to_owned();
                        matmul_into(x, y, beta, &mut got.view_mut());
                        let close = got
                            .iter()
                            .zip(expected.iter())
                            .all(|(p, q)| (p - q).abs() < 1e-12);
                        assert!(close, "({m}, {k}, {n}) beta {beta}: {got} vs {expected}");
                    }
                }
            }
            // A transposed output view too.
            let mut expected = Array2::<f64>::zeros((n, m));
            gemm(
                1.0,
                &a.view(),
                &b.view(),
                0.0,
                &mut expected.view_mut().reversed_axes(),
            );
            let mut got = Array2::<f64>::zeros((n, m));
            matmul_into(
                &a.view(),
                &b.view(),
                0.0,
                &mut got.view_mut().reversed_axes(),
            );
            assert!(got
                .iter()
                .zip(expected.iter())
                .all(|(p, q)| (p - q).abs() < 1e-12));
        }
    }
}
