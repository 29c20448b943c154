//! im2col and col2im: the rearrangement that turns a 2-d convolution into one matrix product.
//!
//! For one image `x` of shape `[C, H, W]` and a kernel of `kh x kw` taps applied with a stride
//! and zero padding, `im2col` writes the matrix `cols` of shape `[C * kh * kw, Ho * Wo]`:
//! row `(c, i, j)` holds, for every output position `(oh, ow)`, the input value under tap
//! `(i, j)` of channel `c`, that is `x[c, oh * sh + i - ph, ow * sw + j - pw]` (zero in the
//! padding). A convolution with weights `W` of shape `[O, C * kh * kw]` is then `W cols`.
//!
//! `col2im_add` is its adjoint: it adds every entry of such a matrix back onto the input pixel
//! it was read from, which is how the gradient of the input is assembled. Both run in the
//! version compiled for the CPU ([`dispatch`](super::dispatch)).

use super::dispatch::dispatch;
use crate::Real;

/// The geometry of a 2-d window sliding over one `[C, H, W]` image.
///
/// ```
/// use tapegrad_autograd::kernels::im2col::Conv2dGeometry;
/// // A 3x3 kernel over a 28x28 image with stride 1 and no padding: 26x26 positions.
/// let g = Conv2dGeometry::new(1, 28, 28, (3, 3), (1, 1), (0, 0)).unwrap();
/// assert_eq!(g.output_size(), (26, 26));
/// assert_eq!((g.col_rows(), g.col_cols()), (9, 676));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    channels: usize,
    height: usize,
    width: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    out: (usize, usize),
}

impl Conv2dGeometry {
    /// The geometry of a `kernel` (rows, columns) window over `channels` planes of
    /// `height x width`, moving by `stride` over the input padded with `padding` zeros on each
    /// side. `None` if the stride or the kernel has a zero, or the kernel does not fit in the
    /// padded input.
    pub fn new(
        channels: usize,
        height: usize,
        width: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Option<Self> {
        let out_len = |size: usize, k: usize, s: usize, p: usize| -> Option<usize> {
            let padded = size + 2 * p;
            (k > 0 && s > 0 && k <= padded).then(|| (padded - k) / s + 1)
        };
        let oh = out_len(height, kernel.0, stride.0, padding.0)?;
        let ow = out_len(width, kernel.1, stride.1, padding.1)?;
        Some(Conv2dGeometry {
            channels,
            height,
            width,
            kernel,
            stride,
            padding,
            out: (oh, ow),
        })
    }

    /// The number of window positions, `(Ho, Wo)`: `(H + 2p - k) / s + 1` along each axis.
    pub fn output_size(&self) -> (usize, usize) {
        self.out
    }

    /// Elements of one input image, `C * H * W`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Rows of the column matrix, `C * kh * kw`.
    pub fn col_rows(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }

    /// Columns of the column matrix, `Ho * Wo`.
    pub fn col_cols(&self) -> usize {
        self.out.0 * self.out.1
    }

    /// Whether the column matrix is the image itself (`[C, H * W]`): a 1x1 kernel with stride
    /// 1 and no padding, where im2col can be skipped.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0)
    }

    /// The output positions `lo..hi` along one axis whose tap at offset `k` lands inside the
    /// unpadded input (`0 <= o * s + k - p < size`).
    fn valid(k: usize, s: usize, p: usize, size: usize, out: usize) -> (usize, usize) {
        let lo = if k >= p { 0 } else { (p - k).div_ceil(s) };
        let hi = if size + p <= k {
            0
        } else {
            (size + p - k).div_ceil(s)
        };
        let hi = hi.min(out);
        (lo.min(hi), hi)
    }
}

/// Writes the column matrix of `image` (`[C, H, W]`, row-major) into `cols`
/// (`[C * kh * kw, Ho * Wo]`, row-major). Every entry of `cols` is overwritten.
///
/// # Panics
/// If the slice lengths do not match the geometry.
pub fn im2col<T: Real>(g: &Conv2dGeometry, image: &[T], cols: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (ho, wo) = g.out;
    let (h, w) = (g.height, g.width);
    let l = ho * wo;
    assert_eq!(image.len(), g.image_len(), "im2col: image length");
    assert_eq!(cols.len(), g.col_rows() * l, "im2col: column matrix length");
    if l == 0 {
        return;
    }
    if h * w == 0 {
        // Nothing but padding under the window.
        cols.fill(T::zero());
        return;
    }
    dispatch(
        #[inline(always)]
        |_| {
            let mut rows = cols.chunks_exact_mut(l);
            for plane in image.chunks_exact(h * w).take(g.channels) {
                for i in 0..kh {
                    let (oh_lo, oh_hi) = Conv2dGeometry::valid(i, sh, ph, h, ho);
                    for j in 0..kw {
                        let row = rows.next().expect("one row per channel and tap");
                        let (ow_lo, ow_hi) = Conv2dGeometry::valid(j, sw, pw, w, wo);
                        row[..oh_lo * wo].fill(T::zero());
                        row[oh_hi * wo..].fill(T::zero());
                        for oh in oh_lo..oh_hi {
                            let src = &plane[(oh * sh + i - ph) * w..][..w];
                            let dst = &mut row[oh * wo..][..wo];
                            dst[..ow_lo].fill(T::zero());
                            dst[ow_hi..].fill(T::zero());
                            if ow_lo == ow_hi {
                                continue;
                            }
                            let first = ow_lo * sw + j - pw;
                            let dst = &mut dst[ow_lo..ow_hi];
                            if sw == 1 {
                                dst.copy_from_slice(&src[first..first + dst.len()]);
                            } else {
                                for (d, &s) in dst.iter_mut().zip(src[first..].iter().step_by(sw)) {
                                    *d = s;
                                }
                            }
                        }
                    }
                }
            }
        },
    );
}

/// Adds each entry of `cols` (`[C * kh * kw, Ho * Wo]`) onto the pixel of `image`
/// (`[C, H, W]`) that [`im2col`] reads it from; entries that fall in the padding are dropped.
/// This is the adjoint of `im2col`: `<im2col(x), c> = <x, col2im(c)>`.
///
/// # Panics
/// If the slice lengths do not match the geometry.
pub fn col2im_add<T: Real>(g: &Conv2dGeometry, cols: &[T], image: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (ho, wo) = g.out;
    let (h, w) = (g.height, g.width);
    let l = ho * wo;
    assert_eq!(image.len(), g.image_len(), "col2im: image length");
    assert_eq!(cols.len(), g.col_rows() * l, "col2im: column matrix length");
    if l == 0 || h * w == 0 {
        return;
    }
    dispatch(
        #[inline(always)]
        |_| {
            let mut rows = cols.chunks_exact(l);
            for plane in image.chunks_exact_mut(h * w).take(g.channels) {
                for i in 0..kh {
                    let (oh_lo, oh_hi) = Conv2dGeometry::valid(i, sh, ph, h, ho);
                    for j in 0..kw {
                        let row = rows.next().expect("one row per channel and tap");
                        let (ow_lo, ow_hi) = Conv2dGeometry::valid(j, sw, pw, w, wo);
                        if ow_lo == ow_hi {
                            continue;
                        }
                        for oh in oh_lo..oh_hi {
                            let dst = &mut plane[(oh * sh + i - ph) * w..][..w];
                            let src = &row[oh * wo + ow_lo..oh * wo + ow_hi];
                            let first = ow_lo * sw + j - pw;
                            if sw == 1 {
                                for (d, &s) in dst[first..first + src.len()].iter_mut().zip(src) {
                                    *d += s;
                                }
                            } else {
                                for (d, &s) in dst[first..].iter_mut().step_by(sw).zip(src) {
                                    *d += s;
                                }
                            }
                        }
                    }
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_im2col(g: &Conv2dGeometry, x: &[f64]) -> Vec<f64> {
        let (kh, kw) = g.kernel;
        let (ho, wo) = g.out;
        let mut cols = Vec::new();
        for c in 0..g.channels {
            for i in 0..kh {
                for j in 0..kw {
                    for oh in 0..ho {
                        for ow in 0..wo {
                            let r = (oh * g.stride.0 + i) as isize - g.padding.0 as isize;
                            let q = (ow * g.stride.1 + j) as isize - g.padding.1 as isize;
                            let inside = (0..g.height as isize).contains(&r)
                                && (0..g.width as isize).contains(&q);
                            cols.push(if inside {
                                x[(c * g.height + r as usize) * g.width + q as usize]
                            } else {
                                0.0
                            });
                        }
                    }
                }
            }
        }
        cols
    }

    type Geometry = (
        usize,
        usize,
        usize,
        (usize, usize),
        (usize, usize),
        (usize, usize),
    );

    const GEOMETRIES: &[Geometry] = &[
        (1, 5, 5, (3, 3), (1, 1), (0, 0)),
        (2, 5, 6, (2, 3), (2, 2), (1, 0)),
        (3, 4, 4, (3, 2), (1, 3), (2, 1)),
        (1, 1, 1, (3, 3), (1, 1), (1, 1)),
        (2, 7, 3, (1, 1), (3, 1), (0, 2)),
        (1, 2, 2, (5, 5), (2, 2), (2, 2)),
        (2, 0, 3, (1, 2), (1, 1), (1, 0)),
    ];

    #[test]
    fn im2col_matches_a_direct_gather() {
        for &(c, h, w, k, s, p) in GEOMETRIES {
            let g = Conv2dGeometry::new(c, h, w, k, s, p).unwrap();
            let x: Vec<f64> = (0..g.image_len()).map(|i| i as f64 + 1.0).collect();
            let mut cols = vec![f64::NAN; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            assert_eq!(cols, naive_im2col(&g, &x), "{g:?}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for &(c, h, w, k, s, p) in GEOMETRIES {
            let g = Conv2dGeometry::new(c, h, w, k, s, p).unwrap();
            let x: Vec<f64> = (0..g.image_len()).map(|i| (i as f64 * 0.7).sin()).collect();
            let y: Vec<f64> = (0..g.col_rows() * g.col_cols())
                .map(|i| (i as f64 * 1.3).cos())
                .collect();
            let mut cols = vec![0.0; y.len()];
            im2col(&g, &x, &mut cols);
            let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
            let mut back = vec![0.0; x.len()];
            col2im_add(&g, &y, &mut back);
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-12, "{g:?}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn geometry_rejects_what_cannot_slide() {
        assert!(Conv2dGeometry::new(1, 2, 2, (3, 3), (1, 1), (0, 0)).is_none());
        assert!(Conv2dGeometry::new(1, 2, 2, (3, 3), (1, 1), (1, 0)).is_none());
        assert!(Conv2dGeometry::new(1, 2, 2, (3, 3), (1, 1), (1, 1)).is_some());
        assert!(Conv2dGeometry::new(1, 4, 4, (2, 2), (0, 1), (0, 0)).is_none());
        assert!(Conv2dGeometry::new(1, 4, 4, (0, 2), (1, 1), (0, 0)).is_none());
        let g = Conv2dGeometry::new(1, 5, 7, (2, 3), (2, 3), (0, 1)).unwrap();
        assert_eq!(g.output_size(), (2, 3));
    }
}
