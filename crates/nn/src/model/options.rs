//! What [`Model::fit`](super::Model::fit) is told: epochs, batch size, validation, shuffling,
//! callbacks, verbosity.

use tapegrad_autograd::{Real, Tensor};

use crate::callback::Callback;
use crate::progress::Verbosity;
use crate::targets::Targets;

/// Held-out data to evaluate after every epoch.
pub enum Validation<T: Real> {
    /// No validation.
    None,
    /// The last fraction of the training data (taken before shuffling, as Keras does).
    Split(f64),
    /// Separate inputs and targets.
    Data(Tensor<T>, Targets<T>),
}

/// How [`Model::fit`](super::Model::fit) trains.
///
/// `epochs` is the number of epochs to train now, as in Keras: calling `fit` twice with
/// `FitOptions::new(5, ..)` trains ten epochs, numbered 1 to 10 in the model's history and in
/// checkpoint names. [`initial_epoch`](FitOptions::initial_epoch) gives the other meaning,
/// "up to epoch `epochs` in total", for resuming a run.
///
/// ```
/// use tapegrad_nn::callback::EarlyStopping;
/// use tapegrad_nn::model::FitOptions;
/// let opts = FitOptions::<f32>::new(20, 512)
///     .validation_split(0.2)
///     .shuffle_seed(7)
///     .callback(EarlyStopping::new("val_loss", 3).restore_best_weights(true))
///     .verbosity(2);
/// ```
pub struct FitOptions<T: Real> {
    /// The number of epochs this call trains, after those the model has already done (a
    /// second `fit` with `epochs: 5` trains five more, as in Keras). With
    /// [`initial_epoch`](FitOptions::initial_epoch) set, the number the last epoch ends at
    /// instead.
    pub epochs: usize,
    /// Keras' `initial_epoch`: when set, `epochs` counts all epochs from the first, and
    /// training runs from this epoch up to `epochs`. It must equal the epochs the model has
    /// done ([`Model::epoch`](super::Model::epoch), restored by a checkpoint), so that every
    /// epoch keeps one number in the history and in checkpoint names.
    pub initial_epoch: Option<usize>,
    /// Samples per gradient step (the last batch may be smaller).
    pub batch_size: usize,
    /// Held-out data evaluated after each epoch.
    pub validation: Validation<T>,
    /// Seed of the per-epoch shuffle, or `None` to keep the data's order. Each epoch's order
    /// depends only on the seed and the epoch number.
    pub shuffle: Option<u64>,
    /// Callbacks, run in order.
    pub callbacks: Vec<Box<dyn Callback<T>>>,
    /// What to print.
    pub verbosity: Verbosity,
}

impl<T: Real> Default for FitOptions<T> {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            initial_epoch: None,
            batch_size: 32,
            validation: Validation::None,
            shuffle: Some(0),
            callbacks: Vec::new(),
            verbosity: Verbosity::Bar,
        }
    }
}

impl<T: Real> FitOptions<T> {
    /// `epochs` epochs of batches of `batch_size`, shuffled with seed 0, with a progress bar.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        FitOptions {
            epochs,
            batch_size,
            ..Self::default()
        }
    }

    /// Counts `epochs` from the first epoch and starts at epoch `epoch` (Keras'
    /// `initial_epoch`), which must be the number of epochs the model has done: the way to
    /// say "train up to epoch `epochs` in total", for example after loading a checkpoint.
    ///
    /// ```
    /// use tapegrad_nn::model::FitOptions;
    /// # let model_epoch = 3;
    /// // After model.load_checkpoint(..) restored 3 epochs: train epochs 4 to 10.
    /// let opts = FitOptions::<f32>::new(10, 32).initial_epoch(model_epoch);
    /// ```
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = Some(epoch);
        self
    }

    /// Holds out the last `fraction` of the data for validation.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }

    /// Validates on separate data.
    pub fn validation_data(mut self, x: Tensor<T>, y: impl Into<Targets<T>>) -> Self {
        self.validation = Validation::Data(x, y.into());
        self
    }

    /// Shuffles each epoch with this seed.
    pub fn shuffle_seed(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Keeps the data's order.
    pub fn no_shuffle(mut self) -> Self {
        self.shuffle = None;
        self
    }

    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback<T> + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }

    /// Sets what to print (Keras' 0, 1, 2, or a [`Verbosity`]).
    pub fn verbosity(mut self, v: impl Into<Verbosity>) -> Self {
        self.verbosity = v.into();
        self
    }
}
