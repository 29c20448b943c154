//! The gradients of a convolution, as kernels and as ops of their own.
//!
//! For `y = conv2d(x, w)` and an output gradient `g`, the input gradient
//! `dx = conv2d_input_grad(g, w)` is a transposed convolution and the weight gradient
//! `dw = conv2d_weight_grad(x, g)` a correlation of the input with the output gradient. All
//! three maps are bilinear and adjoint to each other: for any `h`,
//! `<h, conv2d(x, w)> = <conv2d_input_grad(h, w), x> = <conv2d_weight_grad(x, h), w>`. So the
//! gradient of each is made of the other two and the set closes under differentiation:
//!
//! | op | gradient of its first input | of its second |
//! |---|---|---|
//! | `conv2d(x, w)` | `conv2d_input_grad(h, w)` | `conv2d_weight_grad(x, h)` |
//! | `conv2d_input_grad(g, w)` | `conv2d(h, w)` | `conv2d_weight_grad(h, g)` |
//! | `conv2d_weight_grad(x, g)` | `conv2d_input_grad(g, h)` | `conv2d(x, h)` |
//!
//! (`h` is the gradient flowing into the op's output.) Every value is computed by the same
//! im2col products as the forward pass, [`conv2d_grads`].

use super::conv::{
    conv_shape, sum_lanes, view2, view2_mut, BatchPlan, Conv, Conv2dOp, Conv2dOptions, ConvShape,
    TASK_MIN_WORK,
};
use super::or_panic;
use crate::gradcheck::registry::{sample, Case};
use crate::kernels::gemm::gemm;
use crate::kernels::im2col::{col2im_add, im2col};
use crate::kernels::layout::standard_elements;
use crate::tensor::tensor;
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

/// The gradients [`conv2d_grads`] was asked for, as flat standard-layout elements.
pub(super) struct ConvGrads<T> {
    /// Of the input, `[N, C, H, W]`.
    pub input: Option<Vec<T>>,
    /// Of the weight, `[O, C, kh, kw]`.
    pub weight: Option<Vec<T>>,
    /// Of the bias, `[O]`.
    pub bias: Option<Vec<T>>,
}

/// The gradients of the convolution shaped `s`, for the output gradient `grad`
/// (`[N, O, Ho, Wo]`): of the input when the weight `w` is given (it needs nothing else), of
/// the weight when the input `x` is given, of the bias when `need_bias`.
///
/// With `G_n = grad[n]` as `[O, Ho Wo]`, `W` as `[O, C kh kw]` and `X_n = im2col(x[n])`:
/// `dx[n] = col2im(Wᵀ G_n)`, `dW = sum_n G_n X_nᵀ`, `db[o] = sum_{n, i, j} G_n[o, i, j]`.
pub(super) fn conv2d_grads<T: Real>(
    s: &ConvShape,
    x: Option<&[T]>,
    w: Option<&[T]>,
    grad: &[T],
    need_bias: bool,
) -> ConvGrads<T> {
    let g = s.geometry;
    let (o, k, l) = (s.out_channels, g.col_rows(), g.col_cols());
    let image_len = g.image_len();
    let (need_x, need_w, need_b) = (w.is_some(), x.is_some(), need_bias);
    let w = w.map(|w| view2(o, k, w));

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
            if let Some(x) = x {
                let image = &x[n * image_len..][..image_len];
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
            if let Some(w) = &w {
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
    ConvGrads {
        input: dx,
        weight: need_w.then(|| sum_partials(0, o * k)),
        bias: need_b.then(|| sum_partials(1, o)),
    }
}

/// A shape known to be of rank 4 (checked by the op that recorded it) as an array.
pub(super) fn shape4(shape: &[usize]) -> [usize; 4] {
    shape
        .try_into()
        .expect("a convolution's input and weight are of rank 4")
}

/// Checks that the output gradient `g` has the shape the convolution `s` outputs.
fn check_grad_shape(
    kind: Conv,
    shapes: &[&[usize]],
    g: &[usize],
    s: &ConvShape,
) -> Result<(), OpError> {
    let expected = s.out_shape();
    if g != expected {
        return Err(OpError::new(
            kind.name(),
            shapes,
            format!(
                "the output gradient has shape {g:?}, but the convolution it belongs to outputs \
                 {expected:?}"
            ),
        ));
    }
    Ok(())
}

/// The input gradient of [`conv2d`](Var::conv2d): `dx = conv2d_input_grad(g, w)` for the
/// output gradient `g` (`[N, O, Ho, Wo]`) and the weight `w` (`[O, C, kh, kw]`), shaped like
/// the convolution's input (`[N, C, H, W]`, kept because a stride can drop trailing rows and
/// columns, which `g` does not tell).
///
/// Linear in `g` and in `w`; with `h` flowing back: `dg = conv2d(h, w)`,
/// `dw = conv2d_weight_grad(h, g)`.
struct Conv2dInputGradOp {
    options: Conv2dOptions,
    input_shape: [usize; 4],
}

impl Conv2dInputGradOp {
    fn shape(&self, w: &[usize]) -> ConvShape {
        conv_shape(
            Conv::Conv2dInputGrad,
            &[&self.input_shape, w],
            &self.options,
        )
        .expect("checked by forward")
    }
}

impl<T: Real> Op<T> for Conv2dInputGradOp {
    fn name(&self) -> &str {
        Conv::Conv2dInputGrad.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let kind = Conv::Conv2dInputGrad;
        let (g, w) = (inputs[0], inputs[1]);
        let shapes = [g.shape(), w.shape(), &self.input_shape];
        let s = conv_shape(kind, &[&self.input_shape, w.shape()], &self.options)
            .map_err(|e| OpError::new(kind.name(), &shapes, e.message))?;
        check_grad_shape(kind, &shapes, g.shape(), &s)?;
        let dx = conv2d_grads(
            &s,
            None,
            Some(&standard_elements(w)),
            &standard_elements(g),
            false,
        );
        Ok(tensor(&self.input_shape, dx.input.expect("asked for")))
    }

    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (g, w, h) = (ctx.input(0), ctx.input(1), ctx.grad_output());
        let dg = ctx.needs_grad(0).then(|| {
            let mut conv = Conv2dOp {
                options: self.options,
            };
            conv.forward(&[h, w])
                .expect("the shapes were checked by forward")
        });
        let dw = ctx.needs_grad(1).then(|| {
            let s = self.shape(w.shape());
            let dw = conv2d_grads(
                &s,
                Some(&standard_elements(h)),
                None,
                &standard_elements(g),
                false,
            );
            tensor(w.shape(), dw.weight.expect("asked for"))
        });
        vec![dg, dw]
    }

    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (g, w, h) = (ctx.input(0), ctx.input(1), ctx.grad_output());
        let o = self.options;
        Some(vec![
            ctx.grad_if(0, || h.conv2d(w, None, o)),
            ctx.grad_if(1, || h.conv2d_weight_grad(g, shape4(&w.shape()), o)),
        ])
    }
}

/// The weight gradient of [`conv2d`](Var::conv2d): `dw = conv2d_weight_grad(x, g)` for the
/// input `x` (`[N, C, H, W]`) and the output gradient `g` (`[N, O, Ho, Wo]`), shaped like the
/// weight (`[O, C, kh, kw]`, kept: the kernel size is not determined by the other two).
///
/// Linear in `x` and in `g`; with `h` flowing back: `dx = conv2d_input_grad(g, h)`,
/// `dg = conv2d(x, h)`.
struct Conv2dWeightGradOp {
    options: Conv2dOptions,
    weight_shape: [usize; 4],
}

impl<T: Real> Op<T> for Conv2dWeightGradOp {
    fn name(&self) -> &str {
        Conv::Conv2dWeightGrad.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let kind = Conv::Conv2dWeightGrad;
        let (x, g) = (inputs[0], inputs[1]);
        let shapes = [x.shape(), g.shape(), &self.weight_shape];
        let s = conv_shape(kind, &[x.shape(), &self.weight_shape], &self.options)
            .map_err(|e| OpError::new(kind.name(), &shapes, e.message))?;
        check_grad_shape(kind, &shapes, g.shape(), &s)?;
        let dw = conv2d_grads(
            &s,
            Some(&standard_elements(x)),
            None,
            &standard_elements(g),
            false,
        );
        Ok(tensor(&self.weight_shape, dw.weight.expect("asked for")))
    }

    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (x, g, h) = (ctx.input(0), ctx.input(1), ctx.grad_output());
        let dx = ctx.needs_grad(0).then(|| {
            let s = conv_shape(
                Conv::Conv2dWeightGrad,
                &[x.shape(), h.shape()],
                &self.options,
            )
            .expect("checked by forward");
            let dx = conv2d_grads(
                &s,
                None,
                Some(&standard_elements(h)),
                &standard_elements(g),
                false,
            );
            tensor(x.shape(), dx.input.expect("asked for"))
        });
        let dg = ctx.needs_grad(1).then(|| {
            let mut conv = Conv2dOp {
                options: self.options,
            };
            conv.forward(&[x, h])
                .expect("the shapes were checked by forward")
        });
        vec![dx, dg]
    }

    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (x, g, h) = (ctx.input(0), ctx.input(1), ctx.grad_output());
        let o = self.options;
        Some(vec![
            ctx.grad_if(0, || g.conv2d_input_grad(h, shape4(&x.shape()), o)),
            ctx.grad_if(1, || x.conv2d(h, None, o)),
        ])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The gradient of [`conv2d`](Var::conv2d) with respect to its input, as an op that can be
    /// differentiated again: the transposed convolution of this output gradient
    /// `[N, O, Ho, Wo]` with `weight` `[O, C, kh, kw]`, giving `input_shape` `[N, C, H, W]`
    /// (the shape of the convolution's input, which a stride leaves ambiguous).
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Conv2dOptions, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(tensor(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()));
    /// let w = tape.var(tensor(&[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// let o = Conv2dOptions::default();
    /// let y = x.conv2d(w, None, o);
    /// let g = tape.constant(tensor(&[1, 1, 2, 2], vec![1.0; 4]));
    /// let dx = g.conv2d_input_grad(w, [1, 1, 3, 3], o);
    /// assert_eq!(dx.value(), tape.backward_with(y, g.value()).get(x).unwrap());
    /// ```
    ///
    /// # Panics
    /// With the message of [`try_conv2d_input_grad`](Var::try_conv2d_input_grad)'s error.
    #[track_caller]
    pub fn conv2d_input_grad(
        self,
        weight: Var<'t, T>,
        input_shape: [usize; 4],
        options: Conv2dOptions,
    ) -> Var<'t, T> {
        or_panic(self.try_conv2d_input_grad(weight, input_shape, options))
    }

    /// [`conv2d_input_grad`](Var::conv2d_input_grad), or an error if a convolution of an input
    /// shaped `input_shape` with `weight` is not valid (see [`try_conv2d`](Var::try_conv2d))
    /// or would not output this gradient's shape.
    #[track_caller]
    pub fn try_conv2d_input_grad(
        self,
        weight: Var<'t, T>,
        input_shape: [usize; 4],
        options: Conv2dOptions,
    ) -> Result<Var<'t, T>, OpError> {
        let op = Conv2dInputGradOp {
            options,
            input_shape,
        };
        self.record2(weight, Conv::Conv2dInputGrad, op)
    }

    /// The gradient of [`conv2d`](Var::conv2d) with respect to its weight, as an op that can
    /// be differentiated again: the correlation of this input `[N, C, H, W]` with the output
    /// gradient `grad` `[N, O, Ho, Wo]`, giving `weight_shape` `[O, C, kh, kw]`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Conv2dOptions, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(tensor(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()));
    /// let w = tape.var(tensor(&[1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// let o = Conv2dOptions::default();
    /// let y = x.conv2d(w, None, o);
    /// let g = tape.constant(tensor(&[1, 1, 2, 2], vec![1.0; 4]));
    /// let dw = x.conv2d_weight_grad(g, [1, 1, 2, 2], o);
    /// assert_eq!(dw.value().as_slice().unwrap(), &[12.0, 16.0, 24.0, 28.0]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`try_conv2d_weight_grad`](Var::try_conv2d_weight_grad)'s error.
    #[track_caller]
    pub fn conv2d_weight_grad(
        self,
        grad: Var<'t, T>,
        weight_shape: [usize; 4],
        options: Conv2dOptions,
    ) -> Var<'t, T> {
        or_panic(self.try_conv2d_weight_grad(grad, weight_shape, options))
    }

    /// [`conv2d_weight_grad`](Var::conv2d_weight_grad), or an error if a convolution of this
    /// input with a weight shaped `weight_shape` is not valid (see
    /// [`try_conv2d`](Var::try_conv2d)) or would not output `grad`'s shape.
    #[track_caller]
    pub fn try_conv2d_weight_grad(
        self,
        grad: Var<'t, T>,
        weight_shape: [usize; 4],
        options: Conv2dOptions,
    ) -> Result<Var<'t, T>, OpError> {
        let op = Conv2dWeightGradOp {
            options,
            weight_shape,
        };
        self.record2(grad, Conv::Conv2dWeightGrad, op)
    }
}

/// The output shape of a convolution of `x` with `w`.
fn conv_out_shape(x: [usize; 4], w: [usize; 4], o: Conv2dOptions) -> [usize; 4] {
    let out = |n: usize, p: usize, k: usize, s: usize| (n + 2 * p - k) / s + 1;
    [
        x[0],
        w[0],
        out(x[2], o.padding.0, w[2], o.stride.0),
        out(x[3], o.padding.1, w[3], o.stride.1),
    ]
}

/// Gradcheck cases for the two gradient ops, on the geometries of conv2d's cases: strides 1
/// and 2, padding 0 and 1, strides that leave rows and columns unused, 1x1 kernels.
pub(crate) fn gradcheck_cases(kind: Conv) -> Vec<Case> {
    type Geometry = ([usize; 4], [usize; 4], (usize, usize), (usize, usize));
    let geometries: &[Geometry] = &[
        ([2, 1, 4, 4], [1, 1, 3, 3], (1, 1), (0, 0)),
        ([2, 2, 5, 5], [3, 2, 3, 3], (1, 1), (1, 1)),
        ([2, 2, 5, 6], [3, 2, 2, 3], (2, 2), (0, 0)),
        ([1, 3, 5, 4], [2, 3, 3, 2], (2, 2), (1, 1)),
        ([2, 2, 6, 5], [2, 2, 3, 2], (2, 1), (1, 0)),
        ([1, 2, 4, 3], [2, 2, 1, 1], (2, 2), (1, 1)),
    ];
    geometries
        .iter()
        .enumerate()
        .map(|(i, &(x, w, stride, padding))| {
            let o = Conv2dOptions { stride, padding };
            let y = conv_out_shape(x, w, o);
            let seed = 100 + 3 * i as u64;
            let geometry = format!("x {x:?}, w {w:?}, stride {stride:?}, padding {padding:?}");
            match kind {
                Conv::Conv2dInputGrad => Case::new(
                    format!("conv2d_input_grad g {y:?}, {geometry}"),
                    vec![sample(&y, seed), sample(&w, seed + 1)],
                    move |v| v[0].conv2d_input_grad(v[1], x, o),
                ),
                Conv::Conv2dWeightGrad => Case::new(
                    format!("conv2d_weight_grad g {y:?}, {geometry}"),
                    vec![sample(&x, seed), sample(&y, seed + 1)],
                    move |v| v[0].conv2d_weight_grad(v[1], w, o),
                ),
                _ => unreachable!("{kind:?} is not a gradient of conv2d"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::registry::sample;
    use crate::ops::conv::Conv2dOptions;
    use crate::tensor::tensor;
    use crate::{Tape, Tensor};

    fn assert_close(a: &Tensor<f64>, b: &Tensor<f64>, what: &str) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() < 1e-12, "{what}: {x} vs {y}");
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
    fn the_gradient_ops_give_conv2d_backward_values_and_check_their_shapes() {
        let o = Conv2dOptions::new().stride(2).padding(1);
        let (x, w) = (sample(&[2, 2, 5, 6], 1), sample(&[3, 2, 3, 2], 2));
        let tape = Tape::<f64>::new();
        let (xv, wv) = (tape.var(x), tape.var(w));
        let y = xv.conv2d(wv, None, o);
        let g = tape.constant(sample(&y.shape(), 3));
        let grads = tape.backward_with(y, g.value());
        let dx = g.conv2d_input_grad(wv, [2, 2, 5, 6], o);
        let dw = xv.conv2d_weight_grad(g, [3, 2, 3, 2], o);
        assert_close(&dx.value(), grads.get(xv).unwrap(), "input gradient");
        assert_close(&dw.value(), grads.get(wv).unwrap(), "weight gradient");

        let m = g
            .try_conv2d_input_grad(wv, [2, 2, 7, 6], o)
            .unwrap_err()
            .to_string();
        assert!(m.starts_with("conv2d_input_grad:"), "{m}");
        assert!(
            m.contains("the convolution it belongs to outputs [2, 3, 4, 4]"),
            "{m}"
        );
        let m = xv
            .try_conv2d_weight_grad(g, [3, 3, 3, 2], o)
            .unwrap_err()
            .to_string();
        assert!(
            m.starts_with("conv2d_weight_grad:") && m.contains("2 channels"),
            "{m}"
        );
    }
}
