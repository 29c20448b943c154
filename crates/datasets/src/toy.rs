//! Small data sets of the book chapters, and 2-D generators.
//!
//! * *Grokking Deep Learning* ch.3-5: the toes / win-loss record / fans tables ([`grokking`]).
//! * ch.6: the streetlights ([`streetlights`], [`streetlights_backprop`]).
//! * [`make_moons`] and [`make_circles`]: scikit-learn's formulas, seeded.
//! * [`sklearn`]: the same two generators drawing exactly what scikit-learn draws from numpy's
//!   global random stream, for reproducing a notebook that calls `np.random.seed(s)` and then
//!   `sklearn.datasets.make_moons(...)` (the Coursera course does).
//!
//! ```
//! use tapegrad_datasets::toy::{make_moons, streetlights};
//! let lights = streetlights::<f64>();
//! assert_eq!(lights.x.shape(), &[6, 3]);
//! let moons = make_moons::<f32>(300, 0.2, 3);
//! assert_eq!((moons.x.shape(), moons.y.shape()), (&[300, 2][..], &[300, 1][..]));
//! ```

use tapegrad_autograd::random::{NumpyRandomState, RandomStream, SplitMix64};
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
/// the rest on the lower one (label 1), as scikit-learn lays them out.
fn moons_layout(n_samples: usize) -> (Vec<[f64; 2]>, Vec<u8>) {
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

/// The points of the two circles before shuffling and noise, as scikit-learn lays them out.
#[track_caller]
fn circles_layout(n_samples: usize, factor: f64) -> (Vec<[f64; 2]>, Vec<u8>) {
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
    let (xs, ys) = moons_layout(n_samples);
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
    let (xs, ys) = circles_layout(n_samples, factor);
    finish(xs, ys, noise, seed)
}

/// scikit-learn's generators, drawing from numpy's legacy random stream exactly as scikit-learn
/// does when called without `random_state` (it then uses numpy's global `RandomState`).
///
/// A notebook's
///
/// ```python
/// np.random.seed(3)
/// train_X, train_Y = sklearn.datasets.make_moons(n_samples=300, noise=.2)
/// ```
///
/// is
///
/// ```
/// use tapegrad_autograd::random::NumpyRandomState;
/// use tapegrad_datasets::toy::sklearn;
/// let mut rng = NumpyRandomState::new(3);
/// let moons = sklearn::make_moons::<f64>(300, 0.2, &mut rng);
/// assert_eq!(moons.x.shape(), &[300, 2]);
/// ```
///
/// with the same 600 coordinates and 300 labels, in the same order, and `rng` left where
/// numpy's global stream is left. The draws: `sklearn.utils.shuffle` shuffles the row indices
/// with `RandomState.shuffle` (Fisher-Yates from the end), then
/// `generator.normal(scale=noise, size=(n, 2))` adds the noise in row-major order. The
/// cosines and sines are Rust's (the platform's libm); numpy's may differ from them in the
/// last bit on some CPUs.
pub mod sklearn {
    use super::*;

    /// Rows in numpy's shuffled order, plus `noise * standard_normal()` per coordinate.
    fn finish<T: Real>(
        xs: Vec<[f64; 2]>,
        ys: Vec<u8>,
        noise: f64,
        rng: &mut NumpyRandomState,
    ) -> Dataset<T> {
        let n = ys.len();
        let order = rng.permutation(n);
        let mut x = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        for &i in &order {
            x.extend(xs[i]);
            y.push(T::lit(f64::from(ys[i])));
        }
        let x = x
            .into_iter()
            .map(|v| {
                let e = if noise > 0.0 {
                    noise * rng.standard_normal()
                } else {
                    0.0
                };
                T::lit(v + e)
            })
            .collect();
        Dataset::new(tensor(&[n, 2], x), tensor(&[n, 1], y))
    }

    /// `sklearn.datasets.make_moons(n_samples, noise=noise)` on numpy's global stream `rng`
    /// (`noise = 0.0` is scikit-learn's `noise=None`: no draws for noise). `x` is `[n, 2]`,
    /// `y` is `[n, 1]` of 0/1.
    pub fn make_moons<T: Real>(
        n_samples: usize,
        noise: f64,
        rng: &mut NumpyRandomState,
    ) -> Dataset<T> {
        let (xs, ys) = moons_layout(n_samples);
        finish(xs, ys, noise, rng)
    }

    /// `sklearn.datasets.make_circles(n_samples, noise=noise, factor=factor)` on numpy's
    /// global stream `rng` (scikit-learn's default `factor` is 0.8).
    ///
    /// # Panics
    /// If `factor` is not in `[0, 1)`.
    #[track_caller]
    pub fn make_circles<T: Real>(
        n_samples: usize,
        noise: f64,
        factor: f64,
        rng: &mut NumpyRandomState,
    ) -> Dataset<T> {
        let (xs, ys) = circles_layout(n_samples, factor);
        finish(xs, ys, noise, rng)
    }
}
