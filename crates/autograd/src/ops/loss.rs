//! Fused losses: softmax cross-entropy from logits, binary cross-entropy with logits, mean squared error.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Loss {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Loss) -> Vec<Case> {
    match kind {}
}
