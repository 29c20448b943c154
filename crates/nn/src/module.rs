//! The [`Module`] trait: anything with a forward pass and named parameters.
//!
//! Layers, [`Sequential`](crate::layer::Sequential) and models implement it. A layer of your
//! own is a plain struct:
//!
//! ```
//! use tapegrad_nn::autograd::{tensor, Param, Real, Var};
//! use tapegrad_nn::Module;
//!
//! /// y = x * scale, elementwise, with a learned scale per feature.
//! struct Scale<T: Real> {
//!     scale: Param<T>,
//! }
//!
//! impl<T: Real> Module<T> for Scale<T> {
//!     fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
//!         x * x.tape().param(&self.scale)
//!     }
//!     fn params(&self) -> Vec<&Param<T>> {
//!         vec![&self.scale]
//!     }
//!     fn params_mut(&mut self) -> Vec<&mut Param<T>> {
//!         vec![&mut self.scale]
//!     }
//! }
//!
//! let layer = Scale { scale: Param::new("scale", tensor(&[3], vec![1.0f32, 2.0, 3.0])) };
//! assert_eq!(layer.num_params(), 3);
//! ```

use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{Param, Real, Tensor, Var};

/// A differentiable function with parameters: a layer, a stack of layers, a whole model.
///
/// Only [`forward`](Module::forward) is required; a layer with parameters also lists them in
/// [`params`](Module::params) and [`params_mut`](Module::params_mut) (in the same order), and a
/// layer that behaves differently in training (dropout) implements
/// [`set_training`](Module::set_training).
///
/// Modules are `Send` and `Sync`: [`Model::fit`](crate::model::Model::fit) runs its loop on a
/// thread of rayon's pool, and a trained model can be evaluated from several threads at once
/// through a shared reference, each thread recording on a tape of its own. State that
/// `forward` changes (a random stream, running statistics) sits behind a `Mutex`, not a
/// `RefCell`; state shared with the caller behind an `Arc<Mutex<_>>`, not an `Rc`.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::layer::{Linear, Relu, Sequential};
/// use tapegrad_nn::Module;
///
/// let net = Sequential::<f32>::new().add(Linear::new(2, 3, 0)).add(Relu);
/// let outputs: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let handles: Vec<_> = (0..2)
///         .map(|i| {
///             let net = &net;
///             s.spawn(move || {
///                 let tape = Tape::inference();
///                 let x = tape.constant(tensor(&[1, 2], vec![i as f32, 1.0]));
///                 net.forward(x).value().iter().copied().collect()
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(outputs.len(), 2);
/// ```
pub trait Module<T: Real>: Send + Sync {
    /// The output for input `x`, recorded on `x`'s tape (`x.tape()` gives the tape to bind
    /// parameters to with [`Tape::param`](tapegrad_autograd::Tape::param)).
    ///
    /// Panics on an input of the wrong shape, naming the layer, the shape and what it expects.
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T>;

    /// The parameters, in a fixed order.
    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    /// The parameters for updating, in the same order as [`params`](Module::params).
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    /// Switches between training (`true`, the default) and evaluation behaviour.
    fn set_training(&mut self, _training: bool) {}

    /// The states of the random streams the module draws from while training (one per
    /// dropout layer), in a fixed order; checkpoints save them so that a resumed run draws the
    /// same numbers.
    fn random_states(&self) -> Vec<u64> {
        Vec::new()
    }

    /// The random streams, for restoring their states; same order as
    /// [`random_states`](Module::random_states).
    fn random_streams_mut(&mut self) -> Vec<&mut SplitMix64> {
        Vec::new()
    }

    /// A one-line description for summaries and messages (`"Linear(784 -> 512)"`).
    fn describe(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// The total number of parameter elements (trainable or not).
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }

    /// The number of trainable parameter elements.
    fn num_trainable_params(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| p.is_trainable())
            .map(|p| p.len())
            .sum()
    }

    /// Freezes every parameter: no gradient is computed for them and optimizers skip them.
    fn freeze(&mut self) {
        for p in self.params_mut() {
            p.freeze();
        }
    }

    /// Unfreezes every parameter.
    fn unfreeze(&mut self) {
        for p in self.params_mut() {
            p.unfreeze();
        }
    }

    /// Every parameter's name and shape, as a saved file must have them.
    fn named_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.params()
            .iter()
            .map(|p| (p.name().to_string(), p.shape().to_vec()))
            .collect()
    }

    /// Every parameter's name and value (shared, no copy): PyTorch's `state_dict`.
    fn state_dict(&self) -> Vec<(String, Tensor<T>)> {
        self.params()
            .iter()
            .map(|p| (p.name().to_string(), p.value().clone()))
            .collect()
    }

    /// The parameter of this name, if any.
    fn param(&self, name: &str) -> Option<&Param<T>> {
        self.params().into_iter().find(|p| p.name() == name)
    }

    /// The parameter of this name for updating, if any.
    fn param_mut(&mut self, name: &str) -> Option<&mut Param<T>> {
        self.params_mut().into_iter().find(|p| p.name() == name)
    }
}

impl<T: Real, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        (**self).forward(x)
    }
    fn params(&self) -> Vec<&Param<T>> {
        (**self).params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        (**self).params_mut()
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
    fn unfreeze(&mut self) {
        (**self).unfreeze()
    }
    fn random_states(&self) -> Vec<u64> {
        (**self).random_states()
    }
    fn random_streams_mut(&mut self) -> Vec<&mut SplitMix64> {
        (**self).random_streams_mut()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
