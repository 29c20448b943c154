//! Convolution and pooling on NCHW images: conv2d, max_pool2d, avg_pool2d.
//!
//! Images are `[N, C, H, W]` (batch, channels, rows, columns), as in PyTorch. A convolution
//! is computed image by image as one matrix product on the im2col matrix
//! ([`kernels::im2col`](crate::kernels::im2col)); batches large enough to pay for it are
//! split over threads, in a fixed partition so that results never depend on the thread count.
//!
//! ```
//! use tapegrad_autograd::ops::conv::Conv2dOptions;
//! use tapegrad_autograd::{tensor, Tape};
//!
//! let tape = Tape::<f32>::new();
//! // One 4x4 image with one channel, eight 3x3 kernels.
//! let x = tape.constant(tensor(&[1, 1, 4, 4], (0..16).map(|v| v as f32).collect()));
//! let w = tape.var(tensor(&[8, 1, 3, 3], vec![0.1; 72]));
//! let b = tape.var(tensor(&[8], vec![0.0; 8]));
//! let y = x.conv2d(w, Some(b), Conv2dOptions::default().padding(1));
//! assert_eq!(y.shape(), vec![1, 8, 4, 4]);
//! let p = y.max_pool2d((2, 2), (2, 2));
//! assert_eq!(p.shape(), vec![1, 8, 2, 2]);
//! ```

use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::{op_family, or_panic};
use crate::gradcheck::registry::{distinct, sample, Case};
use crate::kernels::elementwise::PARALLEL_MIN_LEN;
use crate::kernels::gemm::gemm;
use crate::kernels::im2col::{col2im_add, im2col, Conv2dGeometry};
use crate::kernels::layout::standard_elements;
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// Convolution and pooling.
    Conv {
        /// 2-d convolution (cross-correlation) of NCHW images, with optional bias
        Conv2d => "conv2d",
        /// 2-d max pooling
        MaxPool2d => "max_pool2d",
        /// 2-d average pooling
        AvgPool2d => "avg_pool2d",
    }
}

/// Stride and zero padding of [`Var::conv2d`], as `(rows, columns)`.
///
/// The default is stride 1 and no padding. With a `k x k` kernel, `padding(k / 2)` keeps the
/// image size ("same" convolution, for odd `k`).
///
/// ```
/// use tapegrad_autograd::ops::conv::Conv2dOptions;
/// let same = Conv2dOptions::default().padding(1);
/// assert_eq!(same, Conv2dOptions { stride: (1, 1), padding: (1, 1) });
/// let halve = Conv2dOptions::new().stride(2);
/// let uneven = Conv2dOptions { stride: (2, 1), padding: (1, 0) };
/// # let _ = (halve, uneven);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dOptions {
    /// How far the kernel moves between outputs, along rows and along columns (at least 1).
    pub stride: (usize, usize),
    /// Zeros added on each side of the image, above and below, and left and right.
    pub padding: (usize, usize),
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
        }
    }
}

impl Conv2dOptions {
    /// Stride 1, no padding.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same stride `s` along both axes.
    pub fn stride(self, s: usize) -> Self {
        Conv2dOptions {
            stride: (s, s),
            ..self
        }
    }

    /// The same padding `p` on all four sides.
    pub fn padding(self, p: usize) -> Self {
        Conv2dOptions {
            padding: (p, p),
            ..self
        }
    }
}

/// Below this many multiply-adds a batch is convolved on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 18;

/// Multiply-adds that one parallel task of a backward pass should at least carry, to amortise
/// scheduling. (It fixes how the weight gradient's partial sums are grouped, so it is part of
/// the results' bits.)
const TASK_MIN_WORK: usize = 1 << 15;

/// The same for a forward pass, whose images are independent: larger tasks, so that each
/// task's column matrix serves several images instead of being allocated for each.
const FORWARD_TASK_MIN_WORK: usize = 1 << 18;

/// How a batch is cut into tasks of consecutive images. It depends only on the shapes, never on
/// the number of threads, so partial sums (the weight and bias gradients) are always added in
/// the same order.
struct BatchPlan {
    images: usize,
    per_task: usize,
    parallel: bool,
}

impl BatchPlan {
    fn new(images: usize, work_per_image: usize, task_min_work: usize) -> Self {
        let per_task = task_min_work
            .div_ceil(work_per_image.max(1))
            .clamp(1, images.max(1));
        let parallel = images > per_task && images * work_per_image >= PARALLEL_MIN_WORK;
        BatchPlan {
            images,
            per_task,
            parallel,
        }
    }

    fn tasks(&self) -> usize {
        self.images.div_ceil(self.per_task)
    }

    fn range(&self, task: usize) -> Range<usize> {
        task * self.per_task..((task + 1) * self.per_task).min(self.images)
    }

    /// Runs `f` on each task, in parallel when the plan says so, handing it the task's images
    /// and (when `buf` is given) its slice of `buf`, `per_image` elements per image. Returns the
    /// results in task order.
    fn run<T: Send, R: Send>(
        &self,
        buf: Option<&mut [T]>,
        per_image: usize,
        f: impl Fn(Range<usize>, &mut [T]) -> R + Sync + Send,
    ) -> Vec<R> {
        let chunk = self.per_task * per_image;
        match buf {
            Some(buf) if chunk > 0 => {
                if self.parallel {
                    buf.par_chunks_mut(chunk)
                        .enumerate()
                        .map(|(t, b)| f(self.range(t), b))
                        .collect()
                } else {
                    buf.chunks_mut(chunk)
                        .enumerate()
                        .map(|(t, b)| f(self.range(t), b))
                        .collect()
                }
            }
            _ => {
                if self.parallel {
                    (0..self.tasks())
                        .into_par_iter()
                        .map(|t| f(self.range(t), &mut []))
                        .collect()
                } else {
                    (0..self.tasks())
                        .map(|t| f(self.range(t), &mut []))
                        .collect()
                }
            }
        }
    }
}

/// The sum of `xs` in a fixed order, through eight independent partial sums so that the adds
/// pipeline (and vectorise) instead of waiting on each other.
fn sum_lanes<T: Real>(xs: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let mut total = chunks.remainder().iter().copied().sum::<T>();
    for l in lanes {
        total += l;
    }
    total
}

fn view2<T>(rows: usize, cols: usize, data: &[T]) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), data).expect("slice length matches the matrix")
}

fn view2_mut<T>(rows: usize, cols: usize, data: &mut [T]) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), data).expect("slice length matches the matrix")
}

/// The shapes a convolution works with, checked.
struct ConvShape {
    geometry: Conv2dGeometry,
    batch: usize,
    out_channels: usize,
}

impl ConvShape {
    fn out_shape(&self) -> [usize; 4] {
        let (ho, wo) = self.geometry.output_size();
        [self.batch, self.out_channels, ho, wo]
    }
}

fn conv_shape(shapes: &[&[usize]], options: &Conv2dOptions) -> Result<ConvShape, OpError> {
    let err = |msg: String| OpError::new(Conv::Conv2d.name(), shapes, msg);
    let (x, w) = (shapes[0], shapes[1]);
    if x.len() != 4 {
        return Err(err(format!(
            "expected the input as [N, C, H, W] (rank 4), got rank {}; a single image needs a \
             batch axis: [1, C, H, W]",
            x.len()
        )));
    }
    if w.len() != 4 {
        return Err(err(format!(
            "expected the weight as [out_channels, in_channels, kernel_h, kernel_w] (rank 4), \
             got rank {}",
            w.len()
        )));
    }
    if w[1] != x[1] {
        return Err(err(format!(
            "the input has {} channels (axis 1 of [N, C, H, W]) but the weight expects {} (axis \
             1 of [out_channels, in_channels, kernel_h, kernel_w])",
            x[1], w[1]
        )));
    }
    if let Some(b) = shapes.get(2) {
        if *b != [w[0]] {
            return Err(err(format!(
                "the bias must have shape [{}], one value per output channel",
                w[0]
            )));
        }
    }
    let (stride, padding) = (options.stride, options.padding);
    if stride.0 == 0 || stride.1 == 0 {
        return Err(err(format!(
            "stride {stride:?} must be at least 1 along both axes"
        )));
    }
    let (kh, kw) = (w[2], w[3]);
    if kh == 0 || kw == 0 {
        return Err(err(format!("the kernel {kh}x{kw} must be at least 1x1")));
    }
    let (ph, pw) = (x[2] + 2 * padding.0, x[3] + 2 * padding.1);
    let geometry =
        Conv2dGeometry::new(x[1], x[2], x[3], (kh, kw), stride, padding).ok_or_else(|| {
            err(format!(
                "the kernel {kh}x{kw} is larger than the padded input {ph}x{pw} (image {}x{}, \
                 padding {padding:?}); use a smaller kernel or more padding",
                x[2], x[3]
            ))
        })?;
    Ok(ConvShape {
        geometry,
        batch: x[0],
        out_channels: w[0],
    })
}

/// 2-d convolution (cross-correlation, as in every deep learning library) of NCHW images.
///
/// ```text
/// y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, i s_h + p - pad_h, j s_w + q - pad_w]
/// ```
/// with `x` zero outside the image. Per image, with `X_n = im2col(x[n])` (`[C kh kw, Ho Wo]`)
/// and `W` the weight as `[O, C kh kw]`: `Y_n = W X_n + b`. So, with `G_n = dL/dY_n`:
/// `dL/dW = sum_n G_n X_n^T`, `dL/dx[n] = col2im(W^T G_n)` and
/// `dL/db[o] = sum_{n, i, j} G_n[o, i, j]`.
struct Conv2dOp {
    options: Conv2dOptions,
}

impl<T: Real> Op<T> for Conv2dOp {
    fn name(&self) -> &str {
        Conv::Conv2d.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let s = conv_shape(&shapes, &self.options)?;
        let g = s.geometry;
        let (o, k, l) = (s.out_channels, g.col_rows(), g.col_cols());
        let x = standard_elements(inputs[0]);
        let w = inputs[1].as_standard_layout();
        let w = view2(o, k, w.as_slice().expect("standard layout"));
        let bias = inputs.get(2).map(|b| b.as_standard_layout());
        let bias = bias
            .as_ref()
            .map(|b| b.as_slice().expect("standard layout"));
        let image_len = g.image_len();

        // Every element is written: by the product (`beta = 0`) or the bias it then adds to.
        let mut out = crate::kernels::pool::for_overwrite(s.batch * o * l);
        if out.is_empty() {
            return Ok(tensor(&s.out_shape(), out));
        }
        let plan = BatchPlan::new(s.batch, o * k * l + k * l, FORWARD_TASK_MIN_WORK);
        plan.run(Some(&mut out), o * l, |images, out| {
            let mut cols = if g.is_pointwise() {
                Vec::new()
            } else {
                vec![T::zero(); k * l]
            };
            for (n, y) in images.zip(out.chunks_exact_mut(o * l)) {
                let image = &x[n * image_len..][..image_len];
                let x_cols = if g.is_pointwise() {
                    view2(k, l, image)
                } else {
                    im2col(&g, image, &mut cols);
                    view2(k, l, &cols)
                };
                let beta = match bias {
                    Some(b) => {
                        for (row, &b) in y.chunks_exact_mut(l).zip(b) {
                            row.fill(b);
                        }
                        T::one()
                    }
                    None => T::zero(),
                };
                gemm(T::one(), &w, &x_cols, beta, &mut view2_mut(o, l, y));
            }
        });
        Ok(tensor(&s.out_shape(), out))
    }

    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let inputs = ctx.inputs();
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let s = conv_shape(&shapes, &self.options).expect("checked by forward");
        let g = s.geometry;
        let (o, k, l) = (s.out_channels, g.col_rows(), g.col_cols());
        let image_len = g.image_len();
        let (need_x, need_w) = (ctx.needs_grad(0), ctx.needs_grad(1));
        let need_b = inputs.len() > 2 && ctx.needs_grad(2);

        let x = standard_elements(inputs[0]);
        let w = inputs[1].as_standard_layout();
        let w = view2(o, k, w.as_slice().expect("standard layout"));
        let grad = ctx.grad_output().as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");

        let mut dx = need_x.then(|| vec![T::zero(); s.batch * image_len]);
        let work = (usize::from(need_x) + usize::from(need_w)) * (o * k * l + k * l) + o * l;
        let plan = BatchPlan::new(s.batch, work, TASK_MIN_WORK);
        // One (weight, bias) partial gradient per task, summed below in task order.
        let partials = plan.run(dx.as_deref_mut(), image_len, |images, dx| {
            let scratch = || {
                if g.is_pointwise() {
                    Vec::new()
                } else {
                    vec![T::zero(); k * l]
                }
            };
            let mut cols = if need_w { scratch() } else { Vec::new() };
            let mut dcols = if need_x { scratch() } else { Vec::new() };
            let mut dw = vec![T::zero(); if need_w { o * k } else { 0 }];
            let mut db = vec![T::zero(); if need_b { o } else { 0 }];
            for (i, n) in images.enumerate() {
                let g_n = &grad[n * o * l..][..o * l];
                let image = &x[n * image_len..][..image_len];
                if need_w {
                    let x_cols = if g.is_pointwise() {
                        view2(k, l, image)
                    } else {
                        im2col(&g, image, &mut cols);
                        view2(k, l, &cols)
                    };
                    gemm(
                        T::one(),
                        &view2(o, l, g_n),
                        &x_cols.t(),
                        T::one(),
                        &mut view2_mut(o, k, &mut dw),
                    );
                }
                if need_b {
                    for (d, row) in db.iter_mut().zip(g_n.chunks_exact(l)) {
                        *d += sum_lanes(row);
                    }
                }
                if need_x {
                    let dx_n = &mut dx[i * image_len..][..image_len];
                    if g.is_pointwise() {
                        gemm(
                            T::one(),
                            &w.t(),
                            &view2(o, l, g_n),
                            T::zero(),
                            &mut view2_mut(k, l, dx_n),
                        );
                    } else {
                        gemm(
                            T::one(),
                            &w.t(),
                            &view2(o, l, g_n),
                            T::zero(),
                            &mut view2_mut(k, l, &mut dcols),
                        );
                        col2im_add(&g, &dcols, dx_n);
                    }
                }
            }
            [dw, db]
        });
        let sum_partials = |part: usize, len: usize| -> Vec<T> {
            let mut total = vec![T::zero(); len];
            for p in &partials {
                for (t, &v) in total.iter_mut().zip(&p[part]) {
                    *t += v;
                }
            }
            total
        };
        let mut grads = vec![
            dx.map(|dx| tensor(shapes[0], dx)),
            need_w.then(|| tensor(shapes[1], sum_partials(0, o * k))),
        ];
        if inputs.len() > 2 {
            grads.push(need_b.then(|| tensor(shapes[2], sum_partials(1, o))));
        }
        grads
    }
}

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
    /// 2-d convolution of a batch of images `[N, C, H, W]` with `weight`
    /// `[out_channels, C, kernel_h, kernel_w]` and an optional `bias` `[out_channels]`, giving
    /// `[N, out_channels, Ho, Wo]` with `Ho = (H + 2 padding_h - kernel_h) / stride_h + 1`
    /// (likewise `Wo`).
    ///
    /// Like every deep learning library, this is a cross-correlation: the kernel is not
    /// flipped:
    /// `y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, i s + p - pad, j s + q - pad]`.
    ///
    /// ```
    /// use tapegrad_autograd::ops::conv::Conv2dOptions;
    /// use tapegrad_autograd::{tensor, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(tensor(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()));
    /// let w = tape.var(tensor(&[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// let y = x.conv2d(w, None, Conv2dOptions::default());
    /// assert_eq!(y.value().as_slice().unwrap(), &[37.0, 47.0, 67.0, 77.0]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`try_conv2d`](Var::try_conv2d)'s error.
    #[track_caller]
    pub fn conv2d(
        self,
        weight: Var<'t, T>,
        bias: Option<Var<'t, T>>,
        options: Conv2dOptions,
    ) -> Var<'t, T> {
        or_panic(self.try_conv2d(weight, bias, options))
    }

    /// [`conv2d`](Var::conv2d), or an error if an input is not of rank 4, the channels of the
    /// input and the weight differ, the bias is not `[out_channels]`, a stride is zero, or the
    /// kernel is larger than the padded image.
    #[track_caller]
    pub fn try_conv2d(
        self,
        weight: Var<'t, T>,
        bias: Option<Var<'t, T>>,
        options: Conv2dOptions,
    ) -> Result<Var<'t, T>, OpError> {
        let op = Conv2dOp { options };
        let kind = Some(Conv::Conv2d.into());
        match bias {
            Some(b) => self.tape.record(op, kind, &[self, weight, b]),
            None => self.tape.record(op, kind, &[self, weight]),
        }
    }

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

/// Gradcheck cases for convolution and pooling: one and several channels, strides 1 and 2,
/// padding 0 and 1, with and without bias, non-square kernels, overlapping pooling windows.
pub(crate) fn gradcheck_cases(kind: Conv) -> Vec<Case> {
    type Pool = for<'t> fn(Var<'t, f64>, (usize, usize), (usize, usize)) -> Var<'t, f64>;
    let conv = |label: &str,
                x: [usize; 4],
                w: [usize; 4],
                bias: bool,
                options: Conv2dOptions,
                seed: u64| {
        let mut inputs = vec![sample(&x, seed), sample(&w, seed + 1)];
        if bias {
            inputs.push(sample(&[w[0]], seed + 2));
        }
        let label = format!(
            "conv2d {label}: x {x:?}, w {w:?}{}, stride {:?}, padding {:?}",
            if bias { ", bias" } else { "" },
            options.stride,
            options.padding
        );
        Case::new(label, inputs, move |v| {
            v[0].conv2d(v[1], v.get(2).copied(), options)
        })
    };
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
    let o = Conv2dOptions::default();
    match kind {
        Conv::Conv2d => vec![
            conv("1 to 1 channel", [2, 1, 4, 4], [1, 1, 3, 3], false, o, 1),
            conv(
                "1 to 1 channel",
                [1, 1, 5, 5],
                [1, 1, 3, 3],
                true,
                o.padding(1),
                4,
            ),
            conv(
                "2 to 3 channels",
                [2, 2, 5, 5],
                [3, 2, 3, 3],
                true,
                o.padding(1),
                7,
            ),
            conv(
                "2 to 3 channels",
                [2, 2, 5, 6],
                [3, 2, 2, 3],
                false,
                o.stride(2),
                10,
            ),
            conv(
                "3 to 2 channels",
                [1, 3, 5, 4],
                [2, 3, 3, 2],
                true,
                o.stride(2).padding(1),
                13,
            ),
            conv(
                "uneven stride and padding",
                [2, 2, 6, 5],
                [2, 2, 3, 2],
                true,
                Conv2dOptions {
                    stride: (2, 1),
                    padding: (1, 0),
                },
                16,
            ),
            conv("1x1 kernel", [2, 3, 3, 3], [4, 3, 1, 1], true, o, 19),
            conv(
                "1x1 kernel",
                [1, 2, 4, 3],
                [2, 2, 1, 1],
                false,
                o.stride(2).padding(1),
                22,
            ),
        ],
        Conv::MaxPool2d => pool("max_pool2d", |x, k, s| x.max_pool2d(k, s), true),
        Conv::AvgPool2d => pool("avg_pool2d", |x, k, s| x.avg_pool2d(k, s), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::registry::sample;
    use crate::Tape;

    /// The convolution by its definition, one output element at a time.
    fn naive_conv(
        x: &Tensor<f64>,
        w: &Tensor<f64>,
        b: Option<&Tensor<f64>>,
        o: Conv2dOptions,
    ) -> Tensor<f64> {
        let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (oc, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
        let ho = (h + 2 * o.padding.0 - kh) / o.stride.0 + 1;
        let wo = (wd + 2 * o.padding.1 - kw) / o.stride.1 + 1;
        let mut out = Vec::new();
        for ni in 0..n {
            for oi in 0..oc {
                for i in 0..ho {
                    for j in 0..wo {
                        let mut acc = b.map_or(0.0, |b| b[[oi]]);
                        for ci in 0..c {
                            for p in 0..kh {
                                for q in 0..kw {
                                    let r = (i * o.stride.0 + p) as isize - o.padding.0 as isize;
                                    let s = (j * o.stride.1 + q) as isize - o.padding.1 as isize;
                                    if r >= 0 && s >= 0 && (r as usize) < h && (s as usize) < wd {
                                        acc +=
                                            w[[oi, ci, p, q]] * x[[ni, ci, r as usize, s as usize]];
                                    }
                                }
                            }
                        }
                        out.push(acc);
                    }
                }
            }
        }
        tensor(&[n, oc, ho, wo], out)
    }

    fn assert_close(a: &Tensor<f64>, b: &Tensor<f64>, what: &str) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() < 1e-12, "{what}: {x} vs {y}");
        }
    }

    #[test]
    fn conv2d_matches_the_direct_definition() {
        type Config = ([usize; 4], [usize; 4], (usize, usize), (usize, usize));
        let configs: &[Config] = &[
            ([2, 1, 7, 7], [4, 1, 3, 3], (1, 1), (0, 0)),
            ([3, 3, 8, 6], [5, 3, 3, 3], (1, 1), (1, 1)),
            ([2, 2, 9, 8], [3, 2, 2, 3], (2, 2), (0, 0)),
            ([1, 4, 7, 9], [2, 4, 5, 3], (2, 3), (2, 1)),
            ([2, 3, 5, 5], [6, 3, 1, 1], (1, 1), (0, 0)),
            ([1, 2, 3, 3], [2, 2, 3, 3], (1, 1), (2, 2)),
            ([40, 2, 10, 10], [8, 2, 3, 3], (1, 1), (1, 1)),
        ];
        for (seed, &(xs, ws, stride, padding)) in configs.iter().enumerate() {
            let seed = seed as u64 * 10;
            let (x, w, b) = (
                sample(&xs, seed),
                sample(&ws, seed + 1),
                sample(&[ws[0]], seed + 2),
            );
            let o = Conv2dOptions { stride, padding };
            let tape = Tape::<f64>::new();
            let (xv, wv, bv) = (
                tape.var(x.clone()),
                tape.var(w.clone()),
                tape.var(b.clone()),
            );
            let what = format!("x {xs:?}, w {ws:?}, {o:?}");
            let y = xv.conv2d(wv, Some(bv), o);
            assert_close(&y.value(), &naive_conv(&x, &w, Some(&b), o), &what);
            let y = xv.conv2d(wv, None, o);
            assert_close(&y.value(), &naive_conv(&x, &w, None, o), &what);
        }
    }

    #[test]
    fn conv2d_known_values_and_gradients() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()));
        let w = tape.var(tensor(&[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let b = tape.var(tensor(&[1], vec![0.5]));
        let y = x.conv2d(w, Some(b), Conv2dOptions::default());
        assert_eq!(y.value().as_slice().unwrap(), &[37.5, 47.5, 67.5, 77.5]);
        let grads = tape.backward(y.sum());
        // Each weight sees the 2x2 block of inputs it slides over.
        assert_eq!(
            grads.get(w).unwrap().as_slice().unwrap(),
            &[12.0, 16.0, 24.0, 28.0]
        );
        assert_eq!(grads.get(b).unwrap().as_slice().unwrap(), &[4.0]);
        // Each pixel collects the weights of the windows covering it.
        assert_eq!(
            grads.get(x).unwrap().as_slice().unwrap(),
            &[1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0]
        );

        let padded = x.conv2d(w, None, Conv2dOptions::new().stride(2).padding(1));
        assert_eq!(padded.value().as_slice().unwrap(), &[4.0, 18.0, 36.0, 77.0]);
    }

    #[test]
    fn conv2d_results_do_not_depend_on_the_thread_count() {
        let x = sample(&[48, 3, 12, 12], 1).mapv(|v| v as f32).into_shared();
        let w = sample(&[6, 3, 3, 3], 2).mapv(|v| v as f32).into_shared();
        let b = sample(&[6], 3).mapv(|v| v as f32).into_shared();
        let run = |threads: usize| {
            crate::kernels::thread_pool(threads).install(|| {
                let tape = Tape::<f32>::new();
                let (xv, wv, bv) = (
                    tape.var(x.clone()),
                    tape.var(w.clone()),
                    tape.var(b.clone()),
                );
                let y = xv.conv2d(wv, Some(bv), Conv2dOptions::default().padding(1));
                let seed = y.value().mapv(|v| (v * 7.0).sin()).into_shared();
                let g = tape.backward_with(y, seed);
                let get = |v| g.get(v).unwrap().clone();
                (y.value(), get(xv), get(wv), get(bv))
            })
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one, three);
    }

    #[test]
    fn conv2d_gradient_of_the_weight_alone() {
        // The usual first layer: the images are data, only the weights learn.
        let x = sample(&[4, 1, 6, 6], 5);
        let w = sample(&[3, 1, 3, 3], 6);
        let tape = Tape::<f64>::new();
        let (xc, wv) = (tape.constant(x.clone()), tape.var(w.clone()));
        let y = xc.conv2d(wv, None, Conv2dOptions::default()).sum();
        let g = tape.backward(y);
        let full = Tape::<f64>::new();
        let (xf, wf) = (full.var(x), full.var(w));
        let yf = xf.conv2d(wf, None, Conv2dOptions::default()).sum();
        let gf = full.backward(yf);
        assert_close(g.get(wv).unwrap(), gf.get(wf).unwrap(), "weight gradient");
        assert!(g.get(xc).is_none());
    }

    #[test]
    fn conv2d_errors_name_the_op_the_shapes_and_the_rule() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3, 5, 5], vec![0.0; 150]));
        let w = tape.var(tensor(&[4, 2, 3, 3], vec![0.0; 72]));
        let o = Conv2dOptions::default();
        let msg = |r: Result<Var<'_, f32>, OpError>| r.unwrap_err().to_string();

        let m = msg(x.try_conv2d(w, None, o));
        assert!(m.starts_with("conv2d:"), "{m}");
        assert!(m.contains("3 channels") && m.contains("expects 2"), "{m}");
        assert!(m.contains("[2, 3, 5, 5], [4, 2, 3, 3]"), "{m}");

        let w3 = tape.var(tensor(&[4, 3, 3, 3], vec![0.0; 108]));
        let m = msg(x.try_conv2d(w3, None, o.stride(0)));
        assert!(m.contains("stride (0, 0)"), "{m}");

        let big = tape.var(tensor(&[1, 3, 6, 6], vec![0.0; 108]));
        let m = msg(x.try_conv2d(big, None, o));
        assert!(m.contains("6x6 is larger than the padded input 5x5"), "{m}");
        assert!(x.try_conv2d(big, None, o.padding(1)).is_ok());

        let flat = tape.var(tensor(&[3, 5, 5], vec![0.0; 75]));
        let m = msg(flat.try_conv2d(w3, None, o));
        assert!(m.contains("[N, C, H, W]") && m.contains("rank 3"), "{m}");
        let m = msg(x.try_conv2d(flat, None, o));
        assert!(m.contains("weight") && m.contains("rank 3"), "{m}");

        let bias = tape.var(tensor(&[3], vec![0.0; 3]));
        let m = msg(x.try_conv2d(w3, Some(bias), o));
        assert!(m.contains("bias must have shape [4]"), "{m}");
        assert!(m.contains("[2, 3, 5, 5], [4, 3, 3, 3], [3]"), "{m}");

        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            x.conv2d(w, None, o);
        }))
        .unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(text.starts_with("conv2d:"), "{text}");
    }

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
    fn empty_batches_and_channels_give_empty_results() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[0, 2, 4, 4], vec![]));
        let w = tape.var(sample(&[3, 2, 3, 3], 1));
        let y = x.conv2d(w, None, Conv2dOptions::default());
        assert_eq!(y.shape(), vec![0, 3, 2, 2]);
        let g = tape.backward(y.sum());
        assert_eq!(g.get(w).unwrap(), &crate::zeros(&[3, 2, 3, 3]));
        let x = tape.var(sample(&[2, 2, 4, 4], 2));
        let none = tape.var(tensor(&[0, 2, 3, 3], vec![]));
        assert_eq!(
            x.conv2d(none, None, Conv2dOptions::default()).shape(),
            [2, 0, 2, 2]
        );
        assert_eq!(x.max_pool2d((2, 2), (2, 2)).shape(), [2, 2, 2, 2]);
        let empty = tape.var(tensor(&[0, 2, 4, 4], vec![]));
        assert_eq!(empty.avg_pool2d((2, 2), (1, 1)).shape(), [0, 2, 3, 3]);
    }

    #[test]
    fn max_pool_propagates_nan() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[1, 1, 1, 3], vec![1.0, f32::NAN, 3.0]));
        let y = x.max_pool2d((1, 3), (1, 1));
        assert!(y.item().is_nan());
    }
}
