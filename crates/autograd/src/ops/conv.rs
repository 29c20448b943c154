//! Convolution on NCHW images: conv2d. (Pooling, the other op of the family, is in
//! `pool.rs`.)
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

use super::conv_grad::{conv2d_grads, shape4};
use super::{op_family, or_panic};
use crate::gradcheck::registry::{sample, Case};
use crate::kernels::gemm::gemm;
use crate::kernels::im2col::{im2col, Conv2dGeometry};
use crate::kernels::layout::standard_elements;
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// Convolution and pooling.
    Conv {
        /// 2-d convolution (cross-correlation) of NCHW images, with optional bias
        Conv2d => "conv2d",
        /// The input gradient of conv2d: a transposed convolution
        Conv2dInputGrad => "conv2d_input_grad",
        /// The weight gradient of conv2d: a correlation of the input with the output gradient
        Conv2dWeightGrad => "conv2d_weight_grad",
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
pub(super) const TASK_MIN_WORK: usize = 1 << 15;

/// The same for a forward pass, whose images are independent: larger tasks, so that each
/// task's column matrix serves several images instead of being allocated for each.
const FORWARD_TASK_MIN_WORK: usize = 1 << 18;

/// How a batch is cut into tasks of consecutive images. It depends only on the shapes, never on
/// the number of threads, so partial sums (the weight and bias gradients) are always added in
/// the same order.
pub(super) struct BatchPlan {
    images: usize,
    per_task: usize,
    parallel: bool,
}

impl BatchPlan {
    pub(super) fn new(images: usize, work_per_image: usize, task_min_work: usize) -> Self {
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
    pub(super) fn run<T: Send, R: Send>(
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
pub(super) fn sum_lanes<T: Real>(xs: &[T]) -> T {
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

pub(super) fn view2<T>(rows: usize, cols: usize, data: &[T]) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), data).expect("slice length matches the matrix")
}

pub(super) fn view2_mut<T>(rows: usize, cols: usize, data: &mut [T]) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), data).expect("slice length matches the matrix")
}

/// The shapes a convolution works with, checked.
pub(super) struct ConvShape {
    pub(super) geometry: Conv2dGeometry,
    pub(super) batch: usize,
    pub(super) out_channels: usize,
}

impl ConvShape {
    pub(super) fn out_shape(&self) -> [usize; 4] {
        let (ho, wo) = self.geometry.output_size();
        [self.batch, self.out_channels, ho, wo]
    }
}

/// `kind` is the op whose error it would be: conv2d or one of its gradients, which check the
/// same shapes.
pub(super) fn conv_shape(
    kind: Conv,
    shapes: &[&[usize]],
    options: &Conv2dOptions,
) -> Result<ConvShape, OpError> {
    let err = |msg: String| OpError::new(kind.name(), shapes, msg);
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
pub(super) struct Conv2dOp {
    pub(super) options: Conv2dOptions,
}

impl<T: Real> Op<T> for Conv2dOp {
    fn name(&self) -> &str {
        Conv::Conv2d.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let s = conv_shape(Conv::Conv2d, &shapes, &self.options)?;
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
        let s = conv_shape(Conv::Conv2d, &shapes, &self.options).expect("checked by forward");
        let need_b = inputs.len() > 2 && ctx.needs_grad(2);
        let x = ctx.needs_grad(1).then(|| standard_elements(inputs[0]));
        let w = ctx.needs_grad(0).then(|| inputs[1].as_standard_layout());
        let grad = ctx.grad_output().as_standard_layout();
        let grads = conv2d_grads(
            &s,
            x.as_deref(),
            w.as_ref().map(|w| w.as_slice().expect("standard layout")),
            grad.as_slice().expect("standard layout"),
            need_b,
        );
        let mut out = vec![
            grads.input.map(|dx| tensor(shapes[0], dx)),
            grads.weight.map(|dw| tensor(shapes[1], dw)),
        ];
        if inputs.len() > 2 {
            out.push(grads.bias.map(|db| tensor(shapes[2], db)));
        }
        out
    }

    /// Each gradient is an op of its own, bilinear like the convolution, so that it can be
    /// differentiated again (see [`conv_grad`](super::conv_grad)).
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (x, w, g) = (ctx.input(0), ctx.input(1), ctx.grad_output());
        let o = self.options;
        let mut grads = vec![
            ctx.grad_if(0, || g.conv2d_input_grad(w, shape4(&x.shape()), o)),
            ctx.grad_if(1, || x.conv2d_weight_grad(g, shape4(&w.shape()), o)),
        ];
        if ctx.inputs().len() > 2 {
            grads.push(ctx.grad_if(2, || g.sum_axes(&[0, 2, 3], false)));
        }
        Some(grads)
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
}

pub(crate) fn gradcheck_cases(kind: Conv) -> Vec<Case> {
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
        Conv::MaxPool2d | Conv::AvgPool2d => super::pool::gradcheck_cases(kind),
        Conv::Conv2dInputGrad | Conv::Conv2dWeightGrad => super::conv_grad::gradcheck_cases(kind),
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
}
