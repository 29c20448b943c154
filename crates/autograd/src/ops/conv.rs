//! Convolution and pooling on NCHW images: conv2d, max_pool2d, avg_pool2d.

use super::op_family;
use crate::gradcheck::registry::Case;

op_family! {
    /// The ops of this family.
    Conv {}
}

/// Gradcheck cases for this family.
pub(crate) fn gradcheck_cases(kind: Conv) -> Vec<Case> {
    match kind {}
}
