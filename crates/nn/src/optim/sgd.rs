//! Stochastic gradient descent, plain and with momentum in its three forms.

use tapegrad_autograd::{Gradients, Param, Real};

use super::{
    common_builders, export_state, import_state, step_each, zip0, zip1, GradTransform, Optimizer,
    OptimizerState, Slots,
};
use crate::error::OptimizerStateError;

/// The momentum rule of [`Sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Momentum {
    /// Plain SGD: `p -= lr * g`.
    None,
    /// PyTorch's classical momentum: `v = m * v + g; p -= lr * v`.
    Classical(f64),
    /// PyTorch's Nesterov momentum: `v = m * v + g; p -= lr * (g + m * v)`.
    Nesterov(f64),
    /// The course's momentum, an exponentially weighted average of the gradients:
    /// `v = b * v + (1 - b) * g; p -= lr * v`.
    Ewma(f64),
}

/// Stochastic gradient descent.
///
/// ```
/// use tapegrad_nn::optim::Sgd;
/// let plain = Sgd::<f32>::new(0.01);
/// let pytorch = Sgd::<f32>::momentum(0.01, 0.9);
/// let course = Sgd::<f32>::ewma_momentum(0.01, 0.9);
/// let nesterov = Sgd::<f32>::nesterov(0.01, 0.9).weight_decay(1e-4);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T: Real = f32> {
    lr: f64,
    momentum: Momentum,
    transform: GradTransform,
    slots: Slots<T>,
}

const NO_BUFFERS: &[&str] = &[];
const VELOCITY: &[&str] = &["velocity"];

impl<T: Real> Sgd<T> {
    fn with(lr: f64, momentum: Momentum) -> Self {
        let names = if momentum == Momentum::None {
            NO_BUFFERS
        } else {
            VELOCITY
        };
        Sgd {
            lr,
            momentum,
            transform: GradTransform::default(),
            slots: Slots::new(names, T::zero()),
        }
    }

    /// Plain SGD: `p -= lr * g`.
    pub fn new(lr: f64) -> Self {
        Self::with(lr, Momentum::None)
    }

    /// Classical momentum as PyTorch writes it: `v = m * v + g; p -= lr * v`.
    pub fn momentum(lr: f64, momentum: f64) -> Self {
        Self::with(lr, Momentum::Classical(momentum))
    }

    /// Nesterov momentum as PyTorch writes it: `v = m * v + g; p -= lr * (g + m * v)`.
    pub fn nesterov(lr: f64, momentum: f64) -> Self {
        Self::with(lr, Momentum::Nesterov(momentum))
    }

    /// Momentum as the course writes it: `v = beta * v + (1 - beta) * g; p -= lr * v`.
    pub fn ewma_momentum(lr: f64, beta: f64) -> Self {
        Self::with(lr, Momentum::Ewma(beta))
    }

    /// The momentum rule.
    pub fn momentum_rule(&self) -> Momentum {
        self.momentum
    }
}

common_builders!(Sgd);

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn name(&self) -> &str {
        "sgd"
    }

    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) {
        let lr = T::lit(self.lr);
        let momentum = self.momentum;
        step_each(
            params,
            grads,
            &self.transform,
            &mut self.slots,
            |p, g, slot, prep| {
                let prep = *prep;
                match momentum {
                    Momentum::None => zip0(p, g, |p, g| *p -= lr * prep.grad(g, *p)),
                    Momentum::Classical(m) => {
                        let m = T::lit(m);
                        zip1(p, g, &mut slot.bufs[0], |p, g, v| {
                            *v = m * *v + prep.grad(g, *p);
                            *p -= lr * *v;
                        })
                    }
                    Momentum::Nesterov(m) => {
                        let m = T::lit(m);
                        zip1(p, g, &mut slot.bufs[0], |p, g, v| {
                            let g = prep.grad(g, *p);
                            *v = m * *v + g;
                            *p -= lr * (g + m * *v);
                        })
                    }
                    Momentum::Ewma(b) => {
                        let (b, c) = (T::lit(b), T::lit(1.0 - b));
                        zip1(p, g, &mut slot.bufs[0], |p, g, v| {
                            *v = b * *v + c * prep.grad(g, *p);
                            *p -= lr * *v;
                        })
                    }
                }
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
        self.lr = import_state("sgd", state, &mut self.slots)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, run};
    use super::*;

    const P0: [f64; 2] = [1.0, -2.0];

    fn g() -> Vec<f64> {
        vec![0.5, -1.0]
    }

    #[test]
    fn plain_sgd() {
        // p - 0.1 * g
        assert_close(&run(&mut Sgd::new(0.1), &P0, &[g()]), &[0.95, -1.9]);
    }

    #[test]
    fn classical_momentum_first_two_steps() {
        // step 1: v = g = [0.5, -1];      p = [1 - 0.05, -2 + 0.1]    = [0.95, -1.9]
        // step 2: v = 0.9 v + g = [0.95, -1.9]; p = [0.95 - 0.095, -1.9 + 0.19] = [0.855, -1.71]
        let mut opt = Sgd::momentum(0.1, 0.9);
        assert_close(&run(&mut opt.clone(), &P0, &[g()]), &[0.95, -1.9]);
        assert_close(&run(&mut opt, &P0, &[g(), g()]), &[0.855, -1.71]);
    }

    #[test]
    fn course_momentum_first_two_steps() {
        // step 1: v = 0.1 g = [0.05, -0.1];   p = [0.995, -1.99]
        // step 2: v = 0.9 v + 0.1 g = [0.095, -0.19]; p = [0.9855, -1.971]
        let opt = Sgd::ewma_momentum(0.1, 0.9);
        assert_close(&run(&mut opt.clone(), &P0, &[g()]), &[0.995, -1.99]);
        assert_close(&run(&mut opt.clone(), &P0, &[g(), g()]), &[0.9855, -1.971]);
    }

    #[test]
    fn nesterov_first_two_steps() {
        // step 1: v = g; p -= 0.1 (g + 0.9 g) = [1 - 0.095, -2 + 0.19] = [0.905, -1.81]
        // step 2: v = [0.95, -1.9]; p -= 0.1 (g + 0.9 v) = [0.905 - 0.1355, -1.81 + 0.271]
        let opt = Sgd::nesterov(0.1, 0.9);
        assert_close(&run(&mut opt.clone(), &P0, &[g()]), &[0.905, -1.81]);
        assert_close(&run(&mut opt.clone(), &P0, &[g(), g()]), &[0.7695, -1.539]);
    }
}
