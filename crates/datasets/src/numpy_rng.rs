//! numpy's legacy random stream (`np.random.seed(s)`: MT19937), for reproducing the exact
//! shuffles of reference programs.
//!
//! Everything in tapegrad takes any [`RandomStream`]; pass a [`NumpyRandomState`] where a
//! program must match a numpy script draw for draw (e.g. the Udacity notMNIST
//! `merge_datasets`, which calls `np.random.seed(133)` then `np.random.shuffle` per letter).
//!
//! ```
//! use tapegrad_autograd::random::RandomStream;
//! use tapegrad_datasets::numpy_rng::NumpyRandomState;
//! let mut rs = NumpyRandomState::new(0);
//! // np.random.seed(0); np.random.random()
//! assert_eq!(rs.random_sample(), 0.5488135039273248);
//! ```

use tapegrad_autograd::random::RandomStream;

const N: usize = 624;
const M: usize = 397;

/// MT19937 seeded like `np.random.seed(seed)` (numpy's `RandomState`).
///
/// As a [`RandomStream`], `next_u64` is numpy's 64-bit draw (two 32-bit outputs, high word
/// first) and `below(n)` is numpy's `random_interval(n - 1)` (masked rejection), so
/// [`shuffle_in_place`](crate::batch::shuffle_in_place) reproduces `np.random.shuffle`.
#[derive(Clone)]
pub struct NumpyRandomState {
    mt: Box<[u32; N]>,
    pos: usize,
}

impl std::fmt::Debug for NumpyRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NumpyRandomState {{ pos: {} }}", self.pos)
    }
}

impl NumpyRandomState {
    /// The state after `np.random.seed(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut mt = Box::new([0u32; N]);
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandomState { mt, pos: N }
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.mt[i] & UPPER) | (self.mt[(i + 1) % N] & LOWER);
            let mut v = self.mt[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MATRIX_A;
            }
            self.mt[i] = v;
        }
        self.pos = 0;
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.generate();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `np.random.random()`: 53 random bits from two 32-bit outputs.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        } else {
            loop {
                let v = RandomStream::next_u64(self) & mask;
                if v <= max {
                    return v;
                }
            }
        }
    }
}

impl RandomStream for NumpyRandomState {
    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    fn next_f64(&mut self) -> f64 {
        self.random_sample()
    }

    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below: the range must not be empty");
        self.random_interval(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_first_draws() {
        // np.random.seed(1); np.random.random() -- the first weight of Grokking's nets.
        assert_eq!(NumpyRandomState::new(1).random_sample(), 0.417022004702574);
        // Reference MT19937 output for init_genrand(5489).
        assert_eq!(NumpyRandomState::new(5489).next_u32(), 3_499_211_612);
    }
}
