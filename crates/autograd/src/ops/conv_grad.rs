//! The gradients of a convolution: of its input (a transposed convolution of the output
//! gradient with the weight), of its weight (a correlation of the input with the output
//! gradient) and of its bias, computed image by image with the same im2col products as the
//! forward pass.

use super::conv::{sum_lanes, view2, view2_mut, BatchPlan, ConvShape, TASK_MIN_WORK};
use crate::kernels::gemm::gemm;
use crate::kernels::im2col::{col2im_add, im2col};
use crate::Real;

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
}
