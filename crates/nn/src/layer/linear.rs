//! The fully connected layer.

use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{Param, Real, Tensor, Var};

use crate::init::Init;
use crate::Module;

/// A fully connected layer: `y = x @ W + b`, with the weight stored `[in, out]` so that the
/// forward is one matrix product with no transpose (the books' `np.dot(x, W) + b`). Keras
/// calls it `Dense`, PyTorch `Linear` (PyTorch stores its weight `[out, in]`: transpose it when
/// moving weights between the two).
///
/// The input is `[batch, in]` (or any `[..., in]`); the output `[batch, out]`.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::layer::Linear;
/// use tapegrad_nn::Module;
///
/// let layer = Linear::<f32>::new(3, 2, 42); // Glorot-uniform weight, zero bias, seed 42
/// let tape = Tape::new();
/// let x = tape.constant(tensor(&[4, 3], vec![0.5; 12]));
/// assert_eq!(layer.forward(x).shape(), vec![4, 2]);
/// assert_eq!(layer.weight().shape(), &[3, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Linear<T: Real = f32> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

/// Keras' name for [`Linear`].
pub type Dense<T = f32> = Linear<T>;

impl<T: Real> Linear<T> {
    /// A layer from `in_features` to `out_features` with a Glorot-uniform weight (Keras'
    /// default) drawn from a stream seeded with `seed`, and a zero bias.
    pub fn new(in_features: usize, out_features: usize, seed: u64) -> Self {
        Self::with_init(
            in_features,
            out_features,
            Init::GlorotUniform,
            Some(Init::Zeros),
            &mut SplitMix64::new(seed),
        )
    }

    /// The same layer without a bias: `y = x @ W`.
    pub fn no_bias(in_features: usize, out_features: usize, seed: u64) -> Self {
        Self::with_init(
            in_features,
            out_features,
            Init::GlorotUniform,
            None,
            &mut SplitMix64::new(seed),
        )
    }

    /// A layer with the given initialisers (`bias: None` for no bias), drawing from `rng`:
    /// the weight first, then the bias.
    ///
    /// ```
    /// use tapegrad_nn::autograd::random::SplitMix64;
    /// use tapegrad_nn::init::Init;
    /// use tapegrad_nn::layer::Linear;
    /// let mut rng = SplitMix64::new(0);
    /// // Grokking: weights = 0.2 * np.random.random((3, 4)) - 0.1, no bias
    /// let l = Linear::<f32>::with_init(3, 4, Init::Uniform { lo: -0.1, hi: 0.1 }, None, &mut rng);
    /// assert!(l.bias().is_none());
    /// ```
    pub fn with_init(
        in_features: usize,
        out_features: usize,
        weight: Init,
        bias: Option<Init>,
        rng: &mut impl RandomStream,
    ) -> Self {
        let w =
            weight.tensor_with_fans(&[in_features, out_features], in_features, out_features, rng);
        let b = bias.map(|init| {
            Param::new(
                "bias",
                init.tensor_with_fans(&[out_features], in_features, out_features, rng),
            )
        });
        Linear {
            weight: Param::new("weight", w),
            bias: b,
        }
    }

    /// A layer with the given weight `[in, out]` and optional bias `[out]`.
    ///
    /// # Panics
    /// If the weight is not 2-D or the bias does not have `out` elements.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        assert_eq!(
            weight.ndim(),
            2,
            "Linear::from_tensors: the weight must be [in, out], got shape {:?}",
            weight.shape()
        );
        let out = weight.shape()[1];
        if let Some(b) = &bias {
            assert_eq!(
                b.shape(),
                &[out],
                "Linear::from_tensors: the bias must be [{out}] for a weight of shape {:?}, got \
                 {:?}",
                weight.shape(),
                b.shape()
            );
        }
        Linear {
            weight: Param::new("weight", weight),
            bias: bias.map(|b| Param::new("bias", b)),
        }
    }

    /// The number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The weight `[in, out]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The weight, for changing (freezing) it.
    pub fn weight_mut(&mut self) -> &mut Param<T> {
        &mut self.weight
    }

    /// The bias `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    /// The bias, for changing it.
    pub fn bias_mut(&mut self) -> Option<&mut Param<T>> {
        self.bias.as_mut()
    }
}

impl<T: Real> Module<T> for Linear<T> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        let n_in = self.in_features();
        if shape.last() != Some(&n_in) {
            panic!(
                "{}: expected an input of shape [batch, {n_in}] (the last axis holding the {n_in} \
                 input features), got {shape:?}{}",
                super::owner_name(self.weight.name(), &self.describe()),
                if shape.len() > 2 {
                    "; flatten images first (layer::Flatten)"
                } else {
                    ""
                }
            );
        }
        let tape = x.tape();
        let y = x.matmul(tape.param(&self.weight));
        match &self.bias {
            Some(b) => y + tape.param(b),
            None => y,
        }
    }
    fn params(&self) -> Vec<&Param<T>> {
        let mut v = vec![&self.weight];
        v.extend(self.bias.as_ref());
        v
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        let mut v = vec![&mut self.weight];
        v.extend(self.bias.as_mut());
        v
    }
    fn describe(&self) -> String {
        format!(
            "Linear({} -> {}{})",
            self.in_features(),
            self.out_features(),
            if self.bias.is_some() { "" } else { ", no bias" }
        )
    }
}
