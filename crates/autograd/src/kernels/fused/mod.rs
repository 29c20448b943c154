//! Fused inference kernels: a stack of layers evaluated in one pass, for evaluating a trained
//! network on a large test set.
//!
//! On the tape each layer writes its whole activation before the next reads it: for a
//! convolution of 16 kernels over 10,000 MNIST images that is 100 million hidden values
//! written, read back for the activation, written again and read once more by the dense
//! layer. Here the images of a group sit side by side in the lanes of the vector registers, and
//! each hidden value goes from the convolution through the activation into the dense layer's
//! accumulators without going to memory: a row of positions at a time, in the core's caches.
//!
//! The results are those of the same layers on the tape, bit for bit where the tape's kernels
//! take the same sums in the same order (tested): each hidden value is the multiply-add chain
//! of its kernel's taps, and each output the multiply-add chain of the hidden values in the
//! dense layer's row order.

use ndarray::{s, Array2, ArrayView2, ArrayView4};
use rayon::prelude::*;

use super::dispatch::{dispatch, Isa};
use super::simd;
use crate::Real;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod certified;

pub use certified::{conv_tanh_dense_classes, CertifiedImages, Classes};

/// Positions convolved together, for each of [`KERNEL_BLOCK`] kernels: independent
/// multiply-add chains, enough to cover the latency of each (a position's taps are one chain,
/// in order), and few enough to stay in registers.
const CHAINS: usize = 4;

/// Kernels convolved in one pass over the pixels, so that each pixel loaded serves several.
const KERNEL_BLOCK: usize = 4;

/// Columns of the dense layer computed in one pass; wider layers take several.
const MAX_COLUMNS: usize = 16;

/// `tanh(conv2d(images, kernels)) · weights` for single-channel images: the forward pass of
/// *Grokking Deep Learning*'s chapter-10 network without its dropout, as a test set is
/// evaluated.
///
/// * `images`: `[N, 1, H, W]`, laid out by [`ImageLanes::new`];
/// * `kernels`: `[O, 1, kh, kw]`, as [`Var::conv2d`](crate::Var::conv2d) takes them; stride 1,
///   no padding, no bias;
/// * `weights`: `[O * Ho * Wo, C]`, its rows in the order of the convolution's output
///   flattened channels first (`[N, O, Ho, Wo]` reshaped to `[N, O * Ho * Wo]`), with
///   `Ho = H - kh + 1` and `Wo = W - kw + 1`.
///
/// Returns the `[N, C]` outputs, the same as
/// `x.conv2d(kernels, None, default).reshape(&[n, o * ho * wo]).tanh().matmul(weights)` on a
/// tape. Groups of images are spread over rayon's threads; the result does not depend on how
/// many there are.
///
/// ```
/// use ndarray::{Array2, Array4, Ix2};
/// use tapegrad_autograd::kernels::fused::{conv_tanh_dense, ImageLanes};
/// use tapegrad_autograd::{Conv2dOptions, Tape};
///
/// // Three 5x5 images, two 3x3 kernels (2 x 3 x 3 hidden values), four outputs.
/// let images = Array4::from_shape_fn((3, 1, 5, 5), |(n, _, r, c)| (n + r * c) as f64 / 10.0);
/// let kernels = Array4::from_shape_fn((2, 1, 3, 3), |(o, _, r, c)| (o + r) as f64 - c as f64);
/// let weights = Array2::from_shape_fn((18, 4), |(i, j)| (i * j) as f64 / 100.0);
/// let out = conv_tanh_dense(&ImageLanes::new(images.view()), kernels.view(), weights.view());
///
/// // The same on a tape.
/// let tape = Tape::inference();
/// let x = tape.constant(images.into_dyn().into_shared());
/// let k = tape.constant(kernels.into_dyn().into_shared());
/// let w = tape.constant(weights.into_dyn().into_shared());
/// let y = x.conv2d(k, None, Conv2dOptions::default()).reshape(&[3, 18]).tanh().matmul(w);
/// let y = y.value().clone().into_dimensionality::<Ix2>().unwrap();
/// assert!(out.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-12));
/// ```
///
/// # Panics
/// If the shapes do not fit together as above, with a message naming them.
pub fn conv_tanh_dense<T: Real>(
    images: &ImageLanes<T>,
    kernels: ArrayView4<'_, T>,
    weights: ArrayView2<'_, T>,
) -> Array2<T> {
    evaluate(images, kernels, weights, false)
}

/// [`conv_tanh_dense`] with each output summed as a tree instead of one chain: a chain along
/// each row of a kernel's map, the rows' sums chained per kernel, the kernels' sums chained.
/// Each product passes through at most `Wo + Ho + O` roundings instead of up to `O Ho Wo`,
/// which is what the error bound of [`conv_tanh_dense_classes`] needs.
fn conv_tanh_dense_summed_as_tree<T: Real>(
    images: &ImageLanes<T>,
    kernels: ArrayView4<'_, T>,
    weights: ArrayView2<'_, T>,
) -> Array2<T> {
    evaluate(images, kernels, weights, true)
}

/// [`conv_tanh_dense`], its sums in a tree where `tree_sums`.
fn evaluate<T: Real>(
    images: &ImageLanes<T>,
    kernels: ArrayView4<'_, T>,
    weights: ArrayView2<'_, T>,
    tree_sums: bool,
) -> Array2<T> {
    let geometry = Geometry::check(images.dim(), kernels.dim(), weights.dim());
    let (n, columns) = (images.len(), weights.ncols());
    let mut out = Array2::zeros((n, columns));
    if n == 0 || columns == 0 {
        return out;
    }
    let taps: Vec<T> = kernels.iter().copied().collect();
    let weights = weights.as_standard_layout();
    let weights = weights.as_slice().expect("standard layout");
    let out_slice = out.as_slice_mut().expect("a fresh array is contiguous");
    let layers = Layers {
        geometry: &geometry,
        taps: &taps,
        weights,
        columns,
        tree_sums,
    };
    if lanes::<T>() == 16 {
        by_groups::<T, 16>(&layers, images, out_slice);
    } else {
        by_groups::<T, 8>(&layers, images, out_slice);
    }
    out
}

/// Images per group: one per lane of a 64-byte vector register.
fn lanes<T>() -> usize {
    if std::mem::size_of::<T>() <= 4 {
        16
    } else {
        8
    }
}

/// Single-channel images laid out for [`conv_tanh_dense`]: in groups of 8 (`f64`) or 16
/// (`f32`) images, pixel by pixel, the group's images side by side. A test set that is
/// evaluated after every epoch is laid out once.
///
/// ```
/// use ndarray::Array4;
/// use tapegrad_autograd::kernels::fused::ImageLanes;
///
/// let images = Array4::<f32>::zeros((20, 1, 28, 28));
/// let lanes = ImageLanes::new(images.view());
/// assert_eq!((lanes.len(), lanes.dim()), (20, (20, 1, 28, 28)));
/// ```
#[derive(Clone, Debug)]
pub struct ImageLanes<T> {
    pixels: Vec<T>,
    images: usize,
    height: usize,
    width: usize,
}

impl<T: Real> ImageLanes<T> {
    /// Lays out `images`, `[N, 1, H, W]` with any strides (a cropped view costs nothing); the
    /// last group's spare lanes repeat its last image.
    ///
    /// # Panics
    /// If the images have more than one channel.
    pub fn new(images: ArrayView4<'_, T>) -> Self {
        let (n, channels, height, width) = images.dim();
        assert!(
            channels == 1,
            "ImageLanes::new: images {:?}: expected single-channel images [N, 1, H, W]",
            images.shape()
        );
        let lanes = lanes::<T>();
        let group_len = height * width * lanes;
        let mut pixels = vec![T::zero(); n.div_ceil(lanes) * group_len];
        let fill = |group: usize, pixels: &mut [T]| {
            for lane in 0..lanes {
                let image = images.slice(s![(group * lanes + lane).min(n - 1), 0, .., ..]);
                // Row by row: each row of a cropped view is contiguous, the whole image is not.
                for (row, pixels) in image
                    .outer_iter()
                    .zip(pixels.chunks_exact_mut(width * lanes))
                {
                    for (&v, pixel) in row.iter().zip(pixels.chunks_exact_mut(lanes)) {
                        pixel[lane] = v;
                    }
                }
            }
        };
        if group_len > 0 {
            pixels
                .par_chunks_mut(group_len)
                .enumerate()
                .for_each(|(g, p)| fill(g, p));
        }
        ImageLanes {
            pixels,
            images: n,
            height,
            width,
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.images
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images == 0
    }

    /// The images' shape, `(N, 1, H, W)`.
    pub fn dim(&self) -> (usize, usize, usize, usize) {
        (self.images, 1, self.height, self.width)
    }

    /// Group `g`'s pixels, one array of lanes per pixel.
    fn group<const L: usize>(&self, g: usize) -> Vec<[T; L]> {
        let len = self.height * self.width * L;
        self.pixels[g * len..(g + 1) * len]
            .chunks_exact(L)
            .map(|p| p.try_into().expect("L lanes"))
            .collect()
    }
}

/// The sizes of [`conv_tanh_dense`], checked against each other.
struct Geometry {
    kernel_h: usize,
    kernel_w: usize,
    /// Input image width.
    width: usize,
    /// Output rows and columns of each kernel's map.
    out_h: usize,
    out_w: usize,
}

impl Geometry {
    fn check(
        images: (usize, usize, usize, usize),
        kernels: (usize, usize, usize, usize),
        weights: (usize, usize),
    ) -> Self {
        let shapes = format!(
            "images {:?}, kernels {:?}, weights {:?}",
            [images.0, images.1, images.2, images.3],
            [kernels.0, kernels.1, kernels.2, kernels.3],
            [weights.0, weights.1]
        );
        assert!(
            kernels.1 == 1,
            "conv_tanh_dense: {shapes}: expected kernels [O, 1, kh, kw] for single-channel \
             images (ImageLanes holds only those)"
        );
        let (height, width, kernel_h, kernel_w) = (images.2, images.3, kernels.2, kernels.3);
        assert!(
            kernel_h >= 1 && kernel_w >= 1 && kernel_h <= height && kernel_w <= width,
            "conv_tanh_dense: {shapes}: expected a kernel of at least 1x1 that fits in the image"
        );
        let (out_h, out_w) = (height - kernel_h + 1, width - kernel_w + 1);
        let hidden = kernels.0 * out_h * out_w;
        assert!(
            weights.0 == hidden,
            "conv_tanh_dense: {shapes}: expected weights with {hidden} rows, one per hidden \
             value ({} kernels x {out_h} x {out_w} positions)",
            kernels.0
        );
        Geometry {
            kernel_h,
            kernel_w,
            width,
            out_h,
            out_w,
        }
    }

    fn positions(&self) -> usize {
        self.out_h * self.out_w
    }
}

/// The network of [`conv_tanh_dense`], checked and laid out for its kernels.
struct Layers<'a, T> {
    geometry: &'a Geometry,
    /// The kernels' taps, kernel by kernel, each row-major.
    taps: &'a [T],
    /// The dense layer's weights, row-major `[hidden, columns]`.
    weights: &'a [T],
    columns: usize,
    /// Whether outputs are summed as a tree (see [`conv_tanh_dense_summed_as_tree`]).
    tree_sums: bool,
}

/// Cuts the batch into groups of `L` images (one per vector lane) and the output columns into
/// blocks of at most [`MAX_COLUMNS`], and runs [`group`] on each.
fn by_groups<T: Real, const L: usize>(
    layers: &Layers<'_, T>,
    images: &ImageLanes<T>,
    out: &mut [T],
) {
    let columns = layers.columns;
    let run = |group: usize, out: &mut [T]| {
        let pixels = images.group::<L>(group);
        for start in (0..columns).step_by(MAX_COLUMNS) {
            let width = MAX_COLUMNS.min(columns - start);
            let sums = group_of_width::<T, L>(layers, &pixels, start, width);
            for (image, row) in out.chunks_exact_mut(columns).enumerate() {
                for (j, sums) in sums[..width].iter().enumerate() {
                    row[start + j] = sums[image];
                }
            }
        }
    };
    let group_len = L * columns;
    let n = out.len() / columns;
    if n > L && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(group_len)
            .enumerate()
            .for_each(|(g, out)| run(g, out));
    } else {
        for (g, out) in out.chunks_mut(group_len).enumerate() {
            run(g, out);
        }
    }
}

/// [`group`] with the block's width fixed at compile time, so its accumulators stay in
/// registers.
fn group_of_width<T: Real, const L: usize>(
    layers: &Layers<'_, T>,
    pixels: &[[T; L]],
    start: usize,
    width: usize,
) -> [[T; L]; MAX_COLUMNS] {
    macro_rules! width {
        ($($w:literal)*) => {
            match width {
                $($w => group::<T, L, $w>(layers, pixels, start),)*
                w => unreachable!("blocks have 1 to {MAX_COLUMNS} columns, not {w}"),
            }
        };
    }
    width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// The outputs `start..start + C` of one group of `L` images (`pixels`, one image per lane):
/// every hidden value in the dense layer's row order (kernel, then position), its activation
/// taken a row of positions at a time, multiplied into `C` accumulators per lane.
fn group<T: Real, const L: usize, const C: usize>(
    layers: &Layers<'_, T>,
    pixels: &[[T; L]],
    start: usize,
) -> [[T; L]; MAX_COLUMNS] {
    let Layers {
        geometry,
        taps,
        weights,
        columns,
        tree_sums,
    } = *layers;
    let (kh, kw, width) = (geometry.kernel_h, geometry.kernel_w, geometry.width);
    let (out_h, out_w) = (geometry.out_h, geometry.out_w);
    let (positions, taps_per_kernel) = (geometry.positions(), kh * kw);
    // Where each tap reads, from a window's top-left pixel.
    let offsets: Vec<usize> = (0..kh)
        .flat_map(|r| (0..kw).map(move |s| r * width + s))
        .collect();
    // A kernel's map is kept at the image's row pitch: position (i, j) at `i * width + j`, the
    // `width - out_w` places after each row unused, so that runs of positions cross rows.
    let span = (out_h - 1) * width + out_w;
    let mut maps = vec![[T::zero(); L]; KERNEL_BLOCK * span];
    let mut hidden = vec![[T::zero(); L]; out_w];
    let zeros = [[T::zero(); L]; C];
    let mut sums = zeros;
    for (block, taps) in taps.chunks(KERNEL_BLOCK * taps_per_kernel).enumerate() {
        let kernels = taps.len() / taps_per_kernel;
        convolve_maps(pixels, taps, &offsets, &mut maps[..kernels * span]);
        for (k, map) in maps[..kernels * span].chunks_exact(span).enumerate() {
            let kernel = block * KERNEL_BLOCK + k;
            let mut kernel_sums = zeros;
            for i in 0..out_h {
                <T as super::element::Element>::tanh_slice(
                    map[i * width..][..out_w].as_flattened(),
                    hidden.as_flattened_mut(),
                );
                let first_row = kernel * positions + i * out_w;
                let rows = &weights[first_row * columns..(first_row + out_w) * columns];
                if tree_sums {
                    let mut row_sums = zeros;
                    dense_block(&mut row_sums, &hidden, rows, columns, start);
                    add(&mut kernel_sums, &row_sums);
                } else {
                    dense_block(&mut sums, &hidden, rows, columns, start);
                }
            }
            if tree_sums {
                add(&mut sums, &kernel_sums);
            }
        }
    }
    let mut out = [[T::zero(); L]; MAX_COLUMNS];
    out[..C].copy_from_slice(&sums);
    out
}

/// The pre-activation maps of the kernels whose taps are `taps` (`maps.len() / span` kernels,
/// one after the other) into `maps`, each at the image's row pitch: element `q` of a map is the
/// window whose top-left pixel is `pixels[q]`.
///
/// The common kernel sizes have their tap count fixed at compile time: with a loop of unknown
/// length over the taps the compiler may vectorise across taps (gathering pixels) instead of
/// across the lanes.
fn convolve_maps<T: Real, const L: usize>(
    pixels: &[[T; L]],
    taps: &[T],
    offsets: &[usize],
    maps: &mut [[T; L]],
) {
    let kernels = taps.len() / offsets.len();
    macro_rules! taps {
        ($($k:literal)*) => {
            match offsets.len() {
                $($k => {
                    let offsets: &[usize; $k] = offsets.try_into().expect("K offsets");
                    if kernels == KERNEL_BLOCK {
                        convolve_maps_of::<T, L, $k, KERNEL_BLOCK>(pixels, taps, offsets, maps);
                    } else {
                        let span = maps.len() / kernels;
                        for (taps, map) in taps.chunks_exact($k).zip(maps.chunks_exact_mut(span)) {
                            convolve_maps_of::<T, L, $k, 1>(pixels, taps, offsets, map);
                        }
                    }
                })*
                _ => dispatch(#[inline(always)] |isa| {
                    let span = maps.len() / kernels;
                    for (taps, map) in taps.chunks_exact(offsets.len()).zip(maps.chunks_exact_mut(span)) {
                        for (q, pre) in map.iter_mut().enumerate() {
                            *pre = convolve_one(isa, pixels, q, taps, offsets);
                        }
                    }
                }),
            }
        };
    }
    taps!(1 2 3 4 6 9 16 25)
}

/// [`convolve_maps`] for `B` kernels of `K` taps. Each pixel vector loaded serves the `B`
/// kernels; each position's taps are one multiply-add chain, in order, and [`CHAINS`]
/// positions of `B` kernels are interleaved so that each chain waits on its own only.
#[inline(never)]
fn convolve_maps_of<T: Real, const L: usize, const K: usize, const B: usize>(
    pixels: &[[T; L]],
    taps: &[T],
    offsets: &[usize; K],
    maps: &mut [[T; L]],
) {
    dispatch(
        #[inline(always)]
        |isa| {
            let taps: [[T; K]; B] =
                std::array::from_fn(|b| taps[b * K..(b + 1) * K].try_into().expect("K taps"));
            let span = maps.len() / B;
            if span < CHAINS {
                for (taps, map) in taps.iter().zip(maps.chunks_exact_mut(span)) {
                    for (q, pre) in map.iter_mut().enumerate() {
                        *pre = convolve_one(isa, pixels, q, taps, offsets);
                    }
                }
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(_avx512) = isa.avx512() {
                if let (Some(pixels), Some(taps)) = (
                    simd::as_f32_lanes(pixels),
                    simd::as_f32(taps.as_flattened()),
                ) {
                    let taps: [[f32; K]; B] = std::array::from_fn(|b| {
                        taps[b * K..(b + 1) * K].try_into().expect("K taps")
                    });
                    let maps = simd::as_f32_lanes_mut(maps).expect("f32 lanes like the pixels");
                    // SAFETY: an `Avx512` token exists only in the version `dispatch` runs on a CPU
                    // with AVX-512F.
                    unsafe { avx512::convolve_maps::<K, B>(pixels, &taps, offsets, maps) };
                    return;
                }
            }
            // Runs of CHAINS positions; the last run ends at the map's end, overlapping the one before
            // (its positions are computed twice, to the same values).
            let mut q = 0;
            loop {
                let first = q.min(span - CHAINS);
                let mut acc = [[[T::zero(); L]; CHAINS]; B];
                for (t, &offset) in offsets.iter().enumerate() {
                    let xs: &[[T; L]; CHAINS] = pixels[first + offset..][..CHAINS]
                        .try_into()
                        .expect("CHAINS positions");
                    // Flat loops: nested per position, the compiler may vectorise across positions
                    // with gathers.
                    for (acc, taps) in acc.iter_mut().zip(&taps) {
                        let w = taps[t];
                        for (acc, &x) in acc.as_flattened_mut().iter_mut().zip(xs.as_flattened()) {
                            *acc = isa.fma(w, x, *acc);
                        }
                    }
                }
                for (map, acc) in maps.chunks_exact_mut(span).zip(&acc) {
                    map[first..first + CHAINS].copy_from_slice(acc);
                }
                if first + CHAINS == span {
                    break;
                }
                q += CHAINS;
            }
        },
    );
}

/// The pre-activation of the window at `corner`, one multiply-add chain over the taps in
/// order: for maps narrower than a run, and unusual kernel sizes.
#[inline(always)]
fn convolve_one<T: Real, const L: usize>(
    isa: Isa,
    pixels: &[[T; L]],
    corner: usize,
    taps: &[T],
    offsets: &[usize],
) -> [T; L] {
    let mut acc = [T::zero(); L];
    for (&w, &offset) in taps.iter().zip(offsets) {
        for (acc, &x) in acc.iter_mut().zip(&pixels[corner + offset]) {
            *acc = isa.fma(w, x, *acc);
        }
    }
    acc
}

/// `sums += more`, lane by lane.
fn add<T: Real, const L: usize, const C: usize>(sums: &mut [[T; L]; C], more: &[[T; L]; C]) {
    for (s, m) in sums.as_flattened_mut().iter_mut().zip(more.as_flattened()) {
        *s += *m;
    }
}

/// `sums[c] += h * rows[i][start + c]` for each hidden value `h = hidden[i]` in order: the
/// dense layer's multiply-adds for one block of hidden values.
///
/// The sums are copied into a local for the loop (and back after): kept in the caller across
/// its activation call, they would live in memory and every multiply-add would wait on a load.
#[inline(never)]
fn dense_block<T: Real, const L: usize, const C: usize>(
    sums: &mut [[T; L]; C],
    hidden: &[[T; L]],
    rows: &[T],
    columns: usize,
    start: usize,
) {
    dispatch(
        #[inline(always)]
        |isa| {
            #[cfg(target_arch = "x86_64")]
            if let Some(_avx512) = isa.avx512() {
                if let (Some(hidden), Some(rows)) = (simd::as_f32_lanes(hidden), simd::as_f32(rows))
                {
                    let sums: &mut [[f32; 16]; C] = simd::as_f32_lanes_mut(sums)
                        .expect("f32 lanes like the hidden values")
                        .try_into()
                        .expect("C vectors of sums");
                    // SAFETY: an `Avx512` token exists only in the version `dispatch` runs on a CPU
                    // with AVX-512F.
                    unsafe { avx512::dense_block(sums, hidden, rows, columns, start) };
                    return;
                }
            }
            let mut acc = *sums;
            for (h, row) in hidden.iter().zip(rows.chunks_exact(columns)) {
                let row: &[T; C] = row[start..start + C].try_into().expect("C columns");
                for (acc, &w) in acc.iter_mut().zip(row) {
                    for (acc, &h) in acc.iter_mut().zip(h) {
                        *acc = isa.fma(h, w, *acc);
                    }
                }
            }
            *sums = acc;
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{tensor, Conv2dOptions, Tape, Tensor};
    use ndarray::{Array4, Ix2, Ix4};

    /// Values in `[-scale, scale)` from a fixed linear congruential stream.
    pub(super) fn values<T: Real>(n: usize, seed: u64, scale: f64) -> Vec<T> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                T::lit(((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale)
            })
            .collect()
    }

    /// The same network through the tape's ops: crop, conv2d, reshape, tanh, matmul.
    fn on_tape<T: Real>(
        images: &Tensor<T>,
        crop: (usize, usize),
        kernels: &Tensor<T>,
        weights: &Tensor<T>,
    ) -> Tensor<T> {
        let tape = Tape::inference();
        let n = images.shape()[0];
        let x = tape
            .constant(images.clone())
            .slice(&[0..n, 0..1, 0..crop.0, 0..crop.1]);
        let hidden = weights.shape()[0];
        x.conv2d(
            tape.constant(kernels.clone()),
            None,
            Conv2dOptions::default(),
        )
        .reshape(&[n, hidden])
        .tanh()
        .matmul(tape.constant(weights.clone()))
        .value()
        .clone()
    }

    /// Runs both on `n` images `side x side` cropped to `crop`, `o` kernels `kh x kw` and
    /// `columns` outputs; returns (fused, tape).
    fn both<T: Real>(
        n: usize,
        side: usize,
        crop: (usize, usize),
        (o, kh, kw): (usize, usize, usize),
        columns: usize,
        scale: f64,
    ) -> (Array2<T>, Array2<T>) {
        let images = tensor(&[n, 1, side, side], values::<T>(n * side * side, 1, 1.0));
        let kernels = tensor(&[o, 1, kh, kw], values::<T>(o * kh * kw, 2, scale));
        let hidden = o * (crop.0 - kh + 1) * (crop.1 - kw + 1);
        let weights = tensor(&[hidden, columns], values::<T>(hidden * columns, 3, 0.1));
        let images4 = images.view().into_dimensionality::<Ix4>().expect("rank 4");
        let view = images4.slice(s![.., .., ..crop.0, ..crop.1]);
        let fused = conv_tanh_dense(
            &ImageLanes::new(view),
            kernels.view().into_dimensionality::<Ix4>().expect("rank 4"),
            weights.view().into_dimensionality::<Ix2>().expect("rank 2"),
        );
        let tape = on_tape(&images, crop, &kernels, &weights)
            .into_dimensionality::<Ix2>()
            .expect("rank 2")
            .to_owned();
        (fused, tape)
    }

    fn assert_same_bits<T: Real>(fused: &Array2<T>, tape: &Array2<T>) {
        assert_eq!(fused.dim(), tape.dim());
        for ((i, &f), &t) in fused.indexed_iter().zip(tape.iter()) {
            assert!(
                f.to_f64().map(f64::to_bits) == t.to_f64().map(f64::to_bits),
                "output {i:?}: fused {f:?}, tape {t:?}"
            );
        }
    }

    #[test]
    fn matches_the_tape_bit_for_bit_in_f64_and_f32() {
        // 9x9 positions (the tape's short convolution product), 3 kernels (243 hidden values,
        // the narrow output product); 37 images leave a partial group; kernel scale 1 puts
        // many pre-activations above tanh's small-argument range, 0.02 keeps them all in it.
        // (A single column goes through the tape's matrix-vector product, another order.)
        for scale in [1.0, 0.02] {
            for columns in [2, 10, 16] {
                let (f, t) = both::<f64>(37, 12, (11, 11), (3, 3, 3), columns, scale);
                assert_same_bits(&f, &t);
                let (f, t) = both::<f32>(37, 12, (11, 11), (3, 3, 3), columns, scale);
                assert_same_bits(&f, &t);
            }
        }
    }

    #[test]
    fn the_avx512_kernels_give_the_bits_of_the_compiled_ones() {
        // Four kernels (one block of the vector convolution) and three (one at a time); 16,
        // 10 and 3 columns.
        for (kernels, columns) in [(4, 16), (3, 10), (5, 3)] {
            let run = || both::<f32>(21, 12, (11, 11), (kernels, 3, 3), columns, 1.0).0;
            let (avx512, avx2) = crate::kernels::dispatch::avx512_and_avx2(run);
            assert_same_bits(&avx512, &avx2);
        }
    }

    #[test]
    fn wide_layers_odd_kernels_and_one_image_agree_with_the_tape() {
        // Shapes where the tape takes other kernels (and sums in other orders): compare within
        // rounding.
        let cases = [
            (1, 8, (8, 7), (2, 2, 3), 5),
            (20, 10, (10, 10), (4, 3, 3), 21),
            (9, 6, (6, 6), (1, 1, 1), 3),
            (17, 12, (11, 11), (3, 3, 3), 1),
        ];
        for (n, side, crop, k, columns) in cases {
            let (f, t) = both::<f64>(n, side, crop, k, columns, 1.0);
            assert_eq!(f.dim(), t.dim());
            for (&f, &t) in f.iter().zip(&t) {
                assert!((f - t).abs() <= 1e-12 * (1.0 + t.abs()), "{f} vs {t}");
            }
        }
    }

    /// Every number of output columns from 1 to 40 and of kernels from 1 to 9, kernels of 1 to 5
    /// rows and columns, crops that are not square, in `f32` (where the vector kernels serve)
    /// and `f64`, on 1 and 2 threads: within rounding of the tape.
    #[test]
    fn every_width_and_kernel_shape_agrees_with_the_tape() {
        fn close<T: Real>(f: &Array2<T>, t: &Array2<T>, tolerance: f64, case: &str) {
            assert_eq!(f.dim(), t.dim(), "{case}");
            for (&f, &t) in f.iter().zip(t) {
                let (f, t) = (f.to_f64().unwrap(), t.to_f64().unwrap());
                assert!(
                    (f - t).abs() <= tolerance * (1.0 + t.abs()),
                    "{case}: {f} vs {t}"
                );
            }
        }
        for threads in [1, 2] {
            crate::kernels::thread_pool(threads).install(|| {
                let mut cases = Vec::new();
                for columns in 1..=40 {
                    cases.push((19, 9, (9, 8), (3, 3, 3), columns));
                }
                for o in 1..=9 {
                    for (kh, kw) in [(1, 1), (2, 3), (3, 2), (4, 4), (5, 5), (1, 5)] {
                        cases.push((13, 9, (8, 9), (o, kh, kw), 10));
                    }
                }
                for (n, side, crop, k, columns) in cases {
                    let case = format!("{n} images {crop:?}, kernels {k:?}, {columns} columns");
                    let (f, t) = both::<f32>(n, side, crop, k, columns, 0.5);
                    close(&f, &t, 1e-4, &case);
                    let (f, t) = both::<f64>(n, side, crop, k, columns, 0.5);
                    close(&f, &t, 1e-12, &case);
                }
            });
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let run = |threads: usize| {
            crate::kernels::thread_pool(threads)
                .install(|| both::<f64>(50, 12, (11, 11), (2, 3, 3), 10, 1.0).0)
        };
        let one = run(1);
        assert_same_bits(&one, &run(3));
    }

    #[test]
    #[should_panic(
        expected = "conv_tanh_dense: images [2, 1, 5, 5], kernels [3, 1, 3, 3], weights [26, 4]: expected weights with 27 rows"
    )]
    fn a_weight_matrix_of_the_wrong_height_is_named_in_the_panic() {
        let images = Array4::<f64>::zeros((2, 1, 5, 5));
        let kernels = Array4::<f64>::zeros((3, 1, 3, 3));
        let weights = Array2::<f64>::zeros((26, 4));
        conv_tanh_dense(
            &ImageLanes::new(images.view()),
            kernels.view(),
            weights.view(),
        );
    }
}
