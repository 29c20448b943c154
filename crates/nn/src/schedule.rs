//! Learning-rate schedules: the learning rate as a function of the epoch (or step) number.
//!
//! A schedule only computes numbers; apply it to any optimizer with
//! [`Optimizer::set_learning_rate`](crate::optim::Optimizer::set_learning_rate), in a loop by
//! hand or through the [`LearningRateScheduler`](crate::callback::LearningRateScheduler)
//! callback of [`Model::fit`](crate::model::Model::fit):
//!
//! ```
//! use tapegrad_nn::optim::{Optimizer, Sgd};
//! use tapegrad_nn::schedule::{InverseTimeDecay, Schedule};
//!
//! let schedule = InverseTimeDecay::new(0.1, 1.0); // the course's update_lr
//! let mut opt = Sgd::new(0.1);
//! for epoch in 0..3 {
//!     Optimizer::<f32>::set_learning_rate(&mut opt, schedule.learning_rate(epoch));
//!     // ... one epoch of training ...
//! }
//! assert!((Optimizer::<f32>::learning_rate(&opt) - 0.1 / 3.0).abs() < 1e-12);
//! ```

/// A learning rate for each epoch (or step) `t`, counted from 0; `Send`, as optimizers and
/// callbacks that hold one are.
pub trait Schedule: Send {
    /// The learning rate at `t`.
    fn learning_rate(&self, t: usize) -> f64;
}

impl<F: Fn(usize) -> f64 + Send> Schedule for F {
    fn learning_rate(&self, t: usize) -> f64 {
        self(t)
    }
}

/// The same rate at every `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant(pub f64);

impl Schedule for Constant {
    fn learning_rate(&self, _t: usize) -> f64 {
        self.0
    }
}

/// Inverse-time decay, the course's `update_lr`: `a0 / (1 + decay_rate * t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseTimeDecay {
    /// The rate at `t = 0`.
    pub initial: f64,
    /// How fast it decays.
    pub decay_rate: f64,
}

impl InverseTimeDecay {
    /// `a0 / (1 + decay_rate * t)`.
    pub fn new(initial: f64, decay_rate: f64) -> Self {
        InverseTimeDecay {
            initial,
            decay_rate,
        }
    }
}

impl Schedule for InverseTimeDecay {
    fn learning_rate(&self, t: usize) -> f64 {
        self.initial / (1.0 + self.decay_rate * t as f64)
    }
}

/// Inverse-time decay applied in steps, the course's `schedule_lr_decay`:
/// `a0 / (1 + decay_rate * floor(t / time_interval))`, so the rate changes only every
/// `time_interval` epochs (the course uses 1000).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduledDecay {
    /// The rate at `t = 0`.
    pub initial: f64,
    /// How fast it decays.
    pub decay_rate: f64,
    /// Epochs between changes.
    pub time_interval: usize,
}

impl ScheduledDecay {
    /// `a0 / (1 + decay_rate * floor(t / time_interval))`.
    ///
    /// # Panics
    /// If `time_interval` is 0.
    #[track_caller]
    pub fn new(initial: f64, decay_rate: f64, time_interval: usize) -> Self {
        assert!(
            time_interval > 0,
            "ScheduledDecay::new: time_interval must be at least 1"
        );
        ScheduledDecay {
            initial,
            decay_rate,
            time_interval,
        }
    }
}

impl Schedule for ScheduledDecay {
    fn learning_rate(&self, t: usize) -> f64 {
        self.initial / (1.0 + self.decay_rate * (t / self.time_interval) as f64)
    }
}

/// Exponential decay: `a0 * rate^(t / decay_steps)`, or with `staircase`
/// `a0 * rate^floor(t / decay_steps)` (Keras' `ExponentialDecay`; the course's `0.95^t * a0`
/// is `ExponentialDecay::new(a0, 0.95, 1)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    /// The rate at `t = 0`.
    pub initial: f64,
    /// The factor applied every `decay_steps`.
    pub rate: f64,
    /// The period of one factor.
    pub decay_steps: usize,
    /// Whether to apply the factor in whole steps only.
    pub staircase: bool,
}

impl ExponentialDecay {
    /// `a0 * rate^(t / decay_steps)`, continuous.
    ///
    /// # Panics
    /// If `decay_steps` is 0.
    #[track_caller]
    pub fn new(initial: f64, rate: f64, decay_steps: usize) -> Self {
        assert!(
            decay_steps > 0,
            "ExponentialDecay::new: decay_steps must be at least 1"
        );
        ExponentialDecay {
            initial,
            rate,
            decay_steps,
            staircase: false,
        }
    }

    /// The same schedule with whole steps only.
    pub fn staircase(mut self) -> Self {
        self.staircase = true;
        self
    }
}

impl Schedule for ExponentialDecay {
    fn learning_rate(&self, t: usize) -> f64 {
        let e = if self.staircase {
            (t / self.decay_steps) as f64
        } else {
            t as f64 / self.decay_steps as f64
        };
        self.initial * self.rate.powf(e)
    }
}

/// Step decay: `a0 * factor^floor(t / step_size)` (PyTorch's `StepLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    /// The rate at `t = 0`.
    pub initial: f64,
    /// The factor applied every `step_size`.
    pub factor: f64,
    /// The period.
    pub step_size: usize,
}

impl StepDecay {
    /// `a0 * factor^floor(t / step_size)`.
    ///
    /// # Panics
    /// If `step_size` is 0.
    #[track_caller]
    pub fn new(initial: f64, factor: f64, step_size: usize) -> Self {
        assert!(
            step_size > 0,
            "StepDecay::new: step_size must be at least 1"
        );
        StepDecay {
            initial,
            factor,
            step_size,
        }
    }
}

impl Schedule for StepDecay {
    fn learning_rate(&self, t: usize) -> f64 {
        self.initial * self.factor.powi((t / self.step_size) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let inv = InverseTimeDecay::new(0.5, 1.0);
        assert_eq!(inv.learning_rate(0), 0.5);
        assert_eq!(inv.learning_rate(2), 0.5 / 3.0);
        // The course: learning_rate0 = 0.5, epoch_num = 100, decay_rate = 0.3, interval 1000.
        let sched = ScheduledDecay::new(0.5, 0.3, 1000);
        assert_eq!(sched.learning_rate(100), 0.5);
        assert_eq!(sched.learning_rate(1000), 0.5 / 1.3);
        assert_eq!(sched.learning_rate(2500), 0.5 / 1.6);
        let exp = ExponentialDecay::new(1.0, 0.5, 2);
        assert!((exp.learning_rate(1) - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(exp.staircase().learning_rate(3), 0.5);
        let step = StepDecay::new(1.0, 0.1, 10);
        assert_eq!(step.learning_rate(9), 1.0);
        assert!((step.learning_rate(25) - 0.01).abs() < 1e-15);
        assert_eq!(Constant(0.3).learning_rate(99), 0.3);
        assert_eq!((|t: usize| 1.0 / (t + 1) as f64).learning_rate(3), 0.25);
    }
}
