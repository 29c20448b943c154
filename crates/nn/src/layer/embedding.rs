//! The embedding table: one learned vector per token.

use ndarray::Axis;
use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{Param, Real, Tape, Tensor, Var};

use crate::init::Init;
use crate::Module;

/// A lookup table of `num_embeddings` vectors of `dim` elements (PyTorch's `Embedding`,
/// Keras' `Embedding`): token `i` becomes row `i` of the weight `[num_embeddings, dim]`.
///
/// As a [`Module`] its input holds token indices as whole numbers (`[batch, length]` or any
/// shape) and its output has one more axis, `[..., dim]`; [`lookup`](Embedding::lookup) takes
/// the indices as integers. The gradient scatter-adds each output row into the row of the
/// table it came from, so only the rows of the tokens seen get a non-zero gradient.
///
/// With a padding index, that row starts at zero, its lookups give zeros and it gets no
/// gradient, so padding never learns (PyTorch's `padding_idx`).
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::layer::Embedding;
/// use tapegrad_nn::Module;
///
/// let emb = Embedding::<f32>::from_tensors(tensor(&[3, 2], vec![0., 0., 1., 2., 3., 4.]))
///     .padding_index(0);
/// let tape = Tape::new();
/// let tokens = tape.constant(tensor(&[1, 3], vec![2., 0., 1.]));
/// let y = emb.forward(tokens);
/// assert_eq!(y.shape(), vec![1, 3, 2]);
/// assert_eq!(y.value().as_slice().unwrap(), &[3., 4., 0., 0., 1., 2.]);
/// let table = tape.param(emb.weight());
/// let g = tape.backward((y * y).sum());
/// // d/dW of the sum of squares: 2 W at each looked-up row, none at the padding row.
/// assert_eq!(g.get(table).unwrap().as_slice().unwrap(), &[0., 0., 2., 4., 6., 8.]);
/// ```
#[derive(Clone, Debug)]
pub struct Embedding<T: Real = f32> {
    weight: Param<T>,
    padding: Option<usize>,
}

impl<T: Real> Embedding<T> {
    /// A table of `num_embeddings` rows of `dim`, drawn from the standard normal distribution
    /// (PyTorch's default) with a stream seeded with `seed`.
    pub fn new(num_embeddings: usize, dim: usize, seed: u64) -> Self {
        Self::with_init(
            num_embeddings,
            dim,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            &mut SplitMix64::new(seed),
        )
    }

    /// A table drawn with the given initialiser from `rng`.
    pub fn with_init(
        num_embeddings: usize,
        dim: usize,
        init: Init,
        rng: &mut impl RandomStream,
    ) -> Self {
        Embedding {
            weight: Param::new("weight", init.tensor(&[num_embeddings, dim], rng)),
            padding: None,
        }
    }

    /// A table with the given weight `[num_embeddings, dim]`.
    ///
    /// # Panics
    /// If the weight is not 2-D.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>) -> Self {
        assert_eq!(
            weight.ndim(),
            2,
            "Embedding::from_tensors: the weight must be [num_embeddings, dim], got shape {:?}",
            weight.shape()
        );
        Embedding {
            weight: Param::new("weight", weight),
            padding: None,
        }
    }

    /// The same table with row `index` as padding: set to zero now, looked up as zeros and
    /// never given a gradient.
    ///
    /// # Panics
    /// If `index` is not a row of the table.
    #[track_caller]
    pub fn padding_index(mut self, index: usize) -> Self {
        let rows = self.num_embeddings();
        assert!(
            index < rows,
            "Embedding::padding_index: {index} is not a row of a table of {rows}"
        );
        self.weight
            .value_mut()
            .index_axis_mut(Axis(0), index)
            .fill(T::zero());
        self.padding = Some(index);
        self
    }

    /// The number of rows (the vocabulary size).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The length of each vector.
    pub fn dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The table `[num_embeddings, dim]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The vectors of `indices`, as `[indices.len(), dim]` recorded on `tape`.
    ///
    /// # Panics
    /// If an index is not a row of the table.
    #[track_caller]
    pub fn lookup<'t>(&self, tape: &'t Tape<T>, indices: &[usize]) -> Var<'t, T> {
        let rows = self.num_embeddings();
        if let Some((at, &i)) = indices.iter().enumerate().find(|(_, &i)| i >= rows) {
            panic!(
                "{}: index {i} (position {at}) is not a row of a table of {rows}",
                super::owner_name(self.weight.name(), &self.describe())
            );
        }
        let vectors = tape.param(&self.weight).index_select(0, indices);
        match self.padding {
            // Zeroing the padding positions' outputs also zeroes the gradient they send back.
            Some(pad) if indices.contains(&pad) => {
                let keep: Vec<T> = indices
                    .iter()
                    .map(|&i| if i == pad { T::zero() } else { T::one() })
                    .collect();
                vectors * tape.constant(tapegrad_autograd::tensor(&[indices.len(), 1], keep))
            }
            _ => vectors,
        }
    }
}

impl<T: Real> Module<T> for Embedding<T> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        let indices: Vec<usize> = x.with_value(|v| {
            v.iter()
                .enumerate()
                .map(|(at, &t)| match t.to_usize() {
                    Some(i) if T::from_usize_lossy(i) == t => i,
                    _ => panic!(
                        "{}: expected token indices (whole numbers from 0) in an input of shape \
                         {shape:?}, got {t} at position {at}",
                        super::owner_name(self.weight.name(), &self.describe())
                    ),
                })
                .collect()
        });
        let mut out = shape;
        out.push(self.dim());
        self.lookup(x.tape(), &indices).reshape(&out)
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.weight]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.weight]
    }
    fn describe(&self) -> String {
        match self.padding {
            Some(p) => format!(
                "Embedding({}, {}, padding {p})",
                self.num_embeddings(),
                self.dim()
            ),
            None => format!("Embedding({}, {})", self.num_embeddings(), self.dim()),
        }
    }
}
