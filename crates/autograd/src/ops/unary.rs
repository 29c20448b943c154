//! Elementwise functions of one tensor: exp, ln, sqrt, abs, square, clamp.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Unary {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Unary) -> Vec<Case> {
    match kind {}
}
