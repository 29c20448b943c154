//! # tapegrad
//!
//! Tape-based reverse-mode automatic differentiation in Rust, with the layers, optimizers and
//! data sets that the classic deep-learning books and courses use.
//!
//! This crate re-exports the four parts of the project:
//!
//! * [`autograd`]: n-d arrays, ops recorded on a [`Tape`], reverse-mode
//!   backward and finite-difference [`gradcheck`](autograd::gradcheck);
//! * [`nn`]: layers, initialisers, losses, optimizers, schedules and a Keras-like model;
//! * [`datasets`]: MNIST, Fashion-MNIST and notMNIST, downloaded, verified, cached and parsed;
//! * [`books`]: what running a book's program number for number takes (numpy's random
//!   stream, Python's number formatting, scikit-learn's toy data); the other three know
//!   nothing of it.

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// The guides in docs/ use the facade's paths, so their code blocks are tested here.
#[doc = include_str!("../docs/higher-order.md")]
#[cfg(doctest)]
pub struct HigherOrderDoctests;

#[doc = include_str!("../docs/layers.md")]
#[cfg(doctest)]
pub struct LayersDoctests;

#[doc = include_str!("../docs/architecture.md")]
#[cfg(doctest)]
pub struct ArchitectureDoctests;

#[doc = include_str!("../docs/chapters.md")]
#[cfg(doctest)]
pub struct ChaptersDoctests;

#[doc = include_str!("../docs/custom-ops.md")]
#[cfg(doctest)]
pub struct CustomOpsDoctests;

#[doc = include_str!("../docs/debugging.md")]
#[cfg(doctest)]
pub struct DebuggingDoctests;

#[doc = include_str!("../docs/performance.md")]
#[cfg(doctest)]
pub struct PerformanceDoctests;

pub use tapegrad_autograd as autograd;
pub use tapegrad_datasets as datasets;
pub use tapegrad_nn as nn;

pub use tapegrad_books as books;

pub use tapegrad_autograd::{Gradients, Real, Tape, Tensor, Var};
