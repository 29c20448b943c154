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
//! let logs = model.evaluate(&test_images, test_labels, 128)?;
//! println!("test_acc: {}", logs.get("accuracy").unwrap());
//! # Ok::<(), tapegrad_nn::error::FitError>(())
//! ```
//!
//! # Errors instead of crashes
//!
//! `fit`, `evaluate` and `predict` return data that does not fit the model as a
//! [`DataError`] before anything runs: inputs and targets of
//! different lengths, inputs the model cannot take, targets its loss or metrics cannot compare
//! with its outputs. A panic while they run (a bug in a layer, a loss or a callback) comes back
//! as [`FitError::Panicked`](crate::error::FitError::Panicked) with its message instead of ending the program; `fit` then puts
//! the model back as it was when the failing epoch began (see [`Model::fit`]).
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

use std::path::Path;

use ndarray::{Axis, Slice};
use tapegrad_autograd::{Real, Tape, Tensor};

use crate::checkpoint::Checkpoint;
use crate::error::{CheckpointError, DataError, WeightsError};
use crate::history::History;
use crate::io;
use crate::layer::Sequential;
use crate::loss::Loss;
use crate::metric::Metric;
use crate::optim::Optimizer;
use crate::targets::Targets;
use crate::Module;

mod fit;
mod guard;
mod options;
mod run;

pub use fit::epoch_order;
pub use options::{FitOptions, Validation};

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

/// Rows `start..end` of `x` (a copy).
fn rows<T: Real>(x: &Tensor<T>, start: usize, end: usize) -> Tensor<T> {
    x.slice_axis(Axis(0), Slice::from(start..end))
        .to_owned()
        .into_shared()
}

/// The number of samples of `x`: its first axis.
fn samples<T: Real>(x: &Tensor<T>) -> usize {
    x.shape().first().copied().unwrap_or(0)
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

    /// The number of samples, or an error if `x` and `y` have different numbers of rows.
    fn check_lengths(
        call: &'static str,
        x: &Tensor<T>,
        y: &Targets<T>,
    ) -> Result<usize, DataError> {
        let n = samples(x);
        if n != y.len() {
            return Err(DataError::Lengths {
                call,
                shape: x.shape().to_vec(),
                targets: y.len(),
            });
        }
        Ok(n)
    }

    /// The state of the model, optimizer included (values are shared, not copied).
    fn capture(&self) -> Checkpoint<T> {
        Checkpoint::capture(
            &self.module,
            self.compiled
                .as_ref()
                .map(|c| c.optimizer.as_ref() as &dyn Optimizer<T>),
            self.epoch,
            &self.history,
        )
    }

    /// One gradient step on one batch; returns its loss (Keras' `train_on_batch`).
    ///
    /// # Panics
    /// If the model is not compiled, `x` and `y` have different numbers of rows, or the loss
    /// refuses the targets (see [`Loss::check`]).
    #[track_caller]
    pub fn train_on_batch(&mut self, x: &Tensor<T>, y: impl Into<Targets<T>>) -> f64 {
        let y = y.into();
        if let Err(e) = Self::check_lengths("train_on_batch", x, &y) {
            panic!("{e}");
        }
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
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), WeightsError> {
        io::save_weights(&self.module, path)
    }

    /// Loads weights saved by [`save_weights`](Model::save_weights) (see [`io::load_weights`]).
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<(), WeightsError> {
        io::load_weights(&mut self.module, path)
    }

    /// Writes a checkpoint: weights, optimizer state, epochs done, random stream states and
    /// history, atomically.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        self.capture().save(path)
    }

    /// Restores a checkpoint written by [`save_checkpoint`](Model::save_checkpoint) (or the
    /// [`ModelCheckpoint`](crate::callback::ModelCheckpoint) callback); the next
    /// [`fit`](Model::fit) continues from its epoch. On an error nothing has changed.
    ///
    /// # Panics
    /// If the checkpoint holds an optimizer state and the model is not compiled: compile it
    /// with the same optimizer first, so the state has somewhere to go.
    #[track_caller]
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let ckpt = Checkpoint::<T>::load(path)?;
        if ckpt.optimizer.is_some() && self.compiled.is_none() {
            panic!(
                "Model::load_checkpoint: '{}' holds an optimizer state but the model is not \
                 compiled; call model.compile(...) with the same optimizer before loading",
                path.display()
            );
        }
        self.restore(path, ckpt)
    }

    /// Puts a checkpoint's state into the model; on an error nothing has changed.
    fn restore(&mut self, path: &Path, ckpt: Checkpoint<T>) -> Result<(), CheckpointError> {
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
