//! Small data sets of the book chapters, and 2-D generators.
//!
//! * *Grokking Deep Learning* ch.3-5: the toes / win-loss record / fans tables ([`grokking`]).
//! * ch.6: the streetlights ([`streetlights`], [`streetlights_backprop`]).
//! * [`make_moons`] and [`make_circles`]: scikit-learn's formulas, seeded.
//! * [`moons_points`] and [`circles_points`]: their points before shuffling and noise, in
//!   scikit-learn's order, for drawing the shuffle and the noise from another stream.
//!
//! ```
//! use tapegrad_datasets::toy::{make_moons, streetlights};
//! let lights = streetlights::<f64>();
//! assert_eq!(lights.x.shape(), &[6, 3]);
//! let moons = make_moons::<f32>(300, 0.2, 3);
//! assert_eq!((moons.x.shape(), moons.y.shape()), (&[300, 2][..], &[300, 1][..]));
//! ```

use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{tensor, Real};

use crate::batch::{permutation, Dataset};

/// The tables of *Grokking Deep Learning* ch.3-5 (four games each).
pub mod grokking {
    /// ch.3's first example: toes per player for four games.
    pub const NUMBER_OF_TOES: [f64; 4] = [8.5, 9.5, 10.0, 9.0];
    /// Average number of toes per player (ch.3 multi-input and later).
    pub const TOES: [f64; 4] = [8.5, 9.5, 9.9, 9.0];
    /// Current games won (percent as a fraction).
    pub const WLREC: [f64; 4] = [0.65, 0.8, 0.8, 0.9];
    /// Fan count (millions).
    pub const NFANS: [f64; 4] = [1.2, 1.3, 0.5, 1.0];
    /// Whether the team won (ch.5).
    pub const WIN_OR_LOSE_BINARY: [f64; 4] = [1.0, 1.0, 0.0, 1.0];
    /// Players hurt (ch.5 multi-output targets).
    pub const HURT: [f64; 4] = [0.1, 0.0, 0.0, 0.9];
    /// Won (ch.5 multi-output targets).
    pub const WIN: [f64; 4] = [1.0, 1.0, 0.0, 1.0];
    /// Sad fans (ch.5 multi-output targets).
    pub const SAD: [f64; 4] = [0.1, 0.0, 0.1, 0.2];
}

/// The three inputs (toes, wlrec, nfans) of game `i` (0-3), as in ch.3-5.
///
/// # Panics
/// If `game > 3`.
pub fn game_inputs(game: usize) -> [f64; 3] {
    [
        grokking::TOES[game],
        grokking::WLREC[game],
        grokking::NFANS[game],
    ]
}

/// ch.6.6 streetlights: six light patterns `[6, 3]` and whether to walk `[6, 1]`.
///
/// `x = [[1,0,1],[0,1,1],[0,0,1],[1,1,1],[0,1,1],[1,0,1]]`, `y = [0,1,0,1,1,0]` (walk when the
/// middle light is on).
pub fn streetlights<T: Real>() -> Dataset<T> {
    let x = [1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1];
    let y = [0, 1, 0, 1, 1, 0];
    Dataset::new(
        tensor(&[6, 3], x.iter().map(|&v| T::lit(v as f64)).collect()),
        tensor(&[6, 1], y.iter().map(|&v| T::lit(v as f64)).collect()),
    )
}

/// ch.6.22 (first deep network, backpropagation): four patterns `[4, 3]`, targets `[4, 1]`.
///
/// `x = [[1,0,1],[0,1,1],[0,0,1],[1,1,1]]`, `y = [1,1,0,0]` (no single input correlates with
/// the target, which is why a hidden layer is needed).
pub fn streetlights_backprop<T: Real>() -> Dataset<T> {
    let x = [1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1];
    let y = [1, 1, 0, 0];
    Dataset::new(
        tensor(&[4, 3], x.iter().map(|&v| T::lit(v as f64)).collect()),
        tensor(&[4, 1], y.iter().map(|&v| T::lit(v as f64)).collect()),
    )
}

/// numpy's `linspace(start, stop, n, endpoint)`.
fn linspace(start: f64, stop: f64, n: usize, endpoint: bool) -> Vec<f64> {
    let div = if endpoint { n.saturating_sub(1) } else { n };
    if div == 0 {
        return vec![start; n];
    }
    let step = (stop - start) / div as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    if endpoint && n > 1 {
        v[n - 1] = stop;
    }
    v
}

/// A standard normal draw (Box-Muller).
fn normal<R: RandomStream>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.next_f64(); // in (0, 1]: log is finite
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Shuffles the points, adds N(0, noise²) to each coordinate, packs x `[n, 2]`, y `[n, 1]`.
fn finish<T: Real>(xs: Vec<[f64; 2]>, ys: Vec<u8>, noise: f64, seed: u64) -> Dataset<T> {
    let mut rng = SplitMix64::new(seed);
    let order = permutation(xs.len(), &mut rng);
    let mut x = Vec::with_capacity(xs.len() * 2);
    let mut y = Vec::with_capacity(xs.len());
    for &i in &order {
        for v in xs[i] {
            let e = if noise > 0.0 {
                noise * normal(&mut rng)
            } else {
                0.0
            };
            x.push(T::lit(v + e));
        }
        y.push(T::lit(ys[i] as f64));
    }
    let n = ys.len();
    Dataset::new(tensor(&[n, 2], x), tensor(&[n, 1], y))
}

/// The points of the two moons before shuffling and noise: `n / 2` on the upper moon (label 0),
/// the rest on the lower one (label 1), as scikit-learn lays them out. Returns the points and
/// their labels.
pub fn moons_points(n_samples: usize) -> (Vec<[f64; 2]>, Vec<u8>) {
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let mut xs = Vec::with_capacity(n_samples);
    for t in linspace(0.0, std::f64::consts::PI, n_out, true) {
        xs.push([t.cos(), t.sin()]);
    }
    for t in linspace(0.0, std::f64::consts::PI, n_in, true) {
        xs.push([1.0 - t.cos(), 1.0 - t.sin() - 0.5]);
    }
    (xs, [vec![0u8; n_out], vec![1u8; n_in]].concat())
}

/// The points of the two circles before shuffling and noise: `n / 2` on the large circle
/// (label 0), the rest on the small one (label 1), as scikit-learn lays them out. Returns the
/// points and their labels.
///
/// # Panics
/// If `factor` is not in `[0, 1)`.
#[track_caller]
pub fn circles_points(n_samples: usize, factor: f64) -> (Vec<[f64; 2]>, Vec<u8>) {
    assert!(
        (0.0..1.0).contains(&factor),
        "make_circles: factor must be in [0, 1), got {factor}"
    );
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let mut xs = Vec::with_capacity(n_samples);
    for t in linspace(0.0, std::f64::consts::TAU, n_out, false) {
        xs.push([t.cos(), t.sin()]);
    }
    for t in linspace(0.0, std::f64::consts::TAU, n_in, false) {
        xs.push([t.cos() * factor, t.sin() * factor]);
    }
    (xs, [vec![0u8; n_out], vec![1u8; n_in]].concat())
}

/// Two interleaving half circles (scikit-learn's `make_moons`, shuffled): label 0 on the upper
/// moon `(cos t, sin t)`, label 1 on the lower `(1 - cos t, 0.5 - sin t)`, `t` in `[0, π]`,
/// plus Gaussian noise of standard deviation `noise`. Same seed, same points.
pub fn make_moons<T: Real>(n_samples: usize, noise: f64, seed: u64) -> Dataset<T> {
    let (xs, ys) = moons_points(n_samples);
    finish(xs, ys, noise, seed)
}

/// A large circle (label 0, radius 1) around a small one (label 1, radius `factor`)
/// (scikit-learn's `make_circles`, shuffled), plus Gaussian noise of standard deviation
/// `noise`. Same seed, same points.
///
/// # Panics
/// If `factor` is not in `[0, 1)`.
#[track_caller]
pub fn make_circles<T: Real>(n_samples: usize, noise: f64, factor: f64, seed: u64) -> Dataset<T> {
    let (xs, ys) = circles_points(n_samples, factor);
    finish(xs, ys, noise, seed)
}
