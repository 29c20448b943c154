//! Finding out what goes wrong in training.
//!
//! | symptom | tool |
//! |---|---|
//! | the loss becomes NaN | [`Tape::detect_anomaly`](tapegrad_autograd::Tape::detect_anomaly): stops at the first op that made a NaN or infinity, with its line and inputs |
//! | training does not learn, or a custom op is suspect | [`check_model`](tapegrad_autograd::gradcheck::check_model): every op's backward against finite differences, naming the first wrong one |
//! | the first layers do not learn (vanishing gradients), or the loss explodes | [`gradient_stats`]: per-parameter gradient norms and zero fractions |
//! | what did my model record? | `println!("{tape}")` (a table) and [`Tape::to_dot`](tapegrad_autograd::Tape::to_dot) (a Graphviz graph) |
//!
//! See `docs/debugging.md` in the repository for a walk-through of each.

use tapegrad_autograd::{GradientReport, Gradients, Real};

use crate::Module;

/// Gradient statistics of every parameter of `module` (norm, RMS, largest element, fraction
/// of zeros, size relative to the parameter), after a backward pass on a tape the module's
/// parameters were bound to.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::diagnostics::gradient_stats;
/// use tapegrad_nn::layer::{Linear, Sequential, Sigmoid};
/// use tapegrad_nn::Module;
///
/// let net = Sequential::<f32>::new()
///     .add(Linear::new(4, 8, 0))
///     .add(Sigmoid)
///     .add(Linear::new(8, 1, 1));
/// let grads = {
///     let tape = Tape::new();
///     let x = tape.constant(tensor(&[2, 4], vec![0.5; 8]));
///     tape.backward(net.forward(x).sum())
/// };
/// let report = gradient_stats(&net, &grads);
/// assert_eq!(report.params.len(), 4);
/// assert_eq!(report.params[0].name, "layer0.weight");
/// println!("{report}");
/// ```
pub fn gradient_stats<T: Real, M: Module<T> + ?Sized>(
    module: &M,
    grads: &Gradients<T>,
) -> GradientReport {
    grads.stats(&module.params())
}
