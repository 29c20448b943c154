//! Seeded random streams. Everything random in tapegrad takes one of these, so the same seed
//! always gives the same numbers.

/// A source of random bits: the one interface that initialisers, dropout and shuffling draw from.
pub trait RandomStream {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A uniform value in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (by rejection, so without modulo bias).
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below: the range must not be empty");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// SplitMix64: a tiny, fast generator with a 64-bit state (Steele, Lea and Flood, 2014).
///
/// Its stream is fully specified by a few lines, which is why benchmark definitions use it to
/// give every framework the same weights and sample order.
///
/// ```
/// use tapegrad_autograd::random::{RandomStream, SplitMix64};
/// let mut r = SplitMix64::new(0);
/// assert_eq!(r.next_u64(), 0xE220A8397B1DCDAF);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The current state, for checkpoints.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// Restores a state saved with [`state`](Self::state).
    pub fn set_state(&mut self, state: u64) {
        self.state = state;
    }

    /// The next 64 random bits (also available through [`RandomStream`]).
    #[allow(clippy::should_implement_trait)]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        RandomStream::next_f64(self)
    }
}

impl RandomStream for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        SplitMix64::next_u64(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_check_value_and_stays_in_range() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        for _ in 0..1000 {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(7) < 7);
        }
    }
}
