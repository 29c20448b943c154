//! # tapegrad-nn
//!
//! Layers, initialisers, losses, optimizers, learning-rate schedules and a Keras-like model,
//! built on [`tapegrad_autograd`].

#![warn(missing_docs)]

pub use tapegrad_autograd as autograd;

pub mod error;
pub mod ewma;
pub mod init;
pub mod optim;
pub mod schedule;
