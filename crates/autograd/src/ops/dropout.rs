//! Dropout as a mask multiply.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Regularization {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Regularization) -> Vec<Case> {
    match kind {}
}
