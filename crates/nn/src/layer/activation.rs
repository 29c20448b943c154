//! Activation layers: parameter-free wrappers of the activation ops.

use tapegrad_autograd::{Real, Var};

use crate::Module;

macro_rules! activation_layer {
    ($(#[$meta:meta])* $name:ident, $label:literal, |$x:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl<T: Real> Module<T> for $name {
            fn forward<'t>(&self, $x: Var<'t, T>) -> Var<'t, T> {
                $body
            }
            fn describe(&self) -> String {
                $label.to_string()
            }
        }
    };
}

activation_layer!(
    /// `max(x, 0)` elementwise.
    ///
    /// ```
    /// use tapegrad_nn::autograd::{tensor, Tape};
    /// use tapegrad_nn::{layer::Relu, Module};
    /// let tape = Tape::<f32>::new();
    /// let y = Relu.forward(tape.constant(tensor(&[2], vec![-1.0, 2.0])));
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.0, 2.0]);
    /// ```
    Relu, "ReLU", |x| x.relu()
);
activation_layer!(
    /// The logistic sigmoid `1 / (1 + e^-x)` elementwise.
    Sigmoid, "Sigmoid", |x| x.sigmoid()
);
activation_layer!(
    /// `tanh x` elementwise.
    Tanh, "Tanh", |x| x.tanh()
);
activation_layer!(
    /// Softmax over the last axis: each row of a `[batch, classes]` input becomes a probability
    /// distribution (Keras' `activation="softmax"`).
    Softmax, "Softmax", |x| x.softmax(-1)
);
activation_layer!(
    /// Log-softmax over the last axis.
    LogSoftmax, "LogSoftmax", |x| x.log_softmax(-1)
);

/// Leaky relu: `x` where positive, `slope * x` elsewhere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs (often 0.01).
    pub slope: f64,
}

impl LeakyRelu {
    /// Leaky relu with the given negative slope.
    pub fn new(slope: f64) -> Self {
        LeakyRelu { slope }
    }
}

impl<T: Real> Module<T> for LeakyRelu {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        x.leaky_relu(T::lit(self.slope))
    }
    fn describe(&self) -> String {
        format!("LeakyReLU({})", self.slope)
    }
}
