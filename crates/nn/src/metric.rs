//! Metrics: accuracy and the confusion matrix, on plain tensors (no tape needed).
//!
//! ```
//! use tapegrad_nn::autograd::tensor;
//! use tapegrad_nn::metric::{accuracy, ConfusionMatrix};
//!
//! let probs = tensor(&[3, 2], vec![0.9f32, 0.1, 0.2, 0.8, 0.6, 0.4]);
//! assert_eq!(accuracy(&probs, &vec![0usize, 1, 1].into()), 2.0 / 3.0);
//! let mut cm = ConfusionMatrix::new(2);
//! cm.update_from_outputs(&probs, &vec![0usize, 1, 1].into());
//! assert_eq!(cm.count(1, 0), 1); // one sample of class 1 predicted as 0
//! ```

use std::fmt;

use tapegrad_autograd::{Real, Tensor};

use crate::error::TargetsError;
use crate::targets::Targets;

/// A metric accumulated over the batches of an epoch, for [`Model`](crate::model::Model);
/// `Send`, as `fit` runs on a thread of rayon's pool.
pub trait Metric<T: Real>: Send {
    /// The name shown in progress lines and [`History`](crate::history::History)
    /// (`"accuracy"`; validation values get the prefix `val_`).
    fn name(&self) -> &str;

    /// Adds one batch: the model's outputs and the batch's targets.
    fn update(&mut self, outputs: &Tensor<T>, targets: &Targets<T>);

    /// The value over everything added since the last reset.
    fn result(&self) -> f64;

    /// Forgets everything added.
    fn reset(&mut self);

    /// Whether `targets` fit outputs of shape `outputs` (`[N, ...]`, the targets holding `N`
    /// rows), checked without computing anything; [`Model::fit`](crate::model::Model::fit)
    /// runs it on the whole data set before the first step. The default accepts everything.
    fn check(&self, _outputs: &[usize], _targets: &Targets<T>) -> Result<(), TargetsError> {
        Ok(())
    }
}

/// The index of the largest element of each row of a `[n, k]` tensor (the first one on ties,
/// like numpy's argmax; NaN never wins).
pub fn argmax_rows<T: Real>(outputs: &Tensor<T>) -> Vec<usize> {
    let k = outputs.shape().last().copied().unwrap_or(1).max(1);
    let data = outputs.as_standard_layout();
    let data = data.as_slice().expect("standard layout is contiguous");
    data.chunks(k)
        .map(|row| {
            let mut best = 0;
            for (j, &x) in row.iter().enumerate() {
                if x > row[best] || row[best].is_nan() && !x.is_nan() {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// The predicted class of each row: argmax for `[n, k]` outputs with `k > 1`; for one output
/// per sample (`[n]` or `[n, 1]`), class 1 where the output exceeds `threshold`.
pub fn predicted_classes<T: Real>(outputs: &Tensor<T>, threshold: f64) -> Vec<usize> {
    let per_row = outputs.shape().iter().skip(1).product::<usize>();
    if outputs.ndim() <= 1 || per_row == 1 {
        let th = T::lit(threshold);
        outputs.iter().map(|&x| usize::from(x > th)).collect()
    } else {
        argmax_rows(outputs)
    }
}

/// The fraction of samples whose predicted class (see [`predicted_classes`], threshold 0.5 for
/// a single probability output) equals the target's class (a label, the argmax of a one-hot
/// row, or a binary value).
///
/// # Panics
/// If the targets do not fit the outputs (see [`check_accuracy`]); [`try_accuracy`] returns
/// the error instead.
#[track_caller]
pub fn accuracy<T: Real>(outputs: &Tensor<T>, targets: &Targets<T>) -> f64 {
    match try_accuracy(outputs, targets) {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    }
}

/// [`accuracy`], or an error for targets that do not fit the outputs.
pub fn try_accuracy<T: Real>(
    outputs: &Tensor<T>,
    targets: &Targets<T>,
) -> Result<f64, TargetsError> {
    let (correct, total) = count_correct(outputs, targets, 0.5)?;
    Ok(if total == 0 {
        0.0
    } else {
        correct as f64 / total as f64
    })
}

/// Whether `targets` fit outputs of shape `outputs` for accuracy, which compares classes:
///
/// * one output per sample (`[N]` or `[N, 1]`, a probability or a logit): targets are `N`
///   labels 0 or 1, or dense values shaped like the outputs (or `[N]` for `[N, 1]`);
/// * `[N, C]` outputs with `C >= 2`: `N` labels below `C` or one-hot rows `[N, C]`.
///
/// Anything else would compare classes that mean different things, so it is an error.
pub fn check_accuracy<T: Real>(
    outputs: &[usize],
    targets: &Targets<T>,
) -> Result<(), TargetsError> {
    const BY: &str = "accuracy";
    match *outputs {
        [n] | [n, 1] => match targets {
            Targets::Labels(labels) if labels.len() != n => Err(targets.error(
                BY,
                outputs,
                format!("expected one label per output row ({n})"),
            )),
            Targets::Labels(labels) => match labels.iter().position(|&l| l > 1) {
                Some(i) => Err(targets.error(
                    BY,
                    outputs,
                    format!(
                        "expected labels 0 or 1 for a single output per sample, but label {i} \
                         is {}: give the last layer one output per class",
                        labels[i]
                    ),
                )),
                None => Ok(()),
            },
            Targets::Dense(_) => targets.dense_for(BY, outputs).map(|_| ()),
        },
        [_, _] => targets.check_classes(BY, outputs).map(|_| ()),
        _ => Err(targets.error(
            BY,
            outputs,
            "expected outputs of shape [N, C] (class scores) or [N, 1] (one probability per \
             sample)",
        )),
    }
}

fn count_correct<T: Real>(
    outputs: &Tensor<T>,
    targets: &Targets<T>,
    threshold: f64,
) -> Result<(usize, usize), TargetsError> {
    check_accuracy(outputs.shape(), targets)?;
    let predicted = predicted_classes(outputs, threshold);
    let actual = targets.classes();
    let correct = predicted
        .iter()
        .zip(&actual)
        .filter(|(p, a)| p == a)
        .count();
    Ok((correct, actual.len()))
}

/// Accuracy as a running [`Metric`] (Keras' `metrics=["accuracy"]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Accuracy {
    correct: usize,
    total: usize,
    threshold: f64,
}

impl Default for Accuracy {
    fn default() -> Self {
        Self::new()
    }
}

impl Accuracy {
    /// Accuracy with threshold 0.5 for single probability outputs.
    pub fn new() -> Self {
        Accuracy {
            correct: 0,
            total: 0,
            threshold: 0.5,
        }
    }

    /// Accuracy for a single output per sample compared with `threshold` (use 0 for logits).
    pub fn with_threshold(threshold: f64) -> Self {
        Accuracy {
            threshold,
            ..Self::new()
        }
    }
}

impl<T: Real> Metric<T> for Accuracy {
    fn name(&self) -> &str {
        "accuracy"
    }
    #[track_caller]
    fn update(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        let (c, n) =
            count_correct(outputs, targets, self.threshold).unwrap_or_else(|e| panic!("{e}"));
        self.correct += c;
        self.total += n;
    }
    fn check(&self, outputs: &[usize], targets: &Targets<T>) -> Result<(), TargetsError> {
        check_accuracy(outputs, targets)
    }
    fn result(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
    fn reset(&mut self) {
        self.correct = 0;
        self.total = 0;
    }
}

/// A boxed [`Accuracy`], for [`Model::compile`](crate::model::Model::compile)'s metric list.
pub fn accuracy_metric<T: Real>() -> Box<dyn Metric<T>> {
    Box::new(Accuracy::new())
}

/// Counts of (actual class, predicted class) pairs.
///
/// Rows are actual classes, columns predicted ones, as in scikit-learn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Adds pairs of actual and predicted classes.
    ///
    /// # Panics
    /// If the lengths differ or a class is out of range.
    #[track_caller]
    pub fn update(&mut self, actual: &[usize], predicted: &[usize]) {
        assert_eq!(
            actual.len(),
            predicted.len(),
            "ConfusionMatrix::update: {} actual classes but {} predictions",
            actual.len(),
            predicted.len()
        );
        for (&a, &p) in actual.iter().zip(predicted) {
            assert!(
                a < self.classes && p < self.classes,
                "ConfusionMatrix::update: class {} is out of range for {} classes",
                a.max(p),
                self.classes
            );
            self.counts[a * self.classes + p] += 1;
        }
    }

    /// Adds a batch of model outputs (argmax per row, or 0.5 threshold) against targets.
    #[track_caller]
    pub fn update_from_outputs<T: Real>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        self.update(&targets.classes(), &predicted_classes(outputs, 0.5));
    }

    /// How many samples of class `actual` were predicted as `predicted`.
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        self.counts[actual * self.classes + predicted]
    }

    /// The total number of samples added.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let diag: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        diag as f64 / self.total().max(1) as f64
    }

    /// Of the samples predicted as `class`, the fraction that are (0 if none were).
    pub fn precision(&self, class: usize) -> f64 {
        let col: u64 = (0..self.classes).map(|a| self.count(a, class)).sum();
        self.count(class, class) as f64 / col.max(1) as f64
    }

    /// Of the samples of `class`, the fraction predicted as it (0 if there were none).
    pub fn recall(&self, class: usize) -> f64 {
        let row: u64 = (0..self.classes).map(|p| self.count(class, p)).sum();
        self.count(class, class) as f64 / row.max(1) as f64
    }

    /// The counts, row-major `[actual][predicted]`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A table with actual classes down and predicted classes across.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.classes.to_string().len())
            .max(3);
        write!(f, "{:>8} |", "actual")?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f, "   (predicted across)")?;
        for a in 0..self.classes {
            write!(f, "{a:>8} |")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(a, p))?;
            }
            if a + 1 < self.classes {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapegrad_autograd::tensor;

    #[test]
    fn accuracy_takes_labels_one_hot_and_binary_targets() {
        let out = tensor(
            &[4, 3],
            vec![
                0.1f64, 0.7, 0.2, //
                0.8, 0.1, 0.1, //
                0.3, 0.3, 0.4, //
                0.5, 0.5, 0.0, // tie: the first wins
            ],
        );
        assert_eq!(argmax_rows(&out), vec![1, 0, 2, 0]);
        let labels: Targets<f64> = vec![1usize, 0, 1, 0].into();
        assert_eq!(accuracy(&out, &labels), 0.75);
        let one_hot = Targets::Dense(labels.to_one_hot(3));
        assert_eq!(accuracy(&out, &one_hot), 0.75);
        let probs = tensor(&[4, 1], vec![0.9f64, 0.2, 0.6, 0.4]);
        let binary = Targets::Dense(tensor(&[4, 1], vec![1.0, 0.0, 0.0, 0.0]));
        assert_eq!(accuracy(&probs, &binary), 0.75);
        let mut m = Accuracy::new();
        Metric::<f64>::update(&mut m, &out, &labels);
        Metric::<f64>::update(&mut m, &probs, &binary);
        assert_eq!(Metric::<f64>::result(&m), 0.75);
        Metric::<f64>::reset(&mut m);
        assert_eq!(Metric::<f64>::result(&m), 0.0);
    }

    #[test]
    fn accuracy_refuses_targets_that_mean_something_else() {
        let probs = tensor(&[3, 1], vec![0.9f64, 0.1, 0.7]);
        // [3, 3] one-hot rows against one probability column: formerly the argmax of each
        // row was compared with the thresholded column, silently
        let rows = Targets::Dense(tensor(&[3, 3], vec![1.0, 0., 0., 0., 1., 0., 0., 0., 1.]));
        let text = try_accuracy(&probs, &rows).unwrap_err().to_string();
        assert!(
            text.starts_with(
                "accuracy: outputs of shape [3, 1] against dense targets of shape [3, 3]"
            ),
            "{text}"
        );
        let text = try_accuracy(&probs, &vec![0usize, 2, 1].into())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("labels 0 or 1") && text.contains("label 1 is 2"),
            "{text}"
        );
        let scores = tensor(&[3, 2], vec![0.9f64, 0.1, 0.2, 0.8, 0.6, 0.4]);
        let text = try_accuracy(&scores, &vec![0usize, 1, 5].into())
            .unwrap_err()
            .to_string();
        assert!(text.contains("labels in 0..2"), "{text}");
        let text = try_accuracy(&scores, &Targets::Dense(tensor(&[3, 3], vec![0.0; 9])))
            .unwrap_err()
            .to_string();
        assert!(text.contains("rows of shape [3, 2]"), "{text}");
        // a [N] column of 0/1 values for a [N, 1] output is the column
        let column = Targets::Dense(tensor(&[3], vec![1.0, 0.0, 0.0]));
        assert_eq!(try_accuracy(&probs, &column), Ok(2.0 / 3.0));
    }

    #[test]
    #[should_panic(
        expected = "accuracy: outputs of shape [2, 1] against 2 integer labels (the largest 3)"
    )]
    fn the_metric_panics_with_the_same_message() {
        let mut m = Accuracy::new();
        Metric::<f64>::update(
            &mut m,
            &tensor(&[2, 1], vec![0.9, 0.1]),
            &vec![3usize, 0].into(),
        );
    }

    #[test]
    fn confusion_matrix_counts_and_ratios() {
        let mut cm = ConfusionMatrix::new(3);
        cm.update(&[0, 0, 1, 2, 2, 2], &[0, 1, 1, 2, 2, 0]);
        assert_eq!(cm.count(0, 1), 1);
        assert_eq!(cm.count(2, 2), 2);
        assert_eq!(cm.total(), 6);
        assert!((cm.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(cm.precision(0), 0.5);
        assert!((cm.recall(2) - 2.0 / 3.0).abs() < 1e-12);
        let text = cm.to_string();
        assert!(text.contains("actual"), "{text}");
        assert_eq!(text.lines().count(), 4);
    }
}
