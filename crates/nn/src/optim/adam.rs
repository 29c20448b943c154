//! Adam and AdamW.

use tapegrad_autograd::{Gradients, Param, Real};

use super::{
    common_builders, export_state, import_state, step_each, zip2, GradTransform, Optimizer,
    OptimizerState, Slots,
};
use crate::error::OptimizerStateError;

/// Adam with bias correction, as the course writes it (with `t` the parameter's step count):
///
/// ```text
/// m = b1 m + (1 - b1) g          m^ = m / (1 - b1^t)
/// v = b2 v + (1 - b2) g^2        v^ = v / (1 - b2^t)
/// p -= lr m^ / (sqrt(v^) + eps)
/// ```
///
/// Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`. The 2017 version of the course's notebook
/// divides by `sqrt(v^ + eps)`; [`eps_inside_sqrt`](Adam::eps_inside_sqrt) gives that.
/// [`Adam::adamw`] decouples the weight decay (`p -= lr wd p` before the update, PyTorch's
/// `AdamW`); `.weight_decay(wd)` is the L2 form, added to the gradient.
///
/// ```
/// use tapegrad_nn::optim::Adam;
/// let adam = Adam::<f32>::new(1e-3);
/// let course_2017 = Adam::<f32>::new(7e-3).eps_inside_sqrt(true);
/// let adamw = Adam::<f32>::adamw(1e-3, 0.01);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T: Real = f32> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    eps_inside_sqrt: bool,
    decoupled_weight_decay: f64,
    transform: GradTransform,
    slots: Slots<T>,
}

const BUFFERS: &[&str] = &["exp_avg", "exp_avg_sq"];

impl<T: Real> Adam<T> {
    /// Adam with learning rate `lr` and the defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            eps_inside_sqrt: false,
            decoupled_weight_decay: 0.0,
            transform: GradTransform::default(),
            slots: Slots::new(BUFFERS, T::zero()),
        }
    }

    /// AdamW: Adam with decoupled weight decay `wd` (PyTorch's default is 0.01).
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self::new(lr).decoupled_weight_decay(weight_decay)
    }

    /// The decay rates of the first and second moment estimates.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The term that keeps the division finite.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Divide by `sqrt(v^ + eps)` instead of `sqrt(v^) + eps` (the 2017 course notebook).
    pub fn eps_inside_sqrt(mut self, inside: bool) -> Self {
        self.eps_inside_sqrt = inside;
        self
    }

    /// Decoupled weight decay: `p -= lr * wd * p` before each update.
    pub fn decoupled_weight_decay(mut self, wd: f64) -> Self {
        self.decoupled_weight_decay = wd;
        self
    }
}

common_builders!(Adam);

impl<T: Real> Optimizer<T> for Adam<T> {
    fn name(&self) -> &str {
        if self.decoupled_weight_decay != 0.0 {
            "adamw"
        } else {
            "adam"
        }
    }

    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) {
        let lr = T::lit(self.lr);
        let (b1, c1) = (T::lit(self.beta1), T::lit(1.0 - self.beta1));
        let (b2, c2) = (T::lit(self.beta2), T::lit(1.0 - self.beta2));
        let eps = T::lit(self.eps);
        let inside = self.eps_inside_sqrt;
        let decay = T::lit(1.0 - self.lr * self.decoupled_weight_decay);
        let decoupled = self.decoupled_weight_decay != 0.0;
        let (beta1, beta2) = (self.beta1, self.beta2);
        step_each(
            params,
            grads,
            &self.transform,
            &mut self.slots,
            |p, g, slot, prep| {
                let prep = *prep;
                let t = i32::try_from(slot.step).unwrap_or(i32::MAX);
                let bc1 = T::lit(1.0 - beta1.powi(t));
                let bc2 = T::lit(1.0 - beta2.powi(t));
                let (ms, vs) = slot.bufs.split_at_mut(1);
                zip2(p, g, &mut ms[0], &mut vs[0], |p, g, m, v| {
                    let g = prep.grad(g, *p);
                    if decoupled {
                        *p *= decay;
                    }
                    *m = b1 * *m + c1 * g;
                    *v = b2 * *v + c2 * g * g;
                    let m_hat = *m / bc1;
                    let v_hat = *v / bc2;
                    let denom = if inside {
                        (v_hat + eps).sqrt()
                    } else {
                        v_hat.sqrt() + eps
                    };
                    *p -= lr * m_hat / denom;
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
        let kind = if self.decoupled_weight_decay != 0.0 {
            "adamw"
        } else {
            "adam"
        };
        self.lr = import_state(kind, state, &mut self.slots)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, run};
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // m^ = g, v^ = g^2: p -= 0.1 * g / (|g| + 1e-8)
        let got = run(&mut Adam::new(0.1), &[1.0, -2.0], &[vec![0.5, -1.0]]);
        assert_close(
            &got,
            &[1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 / (1.0 + 1e-8)],
        );
        assert_close(&got, &[0.900000002, -1.900000001]);
    }

    #[test]
    fn second_step_by_hand() {
        // step 2, g = [0.2, 0.3]:
        //   m = 0.9 [0.05, -0.1] + 0.1 [0.2, 0.3] = [0.065, -0.06]
        //   v = 0.999 [0.00025, 0.001] + 0.001 [0.04, 0.09] = [0.00028975, 0.001089]
        //   m^ = m / 0.19, v^ = v / 0.001999
        let got = run(
            &mut Adam::new(0.1),
            &[1.0, -2.0],
            &[vec![0.5, -1.0], vec![0.2, 0.3]],
        );
        assert_close(&got, &[0.8101424839029282, -1.8572151424292265]);
    }

    #[test]
    fn eps_inside_sqrt_and_adamw() {
        let got = run(
            &mut Adam::new(0.1).eps(0.01).eps_inside_sqrt(true),
            &[1.0],
            &[vec![0.5]],
        );
        assert_close(&got, &[1.0 - 0.1 * 0.5 / (0.25f64 + 0.01).sqrt()]);
        // AdamW: p = 1 * (1 - 0.1 * 0.5) = 0.95, then the Adam step of about 0.1
        let got = run(&mut Adam::adamw(0.1, 0.5), &[1.0], &[vec![0.5]]);
        assert_close(&got, &[0.95 - 0.1 * 0.5 / (0.5 + 1e-8)]);
    }
}
