//! Activations: relu, leaky relu, sigmoid, tanh, softplus, softmax and log-softmax.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Activation {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Activation) -> Vec<Case> {
    match kind {}
}
