//! Errors of the `try_` forms of ops and of backward.

use thiserror::Error;

/// A shape or argument that an op cannot accept.
///
/// The panicking op methods (`a.matmul(b)`) print this same message; their `try_` forms
/// (`a.try_matmul(b)`) return it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{op}: {message}; input shapes {shapes}", shapes = format_shapes(.shapes))]
pub struct OpError {
    /// The op's name, as shown on the tape.
    pub op: String,
    /// The shapes of the op's inputs.
    pub shapes: Vec<Vec<usize>>,
    /// The rule that failed, in words.
    pub message: String,
}

impl OpError {
    /// An error for `op` with the given input shapes and explanation.
    pub fn new(op: impl Into<String>, shapes: &[&[usize]], message: impl Into<String>) -> Self {
        OpError {
            op: op.into(),
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
            message: message.into(),
        }
    }
}

fn format_shapes(shapes: &[Vec<usize>]) -> String {
    let parts: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
    parts.join(", ")
}

/// Why a backward pass could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackwardError {
    /// `backward` without a seed needs a one-element output, such as a loss.
    #[error(
        "backward: the output has shape {shape:?}, not one element; reduce it to a scalar \
         (for example with .sum() or .mean()) or pass a seed gradient of that shape with \
         backward_with"
    )]
    NotScalar {
        /// The shape of the output backward was called on.
        shape: Vec<usize>,
    },
    /// The seed gradient's shape differs from the output's.
    #[error("backward: the seed gradient has shape {seed:?} but the output has shape {output:?}")]
    SeedShape {
        /// The seed's shape.
        seed: Vec<usize>,
        /// The output's shape.
        output: Vec<usize>,
    },
    /// A gradient was asked for as a variable ([`Tape::grad`](crate::Tape::grad)), but an op on
    /// the way only computes its backward with tensors.
    #[error(
        "{op}: this op cannot be differentiated twice: it has no backward_vars (its backward \
         computes tensors, not variables); implement Op::backward_vars to support \
         Tape::grad, Hessian-vector products and forward mode"
    )]
    NotTwiceDifferentiable {
        /// The op's name.
        op: String,
    },
    /// Anomaly detection found NaN or infinity (see [`crate::anomaly`]).
    #[error("{0}")]
    Anomaly(Box<crate::Anomaly>),
}
