//! Array-level compute shared by the ops: broadcasting, elementwise loops, reductions, GEMM,
//! im2col, softmax and vectorisable math functions.
//!
//! Nothing here knows about tapes; ops call these from their forward and backward.

pub mod broadcast;
pub mod elementwise;
pub mod gemm;
pub mod im2col;
pub mod math;
pub(crate) mod pool;
pub mod reduce;
pub mod softmax;
