//! Parameters: named, trainable tensors that live across tapes, and the table that binds them
//! to the nodes of one recording.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Gradients, Real, Tape, Tensor, Var};

/// Every parameter (and every clone of one) gets its own number, so that a tape can tell
/// parameters apart without holding on to them.
static NEXT_PARAM_ID: AtomicU64 = AtomicU64::new(1);

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
///
/// A parameter holds no reference to any tape: which node it is bound to is kept by the tape
/// (and copied into the [`Gradients`] of each backward pass), so a parameter, and a model made
/// of them, can be shared between threads.
pub struct Param<T: Real> {
    name: String,
    value: Tensor<T>,
    trainable: bool,
    id: u64,
    /// Counts changes of the value or of `trainable`: a binding made before a change is not
    /// reused after it.
    version: u64,
}

impl<T: Real> Clone for Param<T> {
    /// A new parameter with the same name, value and trainability; it is bound separately from
    /// the original.
    fn clone(&self) -> Self {
        Param::with_trainable(self.name.clone(), self.value.clone(), self.trainable)
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
        Param::with_trainable(name.into(), value, true)
    }

    fn with_trainable(name: String, value: Tensor<T>, trainable: bool) -> Self {
        Param {
            name,
            value,
            trainable,
            id: NEXT_PARAM_ID.fetch_add(1, Ordering::Relaxed),
            version: 0,
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
    /// first, so recorded graphs never see the change; binding the parameter again after the
    /// change records the new value.
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        self.version += 1;
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
        self.version += 1;
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
        self.set_trainable(false);
    }

    /// Unfreezes the parameter.
    pub fn unfreeze(&mut self) {
        self.set_trainable(true);
    }

    fn set_trainable(&mut self, trainable: bool) {
        if self.trainable != trainable {
            self.trainable = trainable;
            self.version += 1;
        }
    }

    /// The variable this parameter is bound to on `tape`'s current recording, if it is bound
    /// there and has not changed since.
    pub fn bound_on<'t>(&self, tape: &'t Tape<T>) -> Option<Var<'t, T>> {
        let index = tape.params.borrow().current(self)?;
        Some(Var::new(tape, index))
    }
}

/// Which node each parameter is bound to on one recording of a tape.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bindings {
    current: HashMap<u64, Binding>,
    /// Nodes of parameters that were bound again after a change of their value: a gradient
    /// for one of them means the graph mixes two values of one parameter.
    superseded: Vec<(u64, u32)>,
}

#[derive(Clone, Copy, Debug)]
struct Binding {
    node: u32,
    version: u64,
}

impl Bindings {
    fn current<T: Real>(&self, p: &Param<T>) -> Option<u32> {
        self.current
            .get(&p.id)
            .filter(|b| b.version == p.version)
            .map(|b| b.node)
    }

    fn bind<T: Real>(&mut self, p: &Param<T>, node: u32) {
        let old = self.current.insert(
            p.id,
            Binding {
                node,
                version: p.version,
            },
        );
        if let Some(old) = old {
            self.superseded.push((p.id, old.node));
        }
    }

    /// How many bindings were made: it only grows within a recording.
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.superseded.len()
    }

    pub(crate) fn clear(&mut self) {
        self.current.clear();
        self.superseded.clear();
    }

    /// The node `p` was last bound to, with the nodes it was bound to before on this recording.
    fn nodes_of(&self, id: u64) -> Option<(u32, impl Iterator<Item = u32> + '_)> {
        let node = self.current.get(&id)?.node;
        let earlier = self
            .superseded
            .iter()
            .filter(move |(p, _)| *p == id)
            .map(|&(_, n)| n);
        Some((node, earlier))
    }
}

impl<T: Real> Tape<T> {
    /// Binds a parameter to this tape, sharing its value: a variable needing a gradient, or a
    /// constant if the parameter is frozen. Binding the same parameter again on the same
    /// recording returns the same variable, so shared weights accumulate one gradient; if the
    /// parameter's value or trainability changed in between, the new value is bound as a new
    /// node.
    ///
    /// While recording is off (an [`inference`](Tape::inference) tape, or inside
    /// [`no_grad`](Tape::no_grad)) an unbound parameter is used as a constant and stays
    /// unbound, so binding it later with recording on still gives it a gradient.
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
        self.params.borrow_mut().bind(p, v.index);
        v
    }
}

impl<T: Real> Gradients<T> {
    /// The gradient of the parameter from this backward pass: `None` if it was not bound on
    /// the recording the pass ran on, is frozen, or the output does not depend on it.
    ///
    /// The answer stays right after the tape is reset or dropped and after the parameter is
    /// bound elsewhere: these gradients keep their own copy of the bindings.
    ///
    /// # Panics
    /// If the parameter's value changed between two bindings on the recording and the output
    /// depends on both: the graph mixes two values of one parameter, so no single gradient
    /// belongs to it. Reset the tape (or make a new one) after each optimizer step.
    #[track_caller]
    pub fn param(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        let (node, mut earlier) = self.bindings().nodes_of(p.id)?;
        if let Some(old) = earlier.find(|&n| self.get_index(n as usize).is_some()) {
            panic!(
                "Gradients::param: '{}' was bound to this tape as node #{old} and, after its \
                 value changed, again as node #{node}, and the output depends on both; reset \
                 the tape (or use a new one) after changing a parameter",
                p.name
            );
        }
        self.get_index(node as usize)
    }
}
