//! Linear algebra: matrix products (2-D and batched), dot, outer, transpose and permute.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Linalg {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Linalg) -> Vec<Case> {
    match kind {}
}
