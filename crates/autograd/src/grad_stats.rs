//! Gradient statistics per parameter, to spot vanishing and exploding gradients.
//!
//! In a deep network the gradient of the first layers is a product of one factor per layer
//! above them. With sigmoid activations each factor is at most 1/4, so the first layers'
//! gradients shrink geometrically with depth (vanishing); with too large weights they grow
//! (exploding); with ReLU, units whose input is always negative get exactly zero gradient
//! (dead units). [`Gradients::stats`] measures this for each parameter after a backward pass:
//! the gradient's norm, its largest element, the fraction of exact zeros, and its size
//! relative to the parameter.
//!
//! ```
//! use tapegrad_autograd::{tensor, Param, Tape};
//!
//! let w1 = Param::new("w1", tensor(&[3, 4], vec![0.1f64; 12]));
//! let w2 = Param::new("w2", tensor(&[4, 1], vec![0.5; 4]));
//! let grads = {
//!     let tape = Tape::new();
//!     let x = tape.constant(tensor(&[2, 3], vec![1.0, -1.0, 0.5, 0.2, 0.3, -0.4]));
//!     let h = x.matmul(tape.param(&w1)).sigmoid();
//!     tape.backward(h.matmul(tape.param(&w2)).sum())
//! };
//! let stats = grads.stats(&[&w1, &w2]);
//! assert_eq!(stats.params[0].name, "w1");
//! assert!(stats.params[0].norm < stats.params[1].norm); // the sigmoid shrank it
//! println!("{stats}");
//! ```

use std::fmt;

use crate::{Gradients, Param, Real, Tensor};

/// Statistics of one parameter's gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct GradStats {
    /// The parameter's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Whether backward gave it a gradient (false for a frozen parameter, or one the output
    /// does not depend on); the numbers below are then zero.
    pub has_gradient: bool,
    /// The L2 norm of the gradient.
    pub norm: f64,
    /// The root mean square of the gradient's elements (`norm / sqrt(len)`), comparable
    /// across parameters of different sizes.
    pub rms: f64,
    /// The largest absolute element.
    pub max_abs: f64,
    /// The fraction of elements that are exactly zero (dead ReLU units give whole rows).
    pub zero_fraction: f64,
    /// The number of NaN or infinite elements.
    pub non_finite: usize,
    /// The L2 norm of the parameter itself.
    pub param_norm: f64,
}

impl GradStats {
    /// Statistics of `grad` for a parameter named `name` with value `value`.
    pub fn of<T: Real>(name: &str, value: &Tensor<T>, grad: Option<&Tensor<T>>) -> Self {
        let param_norm = value
            .iter()
            .map(|v| {
                let v = v.to_f64().unwrap_or(f64::NAN);
                v * v
            })
            .sum::<f64>()
            .sqrt();
        let mut s = GradStats {
            name: name.to_owned(),
            shape: value.shape().to_vec(),
            has_gradient: grad.is_some(),
            norm: 0.0,
            rms: 0.0,
            max_abs: 0.0,
            zero_fraction: 0.0,
            non_finite: 0,
            param_norm,
        };
        let Some(g) = grad else { return s };
        let (mut sum2, mut zeros) = (0.0f64, 0usize);
        for v in g.iter() {
            let v = v.to_f64().unwrap_or(f64::NAN);
            if !v.is_finite() {
                s.non_finite += 1;
                continue;
            }
            if v == 0.0 {
                zeros += 1;
            }
            sum2 += v * v;
            s.max_abs = s.max_abs.max(v.abs());
        }
        let n = g.len().max(1) as f64;
        s.norm = sum2.sqrt();
        s.rms = (sum2 / n).sqrt();
        s.zero_fraction = zeros as f64 / n;
        s
    }

    /// `norm / param_norm`: how large a step of plain SGD with learning rate 1 would be,
    /// relative to the parameter (0 when the parameter is zero).
    pub fn relative_norm(&self) -> f64 {
        if self.param_norm > 0.0 {
            self.norm / self.param_norm
        } else {
            0.0
        }
    }
}

/// Gradient statistics of several parameters, in order; its `Display` is a table.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct GradientReport {
    /// One entry per parameter.
    pub params: Vec<GradStats>,
}

impl GradientReport {
    /// The entry of the parameter of this name.
    pub fn get(&self, name: &str) -> Option<&GradStats> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The smallest gradient RMS divided by the largest, over parameters that got a gradient:
    /// near 1 the gradient reaches every layer alike; many orders of magnitude below 1 some
    /// layers' gradients vanished (or others exploded).
    pub fn rms_spread(&self) -> f64 {
        let rms: Vec<f64> = self
            .params
            .iter()
            .filter(|p| p.has_gradient)
            .map(|p| p.rms)
            .collect();
        let max = rms.iter().copied().fold(0.0, f64::max);
        let min = rms.iter().copied().fold(f64::INFINITY, f64::min);
        if max > 0.0 {
            min / max
        } else {
            1.0
        }
    }
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:<12} {:>11} {:>11} {:>11} {:>7} {:>11}",
            "parameter", "shape", "grad norm", "grad rms", "max |grad|", "zeros", "norm/param"
        )?;
        for p in &self.params {
            if !p.has_gradient {
                writeln!(
                    f,
                    "{:<20} {:<12} {:>11}",
                    p.name,
                    format!("{:?}", p.shape),
                    "no gradient"
                )?;
                continue;
            }
            writeln!(
                f,
                "{:<20} {:<12} {:>11.3e} {:>11.3e} {:>11.3e} {:>6.1}% {:>11.3e}{}",
                p.name,
                format!("{:?}", p.shape),
                p.norm,
                p.rms,
                p.max_abs,
                100.0 * p.zero_fraction,
                p.relative_norm(),
                if p.non_finite > 0 {
                    format!("  ({} NaN/inf)", p.non_finite)
                } else {
                    String::new()
                }
            )?;
        }
        write!(
            f,
            "smallest / largest gradient rms: {:.3e}",
            self.rms_spread()
        )
    }
}

impl<T: Real> Gradients<T> {
    /// Gradient statistics of each parameter (see the [module docs](crate::grad_stats)), for
    /// parameters bound to the tape this backward pass ran on.
    pub fn stats(&self, params: &[&Param<T>]) -> GradientReport {
        GradientReport {
            params: params
                .iter()
                .map(|p| GradStats::of(p.name(), p.value(), self.param(p)))
                .collect(),
        }
    }
}
