//! Adagrad.

use tapegrad_autograd::{Gradients, Param, Real};

use super::{
    common_builders, export_state, import_state, step_each, zip1, GradTransform, Optimizer,
    OptimizerState, Slots,
};
use crate::error::OptimizerStateError;

/// Adagrad: `s += g^2; p -= lr * g / (sqrt(s) + eps)`, with `eps = 1e-10` and `s` starting at
/// 0 (PyTorch's defaults; Keras starts `s` at 0.1, see
/// [`initial_accumulator`](Adagrad::initial_accumulator)).
///
/// ```
/// use tapegrad_nn::optim::Adagrad;
/// let opt = Adagrad::<f32>::new(0.01);
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad<T: Real = f32> {
    lr: f64,
    eps: f64,
    transform: GradTransform,
    slots: Slots<T>,
}

const BUFFERS: &[&str] = &["sum"];

impl<T: Real> Adagrad<T> {
    /// Adagrad with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Adagrad {
            lr,
            eps: 1e-10,
            transform: GradTransform::default(),
            slots: Slots::new(BUFFERS, T::zero()),
        }
    }

    /// The term that keeps the division finite.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The starting value of the sum of squared gradients (for parameters not yet seen).
    pub fn initial_accumulator(mut self, value: f64) -> Self {
        self.slots.set_fill(T::lit(value));
        self
    }
}

common_builders!(Adagrad);

impl<T: Real> Optimizer<T> for Adagrad<T> {
    fn name(&self) -> &str {
        "adagrad"
    }

    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) {
        let lr = T::lit(self.lr);
        let eps = T::lit(self.eps);
        step_each(
            params,
            grads,
            &self.transform,
            &mut self.slots,
            |p, g, slot, prep| {
                let prep = *prep;
                zip1(p, g, &mut slot.bufs[0], |p, g, s| {
                    let g = prep.grad(g, *p);
                    *s += g * g;
                    *p -= lr * g / (s.sqrt() + eps);
                })
            },
        );
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self) -> OptimizerState<T> {
        export_state(self.name(), self.lr, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), OptimizerStateError> {
        self.lr = import_state("adagrad", state, &mut self.slots)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, run};
    use super::*;

    #[test]
    fn first_two_steps_by_hand() {
        // step 1: s = g^2 = [0.25]; p = 1 - 0.1 * 0.5 / 0.5 = 0.9 (eps aside)
        // step 2: g = 0.5 again, s = 0.5; p = 0.9 - 0.1 * 0.5 / sqrt(0.5)
        let got = run(&mut Adagrad::new(0.1).eps(0.0), &[1.0], &[vec![0.5]]);
        assert_close(&got, &[0.9]);
        let got = run(
            &mut Adagrad::new(0.1).eps(0.0),
            &[1.0],
            &[vec![0.5], vec![0.5]],
        );
        assert_close(&got, &[0.9 - 0.05 / 0.5f64.sqrt()]);
        let got = run(
            &mut Adagrad::new(0.1).eps(0.0).initial_accumulator(0.75),
            &[1.0],
            &[vec![0.5]],
        );
        assert_close(&got, &[0.95]);
    }
}
