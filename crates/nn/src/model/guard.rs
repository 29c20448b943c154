//! Where `fit`, `evaluate` and `predict` meet the user's code and data: the data is checked
//! before anything runs, and the work runs on rayon's pool with its panics caught, so that both
//! come back to the caller as errors.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use tapegrad_autograd::{Real, Tape, Tensor, Var};

use super::{rows, samples, Compiled, Model};
use crate::checkpoint::Checkpoint;
use crate::error::DataError;
use crate::targets::Targets;
use crate::Module;

/// Runs `work` on a thread of rayon's pool (at once if this is one); a panic in `work` comes
/// back as its message instead of unwinding into the caller.
///
/// Called from any other thread, every op that splits its work would hand it to the pool and
/// sleep until it is done, once per op; on a pool thread the op takes its own share and wakes
/// only the other threads: the Keras ch.2 network's epochs measured 8 % faster so.
/// (`train_on_batch` stays on the caller's thread: with small batches no op splits, and the
/// hand-off would be paid per call.)
pub(super) fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R, String> {
    rayon::scope(|_| catch(work))
}

/// Runs `work`, turning a panic into its message. Whatever `work` was changing may be left
/// half done; every caller says what it puts back.
fn catch<R>(work: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| panic_message(&*payload))
}

/// The text a panic was raised with.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic whose payload is not text".to_string()
    }
}

/// The module's outputs for `x` on `tape`, or an error naming the input's shape `shape` (of
/// the whole data set) if the module cannot take it: layers panic on inputs of the wrong
/// shape, naming themselves and what they expect.
pub(super) fn forward_checked<'t, T: Real, M: Module<T>>(
    module: &M,
    call: &'static str,
    tape: &'t Tape<T>,
    x: Tensor<T>,
    shape: &[usize],
) -> Result<Var<'t, T>, DataError> {
    catch(|| module.forward(tape.constant(x))).map_err(|message| DataError::Input {
        call,
        shape: shape.to_vec(),
        message,
    })
}

/// Runs the loss's and the metrics' checks on targets `y` of `n` samples, given the shape of
/// the outputs of the first rows (the other rows give outputs of the same shape).
pub(super) fn check_targets<T: Real>(
    compiled: &Compiled<T>,
    call: &'static str,
    first: &[usize],
    n: usize,
    y: &Targets<T>,
) -> Result<(), DataError> {
    let mut outputs = first.to_vec();
    if let Some(rows) = outputs.first_mut() {
        *rows = n;
    }
    let targets = |source| DataError::Targets { call, source };
    compiled.loss.check(&outputs, y).map_err(targets)?;
    for m in &compiled.metrics {
        m.check(&outputs, y).map_err(targets)?;
    }
    Ok(())
}

impl<T: Real, M: Module<T>> Model<T, M> {
    /// Checks, before training, that the module takes `x` and that the loss and metrics can
    /// compare its outputs with `y`: one forward pass over the first `batch_size` rows, in
    /// evaluation mode (no random numbers are drawn, so training draws what it would have).
    pub(super) fn check_data(
        &mut self,
        call: &'static str,
        x: &Tensor<T>,
        y: &Targets<T>,
        batch_size: usize,
    ) -> Result<(), DataError> {
        let n = samples(x);
        if n == 0 {
            return Ok(());
        }
        self.module.set_training(false);
        let tape = Tape::inference();
        let out = forward_checked(
            &self.module,
            call,
            &tape,
            rows(x, 0, batch_size.min(n)),
            x.shape(),
        );
        self.module.set_training(true);
        let compiled = self.compiled.as_ref().expect("callers check compile");
        check_targets(compiled, call, &out?.shape(), n, y)
    }

    /// Puts back a state captured from this model, after a panic left it half updated.
    pub(super) fn roll_back(&mut self, snapshot: Checkpoint<T>) {
        self.restore(Path::new("the state before the failed epoch"), snapshot)
            .expect("a state captured from this model fits it");
        self.module.set_training(true);
    }
}
