//! Losses: free functions on variables for training loops by hand, and [`Loss`] objects for
//! [`Model::compile`](crate::model::Model::compile).
//!
//! The reduction over the batch is explicit: every function that averages takes a [`Reduce`].
//! `Reduce::Mean` divides by the number of samples `m` for the cross-entropies (each sample's
//! term already sums over its classes, the course's `-1/m sum(...)`), and by the number of
//! elements for MSE and binary cross-entropy (Keras' and PyTorch's defaults); `Reduce::Sum`
//! adds every term (Grokking's and Nielsen's per-example updates).
//!
//! | function | formula | from |
//! |---|---|---|
//! | [`mse`] | `sum (p - t)^2` / count | Keras `mse` |
//! | [`sum_squared_error`] | `sum (p - t)^2` | Grokking |
//! | [`l1_loss`], [`l2_loss`] | `sum abs(y - yhat)`, `sum (y - yhat)^2` | the course, week 2 |
//! | [`categorical_cross_entropy`] | `-sum t ln p` on probabilities | Keras `categorical_crossentropy` |
//! | [`sparse_categorical_cross_entropy`] | `-sum ln p[label]` on probabilities | Keras, DLwP ch.2 |
//! | [`softmax_cross_entropy`] | `-sum t log_softmax(z)` on logits (fused, stable) | PyTorch `CrossEntropyLoss` |
//! | [`softmax_cross_entropy_with_labels`] | the same with integer labels | |
//! | [`binary_cross_entropy`] | `-sum t ln p + (1-t) ln(1-p)` on probabilities | the course |
//! | [`bce_with_logits`] | the same on logits (fused, stable) | PyTorch `BCEWithLogitsLoss` |
//!
//! The losses on probabilities clip them to `[1e-7, 1 - 1e-7]` before the logarithm, as Keras
//! does, so a saturated output gives a large finite loss instead of infinity; prefer the logit
//! forms, which need no clipping.
//!
//! ```
//! use tapegrad_nn::autograd::{tensor, Tape};
//! use tapegrad_nn::loss::{softmax_cross_entropy_with_labels, Reduce};
//!
//! let tape = Tape::<f64>::new();
//! let logits = tape.var(tensor(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]));
//! let loss = softmax_cross_entropy_with_labels(logits, &[0, 1], Reduce::Mean);
//! let grads = tape.backward(loss);
//! assert!(loss.item() > 0.0 && grads.get(logits).is_some());
//! ```

use tapegrad_autograd::{Real, Var};

use crate::targets::{one_hot, Targets};

pub use tapegrad_autograd::Reduce;

/// The clipping Keras applies to probabilities before a logarithm.
const PROB_EPS: f64 = 1e-7;

/// The number of samples in an output: all axes but the last (1 for a vector).
fn samples(shape: &[usize]) -> usize {
    match shape {
        [] | [_] => 1,
        [rest @ .., _] => rest.iter().product(),
    }
}

fn reduce<'t, T: Real>(total: Var<'t, T>, reduction: Reduce, count: usize) -> Var<'t, T> {
    match reduction {
        Reduce::Mean => total / T::from_usize_lossy(count.max(1)),
        Reduce::Sum => total,
    }
}

/// Mean squared error, `sum (p - t)^2`, divided by the number of elements for `Mean`.
#[track_caller]
pub fn mse<'t, T: Real>(pred: Var<'t, T>, target: Var<'t, T>, reduction: Reduce) -> Var<'t, T> {
    pred.mse(target, reduction)
}

/// Grokking's squared error `sum (pred - goal)^2`, summed over every element.
#[track_caller]
pub fn sum_squared_error<'t, T: Real>(pred: Var<'t, T>, target: Var<'t, T>) -> Var<'t, T> {
    pred.mse(target, Reduce::Sum)
}

/// The course's L1 loss: `sum |y - yhat|` (a sum, no mean).
#[track_caller]
pub fn l1_loss<'t, T: Real>(yhat: Var<'t, T>, y: Var<'t, T>) -> Var<'t, T> {
    (y - yhat).abs().sum()
}

/// The course's L2 loss: `sum (y - yhat)^2` (a sum, no mean).
#[track_caller]
pub fn l2_loss<'t, T: Real>(yhat: Var<'t, T>, y: Var<'t, T>) -> Var<'t, T> {
    (y - yhat).square().sum()
}

/// Categorical cross-entropy of probabilities `[m, C]` (after a softmax) against one-hot or
/// soft targets: `-sum t ln p`, divided by `m` for `Mean`.
#[track_caller]
pub fn categorical_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    let m = samples(&probs.shape());
    let log_p = probs.clamp(T::lit(PROB_EPS), T::lit(1.0 - PROB_EPS)).ln();
    reduce(-(targets * log_p).sum(), reduction, m)
}

/// Categorical cross-entropy of probabilities `[m, C]` against integer labels (Keras'
/// `sparse_categorical_crossentropy`, Deep Learning with Python ch.2).
///
/// # Panics
/// If the number of labels differs from `m` or a label is not below `C`.
#[track_caller]
pub fn sparse_categorical_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    labels: &[usize],
    reduction: Reduce,
) -> Var<'t, T> {
    let shape = probs.shape();
    let classes = shape.last().copied().unwrap_or(1);
    assert_eq!(
        samples(&shape),
        labels.len(),
        "sparse_categorical_cross_entropy: {} labels for outputs of shape {shape:?} ({} samples)",
        labels.len(),
        samples(&shape)
    );
    let oh = one_hot::<T>(labels, classes);
    let oh = if oh.shape() == shape.as_slice() {
        oh
    } else {
        tapegrad_autograd::tensor(&shape, oh.iter().copied().collect())
    };
    let t = probs.tape().constant(oh);
    categorical_cross_entropy(probs, t, reduction)
}

/// Softmax cross-entropy from logits `[m, C]` against one-hot or soft targets, fused and
/// stable for any finite logits: `-sum t log_softmax(z)`, divided by `m` for `Mean`.
#[track_caller]
pub fn softmax_cross_entropy<'t, T: Real>(
    logits: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    logits.softmax_cross_entropy(targets, reduction)
}

/// Softmax cross-entropy from logits `[m, C]` against integer labels (PyTorch's
/// `CrossEntropyLoss`).
#[track_caller]
pub fn softmax_cross_entropy_with_labels<'t, T: Real>(
    logits: Var<'t, T>,
    labels: &[usize],
    reduction: Reduce,
) -> Var<'t, T> {
    logits.softmax_cross_entropy_with_labels(labels, reduction)
}

/// Binary cross-entropy of probabilities (after a sigmoid), the course's cost
/// `-(1/m) sum (y ln a + (1 - y) ln(1 - a))`: divided by the number of elements for `Mean`.
#[track_caller]
pub fn binary_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    let n = probs.len();
    let p = probs.clamp(T::lit(PROB_EPS), T::lit(1.0 - PROB_EPS));
    let terms = targets * p.ln() + targets.rsub_scalar(T::one()) * p.rsub_scalar(T::one()).ln();
    reduce(-terms.sum(), reduction, n)
}

/// Binary cross-entropy from logits, fused and stable: divided by the number of elements for
/// `Mean`.
#[track_caller]
pub fn bce_with_logits<'t, T: Real>(
    logits: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    logits.bce_with_logits(targets, reduction)
}

/// A loss for [`Model::compile`](crate::model::Model::compile): the model's output and the
/// batch's targets to a scalar.
///
/// Closures `Fn(Var, &Targets) -> Var` are losses too. Losses are `Send`, like every part of
/// a model: `fit` runs on a thread of rayon's pool.
pub trait Loss<T: Real>: Send {
    /// The name shown in progress lines (the history always calls it `loss`).
    fn name(&self) -> &str {
        "loss"
    }

    /// The loss of a batch: a one-element variable.
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T>;
}

impl<T: Real, F> Loss<T> for F
where
    F: for<'t> Fn(Var<'t, T>, &Targets<T>) -> Var<'t, T> + Send,
{
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        self(outputs, targets)
    }
}

/// Makes a closure into a [`Loss`], fixing its signature so that the closure's lifetimes are
/// inferred (a closure passed straight to `compile` would not be).
///
/// ```
/// use tapegrad_nn::loss::{loss_fn, mse, Reduce};
/// use tapegrad_nn::targets::Targets;
/// # use tapegrad_nn::layer::Sequential;
/// # use tapegrad_nn::model::Model;
/// # use tapegrad_nn::optim::Sgd;
/// let half_mse = loss_fn(|out, targets: &Targets<f32>| {
///     let Targets::Dense(t) = targets else { panic!("dense targets only") };
///     mse(out, out.tape().constant(t.clone()), Reduce::Mean) * 0.5
/// });
/// # let mut model = Model::new(Sequential::<f32>::new());
/// model.compile(half_mse, Sgd::new(0.1), vec![]);
/// ```
pub fn loss_fn<T: Real, F>(f: F) -> F
where
    F: for<'t> Fn(Var<'t, T>, &Targets<T>) -> Var<'t, T> + Send,
{
    f
}

#[track_caller]
fn dense<'t, T: Real>(name: &str, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
    match targets {
        Targets::Dense(t) => outputs.tape().constant(t.clone()),
        Targets::Labels(_) => panic!(
            "{name}: needs dense targets shaped like the outputs {:?}, got integer labels; \
             use CategoricalCrossentropy for class labels, or pass one-hot rows",
            outputs.shape()
        ),
    }
}

/// Mean squared error (Keras' `"mse"`): mean over every element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeanSquaredError;

impl<T: Real> Loss<T> for MeanSquaredError {
    fn name(&self) -> &str {
        "mse"
    }
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        mse(
            outputs,
            dense("MeanSquaredError", outputs, targets),
            Reduce::Mean,
        )
    }
}

/// Squared error summed over every element (Grokking's `error`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SumSquaredError;

impl<T: Real> Loss<T> for SumSquaredError {
    fn name(&self) -> &str {
        "sse"
    }
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        sum_squared_error(outputs, dense("SumSquaredError", outputs, targets))
    }
}

/// Categorical cross-entropy against one-hot rows or integer labels (Keras'
/// `categorical_crossentropy` and `sparse_categorical_crossentropy` in one).
///
/// By default the outputs are probabilities (the model ends in a softmax, as in Deep Learning
/// with Python ch.2); [`from_logits`](CategoricalCrossentropy::from_logits) takes raw scores
/// and uses the fused, stable softmax cross-entropy.
///
/// ```
/// use tapegrad_nn::loss::{CategoricalCrossentropy, Reduce};
/// let keras = CategoricalCrossentropy::new();
/// let logits = CategoricalCrossentropy::from_logits();
/// let summed = CategoricalCrossentropy::from_logits().reduction(Reduce::Sum);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CategoricalCrossentropy {
    from_logits: bool,
    reduction: Reduce,
}

impl Default for CategoricalCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}

impl CategoricalCrossentropy {
    /// On probabilities, mean over the batch.
    pub fn new() -> Self {
        CategoricalCrossentropy {
            from_logits: false,
            reduction: Reduce::Mean,
        }
    }

    /// On logits, mean over the batch.
    pub fn from_logits() -> Self {
        CategoricalCrossentropy {
            from_logits: true,
            reduction: Reduce::Mean,
        }
    }

    /// The batch reduction.
    pub fn reduction(mut self, reduction: Reduce) -> Self {
        self.reduction = reduction;
        self
    }
}

impl<T: Real> Loss<T> for CategoricalCrossentropy {
    fn name(&self) -> &str {
        "categorical_crossentropy"
    }
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        let tape = outputs.tape();
        match (targets, self.from_logits) {
            (Targets::Labels(l), true) => {
                softmax_cross_entropy_with_labels(outputs, l, self.reduction)
            }
            (Targets::Labels(l), false) => {
                sparse_categorical_cross_entropy(outputs, l, self.reduction)
            }
            (Targets::Dense(t), true) => {
                softmax_cross_entropy(outputs, tape.constant(t.clone()), self.reduction)
            }
            (Targets::Dense(t), false) => {
                categorical_cross_entropy(outputs, tape.constant(t.clone()), self.reduction)
            }
        }
    }
}

/// Binary cross-entropy against 0/1 targets shaped like the outputs.
///
/// By default on probabilities (the model ends in a sigmoid);
/// [`from_logits`](BinaryCrossentropy::from_logits) uses the fused, stable form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinaryCrossentropy {
    from_logits: bool,
    reduction: Reduce,
}

impl Default for BinaryCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}

impl BinaryCrossentropy {
    /// On probabilities, mean over elements.
    pub fn new() -> Self {
        BinaryCrossentropy {
            from_logits: false,
            reduction: Reduce::Mean,
        }
    }

    /// On logits, mean over elements.
    pub fn from_logits() -> Self {
        BinaryCrossentropy {
            from_logits: true,
            reduction: Reduce::Mean,
        }
    }

    /// The reduction.
    pub fn reduction(mut self, reduction: Reduce) -> Self {
        self.reduction = reduction;
        self
    }
}

impl<T: Real> Loss<T> for BinaryCrossentropy {
    fn name(&self) -> &str {
        "binary_crossentropy"
    }
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        let t = dense("BinaryCrossentropy", outputs, targets);
        if self.from_logits {
            bce_with_logits(outputs, t, self.reduction)
        } else {
            binary_cross_entropy(outputs, t, self.reduction)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapegrad_autograd::{tensor, Tape};

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn squared_errors_and_course_norms() {
        let tape = Tape::<f64>::new();
        let p = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let t = tape.constant(tensor(&[2, 2], vec![1.5, 2.0, 2.0, 6.0]));
        // squared errors 0.25, 0, 1, 4
        close(sum_squared_error(p, t).item(), 5.25);
        close(mse(p, t, Reduce::Mean).item(), 5.25 / 4.0);
        close(l2_loss(p, t).item(), 5.25);
        // the course: yhat = [.9, .2, .1, .4, .9], y = [1, 0, 0, 1, 1] -> L1 1.1, L2 0.43
        let yhat = tape.constant(tensor(&[5], vec![0.9, 0.2, 0.1, 0.4, 0.9]));
        let y = tape.constant(tensor(&[5], vec![1.0, 0.0, 0.0, 1.0, 1.0]));
        assert!((l1_loss(yhat, y).item() - 1.1).abs() < 1e-12);
        assert!((l2_loss(yhat, y).item() - 0.43).abs() < 1e-12);
    }

    #[test]
    fn cross_entropies_agree_across_forms() {
        let tape = Tape::<f64>::new();
        let z = tape.var(tensor(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]));
        let labels = [0usize, 1];
        let onehot = tape.constant(one_hot(&labels, 3));
        let p = z.softmax(-1);
        let from_logits = softmax_cross_entropy_with_labels(z, &labels, Reduce::Mean).item();
        close(
            softmax_cross_entropy(z, onehot, Reduce::Mean).item(),
            from_logits,
        );
        close(
            categorical_cross_entropy(p, onehot, Reduce::Mean).item(),
            from_logits,
        );
        close(
            sparse_categorical_cross_entropy(p, &labels, Reduce::Sum).item(),
            2.0 * from_logits,
        );
        // by hand: -ln softmax(z)[label], averaged
        let pv = p.value();
        close(from_logits, -(pv[[0, 0]].ln() + pv[[1, 1]].ln()) / 2.0);
    }

    #[test]
    fn binary_cross_entropies_agree() {
        let tape = Tape::<f64>::new();
        let z = tape.var(tensor(&[3, 1], vec![0.3, -1.2, 2.0]));
        let t = tape.constant(tensor(&[3, 1], vec![1.0, 0.0, 1.0]));
        let a = binary_cross_entropy(z.sigmoid(), t, Reduce::Mean).item();
        let b = bce_with_logits(z, t, Reduce::Mean).item();
        assert!((a - b).abs() < 1e-9, "{a} {b}");
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let by_hand = -((s(0.3)).ln() + (1.0 - s(-1.2)).ln() + s(2.0).ln()) / 3.0;
        assert!((b - by_hand).abs() < 1e-12);
    }

    #[test]
    fn loss_objects_take_labels_and_one_hot() {
        let tape = Tape::<f64>::new();
        let z = tape.var(tensor(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]));
        let labels: Targets<f64> = vec![2usize, 1].into();
        let dense = Targets::Dense(labels.to_one_hot(3));
        let l = CategoricalCrossentropy::from_logits();
        close(l.loss(z, &labels).item(), l.loss(z, &dense).item());
        let l = CategoricalCrossentropy::new();
        let p = z.softmax(-1);
        close(l.loss(p, &labels).item(), l.loss(p, &dense).item());
        let custom = loss_fn(|out: Var<'_, f64>, _t: &Targets<f64>| out.sum());
        close(Loss::loss(&custom, z, &labels).item(), 6.4);
    }

    #[test]
    #[should_panic(expected = "needs dense targets")]
    fn mse_rejects_labels() {
        let tape = Tape::<f64>::new();
        let z = tape.var(tensor(&[2, 1], vec![1.0, 2.0]));
        MeanSquaredError.loss(z, &Targets::Labels(vec![0, 1]));
    }
}
