//! Flatten.

use tapegrad_autograd::{Real, Var};

use crate::Module;

/// Flattens every axis but the first: `[N, C, H, W]` to `[N, C * H * W]`, between
/// convolutions and dense layers (Keras' `Flatten`).
///
/// ```
/// use tapegrad_nn::autograd::{zeros, Tape};
/// use tapegrad_nn::layer::Flatten;
/// use tapegrad_nn::Module;
/// let tape = Tape::<f32>::new();
/// let y = Flatten.forward(tape.constant(zeros(&[2, 3, 4, 4])));
/// assert_eq!(y.shape(), vec![2, 48]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Real> Module<T> for Flatten {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        if shape.is_empty() {
            panic!("Flatten: expected an input with a batch axis, got a scalar");
        }
        let rest: usize = shape[1..].iter().product();
        if shape.len() == 2 {
            return x;
        }
        x.reshape(&[shape[0], rest])
    }
    fn describe(&self) -> String {
        "Flatten".to_string()
    }
}
