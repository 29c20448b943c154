//! # tapegrad-nn
//!
//! Layers, initialisers, losses, optimizers, learning-rate schedules and a Keras-like model,
//! built on [`tapegrad_autograd`].

#![warn(missing_docs)]

pub use tapegrad_autograd as autograd;

pub mod callback;
pub mod checkpoint;
pub mod error;
pub mod ewma;
pub mod history;
pub mod init;
pub mod io;
pub mod layer;
pub mod loss;
pub mod metric;
pub mod model;
mod module;
pub mod optim;
pub mod progress;
pub mod schedule;
pub mod targets;
pub use module::Module;
