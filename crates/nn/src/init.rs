//! Initialisers: the starting values of weights, all drawn from a seeded [`RandomStream`].
//!
//! Each initialiser is a variant of [`Init`]. Layers take one for their weight (and one for
//! their bias); [`Init::tensor`] fills a tensor by hand:
//!
//! ```
//! use tapegrad_nn::init::Init;
//! use tapegrad_nn::autograd::random::SplitMix64;
//!
//! let mut rng = SplitMix64::new(1);
//! // Grokking's `0.2 * np.random.random((3, 4)) - 0.1`
//! let w = Init::Uniform { lo: -0.1, hi: 0.1 }.tensor::<f32>(&[3, 4], &mut rng);
//! assert!(w.iter().all(|&x| (-0.1..0.1).contains(&x)));
//! ```
//!
//! The fan-based schemes read the fans from the shape ([`fans`]): a dense weight `[in, out]`
//! has `fan_in = in`, `fan_out = out`; a convolution kernel `[out_c, in_c, kh, kw]` has
//! `fan_in = in_c * kh * kw`, `fan_out = out_c * kh * kw`.
//!
//! | scheme | distribution |
//! |---|---|
//! | Glorot/Xavier uniform (Keras' default) | `U(-l, l)`, `l = sqrt(6 / (fan_in + fan_out))` |
//! | Glorot/Xavier normal | `N(0, 2 / (fan_in + fan_out))` |
//! | He/Kaiming normal | `N(0, 2 / fan_in)` |
//! | He/Kaiming uniform | `U(-l, l)`, `l = sqrt(6 / fan_in)` |
//! | LeCun normal | `N(0, 1 / fan_in)` |
//! | LeCun uniform | `U(-l, l)`, `l = sqrt(3 / fan_in)` |
//!
//! The normal schemes draw from a plain normal distribution (PyTorch's `xavier_normal_` and
//! `kaiming_normal_`); Keras truncates its normals at two standard deviations instead.

use tapegrad_autograd::random::RandomStream;
use tapegrad_autograd::{Real, Tensor};

/// How to fill a parameter tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (the usual bias initialiser).
    Zeros,
    /// Every element equal to the value.
    Constant(f64),
    /// Uniform on `[lo, hi)`, computed as `lo + (hi - lo) * u` with `u` uniform on `[0, 1)`,
    /// which for `lo = -hi` is bit for bit numpy's `2 * hi * np.random.random(shape) - hi`.
    Uniform {
        /// Lower bound (included).
        lo: f64,
        /// Upper bound (excluded).
        hi: f64,
    },
    /// Normal with the given mean and standard deviation (the course's `np.random.randn(...) * 0.01`
    /// is `Normal { mean: 0.0, std: 0.01 }`).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Glorot/Xavier uniform: `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`. Keras' default.
    GlorotUniform,
    /// Glorot/Xavier normal: `N(0, std^2)` with `std = sqrt(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// He/Kaiming normal: `N(0, std^2)` with `std = sqrt(2 / fan_in)` (for ReLU layers).
    HeNormal,
    /// He/Kaiming uniform: `U(-l, l)` with `l = sqrt(6 / fan_in)`.
    HeUniform,
    /// LeCun normal: `N(0, std^2)` with `std = sqrt(1 / fan_in)` (variance `1/n`).
    LecunNormal,
    /// LeCun uniform: `U(-l, l)` with `l = sqrt(3 / fan_in)` (variance `1/n`).
    LecunUniform,
}

impl Init {
    /// A tensor of `shape` drawn from this initialiser, with the fans read from the shape
    /// ([`fans`]).
    pub fn tensor<T: Real>(&self, shape: &[usize], rng: &mut impl RandomStream) -> Tensor<T> {
        let (fan_in, fan_out) = fans(shape);
        self.tensor_with_fans(shape, fan_in, fan_out, rng)
    }

    /// A tensor of `shape` drawn from this initialiser with explicit fans.
    pub fn tensor_with_fans<T: Real>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl RandomStream,
    ) -> Tensor<T> {
        self.fill(shape, fan_in, fan_out, &mut Polar { rng, spare: None })
    }

    /// Like [`tensor`](Init::tensor), with the uniform and normal numbers taken from
    /// `sampler` one at a time, so that a sequence of initialisations reproduces another
    /// library's draws exactly when `sampler` follows its sampling (a normal cache kept across
    /// calls, say). With the books' numpy stream, `Init::Normal { mean: 0.0, std: 0.01 }` is a
    /// course's `np.random.randn(n, m) * 0.01` and `Init::Uniform { lo: -0.1, hi: 0.1 }`
    /// Grokking's `0.2 * np.random.random((n, m)) - 0.1`.
    ///
    /// ```
    /// use tapegrad_nn::init::{Init, Sampler};
    ///
    /// /// Every uniform is 0.5, every normal 1.
    /// struct Fixed;
    /// impl Sampler for Fixed {
    ///     fn uniform(&mut self) -> f64 { 0.5 }
    ///     fn normal(&mut self) -> f64 { 1.0 }
    /// }
    /// let w = Init::Normal { mean: 0.0, std: 0.01 }.tensor_sampled::<f64>(&[3, 2], &mut Fixed);
    /// assert!(w.iter().all(|&x| x == 0.01));
    /// ```
    pub fn tensor_sampled<T: Real>(
        &self,
        shape: &[usize],
        sampler: &mut impl Sampler,
    ) -> Tensor<T> {
        let (fan_in, fan_out) = fans(shape);
        self.fill(shape, fan_in, fan_out, sampler)
    }

    fn fill<T: Real>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        draw: &mut impl Sampler,
    ) -> Tensor<T> {
        let n: usize = shape.iter().product();
        let fi = fan_in.max(1) as f64;
        let fo = fan_out.max(1) as f64;
        let uniform = |draw: &mut dyn Sampler, lo: f64, hi: f64| -> Vec<T> {
            let width = hi - lo;
            (0..n)
                .map(|_| T::lit(width * draw.uniform() + lo))
                .collect()
        };
        let normal = |draw: &mut dyn Sampler, mean: f64, std: f64| -> Vec<T> {
            (0..n).map(|_| T::lit(mean + std * draw.normal())).collect()
        };
        let data: Vec<T> = match *self {
            Init::Zeros => vec![T::zero(); n],
            Init::Constant(c) => vec![T::lit(c); n],
            Init::Uniform { lo, hi } => uniform(draw, lo, hi),
            Init::Normal { mean, std } => normal(draw, mean, std),
            Init::GlorotUniform => {
                let l = (6.0 / (fi + fo)).sqrt();
                uniform(draw, -l, l)
            }
            Init::GlorotNormal => normal(draw, 0.0, (2.0 / (fi + fo)).sqrt()),
            Init::HeNormal => normal(draw, 0.0, (2.0 / fi).sqrt()),
            Init::HeUniform => {
                let l = (6.0 / fi).sqrt();
                uniform(draw, -l, l)
            }
            Init::LecunNormal => normal(draw, 0.0, (1.0 / fi).sqrt()),
            Init::LecunUniform => {
                let l = (3.0 / fi).sqrt();
                uniform(draw, -l, l)
            }
        };
        tapegrad_autograd::tensor(shape, data)
    }
}

/// Where an initialiser's uniform and normal numbers come from, one at a time: implement it to
/// make [`Init::tensor_sampled`] follow another library's sampling.
pub trait Sampler {
    /// A uniform value in `[0, 1)`.
    fn uniform(&mut self) -> f64;
    /// A standard normal value.
    fn normal(&mut self) -> f64;
}

/// Any stream, normals by the polar method in numpy's order, the spare kept for one fill.
struct Polar<'a, R> {
    rng: &'a mut R,
    spare: Option<f64>,
}

impl<R: RandomStream> Sampler for Polar<'_, R> {
    fn uniform(&mut self) -> f64 {
        self.rng.next_f64()
    }
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let x1 = 2.0 * self.rng.next_f64() - 1.0;
            let x2 = 2.0 * self.rng.next_f64() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.spare = Some(f * x1);
                return f * x2;
            }
        }
    }
}

/// The fans of a weight of this shape: `[n]` gives `(n, n)`; `[in, out]` gives `(in, out)`; a
/// kernel `[out_c, in_c, k...]` gives `(in_c * prod(k), out_c * prod(k))`.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [i, o] => (*i, *o),
        [o, i, rest @ ..] => {
            let field: usize = rest.iter().product();
            (i * field, o * field)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapegrad_autograd::random::SplitMix64;

    fn mean_var(x: &Tensor<f64>) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|&a| (a - m) * (a - m)).sum::<f64>() / n;
        (m, v)
    }

    #[test]
    fn fan_based_schemes_have_their_variance() {
        let mut rng = SplitMix64::new(7);
        let shape = [200, 100];
        let cases = [
            (Init::GlorotUniform, 2.0 / 300.0),
            (Init::GlorotNormal, 2.0 / 300.0),
            (Init::HeNormal, 2.0 / 200.0),
            (Init::HeUniform, 2.0 / 200.0),
            (Init::LecunNormal, 1.0 / 200.0),
            (Init::LecunUniform, 1.0 / 200.0),
        ];
        for (init, var) in cases {
            let t = init.tensor::<f64>(&shape, &mut rng);
            let (m, v) = mean_var(&t);
            assert!(m.abs() < 0.01, "{init:?}: mean {m}");
            assert!(
                (v / var - 1.0).abs() < 0.05,
                "{init:?}: var {v}, want {var}"
            );
        }
    }

    #[test]
    fn uniform_is_in_range_and_seeded() {
        let a = Init::Uniform { lo: -0.1, hi: 0.1 }.tensor::<f32>(&[50], &mut SplitMix64::new(3));
        let b = Init::Uniform { lo: -0.1, hi: 0.1 }.tensor::<f32>(&[50], &mut SplitMix64::new(3));
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| (-0.1..0.1).contains(&x)));
        let c = Init::Constant(0.5).tensor::<f32>(&[2, 2], &mut SplitMix64::new(0));
        assert!(c.iter().all(|&x| x == 0.5));
        let z = Init::Zeros.tensor::<f32>(&[3], &mut SplitMix64::new(0));
        assert!(z.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn normal_has_its_moments_and_fans_read_shapes() {
        let t = Init::Normal {
            mean: 1.0,
            std: 2.0,
        }
        .tensor::<f64>(&[20000], &mut SplitMix64::new(11));
        let (m, v) = mean_var(&t);
        assert!((m - 1.0).abs() < 0.05 && (v - 4.0).abs() < 0.15, "{m} {v}");
        assert_eq!(fans(&[8, 3, 5, 5]), (75, 200));
        assert_eq!(fans(&[784, 512]), (784, 512));
    }
}
