//! Array-level compute shared by the ops: broadcasting, elementwise loops, reductions, GEMM,
//! im2col, softmax, vectorisable math functions and row-major copies of strided views; and
//! fused inference kernels that evaluate a stack of layers in one pass.
//!
//! Nothing here knows about tapes; ops call these from their forward and backward. Each
//! kernel runs in the version compiled for the CPU's instruction set, chosen at run time
//! ([`dispatch`]).

pub mod broadcast;
pub mod dispatch;
pub(crate) mod element;
pub mod elementwise;
pub mod fused;
pub mod gemm;
pub mod im2col;
pub mod layout;
pub mod math;
pub(crate) mod pool;
pub mod reduce;
pub(crate) mod simd;
pub mod softmax;

/// A rayon pool of `threads` threads, for tests that compare results across thread counts.
#[cfg(test)]
pub(crate) fn thread_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}
