//! scikit-learn's generators, drawing from numpy's legacy random stream exactly as scikit-learn
//! does when called without `random_state` (it then uses numpy's global `RandomState`).
//!
//! A notebook's
//!
//! ```python
//! np.random.seed(3)
//! train_X, train_Y = sklearn.datasets.make_moons(n_samples=300, noise=.2)
//! ```
//!
//! is
//!
//! ```
//! use tapegrad_books::{sklearn, NumpyRandomState};
//! let mut rng = NumpyRandomState::new(3);
//! let moons = sklearn::make_moons::<f64>(300, 0.2, &mut rng);
//! assert_eq!(moons.x.shape(), &[300, 2]);
//! ```
//!
//! with the same 600 coordinates and 300 labels, in the same order, and `rng` left where
//! numpy's global stream is left. The draws: `sklearn.utils.shuffle` shuffles the row indices
//! with `RandomState.shuffle` (Fisher-Yates from the end), then
//! `generator.normal(scale=noise, size=(n, 2))` adds the noise in row-major order. The
//! cosines and sines are Rust's (the platform's libm); numpy's may differ from them in the
//! last bit on some CPUs.

use tapegrad_autograd::{tensor, Real};
use tapegrad_datasets::toy::{circles_points, moons_points};
use tapegrad_datasets::Dataset;

use crate::NumpyRandomState;

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
pub fn make_moons<T: Real>(n_samples: usize, noise: f64, rng: &mut NumpyRandomState) -> Dataset<T> {
    let (xs, ys) = moons_points(n_samples);
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
    let (xs, ys) = circles_points(n_samples, factor);
    finish(xs, ys, noise, rng)
}
