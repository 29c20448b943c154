//! Getting the elements of an array in row-major order.

use std::borrow::Cow;

use ndarray::{ArrayBase, Axis, Data, Dimension};

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
        for lane in a.lanes(Axis(last)) {
            out.extend_from_slice(lane.to_slice().expect("unit stride along the last axis"));
        }
        return Cow::Owned(out);
    }
    Cow::Owned(a.iter().copied().collect())
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
        }
        assert!(matches!(standard_elements(&x), Cow::Borrowed(_)));
    }
}
