//! numpy's legacy random stream, `np.random.seed(s)` / `np.random.RandomState(s)`: the MT19937
//! generator and numpy's ways of turning its words into floats, integers, normal samples and
//! shuffles, so that a chapter draws the book's weights, masks and orders number for number.

use tapegrad_autograd::random::RandomStream;

/// Numpy's legacy random stream: the MT19937 generator behind `np.random.seed(s)` and
/// `np.random.RandomState(s)`, with numpy's own ways of turning its 32-bit outputs into floats,
/// integers, normal samples and shuffles.
///
/// With the same seed it gives the same numbers as numpy, so the outputs printed in a book
/// chapter (weights from `np.random.random`, `np.random.randn`, dropout masks from
/// `np.random.randint(2, ...)`, shuffles from `np.random.permutation`) can be reproduced
/// exactly. Arrays are filled in C (row-major) order, like numpy's.
///
/// ```
/// use tapegrad_books::NumpyRandomState;
/// // np.random.seed(1); np.random.random(2)
/// let mut rng = NumpyRandomState::new(1);
/// assert_eq!(rng.random_sample(), 0.417022004702574);
/// assert_eq!(rng.random_sample(), 0.7203244934421581);
/// // np.random.seed(0); np.random.randn()
/// let mut rng = NumpyRandomState::new(0);
/// assert_eq!(rng.standard_normal(), 1.764052345967664);
/// ```
///
/// Through [`RandomStream`], `next_u64` is numpy's 64-bit draw (two 32-bit outputs, the first
/// in the high half), `next_f64` is [`random_sample`](Self::random_sample) and `below(n)` is
/// [`randint(n)`](Self::randint), so tapegrad code that draws through the trait (dropout,
/// initialisers, shuffles) consumes the stream the way the matching numpy call does.
#[derive(Clone)]
pub struct NumpyRandomState {
    key: Box<[u32; MT_N]>,
    /// The block before `key`'s, kept so that each block is computed from the last one
    /// without copying it.
    previous: Box<[u32; MT_N]>,
    pos: usize,
    gauss: Option<f64>,
}

const MT_N: usize = 624;
const MT_M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// A saved [`NumpyRandomState`]: the same fields as numpy's `RandomState.get_state()`
/// (`('MT19937', key, pos, has_gauss, cached_gaussian)`), for checkpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyState {
    /// The 624 words of the Mersenne Twister state.
    pub key: Vec<u32>,
    /// The position of the next word to temper, `0..=624` (624: regenerate first).
    pub pos: usize,
    /// The second value of the last polar Box-Muller pair, not yet returned by
    /// [`standard_normal`](NumpyRandomState::standard_normal).
    pub cached_gaussian: Option<f64>,
}

impl std::fmt::Debug for NumpyRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumpyRandomState")
            .field("pos", &self.pos)
            .field("cached_gaussian", &self.gauss)
            .finish_non_exhaustive()
    }
}

impl PartialEq for NumpyRandomState {
    fn eq(&self, other: &Self) -> bool {
        self.key[..] == other.key[..]
            && self.pos == other.pos
            && self.gauss.map(f64::to_bits) == other.gauss.map(f64::to_bits)
    }
}

impl NumpyRandomState {
    /// The stream of `np.random.seed(seed)` (any seed numpy accepts: `0..=2**32 - 1`).
    pub fn new(seed: u32) -> Self {
        let mut key = Box::new([0u32; MT_N]);
        let mut s = seed;
        for (i, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(i as u32 + 1);
        }
        NumpyRandomState {
            key,
            previous: Box::new([0; MT_N]),
            pos: MT_N,
            gauss: None,
        }
    }

    /// Restarts the stream as `np.random.seed(seed)` does.
    pub fn seed(&mut self, seed: u32) {
        *self = Self::new(seed);
    }

    /// The full state, for checkpoints (numpy's `get_state()`).
    pub fn state(&self) -> NumpyState {
        NumpyState {
            key: self.key.to_vec(),
            pos: self.pos,
            cached_gaussian: self.gauss,
        }
    }

    /// Restores a state saved with [`state`](Self::state), or taken from numpy's
    /// `get_state()`.
    ///
    /// # Panics
    /// If `state.key` does not hold 624 words or `state.pos` exceeds 624.
    #[track_caller]
    pub fn set_state(&mut self, state: &NumpyState) {
        assert!(
            state.key.len() == MT_N && state.pos <= MT_N,
            "NumpyRandomState::set_state: expected 624 key words and pos <= 624, got {} words \
             and pos {}",
            state.key.len(),
            state.pos
        );
        self.key.copy_from_slice(&state.key);
        self.pos = state.pos;
        self.gauss = state.cached_gaussian;
    }

    /// The next block of 624 words. Word `i` mixes the old words `i` and `i + 1` into the
    /// word 397 places on (wrapping around): an old word for the first 227, a new one after
    /// that. Split at 227 and 454, each part reads only old words and new words of an earlier
    /// part, so each is one elementwise pass (vectorised) over slices that do not overlap.
    fn regenerate(&mut self) {
        const FIRST: usize = MT_N - MT_M;
        std::mem::swap(&mut self.key, &mut self.previous);
        let (old, new) = (&*self.previous, &mut *self.key);
        let twist_into = |new: &mut [u32], upper: &[u32], lower: &[u32], far: &[u32]| {
            for (((n, &u), &l), &f) in new.iter_mut().zip(upper).zip(lower).zip(far) {
                *n = twist(u, l, f);
            }
        };
        twist_into(&mut new[..FIRST], &old[..FIRST], &old[1..], &old[MT_M..]);
        let (done, rest) = new.split_at_mut(FIRST);
        twist_into(&mut rest[..FIRST], &old[FIRST..], &old[FIRST + 1..], done);
        let (done, rest) = new.split_at_mut(2 * FIRST);
        let last = MT_N - 1 - 2 * FIRST;
        twist_into(
            &mut rest[..last],
            &old[2 * FIRST..],
            &old[2 * FIRST + 1..],
            &done[FIRST..],
        );
        new[MT_N - 1] = twist(old[MT_N - 1], new[0], new[MT_M - 1]);
        self.pos = 0;
    }

    /// The next 32-bit output of MT19937.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == MT_N {
            self.regenerate();
        }
        let y = self.key[self.pos];
        self.pos += 1;
        temper(y)
    }

    /// Numpy's 64-bit draw: two 32-bit outputs, the first in the high half.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    /// A uniform value in `[0, 1)`, as `np.random.random()` (also `random_sample`, `rand`):
    /// 53 bits from two 32-bit outputs `a` and `b`, `((a >> 5) 2^26 + (b >> 6)) / 2^53`.
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// Fills `out` in order with [`random_sample`](Self::random_sample) values, as
    /// `np.random.random(shape)` fills its array in C order.
    pub fn fill_random(&mut self, out: &mut [f64]) {
        for x in out {
            *x = self.random_sample();
        }
    }

    /// A uniform value in `[low, high)`, as `np.random.uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `np.random.randint(2)`: the lowest bit of one 32-bit output (the `0/1` dropout masks of
    /// Grokking Deep Learning).
    #[inline]
    pub fn randint2(&mut self) -> u64 {
        u64::from(self.next_u32() & 1)
    }

    /// `np.random.randint(2, size=out.len())` as 0s and 1s: the same draws as that many
    /// [`randint2`](Self::randint2) calls, several times faster (the words of each
    /// regenerated block are tempered in one vectorised pass).
    ///
    /// ```
    /// use tapegrad_books::NumpyRandomState;
    /// let (mut a, mut b) = (NumpyRandomState::new(1), NumpyRandomState::new(1));
    /// let mut bits = [0u8; 1000];
    /// a.fill_randint2(&mut bits);
    /// assert!(bits.iter().all(|&bit| u64::from(bit) == b.randint2()));
    /// ```
    pub fn fill_randint2(&mut self, out: &mut [u8]) {
        let mut rest = out;
        while !rest.is_empty() {
            if self.pos == MT_N {
                self.regenerate();
            }
            let n = (MT_N - self.pos).min(rest.len());
            let (now, later) = rest.split_at_mut(n);
            for (o, &y) in now.iter_mut().zip(&self.key[self.pos..self.pos + n]) {
                *o = tempered_low_bit(y) as u8;
            }
            self.pos += n;
            rest = later;
        }
    }

    /// `np.random.randint(2, size=count)` packed into bits, 64 a word: draw `i` is bit
    /// `i % 64` of `words[i / 64]` (the bits past `count` are 0). The same draws as
    /// [`fill_randint2`](Self::fill_randint2), a few times faster again, and an eighth of the
    /// memory: the Grokking dropout masks of a whole batch, to be spread out as needed.
    ///
    /// ```
    /// use tapegrad_books::NumpyRandomState;
    /// let (mut a, mut b) = (NumpyRandomState::new(1), NumpyRandomState::new(1));
    /// let mut words = [0u64; 2];
    /// a.fill_randint2_bits(100, &mut words);
    /// for i in 0..100 {
    ///     assert_eq!((words[i / 64] >> (i % 64)) & 1, b.randint2());
    /// }
    /// assert_eq!(words[1] >> 36, 0);
    /// ```
    ///
    /// # Panics
    /// If `words` does not hold exactly `count.div_ceil(64)` words.
    #[track_caller]
    pub fn fill_randint2_bits(&mut self, count: usize, words: &mut [u64]) {
        assert_eq!(
            words.len(),
            count.div_ceil(64),
            "fill_randint2_bits: {count} draws need {} words",
            count.div_ceil(64)
        );
        words.fill(0);
        let mut done = 0;
        while done < count {
            if self.pos == MT_N {
                self.regenerate();
            }
            // A run stays within one block and one output word.
            let n = (MT_N - self.pos).min(count - done).min(64 - done % 64);
            let run = &self.key[self.pos..self.pos + n];
            let bits = match <&[u32; 64]>::try_from(run) {
                Ok(whole) => low_bits(whole),
                // A zero word's bit is 0, so a short run is padded with zeros.
                Err(_) => {
                    let mut padded = [0; 64];
                    padded[..n].copy_from_slice(run);
                    low_bits(&padded)
                }
            };
            words[done / 64] |= bits << (done % 64);
            self.pos += n;
            done += n;
        }
    }

    /// A uniform integer in `[0, high)`, as `np.random.randint(high)`: numpy draws a 32-bit
    /// output (a 64-bit draw when `high - 1` needs more than 32 bits), keeps the bits under
    /// the smallest all-ones mask covering `high - 1`, and draws again while the result
    /// exceeds `high - 1`.
    ///
    /// # Panics
    /// If `high` is 0 (numpy: "high <= 0").
    #[track_caller]
    pub fn randint(&mut self, high: u64) -> u64 {
        assert!(high > 0, "randint: high must be positive, got 0");
        self.random_interval(high - 1)
    }

    /// Fills `out` with [`randint(high)`](Self::randint) values, as
    /// `np.random.randint(high, size=...)`.
    #[track_caller]
    pub fn fill_randint(&mut self, high: u64, out: &mut [u64]) {
        for x in out {
            *x = self.randint(high);
        }
    }

    /// A uniform integer in `[0, max]` by masked rejection (numpy's `random_interval`).
    fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= max {
                    return v;
                }
            }
        }
    }

    /// A standard normal sample, as `np.random.randn()` / `np.random.standard_normal()`:
    /// numpy's legacy polar Box-Muller method, which makes two samples per accepted point and
    /// returns the second one on the next call.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// Fills `out` in order with [`standard_normal`](Self::standard_normal) samples, as
    /// `np.random.randn(d0, d1, ...)` fills its array in C order.
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        for x in out {
            *x = self.standard_normal();
        }
    }

    /// Shuffles `items` in place as `np.random.shuffle` does (for a 1-d array, or the rows of
    /// an n-d array): Fisher-Yates from the end, `for i in (1..n).rev()` swapping `i` with
    /// `j = randint(i + 1)`.
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            let j = self.random_interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// A random permutation of `0..n`, as `np.random.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }
}

impl RandomStream for NumpyRandomState {
    fn next_u64(&mut self) -> u64 {
        NumpyRandomState::next_u64(self)
    }

    fn next_f64(&mut self) -> f64 {
        self.random_sample()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.randint(n)
    }
}

/// The lowest bits of 64 tempered words, word `j` in bit `j`: a fixed-size loop of bit tests,
/// which becomes a few vector instructions per 16 words.
#[inline(always)]
fn low_bits(words: &[u32; 64]) -> u64 {
    let mut bits = 0;
    for (j, &y) in words.iter().enumerate() {
        if tempered_low_bit(y) != 0 {
            bits |= 1 << j;
        }
    }
    bits
}

/// `temper(y) & 1`, the draw of `randint(2)`. Tempering is linear over GF(2) (shifts, masks
/// and exclusive ors), so its lowest bit is the parity of a fixed subset of `y`'s bits:
/// bits 0, 3, 14, 18, 22 and 29 (worked through the four steps; the test checks all 32 unit
/// vectors, which by linearity checks every word).
#[inline(always)]
fn tempered_low_bit(y: u32) -> u32 {
    (y & TEMPERED_LOW_BIT_TAPS).count_ones() & 1
}

/// The bits of a raw word whose parity is its tempered lowest bit.
const TEMPERED_LOW_BIT_TAPS: u32 = 1 | 1 << 3 | 1 << 14 | 1 << 18 | 1 << 22 | 1 << 29;

/// One word of the Mersenne Twister's recurrence: the top bit of `upper`, the low 31 of
/// `lower`, shifted and mixed into `far`.
#[inline(always)]
fn twist(upper: u32, lower: u32, far: u32) -> u32 {
    let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
    far ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
}

/// MT19937's output transformation of one word of its state.
#[inline(always)]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filling_bits_continues_the_stream_across_blocks() {
        let (mut a, mut b) = (NumpyRandomState::new(7), NumpyRandomState::new(7));
        // Start in the middle of a block, cross several, and go on with single draws.
        assert_eq!(a.random_sample(), b.random_sample());
        let mut bits = vec![0u8; 3 * 624 + 5];
        a.fill_randint2(&mut bits);
        let one_by_one: Vec<u8> = bits.iter().map(|_| b.randint2() as u8).collect();
        assert_eq!(bits, one_by_one);
        assert_eq!(a.next_u32(), b.next_u32());
        a.fill_randint2(&mut []);
        assert_eq!(a.next_u32(), b.next_u32());
    }

    #[test]
    fn the_tempered_low_bit_is_a_parity() {
        for bit in 0..32 {
            let y = 1u32 << bit;
            assert_eq!(tempered_low_bit(y), temper(y) & 1, "unit vector {bit}");
        }
        let mut rng = NumpyRandomState::new(3);
        for _ in 0..10_000 {
            let y = rng.next_u32();
            assert_eq!(tempered_low_bit(y), temper(y) & 1, "{y:#x}");
        }
    }

    /// The recurrence one word at a time, as numpy writes it.
    fn regenerate_one_by_one(k: &mut [u32; MT_N]) {
        for i in 0..MT_N {
            k[i] = twist(k[i], k[(i + 1) % MT_N], k[(i + MT_M) % MT_N]);
        }
    }

    #[test]
    fn the_vectorised_twist_is_the_recurrence() {
        let mut rng = NumpyRandomState::new(5489);
        let mut reference = rng.key.clone();
        for _ in 0..20 {
            rng.regenerate();
            regenerate_one_by_one(&mut reference);
            assert_eq!(rng.key[..], reference[..]);
        }
    }

    #[test]
    fn packed_bits_are_the_same_draws() {
        // Odd counts, starts in the middle of a block and of nothing, runs crossing blocks.
        for (skip, count) in [
            (0, 1usize),
            (3, 64),
            (5, 65),
            (600, 200),
            (1, 10_000),
            (623, 1249),
        ] {
            let (mut a, mut b) = (NumpyRandomState::new(9), NumpyRandomState::new(9));
            for _ in 0..skip {
                a.next_u32();
                b.next_u32();
            }
            let mut words = vec![u64::MAX; count.div_ceil(64)];
            a.fill_randint2_bits(count, &mut words);
            for i in 0..count {
                assert_eq!((words[i / 64] >> (i % 64)) & 1, b.randint2(), "draw {i}");
            }
            if count % 64 != 0 {
                assert_eq!(words[count / 64] >> (count % 64), 0, "bits past the count");
            }
            assert_eq!(
                a.next_u32(),
                b.next_u32(),
                "the stream goes on from the same place"
            );
        }
    }

    #[test]
    #[should_panic(expected = "fill_randint2_bits: 65 draws need 2 words")]
    fn packed_bits_need_the_right_number_of_words() {
        NumpyRandomState::new(1).fill_randint2_bits(65, &mut [0; 1]);
    }

    // Reference values printed by numpy 2.4.6 (`np.random.seed(s)` then the call named in
    // each test); numpy's legacy RandomState stream has been frozen since numpy 1.17.
    const SEEDS: [u32; 4] = [1, 0, 133, u32::MAX];

    #[test]
    fn raw_outputs_and_seeding_match_numpy() {
        let raw: [[u32; 3]; 4] = [
            [1791095845, 4282876139, 3093770124],
            [2357136044, 2546248239, 3071714933],
            [1801775777, 1557986184, 556889144],
            [419326371, 479346978, 3918654476],
        ];
        let key: [[u32; 3]; 4] = [
            [1, 1812433254, 3713160357],
            [0, 1, 1812433255],
            [133, 535454074, 670613284],
            [4294967295, 1340201581, 3941791902],
        ];
        for ((&s, r), k) in SEEDS.iter().zip(raw).zip(key) {
            let mut rng = NumpyRandomState::new(s);
            let st = rng.state();
            assert_eq!(&st.key[..3], &k, "seed {s}");
            assert_eq!(st.pos, 624);
            let got: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
            assert_eq!(got, r, "seed {s}");
        }
    }

    #[test]
    fn random_sample_matches_numpy_random() {
        let expected: [[f64; 5]; 4] = [
            [
                0.417022004702574,
                0.7203244934421581,
                0.00011437481734488664,
                0.30233257263183977,
                0.14675589081711304,
            ],
            [
                0.5488135039273248,
                0.7151893663724195,
                0.6027633760716439,
                0.5448831829968969,
                0.4236547993389047,
            ],
            [
                0.4195086163487056,
                0.12966085928477078,
                0.1095561231138934,
                0.14224351487779285,
                0.439268134199426,
            ],
            [
                0.0976320289940138,
                0.9123828453026218,
                0.78903530185164,
                0.7800035981134678,
                0.01793967398674523,
            ],
        ];
        for (&s, e) in SEEDS.iter().zip(expected) {
            let mut rng = NumpyRandomState::new(s);
            let mut got = [0.0; 5];
            rng.fill_random(&mut got);
            assert_eq!(got, e, "seed {s}");
            // The trait's float is the same draw.
            let mut rng = NumpyRandomState::new(s);
            assert_eq!(RandomStream::next_f64(&mut rng), e[0]);
        }
        // np.random.seed(1); np.random.randn(2, 3); np.random.random((2, 2))
        let mut rng = NumpyRandomState::new(1);
        let mut n = [0.0; 6];
        rng.fill_standard_normal(&mut n);
        assert_eq!(n[5], -2.3015386968802827);
        let mut u = [0.0; 4];
        rng.fill_random(&mut u);
        assert_eq!(
            u,
            [
                0.4191945144032948,
                0.6852195003967595,
                0.20445224973151743,
                0.8781174363909454
            ]
        );
        // np.random.seed(3); np.random.uniform(-1, 1)
        assert_eq!(
            NumpyRandomState::new(3).uniform(-1.0, 1.0),
            0.10159580514915101
        );
    }

    #[test]
    fn randint_matches_numpy() {
        let two: [[u64; 20]; 4] = [
            [1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0],
            [0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
            [1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ];
        let ten: [[u64; 12]; 4] = [
            [5, 8, 9, 5, 0, 0, 1, 7, 6, 9, 2, 4],
            [5, 0, 3, 3, 7, 9, 3, 5, 2, 4, 7, 6],
            [1, 8, 8, 1, 6, 4, 5, 2, 6, 9, 5, 6],
            [3, 2, 7, 4, 0, 6, 9, 0, 2, 6, 7, 7],
        ];
        let thousand: [[u64; 8]; 4] = [
            [37, 235, 908, 72, 767, 905, 715, 645],
            [684, 559, 629, 192, 835, 763, 707, 359],
            [673, 904, 56, 1, 694, 876, 564, 253],
            [419, 290, 12, 71, 948, 576, 214, 506],
        ];
        let big: [[u64; 4]; 4] = [
            [8577843435, 4005303368, 1703301249, 1666063943],
            [2546248239, 7921061056, 6973152979, 5945874162],
            [5852953480, 4053287937, 1673454845, 8396858914],
            [2416749639, 2260532800, 5512855328, 6319244169],
        ];
        for (i, &s) in SEEDS.iter().enumerate() {
            let mut rng = NumpyRandomState::new(s);
            let got: Vec<u64> = (0..20).map(|_| rng.randint2()).collect();
            assert_eq!(got, two[i], "randint(2), seed {s}");
            let mut rng = NumpyRandomState::new(s);
            let got: Vec<u64> = (0..20).map(|_| rng.randint(2)).collect();
            assert_eq!(got, two[i], "randint(2) through the general path, seed {s}");
            let mut rng = NumpyRandomState::new(s);
            let mut got = [0u64; 12];
            rng.fill_randint(10, &mut got);
            assert_eq!(got, ten[i], "randint(10), seed {s}");
            let mut rng = NumpyRandomState::new(s);
            let got: Vec<u64> = (0..8).map(|_| rng.below(1000)).collect();
            assert_eq!(got, thousand[i], "randint(1000), seed {s}");
            let mut rng = NumpyRandomState::new(s);
            let got: Vec<u64> = (0..4).map(|_| rng.randint((1 << 33) + 5)).collect();
            assert_eq!(got, big[i], "randint(2**33 + 5), seed {s}");
        }
        // np.random.seed(5); randint(2**32, size=3); randint(2**64 - 1, size=2, dtype=np.uint64)
        let mut rng = NumpyRandomState::new(5);
        let got: Vec<u64> = (0..3).map(|_| rng.randint(1 << 32)).collect();
        assert_eq!(got, [953453411, 236996814, 3739766767]);
        let got: Vec<u64> = (0..2).map(|_| rng.randint(u64::MAX)).collect();
        assert_eq!(got, [15335291906484308966, 6709761423161562512]);
    }

    #[test]
    fn standard_normal_matches_numpy_randn() {
        let expected: [[f64; 5]; 4] = [
            [
                1.6243453636632417,
                -0.6117564136500754,
                -0.5281717522634557,
                -1.0729686221561705,
                0.8654076293246785,
            ],
            [
                1.764052345967664,
                0.4001572083672233,
                0.9787379841057392,
                2.240893199201458,
                1.8675579901499675,
            ],
            [
                -1.0288060745190006,
                -0.2236059204732223,
                1.6342201788945696,
                -0.4171839252714223,
                -0.6342603591895617,
            ],
            [
                0.6484086742306527,
                0.6693235306338161,
                -1.0805437227474493,
                0.2845010447986309,
                0.11388773652167104,
            ],
        ];
        for (&s, e) in SEEDS.iter().zip(expected) {
            let mut rng = NumpyRandomState::new(s);
            let got: Vec<f64> = (0..5).map(|_| rng.standard_normal()).collect();
            assert_eq!(got, e, "seed {s}");
        }
    }

    #[test]
    fn shuffle_and_permutation_match_numpy() {
        let perm10: [[usize; 10]; 4] = [
            [2, 9, 6, 4, 0, 3, 1, 7, 8, 5],
            [2, 8, 4, 9, 1, 6, 7, 3, 0, 5],
            [2, 7, 3, 6, 5, 4, 9, 0, 8, 1],
            [6, 9, 5, 1, 8, 0, 7, 4, 2, 3],
        ];
        let shuffle7: [[i32; 7]; 4] = [
            [6, 2, 1, 0, 4, 3, 5],
            [6, 2, 1, 3, 0, 5, 4],
            [3, 4, 2, 6, 5, 0, 1],
            [1, 5, 0, 6, 4, 2, 3],
        ];
        for (i, &s) in SEEDS.iter().enumerate() {
            assert_eq!(NumpyRandomState::new(s).permutation(10), perm10[i]);
            let mut a: Vec<i32> = (0..7).collect();
            NumpyRandomState::new(s).shuffle(&mut a);
            assert_eq!(a, shuffle7[i], "seed {s}");
        }
        // Rows of a [5, 2] array: np.random.seed(3); np.random.shuffle(a); a[:, 0]
        let mut rows: Vec<[i32; 2]> = (0..5).map(|r| [2 * r, 2 * r + 1]).collect();
        NumpyRandomState::new(3).shuffle(&mut rows);
        let firsts: Vec<i32> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(firsts, [6, 8, 2, 0, 4]);
        // np.random.seed(5); np.random.permutation(300)[:10]
        let p = NumpyRandomState::new(5).permutation(300);
        assert_eq!(p[..10], [66, 239, 250, 224, 24, 286, 234, 233, 49, 293]);
    }

    #[test]
    fn state_round_trips_and_matches_numpy_get_state() {
        // np.random.seed(1); np.random.random(3); np.random.randn(3); np.random.get_state()
        let mut rng = NumpyRandomState::new(1);
        let mut sink = [0.0; 3];
        rng.fill_random(&mut sink);
        rng.fill_standard_normal(&mut sink);
        let st = rng.state();
        assert_eq!(st.pos, 18);
        assert_eq!((st.key[0], st.key[623]), (2629073562, 116925273));
        assert_eq!(st.cached_gaussian, Some(-1.6545154524065693));
        // np.random.seed(2); randn(); st = get_state(); randn(); random(); set_state(st)
        let mut rng = NumpyRandomState::new(2);
        rng.standard_normal();
        let saved = rng.state();
        let (b, c) = (rng.standard_normal(), rng.random_sample());
        assert_eq!((b, c), (-0.056266827226329474, 0.5496624778787091));
        let mut other = NumpyRandomState::new(99);
        other.set_state(&saved);
        assert_eq!((other.standard_normal(), other.random_sample()), (b, c));
        assert_eq!(other, rng);
        other.seed(2);
        assert_eq!(other, NumpyRandomState::new(2));
    }
}
