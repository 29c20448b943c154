//! Getting the elements of an array in row-major order.

use std::borrow::Cow;

use ndarray::{ArrayBase, ArrayViewD, Data, Dimension, Ix2};

use crate::Real;

/// The elements of `a` in row-major order: borrowed when `a` is laid out so already, else
/// copied.
///
/// A view whose last axis still has unit stride (a crop such as `x[.., .., 0..27, 0..27]`) is
/// copied a whole innermost run at a time, several times faster than ndarray's
/// `as_standard_layout`, which copies element by element.
///
/// ```
/// use tapegrad_autograd::kernels::layout::standard_elements;
/// use tapegrad_autograd::ndarray::{s, Array2};
/// let x = Array2::from_shape_fn((3, 4), |(i, j)| (10 * i + j) as f64);
/// assert_eq!(&*standard_elements(&x.slice(s![1.., 1..3])), &[11.0, 12.0, 21.0, 22.0]);
/// ```
pub fn standard_elements<T: Real, S: Data<Elem = T>, D: Dimension>(
    a: &ArrayBase<S, D>,
) -> Cow<'_, [T]> {
    if let Some(s) = a.as_slice() {
        return Cow::Borrowed(s);
    }
    let last = a.ndim().saturating_sub(1);
    if a.ndim() > 0 && a.strides()[last] == 1 {
        let mut out = Vec::with_capacity(a.len());
        extend_by_rows(a.view().into_dyn(), &mut out);
        return Cow::Owned(out);
    }
    Cow::Owned(a.iter().copied().collect())
}

/// Appends the rows of `a` (ndim >= 1, unit stride along the last axis) to `out`: through
/// the outer axes one at a time down to a matrix, whose rows a fixed-rank iterator walks. A
/// dynamic-rank lane iterator (what tensors have) costs tens of nanoseconds a row.
fn extend_by_rows<T: Copy>(a: ArrayViewD<'_, T>, out: &mut Vec<T>) {
    match a.ndim() {
        1 => out.extend_from_slice(a.to_slice().expect("unit stride along the last axis")),
        2 => {
            let a = a.into_dimensionality::<Ix2>().expect("two axes");
            for row in a.rows() {
                out.extend_from_slice(row.to_slice().expect("unit stride along the last axis"));
            }
        }
        _ => {
            for sub in a.outer_iter() {
                extend_by_rows(sub, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array4};

    #[test]
    fn every_layout_gives_the_row_major_elements() {
        let x = Array4::from_shape_fn((2, 3, 5, 4), |(a, b, c, d)| {
            (1000 * a + 100 * b + 10 * c + d) as f32
        });
        let crop = x.slice(s![.., 1..3, 1..4, 0..3]);
        let permuted = x.view().permuted_axes([0, 1, 3, 2]);
        for view in [x.view(), crop, permuted, x.slice(s![.., .., ..;2, ..])] {
            let want: Vec<f32> = view.iter().copied().collect();
            assert_eq!(&*standard_elements(&view), &want[..]);
            assert_eq!(&*standard_elements(&view.into_dyn()), &want[..]);
        }
        let row = x.slice(s![1, 2, 3, 1..]);
        assert_eq!(
            &*standard_elements(&row.into_dyn()),
            &[1231.0, 1232.0, 1233.0]
        );
        assert!(matches!(standard_elements(&x), Cow::Borrowed(_)));
    }
}
