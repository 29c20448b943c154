//! Shape ops: reshape, flatten, broadcast_to, slice and narrow, index_select and gather, concat, stack, pad.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    ShapeOp {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: ShapeOp) -> Vec<Case> {
    match kind {}
}
