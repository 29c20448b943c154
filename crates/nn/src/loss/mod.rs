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
//! | [`l2_penalty`] | `lambda / 2 sum w^2` over parameters, added to a loss | the course's L2 regularisation |
//!
//! Every loss checks its shapes: the prediction and the target must have the same shape
//! (nothing is broadcast, so a `[N, 1]` prediction is never compared with every element of a
//! `[N]` target), and the categorical losses need at least two classes. A mismatch panics
//! with a message naming the loss, both shapes and what was expected; the `try_` forms
//! ([`try_binary_cross_entropy`], ...) return it as an [`OpError`] instead.
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

use tapegrad_autograd::{OpError, Real, Var};

use crate::labels::Labels;
use crate::targets::one_hot;

mod objects;
mod penalty;

pub use objects::{
    loss_fn, BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanSquaredError, SumSquaredError,
};
pub use penalty::l2_penalty;
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

/// Unwraps a loss, panicking with its message at the caller's line.
#[track_caller]
fn or_panic<V>(r: Result<V, OpError>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Refuses a prediction and a target of different shapes.
fn same_shape(op: &str, pred: &[usize], target: &[usize]) -> Result<(), OpError> {
    if pred == target {
        return Ok(());
    }
    Err(OpError::new(
        op,
        &[pred, target],
        "the prediction and the target must have the same shape; they are not broadcast (a \
         [N, 1] prediction against a [N] target would compare every pair): reshape one of them",
    ))
}

/// The number of classes of an output whose last axis holds them; refuses fewer than two.
fn classes(op: &str, shapes: &[&[usize]]) -> Result<usize, OpError> {
    match shapes[0].last() {
        Some(&c) if c >= 2 => Ok(c),
        _ => Err(OpError::new(
            op,
            shapes,
            "expected at least 2 classes on the last axis ([N, C] with C >= 2): a distribution \
             over one class is always 1, so the loss would say nothing about the data; for two \
             classes with one sigmoid output use binary_cross_entropy",
        )),
    }
}

/// Mean squared error, `sum (p - t)^2`, divided by the number of elements for `Mean`.
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn mse<'t, T: Real>(pred: Var<'t, T>, target: Var<'t, T>, reduction: Reduce) -> Var<'t, T> {
    pred.mse(target, reduction)
}

/// Grokking's squared error `sum (pred - goal)^2`, summed over every element.
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn sum_squared_error<'t, T: Real>(pred: Var<'t, T>, target: Var<'t, T>) -> Var<'t, T> {
    pred.mse(target, Reduce::Sum)
}

/// The course's L1 loss: `sum |y - yhat|` (a sum, no mean).
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn l1_loss<'t, T: Real>(yhat: Var<'t, T>, y: Var<'t, T>) -> Var<'t, T> {
    or_panic(same_shape("l1_loss", &yhat.shape(), &y.shape()));
    (y - yhat).abs().sum()
}

/// The course's L2 loss: `sum (y - yhat)^2` (a sum, no mean).
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn l2_loss<'t, T: Real>(yhat: Var<'t, T>, y: Var<'t, T>) -> Var<'t, T> {
    or_panic(same_shape("l2_loss", &yhat.shape(), &y.shape()));
    (y - yhat).square().sum()
}

/// Categorical cross-entropy of probabilities `[m, C]` (after a softmax) against one-hot or
/// soft targets: `-sum t ln p`, divided by `m` for `Mean`.
///
/// # Panics
/// If the shapes differ or there are fewer than two classes; see
/// [`try_categorical_cross_entropy`].
#[track_caller]
pub fn categorical_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    or_panic(try_categorical_cross_entropy(probs, targets, reduction))
}

/// [`categorical_cross_entropy`], or an error for targets of another shape or fewer than two
/// classes.
#[track_caller]
pub fn try_categorical_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Result<Var<'t, T>, OpError> {
    const OP: &str = "categorical_cross_entropy";
    let (p, t) = (probs.shape(), targets.shape());
    classes(OP, &[&p, &t])?;
    same_shape(OP, &p, &t)?;
    let m = samples(&p);
    let log_p = probs.clamp(T::lit(PROB_EPS), T::lit(1.0 - PROB_EPS)).ln();
    Ok(reduce(-(targets * log_p).sum(), reduction, m))
}

/// Categorical cross-entropy of probabilities `[m, C]` against integer labels (Keras'
/// `sparse_categorical_crossentropy`, Deep Learning with Python ch.2).
///
/// # Panics
/// If the number of labels differs from `m`, a label is not below `C`, or `C` < 2; see
/// [`try_sparse_categorical_cross_entropy`].
#[track_caller]
pub fn sparse_categorical_cross_entropy<'t, T: Real, L: Labels + ?Sized>(
    probs: Var<'t, T>,
    labels: &L,
    reduction: Reduce,
) -> Var<'t, T> {
    or_panic(try_sparse_categorical_cross_entropy(
        probs, labels, reduction,
    ))
}

/// [`sparse_categorical_cross_entropy`], or an error for a label count other than `m`, a
/// label not below `C`, or fewer than two classes.
#[track_caller]
pub fn try_sparse_categorical_cross_entropy<'t, T: Real, L: Labels + ?Sized>(
    probs: Var<'t, T>,
    labels: &L,
    reduction: Reduce,
) -> Result<Var<'t, T>, OpError> {
    const OP: &str = "sparse_categorical_cross_entropy";
    let shape = probs.shape();
    let labels = &label_indices(OP, &shape, labels)?;
    let c = classes(OP, &[&shape])?;
    let m = samples(&shape);
    if labels.len() != m {
        return Err(OpError::new(
            OP,
            &[&shape],
            format!(
                "got {} labels for {m} samples; give one label per sample",
                labels.len()
            ),
        ));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
        return Err(OpError::new(
            OP,
            &[&shape],
            format!("label {l} (sample {i}) is not a class index: labels must be in 0..{c}"),
        ));
    }
    let oh = one_hot::<T>(labels, c);
    let oh = if oh.shape() == shape.as_slice() {
        oh
    } else {
        tapegrad_autograd::tensor(&shape, oh.iter().copied().collect())
    };
    try_categorical_cross_entropy(probs, probs.tape().constant(oh), reduction)
}

/// Softmax cross-entropy from logits `[m, C]` against one-hot or soft targets, fused and
/// stable for any finite logits: `-sum t log_softmax(z)`, divided by `m` for `Mean`.
///
/// # Panics
/// If the shapes differ or there are fewer than two classes; see
/// [`try_softmax_cross_entropy`].
#[track_caller]
pub fn softmax_cross_entropy<'t, T: Real>(
    logits: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    or_panic(try_softmax_cross_entropy(logits, targets, reduction))
}

/// [`softmax_cross_entropy`], or an error for targets of another shape, logits that are not
/// `[m, C]` / `[C]`, or fewer than two classes.
#[track_caller]
pub fn try_softmax_cross_entropy<'t, T: Real>(
    logits: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Result<Var<'t, T>, OpError> {
    classes(
        "softmax_cross_entropy",
        &[&logits.shape(), &targets.shape()],
    )?;
    logits.try_softmax_cross_entropy(targets, reduction)
}

/// Softmax cross-entropy from logits `[m, C]` against integer labels (PyTorch's
/// `CrossEntropyLoss`).
///
/// # Panics
/// If the logits are not `[m, C]` / `[C]` with `C >= 2`, there are not `m` labels, or a label
/// is not below `C`; see [`try_softmax_cross_entropy_with_labels`].
#[track_caller]
pub fn softmax_cross_entropy_with_labels<'t, T: Real, L: Labels + ?Sized>(
    logits: Var<'t, T>,
    labels: &L,
    reduction: Reduce,
) -> Var<'t, T> {
    or_panic(try_softmax_cross_entropy_with_labels(
        logits, labels, reduction,
    ))
}

/// [`softmax_cross_entropy_with_labels`], or an error instead of the panic.
#[track_caller]
pub fn try_softmax_cross_entropy_with_labels<'t, T: Real, L: Labels + ?Sized>(
    logits: Var<'t, T>,
    labels: &L,
    reduction: Reduce,
) -> Result<Var<'t, T>, OpError> {
    const OP: &str = "softmax_cross_entropy_with_labels";
    let labels = label_indices(OP, &logits.shape(), labels)?;
    classes(OP, &[&logits.shape()])?;
    logits.try_softmax_cross_entropy_with_labels(&labels, reduction)
}

/// Labels of any integer type as class indices, or the loss's error for a negative one.
fn label_indices<L: Labels + ?Sized>(
    op: &str,
    shape: &[usize],
    labels: &L,
) -> Result<Vec<usize>, OpError> {
    labels
        .to_indices()
        .map_err(|e| OpError::new(op, &[shape], e.to_string()))
}

/// Binary cross-entropy of probabilities (after a sigmoid), the course's cost
/// `-(1/m) sum (y ln a + (1 - y) ln(1 - a))`: divided by the number of elements for `Mean`.
///
/// # Panics
/// If the shapes differ; see [`try_binary_cross_entropy`].
#[track_caller]
pub fn binary_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    or_panic(try_binary_cross_entropy(probs, targets, reduction))
}

/// [`binary_cross_entropy`], or an error for targets of another shape.
#[track_caller]
pub fn try_binary_cross_entropy<'t, T: Real>(
    probs: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Result<Var<'t, T>, OpError> {
    same_shape("binary_cross_entropy", &probs.shape(), &targets.shape())?;
    let n = probs.len();
    let p = probs.clamp(T::lit(PROB_EPS), T::lit(1.0 - PROB_EPS));
    let terms = targets * p.ln() + targets.rsub_scalar(T::one()) * p.rsub_scalar(T::one()).ln();
    Ok(reduce(-terms.sum(), reduction, n))
}

/// Binary cross-entropy from logits, fused and stable: divided by the number of elements for
/// `Mean`.
///
/// # Panics
/// If the shapes differ (see `Var::try_bce_with_logits` for the `Result` form).
#[track_caller]
pub fn bce_with_logits<'t, T: Real>(
    logits: Var<'t, T>,
    targets: Var<'t, T>,
    reduction: Reduce,
) -> Var<'t, T> {
    logits.bce_with_logits(targets, reduction)
}

#[cfg(test)]
mod tests;
