//! [`Loss`] objects for [`Model::compile`](crate::model::Model::compile), each checking that
//! the batch's targets fit the outputs before it computes anything.

use tapegrad_autograd::{Real, Tensor, Var};

use super::{
    bce_with_logits, binary_cross_entropy, categorical_cross_entropy, mse, softmax_cross_entropy,
    softmax_cross_entropy_with_labels, sparse_categorical_cross_entropy, sum_squared_error, Reduce,
};
use crate::error::TargetsError;
use crate::targets::Targets;

/// A loss for [`Model::compile`](crate::model::Model::compile): the model's output and the
/// batch's targets to a scalar.
///
/// Closures `Fn(Var, &Targets) -> Var` are losses too. Losses are `Send`, like every part of
/// a model: `fit` runs on a thread of rayon's pool.
///
/// The built-in losses implement [`check`](Loss::check), which [`Model::fit`] and
/// [`Model::evaluate`] run on the whole data set before the first step, so that targets that do
/// not fit come back as an error instead of a panic mid-training. Their
/// [`loss`](Loss::loss) panics on such targets with the same message; [`try_loss`](Loss::try_loss)
/// returns it.
///
/// [`Model::fit`]: crate::model::Model::fit
/// [`Model::evaluate`]: crate::model::Model::evaluate
pub trait Loss<T: Real>: Send {
    /// The name shown in progress lines (the history always calls it `loss`).
    fn name(&self) -> &str {
        "loss"
    }

    /// The loss of a batch: a one-element variable.
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T>;

    /// Whether `targets` fit outputs of shape `outputs` (`[N, ...]`, the targets holding `N`
    /// rows), checked without computing anything. The default accepts everything: a closure
    /// cannot say, and its own ops check their shapes when it runs.
    fn check(&self, _outputs: &[usize], _targets: &Targets<T>) -> Result<(), TargetsError> {
        Ok(())
    }

    /// [`check`](Loss::check), then [`loss`](Loss::loss).
    fn try_loss<'t>(
        &self,
        outputs: Var<'t, T>,
        targets: &Targets<T>,
    ) -> Result<Var<'t, T>, TargetsError> {
        self.check(&outputs.shape(), targets)?;
        Ok(self.loss(outputs, targets))
    }
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
/// [`Targets::dense_for`] gives the targets checked against the outputs' shape, by the rules
/// the built-in losses follow:
///
/// ```
/// use tapegrad_nn::loss::{loss_fn, mse, Reduce};
/// use tapegrad_nn::targets::Targets;
/// # use tapegrad_nn::layer::Sequential;
/// # use tapegrad_nn::model::Model;
/// # use tapegrad_nn::optim::Sgd;
/// let half_mse = loss_fn(|out, targets: &Targets<f32>| {
///     let t = targets.dense_for("half_mse", &out.shape()).unwrap_or_else(|e| panic!("{e}"));
///     mse(out, out.tape().constant(t), Reduce::Mean) * 0.5
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

/// A checked loss: the panic of [`Loss::loss`] for targets that do not fit.
#[track_caller]
fn or_panic<V>(r: Result<V, TargetsError>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Mean squared error (Keras' `"mse"`): mean over every element.
///
/// The targets have the outputs' shape, or are `[N]` for `[N, 1]` outputs (read as that
/// column, as Keras does for a single regression output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeanSquaredError;

impl<T: Real> Loss<T> for MeanSquaredError {
    fn name(&self) -> &str {
        "mse"
    }
    fn check(&self, outputs: &[usize], targets: &Targets<T>) -> Result<(), TargetsError> {
        targets.dense_for("MeanSquaredError", outputs).map(|_| ())
    }
    fn try_loss<'t>(
        &self,
        outputs: Var<'t, T>,
        targets: &Targets<T>,
    ) -> Result<Var<'t, T>, TargetsError> {
        let t = targets.dense_for("MeanSquaredError", &outputs.shape())?;
        Ok(mse(outputs, outputs.tape().constant(t), Reduce::Mean))
    }
    #[track_caller]
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        or_panic(self.try_loss(outputs, targets))
    }
}

/// Squared error summed over every element (Grokking's `error`); targets as for
/// [`MeanSquaredError`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SumSquaredError;

impl<T: Real> Loss<T> for SumSquaredError {
    fn name(&self) -> &str {
        "sse"
    }
    fn check(&self, outputs: &[usize], targets: &Targets<T>) -> Result<(), TargetsError> {
        targets.dense_for("SumSquaredError", outputs).map(|_| ())
    }
    fn try_loss<'t>(
        &self,
        outputs: Var<'t, T>,
        targets: &Targets<T>,
    ) -> Result<Var<'t, T>, TargetsError> {
        let t = targets.dense_for("SumSquaredError", &outputs.shape())?;
        Ok(sum_squared_error(outputs, outputs.tape().constant(t)))
    }
    #[track_caller]
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        or_panic(self.try_loss(outputs, targets))
    }
}

/// Categorical cross-entropy against one-hot rows or integer labels (Keras'
/// `categorical_crossentropy` and `sparse_categorical_crossentropy` in one).
///
/// By default the outputs are probabilities (the model ends in a softmax, as in Deep Learning
/// with Python ch.2); [`from_logits`](CategoricalCrossentropy::from_logits) takes raw scores
/// and uses the fused, stable softmax cross-entropy.
///
/// The outputs are `[N, C]` with at least two classes; the targets are `N` labels below `C` or
/// rows of shape `[N, C]` (see [`Targets::check_classes`]).
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
    fn check(&self, outputs: &[usize], targets: &Targets<T>) -> Result<(), TargetsError> {
        targets
            .check_classes("CategoricalCrossentropy", outputs)
            .map(|_| ())
    }
    fn try_loss<'t>(
        &self,
        outputs: Var<'t, T>,
        targets: &Targets<T>,
    ) -> Result<Var<'t, T>, TargetsError> {
        Loss::<T>::check(self, &outputs.shape(), targets)?;
        let tape = outputs.tape();
        Ok(match (targets, self.from_logits) {
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
        })
    }
    #[track_caller]
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        or_panic(self.try_loss(outputs, targets))
    }
}

/// Binary cross-entropy against targets in `[0, 1]` shaped like the outputs, or `[N]` for
/// `[N, 1]` outputs (one sigmoid column; the targets are read as that column, as Keras does).
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

    /// The targets for outputs of shape `outputs`, checked: shaped like them (or a column)
    /// and every value in `[0, 1]`.
    fn targets<T: Real>(
        outputs: &[usize],
        targets: &Targets<T>,
    ) -> Result<Tensor<T>, TargetsError> {
        const BY: &str = "BinaryCrossentropy";
        let t = targets.dense_for(BY, outputs)?;
        let outside = t.iter().position(|&v| !(v >= T::zero() && v <= T::one()));
        match outside {
            None => Ok(t),
            Some(i) => Err(TargetsError {
                by: BY.to_string(),
                outputs: outputs.to_vec(),
                targets: targets.shape(),
                expected: format!(
                    "expected targets between 0 and 1 (probabilities of class 1), but element \
                     {i} is {:?}; for class labels 0..C with C > 2 use CategoricalCrossentropy",
                    t.iter().nth(i).and_then(|v| v.to_f64()).unwrap_or(f64::NAN)
                ),
            }),
        }
    }
}

impl<T: Real> Loss<T> for BinaryCrossentropy {
    fn name(&self) -> &str {
        "binary_crossentropy"
    }
    fn check(&self, outputs: &[usize], targets: &Targets<T>) -> Result<(), TargetsError> {
        Self::targets(outputs, targets).map(|_| ())
    }
    fn try_loss<'t>(
        &self,
        outputs: Var<'t, T>,
        targets: &Targets<T>,
    ) -> Result<Var<'t, T>, TargetsError> {
        let t = outputs
            .tape()
            .constant(Self::targets(&outputs.shape(), targets)?);
        Ok(if self.from_logits {
            bce_with_logits(outputs, t, self.reduction)
        } else {
            binary_cross_entropy(outputs, t, self.reduction)
        })
    }
    #[track_caller]
    fn loss<'t>(&self, outputs: Var<'t, T>, targets: &Targets<T>) -> Var<'t, T> {
        or_panic(self.try_loss(outputs, targets))
    }
}
