//! Callbacks: code that [`Model::fit`](crate::model::Model::fit) runs around each epoch.
//!
//! * [`EarlyStopping`] stops when a monitored value stops improving, optionally restoring the
//!   best weights.
//! * [`ModelCheckpoint`] writes a checkpoint (weights, optimizer state, epoch, random states)
//!   after each epoch, atomically.
//! * [`LearningRateScheduler`] sets the learning rate from a [`Schedule`] at each epoch start.
//!
//! Write your own by implementing [`Callback`]; every hook has a default that does nothing.

use std::path::{Path, PathBuf};

use tapegrad_autograd::{Real, Tensor};

use crate::checkpoint::Checkpoint;
use crate::error::{CheckpointError, FitError};
use crate::history::History;
use crate::monitor::Monitor;
use crate::optim::Optimizer;
use crate::schedule::Schedule;
use crate::Module;

/// The values of one epoch: `loss`, metrics, and `val_`-prefixed validation values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    /// The values, in display order.
    pub values: Vec<(String, f64)>,
}

impl Logs {
    /// The value of this name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// What a callback can see and change during `fit`.
pub struct CallbackContext<'a, T: Real> {
    /// The model's module (weights can be read, copied, replaced).
    pub module: &'a mut dyn Module<T>,
    /// The optimizer (for example to change its learning rate).
    pub optimizer: &'a mut dyn Optimizer<T>,
    /// The history so far, including the epoch just finished in `on_epoch_end`.
    pub history: &'a History,
    /// Epochs completed so far (in `on_epoch_end`, including the one just finished).
    pub epochs_done: usize,
    pub(crate) logged: &'a [String],
    pub(crate) stop: bool,
}

impl<T: Real> CallbackContext<'_, T> {
    /// Asks `fit` to stop after this epoch.
    pub fn stop_training(&mut self) {
        self.stop = true;
    }

    /// The names every epoch of this `fit` logs: `loss`, the metrics' names, and the same with
    /// `val_` when there is validation data. Callbacks that monitor a value check it against
    /// these in [`on_train_begin`](Callback::on_train_begin).
    pub fn logged(&self) -> &[String] {
        self.logged
    }

    /// Whether some callback asked to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop
    }

    /// Writes a checkpoint of the current state to `path`, atomically.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        Checkpoint::capture(
            &*self.module,
            Some(&*self.optimizer),
            self.epochs_done,
            self.history,
        )
        .save(path)
    }
}

/// Hooks that [`Model::fit`](crate::model::Model::fit) calls. Epoch numbers are 0-based.
///
/// Callbacks are `Send`, as `fit` runs on a thread of rayon's pool: a callback that hands
/// values back to the caller holds an `Arc<Mutex<_>>`, not an `Rc<RefCell<_>>`.
pub trait Callback<T: Real>: Send {
    /// A name for error messages.
    fn name(&self) -> &str {
        "callback"
    }

    /// Before the first epoch of this `fit` call.
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_, T>) -> Result<(), FitError> {
        Ok(())
    }

    /// Before epoch `epoch`.
    fn on_epoch_begin(
        &mut self,
        _epoch: usize,
        _ctx: &mut CallbackContext<'_, T>,
    ) -> Result<(), FitError> {
        Ok(())
    }

    /// After epoch `epoch`, with its logs.
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        _ctx: &mut CallbackContext<'_, T>,
    ) -> Result<(), FitError> {
        Ok(())
    }

    /// After the last epoch (also after an early stop).
    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_, T>) -> Result<(), FitError> {
        Ok(())
    }
}

/// Whether smaller or larger values of a monitored quantity are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Smaller is better (losses).
    Min,
    /// Larger is better (accuracy).
    Max,
    /// `Max` for names containing `acc`, `Min` otherwise (Keras' `auto`).
    Auto,
}

impl Mode {
    fn resolve(self, monitor: &Monitor) -> Mode {
        match self {
            Mode::Auto if monitor.key().contains("acc") => Mode::Max,
            Mode::Auto => Mode::Min,
            m => m,
        }
    }

    /// Whether `value` improves on `best` by more than `min_delta`.
    fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Mode::Max => value > best + min_delta,
            _ => value < best - min_delta,
        }
    }

    fn worst(self) -> f64 {
        match self {
            Mode::Max => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        }
    }
}

/// Stops training when `monitor` has not improved for `patience` epochs (Keras'
/// `EarlyStopping`).
///
/// The monitored value is a [`Monitor`] or its name; `fit` refuses a name its epochs do not
/// log before the first epoch.
///
/// ```
/// use tapegrad_nn::callback::EarlyStopping;
/// use tapegrad_nn::monitor::Monitor;
/// let stop = EarlyStopping::<f32>::new(Monitor::ValLoss, 3).restore_best_weights(true);
/// let same = EarlyStopping::<f32>::new("val_loss", 3);
/// ```
pub struct EarlyStopping<T: Real> {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    mode: Mode,
    restore_best: bool,
    best: f64,
    best_epoch: Option<usize>,
    wait: usize,
    best_weights: Vec<Tensor<T>>,
    stopped_epoch: Option<usize>,
}

impl<T: Real> EarlyStopping<T> {
    /// Stops after `patience` epochs without improvement of `monitor` (mode [`Mode::Auto`]).
    pub fn new(monitor: impl Into<Monitor>, patience: usize) -> Self {
        EarlyStopping {
            monitor: monitor.into(),
            patience,
            min_delta: 0.0,
            mode: Mode::Auto,
            restore_best: false,
            best: f64::NAN,
            best_epoch: None,
            wait: 0,
            best_weights: Vec::new(),
            stopped_epoch: None,
        }
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta.abs();
        self
    }

    /// Whether smaller or larger is better.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// At the end of training, put back the weights of the best epoch.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best = restore;
        self
    }

    /// The epoch (0-based) at which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch (0-based) with the best value.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
}

impl<T: Real> Callback<T> for EarlyStopping<T> {
    fn name(&self) -> &str {
        "EarlyStopping"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_, T>) -> Result<(), FitError> {
        self.monitor
            .check("EarlyStopping", ctx.logged())
            .map_err(|message| FitError::Callback {
                callback: "EarlyStopping".to_string(),
                message,
            })?;
        self.best = self.mode.resolve(&self.monitor).worst();
        self.best_epoch = None;
        self.wait = 0;
        self.stopped_epoch = None;
        self.best_weights.clear();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut CallbackContext<'_, T>,
    ) -> Result<(), FitError> {
        let Some(value) = logs.get(&self.monitor.key()) else {
            return Err(FitError::Callback {
                callback: "EarlyStopping".to_string(),
                message: format!(
                    "it monitors '{}', which the logs do not have (they have {:?}); monitor \
                     val_... only with validation data",
                    self.monitor,
                    logs.values.iter().map(|(n, _)| n).collect::<Vec<_>>()
                ),
            });
        };
        let mode = self.mode.resolve(&self.monitor);
        if mode.improves(value, self.best, self.min_delta) {
            self.best = value;
            self.best_epoch = Some(epoch);
            self.wait = 0;
            if self.restore_best {
                // Shares the buffers; the next optimizer step copies them (copy-on-write).
                self.best_weights = ctx
                    .module
                    .params()
                    .iter()
                    .map(|p| p.value().clone())
                    .collect();
            }
        } else {
            self.wait += 1;
            if self.wait >= self.patience {
                self.stopped_epoch = Some(epoch);
                ctx.stop_training();
            }
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut CallbackContext<'_, T>) -> Result<(), FitError> {
        if self.restore_best && !self.best_weights.is_empty() {
            for (p, w) in ctx.module.params_mut().into_iter().zip(&self.best_weights) {
                p.set_value(w.clone());
            }
        }
        Ok(())
    }
}

/// Writes a checkpoint after every `every` epochs (Keras' `ModelCheckpoint`, plus optimizer
/// and random state so that training can resume exactly).
///
/// The path may contain `{epoch}`, replaced by the number of epochs done (1-based), to keep
/// one file per epoch; otherwise the same file is replaced each time, atomically.
///
/// ```
/// use tapegrad_nn::callback::ModelCheckpoint;
/// let every_epoch = ModelCheckpoint::new("run/last.ckpt");
/// let best = ModelCheckpoint::new("run/best.ckpt").save_best_only("val_accuracy");
/// ```
pub struct ModelCheckpoint {
    path: String,
    every: usize,
    best_only: Option<(Monitor, Mode)>,
    best: f64,
}

impl ModelCheckpoint {
    /// Checkpoints to `path` after every epoch.
    pub fn new(path: impl AsRef<Path>) -> Self {
        ModelCheckpoint {
            path: path.as_ref().to_string_lossy().into_owned(),
            every: 1,
            best_only: None,
            best: f64::NAN,
        }
    }

    /// Checkpoints only every `n` epochs.
    pub fn every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// Checkpoints only when `monitor` improves (mode chosen as [`Mode::Auto`]); `fit` refuses
    /// a name its epochs do not log before the first epoch.
    pub fn save_best_only(mut self, monitor: impl Into<Monitor>) -> Self {
        self.best_only = Some((monitor.into(), Mode::Auto));
        self
    }

    /// The file for the given number of epochs done.
    pub fn path_for(&self, epochs_done: usize) -> PathBuf {
        PathBuf::from(self.path.replace("{epoch}", &epochs_done.to_string()))
    }
}

impl<T: Real> Callback<T> for ModelCheckpoint {
    fn name(&self) -> &str {
        "ModelCheckpoint"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_, T>) -> Result<(), FitError> {
        if let Some((monitor, mode)) = &self.best_only {
            monitor
                .check("ModelCheckpoint", ctx.logged())
                .map_err(|message| FitError::Callback {
                    callback: "ModelCheckpoint".to_string(),
                    message,
                })?;
            self.best = mode.resolve(monitor).worst();
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        ctx: &mut CallbackContext<'_, T>,
    ) -> Result<(), FitError> {
        if !ctx.epochs_done.is_multiple_of(self.every) {
            return Ok(());
        }
        if let Some((monitor, mode)) = &self.best_only {
            let value = logs.get(&monitor.key()).ok_or_else(|| FitError::Callback {
                callback: "ModelCheckpoint".to_string(),
                message: format!("it monitors '{monitor}', which the logs do not have"),
            })?;
            let mode = mode.resolve(monitor);
            if !mode.improves(value, self.best, 0.0) {
                return Ok(());
            }
            self.best = value;
        }
        ctx.save_checkpoint(self.path_for(ctx.epochs_done))?;
        Ok(())
    }
}

/// Sets the optimizer's learning rate from a schedule at the start of each epoch (Keras'
/// `LearningRateScheduler`).
///
/// ```
/// use tapegrad_nn::callback::LearningRateScheduler;
/// use tapegrad_nn::schedule::ScheduledDecay;
/// let lr = LearningRateScheduler::new(ScheduledDecay::new(0.1, 1.0, 10));
/// ```
pub struct LearningRateScheduler<S> {
    schedule: S,
}

impl<S: Schedule> LearningRateScheduler<S> {
    /// Applies `schedule` by epoch number (0-based).
    pub fn new(schedule: S) -> Self {
        LearningRateScheduler { schedule }
    }
}

impl<T: Real, S: Schedule> Callback<T> for LearningRateScheduler<S> {
    fn name(&self) -> &str {
        "LearningRateScheduler"
    }

    fn on_epoch_begin(
        &mut self,
        epoch: usize,
        ctx: &mut CallbackContext<'_, T>,
    ) -> Result<(), FitError> {
        ctx.optimizer
            .set_learning_rate(self.schedule.learning_rate(epoch));
        Ok(())
    }
}
