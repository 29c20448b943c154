//! Preprocessing and mini-batches: one-hot labels, flattening and scaling images, a
//! normalisation fitted on the training set, train/validation splits, and seeded shuffled
//! mini-batches.
//!
//! ```
//! use tapegrad_autograd::tensor;
//! use tapegrad_datasets::batch::{Batches, Dataset};
//!
//! let x = tensor(&[5, 2], (0..10).map(|v| v as f32).collect());
//! let y = tensor(&[5, 1], vec![0.0f32, 1.0, 0.0, 1.0, 1.0]);
//! let data = Dataset::new(x, y);
//! // Batches of 2 in a seeded random order; the last partial batch (1 sample) is kept.
//! let sizes: Vec<usize> = data.batches(2).shuffle(7).map(|(bx, _)| bx.shape()[0]).collect();
//! assert_eq!(sizes, [2, 2, 1]);
//! // ... or dropped.
//! assert_eq!(data.batches(2).drop_last(true).count(), 2);
//! ```

use ndarray::{Array1, Array2, ArrayView, Axis, Dimension, IxDyn};
use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{into_tensor, Real, Tensor};

use crate::error::{DatasetError, Result};

/// Shuffles `items` in place with the Fisher-Yates algorithm, drawing `rng.below(i + 1)` for
/// `i` from the last index down to 1 (the same draws as numpy's `shuffle`, so a numpy-compatible
/// stream gives numpy's order).
pub fn shuffle_in_place<X, R: RandomStream + ?Sized>(items: &mut [X], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// A random permutation of `0..n` (numpy's `permutation(n)` for a numpy-compatible stream).
pub fn permutation<R: RandomStream + ?Sized>(n: usize, rng: &mut R) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    shuffle_in_place(&mut p, rng);
    p
}

/// One-hot rows: `labels[i] = k` gives a row of zeros with a one at `k`.
///
/// # Panics
/// If a label is `>= classes`.
///
/// ```
/// use tapegrad_datasets::batch::one_hot;
/// let y = one_hot::<f32>(&[2, 0], 3);
/// assert_eq!(y.as_slice().unwrap(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// ```
#[track_caller]
pub fn one_hot<T: Real>(labels: &[u8], classes: usize) -> Tensor<T> {
    let mut out = Array2::<T>::zeros((labels.len(), classes));
    for (i, &l) in labels.iter().enumerate() {
        assert!(
            (l as usize) < classes,
            "one_hot: label {l} at index {i} is not below the number of classes {classes}"
        );
        out[[i, l as usize]] = T::one();
    }
    into_tensor(out)
}

/// Images `[N, ...]` of bytes as a `[N, features]` tensor of `pixel / divisor`, computed in
/// `T` like numpy's `x.astype(float32) / 255` (`divisor = 255.0` maps bytes to `[0, 1]`).
///
/// ```
/// use ndarray::Array3;
/// use tapegrad_datasets::batch::flatten_pixels;
/// let images = Array3::<u8>::from_elem((2, 28, 28), 255);
/// let x = flatten_pixels::<f32, _>(images.view(), 255.0);
/// assert_eq!(x.shape(), &[2, 784]);
/// assert_eq!(x[[1, 783]], 1.0);
/// ```
pub fn flatten_pixels<T: Real, D: Dimension>(
    images: ArrayView<'_, u8, D>,
    divisor: f64,
) -> Tensor<T> {
    let n = images.shape().first().copied().unwrap_or(1);
    let features: usize = images.shape().iter().skip(1).product();
    let d = T::lit(divisor);
    let lut: Vec<T> = (0..=255u8).map(|p| T::lit(p as f64) / d).collect();
    let data: Vec<T> = images.iter().map(|&p| lut[p as usize]).collect();
    into_tensor(Array2::from_shape_vec((n, features), data).expect("sizes agree"))
}

/// Any tensor `[N, ...]` reshaped to `[N, rest]` (copying only if it is not contiguous).
pub fn flatten<T: Real>(x: &Tensor<T>) -> Tensor<T> {
    let n = x.shape().first().copied().unwrap_or(1);
    let rest: usize = x.shape().iter().skip(1).product();
    let std = x.as_standard_layout().into_owned();
    std.into_shape_with_order(IxDyn(&[n, rest]))
        .expect("sizes agree")
        .into_shared()
}

/// Rows of `x` (axis 0) at `idx`, as a new contiguous tensor.
pub fn take_rows<T: Real>(x: &Tensor<T>, idx: &[usize]) -> Tensor<T> {
    x.select(Axis(0), idx).into_shared()
}

/// Per-feature standardisation `(x - mean) / std`, fitted on one set (the training set) and
/// applied unchanged to others, so no statistic of the test set leaks into training.
///
/// ```
/// use tapegrad_autograd::tensor;
/// use tapegrad_datasets::batch::Standardizer;
/// let train = tensor(&[2, 2], vec![1.0f64, 10.0, 3.0, 30.0]);
/// let s = Standardizer::fit(&train);
/// let test = s.transform(&tensor(&[1, 2], vec![2.0, 20.0]));
/// assert_eq!(test.as_slice().unwrap(), &[0.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Standardizer<T> {
    /// Mean of each feature over the fitted set.
    pub mean: Array1<T>,
    /// Standard deviation of each feature (population; features with zero spread get 1, so
    /// they map to 0 instead of NaN).
    pub std: Array1<T>,
}

impl<T: Real> Standardizer<T> {
    /// Fits on `x` of shape `[N, features...]` (statistics over axis 0).
    ///
    /// # Panics
    /// If `x` has no rows.
    #[track_caller]
    pub fn fit(x: &Tensor<T>) -> Self {
        let flat = flatten(x);
        let n = flat.shape()[0];
        assert!(n > 0, "Standardizer::fit: the data has no rows");
        let view = flat
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("flattened");
        let count = T::lit(n as f64);
        let mean = view.sum_axis(Axis(0)).mapv(|s| s / count);
        let mut var = Array1::<T>::zeros(mean.len());
        for row in view.rows() {
            for ((v, &x), &m) in var.iter_mut().zip(row.iter()).zip(mean.iter()) {
                let d = x - m;
                *v += d * d;
            }
        }
        let std = var.mapv(|v| {
            let s = (v / count).sqrt();
            if s > T::zero() {
                s
            } else {
                T::one()
            }
        });
        Standardizer { mean, std }
    }

    /// Applies the fitted statistics; the result has `x`'s shape.
    ///
    /// # Panics
    /// If `x` has another number of features than the fitted data.
    #[track_caller]
    pub fn transform(&self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape().to_vec();
        let flat = flatten(x);
        assert_eq!(
            flat.shape()[1],
            self.mean.len(),
            "Standardizer::transform: data has {} features per row but the standardizer was fitted on {}",
            flat.shape()[1],
            self.mean.len()
        );
        let mut out = flat.into_owned();
        for mut row in out.rows_mut() {
            for ((x, &m), &s) in row.iter_mut().zip(self.mean.iter()).zip(self.std.iter()) {
                *x = (*x - m) / s;
            }
        }
        out.into_shape_with_order(IxDyn(&shape))
            .expect("same size")
            .into_shared()
    }
}

/// Inputs and targets with the same number of rows (axis 0).
#[derive(Clone, Debug)]
pub struct Dataset<T> {
    /// Inputs, `[N, ...]`.
    pub x: Tensor<T>,
    /// Targets, `[N, ...]` (one-hot rows, a column of labels, ...).
    pub y: Tensor<T>,
}

impl<T: Real> Dataset<T> {
    /// Pairs inputs and targets.
    ///
    /// # Panics
    /// If they have different numbers of rows.
    #[track_caller]
    pub fn new(x: Tensor<T>, y: Tensor<T>) -> Self {
        Self::try_new(x, y).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Pairs inputs and targets, or says why they do not match.
    pub fn try_new(x: Tensor<T>, y: Tensor<T>) -> Result<Self> {
        let (nx, ny) = (x.shape().first(), y.shape().first());
        if nx.is_none() || nx != ny {
            return Err(DatasetError::Invalid(format!(
                "Dataset: inputs of shape {:?} and targets of shape {:?} must have the same (non-zero-rank) first axis",
                x.shape(),
                y.shape()
            )));
        }
        Ok(Dataset { x, y })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        Dataset {
            x: take_rows(&self.x, idx),
            y: take_rows(&self.y, idx),
        }
    }

    /// The first `n` samples (or all, if fewer).
    pub fn head(&self, n: usize) -> Self {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&idx)
    }

    /// Splits off `validation` samples chosen at random (seeded) as a validation set;
    /// returns `(train, validation)`. Each keeps the original relative order.
    ///
    /// # Panics
    /// If `validation > len()`.
    #[track_caller]
    pub fn split(&self, validation: usize, seed: u64) -> (Self, Self) {
        assert!(
            validation <= self.len(),
            "Dataset::split: asked for {validation} validation samples out of {}",
            self.len()
        );
        let mut rng = SplitMix64::new(seed);
        let perm = permutation(self.len(), &mut rng);
        let mut val: Vec<usize> = perm[..validation].to_vec();
        let mut train: Vec<usize> = perm[validation..].to_vec();
        val.sort_unstable();
        train.sort_unstable();
        (self.select(&train), self.select(&val))
    }

    /// Splits off the last `validation` samples, in order (e.g. MNIST's classic 50,000 /
    /// 10,000); returns `(train, validation)`.
    ///
    /// # Panics
    /// If `validation > len()`.
    #[track_caller]
    pub fn split_last(&self, validation: usize) -> (Self, Self) {
        assert!(
            validation <= self.len(),
            "Dataset::split_last: asked for {validation} validation samples out of {}",
            self.len()
        );
        let cut = self.len() - validation;
        let a: Vec<usize> = (0..cut).collect();
        let b: Vec<usize> = (cut..self.len()).collect();
        (self.select(&a), self.select(&b))
    }

    /// Mini-batches of `batch_size`, in order, last partial batch kept; see [`Batches`].
    pub fn batches(&self, batch_size: usize) -> Batches<T> {
        Batches::new(self, batch_size)
    }
}

/// An iterator of `(x, y)` mini-batches over a [`Dataset`].
///
/// In order by default; [`shuffle`](Self::shuffle) draws a seeded random order (use a
/// different seed per epoch, e.g. `seed + epoch`). The last, partial batch is kept unless
/// [`drop_last`](Self::drop_last) is set.
#[derive(Clone, Debug)]
pub struct Batches<T> {
    data: Dataset<T>,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
    drop_last: bool,
}

impl<T: Real> Batches<T> {
    /// Batches of `batch_size` over `data` in order.
    ///
    /// # Panics
    /// If `batch_size == 0`.
    #[track_caller]
    pub fn new(data: &Dataset<T>, batch_size: usize) -> Self {
        assert!(batch_size > 0, "Batches: batch_size must be at least 1");
        Batches {
            data: data.clone(),
            order: (0..data.len()).collect(),
            batch_size,
            pos: 0,
            drop_last: false,
        }
    }

    /// Visits the samples in a random order drawn from `seed`.
    pub fn shuffle(self, seed: u64) -> Self {
        self.shuffle_with(&mut SplitMix64::new(seed))
    }

    /// Visits the samples in a random order drawn from `rng`.
    pub fn shuffle_with<R: RandomStream + ?Sized>(mut self, rng: &mut R) -> Self {
        shuffle_in_place(&mut self.order, rng);
        self
    }

    /// Drops the last batch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// The sample indices of every remaining batch.
    pub fn indices(&self) -> Vec<&[usize]> {
        let mut out: Vec<&[usize]> = self.order[self.pos..].chunks(self.batch_size).collect();
        if self.drop_last && out.last().is_some_and(|b| b.len() < self.batch_size) {
            out.pop();
        }
        out
    }
}

impl<T: Real> Iterator for Batches<T> {
    type Item = (Tensor<T>, Tensor<T>);

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.order.len() - self.pos;
        if left == 0 || (self.drop_last && left < self.batch_size) {
            return None;
        }
        let end = self.pos + left.min(self.batch_size);
        let idx = &self.order[self.pos..end];
        self.pos = end;
        Some((take_rows(&self.data.x, idx), take_rows(&self.data.y, idx)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.order.len() - self.pos;
        let n = if self.drop_last {
            left / self.batch_size
        } else {
            left.div_ceil(self.batch_size)
        };
        (n, Some(n))
    }
}

impl<T: Real> ExactSizeIterator for Batches<T> {}
