//! The predicted classes of [`conv_tanh_dense`] in `f64`, found in `f32` where a rounding-error
//! bound proves them the same ([`conv_tanh_dense_classes`]).

use ndarray::{s, Array4, ArrayView2, ArrayView4, Axis};

use super::{conv_tanh_dense, conv_tanh_dense_summed_as_tree, ImageLanes};

/// `f32`'s unit roundoff, `2^-24`.
const U32: f64 = f32::EPSILON as f64 / 2.0;
/// `f64`'s unit roundoff, `2^-53`.
const U64: f64 = f64::EPSILON / 2.0;

/// `n u / (1 - n u)`: the relative error bound of `n` roundings in a row.
fn gamma(n: usize, u: f64) -> f64 {
    let nu = n as f64 * u;
    assert!(nu < 0.5, "too many roundings for a useful bound: {n}");
    nu / (1.0 - nu)
}

/// A test set laid out for [`conv_tanh_dense_classes`]: in `f32` lanes for the fast pass, and
/// as `f64` images for the few that the bound leaves undecided.
///
/// ```
/// use ndarray::Array4;
/// use tapegrad_autograd::kernels::fused::CertifiedImages;
///
/// let images = Array4::<f64>::zeros((20, 1, 28, 28));
/// let set = CertifiedImages::new(images.view());
/// assert_eq!(set.len(), 20);
/// ```
#[derive(Clone, Debug)]
pub struct CertifiedImages {
    images: Array4<f64>,
    narrow: ImageLanes<f32>,
    /// The largest pixel magnitude, `X` in the bound.
    largest: f64,
}

impl CertifiedImages {
    /// Lays out `images`, `[N, 1, H, W]` with any strides.
    ///
    /// # Panics
    /// If the images have more than one channel.
    pub fn new(images: ArrayView4<'_, f64>) -> Self {
        let narrow = ImageLanes::new(images.mapv(|x| x as f32).view());
        CertifiedImages {
            images: images.to_owned(),
            narrow,
            largest: images.iter().fold(0.0, |m: f64, &x| m.max(x.abs())),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.shape()[0]
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The classes found by [`conv_tanh_dense_classes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classes {
    /// For each image, the index of its largest `f64` output (the first of equals; NaN never
    /// counts as larger).
    pub classes: Vec<usize>,
    /// How many images the bound left undecided, evaluated in `f64`.
    pub recomputed: usize,
}

/// For each image, the index of the largest output of [`conv_tanh_dense`] in `f64` (the first
/// of equal ones), the same classes as the tape's `f64` forward pass gives, found in `f32`
/// wherever a rounding-error bound proves them equal.
///
/// A classifier's accuracy depends only on which output is largest. The `f32` kernel is about
/// twice as fast as the `f64` one (16 images per vector instead of 8, a cheaper activation),
/// and for almost every image its largest output leads the others by far more than the two
/// precisions can differ: every image is evaluated in `f32`, the difference from the `f64`
/// outputs is bounded a priori (from the weights' magnitudes, not from the data), the `f32`
/// class is kept wherever its lead exceeds the bound, and the images left undecided are
/// evaluated in `f64` by [`conv_tanh_dense`], which gives the tape's bits.
///
/// # The bound
///
/// With `u = 2^-24` (`f32`) and `v = 2^-53` (`f64`) the unit roundoffs, `γ_n(u) = n u / (1 - n
/// u)`, `X` the largest pixel magnitude, `S` the largest sum of a kernel's absolute taps and
/// `A_c = Σ_j |W_jc|` (column `c` of the dense layer):
///
/// * a pre-activation is a chain of `t` multiply-adds over the taps, one rounding each, of
///   pixels and taps rounded to `f32` (relative error `u` each), so it is within
///   `e_z = (γ_t(u) (1 + u)^2 + 2u + u^2) S X` of the exact value in `f32`, and within
///   `γ_t(v) S X` in `f64`;
/// * tanh has slope at most 1, and each kernel's tanh is within 2 units in the last place of
///   the exact value (at most `2u` and `2v` below 1 in magnitude), so the hidden values of the
///   two precisions differ by at most `e_h = 2u + e_z + 2v + γ_t(v) S X`, and are at most 1 in
///   magnitude;
/// * the `f32` outputs are summed as a tree (a chain along each row of a kernel's map, the
///   rows' sums chained per kernel, the kernels' sums chained): every product passes through
///   at most `d = Wo + Ho + O` roundings, so an output is within `γ_d(u) (1 + u) A_c` of the
///   exact sum of its `f32` products; those differ from the exact products of the `f64`
///   hidden values and weights by at most `(e_h (1 + u) + u) A_c`;
/// * the `f64` output, one chain of `n` multiply-adds, is within `γ_n(v) A_c` of its exact
///   sum.
///
/// The sum of these, `E_c`, bounds `|y32_c - y64_c|`; with 1 % added for the arithmetic of the
/// bound itself and a tiny absolute term for results in the subnormal range. If the largest
/// `f32` output `y32_t` exceeds every other by more than `E_t + E_c`, then `y64_t` is strictly
/// the largest `f64` output. NaN or infinite outputs fail the test and go to `f64`.
///
/// ```
/// use ndarray::{Array2, Array4};
/// use tapegrad_autograd::kernels::fused::{
///    conv_tanh_dense, conv_tanh_dense_classes, CertifiedImages, ImageLanes,
/// };
///
/// let images = Array4::from_shape_fn((30, 1, 6, 6), |(n, _, r, c)| ((n * 7 + r * c) % 10) as f64 / 10.0);
/// let kernels = Array4::from_shape_fn((2, 1, 3, 3), |(o, _, r, c)| (o + r) as f64 / 4.0 - c as f64 / 3.0);
/// let weights = Array2::from_shape_fn((32, 3), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 10.0 - 0.3);
/// let found = conv_tanh_dense_classes(&CertifiedImages::new(images.view()), kernels.view(), weights.view());
///
/// let outputs = conv_tanh_dense(&ImageLanes::new(images.view()), kernels.view(), weights.view());
/// for (row, &class) in outputs.rows().into_iter().zip(&found.classes) {
///    assert!(row.iter().all(|&y| y <= row[class]));
/// }
/// ```
///
/// # Panics
/// If the shapes do not fit together (as for [`conv_tanh_dense`]).
pub fn conv_tanh_dense_classes(
    images: &CertifiedImages,
    kernels: ArrayView4<'_, f64>,
    weights: ArrayView2<'_, f64>,
) -> Classes {
    let narrow = conv_tanh_dense_summed_as_tree(
        &images.narrow,
        kernels.mapv(|x| x as f32).view(),
        weights.mapv(|x| x as f32).view(),
    );
    let bounds = output_bounds(images, kernels, weights);
    let mut classes = Vec::with_capacity(images.len());
    let mut undecided = Vec::new();
    for (i, row) in narrow.rows().into_iter().enumerate() {
        let best = first_largest(row.iter().map(|&y| f64::from(y)));
        classes.push(best);
        let top = f64::from(row[best]);
        let decided = row
            .iter()
            .enumerate()
            .all(|(c, &y)| c == best || top - f64::from(y) > bounds[best] + bounds[c]);
        if !decided {
            undecided.push(i);
        }
    }
    if !undecided.is_empty() {
        let wide = images.images.select(Axis(0), &undecided);
        let outputs = conv_tanh_dense(&ImageLanes::new(wide.view()), kernels, weights);
        for (&i, row) in undecided.iter().zip(outputs.rows()) {
            classes[i] = first_largest(row.iter().copied());
        }
    }
    Classes {
        classes,
        recomputed: undecided.len(),
    }
}

/// The index of the first largest value (0 when none is larger than -inf).
fn first_largest(values: impl Iterator<Item = f64>) -> usize {
    let (mut best, mut best_value) = (0, f64::NEG_INFINITY);
    for (j, v) in values.enumerate() {
        if v > best_value {
            (best, best_value) = (j, v);
        }
    }
    best
}

/// `E_c` for every output column `c`: a bound on `|y32_c - y64_c|` for any image of the set.
fn output_bounds(
    images: &CertifiedImages,
    kernels: ArrayView4<'_, f64>,
    weights: ArrayView2<'_, f64>,
) -> Vec<f64> {
    let (o, _, kh, kw) = kernels.dim();
    let (_, _, height, width) = images.images.dim();
    let (out_h, out_w) = (height + 1 - kh, width + 1 - kw);
    let taps = kh * kw;
    let largest_kernel = (0..o)
        .map(|k| {
            kernels
                .slice(s![k, .., .., ..])
                .iter()
                .map(|t| t.abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let sx = largest_kernel * images.largest;
    let (u, v) = (U32, U64);
    // Results near f32's subnormal range lose their relative bound: an absolute allowance
    // far above any such loss (2^-149 per operation) and far below any useful margin.
    let tiny = 1e-30;
    let e_z = (gamma(taps, u) * (1.0 + u).powi(2) + 2.0 * u + u * u) * sx + tiny;
    let e_h = 2.0 * u + e_z + 2.0 * v + gamma(taps, v) * sx;
    let depth = out_w + out_h + o;
    let per_weight =
        gamma(depth, u) * (1.0 + u) + e_h * (1.0 + u) + u + gamma(weights.nrows().max(1), v);
    weights
        .columns()
        .into_iter()
        .map(|w| 1.01 * per_weight * w.iter().map(|x| x.abs()).sum::<f64>() + tiny)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::values;
    use super::*;
    use ndarray::Array2;

    fn network(n: usize, columns: usize, seed: u64) -> (Array4<f64>, Array4<f64>, Array2<f64>) {
        let images = Array4::from_shape_vec(
            (n, 1, 12, 12),
            values::<f64>(n * 144, seed, 1.0)
                .iter()
                .map(|x| x.abs())
                .collect(),
        )
        .expect("n images");
        let kernels = Array4::from_shape_vec((4, 1, 3, 3), values::<f64>(36, seed + 1, 0.5))
            .expect("4 kernels");
        let weights =
            Array2::from_shape_vec((400, columns), values::<f64>(400 * columns, seed + 2, 0.1))
                .expect("weights");
        (images, kernels, weights)
    }

    fn classes_of(images: &Array4<f64>, kernels: &Array4<f64>, weights: &Array2<f64>) -> Classes {
        conv_tanh_dense_classes(
            &CertifiedImages::new(images.view()),
            kernels.view(),
            weights.view(),
        )
    }

    fn f64_classes(
        images: &Array4<f64>,
        kernels: &Array4<f64>,
        weights: &Array2<f64>,
    ) -> Vec<usize> {
        conv_tanh_dense(
            &ImageLanes::new(images.view()),
            kernels.view(),
            weights.view(),
        )
        .rows()
        .into_iter()
        .map(|row| first_largest(row.iter().copied()))
        .collect()
    }

    #[test]
    fn the_classes_are_those_of_the_f64_outputs_and_most_are_decided_in_f32() {
        let (images, kernels, weights) = network(203, 10, 1);
        let found = classes_of(&images, &kernels, &weights);
        assert_eq!(found.classes, f64_classes(&images, &kernels, &weights));
        assert!(
            found.recomputed < 203 / 10,
            "{} of 203 recomputed",
            found.recomputed
        );
    }

    #[test]
    fn ties_and_near_ties_go_to_f64_and_keep_its_first_largest() {
        let (images, kernels, mut weights) = network(40, 4, 2);
        // Columns 1 and 3 equal: every image ties them in f64 exactly. Column 2 a hair above
        // column 0: closer than f32 can tell.
        let column_1 = weights.column(1).to_owned();
        weights.column_mut(3).assign(&column_1);
        let column_0 = weights.column(0).to_owned();
        weights
            .column_mut(2)
            .assign(&column_0.mapv(|w| w * (1.0 + 1e-12)));
        let found = classes_of(&images, &kernels, &weights);
        assert_eq!(found.classes, f64_classes(&images, &kernels, &weights));
        assert!(
            found.classes.iter().all(|&c| c != 3),
            "a tie goes to the first"
        );
        // Every image whose winner is one of a tied or nearly tied pair is recomputed.
        let tied = found
            .classes
            .iter()
            .filter(|&&c| c == 1 || c == 2 || c == 0)
            .count();
        assert!(
            found.recomputed >= tied,
            "{} recomputed, {tied} tied",
            found.recomputed
        );
    }

    #[test]
    fn nan_weights_leave_every_image_to_f64() {
        let (images, kernels, mut weights) = network(20, 3, 3);
        weights[[5, 1]] = f64::NAN;
        let found = classes_of(&images, &kernels, &weights);
        assert_eq!(found.recomputed, 20);
        assert_eq!(found.classes, f64_classes(&images, &kernels, &weights));
    }

    #[test]
    fn the_bound_holds_for_every_output() {
        // Large kernels (many pre-activations in tanh's saturated range) and weights: the
        // measured difference between the two precisions stays within the bound.
        let (images, kernels, weights) = network(64, 10, 4);
        let kernels = kernels.mapv(|k| k * 4.0);
        let set = CertifiedImages::new(images.view());
        let narrow = conv_tanh_dense_summed_as_tree(
            &set.narrow,
            kernels.mapv(|x| x as f32).view(),
            weights.mapv(|x| x as f32).view(),
        );
        let wide = conv_tanh_dense(
            &ImageLanes::new(images.view()),
            kernels.view(),
            weights.view(),
        );
        let bounds = output_bounds(&set, kernels.view(), weights.view());
        let mut worst = 0.0f64;
        for (((_, c), &y64), &y32) in wide.indexed_iter().zip(&narrow) {
            let gap = (f64::from(y32) - y64).abs();
            assert!(
                gap <= bounds[c],
                "output {c}: off by {gap}, bound {}",
                bounds[c]
            );
            worst = worst.max(gap / bounds[c]);
        }
        // Not vacuous: the bound is within a few hundred times the largest difference.
        assert!(
            worst > 1e-3,
            "the bound is {} times the largest difference",
            1.0 / worst
        );
    }
}
