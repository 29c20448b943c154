//! Max and average pooling on NCHW images: max_pool2d, avg_pool2d.
//!
//! Images are `[N, C, H, W]`, as for [`conv2d`](crate::Var::conv2d); windows move without
//! padding. Planes (one channel of one image) are independent and, when there are enough of
//! them, pooled in parallel.
//!
//! ```
//! use tapegrad_autograd::{tensor, Tape};
//!
//! let tape = Tape::<f32>::new();
//! let x = tape.var(tensor(&[1, 1, 4, 4], (0..16).map(|v| v as f32).collect()));
//! assert_eq!(x.max_pool2d((2, 2), (2, 2)).shape(), vec![1, 1, 2, 2]);
//! assert_eq!(x.avg_pool2d((2, 2), (1, 1)).shape(), vec![1, 1, 3, 3]);
//! ```

use rayon::prelude::*;

use super::conv::Conv;
use super::or_panic;
use crate::gradcheck::registry::{distinct, sample, Case};
use crate::kernels::elementwise::PARALLEL_MIN_LEN;
use crate::kernels::im2col::Conv2dGeometry;
use crate::kernels::layout::standard_elements;
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

/// Which pooling, and its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    kernel: (usize, usize),
    stride: (usize, usize),
}

/// The shapes a pooling works with, checked: planes (`N * C`), input and output plane sizes.
struct PoolShape {
    planes: usize,
    input: (usize, usize),
    output: (usize, usize),
}

fn pool_shape(kind: Conv, shape: &[usize], win: Window) -> Result<PoolShape, OpError> {
    let err = |msg: String| OpError::new(kind.name(), &[shape], msg);
    let (kernel, stride) = (win.kernel, win.stride);
    if shape.len() != 4 {
        return Err(err(format!(
            "expected the input as [N, C, H, W] (rank 4), got rank {}; a single image needs a \
             batch axis: [1, C, H, W]",
            shape.len()
        )));
    }
    if stride.0 == 0 || stride.1 == 0 {
        return Err(err(format!(
            "stride {stride:?} must be at least 1 along both axes"
        )));
    }
    if kernel.0 == 0 || kernel.1 == 0 {
        return Err(err(format!(
            "the kernel {}x{} must be at least 1x1",
            kernel.0, kernel.1
        )));
    }
    let (h, w) = (shape[2], shape[3]);
    let geometry = Conv2dGeometry::new(1, h, w, kernel, stride, (0, 0)).ok_or_else(|| {
        err(format!(
            "the kernel {}x{} is larger than the image {h}x{w}",
            kernel.0, kernel.1
        ))
    })?;
    Ok(PoolShape {
        planes: shape[0] * shape[1],
        input: (h, w),
        output: geometry.output_size(),
    })
}

/// Planes per parallel task, or `None` to stay on the calling thread.
fn plane_tasks(planes: usize, work_per_plane: usize) -> Option<usize> {
    let work_per_plane = work_per_plane.max(1);
    (planes > 1 && planes * work_per_plane >= PARALLEL_MIN_LEN)
        .then(|| (PARALLEL_MIN_LEN / 4).div_ceil(work_per_plane))
}

/// Runs `f(plane, out_plane)` for every plane, `out` holding `len` elements per plane.
fn for_each_plane<T: Send>(
    out: &mut [T],
    len: usize,
    per_task: Option<usize>,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if len == 0 {
        return;
    }
    match per_task {
        Some(min) => out
            .par_chunks_mut(len)
            .enumerate()
            .with_min_len(min)
            .for_each(|(p, o)| f(p, o)),
        None => out.chunks_mut(len).enumerate().for_each(|(p, o)| f(p, o)),
    }
}

/// 2-d max pooling: `y[n, c, i, j] = max_{p < kh, q < kw} x[n, c, i s_h + p, j s_w + q]`.
///
/// The derivative is 1 at the position of the maximum (the first one in row-major order on a
/// tie) and 0 elsewhere, so backward adds each output's gradient to that one input; the
/// positions are saved by forward. A NaN in a window is its maximum.
struct MaxPool2dOp {
    window: Window,
    /// The offset within its plane of each output's maximum.
    argmax: Vec<u32>,
}

impl<T: Real> Op<T> for MaxPool2dOp {
    fn name(&self) -> &str {
        Conv::MaxPool2d.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let kind = Conv::MaxPool2d;
        let shape = inputs[0].shape();
        let p = pool_shape(kind, shape, self.window)?;
        let (h, w) = p.input;
        if h * w > u32::MAX as usize {
            return Err(OpError::new(
                kind.name(),
                &[shape],
                "an image plane of more than 2^32 pixels is not supported",
            ));
        }
        let (ho, wo) = p.output;
        let (kh, kw) = self.window.kernel;
        let (sh, sw) = self.window.stride;
        let x = standard_elements(inputs[0]);
        let len = ho * wo;
        let mut values = vec![T::zero(); p.planes * len];
        let mut argmax = vec![0u32; p.planes * len];
        let pool = |plane: usize, out: &mut [T], out_at: &mut [u32]| {
            let x = &x[plane * h * w..][..h * w];
            for (i, (o, o_at)) in out.iter_mut().zip(out_at).enumerate() {
                let start = (i / wo) * sh * w + (i % wo) * sw;
                let (mut best, mut at) = (x[start], start);
                for r in (start..start + kh * w).step_by(w) {
                    for (q, &v) in x[r..r + kw].iter().enumerate() {
                        if v > best || (v.is_nan() && !best.is_nan()) {
                            best = v;
                            at = r + q;
                        }
                    }
                }
                *o = best;
                *o_at = at as u32;
            }
        };
        match plane_tasks(p.planes, len * kh * kw) {
            Some(min) => values
                .par_chunks_mut(len)
                .zip(argmax.par_chunks_mut(len))
                .enumerate()
                .with_min_len(min)
                .for_each(|(plane, (o, a))| pool(plane, o, a)),
            None => values
                .chunks_mut(len)
                .zip(argmax.chunks_mut(len))
                .enumerate()
                .for_each(|(plane, (o, a))| pool(plane, o, a)),
        }
        self.argmax = argmax;
        Ok(tensor(&[shape[0], shape[1], ho, wo], values))
    }

    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let shape = ctx.input(0).shape();
        let (h, w) = (shape[2], shape[3]);
        let grad = ctx.grad_output().as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");
        let len = grad.len() / (shape[0] * shape[1]).max(1);
        let mut dx = vec![T::zero(); shape.iter().product()];
        let tasks = plane_tasks(shape[0] * shape[1], h * w);
        for_each_plane(&mut dx, h * w, tasks, |plane, dx| {
            let g = &grad[plane * len..][..len];
            let at = &self.argmax[plane * len..][..len];
            for (&g, &a) in g.iter().zip(at) {
                dx[a as usize] += g;
            }
        });
        vec![Some(tensor(shape, dx))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let shape = ctx.input(0).shape();
        let plane = shape[2] * shape[3];
        let g = ctx.grad_output();
        let per_plane = g.len() / (shape[0] * shape[1]).max(1);
        let indices = self
            .argmax
            .iter()
            .enumerate()
            .map(|(k, &a)| k / per_plane.max(1) * plane + a as usize)
            .collect();
        let len = shape.iter().product();
        let dx = super::shape::scatter_add(g.reshape(&[g.len()]), indices, len);
        Some(vec![Some(dx.reshape(&shape))])
    }
}

/// 2-d average pooling:
/// `y[n, c, i, j] = 1/(kh kw) sum_{p < kh, q < kw} x[n, c, i s_h + p, j s_w + q]`.
///
/// The derivative is `1/(kh kw)` for every input in the window, so backward spreads each
/// output's gradient evenly over its window (overlapping windows add up).
#[derive(Clone)]
struct AvgPool2dOp {
    window: Window,
}

impl<T: Real> Op<T> for AvgPool2dOp {
    fn name(&self) -> &str {
        Conv::AvgPool2d.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let shape = inputs[0].shape();
        let p = pool_shape(Conv::AvgPool2d, shape, self.window)?;
        let (h, w) = p.input;
        let (ho, wo) = p.output;
        let (kh, kw) = self.window.kernel;
        let (sh, sw) = self.window.stride;
        let scale = T::one() / T::from_usize_lossy(kh * kw);
        let x = standard_elements(inputs[0]);
        let len = ho * wo;
        let mut out = vec![T::zero(); p.planes * len];
        let tasks = plane_tasks(p.planes, len * kh * kw);
        for_each_plane(&mut out, len, tasks, |plane, out| {
            let x = &x[plane * h * w..][..h * w];
            for (oh, out_row) in out.chunks_exact_mut(wo).enumerate() {
                for (ow, o) in out_row.iter_mut().enumerate() {
                    let start = oh * sh * w + ow * sw;
                    let mut total = T::zero();
                    for r in (start..start + kh * w).step_by(w) {
                        total += x[r..r + kw].iter().copied().sum::<T>();
                    }
                    *o = total * scale;
                }
            }
        });
        Ok(tensor(&[shape[0], shape[1], ho, wo], out))
    }

    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let shape = ctx.input(0).shape();
        let (h, w) = (shape[2], shape[3]);
        let out_shape = ctx.output().shape();
        let (ho, wo) = (out_shape[2], out_shape[3]);
        let (kh, kw) = self.window.kernel;
        let (sh, sw) = self.window.stride;
        let scale = T::one() / T::from_usize_lossy(kh * kw);
        let grad = ctx.grad_output().as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");
        let len = ho * wo;
        let mut dx = vec![T::zero(); shape.iter().product()];
        let tasks = plane_tasks(shape[0] * shape[1], len * kh * kw);
        for_each_plane(&mut dx, h * w, tasks, |plane, dx| {
            let g = &grad[plane * len..][..len];
            for (oh, g_row) in g.chunks_exact(wo).enumerate() {
                for (ow, &g) in g_row.iter().enumerate() {
                    let share = g * scale;
                    let start = oh * sh * w + ow * sw;
                    for r in (start..start + kh * w).step_by(w) {
                        for d in &mut dx[r..r + kw] {
                            *d += share;
                        }
                    }
                }
            }
        });
        vec![Some(tensor(shape, dx))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        super::adjoint::linear_backward_vars(self, Conv::AvgPool2d, ctx)
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// 2-d max pooling of `[N, C, H, W]` images over `kernel` (rows, columns) windows moved by
    /// `stride`, without padding: `[N, C, (H - kh) / sh + 1, (W - kw) / sw + 1]`.
    ///
    /// The gradient flows to the maximum of each window (the first, on a tie).
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(tensor(&[1, 1, 2, 4], vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 7.0]));
    /// let y = x.max_pool2d((2, 2), (2, 2));
    /// assert_eq!(y.value().as_slice().unwrap(), &[5.0, 8.0]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`try_max_pool2d`](Var::try_max_pool2d)'s error.
    #[track_caller]
    pub fn max_pool2d(self, kernel: (usize, usize), stride: (usize, usize)) -> Var<'t, T> {
        or_panic(self.try_max_pool2d(kernel, stride))
    }

    /// [`max_pool2d`](Var::max_pool2d), or an error if the input is not of rank 4, the kernel
    /// or the stride has a zero, or the kernel is larger than the image.
    #[track_caller]
    pub fn try_max_pool2d(
        self,
        kernel: (usize, usize),
        stride: (usize, usize),
    ) -> Result<Var<'t, T>, OpError> {
        let op = MaxPool2dOp {
            window: Window { kernel, stride },
            argmax: Vec::new(),
        };
        self.record1(Conv::MaxPool2d, op)
    }

    /// 2-d average pooling of `[N, C, H, W]` images over `kernel` (rows, columns) windows moved
    /// by `stride`, without padding: `[N, C, (H - kh) / sh + 1, (W - kw) / sw + 1]`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(tensor(&[1, 1, 2, 4], vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 7.0]));
    /// let y = x.avg_pool2d((2, 2), (2, 2));
    /// assert_eq!(y.value().as_slice().unwrap(), &[3.25, 4.25]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`try_avg_pool2d`](Var::try_avg_pool2d)'s error.
    #[track_caller]
    pub fn avg_pool2d(self, kernel: (usize, usize), stride: (usize, usize)) -> Var<'t, T> {
        or_panic(self.try_avg_pool2d(kernel, stride))
    }

    /// [`avg_pool2d`](Var::avg_pool2d), or an error if the input is not of rank 4, the kernel
    /// or the stride has a zero, or the kernel is larger than the image.
    #[track_caller]
    pub fn try_avg_pool2d(
        self,
        kernel: (usize, usize),
        stride: (usize, usize),
    ) -> Result<Var<'t, T>, OpError> {
        let op = AvgPool2dOp {
            window: Window { kernel, stride },
        };
        self.record1(Conv::AvgPool2d, op)
    }
}

/// Gradcheck cases for pooling: overlapping and non-overlapping windows, non-square kernels,
/// leftover rows and columns; max pooling on values without ties.
pub(crate) fn gradcheck_cases(kind: Conv) -> Vec<Case> {
    type Pool = for<'t> fn(Var<'t, f64>, (usize, usize), (usize, usize)) -> Var<'t, f64>;
    let pool = |name: &str, f: Pool, max: bool| -> Vec<Case> {
        let gen = |shape: &[usize], seed| {
            if max {
                distinct(shape, seed)
            } else {
                sample(shape, seed)
            }
        };
        let case = |x: [usize; 4], k: (usize, usize), s: (usize, usize), what: &str, seed| {
            Case::new(
                format!("{name} x {x:?}, kernel {k:?}, stride {s:?} ({what})"),
                vec![gen(&x, seed)],
                move |v| f(v[0], k, s),
            )
        };
        vec![
            case([2, 2, 4, 4], (2, 2), (2, 2), "stride = kernel", 1),
            case([1, 2, 5, 5], (3, 3), (1, 1), "overlapping windows", 2),
            case([2, 1, 5, 7], (2, 3), (1, 2), "non-square, overlapping", 3),
            case([1, 3, 5, 5], (2, 2), (2, 2), "a leftover row and column", 4),
        ]
    };
    match kind {
        Conv::MaxPool2d => pool("max_pool2d", |x, k, s| x.max_pool2d(k, s), true),
        Conv::AvgPool2d => pool("avg_pool2d", |x, k, s| x.avg_pool2d(k, s), false),
        _ => unreachable!("{kind:?} is not a pooling"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tape;

    #[test]
    fn max_pool_routes_the_gradient_to_the_first_maximum() {
        let tape = Tape::<f64>::new();
        // The left window has a tie between 5 (first) and 5.
        let x = tape.var(tensor(
            &[1, 1, 2, 4],
            vec![1.0, 5.0, 2.0, 0.0, 5.0, 4.0, 8.0, 7.0],
        ));
        let y = x.max_pool2d((2, 2), (2, 2));
        assert_eq!(y.value().as_slice().unwrap(), &[5.0, 8.0]);
        let g = tape.backward_with(y, tensor(&[1, 1, 1, 2], vec![10.0, 20.0]));
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 20.0, 0.0]
        );
    }

    #[test]
    fn overlapping_windows_add_their_gradients() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()));
        let m = x.max_pool2d((2, 2), (1, 1));
        assert_eq!(m.value().as_slice().unwrap(), &[5.0, 6.0, 8.0, 9.0]);
        let a = x.avg_pool2d((2, 2), (1, 1));
        assert_eq!(a.value().as_slice().unwrap(), &[3.0, 4.0, 6.0, 7.0]);
        let g = tape.backward(a.sum());
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]
        );
    }

    #[test]
    fn pooling_handles_batches_channels_and_threads() {
        // Large enough to be split over threads; compare with plane-by-plane pooling.
        let x = sample(&[32, 8, 12, 12], 9);
        let tape = Tape::<f64>::new();
        let xv = tape.var(x.clone());
        let y = xv.max_pool2d((2, 2), (2, 2));
        assert_eq!(y.shape(), vec![32, 8, 6, 6]);
        let yv = y.value();
        for (n, c, i, j) in [(0, 0, 0, 0), (31, 7, 5, 5), (17, 3, 2, 4)] {
            let window = [
                x[[n, c, 2 * i, 2 * j]],
                x[[n, c, 2 * i, 2 * j + 1]],
                x[[n, c, 2 * i + 1, 2 * j]],
                x[[n, c, 2 * i + 1, 2 * j + 1]],
            ];
            let max = window.iter().copied().fold(f64::MIN, f64::max);
            assert_eq!(yv[[n, c, i, j]], max);
        }
        let g = tape.backward(y.sum());
        // Non-overlapping windows: exactly one 1 per window.
        assert_eq!(g.get(xv).unwrap().sum(), (32 * 8 * 6 * 6) as f64);
    }

    #[test]
    fn pooling_errors_are_clear() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[1, 1, 3, 3], vec![0.0; 9]));
        let m = x.try_max_pool2d((4, 2), (1, 1)).unwrap_err().to_string();
        assert!(
            m.starts_with("max_pool2d:") && m.contains("4x2 is larger"),
            "{m}"
        );
        assert!(m.contains("[1, 1, 3, 3]"), "{m}");
        let m = x.try_avg_pool2d((2, 2), (0, 1)).unwrap_err().to_string();
        assert!(m.starts_with("avg_pool2d:") && m.contains("stride"), "{m}");
        let m = x.try_avg_pool2d((0, 2), (1, 1)).unwrap_err().to_string();
        assert!(m.contains("at least 1x1"), "{m}");
        let flat = tape.var(tensor(&[3, 3], vec![0.0; 9]));
        let m = flat.try_max_pool2d((2, 2), (2, 2)).unwrap_err().to_string();
        assert!(m.contains("rank 2"), "{m}");
    }

    #[test]
    fn max_pool_propagates_nan() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[1, 1, 1, 3], vec![1.0, f32::NAN, 3.0]));
        let y = x.max_pool2d((1, 3), (1, 1));
        assert!(y.item().is_nan());
    }
}
