//! A packed, blocked GEMM around a register-tile micro-kernel (the GotoBLAS / BLIS scheme).
//!
//! The inner dimension is cut into blocks of [`DEPTH`]; for each, a block of `b` is packed
//! into panels as wide as the kernel's tile, and `a` into panels as tall as the tile.
//! Packing puts every operand in the order the kernel reads it, whatever its strides (so a
//! transposed view costs no copy of its own), and pads the edges with zeros so the kernel only
//! ever sees whole tiles.
//!
//! Where the threads share out the columns of `c` (and on one thread), each works through a
//! product of its own: a block of `b` small enough to stay in the second-level cache, and one
//! panel of `a` at a time, held in the first-level cache, passing over all of that block's
//! panels. Where they share out the rows, one packed block of `b` serves all of them, and
//! each walks a block of its rows of `a` (in the second-level cache) against one panel of
//! `b` after another.
//!
//! Every element of `c` is the sum of its products in order along the inner dimension, one
//! block after another, whichever thread computes its tile: the result does not depend on the
//! number of threads.

use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::kernels::dispatch::dispatch;
use crate::kernels::pool;
use crate::Real;

/// Steps along the inner dimension per packed block. Longer blocks mean fewer passes that
/// load and store `c`; a `b` panel of this depth (64 KiB in `f32`) streams from the
/// second-level cache (measured best of 128 to 1024 at 1024x1024x1024 and 128x784x512).
pub(super) const DEPTH: usize = 512;
/// Rows of `a` per packed block when the threads share out the rows: `MAX_ROWS x DEPTH`
/// values (192 KiB in `f32`) stay in the second-level cache while the kernel passes over
/// them once per panel of `b`.
const MAX_ROWS: usize = 96;
/// Bytes of `a` packed at once when the threads share out the columns (each packs all of
/// `a`, for its own columns): the block is read from the third-level cache once per block of
/// `b`.
const A_BLOCK: usize = 4 << 20;
/// Bytes of a thread's own packed block of `b` when the threads share out the columns: it
/// stays in the second-level cache while each panel of `a` passes over all of it.
const B_BLOCK: usize = 1 << 20;
/// Columns of `b` per packed block: at most `DEPTH x WIDTH` values (4 MiB in `f32`) packed at
/// once.
const WIDTH: usize = 2048;

/// Where a kernel puts its tile.
#[derive(Clone, Copy)]
pub(crate) enum Destination<T> {
    /// `c = alpha * sum + beta * c` at `ptr`, a tile with unit column stride (`beta == 0`
    /// ignores the old values).
    Matrix {
        ptr: *mut T,
        row_stride: isize,
        alpha: T,
        beta: T,
    },
    /// The raw sums, row-major, `rows x columns`.
    Buffer(*mut T),
}

/// A register-tile micro-kernel: multiplies a packed `rows x depth` panel of `a` by a packed
/// `depth x columns` panel of `b`.
#[doc(hidden)]
pub struct PackedKernel<T: 'static> {
    pub(super) rows: usize,
    pub(super) columns: usize,
    /// See the implementations' contracts (`avx512.rs`).
    pub(super) tile: unsafe fn(usize, *const T, *const T, Destination<T>),
    /// Packs a whole panel of `a` whose `rows` rows are contiguous: `out[p * rows + q] =
    /// lines[q][p]`.
    pub(super) pack_rows: fn(&[&[T]], &mut [T]),
}

/// `c = alpha a b + beta c` through `kernel`, on up to `threads` of rayon's threads; none of
/// the dimensions is zero (checked by the caller).
///
/// With `beta == 0` every element of `c` is written, through raw pointers, before it is read,
/// and no reference to an element is formed: `c` may then view memory not yet initialised.
pub(super) fn gemm<T: Real>(
    kernel: &PackedKernel<T>,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
    threads: usize,
) {
    let m = a.nrows();
    let n = b.ncols();
    let (mr, nr) = (kernel.rows, kernel.columns);
    // Each thread takes one contiguous share of the tile rows or of the tile columns,
    // whichever split more evenly. Column shares are whole products of their own (one
    // parallel section per call), but each packs all of `a`: where both split evenly, they
    // pay only once each share fills a whole block of `b`. Row shares use one packed block
    // of `b` between them, so they meet twice per block (pack, then multiply). (Two
    // threads, GFLOP/s, rows against columns: 1024x1024x1024 358 / 384, 1024x1024x2048
    // 363 / 394; 1024x1024x512 372 / 348, 784x128x512 379 / 273.)
    let uneven = |tiles: usize| tiles.div_ceil(threads) as f64 * threads as f64 / tiles as f64;
    let share = n.div_ceil(nr).div_ceil(threads) * nr;
    let rows_first = match uneven(m.div_ceil(mr)).total_cmp(&uneven(n.div_ceil(nr))) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => share < block_width::<T>(a.ncols(), nr),
        std::cmp::Ordering::Greater => false,
    };
    if threads == 1 {
        return columns(kernel, alpha, a, b, beta, c);
    }
    if rows_first {
        return by_rows(kernel, alpha, a, b, beta, c, threads);
    }
    let shares: Vec<_> = b
        .axis_chunks_iter(Axis(1), share)
        .zip(split(c.view_mut(), Axis(1), share))
        .collect();
    shares
        .into_par_iter()
        .for_each(|(b, mut c)| columns(kernel, alpha, a, &b, beta, &mut c));
}

/// [`gemm`] on the calling thread: for each block of the inner dimension, `a` is packed (up
/// to [`A_BLOCK`] bytes at once), then `b` a block at a time, small enough ([`B_BLOCK`]) to
/// stay in the second-level cache while one panel of `a` after another, each held in the
/// first-level cache, passes over all of its panels.
fn columns<T: Real>(
    kernel: &PackedKernel<T>,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    dispatch(
        #[inline(always)]
        |_| {
            let (m, k) = a.dim();
            let n = b.ncols();
            let (mr, nr) = (kernel.rows, kernel.columns);
            let size = std::mem::size_of::<T>();
            let full_depth = DEPTH.min(k);
            let row_block =
                ((A_BLOCK / size / full_depth / mr).max(1) * mr).min(m.next_multiple_of(mr));
            let width = block_width::<T>(k, nr).min(n.next_multiple_of(nr));
            let mut packed_a = pool::aligned_scratch::<T>(row_block * full_depth);
            let mut packed_b = pool::aligned_scratch::<T>(width * full_depth);
            for i0 in (0..m).step_by(row_block) {
                let rows = row_block.min(m - i0);
                for p0 in (0..k).step_by(DEPTH) {
                    let depth = DEPTH.min(k - p0);
                    let beta = if p0 == 0 { beta } else { T::one() };
                    let packed_a = &mut packed_a[..rows.next_multiple_of(mr) * depth];
                    pack_a(
                        kernel,
                        &a.slice(s![i0..i0 + rows, p0..p0 + depth]),
                        packed_a,
                    );
                    for j0 in (0..n).step_by(width) {
                        let cols = width.min(n - j0);
                        let packed_b = &mut packed_b[..cols.next_multiple_of(nr) * depth];
                        pack_b(
                            &b.slice(s![p0..p0 + depth, j0..j0 + cols]),
                            nr,
                            packed_b,
                            false,
                        );
                        multiply_block(
                            kernel,
                            depth,
                            packed_a,
                            packed_b,
                            alpha,
                            beta,
                            &mut c.slice_mut(s![i0..i0 + rows, j0..j0 + cols]),
                            true,
                        );
                    }
                }
            }
        },
    );
}

/// Columns of `b` in one of [`columns`]' packed blocks, for an inner dimension of `k`: as
/// many whole panels of `nr` as fit in [`B_BLOCK`] bytes at the block's depth.
fn block_width<T>(k: usize, nr: usize) -> usize {
    let depth = DEPTH.min(k).max(1);
    (B_BLOCK / std::mem::size_of::<T>() / depth / nr).max(1) * nr
}

/// [`gemm`] with each thread taking one contiguous share of the tile rows, for shapes whose
/// rows split more evenly than their columns: one packed block of `b` serves all the
/// threads, so they meet twice per block (pack, then multiply), and each packs its own rows
/// of `a`.
fn by_rows<T: Real>(
    kernel: &PackedKernel<T>,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
    threads: usize,
) {
    let m = a.nrows();
    let mr = kernel.rows;
    blocks(
        kernel.columns,
        a,
        b,
        beta,
        c,
        |a_block, c_block, packed_b, depth, beta| {
            let mut row = 0;
            let shares: Vec<_> = split(c_block, Axis(0), m.div_ceil(mr).div_ceil(threads) * mr)
                .into_iter()
                .map(|c_part| {
                    let a_rows = a_block.slice(s![row..row + c_part.nrows(), ..]);
                    row += c_part.nrows();
                    (a_rows, c_part)
                })
                .collect();
            shares.into_par_iter().for_each(|(a_rows, mut c_part)| {
                multiply_rows(kernel, depth, &a_rows, packed_b, alpha, beta, &mut c_part)
            });
        },
    );
}

/// Packs `b` a block at a time (`DEPTH` rows of up to `WIDTH` columns, in panels of `nr`
/// columns, the panels in parallel) and calls `multiply(a_block, c_block,
/// packed_b, depth, beta)` with the matching columns of `a` and block of `c`: `beta` is the
/// caller's for the first block of the inner dimension and 1 after it.
fn blocks<T: Real>(
    nr: usize,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
    mut multiply: impl FnMut(ArrayView2<'_, T>, ArrayViewMut2<'_, T>, &[T], usize, T),
) {
    let (k, n) = b.dim();
    let width = WIDTH.min(n.next_multiple_of(nr));
    let mut packed_b = pool::aligned_scratch::<T>(DEPTH.min(k) * width);
    for j0 in (0..n).step_by(width) {
        let cols = width.min(n - j0);
        let panels = cols.div_ceil(nr);
        for p0 in (0..k).step_by(DEPTH) {
            let depth = DEPTH.min(k - p0);
            let beta = if p0 == 0 { beta } else { T::one() };
            let packed_b = &mut packed_b[..panels * nr * depth];
            let b_block = b.slice(s![p0..p0 + depth, j0..j0 + cols]);
            pack_b(&b_block, nr, packed_b, true);
            multiply(
                a.slice(s![.., p0..p0 + depth]),
                c.slice_mut(s![.., j0..j0 + cols]),
                packed_b,
                depth,
                beta,
            );
        }
    }
}

/// `c` (`rows x cols`) from `a` (`rows x depth`, any strides) and packed `b`: packs `a` a
/// block of rows at a time into this thread's scratch space and multiplies it.
fn multiply_rows<T: Real>(
    kernel: &PackedKernel<T>,
    depth: usize,
    a: &ArrayView2<'_, T>,
    packed_b: &[T],
    alpha: T,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    dispatch(
        #[inline(always)]
        |_| {
            let block = MAX_ROWS
                .next_multiple_of(kernel.rows)
                .min(a.nrows().next_multiple_of(kernel.rows));
            let mut packed_a = pool::aligned_scratch::<T>(block * depth);
            for (mut c_rows, a_rows) in c
                .axis_chunks_iter_mut(Axis(0), block)
                .zip(a.axis_chunks_iter(Axis(0), block))
            {
                pack_a(kernel, &a_rows, &mut packed_a);
                multiply_block(
                    kernel,
                    depth,
                    &packed_a,
                    packed_b,
                    alpha,
                    beta,
                    &mut c_rows,
                    false,
                );
            }
        },
    );
}

/// `c` cut along `axis` into parts of `len` (the last one shorter).
fn split<T>(mut c: ArrayViewMut2<'_, T>, axis: Axis, len: usize) -> Vec<ArrayViewMut2<'_, T>> {
    let mut chunks = Vec::new();
    while c.len_of(axis) > len {
        let (left, rest) = c.split_at(axis, len);
        chunks.push(left);
        c = rest;
    }
    chunks.push(c);
    chunks
}

/// The tiles of `c` (`rows x cols`, any strides) from packed `a` (`rows` rounded up to tiles,
/// `depth` deep) and packed `b` (`cols` rounded up to tiles): all of `b`'s panels against one
/// panel of `a` after another when `a_panel_outer`, else the other way round.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn multiply_block<T: Real>(
    kernel: &PackedKernel<T>,
    depth: usize,
    packed_a: &[T],
    packed_b: &[T],
    alpha: T,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
    a_panel_outer: bool,
) {
    let (mr, nr) = (kernel.rows, kernel.columns);
    let (rows, cols) = c.dim();
    let (rs, cs) = (c.strides()[0], c.strides()[1]);
    assert!(
        packed_a.len() >= rows.next_multiple_of(mr) * depth
            && packed_b.len() >= cols.next_multiple_of(nr) * depth
    );
    let mut buffer = [T::zero(); 16 * 32];
    let ptr = c.as_mut_ptr();
    let (row_tiles, col_tiles) = (rows.div_ceil(mr), cols.div_ceil(nr));
    for t in 0..row_tiles * col_tiles {
        let (i, j) = if a_panel_outer {
            (t / col_tiles * mr, t % col_tiles * nr)
        } else {
            (t % row_tiles * mr, t / row_tiles * nr)
        };
        let (a_panel, b_panel) = (
            packed_a[i * depth..].as_ptr(),
            packed_b[j * depth..].as_ptr(),
        );
        let (h, w) = (mr.min(rows - i), nr.min(cols - j));
        // SAFETY: `(i, j)` is inside `c`, so this offset stays inside its allocation.
        let corner = unsafe { ptr.offset(i as isize * rs + j as isize * cs) };
        if h == mr && w == nr && cs == 1 {
            // SAFETY: a `PackedKernel` comes only from `gemm::f32_kernel` or `f64_kernel`,
            // which hand one out only at the level whose features (checked by
            // `dispatch::level`) its tile is compiled for; the panels hold
            // `mr * depth` and `nr * depth` values (asserted above); the tile's `mr` rows
            // of `nr` contiguous values lie inside `c`, which no one else writes now.
            unsafe {
                (kernel.tile)(
                    depth,
                    a_panel,
                    b_panel,
                    Destination::Matrix {
                        ptr: corner,
                        row_stride: rs,
                        alpha,
                        beta,
                    },
                );
            }
        } else {
            // SAFETY: as above, with the sums going to `buffer` (`mr * nr <= 16 * 32`).
            unsafe {
                (kernel.tile)(
                    depth,
                    a_panel,
                    b_panel,
                    Destination::Buffer(buffer.as_mut_ptr()),
                );
            }
            for r in 0..h {
                for q in 0..w {
                    let sum = buffer[r * nr + q];
                    // SAFETY: `(i + r, j + q)` is inside `c`. Through a raw pointer, and
                    // read only when `beta != 0`: with `beta == 0`, `c` may be memory
                    // not yet initialised (see `gemm`).
                    unsafe {
                        let dst = corner.offset(r as isize * rs + q as isize * cs);
                        dst.write(if beta == T::zero() {
                            alpha * sum
                        } else {
                            alpha * sum + beta * dst.read()
                        });
                    }
                }
            }
        }
    }
}

/// Packs `a` (`rows x depth`) into panels of `mr` rows: for each panel, step by step along
/// the inner dimension, its `mr` values (zeros below the last row).
#[inline(always)]
fn pack_a<T: Real>(kernel: &PackedKernel<T>, a: &ArrayView2<'_, T>, out: &mut [T]) {
    let (rows, depth) = a.dim();
    let mr = kernel.rows;
    debug_assert!(out.len() >= rows.next_multiple_of(mr) * depth);
    for (panel, chunk) in a
        .axis_chunks_iter(Axis(0), mr)
        .zip(out.chunks_exact_mut(mr * depth))
    {
        let h = panel.nrows();
        if h < mr {
            chunk.fill(T::zero());
        }
        if panel.strides()[1] == 1 && h == mr {
            (kernel.pack_rows)(&slices(panel.rows()), chunk);
        } else if panel.strides()[1] == 1 {
            // Rows contiguous: read the panel's rows side by side, writing in order.
            interleave_lines(&slices(panel.rows()), mr, chunk);
        } else if panel.strides()[0] == 1 && h == mr && mr == 12 {
            // Columns contiguous (a transposed view): each step's values are one copy, of a
            // length fixed at compile time (the tiles of both kernels are 12 rows tall).
            let steps = panel.columns().into_iter().zip(chunk.chunks_exact_mut(mr));
            steps.for_each(|(column, dst)| copy_fixed::<T, 12>(column, dst));
        } else {
            for (p, column) in panel.columns().into_iter().enumerate() {
                for (dst, &x) in chunk[p * mr..p * mr + h].iter_mut().zip(column.iter()) {
                    *dst = x;
                }
            }
        }
    }
}

/// Packs `b` (`depth x cols`) into panels of `nr` columns: for each panel, row by row, its
/// `nr` values (zeros beyond the last column); panels in parallel when `parallel`.
fn pack_b<T: Real>(b: &ArrayView2<'_, T>, nr: usize, out: &mut [T], parallel: bool) {
    let depth = b.nrows();
    let one = |(panel, chunk): (ArrayView2<'_, T>, &mut [T])| {
        dispatch(
            #[inline(always)]
            |_| pack_panel(panel, nr, chunk),
        )
    };
    let pairs = b
        .axis_chunks_iter(Axis(1), nr)
        .zip(out.chunks_exact_mut(nr * depth));
    if parallel {
        pairs.collect::<Vec<_>>().into_par_iter().for_each(one);
    } else {
        pairs.for_each(one);
    }
}

/// One panel of [`pack_b`]: `panel` (`depth x w`, `w <= nr`) into `chunk`, row by row, zeros
/// beyond its last column.
#[inline(always)]
fn pack_panel<T: Real>(panel: ArrayView2<'_, T>, nr: usize, chunk: &mut [T]) {
    let w = panel.ncols();
    if w < nr {
        chunk.fill(T::zero());
    }
    if panel.strides()[1] == 1 {
        let rows = panel.rows().into_iter().zip(chunk.chunks_exact_mut(nr));
        match (w, nr) {
            // A whole panel's rows are copies of a length fixed at compile time, a few
            // vector moves each, rather than calls to `memcpy`. (A last panel as wide as
            // half a tile is not whole: it takes the general copy.)
            (32, 32) => rows.for_each(|(row, dst)| copy_fixed::<T, 32>(row, dst)),
            (16, 16) => rows.for_each(|(row, dst)| copy_fixed::<T, 16>(row, dst)),
            _ => rows.for_each(|(row, dst)| {
                dst[..w].copy_from_slice(row.to_slice().expect("unit column stride"));
            }),
        }
    } else if panel.strides()[0] == 1 {
        // Columns contiguous (a transposed view): read them side by side.
        interleave_lines(&slices(panel.columns()), nr, chunk);
    } else {
        for (q, column) in panel.columns().into_iter().enumerate() {
            for (p, &x) in column.iter().enumerate() {
                chunk[p * nr + q] = x;
            }
        }
    }
}

/// Contiguous rows or columns of a panel as slices.
#[inline(always)]
fn slices<'a, T>(lines: impl IntoIterator<Item = ndarray::ArrayView1<'a, T>>) -> Vec<&'a [T]> {
    lines
        .into_iter()
        .map(|line| line.to_slice().expect("a contiguous line"))
        .collect()
}

/// `dst = row` for a row of exactly `W` contiguous values.
#[inline(always)]
fn copy_fixed<T: Copy, const W: usize>(row: ndarray::ArrayView1<'_, T>, dst: &mut [T]) {
    let src: &[T; W] = row
        .to_slice()
        .and_then(|r| r.try_into().ok())
        .expect("a whole panel's contiguous row");
    dst.copy_from_slice(src);
}

/// [`interleave`], with the number of lines fixed at compile time where it is a tile's.
#[inline(always)]
pub(super) fn interleave_lines<T: Copy + Default>(lines: &[&[T]], stride: usize, out: &mut [T]) {
    match (lines.len(), stride) {
        (12, 12) => interleave_fixed::<T, 12>(lines, out),
        (16, 16) => interleave_fixed::<T, 16>(lines, out),
        (32, 32) => interleave_fixed::<T, 32>(lines, out),
        _ => interleave(lines, stride, out),
    }
}

/// `out[p * L + q] = lines[q][p]` for `L` lines: a block of 16 steps of every line is read
/// into registers (or the first-level cache) and written out in order.
#[inline(always)]
fn interleave_fixed<T: Copy + Default, const L: usize>(lines: &[&[T]], out: &mut [T]) {
    const STEPS: usize = 16;
    let len = lines[0].len();
    let whole = len / STEPS * STEPS;
    for p0 in (0..whole).step_by(STEPS) {
        let mut block = [[T::default(); STEPS]; L];
        for (b, line) in block.iter_mut().zip(lines) {
            *b = line[p0..p0 + STEPS].try_into().expect("16 steps");
        }
        for (pp, dst) in out[p0 * L..(p0 + STEPS) * L]
            .chunks_exact_mut(L)
            .enumerate()
        {
            for (d, b) in dst.iter_mut().zip(&block) {
                *d = b[pp];
            }
        }
    }
    for p in whole..len {
        for (d, line) in out[p * L..(p + 1) * L].iter_mut().zip(lines) {
            *d = line[p];
        }
    }
}

/// `out[p * stride + q] = lines[q][p]`: lines of equal length side by side, in blocks of a
/// few steps so that the written rows stay in the first-level cache.
#[inline(always)]
fn interleave<T: Copy>(lines: &[&[T]], stride: usize, out: &mut [T]) {
    const STEPS: usize = 16;
    let len = lines.first().map_or(0, |l| l.len());
    for p0 in (0..len).step_by(STEPS) {
        let block = &mut out[p0 * stride..];
        for (q, line) in lines.iter().enumerate() {
            let steps = &line[p0..len.min(p0 + STEPS)];
            for (dst, &x) in block[q..].iter_mut().step_by(stride).zip(steps) {
                *dst = x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    use crate::kernels::thread_pool as pool;

    fn bits<T: Real>(x: T) -> u64 {
        x.to_f64().expect("a float").to_bits()
    }

    fn sample<T: Real>(rows: usize, cols: usize, seed: usize) -> Array2<T> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            T::lit((((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0) / 8.0)
        })
    }

    /// The packed GEMM against a plain triple loop in `f64`, for edge tiles in every
    /// direction, inner dimensions across block boundaries, several blocks of `a` and of `b`,
    /// every layout of each operand,
    /// and `alpha`/`beta` cases; and the same bits on 1, 2 and 3 threads.
    fn agrees_with_a_triple_loop<T: Real>(kernel: &PackedKernel<T>, tolerance: f64) {
        for (m, k, n) in [
            (1, 1, 1),
            (12, 64, 32),
            (13, 7, 33),
            (25, 513, 65),
            (100, 1030, 40),
            (37, 200, 2100),
            // A last panel of `b` half a tile wide (16 columns of `f32`, 8 of `f64`).
            (30, 40, 48),
            (20, 600, 80),
            // More rows than one packed block of `a` holds on one thread (`A_BLOCK`).
            (2100, 520, 20),
        ] {
            let a_rm = sample::<T>(m, k, 1);
            let a_cm = a_rm.t().as_standard_layout().to_owned();
            let b_rm = sample::<T>(k, n, 2);
            let b_cm = b_rm.t().as_standard_layout().to_owned();
            let c0 = sample::<T>(m, n, 3);
            let exact = Array2::from_shape_fn((m, n), |(i, j)| {
                (0..k)
                    .map(|p| a_rm[[i, p]].to_f64().unwrap() * b_rm[[p, j]].to_f64().unwrap())
                    .sum::<f64>()
            });
            for (a, b) in [
                (a_rm.view(), b_rm.view()),
                (a_cm.t(), b_cm.t()),
                (a_rm.view(), b_cm.t()),
            ] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (1.0, -0.5)] {
                    let (alpha_t, beta_t) = (T::lit(alpha), T::lit(beta));
                    let start = if beta == 0.0 {
                        c0.mapv(|_| T::nan())
                    } else {
                        c0.clone()
                    };
                    let mut one = start.clone();
                    pool(1)
                        .install(|| gemm(kernel, alpha_t, &a, &b, beta_t, &mut one.view_mut(), 1));
                    for (i, j) in (0..m).flat_map(|i| (0..n).map(move |j| (i, j))) {
                        let old = if beta == 0.0 {
                            0.0
                        } else {
                            c0[[i, j]].to_f64().unwrap()
                        };
                        let want = alpha * exact[[i, j]] + beta * old;
                        let got = one[[i, j]].to_f64().unwrap();
                        assert!(
                            (got - want).abs() <= tolerance * (1.0 + want.abs()),
                            "({m}, {k}, {n}) alpha {alpha} beta {beta} at ({i}, {j}): {got} vs {want}"
                        );
                    }
                    for threads in [2, 3] {
                        let mut many = start.clone();
                        pool(threads).install(|| {
                            gemm(
                                kernel,
                                alpha_t,
                                &a,
                                &b,
                                beta_t,
                                &mut many.view_mut(),
                                threads,
                            )
                        });
                        assert!(
                            many.iter().zip(&one).all(|(p, q)| bits(*p) == bits(*q)),
                            "({m}, {k}, {n}) on {threads} threads differs from 1 thread"
                        );
                    }
                    // A transposed output.
                    let mut transposed = start.t().as_standard_layout().to_owned();
                    gemm(
                        kernel,
                        alpha_t,
                        &a,
                        &b,
                        beta_t,
                        &mut transposed.view_mut().reversed_axes(),
                        2,
                    );
                    assert!(
                        transposed
                            .t()
                            .iter()
                            .zip(&one)
                            .all(|(p, q)| bits(*p) == bits(*q)),
                        "({m}, {k}, {n}) into a transposed output"
                    );
                }
            }
        }
    }

    #[test]
    fn the_packed_gemm_agrees_with_a_triple_loop_in_f32_and_f64() {
        match (
            crate::kernels::gemm::f32_kernel(),
            crate::kernels::gemm::f64_kernel(),
        ) {
            (Some(k32), Some(k64)) => {
                agrees_with_a_triple_loop(k32, 1e-5);
                agrees_with_a_triple_loop(k64, 1e-12);
            }
            _ => {
                eprintln!("this CPU has no packed-GEMM kernel: matrixmultiply serves all products")
            }
        }
    }
}
