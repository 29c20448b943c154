//! Reverse-mode backward: the walk over the tape and the gradients it returns.

use smallvec::SmallVec;

use crate::anomaly::{check_backward, Anomaly, AnomalyMode};
use crate::kernels::broadcast::sum_to_shape;
use crate::kernels::elementwise::add_assign;
use crate::kernels::pool::recycle;
use crate::op::BackwardContext;
use crate::param::Bindings;
use crate::tensor::full;
use crate::{BackwardError, Real, Tape, Tensor, Var};

/// The gradients computed by one backward pass, indexed by variable.
///
/// Holds the gradient of every leaf made with [`Tape::var`] that the output depends on, and of
/// every variable marked with [`Var::retain_grad`]. Asking for any other variable (a constant,
/// an intermediate value, a leaf the output does not depend on) gives `None`.
pub struct Gradients<T: Real> {
    tape_id: u64,
    recording: u64,
    grads: Vec<Option<Tensor<T>>>,
    /// The parameter bindings of the recording, as they were when backward ran.
    params: Bindings,
}

impl<T: Real> std::fmt::Debug for Gradients<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gradients")
            .field("tape_id", &self.tape_id)
            .field("recording", &self.recording)
            .field("count", &self.grads.iter().flatten().count())
            .finish()
    }
}

impl<T: Real> Gradients<T> {
    /// Panics unless `var` is a variable of the recording these gradients were computed on.
    #[track_caller]
    fn check_var(&self, what: &str, var: Var<'_, T>) {
        assert_eq!(
            var.tape.id(),
            self.tape_id,
            "Gradients::{what}: the variable belongs to another tape than the one backward ran on"
        );
        assert_eq!(
            var.tape.recording(),
            self.recording,
            "Gradients::{what}: the variable was recorded after its tape was reset, but these \
             gradients come from the recording before the reset; run backward again on the \
             new recording"
        );
    }

    /// The gradient of the output with respect to `var`, shaped like `var`; `None` when the
    /// output does not depend on it or it is not kept.
    ///
    /// # Panics
    /// If `var` belongs to another tape, or to a later recording of the same tape (after
    /// [`Tape::reset`]).
    #[track_caller]
    pub fn get(&self, var: Var<'_, T>) -> Option<&Tensor<T>> {
        self.check_var("get", var);
        self.get_index(var.index as usize)
    }

    /// Takes the gradient out (no copy), leaving `None` behind.
    ///
    /// # Panics
    /// As [`get`](Gradients::get).
    #[track_caller]
    pub fn take(&mut self, var: Var<'_, T>) -> Option<Tensor<T>> {
        self.check_var("take", var);
        self.grads
            .get_mut(var.index as usize)
            .and_then(Option::take)
    }

    /// The gradient by node index (see [`Var::index`]).
    pub fn get_index(&self, index: usize) -> Option<&Tensor<T>> {
        self.grads.get(index).and_then(|g| g.as_ref())
    }

    pub(crate) fn bindings(&self) -> &Bindings {
        &self.params
    }

    /// Adds the gradients of another backward pass over the same tape to these, variable by
    /// variable: gradient accumulation, with one backward pass per micro-batch and one
    /// optimizer step for their sum. A batch too large for the caches can go through the tape
    /// a few chunks at a time, each chunk's forward and backward pass working on activations
    /// that are still in cache.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(tensor(&[2], vec![1.0, 2.0]));
    /// let mut grads = tape.backward((w * 3.0).sum());
    /// grads.accumulate(tape.backward((w * w).sum()));
    /// // 3 + 2 w
    /// assert_eq!(grads.get(w).unwrap().as_slice().unwrap(), &[5.0, 7.0]);
    /// ```
    ///
    /// # Panics
    /// If `other` comes from a pass over another tape, or over another recording of this
    /// tape (node numbers of different recordings name different values).
    #[track_caller]
    pub fn accumulate(&mut self, other: Gradients<T>) {
        assert_eq!(
            self.tape_id, other.tape_id,
            "Gradients::accumulate: the two backward passes ran on different tapes"
        );
        assert_eq!(
            self.recording, other.recording,
            "Gradients::accumulate: the two backward passes ran on different recordings of one \
             tape (it was reset in between)"
        );
        if other.params.len() > self.params.len() {
            // Parameters bound after the first pass ran: the later table holds the earlier.
            self.params = other.params;
        }
        if other.grads.len() > self.grads.len() {
            self.grads.resize_with(other.grads.len(), || None);
        }
        for (mine, theirs) in self.grads.iter_mut().zip(other.grads) {
            match (mine, theirs) {
                (_, None) => {}
                (slot @ None, Some(g)) => *slot = Some(g),
                (Some(sum), Some(g)) => {
                    add_assign(sum, &g);
                    recycle(g);
                }
            }
        }
    }

    /// How many gradients are held.
    pub fn len(&self) -> usize {
        self.grads.iter().flatten().count()
    }

    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Real> Tape<T> {
    /// Differentiates `output`, which must have exactly one element (a loss).
    ///
    /// # Panics
    /// If `output` has more than one element; reduce it first, or use
    /// [`backward_with`](Tape::backward_with) with a seed gradient, or
    /// [`try_backward`](Tape::try_backward) for a `Result`.
    #[track_caller]
    pub fn backward(&self, output: Var<'_, T>) -> Gradients<T> {
        match self.try_backward(output) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`backward`](Tape::backward), returning an error for a non-scalar output.
    #[track_caller]
    pub fn try_backward(&self, output: Var<'_, T>) -> Result<Gradients<T>, BackwardError> {
        self.check_owns(output);
        let shape = output.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(BackwardError::NotScalar { shape });
        }
        if let Some(a) = self.take_forward_anomaly() {
            return Err(BackwardError::Anomaly(a));
        }
        self.run_backward(output.index as usize, full(&shape, T::one()))
            .map_err(BackwardError::Anomaly)
    }

    /// Backward from `output` with the gradient `seed` (shaped like `output`) flowing into it:
    /// computes the vector-Jacobian product `seed^T J` for every leaf.
    #[track_caller]
    pub fn backward_with(&self, output: Var<'_, T>, seed: Tensor<T>) -> Gradients<T> {
        self.check_owns(output);
        let shape = output.shape();
        if seed.shape() != shape.as_slice() {
            panic!(
                "{}",
                BackwardError::SeedShape {
                    seed: seed.shape().to_vec(),
                    output: shape,
                }
            );
        }
        if let Some(a) = self.take_forward_anomaly() {
            panic!("{a}");
        }
        match self.run_backward(output.index as usize, seed) {
            Ok(g) => g,
            Err(a) => panic!("{a}"),
        }
    }

    fn run_backward(&self, root: usize, seed: Tensor<T>) -> Result<Gradients<T>, Box<Anomaly>> {
        let check = self.anomaly_mode() != AnomalyMode::Off;
        let nodes = self.nodes.borrow();
        let mut grads: Vec<Option<Tensor<T>>> = Vec::new();
        grads.resize_with(root + 1, || None);
        if nodes[root].requires_grad {
            grads[root] = Some(seed);
        }
        for i in (0..=root).rev() {
            let Some(grad) = grads[i].take() else {
                continue;
            };
            let node = &nodes[i];
            if let Some(op) = &node.op {
                let inputs: SmallVec<[&Tensor<T>; 4]> = node
                    .inputs
                    .iter()
                    .map(|&j| &nodes[j as usize].value)
                    .collect();
                let needs: SmallVec<[bool; 4]> = node
                    .inputs
                    .iter()
                    .map(|&j| nodes[j as usize].requires_grad)
                    .collect();
                let ctx = BackwardContext::new(&inputs, &node.value, &grad, &needs);
                let input_grads = op.backward(&ctx);
                if check {
                    if let Some(a) = check_backward(&nodes, i, &grad, &input_grads, &needs) {
                        return Err(a);
                    }
                }
                assert_eq!(
                    input_grads.len(),
                    inputs.len(),
                    "{}: backward returned {} gradients for {} inputs",
                    node.kind.name(),
                    input_grads.len(),
                    inputs.len()
                );
                for (k, g) in input_grads.into_iter().enumerate() {
                    let (Some(g), true) = (g, needs[k]) else {
                        continue;
                    };
                    let j = node.inputs[k] as usize;
                    let target = nodes[j].value.shape();
                    let g = if g.shape() == target {
                        g
                    } else {
                        sum_to_shape(&g, target).unwrap_or_else(|| {
                            panic!(
                                "{}: backward returned a gradient of shape {:?} for input {k} of \
                                 shape {:?}; a gradient must have the input's shape or a shape \
                                 that broadcasts from it",
                                node.kind.name(),
                                g.shape(),
                                target
                            )
                        })
                    };
                    match &mut grads[j] {
                        Some(acc) => {
                            add_assign(acc, &g);
                            recycle(g);
                        }
                        slot @ None => *slot = Some(g),
                    }
                }
            }
            if (node.op.is_none() || node.retain_grad) && node.requires_grad {
                // Leaves keep their gradient for the caller; intermediates free theirs here,
                // as soon as their own backward has consumed it.
                grads[i] = Some(row_major(grad));
            } else {
                recycle(grad);
            }
        }
        Ok(Gradients {
            tape_id: self.id(),
            recording: self.recording(),
            grads,
            params: self.params.borrow().clone(),
        })
    }
}

/// A gradient handed to the caller in row-major order, so that `as_slice` works on it: ops such
/// as transpose pass gradients back as strided views, which are copied here, once, if needed.
fn row_major<T: Real>(g: Tensor<T>) -> Tensor<T> {
    if g.is_standard_layout() {
        g
    } else {
        g.as_standard_layout().into_owned().into_shared()
    }
}
