//! Training targets: dense tensors (one-hot rows, regression values) or integer class labels,
//! and the rules for which targets fit which outputs.
//!
//! Losses and metrics never broadcast targets against outputs: a `[N]` target broadcast
//! against a `[N, 1]` output would be `[N, N]`, every output compared with every target, and
//! training would run on nonsense without a word. The rules, shared by every built-in loss and
//! metric:
//!
//! * dense targets have the outputs' shape, with one exception made on purpose: `[N]` targets
//!   for `[N, 1]` outputs (one sigmoid or regression column) are read as that column, value
//!   `i` for row `i`, as Keras reads them ([`Targets::dense_for`]);
//! * class targets for `[N, C]` outputs need `C >= 2` and are `N` labels below `C` or one-hot
//!   rows of shape `[N, C]` ([`Targets::check_classes`]).
//!
//! Anything else is a [`TargetsError`] naming the loss or metric, both shapes and what was
//! expected.

use std::fmt;

use ndarray::Axis;
use tapegrad_autograd::{Real, Tensor};

use crate::error::TargetsError;
use crate::labels::{indices_or_panic, Label};

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

/// What a set of targets looks like, for messages: a dense tensor's shape, or labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetsShape {
    /// A dense tensor of this shape.
    Dense(Vec<usize>),
    /// `count` integer labels, the largest of them `largest` (none if there are no labels).
    Labels {
        /// The number of labels.
        count: usize,
        /// The largest label.
        largest: Option<usize>,
    },
}

impl fmt::Display for TargetsShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetsShape::Dense(shape) => write!(f, "dense targets of shape {shape:?}"),
            TargetsShape::Labels {
                count,
                largest: Some(l),
            } => write!(f, "{count} integer labels (the largest {l})"),
            TargetsShape::Labels { count, .. } => write!(f, "{count} integer labels"),
        }
    }
}

impl<T: Real> Targets<T> {
    /// The shape of dense targets, or the number and the largest of the labels.
    pub fn shape(&self) -> TargetsShape {
        match self {
            Targets::Dense(t) => TargetsShape::Dense(t.shape().to_vec()),
            Targets::Labels(l) => TargetsShape::Labels {
                count: l.len(),
                largest: l.iter().copied().max(),
            },
        }
    }

    /// The error of `by` for these targets against outputs of shape `outputs`.
    pub(crate) fn error(
        &self,
        by: &str,
        outputs: &[usize],
        expected: impl Into<String>,
    ) -> TargetsError {
        TargetsError {
            by: by.to_string(),
            outputs: outputs.to_vec(),
            targets: self.shape(),
            expected: expected.into(),
        }
    }

    /// The dense targets that outputs of shape `outputs` are compared with element by element
    /// (`by` names the loss or metric in the error).
    ///
    /// They must have the outputs' shape; `[N]` targets for `[N, 1]` outputs are read as that
    /// single column (a reshape, never a broadcast). Integer labels are refused: losses on
    /// dense values (MSE, binary cross-entropy) cannot tell what a class index means.
    ///
    /// ```
    /// use tapegrad_nn::autograd::tensor;
    /// use tapegrad_nn::targets::Targets;
    /// let column: Targets<f32> = tensor(&[3], vec![1.0, 0.0, 1.0]).into();
    /// assert_eq!(column.dense_for("mse", &[3, 1]).unwrap().shape(), &[3, 1]);
    /// let err = column.dense_for("mse", &[3, 2]).unwrap_err();
    /// assert!(err.to_string().contains("outputs of shape [3, 2]"));
    /// ```
    pub fn dense_for(&self, by: &str, outputs: &[usize]) -> Result<Tensor<T>, TargetsError> {
        let t = match self {
            Targets::Dense(t) => t,
            Targets::Labels(_) => {
                return Err(self.error(
                    by,
                    outputs,
                    format!(
                        "expected dense targets shaped like the outputs ({outputs:?}); integer \
                         labels are class indices, which only a categorical loss understands: \
                         use CategoricalCrossentropy, or pass the values as a tensor"
                    ),
                ))
            }
        };
        if t.shape() == outputs {
            return Ok(t.clone());
        }
        if let [n, 1] = *outputs {
            if t.shape() == [n] {
                let column = t.iter().copied().collect();
                return Ok(tapegrad_autograd::tensor(&[n, 1], column));
            }
        }
        let column = match *outputs {
            [n, 1] => format!(" (or [{n}] for this single output column)"),
            _ => String::new(),
        };
        Err(self.error(
            by,
            outputs,
            format!(
                "expected targets of the outputs' shape {outputs:?}{column}; targets are never \
                 broadcast against outputs (that would compare every output with every \
                 target): reshape them"
            ),
        ))
    }

    /// Checks class targets for outputs of shape `outputs`, which must be `[N, C]` with at
    /// least two classes; the targets must be `N` labels below `C` or dense rows of shape
    /// `[N, C]`. Returns `C`; `by` names the loss or metric in the error.
    ///
    /// ```
    /// use tapegrad_nn::targets::Targets;
    /// let labels: Targets<f32> = vec![0usize, 2, 1].into();
    /// assert_eq!(labels.check_classes("accuracy", &[3, 3]), Ok(3));
    /// assert!(labels.check_classes("accuracy", &[3, 2]).is_err()); // label 2 is not below 2
    /// assert!(labels.check_classes("accuracy", &[3, 1]).is_err()); // one column is no class distribution
    /// ```
    pub fn check_classes(&self, by: &str, outputs: &[usize]) -> Result<usize, TargetsError> {
        let (n, c) = match *outputs {
            [n, c] => (n, c),
            _ => {
                return Err(self.error(
                    by,
                    outputs,
                    "expected outputs of shape [N, C], one row of C class scores per sample",
                ))
            }
        };
        if c < 2 {
            return Err(self.error(
                by,
                outputs,
                format!(
                    "expected at least 2 classes, but the outputs have {c} column: a \
                     distribution over one class is always 1, so the loss would say nothing \
                     about the data; for two classes with one sigmoid output use \
                     BinaryCrossentropy, otherwise give the last layer one output per class"
                ),
            ));
        }
        match self {
            Targets::Labels(labels) => {
                if labels.len() != n {
                    return Err(self.error(
                        by,
                        outputs,
                        format!("expected one label per output row ({n})"),
                    ));
                }
                if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
                    return Err(self.error(
                        by,
                        outputs,
                        format!(
                            "expected labels in 0..{c} (one per output column), but label {i} \
                             is {l}: give the last layer one output per class"
                        ),
                    ));
                }
            }
            Targets::Dense(t) if t.shape() != outputs => {
                let hint = if t.ndim() == 1 {
                    "; class indices go in a Vec<usize> (integer labels), not a tensor"
                } else {
                    ""
                };
                return Err(self.error(
                    by,
                    outputs,
                    format!("expected one-hot (or probability) rows of shape [{n}, {c}]{hint}"),
                ));
            }
            Targets::Dense(_) => {}
        }
        Ok(c)
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

impl<T: Real, L: Label> From<Vec<L>> for Targets<T> {
    /// Class labels of any integer type (MNIST's `u8` included).
    ///
    /// # Panics
    /// If a label is negative.
    #[track_caller]
    fn from(l: Vec<L>) -> Self {
        Targets::Labels(indices_or_panic("Targets::from", &l))
    }
}

impl<T: Real, L: Label> From<&[L]> for Targets<T> {
    #[track_caller]
    fn from(l: &[L]) -> Self {
        Targets::Labels(indices_or_panic("Targets::from", l))
    }
}

impl<T: Real, L: Label> From<&Vec<L>> for Targets<T> {
    #[track_caller]
    fn from(l: &Vec<L>) -> Self {
        Targets::Labels(indices_or_panic("Targets::from", l))
    }
}

impl<T: Real, L: Label, const N: usize> From<[L; N]> for Targets<T> {
    #[track_caller]
    fn from(l: [L; N]) -> Self {
        Targets::Labels(indices_or_panic("Targets::from", &l))
    }
}

impl<T: Real, L: Label, const N: usize> From<&[L; N]> for Targets<T> {
    #[track_caller]
    fn from(l: &[L; N]) -> Self {
        Targets::Labels(indices_or_panic("Targets::from", l))
    }
}
