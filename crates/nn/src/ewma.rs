//! Exponentially weighted moving averages, with the bias correction of the Coursera course.
//!
//! `v_t = beta * v_(t-1) + (1 - beta) * x_t` from `v_0 = 0`; the corrected value
//! `v_t / (1 - beta^t)` removes the pull towards zero of the first steps.
//!
//! ```
//! use tapegrad_nn::ewma::Ewma;
//! let mut avg = Ewma::new(0.9);
//! for x in 1..=10 {
//!     avg.update(x as f64);
//! }
//! assert!((avg.value() - 4.1381059609).abs() < 1e-10);
//! assert!((avg.corrected() - 6.3533993279).abs() < 1e-10);
//! ```

/// An exponentially weighted moving average of a stream of numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Ewma {
    beta: f64,
    value: f64,
    /// `beta^t`, kept as a product so that the correction costs one multiplication per update.
    beta_power: f64,
    count: u64,
}

impl Ewma {
    /// An average with weight `beta` on the past (`0 <= beta < 1`); it averages roughly the
    /// last `1 / (1 - beta)` values.
    ///
    /// # Panics
    /// If `beta` is outside `[0, 1)`.
    #[track_caller]
    pub fn new(beta: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&beta),
            "Ewma::new: beta must be in [0, 1), got {beta}"
        );
        Ewma {
            beta,
            value: 0.0,
            beta_power: 1.0,
            count: 0,
        }
    }

    /// Adds `x` and returns the new uncorrected average.
    pub fn update(&mut self, x: f64) -> f64 {
        self.value = self.beta * self.value + (1.0 - self.beta) * x;
        self.beta_power *= self.beta;
        self.count += 1;
        self.value
    }

    /// The uncorrected average `v_t` (0 before any update).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The bias-corrected average `v_t / (1 - beta^t)` (0 before any update).
    pub fn corrected(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.value / (1.0 - self.beta_power)
        }
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The weight on the past.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        *self = Ewma::new(self.beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_ten_with_beta_point_nine() {
        let mut avg = Ewma::new(0.9);
        for x in 1..=10 {
            avg.update(x as f64);
        }
        assert!(
            (avg.value() - 4.1381059609).abs() < 1e-10,
            "{}",
            avg.value()
        );
        assert!(
            (avg.corrected() - 6.3533993279).abs() < 1e-10,
            "{}",
            avg.corrected()
        );
        assert_eq!(avg.count(), 10);
        avg.reset();
        assert_eq!(avg.value(), 0.0);
        assert_eq!(avg.corrected(), 0.0);
    }

    #[test]
    fn first_corrected_value_is_the_first_input() {
        let mut avg = Ewma::new(0.98);
        avg.update(3.5);
        assert!((avg.corrected() - 3.5).abs() < 1e-12);
    }
}
