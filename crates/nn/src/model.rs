//! A Keras-like model: `compile`, `fit`, `evaluate`, `predict`, around any [`Module`].
//!
//! Deep Learning with Python ch.2 in tapegrad:
//!
//! ```no_run
//! use tapegrad_nn::autograd::Tensor;
//! use tapegrad_nn::layer::{Dense, Relu, Sequential, Softmax};
//! use tapegrad_nn::loss::CategoricalCrossentropy;
//! use tapegrad_nn::metric::accuracy_metric;
//! use tapegrad_nn::model::{FitOptions, Model};
//! use tapegrad_nn::optim::RmsProp;
//!
//! # fn load() -> (Tensor<f32>, Vec<u8>, Tensor<f32>, Vec<u8>) { unimplemented!() }
//! let (train_images, train_labels, test_images, test_labels) = load(); // [N, 784] in [0, 1]
//! let mut model = Model::new(
//!     Sequential::new()
//!         .add(Dense::new(784, 512, 0))
//!         .add(Relu)
//!         .add(Dense::new(512, 10, 1))
//!         .add(Softmax),
//! );
//! model.compile(CategoricalCrossentropy::new(), RmsProp::default(), vec![accuracy_metric()]);
//! model.fit(&train_images, train_labels, FitOptions::new(5, 128))?;
//! let logs = model.evaluate(&test_images, test_labels, 128);
//! println!("test_acc: {}", logs.get("accuracy").unwrap());
//! # Ok::<(), tapegrad_nn::error::FitError>(())
//! ```
//!
//! # The same loop by hand
//!
//! `fit` is a convenience, not a requirement. The loop it runs is a few lines with any
//! [`Module`], loss and optimizer:
//!
//! ```
//! use tapegrad_nn::autograd::{tensor, Tape};
//! use tapegrad_nn::layer::{Linear, Relu, Sequential};
//! use tapegrad_nn::loss::{mse, Reduce};
//! use tapegrad_nn::optim::{Optimizer, Sgd};
//! use tapegrad_nn::Module;
//!
//! let x = tensor(&[4, 3], vec![1., 0., 1., 0., 1., 1., 0., 0., 1., 1., 1., 1.]);
//! let y = tensor(&[4, 1], vec![1., 1., 0., 0.]);
//! let mut model = Sequential::<f32>::new()
//!     .add(Linear::new(3, 4, 0))
//!     .add(Relu)
//!     .add(Linear::new(4, 1, 1));
//! let mut opt = Sgd::new(0.1);
//! for _ in 0..100 {
//!     let grads = {
//!         let tape = Tape::new();
//!         let out = model.forward(tape.constant(x.clone()));
//!         tape.backward(mse(out, tape.constant(y.clone()), Reduce::Mean))
//!     }; // the tape is dropped before the step, so parameters update in place
//!     opt.step(&mut model.params_mut(), &grads);
//! }
//! ```

use ndarray::{Axis, Slice};
use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{Real, Tape, Tensor};

use crate::callback::{Callback, CallbackContext, Logs};
use crate::checkpoint::Checkpoint;
use crate::error::{CheckpointError, FitError, WeightsError};
use crate::history::History;
use crate::io;
use crate::layer::Sequential;
use crate::loss::Loss;
use crate::metric::Metric;
use crate::optim::Optimizer;
use crate::progress::{EpochProgress, Verbosity};
use crate::targets::Targets;
use crate::Module;

/// Held-out data to evaluate after every epoch.
pub enum Validation<T: Real> {
    /// No validation.
    None,
    /// The last fraction of the training data (taken before shuffling, as Keras does).
    Split(f64),
    /// Separate inputs and targets.
    Data(Tensor<T>, Targets<T>),
}

/// How [`Model::fit`] trains.
///
/// ```
/// use tapegrad_nn::callback::EarlyStopping;
/// use tapegrad_nn::model::FitOptions;
/// let opts = FitOptions::<f32>::new(20, 512)
///     .validation_split(0.2)
///     .shuffle_seed(7)
///     .callback(EarlyStopping::new("val_loss", 3).restore_best_weights(true))
///     .verbosity(2);
/// ```
pub struct FitOptions<T: Real> {
    /// Train until the model has done this many epochs in total (Keras' `epochs` with
    /// `initial_epoch` = the epochs already done, which a loaded checkpoint restores).
    pub epochs: usize,
    /// Samples per gradient step (the last batch may be smaller).
    pub batch_size: usize,
    /// Held-out data evaluated after each epoch.
    pub validation: Validation<T>,
    /// Seed of the per-epoch shuffle, or `None` to keep the data's order. Each epoch's order
    /// depends only on the seed and the epoch number.
    pub shuffle: Option<u64>,
    /// Callbacks, run in order.
    pub callbacks: Vec<Box<dyn Callback<T>>>,
    /// What to print.
    pub verbosity: Verbosity,
}

impl<T: Real> Default for FitOptions<T> {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            validation: Validation::None,
            shuffle: Some(0),
            callbacks: Vec::new(),
            verbosity: Verbosity::Bar,
        }
    }
}

impl<T: Real> FitOptions<T> {
    /// `epochs` epochs of batches of `batch_size`, shuffled with seed 0, with a progress bar.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        FitOptions {
            epochs,
            batch_size,
            ..Self::default()
        }
    }

    /// Holds out the last `fraction` of the data for validation.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }

    /// Validates on separate data.
    pub fn validation_data(mut self, x: Tensor<T>, y: impl Into<Targets<T>>) -> Self {
        self.validation = Validation::Data(x, y.into());
        self
    }

    /// Shuffles each epoch with this seed.
    pub fn shuffle_seed(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Keeps the data's order.
    pub fn no_shuffle(mut self) -> Self {
        self.shuffle = None;
        self
    }

    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback<T> + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }

    /// Sets what to print (Keras' 0, 1, 2, or a [`Verbosity`]).
    pub fn verbosity(mut self, v: impl Into<Verbosity>) -> Self {
        self.verbosity = v.into();
        self
    }
}

struct Compiled<T: Real> {
    loss: Box<dyn Loss<T>>,
    optimizer: Box<dyn Optimizer<T>>,
    metrics: Vec<Box<dyn Metric<T>>>,
}

/// A module with a loss, an optimizer and metrics: Keras' `Model`.
///
/// The model keeps the number of epochs done and the history of all of them; both are saved in
/// checkpoints, so [`fit`](Model::fit) after [`load_checkpoint`](Model::load_checkpoint) carries
/// on where the saved run stopped.
pub struct Model<T: Real = f32, M: Module<T> = Sequential<T>> {
    module: M,
    compiled: Option<Compiled<T>>,
    epoch: usize,
    history: History,
}

/// Runs `work` on a thread of rayon's pool (at once if this is one). Called from any other
/// thread, every op that splits its work would hand it to the pool and sleep until it is done,
/// once per op; on a pool thread the op takes its own share and wakes only the other threads:
/// the Keras ch.2 network's epochs measured 8 % faster so. (`train_on_batch` stays on the
/// caller's thread: with small batches no op splits, and the hand-off would be paid per
/// call.)
fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
}

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

fn rows<T: Real>(x: &Tensor<T>, start: usize, end: usize) -> Tensor<T> {
    x.slice_axis(Axis(0), Slice::from(start..end))
        .to_owned()
        .into_shared()
}

fn weighted(sum: f64, count: usize) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

impl<T: Real, M: Module<T>> Model<T, M> {
    /// Wraps a module; [`compile`](Model::compile) it before training.
    pub fn new(module: M) -> Self {
        Model {
            module,
            compiled: None,
            epoch: 0,
            history: History::new(),
        }
    }

    /// Sets the loss, the optimizer and the metrics (Keras' `compile`). Compiling again
    /// replaces them (and the optimizer's state).
    pub fn compile(
        &mut self,
        loss: impl Loss<T> + 'static,
        optimizer: impl Optimizer<T> + 'static,
        metrics: Vec<Box<dyn Metric<T>>>,
    ) {
        self.compiled = Some(Compiled {
            loss: Box::new(loss),
            optimizer: Box::new(optimizer),
            metrics,
        });
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The wrapped module, for changes (freezing layers, loading weights).
    pub fn module_mut(&mut self) -> &mut M {
        &mut self.module
    }

    /// Unwraps the module.
    pub fn into_module(self) -> M {
        self.module
    }

    /// The optimizer, if compiled.
    pub fn optimizer_mut(&mut self) -> Option<&mut (dyn Optimizer<T> + 'static)> {
        self.compiled.as_mut().map(|c| c.optimizer.as_mut())
    }

    /// Epochs done so far (restored by [`load_checkpoint`](Model::load_checkpoint)).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The history of every epoch done so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    #[track_caller]
    fn compiled(&mut self, what: &str) -> &mut Compiled<T> {
        match self.compiled.as_mut() {
            Some(c) => c,
            None => panic!(
                "Model::{what}: the model is not compiled; call model.compile(loss, optimizer, \
                 metrics) first"
            ),
        }
    }

    #[track_caller]
    fn check_lengths(what: &str, x: &Tensor<T>, y: &Targets<T>) -> usize {
        let n = x.shape().first().copied().unwrap_or(0);
        assert_eq!(
            n,
            y.len(),
            "Model::{what}: {n} inputs (shape {:?}) but {} targets; both need one row per sample",
            x.shape(),
            y.len()
        );
        n
    }

    /// Trains on `x` (`[N, ...]`, one row per sample) and `y` (labels or dense rows), from the
    /// epochs already done up to `options.epochs`, and returns the history of the epochs run.
    ///
    /// Each step runs on a fresh tape that is dropped before the optimizer updates the
    /// parameters, so they update in place. The loss shown and recorded for an epoch is the
    /// mean of its batch losses weighted by batch size. The epochs run on a thread of rayon's
    /// pool (the caller waits), which is why every part of a model is `Send`.
    ///
    /// # Panics
    /// If the model is not compiled, `x` and `y` have different numbers of samples, or the
    /// batch size is 0. Errors of callbacks (a checkpoint that cannot be written) are returned.
    #[track_caller]
    pub fn fit(
        &mut self,
        x: &Tensor<T>,
        y: impl Into<Targets<T>>,
        options: FitOptions<T>,
    ) -> Result<History, FitError> {
        let y = y.into();
        let n = Self::check_lengths("fit", x, &y);
        assert!(
            options.batch_size > 0,
            "Model::fit: batch_size must be at least 1"
        );
        self.compiled("fit");
        on_pool(|| self.train(x, y, n, options))
    }

    /// [`fit`](Model::fit)'s epochs, its arguments checked (`n` samples).
    fn train(
        &mut self,
        x: &Tensor<T>,
        y: Targets<T>,
        n: usize,
        options: FitOptions<T>,
    ) -> Result<History, FitError> {
        let FitOptions {
            epochs,
            batch_size,
            validation,
            shuffle,
            mut callbacks,
            verbosity,
        } = options;
        let (train_x, train_y, val) = match validation {
            Validation::None => (x.clone(), y, None),
            Validation::Split(fraction) => {
                assert!(
                    (0.0..1.0).contains(&fraction),
                    "Model::fit: validation_split must be in [0, 1), got {fraction}"
                );
                let split = (n as f64 * (1.0 - fraction)).floor() as usize;
                let val = (split < n).then(|| (rows(x, split, n), y.slice(split, n)));
                (rows(x, 0, split), y.slice(0, split), val)
            }
            Validation::Data(vx, vy) => {
                Self::check_lengths("fit (validation data)", &vx, &vy);
                (x.clone(), y, Some((vx, vy)))
            }
        };
        let n_train = train_x.shape()[0];
        let steps = n_train.div_ceil(batch_size);
        let mut run_history = History::new();

        if self.epoch >= epochs && verbosity != Verbosity::Silent {
            eprintln!(
                "fit: nothing to do, the model has already trained {} epochs and \
                 FitOptions::epochs = {epochs} counts all epochs; ask for more to continue",
                self.epoch
            );
        }
        self.with_callbacks(&mut callbacks, |cb, ctx| cb.on_train_begin(ctx))?;
        let mut stop = false;
        while self.epoch < epochs && !stop {
            let epoch = self.epoch;
            stop = self.with_callbacks(&mut callbacks, |cb, ctx| cb.on_epoch_begin(epoch, ctx))?;
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
                    None => (rows(&train_x, start, end), train_y.slice(start, end)),
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
            if let Some((vx, vy)) = &val {
                let val_logs = self.run_eval(vx, vy, batch_size);
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
            stop |=
                self.with_callbacks(&mut callbacks, |cb, ctx| cb.on_epoch_end(epoch, &logs, ctx))?;
        }
        self.with_callbacks(&mut callbacks, |cb, ctx| cb.on_train_end(ctx))?;
        self.module.set_training(true);
        Ok(run_history)
    }

    /// Runs `f` for each callback with a context; returns whether one asked to stop.
    fn with_callbacks(
        &mut self,
        callbacks: &mut [Box<dyn Callback<T>>],
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
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            f(cb.as_mut(), &mut ctx)?;
        }
        Ok(ctx.stop)
    }

    /// Loss and metrics over `x`, `y` in batches on inference tapes (memory stays that of one
    /// batch), in evaluation mode (dropout off). Keys are `loss` and the metrics' names; the
    /// loss is the mean of the batch losses weighted by batch size.
    ///
    /// # Panics
    /// If the model is not compiled or the lengths differ.
    #[track_caller]
    pub fn evaluate(&mut self, x: &Tensor<T>, y: impl Into<Targets<T>>, batch_size: usize) -> Logs {
        let y = y.into();
        Self::check_lengths("evaluate", x, &y);
        self.compiled("evaluate");
        let logs = on_pool(|| self.run_eval(x, &y, batch_size));
        self.module.set_training(true);
        logs
    }

    fn run_eval(&mut self, x: &Tensor<T>, y: &Targets<T>, batch_size: usize) -> Logs {
        let batch_size = batch_size.max(1);
        self.module.set_training(false);
        let compiled = self.compiled.as_mut().expect("checked by callers");
        for m in &mut compiled.metrics {
            m.reset();
        }
        let n = x.shape()[0];
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let yb = y.slice(start, end);
            let tape = Tape::inference();
            let out = self.module.forward(tape.constant(rows(x, start, end)));
            let loss = compiled.loss.loss(out, &yb).item();
            out.with_value(|o| {
                for m in &mut compiled.metrics {
                    m.update(o, &yb);
                }
            });
            loss_sum += loss.to_f64().unwrap_or(f64::NAN) * (end - start) as f64;
            seen += end - start;
            start = end;
        }
        let mut values = vec![("loss".to_string(), weighted(loss_sum, seen))];
        values.extend(
            compiled
                .metrics
                .iter()
                .map(|m| (m.name().to_string(), m.result())),
        );
        Logs { values }
    }

    /// The model's outputs for `x`, computed in batches on inference tapes, in evaluation mode.
    pub fn predict(&mut self, x: &Tensor<T>, batch_size: usize) -> Tensor<T> {
        on_pool(|| self.predict_here(x, batch_size))
    }

    /// [`predict`](Model::predict) on the calling thread.
    fn predict_here(&mut self, x: &Tensor<T>, batch_size: usize) -> Tensor<T> {
        let batch_size = batch_size.max(1);
        self.module.set_training(false);
        let n = x.shape().first().copied().unwrap_or(0);
        let mut outputs: Vec<Tensor<T>> = Vec::with_capacity(n.div_ceil(batch_size));
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let tape = Tape::inference();
            outputs.push(
                self.module
                    .forward(tape.constant(rows(x, start, end)))
                    .value(),
            );
            start = end;
        }
        self.module.set_training(true);
        if outputs.len() == 1 {
            return outputs.pop().expect("one batch");
        }
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .expect("every batch has the same output shape but the first axis")
            .into_shared()
    }

    /// One gradient step on one batch; returns its loss (Keras' `train_on_batch`).
    #[track_caller]
    pub fn train_on_batch(&mut self, x: &Tensor<T>, y: impl Into<Targets<T>>) -> f64 {
        let y = y.into();
        Self::check_lengths("train_on_batch", x, &y);
        self.compiled("train_on_batch");
        let compiled = self.compiled.as_mut().expect("checked above");
        let (loss, grads) = {
            let tape = Tape::new();
            let out = self.module.forward(tape.constant(x.clone()));
            let loss = compiled.loss.loss(out, &y);
            (loss.item(), tape.backward(loss))
        };
        compiled
            .optimizer
            .step(&mut self.module.params_mut(), &grads);
        loss.to_f64().unwrap_or(f64::NAN)
    }

    /// Saves the weights as safetensors (see [`io::save_weights`]).
    pub fn save_weights(&self, path: impl AsRef<std::path::Path>) -> Result<(), WeightsError> {
        io::save_weights(&self.module, path)
    }

    /// Loads weights saved by [`save_weights`](Model::save_weights) (see [`io::load_weights`]).
    pub fn load_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), WeightsError> {
        io::load_weights(&mut self.module, path)
    }

    /// Writes a checkpoint: weights, optimizer state, epochs done, random stream states and
    /// history, atomically.
    pub fn save_checkpoint(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<(), CheckpointError> {
        Checkpoint::capture(
            &self.module,
            self.compiled
                .as_ref()
                .map(|c| c.optimizer.as_ref() as &dyn Optimizer<T>),
            self.epoch,
            &self.history,
        )
        .save(path)
    }

    /// Restores a checkpoint written by [`save_checkpoint`](Model::save_checkpoint) (or the
    /// [`ModelCheckpoint`](crate::callback::ModelCheckpoint) callback); the next
    /// [`fit`](Model::fit) continues from its epoch. On an error nothing has changed.
    ///
    /// # Panics
    /// If the checkpoint holds an optimizer state and the model is not compiled: compile it
    /// with the same optimizer first, so the state has somewhere to go.
    #[track_caller]
    pub fn load_checkpoint(
        &mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let ckpt = Checkpoint::<T>::load(path)?;
        if ckpt.optimizer.is_some() && self.compiled.is_none() {
            panic!(
                "Model::load_checkpoint: '{}' holds an optimizer state but the model is not \
                 compiled; call model.compile(...) with the same optimizer before loading",
                path.display()
            );
        }
        let optimizer = self
            .compiled
            .as_mut()
            .map(|c| c.optimizer.as_mut() as &mut dyn Optimizer<T>);
        ckpt.restore(path, &mut self.module, optimizer)?;
        self.epoch = ckpt.epoch;
        self.history = ckpt.history;
        Ok(())
    }
}
