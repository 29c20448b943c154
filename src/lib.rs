//! # tapegrad
//!
//! Tape-based reverse-mode automatic differentiation in Rust, with the layers, optimizers and
//! data sets that the classic deep-learning books and courses use.
//!
//! This crate re-exports the three parts of the project:
//!
//! * [`autograd`]: n-d arrays, ops recorded on a [`Tape`], reverse-mode
//!   backward and finite-difference [`gradcheck`](autograd::gradcheck);
//! * [`nn`]: layers, initialisers, losses, optimizers, schedules and a Keras-like model;
//! * [`datasets`]: MNIST, Fashion-MNIST and notMNIST, downloaded, verified, cached and parsed.

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../docs/higher-order.md")]
#[cfg(doctest)]
pub struct HigherOrderDoctests;

#[doc = include_str!("../docs/layers.md")]
#[cfg(doctest)]
pub struct LayersDoctests;

pub use tapegrad_autograd as autograd;
pub use tapegrad_datasets as datasets;
pub use tapegrad_nn as nn;

pub mod pyfmt;

pub use tapegrad_autograd::{Gradients, Real, Tape, Tensor, Var};
