//! Variables: cheap handles to values recorded on a tape.

use std::fmt;

use crate::{Real, Tape, Tensor};

/// A handle to a value on a [`Tape`]: a leaf made by [`Tape::var`] or [`Tape::constant`], or
/// the output of an op.
///
/// A `Var` is two words and `Copy`, so model code reads like the math:
///
/// ```
/// use tapegrad_autograd::{tensor, Tape};
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
/// let w = tape.var(tensor(&[3], vec![0.1, 0.2, 0.3]));
/// let b = tape.var(tensor(&[3], vec![0.5, -0.5, 0.0]));
/// let y = x * w + b;
/// assert_eq!(y.shape(), vec![2, 3]);
/// ```
///
/// Its lifetime ties it to its tape: a variable cannot outlive the graph it belongs to.
pub struct Var<'t, T: Real> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) index: u32,
}

impl<T: Real> Clone for Var<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Real> Copy for Var<'_, T> {}

impl<T: Real> PartialEq for Var<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.tape, other.tape) && self.index == other.index
    }
}

impl<T: Real> Eq for Var<'_, T> {}

impl<T: Real> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[self.index as usize];
        write!(
            f,
            "Var(#{} {} {:?}{})",
            self.index,
            node.kind.name(),
            node.value.shape(),
            if node.requires_grad { ", grad" } else { "" }
        )
    }
}

impl<'t, T: Real> Var<'t, T> {
    pub(crate) fn new(tape: &'t Tape<T>, index: u32) -> Self {
        Var { tape, index }
    }

    /// The tape this variable lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The position of this variable's node on the tape (leaves and ops, in recording order).
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// The value, shared with the tape (no copy is made).
    pub fn value(&self) -> Tensor<T> {
        self.tape.nodes.borrow()[self.index as usize].value.clone()
    }

    /// Runs `f` on the value without touching its reference count.
    pub fn with_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self.tape.nodes.borrow()[self.index as usize].value)
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.with_value(|v| v.shape().to_vec())
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.with_value(|v| v.ndim())
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.with_value(|v| v.len())
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The single element of a one-element value, such as a loss.
    ///
    /// # Panics
    /// If the value has more or fewer than one element.
    #[track_caller]
    pub fn item(&self) -> T {
        self.with_value(|v| {
            assert_eq!(
                v.len(),
                1,
                "item: the value has shape {:?}, not one element",
                v.shape()
            );
            *v.iter().next().expect("one element")
        })
    }

    /// Whether a gradient flows to this variable from backward.
    pub fn requires_grad(&self) -> bool {
        self.tape.nodes.borrow()[self.index as usize].requires_grad
    }

    /// Keeps this intermediate variable's gradient in the result of backward (leaves'
    /// gradients are always kept; intermediate ones are freed as soon as they are used).
    ///
    /// Returns `self`, so it can be chained: `let h = x.matmul(w).retain_grad();`.
    pub fn retain_grad(self) -> Self {
        self.tape.nodes.borrow_mut()[self.index as usize].retain_grad = true;
        self
    }

    /// A new leaf with the same value and no gradient: stops gradients from flowing through.
    #[track_caller]
    pub fn detach(self) -> Self {
        self.tape.constant(self.value())
    }

    /// Runs backward from this variable; shorthand for [`Tape::backward`].
    #[track_caller]
    pub fn backward(self) -> crate::Gradients<T> {
        self.tape.backward(self)
    }
}
