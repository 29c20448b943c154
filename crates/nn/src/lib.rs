//! # tapegrad-nn
//!
//! Layers, initialisers, losses, optimizers, learning-rate schedules and a Keras-like model,
//! built on [`tapegrad_autograd`].

#![warn(missing_docs)]

pub use tapegrad_autograd as autograd;
