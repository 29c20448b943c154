//! # tapegrad-books
//!
//! What it takes to run a deep-learning book's program with tapegrad and get the book's numbers,
//! digit for digit. None of it is needed to write models; the core crates know nothing of it.
//!
//! * [`NumpyRandomState`]: numpy's legacy random stream (`np.random.seed`), drawing weights,
//!   dropout masks and shuffles exactly as a book's numpy does. It is a
//!   [`RandomStream`](tapegrad_autograd::random::RandomStream), so dropout, initialisers and
//!   batching take it like any stream, and an [`Init`](tapegrad_nn::init::Init) draws numpy's
//!   normals from it through [`Sampler`](tapegrad_nn::init::Sampler).
//! * [`pyfmt`]: numbers printed the way Python and numpy print them.
//! * [`sklearn`]: scikit-learn's `make_moons` and `make_circles` on numpy's stream.
//! * [`MainError`]: what a chapter's `main` returns, so that a failure prints as a message.
//!
//! ```
//! use tapegrad_books::pyfmt::float_repr;
//! use tapegrad_books::NumpyRandomState;
//!
//! // np.random.seed(1); print(np.random.random())
//! let mut rng = NumpyRandomState::new(1);
//! assert_eq!(float_repr(rng.random_sample()), "0.417022004702574");
//! ```

#![warn(missing_docs)]

mod main_error;
mod numpy_random;
pub mod pyfmt;
pub mod sklearn;

pub use main_error::MainError;
pub use numpy_random::{NumpyRandomState, NumpyState};

/// numpy's sampling for initialisers: uniforms are `np.random.random`, normals
/// `np.random.randn` (with numpy's cache of the second value of each pair kept across calls).
impl tapegrad_nn::init::Sampler for NumpyRandomState {
    fn uniform(&mut self) -> f64 {
        self.random_sample()
    }
    fn normal(&mut self) -> f64 {
        self.standard_normal()
    }
}
