//! # tapegrad-nn
//!
//! Layers, initialisers, losses, metrics, optimizers, learning-rate schedules and a Keras-like
//! [`Model`](model::Model), built on [`tapegrad_autograd`].
//!
//! Everything here is ordinary code on top of the tape: a layer is a struct implementing
//! [`Module`], an optimizer updates [`Param`](autograd::Param)s in place from
//! [`Gradients`](autograd::Gradients). Use as much or as little of it as a book chapter needs.
//!
//! | module | what |
//! |---|---|
//! | [`layer`] | `Linear`/`Dense`, `Conv2d`, pooling, `Flatten`, `Dropout`, batch and layer normalisation, `Embedding`, RNN/LSTM/GRU cells and `Recurrent`, activations, `Sequential` |
//! | [`init`] | seeded initialisers: uniform, normal, Glorot, He, LeCun, zeros, constant |
//! | [`loss`] | MSE, sum of squares, L1/L2, cross-entropies on probabilities and logits |
//! | [`metric`] | accuracy, confusion matrix |
//! | [`labels`] | class labels of any integer type (MNIST's `u8`) |
//! | [`optim`] | SGD, momentum (both forms), Nesterov, RMSprop, Adam, AdamW, Adagrad |
//! | [`schedule`] | inverse-time, exponential, step and scheduled decay |
//! | [`ewma`] | exponentially weighted averages with bias correction |
//! | [`model`] | `compile`, `fit`, `evaluate`, `predict` |
//! | [`callback`] | early stopping, checkpoints, learning-rate scheduling |
//! | [`monitor`] | typed keys of the logged values (`Monitor::ValLoss`), checked when `fit` starts |
//! | [`history`] | per-epoch loss and metrics, plotted to PNG or SVG |
//! | [`io`], [`checkpoint`] | safetensors weights, resumable checkpoints, written atomically |
//! | [`diagnostics`] | gradient statistics per parameter; pointers to anomaly detection and the model-wide gradient check |
//!
//! ## Keras style
//!
//! ```
//! use tapegrad_nn::prelude::*;
//! # use tapegrad_nn::autograd::tensor;
//! # let x = tensor(&[6, 4], (0..24).map(|v| (v % 5) as f32 / 5.0).collect());
//! # let labels = vec![0usize, 1, 2, 0, 1, 2];
//!
//! let mut model = Model::new(
//!     Sequential::new()
//!         .add(Dense::new(4, 16, 0))
//!         .add(Relu)
//!         .add(Dense::new(16, 3, 1))
//!         .add(Softmax),
//! );
//! model.compile(CategoricalCrossentropy::new(), RmsProp::default(), vec![accuracy_metric()]);
//! let history = model.fit(&x, labels.clone(), FitOptions::new(3, 2).verbosity(0))?;
//! let logs = model.evaluate(&x, labels, 32)?;
//! assert_eq!(history.epochs(), 3);
//! assert!(logs.get("accuracy").is_some());
//! # Ok::<(), tapegrad_nn::error::FitError>(())
//! ```
//!
//! ## By hand
//!
//! ```
//! use tapegrad_nn::prelude::*;
//! use tapegrad_nn::autograd::{tensor, Tape};
//!
//! let x = tensor(&[4, 3], vec![1., 0., 1., 0., 1., 1., 0., 0., 1., 1., 1., 1.]);
//! let y = tensor(&[4, 1], vec![1., 1., 0., 0.]);
//! let mut net = Sequential::<f32>::new().add(Linear::new(3, 4, 0)).add(Relu).add(Linear::new(4, 1, 1));
//! let mut opt = Sgd::momentum(0.05, 0.9);
//! for _ in 0..50 {
//!     let grads = {
//!         let tape = Tape::new();
//!         let out = net.forward(tape.constant(x.clone()));
//!         tape.backward(sum_squared_error(out, tape.constant(y.clone())))
//!     };
//!     opt.step(&mut net.params_mut(), &grads);
//! }
//! ```

#![warn(missing_docs)]

pub use tapegrad_autograd as autograd;

pub mod callback;
pub mod checkpoint;
pub mod diagnostics;
mod digest;
pub mod error;
pub mod ewma;
pub mod history;
pub mod init;
pub mod io;
pub mod labels;
pub mod layer;
pub mod loss;
pub mod metric;
pub mod model;
mod module;
pub mod monitor;
pub mod optim;
pub mod progress;
pub mod schedule;
pub mod targets;

pub use module::Module;

/// The names most programs need, in one import: `use tapegrad_nn::prelude::*;`.
pub mod prelude {
    pub use crate::callback::{EarlyStopping, LearningRateScheduler, ModelCheckpoint};
    pub use crate::init::Init;
    pub use crate::layer::{
        AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dense, Dropout, Elu, Embedding, Flatten, Gelu,
        GruCell, LayerNorm, Linear, LstmCell, MaxPool2d, Recurrent, RecurrentCell, Relu, RnnCell,
        Sequential, Sigmoid, Silu, Softmax, Tanh,
    };
    pub use crate::loss::{
        l2_penalty, mse, softmax_cross_entropy, softmax_cross_entropy_with_labels,
        sum_squared_error, BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanSquaredError,
        Reduce,
    };
    pub use crate::metric::{accuracy, accuracy_metric, Accuracy, ConfusionMatrix, Metric};
    pub use crate::model::{FitOptions, Model};
    pub use crate::monitor::Monitor;
    pub use crate::optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
    pub use crate::schedule::Schedule;
    pub use crate::targets::Targets;
    pub use crate::Module;
}
