//! Softmax and log-softmax along one axis, and their backward passes.
//!
//! Every lane along the axis (a row of `[batch, classes]` logits for the last axis) is
//! independent, so the work is split by lanes: contiguous rows are processed in place as
//! slices, any other layout goes through ndarray's lanes with a small scratch buffer. Large
//! arrays are split over rayon's threads by whole lanes, and each lane is summed in order, so
//! results do not depend on the thread count. The loops over lanes run in the version compiled
//! for the CPU ([`dispatch`](super::dispatch)).
//!
//! The forward passes subtract each lane's maximum before exponentiating, so no finite input
//! overflows: `softmax([1000, 1001])` is exactly `softmax([0, 1])`.

use ndarray::{ArrayD, ArrayView1, ArrayViewMut1, Axis, Zip};
use rayon::prelude::*;

use super::dispatch::dispatch;
use super::elementwise::PARALLEL_MIN_LEN;
use crate::{Real, Tensor};

/// Elements per parallel task (whole lanes are never split).
const CHUNK: usize = 1 << 13;

/// `softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m)` along `axis`, with `m` the lane's maximum.
///
/// # Panics
/// If `axis` is not below `x.ndim()`.
pub fn softmax<T: Real>(x: &Tensor<T>, axis: usize) -> Tensor<T> {
    map_lanes(x, axis, softmax_row)
}

/// `log_softmax(x)_i = (x_i - m) - ln sum_j e^(x_j - m)` along `axis`, with `m` the lane's
/// maximum.
///
/// # Panics
/// If `axis` is not below `x.ndim()`.
pub fn log_softmax<T: Real>(x: &Tensor<T>, axis: usize) -> Tensor<T> {
    map_lanes(x, axis, log_softmax_row)
}

/// The gradient of softmax with respect to its input, from its output `y` and the gradient
/// `g` of its output: `y * (g - sum(g * y))`, the sum taken along `axis`.
///
/// # Panics
/// If `y` and `g` differ in shape or `axis` is not below their number of dimensions.
pub fn softmax_backward<T: Real>(y: &Tensor<T>, g: &Tensor<T>, axis: usize) -> Tensor<T> {
    zip_lanes(y, g, axis, softmax_backward_row)
}

/// The gradient of log-softmax with respect to its input, from its output `y` and the
/// gradient `g` of its output: `g - e^y * sum(g)`, the sum taken along `axis`.
///
/// # Panics
/// If `y` and `g` differ in shape or `axis` is not below their number of dimensions.
pub fn log_softmax_backward<T: Real>(y: &Tensor<T>, g: &Tensor<T>, axis: usize) -> Tensor<T> {
    zip_lanes(y, g, axis, log_softmax_backward_row)
}

#[inline(always)]
fn lane_max<T: Real>(x: &[T]) -> T {
    x.iter()
        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m })
}

#[inline(always)]
fn softmax_row<T: Real>(x: &[T], out: &mut [T]) {
    let m = lane_max(x);
    let mut total = T::zero();
    for (o, &v) in out.iter_mut().zip(x) {
        let e = (v - m).exp();
        *o = e;
        total += e;
    }
    // A true division rather than a product with 1/total, so results match numpy's.
    for o in out.iter_mut() {
        *o /= total;
    }
}

#[inline(always)]
fn log_softmax_row<T: Real>(x: &[T], out: &mut [T]) {
    let m = lane_max(x);
    let total: T = x.iter().map(|&v| (v - m).exp()).sum();
    let log_total = total.ln();
    // (x - m) - ln(total) rather than x - (m + ln(total)): for large logits m + ln(total)
    // would round to the precision of m and lose the small differences that matter.
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m) - log_total;
    }
}

#[inline(always)]
fn softmax_backward_row<T: Real>(y: &[T], g: &[T], out: &mut [T]) {
    let dot: T = y.iter().zip(g).map(|(&y, &g)| y * g).sum();
    for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
        *o = y * (g - dot);
    }
}

#[inline(always)]
fn log_softmax_backward_row<T: Real>(y: &[T], g: &[T], out: &mut [T]) {
    let total: T = g.iter().copied().sum();
    for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
        *o = g - y.exp() * total;
    }
}

/// Lanes per parallel task for lanes of `n` elements.
fn lanes_per_task(n: usize) -> usize {
    (CHUNK / n.max(1)).max(1)
}

fn from_vec<T: Real>(shape: &[usize], data: Vec<T>) -> Tensor<T> {
    ArrayD::from_shape_vec(shape, data)
        .expect("kernel output length matches its shape")
        .into_shared()
}

/// Buffers for lanes that are not contiguous, reused from lane to lane.
struct Scratch<T> {
    a: Vec<T>,
    b: Vec<T>,
    out: Vec<T>,
}

impl<T> Scratch<T> {
    fn new() -> Self {
        Scratch {
            a: Vec::new(),
            b: Vec::new(),
            out: Vec::new(),
        }
    }
}

/// `lane` as a slice, copied into `buf` when its elements are not adjacent.
fn lane_slice<'a, T: Real>(lane: &'a ArrayView1<'a, T>, buf: &'a mut Vec<T>) -> &'a [T] {
    match lane.as_slice() {
        Some(s) => s,
        None => {
            buf.clear();
            buf.extend(lane.iter().copied());
            buf
        }
    }
}

/// Calls `row` with `out` as a slice, writing back through a buffer when it is strided.
fn with_out_slice<T: Real>(
    out: &mut ArrayViewMut1<'_, T>,
    buf: &mut Vec<T>,
    row: impl FnOnce(&mut [T]),
) {
    match out.as_slice_mut() {
        Some(s) => row(s),
        None => {
            buf.clear();
            buf.resize(out.len(), T::zero());
            row(buf);
            for (o, &v) in out.iter_mut().zip(buf.iter()) {
                *o = v;
            }
        }
    }
}

/// A same-shaped output whose every lane along `axis` is `row(lane of x)`.
fn map_lanes<T: Real>(
    x: &Tensor<T>,
    axis: usize,
    row: impl Fn(&[T], &mut [T]) + Sync,
) -> Tensor<T> {
    let shape = x.shape();
    let n = shape[axis];
    if x.is_empty() {
        return ArrayD::zeros(shape).into_shared();
    }
    if axis + 1 == shape.len() {
        if let Some(src) = x.as_slice() {
            let mut out = vec![T::zero(); src.len()];
            let rows = |out: &mut [T], src: &[T]| {
                dispatch(
                    #[inline(always)]
                    |_| {
                        for (o, x) in out.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
                            row(x, o);
                        }
                    },
                )
            };
            if src.len() >= PARALLEL_MIN_LEN {
                let per = lanes_per_task(n) * n;
                out.par_chunks_mut(per)
                    .zip(src.par_chunks(per))
                    .for_each(|(o, x)| rows(o, x));
            } else {
                rows(&mut out, src);
            }
            return from_vec(shape, out);
        }
    }
    let mut out = ArrayD::<T>::zeros(shape);
    let ax = Axis(axis);
    let lanes = Zip::from(out.lanes_mut(ax)).and(x.lanes(ax));
    let one = |s: &mut Scratch<T>, (mut o, x): (ArrayViewMut1<'_, T>, ArrayView1<'_, T>)| {
        let xs = lane_slice(&x, &mut s.a);
        with_out_slice(&mut o, &mut s.out, |o| {
            dispatch(
                #[inline(always)]
                |_| row(xs, o),
            )
        });
    };
    if x.len() >= PARALLEL_MIN_LEN {
        lanes
            .into_par_iter()
            .with_min_len(lanes_per_task(n))
            .for_each_init(Scratch::new, one);
    } else {
        let mut s = Scratch::new();
        lanes.for_each(|o, x| one(&mut s, (o, x)));
    }
    out.into_shared()
}

/// A same-shaped output whose every lane along `axis` is `row(lane of a, lane of b)`.
fn zip_lanes<T: Real>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    axis: usize,
    row: impl Fn(&[T], &[T], &mut [T]) + Sync,
) -> Tensor<T> {
    let shape = a.shape();
    assert_eq!(shape, b.shape(), "lane kernels take same-shaped operands");
    let n = shape[axis];
    if a.is_empty() {
        return ArrayD::zeros(shape).into_shared();
    }
    if axis + 1 == shape.len() {
        if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
            let mut out = vec![T::zero(); x.len()];
            let rows = |out: &mut [T], x: &[T], y: &[T]| {
                dispatch(
                    #[inline(always)]
                    |_| {
                        for ((o, x), y) in out
                            .chunks_exact_mut(n)
                            .zip(x.chunks_exact(n))
                            .zip(y.chunks_exact(n))
                        {
                            row(x, y, o);
                        }
                    },
                )
            };
            if x.len() >= PARALLEL_MIN_LEN {
                let per = lanes_per_task(n) * n;
                out.par_chunks_mut(per)
                    .zip(x.par_chunks(per))
                    .zip(y.par_chunks(per))
                    .for_each(|((o, x), y)| rows(o, x, y));
            } else {
                rows(&mut out, x, y);
            }
            return from_vec(shape, out);
        }
    }
    let mut out = ArrayD::<T>::zeros(shape);
    let ax = Axis(axis);
    let lanes = Zip::from(out.lanes_mut(ax))
        .and(a.lanes(ax))
        .and(b.lanes(ax));
    let one =
        |s: &mut Scratch<T>,
         (mut o, x, y): (ArrayViewMut1<'_, T>, ArrayView1<'_, T>, ArrayView1<'_, T>)| {
            let xs = lane_slice(&x, &mut s.a);
            let ys = lane_slice(&y, &mut s.b);
            with_out_slice(&mut o, &mut s.out, |o| {
                dispatch(
                    #[inline(always)]
                    |_| row(xs, ys, o),
                )
            });
        };
    if a.len() >= PARALLEL_MIN_LEN {
        lanes
            .into_par_iter()
            .with_min_len(lanes_per_task(n))
            .for_each_init(Scratch::new, one);
    } else {
        let mut s = Scratch::new();
        lanes.for_each(|o, x, y| one(&mut s, (o, x, y)));
    }
    out.into_shared()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::tensor;

    fn close(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
        a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn strided_lanes_agree_with_contiguous_rows() {
        let data: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 * 0.3 - 1.0).collect();
        let x = tensor(&[2, 3, 4], data);
        let g = x.mapv(|v| (v * 3.0).sin()).into_shared();
        // Move each axis to the end, contiguously, and compare with the lane path.
        for axis in 0..3 {
            let mut perm: Vec<usize> = (0..3).filter(|&a| a != axis).collect();
            perm.push(axis);
            let xt = x
                .view()
                .permuted_axes(perm.clone())
                .as_standard_layout()
                .into_owned()
                .into_shared();
            let gt = g
                .view()
                .permuted_axes(perm.clone())
                .as_standard_layout()
                .into_owned()
                .into_shared();
            let mut inverse = vec![0; 3];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            let back = |t: Tensor<f64>| t.permuted_axes(inverse.clone());
            assert!(close(&softmax(&x, axis), &back(softmax(&xt, 2))));
            assert!(close(&log_softmax(&x, axis), &back(log_softmax(&xt, 2))));
            let y = softmax(&x, axis);
            let yt = softmax(&xt, 2);
            assert!(close(
                &softmax_backward(&y, &g, axis),
                &back(softmax_backward(&yt, &gt, 2))
            ));
            let ly = log_softmax(&x, axis);
            let lyt = log_softmax(&xt, 2);
            assert!(close(
                &log_softmax_backward(&ly, &g, axis),
                &back(log_softmax_backward(&lyt, &gt, 2))
            ));
        }
        // A transposed (non-contiguous) input along its last axis takes the lane path.
        let m = tensor(&[3, 4], (0..12).map(|i| i as f64 * 0.25).collect());
        let t = m.clone().reversed_axes();
        let tc = t.as_standard_layout().into_owned().into_shared();
        assert!(close(&softmax(&t, 1), &softmax(&tc, 1)));
    }

    #[test]
    fn large_arrays_give_the_same_numbers_threaded() {
        let rows = PARALLEL_MIN_LEN / 64 + 3;
        let x = tensor(
            &[rows, 128],
            (0..rows * 128).map(|i| ((i % 97) as f32) * 0.1).collect(),
        );
        let y = softmax(&x, 1);
        let first = softmax(&tensor(&[1, 128], x.as_slice().unwrap()[..128].to_vec()), 1);
        assert_eq!(&y.as_slice().unwrap()[..128], first.as_slice().unwrap());
        // Along axis 0 the lanes are strided; compare with the transposed contiguous rows.
        let xt = x.t().as_standard_layout().into_owned().into_shared();
        let y0 = softmax(&xt, 0);
        assert_eq!(y0.t(), y);
        let g = x.mapv(|v| v.cos()).into_shared();
        let d = softmax_backward(&y, &g, 1);
        let gt = g.t().as_standard_layout().into_owned().into_shared();
        let d0 = softmax_backward(&y0, &gt, 0);
        assert_eq!(d0.t(), d);
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let x = tensor::<f32>(&[0, 3], vec![]);
        assert_eq!(softmax(&x, 1).shape(), &[0, 3]);
        let x = tensor::<f32>(&[2, 0], vec![]);
        assert_eq!(log_softmax(&x, 1).shape(), &[2, 0]);
        assert_eq!(softmax_backward(&x, &x, 0).shape(), &[2, 0]);
    }
}
