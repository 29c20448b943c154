//! Normalisation layers: batch normalisation over the batch (and positions), layer
//! normalisation over each sample's features.

use std::sync::{Mutex, PoisonError};

use tapegrad_autograd::{ones, tensor, zeros, Param, Real, Tensor, Var};

use crate::Module;

/// Batch normalisation over the axes of `[N, C, ...]` inputs other than the channel axis 1,
/// shared by [`BatchNorm1d`] and [`BatchNorm2d`].
///
/// Running averages are `Param`s that never train (frozen, never bound to a tape), so saving,
/// loading, checkpoints and early stopping's best weights carry them like any weight. A
/// training forward cannot change a `Param` through `&self`, so it leaves the new averages in
/// a mutex and they move into the parameters when the layer is next changed: when its
/// parameters are taken for updating (every optimizer step), or its mode is set.
#[derive(Debug)]
struct BatchNorm<T: Real> {
    kind: &'static str,
    ranks: &'static [usize],
    weight: Param<T>,
    bias: Param<T>,
    running_mean: Param<T>,
    running_var: Param<T>,
    momentum: f64,
    eps: f64,
    training: bool,
    pending: Mutex<Option<(Tensor<T>, Tensor<T>)>>,
}

impl<T: Real> BatchNorm<T> {
    fn new(kind: &'static str, ranks: &'static [usize], features: usize) -> Self {
        let frozen = |name: &str, value: Tensor<T>| {
            let mut p = Param::new(name, value);
            p.freeze();
            p
        };
        BatchNorm {
            kind,
            ranks,
            weight: Param::new("weight", ones(&[features])),
            bias: Param::new("bias", zeros(&[features])),
            running_mean: frozen("running_mean", zeros(&[features])),
            running_var: frozen("running_var", ones(&[features])),
            momentum: 0.1,
            eps: 1e-5,
            training: true,
            pending: Mutex::new(None),
        }
    }

    fn features(&self) -> usize {
        self.weight.len()
    }

    /// The running averages, the pending ones if a training forward left some.
    fn running(&self) -> (Tensor<T>, Tensor<T>) {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match &*pending {
            Some((m, v)) => (m.clone(), v.clone()),
            None => (
                self.running_mean.value().clone(),
                self.running_var.value().clone(),
            ),
        }
    }

    /// Moves pending running averages into their parameters.
    fn settle(&mut self) {
        let pending = self
            .pending
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((m, v)) = pending {
            self.running_mean.set_value(m);
            self.running_var.set_value(v);
        }
    }

    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        let c = self.features();
        if !self.ranks.contains(&shape.len()) || shape[1] != c {
            let layouts: Vec<String> = self
                .ranks
                .iter()
                .map(|&r| match r {
                    2 => format!("[batch, {c}]"),
                    3 => format!("[batch, {c}, length]"),
                    _ => format!("[batch, {c}, height, width]"),
                })
                .collect();
            panic!(
                "{}: expected an input of shape {}, got {shape:?}",
                super::owner_name(self.weight.name(), &self.describe()),
                layouts.join(" or ")
            );
        }
        let axes: Vec<isize> = (0..shape.len() as isize).filter(|&a| a != 1).collect();
        let mut per_channel = vec![1; shape.len()];
        per_channel[1] = c;
        let tape = x.tape();
        let eps = T::lit(self.eps);
        let normalised = if self.training {
            let n: usize = shape.iter().product::<usize>() / c;
            assert!(
                n > 1,
                "{}: training needs more than one value per channel to compute a variance, got \
                 an input of shape {shape:?}; use a larger batch or evaluation mode",
                self.describe()
            );
            let mean = x.mean_axes(&axes, true);
            let centred = x - mean;
            let var = centred.square().mean_axes(&axes, true);
            self.update_running(&mean.value(), &var.value(), n);
            centred / var.add_scalar(eps).sqrt()
        } else {
            let (m, v) = self.running();
            let m = tape.constant(to_shape(&m, &per_channel));
            let v = tape.constant(to_shape(&v, &per_channel));
            (x - m) / v.add_scalar(eps).sqrt()
        };
        let w = tape.param(&self.weight).reshape(&per_channel);
        let b = tape.param(&self.bias).reshape(&per_channel);
        normalised * w + b
    }

    /// `running = (1 - momentum) running + momentum batch`, with the unbiased variance of the
    /// batch (`n / (n - 1)` times the biased one that normalises), as PyTorch does.
    fn update_running(&self, mean: &Tensor<T>, var: &Tensor<T>, n: usize) {
        let (old_m, old_v) = self.running();
        let mo = self.momentum;
        let unbias = n as f64 / (n as f64 - 1.0);
        let mix = |old: &Tensor<T>, new: &Tensor<T>, scale: f64| -> Tensor<T> {
            let data = old
                .iter()
                .zip(new.iter())
                .map(|(&o, &b)| {
                    T::lit((1.0 - mo) * o.to_f64().unwrap_or(f64::NAN)) + T::lit(mo * scale) * b
                })
                .collect();
            tensor(old.shape(), data)
        };
        let next = (mix(&old_m, mean, 1.0), mix(&old_v, var, unbias));
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(next);
    }

    fn describe(&self) -> String {
        format!(
            "{}({}, eps {}, momentum {})",
            self.kind,
            self.features(),
            self.eps,
            self.momentum
        )
    }
}

/// A tensor's elements in another shape of the same size.
fn to_shape<T: Real>(t: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    tensor(shape, t.iter().copied().collect())
}

macro_rules! batch_norm {
    ($(#[$meta:meta])* $name:ident, $label:literal, $ranks:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name<T: Real = f32>(BatchNorm<T>);

        impl<T: Real> $name<T> {
            /// Batch normalisation of `features` channels: scale 1, shift 0, running mean 0
            /// and variance 1, `eps` 1e-5, momentum 0.1 (PyTorch's defaults).
            pub fn new(features: usize) -> Self {
                $name(BatchNorm::new($label, $ranks, features))
            }

            /// The layer with the given scale and shift (`[features]` each) and running mean
            /// and variance.
            ///
            /// # Panics
            /// If the four tensors are not all `[features]` for one `features`.
            #[track_caller]
            pub fn from_tensors(
                weight: Tensor<T>,
                bias: Tensor<T>,
                running_mean: Tensor<T>,
                running_var: Tensor<T>,
            ) -> Self {
                let c = weight.len();
                for (what, t) in [
                    ("weight", &weight),
                    ("bias", &bias),
                    ("running_mean", &running_mean),
                    ("running_var", &running_var),
                ] {
                    assert_eq!(
                        t.shape(),
                        &[c],
                        concat!($label, "::from_tensors: the {} must be [{}], got {:?}"),
                        what,
                        c,
                        t.shape()
                    );
                }
                let mut layer = Self::new(c);
                layer.0.weight.set_value(weight);
                layer.0.bias.set_value(bias);
                layer.0.running_mean.set_value(running_mean);
                layer.0.running_var.set_value(running_var);
                layer
            }

            /// The weight of the new batch's statistics in the running averages (PyTorch's
            /// `momentum`; Keras' `momentum` is one minus it).
            pub fn momentum(mut self, momentum: f64) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// The constant added to the variance before the square root.
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// The running mean `[features]`, as of the last settled update (see the type's
            /// documentation).
            pub fn running_mean(&self) -> Tensor<T> {
                self.0.running().0
            }

            /// The running variance `[features]`.
            pub fn running_var(&self) -> Tensor<T> {
                self.0.running().1
            }
        }

        impl<T: Real> Module<T> for $name<T> {
            #[track_caller]
            fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
                self.0.forward(x)
            }
            fn params(&self) -> Vec<&Param<T>> {
                let b = &self.0;
                vec![&b.weight, &b.bias, &b.running_mean, &b.running_var]
            }
            fn params_mut(&mut self) -> Vec<&mut Param<T>> {
                self.0.settle();
                let b = &mut self.0;
                vec![
                    &mut b.weight,
                    &mut b.bias,
                    &mut b.running_mean,
                    &mut b.running_var,
                ]
            }
            fn set_training(&mut self, training: bool) {
                self.0.settle();
                self.0.training = training;
            }
            fn unfreeze(&mut self) {
                // The running averages are not trained, whatever the rest of the model does.
                self.0.weight.unfreeze();
                self.0.bias.unfreeze();
            }
            fn describe(&self) -> String {
                self.0.describe()
            }
        }
    };
}

batch_norm!(
    /// Batch normalisation of `[N, C]` features or `[N, C, L]` sequences (PyTorch's
    /// `BatchNorm1d`): `y = (x - mean) / sqrt(var + eps) * weight + bias` per channel `C`.
    ///
    /// While training, `mean` and `var` (biased) are the batch's, over every axis but `C`, and
    /// running averages of them are kept; in evaluation mode (which
    /// [`Model`](crate::model::Model) switches to in `evaluate` and `predict`, as for dropout)
    /// the running averages are used instead. Parameters: `weight`, `bias` (trained),
    /// `running_mean`, `running_var` (frozen, saved with the weights).
    ///
    /// ```
    /// use tapegrad_nn::autograd::{tensor, Tape};
    /// use tapegrad_nn::layer::BatchNorm1d;
    /// use tapegrad_nn::Module;
    ///
    /// let mut bn = BatchNorm1d::<f64>::new(1);
    /// let tape = Tape::new();
    /// let y = bn.forward(tape.constant(tensor(&[4, 1], vec![1., 2., 3., 4.]))).value();
    /// // Mean 2.5, biased variance 1.25.
    /// assert!((y[[0, 0]] + 1.5 / (1.25f64 + 1e-5).sqrt()).abs() < 1e-12);
    /// bn.set_training(false);
    /// // Running mean 0.1 * 2.5, variance 0.9 + 0.1 * 5/3 (unbiased).
    /// assert!((bn.running_mean()[[0]] - 0.25).abs() < 1e-12);
    /// assert!((bn.running_var()[[0]] - (0.9 + 0.5 / 3.0)).abs() < 1e-12);
    /// ```
    BatchNorm1d,
    "BatchNorm1d",
    &[2, 3]
);

batch_norm!(
    /// Batch normalisation of `[N, C, H, W]` images per channel (PyTorch's `BatchNorm2d`):
    /// statistics over the batch and every pixel, otherwise as [`BatchNorm1d`].
    ///
    /// ```
    /// use tapegrad_nn::autograd::{zeros, Tape};
    /// use tapegrad_nn::layer::{BatchNorm2d, Conv2d, Sequential};
    /// use tapegrad_nn::Module;
    ///
    /// let net = Sequential::<f32>::new().add(Conv2d::new(1, 4, 3, 0)).add(BatchNorm2d::new(4));
    /// let tape = Tape::new();
    /// assert_eq!(net.forward(tape.constant(zeros(&[2, 1, 5, 5]))).shape(), vec![2, 4, 3, 3]);
    /// ```
    BatchNorm2d,
    "BatchNorm2d",
    &[4]
);

/// Layer normalisation (PyTorch's `LayerNorm`): each sample normalised over its last axes,
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`, the mean and (biased) variance over the
/// trailing `normalized_shape` axes, the same in training and evaluation.
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::layer::LayerNorm;
/// use tapegrad_nn::Module;
///
/// let ln = LayerNorm::<f64>::new(&[2]);
/// let tape = Tape::new();
/// let y = ln.forward(tape.constant(tensor(&[1, 2], vec![1., 3.]))).value();
/// let s = (1.0f64 + 1e-5).sqrt(); // mean 2, variance 1
/// assert!((y[[0, 0]] + 1.0 / s).abs() < 1e-12 && (y[[0, 1]] - 1.0 / s).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct LayerNorm<T: Real = f32> {
    weight: Param<T>,
    bias: Param<T>,
    eps: f64,
}

impl<T: Real> LayerNorm<T> {
    /// Normalisation over trailing axes of shape `normalized_shape`, scale 1, shift 0, `eps`
    /// 1e-5.
    ///
    /// # Panics
    /// If `normalized_shape` is empty.
    #[track_caller]
    pub fn new(normalized_shape: &[usize]) -> Self {
        assert!(
            !normalized_shape.is_empty(),
            "LayerNorm::new: normalized_shape must name at least one axis, e.g. &[features]"
        );
        LayerNorm {
            weight: Param::new("weight", ones(normalized_shape)),
            bias: Param::new("bias", zeros(normalized_shape)),
            eps: 1e-5,
        }
    }

    /// The layer with the given scale and shift, both of the normalised shape.
    ///
    /// # Panics
    /// If their shapes differ or are empty.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Tensor<T>) -> Self {
        assert!(
            weight.shape() == bias.shape() && weight.ndim() > 0,
            "LayerNorm::from_tensors: weight and bias must have the normalised shape, got {:?} \
             and {:?}",
            weight.shape(),
            bias.shape()
        );
        LayerNorm {
            weight: Param::new("weight", weight),
            bias: Param::new("bias", bias),
            eps: 1e-5,
        }
    }

    /// The constant added to the variance before the square root.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl<T: Real> Module<T> for LayerNorm<T> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        let norm = self.weight.shape();
        let k = norm.len();
        if shape.len() < k || &shape[shape.len() - k..] != norm {
            panic!(
                "{}: expected an input whose last axes are {norm:?}, got {shape:?}",
                super::owner_name(self.weight.name(), &self.describe())
            );
        }
        let axes: Vec<isize> = (shape.len() - k..shape.len()).map(|a| a as isize).collect();
        let mean = x.mean_axes(&axes, true);
        let centred = x - mean;
        let var = centred.square().mean_axes(&axes, true);
        let tape = x.tape();
        centred / var.add_scalar(T::lit(self.eps)).sqrt() * tape.param(&self.weight)
            + tape.param(&self.bias)
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.weight, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.weight, &mut self.bias]
    }
    fn describe(&self) -> String {
        format!("LayerNorm({:?}, eps {})", self.weight.shape(), self.eps)
    }
}
