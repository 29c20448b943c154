//! Numpy broadcasting: the shape two operands broadcast to, and the reduction of a gradient
//! back to an operand's shape. This is the one place in the engine that undoes a broadcast.

use ndarray::{Axis, IxDyn};

use crate::{Real, Tensor};

/// The shape that `a` and `b` broadcast to under numpy's rules (align the trailing axes; each
/// pair of sizes must be equal or one of them 1), or `None` if they do not broadcast.
///
/// ```
/// use tapegrad_autograd::kernels::broadcast::broadcast_shape;
/// assert_eq!(broadcast_shape(&[4, 1, 3], &[2, 1]), Some(vec![4, 2, 3]));
/// assert_eq!(broadcast_shape(&[2, 3], &[4]), None);
/// ```
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Whether `from` broadcasts to `to` (every aligned size of `from` is 1 or equal).
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(&f, &t)| f == t || f == 1)
}

/// Sums `grad` (of a broadcast shape) down to `shape`, the shape of the operand that was
/// broadcast. Returns `None` if `shape` does not broadcast to `grad`'s shape.
pub fn sum_to_shape<T: Real>(grad: &Tensor<T>, shape: &[usize]) -> Option<Tensor<T>> {
    let gshape = grad.shape();
    if gshape == shape {
        return Some(grad.clone());
    }
    if !broadcasts_to(shape, gshape) {
        return None;
    }
    let lead = gshape.len() - shape.len();
    // The common case, a bias [n] added to rows [m, n]: add the contiguous rows together.
    if let Some(src) = grad.as_slice() {
        let inner: usize = shape.iter().product();
        if shape.iter().zip(&gshape[lead..]).all(|(a, b)| a == b) && inner > 0 {
            let mut out = vec![T::zero(); inner];
            for row in src.chunks_exact(inner) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += x;
                }
            }
            return Some(crate::tensor::tensor(shape, out));
        }
    }
    let mut acc = grad.to_owned();
    for _ in 0..lead {
        acc = acc.sum_axis(Axis(0));
    }
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && acc.shape()[axis] != 1 {
            acc = acc.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    Some(acc.into_shape_with_order(IxDyn(shape)).ok()?.into_shared())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::tensor;

    #[test]
    fn shapes_follow_numpy() {
        assert_eq!(broadcast_shape(&[], &[3]), Some(vec![3]));
        assert_eq!(broadcast_shape(&[5, 1], &[1, 4]), Some(vec![5, 4]));
        assert_eq!(broadcast_shape(&[3], &[3]), Some(vec![3]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
    }

    #[test]
    fn sums_back_rows_and_kept_axes() {
        let g = tensor(&[2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            sum_to_shape(&g, &[3]).unwrap().as_slice().unwrap(),
            &[5.0, 7.0, 9.0]
        );
        let col = sum_to_shape(&g, &[2, 1]).unwrap();
        assert_eq!(col.shape(), &[2, 1]);
        assert_eq!(col.as_slice().unwrap(), &[6.0, 15.0]);
        assert_eq!(sum_to_shape(&g, &[]).unwrap()[[]], 21.0);
        assert!(sum_to_shape(&g, &[2]).is_none());
    }
}
