//! Parameters: named, trainable tensors that live across tapes.

use std::cell::Cell;

use crate::{Gradients, Real, Tape, Tensor, Var};

/// A model parameter: a named tensor that persists across training steps, bound to each step's
/// tape with [`Tape::param`] and updated in place by an optimizer.
///
/// Binding shares the buffer (no copy). A frozen parameter binds as a constant, so no gradient
/// is computed for it (Grokking ch.5 freezes a weight this way).
///
/// ```
/// use tapegrad_autograd::{tensor, Param, Tape};
/// let mut w = Param::new("w", tensor(&[2], vec![1.0f64, 2.0]));
/// let grads = {
///     let tape = Tape::new();
///     let x = tape.constant(tensor(&[2], vec![3.0, 4.0]));
///     let loss = (tape.param(&w) * x).sum();
///     tape.backward(loss)
/// };
/// let g = grads.param(&w).unwrap().clone();
/// assert_eq!(g.as_slice().unwrap(), &[3.0, 4.0]);
/// w.value_mut().zip_mut_with(&g, |w, g| *w -= 0.1 * g);
/// assert_eq!(w.value().as_slice().unwrap(), &[0.7, 1.6]);
/// ```
pub struct Param<T: Real> {
    name: String,
    value: Tensor<T>,
    trainable: bool,
    /// The tape and node this parameter was last bound to, so that backward's gradients can be
    /// found by parameter without any lookup table.
    binding: Cell<Option<(u64, u32)>>,
}

impl<T: Real> Clone for Param<T> {
    fn clone(&self) -> Self {
        Param {
            name: self.name.clone(),
            value: self.value.clone(),
            trainable: self.trainable,
            binding: Cell::new(None),
        }
    }
}

impl<T: Real> std::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("shape", &self.value.shape())
            .field("trainable", &self.trainable)
            .finish()
    }
}

impl<T: Real> Param<T> {
    /// A trainable parameter.
    pub fn new(name: impl Into<String>, value: Tensor<T>) -> Self {
        Param {
            name: name.into(),
            value,
            trainable: true,
            binding: Cell::new(None),
        }
    }

    /// The parameter's name (`"layer0.weight"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the parameter.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The current value (shared, no copy).
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value, for updating in place. If a tape still holds the old value, it is copied
    /// first, so recorded graphs never see the change.
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If the new value's shape differs.
    #[track_caller]
    pub fn set_value(&mut self, value: Tensor<T>) {
        assert_eq!(
            value.shape(),
            self.value.shape(),
            "Param::set_value: '{}' has shape {:?}, the new value {:?}",
            self.name,
            self.value.shape(),
            value.shape()
        );
        self.value = value;
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Whether gradients are computed for this parameter.
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }

    /// Freezes the parameter: later bindings are constants and get no gradient.
    pub fn freeze(&mut self) {
        self.trainable = false;
    }

    /// Unfreezes the parameter.
    pub fn unfreeze(&mut self) {
        self.trainable = true;
    }

    /// The variable this parameter is bound to on `tape`, if it was bound there last.
    pub fn bound_on<'t>(&self, tape: &'t Tape<T>) -> Option<Var<'t, T>> {
        match self.binding.get() {
            Some((id, index)) if id == tape.id() && (index as usize) < tape.len() => {
                Some(Var::new(tape, index))
            }
            _ => None,
        }
    }
}

impl<T: Real> Tape<T> {
    /// Binds a parameter to this tape, sharing its value: a variable needing a gradient, or a
    /// constant if the parameter is frozen. Binding the same parameter again on the same tape
    /// returns the same variable, so shared weights accumulate one gradient.
    ///
    /// While recording is off (an [`inference`](Tape::inference) tape, or inside
    /// [`no_grad`](Tape::no_grad)) the parameter is used as a constant and keeps its binding,
    /// so evaluating a model between `backward` and the optimizer step does not hide the
    /// gradients of the training tape from [`Gradients::param`].
    #[track_caller]
    pub fn param(&self, p: &Param<T>) -> Var<'_, T> {
        if let Some(v) = p.bound_on(self) {
            return v;
        }
        if !self.is_grad_enabled() {
            return self.constant(p.value.clone());
        }
        let v = if p.trainable {
            self.var(p.value.clone())
        } else {
            self.constant(p.value.clone())
        };
        p.binding.set(Some((self.id(), v.index)));
        v
    }
}

impl<T: Real> Gradients<T> {
    /// The gradient of the parameter from this backward pass, if it was bound to the tape the
    /// pass ran on, is trainable and the output depends on it.
    pub fn param(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        match p.binding.get() {
            Some((id, index)) if id == self.tape_id() => self.get_index(index as usize),
            _ => None,
        }
    }
}
