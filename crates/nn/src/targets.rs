//! Training targets: dense tensors (one-hot rows, regression values) or integer class labels.

use ndarray::Axis;
use tapegrad_autograd::{Real, Tensor};

/// The targets of a data set or a batch: one row per sample.
///
/// Losses and metrics accept either form where it makes sense: cross-entropy takes one-hot
/// rows or labels; MSE takes dense values.
///
/// ```
/// use tapegrad_nn::autograd::tensor;
/// use tapegrad_nn::targets::Targets;
/// let labels: Targets<f32> = vec![3usize, 1, 4].into();
/// let one_hot = labels.to_one_hot(5);
/// assert_eq!(one_hot.shape(), &[3, 5]);
/// assert_eq!(one_hot[[0, 3]], 1.0);
/// let dense: Targets<f32> = tensor(&[2, 1], vec![0.0, 1.0]).into();
/// assert_eq!(dense.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T: Real> {
    /// One row per sample along axis 0: one-hot rows `[n, classes]`, values `[n, k]` or `[n]`.
    Dense(Tensor<T>),
    /// One class index per sample (Keras' sparse labels).
    Labels(Vec<usize>),
}

impl<T: Real> Targets<T> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Dense(t) => t.shape().first().copied().unwrap_or(1),
            Targets::Labels(l) => l.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, in that order (a copy).
    pub fn select(&self, indices: &[usize]) -> Targets<T> {
        match self {
            Targets::Dense(t) => Targets::Dense(t.select(Axis(0), indices).into_shared()),
            Targets::Labels(l) => Targets::Labels(indices.iter().map(|&i| l[i]).collect()),
        }
    }

    /// The samples `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Targets<T> {
        match self {
            Targets::Dense(t) => Targets::Dense(
                t.slice_axis(Axis(0), ndarray::Slice::from(start..end))
                    .to_owned()
                    .into_shared(),
            ),
            Targets::Labels(l) => Targets::Labels(l[start..end].to_vec()),
        }
    }

    /// Labels as one-hot rows `[n, classes]`; dense targets are returned as they are.
    ///
    /// # Panics
    /// If a label is not below `classes`.
    #[track_caller]
    pub fn to_one_hot(&self, classes: usize) -> Tensor<T> {
        match self {
            Targets::Dense(t) => t.clone(),
            Targets::Labels(l) => one_hot(l, classes),
        }
    }

    /// The class of each sample: the labels, or the argmax of each dense row (a `[n]` or
    /// `[n, 1]` dense target is read as binary, class 1 where above 0.5).
    pub fn classes(&self) -> Vec<usize> {
        match self {
            Targets::Labels(l) => l.clone(),
            Targets::Dense(t) => {
                let per_row = t.len() / self.len().max(1);
                if t.ndim() <= 1 || per_row == 1 {
                    t.iter().map(|&x| usize::from(x > T::lit(0.5))).collect()
                } else {
                    crate::metric::argmax_rows(t)
                }
            }
        }
    }
}

/// One-hot rows `[n, classes]` for integer labels.
///
/// # Panics
/// If a label is not below `classes`.
#[track_caller]
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Tensor<T> {
    let mut data = vec![T::zero(); labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        assert!(
            l < classes,
            "one_hot: label {l} at position {i} is not below the number of classes {classes}"
        );
        data[i * classes + l] = T::one();
    }
    tapegrad_autograd::tensor(&[labels.len(), classes], data)
}

impl<T: Real> From<Tensor<T>> for Targets<T> {
    fn from(t: Tensor<T>) -> Self {
        Targets::Dense(t)
    }
}

impl<T: Real> From<&Tensor<T>> for Targets<T> {
    fn from(t: &Tensor<T>) -> Self {
        Targets::Dense(t.clone())
    }
}

impl<T: Real> From<Vec<usize>> for Targets<T> {
    fn from(l: Vec<usize>) -> Self {
        Targets::Labels(l)
    }
}

impl<T: Real> From<&[usize]> for Targets<T> {
    fn from(l: &[usize]) -> Self {
        Targets::Labels(l.to_vec())
    }
}

impl<T: Real> From<&Vec<usize>> for Targets<T> {
    fn from(l: &Vec<usize>) -> Self {
        Targets::Labels(l.clone())
    }
}

impl<T: Real> From<Vec<u8>> for Targets<T> {
    fn from(l: Vec<u8>) -> Self {
        Targets::Labels(l.into_iter().map(usize::from).collect())
    }
}

impl<T: Real> From<&[u8]> for Targets<T> {
    fn from(l: &[u8]) -> Self {
        Targets::Labels(l.iter().map(|&x| usize::from(x)).collect())
    }
}
