//! Class labels of any integer type: [`Label`] for one, [`Labels`] for a list of them.
//!
//! Data sets hand out labels in the type their files use (MNIST's are `u8`); the losses that
//! take labels, [`Targets`](crate::targets::Targets) and therefore `fit`, `evaluate` and the
//! accuracy take any of them without a conversion by hand.
//!
//! ```
//! use tapegrad_nn::autograd::{tensor, Tape};
//! use tapegrad_nn::loss::{softmax_cross_entropy_with_labels, Reduce};
//! use tapegrad_nn::metric::accuracy;
//!
//! let mnist_style: Vec<u8> = vec![0, 2];
//! let tape = Tape::<f32>::new();
//! let logits = tape.var(tensor(&[2, 3], vec![2.0, 0.0, 0.0, 0.0, 0.0, 2.0]));
//! let loss = softmax_cross_entropy_with_labels(logits, &mnist_style, Reduce::Mean);
//! assert!(loss.item() < 0.25);
//! assert_eq!(accuracy(&logits.value(), &mnist_style.into()), 1.0);
//! ```

use std::fmt;

/// One class label: an integer that converts to a class index.
pub trait Label: Copy + fmt::Display {
    /// The class index, or `None` for a negative label.
    fn to_index(self) -> Option<usize>;
}

macro_rules! integer_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            fn to_index(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
        }
    )*};
}
integer_label!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// A label that is not a class index, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegativeLabel {
    /// The position of the label in the list.
    pub position: usize,
    /// The label, as written.
    pub label: String,
}

impl fmt::Display for NegativeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "label {} at position {} is negative; class labels are 0, 1, 2, ...",
            self.label, self.position
        )
    }
}

impl std::error::Error for NegativeLabel {}

/// A list of class labels of one integer type: a slice, an array or a `Vec`.
pub trait Labels {
    /// The labels as class indices, or the first negative one.
    fn to_indices(&self) -> Result<Vec<usize>, NegativeLabel>;

    /// The number of labels.
    fn count(&self) -> usize;
}

impl<L: Label> Labels for [L] {
    fn to_indices(&self) -> Result<Vec<usize>, NegativeLabel> {
        self.iter()
            .enumerate()
            .map(|(position, &l)| {
                l.to_index().ok_or_else(|| NegativeLabel {
                    position,
                    label: l.to_string(),
                })
            })
            .collect()
    }

    fn count(&self) -> usize {
        self.len()
    }
}

impl<L: Label, const N: usize> Labels for [L; N] {
    fn to_indices(&self) -> Result<Vec<usize>, NegativeLabel> {
        self.as_slice().to_indices()
    }

    fn count(&self) -> usize {
        N
    }
}

impl<L: Label> Labels for Vec<L> {
    fn to_indices(&self) -> Result<Vec<usize>, NegativeLabel> {
        self.as_slice().to_indices()
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// The labels as class indices, panicking with `what` and the first negative label.
#[track_caller]
pub(crate) fn indices_or_panic<L: Labels + ?Sized>(what: &str, labels: &L) -> Vec<usize> {
    match labels.to_indices() {
        Ok(indices) => indices,
        Err(e) => panic!("{what}: {e}"),
    }
}
