//! # tapegrad-autograd
//!
//! Reverse-mode automatic differentiation on a tape.
//!
//! * [`Tape`] records ops as they run (define-by-run) on [`Var`]s, cheap `Copy` handles to
//!   values; [`Tape::backward`] walks the recording in reverse and returns [`Gradients`].
//! * Values are [`Tensor`]s: n-d `ndarray` arrays whose buffers are shared by reference, so
//!   binding a parameter to a tape or saving a value for backward never copies it.
//! * Everything is generic over [`Real`] (`f32`, `f64`).
//! * Ops live in [`ops`], one family per file; [`Op`] is the trait they implement, and the one
//!   you implement to add your own ([`Tape::apply`] records it).
//! * [`gradcheck`] checks any function's gradients against finite differences, and its
//!   registry lists every built-in op with sample inputs.
//! * [`anomaly`] stops at the first op whose value or gradient is NaN or infinite, naming it
//!   and the line that recorded it; [`gradcheck::check_model`] checks every op of a whole
//!   model against finite differences; [`Tape::to_dot`] draws the graph; [`grad_stats`]
//!   measures each parameter's gradient (vanishing, exploding, dead units).
//!
//! ```
//! use tapegrad_autograd::{tensor, Tape};
//!
//! let tape = Tape::<f64>::new();
//! let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
//! let w = tape.var(tensor(&[3], vec![0.1, 0.2, 0.3]));
//! let loss = (x * w).sum();
//! let grads = tape.backward(loss);
//! assert_eq!(grads.get(w).unwrap().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
//! assert!(grads.get(x).is_none()); // constants get no gradient
//! ```

#![warn(missing_docs)]

pub mod anomaly;
mod backward;
mod error;
pub mod functional;
mod grad;
pub mod grad_stats;
pub mod gradcheck;
mod inspect;
pub mod kernels;
mod op;
pub mod ops;
mod param;
pub mod random;
mod real;
mod tape;
mod tensor;
mod var;

pub use anomaly::{Anomaly, AnomalyMode};
pub use backward::Gradients;
pub use error::{BackwardError, OpError};
pub use grad_stats::{GradStats, GradientReport};
pub use inspect::NodeInfo;
pub use op::{BackwardContext, Op, VarContext};
pub use ops::conv::Conv2dOptions;
pub use ops::loss::Reduce;
pub use ops::OpKind;
pub use param::Param;
pub use real::Real;
pub use tape::Tape;
pub use tensor::{full, into_tensor, ones, scalar, tensor, zeros, Tensor};
pub use var::Var;

/// The `ndarray` version tapegrad is built on, re-exported so users need not match versions.
pub use ndarray;
