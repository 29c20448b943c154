//! Anomaly detection: stop at the first op whose value or gradient is NaN or infinite.
//!
//! Training that goes wrong usually shows it late: the loss prints `NaN` many steps after the
//! op that made the first NaN, and by then every parameter is NaN too. With anomaly detection
//! on, the tape checks every op's output as it is recorded and, in backward, every gradient an
//! op hands back. The first one holding NaN or infinity stops the program with an [`Anomaly`]
//! report: the op's name, the line of your code that recorded it, the shapes and value ranges
//! of its inputs, and a hint.
//!
//! ```should_panic
//! use tapegrad_autograd::{tensor, Tape};
//!
//! let tape = Tape::<f32>::new();
//! tape.detect_anomaly(true);
//! let p = tape.var(tensor(&[3], vec![0.5, 0.0, 0.25]));
//! let loss = -p.ln().mean(); // panics here: ln(0) = -inf, reported with this line
//! # let _ = loss;
//! ```
//!
//! To get the report as a value instead of a panic, use [`AnomalyMode::Report`]: forward ops
//! then only remember the first anomaly, and [`Tape::try_backward`] returns it as
//! [`BackwardError::Anomaly`](crate::BackwardError::Anomaly) (before walking the tape, if the
//! forward pass already had one, else as soon as a gradient goes bad), so a training loop can
//! stop cleanly:
//!
//! ```
//! use tapegrad_autograd::{tensor, AnomalyMode, BackwardError, Tape};
//!
//! let tape = Tape::<f64>::new();
//! tape.set_anomaly_mode(AnomalyMode::Report);
//! let x = tape.var(tensor(&[2], vec![4.0, 0.0]));
//! let loss = x.sqrt().sum(); // finite forward, but d sqrt(x)/dx = inf at 0
//! match tape.try_backward(loss) {
//!     Err(BackwardError::Anomaly(a)) => {
//!         assert_eq!(a.op, "sqrt");
//!         assert!(a.to_string().contains("infinite"));
//!     }
//!     other => panic!("expected an anomaly, got {other:?}"),
//! }
//! ```
//!
//! When it is off (the default) the only cost is one well-predicted branch per recorded op and
//! one per backward pass.

use std::fmt;
use std::panic::Location;

use crate::tape::Node;
use crate::{Real, Tape, Tensor};

/// Whether and how a tape looks for NaN and infinity (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AnomalyMode {
    /// No checks (the default).
    #[default]
    Off,
    /// Check every forward output and backward gradient; panic with the report at the first
    /// non-finite one (`try_backward` returns it as an error instead of panicking).
    Panic,
    /// Check everything, but let forward ops go on: the first anomaly is kept
    /// ([`Tape::anomaly`]) and [`Tape::try_backward`] returns it as an error.
    Report,
}

/// Where the anomaly showed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyPhase {
    /// The op's output, computed when the op was recorded.
    Forward,
    /// A gradient the op's backward returned for one of its inputs.
    Backward,
    /// The sum of the gradients flowing into a node from its several users overflowed.
    GradientSum,
}

/// A summary of one tensor: shape, range of its finite values, and how many are not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueSummary {
    /// The node holding the value, when it is a node's value.
    pub node: Option<usize>,
    /// The op that made it (`"matmul"`, `"leaf"`, ...), when it is a node's value.
    pub op: Option<String>,
    /// Where that node was recorded.
    pub location: Option<&'static Location<'static>>,
    /// The shape.
    pub shape: Vec<usize>,
    /// Smallest and largest finite value, `None` if no value is finite.
    pub range: Option<(f64, f64)>,
    /// Number of NaN values.
    pub nan: usize,
    /// Number of `+inf` values.
    pub pos_inf: usize,
    /// Number of `-inf` values.
    pub neg_inf: usize,
}

impl ValueSummary {
    /// Summarises `t`.
    pub fn of<T: Real>(t: &Tensor<T>) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut nan, mut pos_inf, mut neg_inf) = (0, 0, 0);
        for &v in t.iter() {
            let v = v.to_f64().unwrap_or(f64::NAN);
            if v.is_nan() {
                nan += 1;
            } else if v == f64::INFINITY {
                pos_inf += 1;
            } else if v == f64::NEG_INFINITY {
                neg_inf += 1;
            } else {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        ValueSummary {
            node: None,
            op: None,
            location: None,
            shape: t.shape().to_vec(),
            range: (lo <= hi).then_some((lo, hi)),
            nan,
            pos_inf,
            neg_inf,
        }
    }

    fn of_node<T: Real>(nodes: &[Node<T>], index: usize) -> Self {
        let node = &nodes[index];
        ValueSummary {
            node: Some(index),
            op: Some(node.kind.name().to_owned()),
            location: Some(node.location),
            ..Self::of(&node.value)
        }
    }

    /// Whether every value is finite.
    pub fn is_finite(&self) -> bool {
        self.nan == 0 && self.pos_inf == 0 && self.neg_inf == 0
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn describe_values(&self) -> String {
        let mut parts = Vec::new();
        match self.range {
            Some((lo, hi)) => parts.push(format!("finite values in [{lo:.6e}, {hi:.6e}]")),
            None if self.is_empty() => parts.push("no values".to_string()),
            None => parts.push("no finite value".to_string()),
        }
        if self.nan > 0 {
            parts.push(format!("{} NaN", self.nan));
        }
        if self.pos_inf > 0 {
            parts.push(format!("{} +inf", self.pos_inf));
        }
        if self.neg_inf > 0 {
            parts.push(format!("{} -inf", self.neg_inf));
        }
        parts.join(", ")
    }

    fn describe_bad(&self) -> String {
        let kinds: Vec<&str> = [
            (self.nan > 0, "NaN"),
            (self.pos_inf + self.neg_inf > 0, "infinite"),
        ]
        .iter()
        .filter(|(b, _)| *b)
        .map(|(_, s)| *s)
        .collect();
        format!(
            "{} ({} of {} values not finite)",
            kinds.join(" and "),
            self.nan + self.pos_inf + self.neg_inf,
            self.len()
        )
    }
}

fn within_finite_eq(a: &Option<(f64, f64)>, b: &Option<(f64, f64)>) -> bool {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => {
            a0.to_bits() == b0.to_bits() && a1.to_bits() == b1.to_bits()
        }
        (None, None) => true,
        _ => false,
    }
}

/// The first NaN or infinity found by anomaly detection, with what is needed to find its
/// cause. Its `Display` is the report printed when the program stops.
#[derive(Clone, Debug)]
pub struct Anomaly {
    /// Where it showed up.
    pub phase: AnomalyPhase,
    /// The node whose op produced it.
    pub node: usize,
    /// The op's name.
    pub op: String,
    /// The line of user code that recorded the op.
    pub location: &'static Location<'static>,
    /// The op's inputs as they were when it ran.
    pub inputs: Vec<ValueSummary>,
    /// The non-finite value: the output (forward), the gradient for input
    /// [`gradient_of_input`](Anomaly::gradient_of_input) (backward), or the summed incoming
    /// gradient (gradient sum).
    pub value: ValueSummary,
    /// For [`AnomalyPhase::Backward`], which input the bad gradient is for.
    pub gradient_of_input: Option<usize>,
    /// For [`AnomalyPhase::Backward`], the gradient that flowed into the op's output.
    pub grad_output: Option<ValueSummary>,
}

impl PartialEq for Anomaly {
    fn eq(&self, other: &Self) -> bool {
        let summaries_eq = |a: &ValueSummary, b: &ValueSummary| {
            a.node == b.node
                && a.op == b.op
                && a.shape == b.shape
                && within_finite_eq(&a.range, &b.range)
                && (a.nan, a.pos_inf, a.neg_inf) == (b.nan, b.pos_inf, b.neg_inf)
        };
        self.phase == other.phase
            && self.node == other.node
            && self.op == other.op
            && std::ptr::eq(self.location, other.location)
            && self.inputs.len() == other.inputs.len()
            && self
                .inputs
                .iter()
                .zip(&other.inputs)
                .all(|(a, b)| summaries_eq(a, b))
            && summaries_eq(&self.value, &other.value)
            && self.gradient_of_input == other.gradient_of_input
            && match (&self.grad_output, &other.grad_output) {
                (Some(a), Some(b)) => summaries_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

// Ranges are compared by bits and hold finite numbers only, so equality is reflexive.
impl Eq for Anomaly {}

impl Anomaly {
    /// A hint at the usual causes, for the op at hand.
    pub fn hint(&self) -> &'static str {
        match (self.phase, self.op.as_str()) {
            (AnomalyPhase::Forward, "ln") => {
                "ln of 0 is -inf and of a negative number NaN: clamp its input \
                 (x.clamp(1e-7, 1.0)), or feed logits to a fused loss \
                 (softmax_cross_entropy, bce_with_logits) instead of taking ln of probabilities"
            }
            (AnomalyPhase::Backward, "ln") => {
                "d ln(x)/dx = 1/x is infinite at x = 0: clamp the input away from 0, or use a \
                 fused loss on logits"
            }
            (_, "sqrt") => {
                "sqrt of a negative number is NaN and its derivative 1/(2 sqrt(x)) is infinite \
                 at 0: add a small epsilon inside (x + 1e-8).sqrt()"
            }
            (_, "div" | "rdiv_scalar") => {
                "a division by zero (or by a value that underflowed to zero): add an epsilon to \
                 the denominator"
            }
            (_, "exp") => {
                "exp overflows above about 88 (f32) or 709 (f64): the input grew too large; \
                 lower the learning rate, or use log_softmax / logsumexp, which subtract the \
                 maximum first"
            }
            (_, "pow" | "pow_scalar") => {
                "a power of a negative base with a non-integer exponent is NaN, and a negative \
                 exponent of 0 is infinite"
            }
            _ if self.inputs.iter().any(|i| !i.is_finite()) => {
                "an input already holds NaN or infinity; it came from outside the tape (data \
                 or parameters): check the data, and whether earlier steps diverged"
            }
            _ => {
                "values this large usually mean training diverged: lower the learning rate, \
                 check the initialisation, normalise the inputs, or clip gradients"
            }
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            AnomalyPhase::Forward => writeln!(
                f,
                "anomaly: the forward of `{}` (node #{}) produced {}",
                self.op,
                self.node,
                self.value.describe_bad()
            )?,
            AnomalyPhase::Backward => writeln!(
                f,
                "anomaly: the backward of `{}` (node #{}) returned a gradient for input {} that \
                 is {}",
                self.op,
                self.node,
                self.gradient_of_input.unwrap_or(0),
                self.value.describe_bad()
            )?,
            AnomalyPhase::GradientSum => writeln!(
                f,
                "anomaly: the gradients flowing into `{}` (node #{}) from its users add up to \
                 {}",
                self.op,
                self.node,
                self.value.describe_bad()
            )?,
        }
        writeln!(
            f,
            "  recorded at {}:{}:{}",
            self.location.file(),
            self.location.line(),
            self.location.column()
        )?;
        for (k, input) in self.inputs.iter().enumerate() {
            write!(f, "  input {k}: shape {:?}", input.shape)?;
            if let (Some(node), Some(op)) = (input.node, &input.op) {
                write!(f, " from node #{node} `{op}`")?;
                if let Some(loc) = input.location {
                    write!(f, " ({}:{})", loc.file(), loc.line())?;
                }
            }
            writeln!(f, ", {}", input.describe_values())?;
        }
        match self.phase {
            AnomalyPhase::Forward => {
                writeln!(
                    f,
                    "  output: shape {:?}, {}",
                    self.value.shape,
                    self.value.describe_values()
                )?;
            }
            AnomalyPhase::Backward => {
                if let Some(g) = &self.grad_output {
                    writeln!(
                        f,
                        "  gradient of the output: shape {:?}, {}",
                        g.shape,
                        g.describe_values()
                    )?;
                }
                writeln!(
                    f,
                    "  gradient of input {}: shape {:?}, {}",
                    self.gradient_of_input.unwrap_or(0),
                    self.value.shape,
                    self.value.describe_values()
                )?;
            }
            AnomalyPhase::GradientSum => {
                writeln!(
                    f,
                    "  summed gradient: shape {:?}, {}",
                    self.value.shape,
                    self.value.describe_values()
                )?;
            }
        }
        write!(f, "hint: {}", self.hint())
    }
}

fn all_finite<T: Real>(t: &Tensor<T>) -> bool {
    match t.as_slice_memory_order() {
        Some(s) => s.iter().all(|v| v.is_finite()),
        None => t.iter().all(|v| v.is_finite()),
    }
}

impl<T: Real> Tape<T> {
    /// Turns anomaly detection on ([`AnomalyMode::Panic`]) or off.
    ///
    /// While on, the first op whose output or backward gradient holds NaN or infinity stops
    /// the program with a report naming the op, the line that recorded it and its inputs'
    /// shapes and ranges (see [`Anomaly`]).
    pub fn detect_anomaly(&self, on: bool) {
        self.set_anomaly_mode(if on {
            AnomalyMode::Panic
        } else {
            AnomalyMode::Off
        });
    }

    /// A new tape with anomaly detection on ([`AnomalyMode::Panic`]).
    pub fn with_anomaly_detection() -> Self {
        let tape = Self::new();
        tape.detect_anomaly(true);
        tape
    }

    /// Sets the anomaly mode (see [`AnomalyMode`]).
    pub fn set_anomaly_mode(&self, mode: AnomalyMode) {
        self.anomaly_mode.set(mode);
    }

    /// The current anomaly mode.
    pub fn anomaly_mode(&self) -> AnomalyMode {
        self.anomaly_mode.get()
    }

    /// The first anomaly kept by [`AnomalyMode::Report`] during the forward pass, if any.
    pub fn anomaly(&self) -> Option<Anomaly> {
        self.first_anomaly.borrow().as_deref().cloned()
    }

    pub(crate) fn take_forward_anomaly(&self) -> Option<Box<Anomaly>> {
        self.first_anomaly.borrow().clone()
    }

    /// Checks a forward output; called by `record` only when the mode is not `Off`.
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn check_forward(
        &self,
        nodes: &[Node<T>],
        name: &str,
        input_ids: &[u32],
        value: &Tensor<T>,
    ) {
        if all_finite(value) {
            return;
        }
        let anomaly = Anomaly {
            phase: AnomalyPhase::Forward,
            node: nodes.len(),
            op: name.to_owned(),
            location: Location::caller(),
            inputs: input_ids
                .iter()
                .map(|&i| ValueSummary::of_node(nodes, i as usize))
                .collect(),
            value: ValueSummary::of(value),
            gradient_of_input: None,
            grad_output: None,
        };
        match self.anomaly_mode.get() {
            AnomalyMode::Panic => panic!("{anomaly}"),
            _ => {
                let mut first = self.first_anomaly.borrow_mut();
                if first.is_none() {
                    *first = Some(Box::new(anomaly));
                }
            }
        }
    }
}

/// Checks the gradient flowing into node `i` and, for an op, the gradients its backward
/// returned; called by backward only when anomaly detection is on.
#[cold]
#[inline(never)]
pub(crate) fn check_backward<T: Real>(
    nodes: &[Node<T>],
    i: usize,
    grad_output: &Tensor<T>,
    input_grads: &[Option<Tensor<T>>],
    needs: &[bool],
) -> Option<Box<Anomaly>> {
    let node = &nodes[i];
    let inputs = || {
        node.inputs
            .iter()
            .map(|&j| ValueSummary::of_node(nodes, j as usize))
            .collect()
    };
    if !all_finite(grad_output) {
        return Some(Box::new(Anomaly {
            phase: AnomalyPhase::GradientSum,
            node: i,
            op: node.kind.name().to_owned(),
            location: node.location,
            inputs: inputs(),
            value: ValueSummary::of(grad_output),
            gradient_of_input: None,
            grad_output: None,
        }));
    }
    for (k, g) in input_grads.iter().enumerate() {
        let Some(g) = g else { continue };
        if !needs.get(k).copied().unwrap_or(false) || all_finite(g) {
            continue;
        }
        return Some(Box::new(Anomaly {
            phase: AnomalyPhase::Backward,
            node: i,
            op: node.kind.name().to_owned(),
            location: node.location,
            inputs: inputs(),
            value: ValueSummary::of(g),
            gradient_of_input: Some(k),
            grad_output: Some(ValueSummary::of(grad_output)),
        }));
    }
    None
}
