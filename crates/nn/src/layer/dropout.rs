//! Dropout.

use std::sync::{Mutex, PoisonError};

use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{Real, Var};

use crate::Module;

/// Inverted dropout: while training, each element is zeroed with probability `p` and the
/// others are divided by `1 - p`, so evaluation needs no rescaling; in evaluation mode the
/// layer passes its input through.
///
/// The layer owns its random stream, seeded at construction; checkpoints save its state.
///
/// ```
/// use tapegrad_nn::autograd::{ones, Tape};
/// use tapegrad_nn::layer::Dropout;
/// use tapegrad_nn::Module;
///
/// let mut drop = Dropout::new(0.5, 7);
/// let tape = Tape::<f32>::new();
/// let y = Module::<f32>::forward(&drop, tape.constant(ones(&[2, 4])));
/// assert!(y.value().iter().all(|&v| v == 0.0 || v == 2.0));
/// Module::<f32>::set_training(&mut drop, false);
/// let y = Module::<f32>::forward(&drop, tape.constant(ones(&[2, 4])));
/// assert!(y.value().iter().all(|&v| v == 1.0));
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: bool,
    /// Behind a mutex so that the layer is `Sync`; only training forwards draw from it.
    rng: Mutex<SplitMix64>,
}

impl Dropout {
    /// Dropout with drop probability `p` (in `[0, 1)`), drawing from a stream seeded with
    /// `seed`.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`.
    #[track_caller]
    pub fn new(p: f64, seed: u64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "Dropout::new: the drop probability must be in [0, 1), got {p}"
        );
        Dropout {
            p,
            training: true,
            rng: Mutex::new(SplitMix64::new(seed)),
        }
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }
}

impl<T: Real> Module<T> for Dropout {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        if self.training && self.p > 0.0 {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            x.dropout(self.p, &mut *rng)
        } else {
            x
        }
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn random_states(&self) -> Vec<u64> {
        vec![self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .state()]
    }
    fn random_streams_mut(&mut self) -> Vec<&mut SplitMix64> {
        vec![self.rng.get_mut().unwrap_or_else(PoisonError::into_inner)]
    }
    fn describe(&self) -> String {
        format!("Dropout({})", self.p)
    }
}
