//! The tape: a Wengert list of the ops applied to its variables, in the order they ran.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use smallvec::SmallVec;

use crate::anomaly::{Anomaly, AnomalyMode};
use crate::ops::OpKind;
use crate::param::Bindings;
use crate::{Op, OpError, Real, Tensor, Var};

/// Tapes are numbered so that a variable or gradient set used with the wrong tape is caught,
/// and so are their recordings (a tape starts a new one at each [`Tape::reset`]), so that
/// gradients or parameter bindings of a recording that is gone are caught too.
static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_RECORDING: AtomicU64 = AtomicU64::new(1);

fn next_recording() -> u64 {
    NEXT_RECORDING.fetch_add(1, Ordering::Relaxed)
}

/// The indices of a node's inputs; almost every op has one or two.
pub(crate) type Inputs = SmallVec<[u32; 2]>;

/// One recorded value: a leaf (an input or parameter) or the output of an op.
pub(crate) struct Node<T: Real> {
    pub(crate) value: Tensor<T>,
    /// The op that made this value, kept only when backward will need it.
    pub(crate) op: Option<Box<dyn Op<T>>>,
    pub(crate) kind: NodeKind,
    pub(crate) inputs: Inputs,
    pub(crate) requires_grad: bool,
    pub(crate) retain_grad: bool,
    pub(crate) location: &'static Location<'static>,
}

/// What made a node; kept even when the op itself is not, so listings can name every node.
#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    /// A leaf that gradients are computed for.
    Leaf,
    /// A leaf that needs no gradient.
    Constant,
    /// A built-in op (its name is static, so recording it allocates nothing for the name).
    Builtin(OpKind),
    /// A user-defined op.
    Custom(Box<str>),
}

impl NodeKind {
    pub(crate) fn name(&self) -> &str {
        match self {
            NodeKind::Leaf => "leaf",
            NodeKind::Constant => "constant",
            NodeKind::Builtin(k) => k.name(),
            NodeKind::Custom(name) => name,
        }
    }
}

/// A recording of operations, differentiated by [`Tape::backward`].
///
/// Each op applied to a [`Var`] of this tape runs at once and appends a node holding its
/// output and, when some input needs a gradient, the op itself (which keeps what backward
/// needs). Backward walks the nodes in reverse order of recording, which is already
/// topological.
///
/// A tape is cheap: make one per training step (or [`reset`](Tape::reset) one to reuse its
/// storage), so that each step's graph is freed when the step ends.
///
/// ```
/// use tapegrad_autograd::{scalar, Tape};
///
/// // d/dx (x^2 + 5x + 4) = 2x + 5
/// let tape = Tape::<f64>::new();
/// let x = tape.var(scalar(3.0));
/// let y = x * x + x * 5.0 + 4.0;
/// let grads = tape.backward(y);
/// assert_eq!(grads.get(x).unwrap()[[]], 11.0);
/// ```
pub struct Tape<T: Real = f32> {
    id: u64,
    recording: u64,
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
    grad_enabled: Cell<bool>,
    pub(crate) anomaly_mode: Cell<AnomalyMode>,
    pub(crate) first_anomaly: RefCell<Option<Box<Anomaly>>>,
    /// Which node each parameter is bound to on this recording.
    pub(crate) params: RefCell<Bindings>,
}

impl<T: Real> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Drop for Tape<T> {
    fn drop(&mut self) {
        // Large values whose last holder is the tape go to the buffer pool, so that the next
        // step's outputs reuse their memory instead of faulting fresh pages in.
        for node in self.nodes.get_mut().drain(..) {
            crate::kernels::pool::recycle(node.value);
        }
    }
}

impl<T: Real> std::fmt::Debug for Tape<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("id", &self.id)
            .field("recording", &self.recording)
            .field("nodes", &self.len())
            .field("grad_enabled", &self.grad_enabled.get())
            .finish()
    }
}

impl<T: Real> Tape<T> {
    /// An empty tape that records gradients.
    pub fn new() -> Self {
        Tape {
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
            recording: next_recording(),
            nodes: RefCell::new(Vec::with_capacity(64)),
            grad_enabled: Cell::new(true),
            anomaly_mode: Cell::new(AnomalyMode::Off),
            first_anomaly: RefCell::new(None),
            params: RefCell::new(Bindings::default()),
        }
    }

    /// An empty tape that never records backward information: every op only computes its value.
    /// Use it for evaluation and prediction.
    pub fn inference() -> Self {
        let tape = Self::new();
        tape.grad_enabled.set(false);
        tape
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The current recording: renewed by [`reset`](Tape::reset).
    pub(crate) fn recording(&self) -> u64 {
        self.recording
    }

    /// The number of recorded nodes (leaves and op outputs).
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node but keeps the storage, so the next step allocates less.
    ///
    /// Taking `&mut self` guarantees that no variable of the old graph is still in use. What
    /// outlives the old graph is caught: parameters bound to it are bound anew, and
    /// [`Gradients`](crate::Gradients) computed on it keep answering for their own
    /// parameters, but refuse variables of the new recording.
    pub fn reset(&mut self) {
        for node in self.nodes.get_mut().drain(..) {
            crate::kernels::pool::recycle(node.value);
        }
        *self.first_anomaly.get_mut() = None;
        self.params.get_mut().clear();
        self.recording = next_recording();
    }

    /// Whether ops currently record what backward needs.
    pub fn is_grad_enabled(&self) -> bool {
        self.grad_enabled.get()
    }

    /// Runs `f` with recording switched off: ops inside compute values only, their outputs need
    /// no gradient, and nothing is kept for backward. The previous mode is restored afterwards,
    /// even if `f` panics.
    ///
    /// ```
    /// use tapegrad_autograd::{scalar, Tape};
    /// let tape = Tape::<f32>::new();
    /// let w = tape.var(scalar(2.0));
    /// let y = tape.no_grad(|| w * 3.0);
    /// assert!(!y.requires_grad());
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<bool>, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(&self.grad_enabled, self.grad_enabled.replace(false));
        f()
    }

    /// A leaf that gradients are computed for: an input or a parameter.
    ///
    /// The tensor is shared, not copied: binding a model parameter costs a pointer copy.
    #[track_caller]
    pub fn var(&self, value: Tensor<T>) -> Var<'_, T> {
        let requires_grad = self.grad_enabled.get();
        self.push_leaf(value, requires_grad, NodeKind::Leaf)
    }

    /// A leaf that needs no gradient: data, labels, masks.
    #[track_caller]
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.push_leaf(value, false, NodeKind::Constant)
    }

    #[track_caller]
    fn push_leaf(&self, value: Tensor<T>, requires_grad: bool, kind: NodeKind) -> Var<'_, T> {
        let node = Node {
            value,
            op: None,
            kind,
            inputs: Inputs::new(),
            requires_grad,
            retain_grad: false,
            location: Location::caller(),
        };
        self.push(node)
    }

    fn push(&self, node: Node<T>) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        let index = u32::try_from(nodes.len()).expect("a tape holds at most 2^32 nodes");
        nodes.push(node);
        Var::new(self, index)
    }

    /// Records a user-defined op applied to `inputs` and returns its output.
    ///
    /// # Panics
    /// If the op's forward returns an error (for example a shape it cannot take), with that
    /// error's message; use [`try_apply`](Tape::try_apply) to get the error instead.
    #[track_caller]
    pub fn apply<'t>(&'t self, op: impl Op<T>, inputs: &[Var<'t, T>]) -> Var<'t, T> {
        match self.record(op, None, inputs) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Records a user-defined op, returning its forward's error instead of panicking.
    #[track_caller]
    pub fn try_apply<'t>(
        &'t self,
        op: impl Op<T>,
        inputs: &[Var<'t, T>],
    ) -> Result<Var<'t, T>, OpError> {
        self.record(op, None, inputs)
    }

    /// Records a built-in op; `kind` is what the gradcheck registry and tape listings know it by.
    #[track_caller]
    pub(crate) fn record<'t, O: Op<T>>(
        &'t self,
        mut op: O,
        kind: Option<OpKind>,
        inputs: &[Var<'t, T>],
    ) -> Result<Var<'t, T>, OpError> {
        let location = Location::caller();
        let mut input_ids = Inputs::with_capacity(inputs.len());
        for v in inputs {
            self.check_owns(*v);
            input_ids.push(v.index);
        }
        let nodes = self.nodes.borrow();
        let values: SmallVec<[&Tensor<T>; 4]> = input_ids
            .iter()
            .map(|&i| &nodes[i as usize].value)
            .collect();
        let value = op.forward(&values)?;
        if self.anomaly_mode.get() != AnomalyMode::Off {
            let name = kind.map_or_else(|| op.name(), |k| k.name());
            self.check_forward(&nodes, name, &input_ids, &value);
        }
        let requires_grad =
            self.grad_enabled.get() && input_ids.iter().any(|&i| nodes[i as usize].requires_grad);
        drop(values);
        drop(nodes);
        let kind = match kind {
            Some(k) => NodeKind::Builtin(k),
            None => NodeKind::Custom(op.name().into()),
        };
        let node = Node {
            value,
            op: if requires_grad {
                Some(Box::new(op))
            } else {
                None
            },
            kind,
            inputs: input_ids,
            requires_grad,
            retain_grad: false,
            location,
        };
        Ok(self.push(node))
    }

    #[track_caller]
    pub(crate) fn check_owns(&self, v: Var<'_, T>) {
        assert!(
            std::ptr::eq(v.tape, self),
            "a variable of one tape was used on another tape; bind the value to this tape with \
             tape.var(...) or tape.constant(...)"
        );
    }
}

impl<T: Real> std::fmt::Display for Tape<T> {
    /// The tape as a table: one row per node with its op, inputs, shape, the bytes its value
    /// holds, whether it needs a gradient, and the line of code that recorded it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes = self.nodes.borrow();
        writeln!(
            f,
            "{:>5}  {:<20} {:<12} {:<18} {:>10}  {:<4}  recorded at",
            "node", "op", "inputs", "shape", "bytes", "grad"
        )?;
        let mut total = 0usize;
        for (i, node) in nodes.iter().enumerate() {
            let bytes = node.value.len() * std::mem::size_of::<T>();
            total += bytes;
            let inputs: Vec<String> = node.inputs.iter().map(|j| format!("#{j}")).collect();
            writeln!(
                f,
                "{:>5}  {:<20} {:<12} {:<18} {:>10}  {:<4}  {}:{}",
                format!("#{i}"),
                node.kind.name(),
                inputs.join(","),
                format!("{:?}", node.value.shape()),
                bytes,
                if node.requires_grad { "yes" } else { "" },
                node.location.file(),
                node.location.line()
            )?;
        }
        write!(f, "{} nodes, {} bytes of values", nodes.len(), total)
    }
}
