//! Random numbers, shapes and leaf values for the generator, and the checks that keep a
//! computed value away from the kinks of the op about to be applied to it.

use ndarray::{IxDyn, Zip};
use tapegrad::autograd::random::SplitMix64;
use tapegrad::autograd::{tensor, Tensor};

/// The largest leaf the generator makes, in elements: small enough that a few hundred
/// programs run in seconds, large enough for every axis to have several entries.
pub const MAX_LEAF: usize = 120;

/// A seeded source of the generator's choices.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.0.next_f64() < p
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.next_f64()
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// `axis` of `ndim` dimensions, written as a negative axis half of the time.
    pub fn axis_form(&mut self, axis: usize, ndim: usize) -> isize {
        if self.chance(0.5) {
            axis as isize - ndim as isize
        } else {
            axis as isize
        }
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }

    /// A shape of rank `lo..=hi` with sides 1 to 4 and at most [`MAX_LEAF`] elements.
    pub fn shape(&mut self, lo: usize, hi: usize) -> Vec<usize> {
        let rank = self.range(lo, hi);
        let mut shape: Vec<usize> = (0..rank).map(|_| self.range(1, 4)).collect();
        while shape.iter().product::<usize>() > MAX_LEAF {
            let i = self.below(rank);
            shape[i] = (shape[i] / 2).max(1);
        }
        shape
    }
}

/// How a leaf's values are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// `±[0.1, 2]`: away from 0 and from each other, the ordinary case.
    Smooth,
    /// Multiples of 1/4 in `[-2, 2]`: exact zeros (relu, abs, leaky relu at their kinks),
    /// ties (max, min, maximum, max pooling) and values on clamp's bounds.
    Grid,
    /// `±[4, 40]`: saturated sigmoid, tanh and softplus, large exponentials, softmax and
    /// log-softmax of widely spread logits.
    Wide,
    /// `[0.2, 3]`: in the domain of ln, sqrt and real powers.
    Positive,
    /// `[0, 1]` with some exact 0s and 1s: binary cross-entropy targets.
    UnitInterval,
    /// Rows (along the last axis) of non-negative values summing to 1, some one-hot:
    /// softmax cross-entropy targets.
    Distribution,
}

impl Fill {
    /// The fills for a leaf without special needs.
    pub const GENERAL: [Fill; 5] = [
        Fill::Smooth,
        Fill::Smooth,
        Fill::Grid,
        Fill::Wide,
        Fill::Positive,
    ];
}

/// A leaf of `shape` filled as `fill` says.
pub fn fill(rng: &mut Rng, shape: &[usize], fill: Fill) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let signed = |rng: &mut Rng, lo: f64, hi: f64| {
        let m = rng.uniform(lo, hi);
        if rng.chance(0.5) {
            -m
        } else {
            m
        }
    };
    let data: Vec<f64> = match fill {
        Fill::Smooth => (0..n).map(|_| signed(rng, 0.1, 2.0)).collect(),
        Fill::Grid => (0..n)
            .map(|_| rng.range(0, 16) as f64 / 4.0 - 2.0)
            .collect(),
        Fill::Wide => (0..n).map(|_| signed(rng, 4.0, 40.0)).collect(),
        Fill::Positive => (0..n).map(|_| rng.uniform(0.2, 3.0)).collect(),
        Fill::UnitInterval => (0..n)
            .map(|_| match rng.below(6) {
                0 => 0.0,
                1 => 1.0,
                _ => rng.uniform(0.0, 1.0),
            })
            .collect(),
        Fill::Distribution => {
            let c = shape.last().copied().unwrap_or(1);
            let mut data = Vec::with_capacity(n);
            for _ in 0..n / c.max(1) {
                if rng.chance(0.3) {
                    let hot = rng.below(c);
                    data.extend((0..c).map(|j| if j == hot { 1.0 } else { 0.0 }));
                } else {
                    let row: Vec<f64> = (0..c).map(|_| rng.uniform(0.05, 1.0)).collect();
                    let total: f64 = row.iter().sum();
                    data.extend(row.iter().map(|v| v / total));
                }
            }
            data
        }
    };
    tensor(shape, data)
}

/// numpy's broadcast of two shapes, or `None`.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let side = |s: &[usize], i: usize| (i + s.len()).checked_sub(n).map(|j| s[j]).unwrap_or(1);
    (0..n)
        .map(|i| match (side(a, i), side(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// A shape that broadcasts with `s`: `s` itself, a suffix of it, `s` with some sides 1, `s`
/// under new leading axes, or a scalar. With `into_s`, only shapes that broadcast *to* `s`.
pub fn partner_shape(rng: &mut Rng, s: &[usize], into_s: bool) -> Vec<usize> {
    let choice = rng.below(if into_s { 4 } else { 5 });
    match choice {
        0 => s.to_vec(),
        1 => s[rng.below(s.len() + 1)..].to_vec(),
        2 => s
            .iter()
            .map(|&d| if rng.chance(0.5) { 1 } else { d })
            .collect(),
        3 => Vec::new(),
        _ => {
            let mut out: Vec<usize> = (0..rng.range(1, 2)).map(|_| rng.range(1, 3)).collect();
            out.extend_from_slice(s);
            if out.iter().product::<usize>() > 4 * MAX_LEAF {
                s.to_vec()
            } else {
                out
            }
        }
    }
}

/// The margin a computed (not exactly reproducible) value must keep from a kink: rounding
/// differences between two correct implementations are around 1e-16 of the magnitudes
/// involved, far below it.
pub fn margin(t: &Tensor<f64>) -> f64 {
    1e-7 * (1.0 + t.iter().fold(0.0f64, |m, x| m.max(x.abs())))
}

/// Whether every element is at least [`margin`] away from each of `points`.
pub fn away_from(t: &Tensor<f64>, points: &[f64]) -> bool {
    let d = margin(t);
    t.iter().all(|x| points.iter().all(|p| (x - p).abs() > d))
}

/// Whether `a` and `b` (broadcast) differ by at least the margin everywhere.
pub fn apart(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
    let Some(shape) = broadcast_shape(a.shape(), b.shape()) else {
        return false;
    };
    let d = margin(a).max(margin(b));
    let (av, bv) = (
        a.broadcast(IxDyn(&shape)).expect("broadcasts"),
        b.broadcast(IxDyn(&shape)).expect("broadcasts"),
    );
    Zip::from(&av).and(&bv).all(|x, y| (x - y).abs() > d)
}

/// Whether, in every group of elements reduced together (`axes`, sorted), one element is
/// the largest (or smallest) by at least the margin: no near tie that rounding could break
/// differently.
pub fn unique_extremes(t: &Tensor<f64>, axes: &[usize], max: bool) -> bool {
    let d = margin(t);
    let sign = if max { 1.0 } else { -1.0 };
    let shape = t.shape();
    let key = |idx: &IxDyn| {
        (0..shape.len())
            .filter(|k| !axes.contains(k))
            .fold(0usize, |acc, k| acc * shape[k] + idx[k])
    };
    let groups: usize = (0..shape.len())
        .filter(|k| !axes.contains(k))
        .map(|k| shape[k])
        .product();
    let mut best = vec![f64::NEG_INFINITY; groups];
    for (idx, &x) in t.indexed_iter() {
        let g = key(&idx);
        best[g] = best[g].max(sign * x);
    }
    let mut near = vec![0usize; groups];
    for (idx, &x) in t.indexed_iter() {
        let g = key(&idx);
        if sign * x >= best[g] - d {
            near[g] += 1;
        }
    }
    near.iter().all(|&n| n == 1)
}

/// Whether every max-pooling window of `[N, C, H, W]` images has one clear maximum.
pub fn unique_window_maxima(
    t: &Tensor<f64>,
    kernel: (usize, usize),
    stride: (usize, usize),
) -> bool {
    let d = margin(t);
    let s = t.shape();
    let (ho, wo) = (
        (s[2] - kernel.0) / stride.0 + 1,
        (s[3] - kernel.1) / stride.1 + 1,
    );
    for n in 0..s[0] {
        for c in 0..s[1] {
            for i in 0..ho {
                for j in 0..wo {
                    let window: Vec<f64> = (0..kernel.0)
                        .flat_map(|p| (0..kernel.1).map(move |q| (p, q)))
                        .map(|(p, q)| t[[n, c, i * stride.0 + p, j * stride.1 + q]])
                        .collect();
                    let m = window.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                    if window.iter().filter(|&&x| x >= m - d).count() != 1 {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Whether a value is usable downstream: finite and not near overflow.
pub fn tame(t: &Tensor<f64>) -> bool {
    t.iter().all(|x| x.is_finite() && x.abs() <= 1e30)
}
