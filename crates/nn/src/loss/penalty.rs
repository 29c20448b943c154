//! Regularisation terms added to a loss.

use tapegrad_autograd::{Param, Real, Tape, Var};

/// The L2 penalty `lambda / 2 * sum w²` over the trainable `params`, bound on `tape` (frozen
/// parameters, such as batch normalisation's running averages, are left out).
///
/// Its gradient is `lambda * w`, so adding it to the loss is the same step as the optimizers'
/// coupled [`weight_decay(lambda)`](crate::optim::Sgd::weight_decay). The course's L2
/// regularisation, `lambd / (2 m) * sum ||W||²` over the weight matrices only, is
/// `l2_penalty(&tape, &weights, lambd / m)`; Keras' `kernel_regularizer=l2(l)`, `l * sum w²`,
/// is `lambda = 2 l`.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Param, Tape};
/// use tapegrad_nn::loss::l2_penalty;
///
/// let w = Param::new("weight", tensor(&[2], vec![3.0f64, -4.0]));
/// let tape = Tape::new();
/// let penalty = l2_penalty(&tape, &[&w], 0.1);
/// assert!((penalty.item() - 0.05 * 25.0).abs() < 1e-12);
/// let g = tape.backward(penalty);
/// assert_eq!(g.param(&w).unwrap().as_slice().unwrap(), &[0.30000000000000004, -0.4]);
/// ```
pub fn l2_penalty<'t, T: Real>(tape: &'t Tape<T>, params: &[&Param<T>], lambda: f64) -> Var<'t, T> {
    let mut total = tape.constant(tapegrad_autograd::scalar(T::zero()));
    for p in params.iter().filter(|p| p.is_trainable()) {
        total = total + tape.param(p).square().sum();
    }
    total.mul_scalar(T::lit(lambda / 2.0))
}
