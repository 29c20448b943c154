//! [`Model::fit`]: the epochs, the batches, the callbacks.

use ndarray::Axis;
use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{Real, Tape, Tensor};

use super::guard;
use super::options::{FitOptions, Validation};
use super::{rows, Model};
use crate::callback::{Callback, CallbackContext, Logs};
use crate::checkpoint::Checkpoint;
use crate::error::FitError;
use crate::history::History;
use crate::progress::{EpochProgress, Verbosity};
use crate::targets::Targets;
use crate::Module;

/// The order of the samples in epoch `epoch`: a permutation that depends only on the seed and
/// the epoch, so a resumed run shuffles exactly as an unbroken one.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// The mean of values summed with weights that add up to `count`.
pub(super) fn weighted(sum: f64, count: usize) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// The training data of a `fit`, split from its validation data.
struct Split<T: Real> {
    x: Tensor<T>,
    y: Targets<T>,
    val: Option<(Tensor<T>, Targets<T>)>,
}

/// How the epochs run: the parts of [`FitOptions`] besides the data and the callbacks.
#[derive(Clone, Copy)]
struct Plan {
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    verbosity: Verbosity,
}

impl<T: Real, M: Module<T>> Model<T, M> {
    /// Trains on `x` (`[N, ...]`, one row per sample) and `y` (labels or dense rows) for
    /// `options.epochs` more epochs (or, with
    /// [`initial_epoch`](FitOptions::initial_epoch), up to epoch `options.epochs` in total),
    /// and returns the history of the epochs run. Epochs are numbered across calls:
    /// [`epoch`](Model::epoch), [`history`](Model::history) and checkpoints count every
    /// epoch the model has trained.
    ///
    /// Each step runs on a fresh tape that is dropped before the optimizer updates the
    /// parameters, so they update in place. The loss shown and recorded for an epoch is the
    /// mean of its batch losses weighted by batch size. The epochs run on a thread of rayon's
    /// pool (the caller waits), which is why every part of a model is `Send`.
    ///
    /// Before the first step, `fit` runs the model once in evaluation mode on the first batch
    /// (and on the first batch of the validation data) and checks the outputs' shape against
    /// every target with the loss's and the metrics' [`check`](crate::loss::Loss::check).
    ///
    /// # Errors
    /// * [`FitError::Data`]: `x` and `y` (or the validation data) have different numbers of
    ///   rows, the model cannot take `x`, or the loss or a metric cannot compare the outputs
    ///   with `y`. Nothing was trained; the model is unchanged.
    /// * [`FitError::Panicked`]: something panicked during training (a layer, the loss, a
    ///   metric, a callback). The panic's message is in the error, and the model was put back
    ///   as it was when the failing epoch began: weights, optimizer state, random streams,
    ///   [`epoch`](Model::epoch) and [`history`](Model::history) (files written by callbacks
    ///   stay). Calling `fit` again carries on from there.
    /// * Errors of callbacks (a checkpoint that cannot be written) are returned as they are;
    ///   the model keeps the epochs trained before the error.
    ///
    /// # Panics
    /// If the model is not compiled, the batch size is 0, the validation split is not in
    /// `[0, 1)`, or `initial_epoch` differs from the epochs the model has done: mistakes in
    /// the program, not in the data.
    #[track_caller]
    pub fn fit(
        &mut self,
        x: &Tensor<T>,
        y: impl Into<Targets<T>>,
        options: FitOptions<T>,
    ) -> Result<History, FitError> {
        let y = y.into();
        self.compiled("fit");
        assert!(
            options.batch_size > 0,
            "Model::fit: batch_size must be at least 1"
        );
        let n = Self::check_lengths("fit", x, &y)?;
        let FitOptions {
            epochs,
            initial_epoch,
            batch_size,
            validation,
            shuffle,
            callbacks,
            verbosity,
        } = options;
        let epochs = match initial_epoch {
            None => self.epoch + epochs,
            Some(initial) => {
                assert!(
                    initial == self.epoch,
                    "Model::fit: initial_epoch is {initial} but the model has done {} epochs; \
                     load the checkpoint of epoch {initial} first, or leave initial_epoch unset \
                     to train `epochs` more",
                    self.epoch
                );
                epochs
            }
        };
        let data = Self::split(x, y, n, validation)?;
        let plan = Plan {
            epochs,
            batch_size,
            shuffle,
            verbosity,
        };
        let mut snapshot = None;
        let result = guard::on_pool(|| {
            self.check_data("fit", &data.x, &data.y, batch_size)?;
            if let Some((vx, vy)) = &data.val {
                self.check_data("fit (validation data)", vx, vy, batch_size)?;
            }
            self.train(&data, plan, callbacks, &mut snapshot)
        });
        result.unwrap_or_else(|message| {
            if let Some(snapshot) = snapshot {
                self.roll_back(snapshot);
            }
            Err(FitError::Panicked {
                call: "fit",
                epoch: Some(self.epoch),
                message,
            })
        })
    }

    /// The training data and the validation data of `fit`.
    #[track_caller]
    fn split(
        x: &Tensor<T>,
        y: Targets<T>,
        n: usize,
        validation: Validation<T>,
    ) -> Result<Split<T>, FitError> {
        Ok(match validation {
            Validation::None => Split {
                x: x.clone(),
                y,
                val: None,
            },
            Validation::Split(fraction) => {
                assert!(
                    (0.0..1.0).contains(&fraction),
                    "Model::fit: validation_split must be in [0, 1), got {fraction}"
                );
                let split = (n as f64 * (1.0 - fraction)).floor() as usize;
                let val = (split < n).then(|| (rows(x, split, n), y.slice(split, n)));
                Split {
                    x: rows(x, 0, split),
                    y: y.slice(0, split),
                    val,
                }
            }
            Validation::Data(vx, vy) => {
                Self::check_lengths("fit (validation data)", &vx, &vy)?;
                Split {
                    x: x.clone(),
                    y,
                    val: Some((vx, vy)),
                }
            }
        })
    }

    /// [`fit`](Model::fit)'s epochs, its data checked. `snapshot` holds the state the model
    /// had when the current epoch began, for `fit` to put back after a panic.
    fn train(
        &mut self,
        data: &Split<T>,
        plan: Plan,
        mut callbacks: Vec<Box<dyn Callback<T>>>,
        snapshot: &mut Option<Checkpoint<T>>,
    ) -> Result<History, FitError> {
        let Plan {
            epochs,
            batch_size,
            shuffle,
            verbosity,
        } = plan;
        let (train_x, train_y) = (&data.x, &data.y);
        let n_train = train_x.shape()[0];
        let steps = n_train.div_ceil(batch_size);
        let mut run_history = History::new();
        let logged = self.logged_names(data.val.is_some());

        if self.epoch >= epochs && verbosity != Verbosity::Silent {
            eprintln!(
                "fit: nothing to do, the model has already trained {} epochs and this call \
                 trains up to epoch {epochs}; ask for more epochs to continue",
                self.epoch
            );
        }
        *snapshot = Some(self.capture());
        self.with_callbacks(&mut callbacks, &logged, |cb, ctx| cb.on_train_begin(ctx))?;
        let mut stop = false;
        while self.epoch < epochs && !stop {
            let epoch = self.epoch;
            *snapshot = Some(self.capture());
            stop = self.with_callbacks(&mut callbacks, &logged, |cb, ctx| {
                cb.on_epoch_begin(epoch, ctx)
            })?;
            self.module.set_training(true);
            let order = shuffle.map(|seed| epoch_order(n_train, seed, epoch));
            let mut progress = EpochProgress::start(verbosity, epoch, epochs, steps);
            let compiled = self.compiled.as_mut().expect("checked above");
            for m in &mut compiled.metrics {
                m.reset();
            }
            let (mut loss_sum, mut seen) = (0.0f64, 0usize);
            for step in 0..steps {
                let start = step * batch_size;
                let end = (start + batch_size).min(n_train);
                let (xb, yb) = match &order {
                    Some(order) => {
                        let idx = &order[start..end];
                        (
                            train_x.select(Axis(0), idx).into_shared(),
                            train_y.select(idx),
                        )
                    }
                    None => (rows(train_x, start, end), train_y.slice(start, end)),
                };
                let (loss, grads) = {
                    let tape = Tape::new();
                    let out = self.module.forward(tape.constant(xb));
                    let loss = compiled.loss.loss(out, &yb);
                    let value = loss.item();
                    out.with_value(|o| {
                        for m in &mut compiled.metrics {
                            m.update(o, &yb);
                        }
                    });
                    (value, tape.backward(loss))
                };
                compiled
                    .optimizer
                    .step(&mut self.module.params_mut(), &grads);
                loss_sum += loss.to_f64().unwrap_or(f64::NAN) * (end - start) as f64;
                seen += end - start;
                progress.step(step + 1, || {
                    let mut logs = vec![("loss".to_string(), weighted(loss_sum, seen))];
                    logs.extend(
                        compiled
                            .metrics
                            .iter()
                            .map(|m| (m.name().to_string(), m.result())),
                    );
                    logs
                });
            }
            let mut logs = vec![("loss".to_string(), weighted(loss_sum, seen))];
            logs.extend(
                compiled
                    .metrics
                    .iter()
                    .map(|m| (m.name().to_string(), m.result())),
            );
            if let Some((vx, vy)) = &data.val {
                let val_logs = self.run_eval("fit (validation data)", vx, vy, batch_size)?;
                logs.extend(
                    val_logs
                        .values
                        .into_iter()
                        .map(|(k, v)| (format!("val_{k}"), v)),
                );
            }
            self.epoch += 1;
            self.history.record(&logs);
            run_history.record(&logs);
            progress.finish(&logs);
            let logs = Logs { values: logs };
            stop |= self.with_callbacks(&mut callbacks, &logged, |cb, ctx| {
                cb.on_epoch_end(epoch, &logs, ctx)
            })?;
        }
        *snapshot = Some(self.capture());
        self.with_callbacks(&mut callbacks, &logged, |cb, ctx| cb.on_train_end(ctx))?;
        self.module.set_training(true);
        Ok(run_history)
    }

    /// The names each epoch logs: the loss, the metrics, and with validation data the same
    /// prefixed `val_`.
    fn logged_names(&self, validation: bool) -> Vec<String> {
        let compiled = self.compiled.as_ref().expect("fit checks compile");
        let train: Vec<String> = std::iter::once("loss".to_string())
            .chain(compiled.metrics.iter().map(|m| m.name().to_string()))
            .collect();
        let val = train.iter().map(|n| format!("val_{n}"));
        let val: Vec<String> = if validation {
            val.collect()
        } else {
            Vec::new()
        };
        train.into_iter().chain(val).collect()
    }

    /// Runs `f` for each callback with a context; returns whether one asked to stop.
    fn with_callbacks(
        &mut self,
        callbacks: &mut [Box<dyn Callback<T>>],
        logged: &[String],
        mut f: impl FnMut(&mut dyn Callback<T>, &mut CallbackContext<'_, T>) -> Result<(), FitError>,
    ) -> Result<bool, FitError> {
        if callbacks.is_empty() {
            return Ok(false);
        }
        let compiled = self.compiled.as_mut().expect("fit checks compile");
        let mut ctx = CallbackContext {
            module: &mut self.module,
            optimizer: compiled.optimizer.as_mut(),
            history: &self.history,
            epochs_done: self.epoch,
            logged,
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            f(cb.as_mut(), &mut ctx)?;
        }
        Ok(ctx.stop)
    }
}
