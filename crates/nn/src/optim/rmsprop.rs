//! RMSprop, with Keras' defaults.

use tapegrad_autograd::{Gradients, Param, Real};

use super::{
    common_builders, export_state, import_state, step_each, zip1, GradTransform, Optimizer,
    OptimizerState, Slots,
};
use crate::error::OptimizerStateError;

/// RMSprop: `s = rho * s + (1 - rho) * g^2; p -= lr * g / (sqrt(s) + eps)`.
///
/// [`RmsProp::default`] has Keras' defaults: `lr = 1e-3`, `rho = 0.9`, `eps = 1e-7` (Deep
/// Learning with Python ch.2 compiles with `optimizer="rmsprop"`).
///
/// ```
/// use tapegrad_nn::optim::RmsProp;
/// let keras = RmsProp::<f32>::default();
/// let course = RmsProp::<f32>::new(0.01).rho(0.999).eps(1e-8);
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp<T: Real = f32> {
    lr: f64,
    rho: f64,
    eps: f64,
    eps_inside_sqrt: bool,
    transform: GradTransform,
    slots: Slots<T>,
}

const BUFFERS: &[&str] = &["square_avg"];

impl<T: Real> Default for RmsProp<T> {
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl<T: Real> RmsProp<T> {
    /// RMSprop with learning rate `lr`, `rho = 0.9`, `eps = 1e-7`.
    pub fn new(lr: f64) -> Self {
        RmsProp {
            lr,
            rho: 0.9,
            eps: 1e-7,
            eps_inside_sqrt: false,
            transform: GradTransform::default(),
            slots: Slots::new(BUFFERS, T::zero()),
        }
    }

    /// The decay of the squared-gradient average.
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }

    /// The term that keeps the division finite.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Divide by `sqrt(s + eps)` instead of `sqrt(s) + eps`.
    pub fn eps_inside_sqrt(mut self, inside: bool) -> Self {
        self.eps_inside_sqrt = inside;
        self
    }
}

common_builders!(RmsProp);

impl<T: Real> Optimizer<T> for RmsProp<T> {
    fn name(&self) -> &str {
        "rmsprop"
    }

    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) {
        let lr = T::lit(self.lr);
        let (rho, c) = (T::lit(self.rho), T::lit(1.0 - self.rho));
        let eps = T::lit(self.eps);
        let inside = self.eps_inside_sqrt;
        step_each(
            params,
            grads,
            &self.transform,
            &mut self.slots,
            |p, g, slot, prep| {
                let prep = *prep;
                zip1(p, g, &mut slot.bufs[0], |p, g, s| {
                    let g = prep.grad(g, *p);
                    *s = rho * *s + c * g * g;
                    let denom = if inside {
                        (*s + eps).sqrt()
                    } else {
                        s.sqrt() + eps
                    };
                    *p -= lr * g / denom;
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
        self.lr = import_state("rmsprop", state, &mut self.slots)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, run};
    use super::*;

    #[test]
    fn first_two_steps_by_hand() {
        // step 1: s = 0.1 * g^2 = [0.025, 0.1]
        //   p = 1 - 0.01 * 0.5 / (sqrt(0.025) + 1e-7), -2 + 0.01 / (sqrt(0.1) + 1e-7)
        let s1: [f64; 2] = [0.025, 0.1];
        let p1 = [
            1.0 - 0.01 * 0.5 / (s1[0].sqrt() + 1e-7),
            -2.0 + 0.01 * 1.0 / (s1[1].sqrt() + 1e-7),
        ];
        let mut opt = RmsProp::new(0.01);
        let got = run(&mut opt, &[1.0, -2.0], &[vec![0.5, -1.0]]);
        assert_close(&got, &p1);
        assert_close(&got, &[0.9683772433983036, -1.968377233398313]);
        // step 2 with g = [0.2, 0.3]: s = 0.9 s + 0.1 g^2 = [0.0229, 0.0909]
        let s2: [f64; 2] = [0.9 * 0.025 + 0.1 * 0.04, 0.9 * 0.1 + 0.1 * 0.09];
        let p2 = [
            p1[0] - 0.01 * 0.2 / (s2[0].sqrt() + 1e-7),
            p1[1] - 0.01 * 0.3 / (s2[1].sqrt() + 1e-7),
        ];
        let got = run(
            &mut RmsProp::new(0.01),
            &[1.0, -2.0],
            &[vec![0.5, -1.0], vec![0.2, 0.3]],
        );
        assert_close(&got, &p2);
    }

    #[test]
    fn eps_inside_the_root() {
        let got = run(
            &mut RmsProp::new(0.01).eps(1e-2).eps_inside_sqrt(true),
            &[1.0],
            &[vec![0.5]],
        );
        assert_close(&got, &[1.0 - 0.01 * 0.5 / (0.025f64 + 1e-2).sqrt()]);
    }
}
