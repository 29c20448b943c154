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

activation_layer!(
    /// SiLU (swish), `x sigmoid(x)` elementwise.
    Silu, "SiLU", |x| x.silu()
);

/// GELU, `x Φ(x)`: the exact form with `erf` (PyTorch's default) or, with
/// [`Gelu::tanh`], the tanh approximation of BERT and GPT-2.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::{layer::Gelu, Module};
/// let tape = Tape::<f64>::new();
/// let y = Gelu::new().forward(tape.constant(tensor(&[1], vec![1.0])));
/// assert!((y.item() - 0.8413447460685429).abs() < 1e-15); // 1 * Φ(1)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gelu {
    /// Whether to use the tanh approximation.
    pub tanh_approximation: bool,
}

impl Gelu {
    /// The exact GELU.
    pub fn new() -> Self {
        Gelu::default()
    }

    /// The tanh approximation (PyTorch's `approximate='tanh'`).
    pub fn tanh() -> Self {
        Gelu {
            tanh_approximation: true,
        }
    }
}

impl<T: Real> Module<T> for Gelu {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        if self.tanh_approximation {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }
    fn describe(&self) -> String {
        if self.tanh_approximation {
            "GELU(tanh)".to_string()
        } else {
            "GELU".to_string()
        }
    }
}

/// ELU: `x` where positive, `alpha (e^x - 1)` elsewhere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elu {
    /// The value the output saturates at for very negative inputs, negated (usually 1).
    pub alpha: f64,
}

impl Elu {
    /// ELU with the given `alpha`.
    pub fn new(alpha: f64) -> Self {
        Elu { alpha }
    }
}

impl Default for Elu {
    fn default() -> Self {
        Elu::new(1.0)
    }
}

impl<T: Real> Module<T> for Elu {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        x.elu(T::lit(self.alpha))
    }
    fn describe(&self) -> String {
        format!("ELU({})", self.alpha)
    }
}
