//! Layers: the building blocks of models, each a [`Module`](crate::Module).
//!
//! | layer | what |
//! |---|---|
//! | [`Sequential`] | layers applied in order; names parameters `layer0.weight`, ... |
//! | [`Linear`] (alias [`Dense`]) | `x @ W + b`, weight stored `[in, out]` |
//! | [`Relu`], [`Sigmoid`], [`Tanh`], [`Softmax`], [`LeakyRelu`], [`LogSoftmax`] | activations |
//! | [`Conv2d`] | 2-d convolution of `[N, C, H, W]` images |
//! | [`MaxPool2d`], [`AvgPool2d`] | pooling |
//! | [`Flatten`] | `[N, ...]` to `[N, features]` |
//! | [`Dropout`] | inverted dropout while training, identity in evaluation |
//! | [`BatchNorm1d`], [`BatchNorm2d`] | batch normalisation with running averages for evaluation |
//! | [`LayerNorm`] | normalisation of each sample over its last axes |
//! | [`Embedding`] | a learned vector per token, with an optional padding index |
//! | [`RnnCell`], [`LstmCell`], [`GruCell`] | one step of a recurrent network (PyTorch's formulas) |
//! | [`Recurrent`] | a [`RecurrentCell`] unrolled over `[batch, time, features]` |
//! | [`Gelu`], [`Elu`], [`Silu`] | smooth activations |
//! | [`Lambda`] | any function of one variable |

mod activation;
mod conv;
mod dropout;
mod embedding;
mod flatten;
mod lambda;
mod linear;
mod norm;
mod recurrent;
mod sequential;

pub use activation::{Elu, Gelu, LeakyRelu, LogSoftmax, Relu, Sigmoid, Silu, Softmax, Tanh};
pub use conv::{AvgPool2d, Conv2d, MaxPool2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use lambda::Lambda;
pub use linear::{Dense, Linear};
pub use norm::{BatchNorm1d, BatchNorm2d, LayerNorm};
pub use recurrent::{GruCell, LstmCell, Recurrent, RecurrentCell, RnnCell};
pub use sequential::Sequential;

/// The name a layer goes by in messages: its parameter's owner (`layer0` for
/// `layer0.weight`), or the layer type when it has no prefix.
pub(crate) fn owner_name(param_name: &str, kind: &str) -> String {
    match param_name.rsplit_once('.') {
        Some((owner, _)) => format!("{kind} {owner}"),
        None => kind.to_string(),
    }
}
