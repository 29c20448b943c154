//! Recurrent layers: the cells (one time step) and [`Recurrent`], which unrolls a cell over
//! a sequence.
//!
//! Everything is ordinary tape ops (matrix products, slices, sigmoid, tanh), so backpropagation
//! through time is the tape's backward, and a cell of your own is a struct implementing
//! [`RecurrentCell`].
//!
//! Formulas and gate order are PyTorch's. Weights are stored as [`Linear`](super::Linear)
//! stores them, `[in, out]` so that `x @ W` needs no transpose: `weight_ih` is
//! `[input, gates * hidden]`, `weight_hh` `[hidden, gates * hidden]`, the gates side by side
//! along the columns in PyTorch's order. PyTorch keeps the transposes (`[gates * hidden, in]`):
//! transpose them when moving weights between the two.

use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{Param, Real, Tape, Tensor, Var};

use crate::init::Init;
use crate::Module;

/// One time step of a recurrent network: the state after input `x` given the state before.
///
/// The state is a list of `[batch, size]` variables whose first is the output `h` (an LSTM
/// also carries its cell state `c`). Implement it for a cell of your own and unroll it with
/// [`Recurrent`].
pub trait RecurrentCell<T: Real>: Send + Sync {
    /// The number of features of each input.
    fn input_size(&self) -> usize;

    /// The number of features of the output `h`.
    fn hidden_size(&self) -> usize;

    /// The state before the first step: zeros, one `[batch, size]` variable per part.
    fn initial_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Vec<Var<'t, T>>;

    /// The state after input `x` (`[batch, input_size]`).
    fn step<'t>(&self, x: Var<'t, T>, state: &[Var<'t, T>]) -> Vec<Var<'t, T>>;

    /// The parameters, in a fixed order.
    fn params(&self) -> Vec<&Param<T>>;

    /// The parameters for updating, in the same order.
    fn params_mut(&mut self) -> Vec<&mut Param<T>>;

    /// A one-line description.
    fn describe(&self) -> String;
}

/// The four parameters every built-in cell has, `gates` blocks of `hidden` columns wide.
#[derive(Clone, Debug)]
struct Weights<T: Real> {
    weight_ih: Param<T>,
    weight_hh: Param<T>,
    bias_ih: Param<T>,
    bias_hh: Param<T>,
}

impl<T: Real> Weights<T> {
    /// PyTorch's initialisation: every element uniform on `±1/sqrt(hidden)`.
    fn new(input: usize, hidden: usize, gates: usize, seed: u64) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            hi: bound,
        };
        let rng = &mut SplitMix64::new(seed);
        let width = gates * hidden;
        let mut draw = |shape: &[usize]| -> Tensor<T> { init.tensor(shape, rng) };
        let (wi, wh) = (draw(&[input, width]), draw(&[hidden, width]));
        let (bi, bh) = (draw(&[width]), draw(&[width]));
        Weights::from_tensors("cell", gates, wi, wh, bi, bh)
    }

    #[track_caller]
    fn from_tensors(
        kind: &str,
        gates: usize,
        weight_ih: Tensor<T>,
        weight_hh: Tensor<T>,
        bias_ih: Tensor<T>,
        bias_hh: Tensor<T>,
    ) -> Self {
        let hidden = weight_hh.shape().first().copied().unwrap_or(0);
        let width = gates * hidden;
        let ok = weight_ih.ndim() == 2
            && weight_ih.shape()[1] == width
            && weight_hh.shape() == [hidden, width]
            && bias_ih.shape() == [width]
            && bias_hh.shape() == [width];
        assert!(
            ok,
            "{kind}::from_tensors: expected weight_ih [input, {gates} * hidden], weight_hh \
             [hidden, {gates} * hidden] and biases [{gates} * hidden], got {:?}, {:?}, {:?}, {:?}",
            weight_ih.shape(),
            weight_hh.shape(),
            bias_ih.shape(),
            bias_hh.shape()
        );
        Weights {
            weight_ih: Param::new("weight_ih", weight_ih),
            weight_hh: Param::new("weight_hh", weight_hh),
            bias_ih: Param::new("bias_ih", bias_ih),
            bias_hh: Param::new("bias_hh", bias_hh),
        }
    }

    fn input_size(&self) -> usize {
        self.weight_ih.shape()[0]
    }

    fn hidden_size(&self) -> usize {
        self.weight_hh.shape()[0]
    }

    /// `x W_ih + b_ih` and `h W_hh + b_hh`, all gates side by side.
    #[track_caller]
    fn project<'t>(&self, kind: &str, x: Var<'t, T>, h: Var<'t, T>) -> (Var<'t, T>, Var<'t, T>) {
        let shape = x.shape();
        if shape.len() != 2 || shape[1] != self.input_size() {
            panic!(
                "{kind}: expected an input of shape [batch, {}], got {shape:?}",
                self.input_size()
            );
        }
        let tape = x.tape();
        let gi = x.matmul(tape.param(&self.weight_ih)) + tape.param(&self.bias_ih);
        let gh = h.matmul(tape.param(&self.weight_hh)) + tape.param(&self.bias_hh);
        (gi, gh)
    }

    fn zeros<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Var<'t, T> {
        tape.constant(tapegrad_autograd::zeros(&[batch, self.hidden_size()]))
    }

    fn params(&self) -> Vec<&Param<T>> {
        vec![
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ]
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        ]
    }
}

/// Gate `k` (of width `hidden`) of `gates`.
fn gate<'t, T: Real>(gates: Var<'t, T>, k: usize, hidden: usize) -> Var<'t, T> {
    gates.narrow(1, k * hidden, hidden)
}

macro_rules! cell_common {
    ($name:ident, $gates:expr) => {
        impl<T: Real> $name<T> {
            /// A cell from `input` features to `hidden`, every weight and bias uniform on
            /// `±1/sqrt(hidden)` (PyTorch's initialisation), drawn from a stream seeded with
            /// `seed`.
            pub fn new(input: usize, hidden: usize, seed: u64) -> Self {
                $name {
                    w: Weights::new(input, hidden, $gates, seed),
                }
            }

            /// A cell with the given weights (see the module documentation for the layout).
            ///
            /// # Panics
            /// If the shapes do not fit together.
            #[track_caller]
            pub fn from_tensors(
                weight_ih: Tensor<T>,
                weight_hh: Tensor<T>,
                bias_ih: Tensor<T>,
                bias_hh: Tensor<T>,
            ) -> Self {
                $name {
                    w: Weights::from_tensors(
                        stringify!($name),
                        $gates,
                        weight_ih,
                        weight_hh,
                        bias_ih,
                        bias_hh,
                    ),
                }
            }
        }
    };
}

/// The Elman cell: `h' = tanh(x W_ih + b_ih + h W_hh + b_hh)` (PyTorch's `RNNCell`).
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::layer::{RecurrentCell, RnnCell};
///
/// let cell = RnnCell::<f64>::from_tensors(
///     tensor(&[1, 1], vec![0.5]),
///     tensor(&[1, 1], vec![-1.0]),
///     tensor(&[1], vec![0.1]),
///     tensor(&[1], vec![0.0]),
/// );
/// let tape = Tape::new();
/// let h0 = cell.initial_state(&tape, 1);
/// let h1 = cell.step(tape.constant(tensor(&[1, 1], vec![1.0])), &h0);
/// assert!((h1[0].item() - 0.6f64.tanh()).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct RnnCell<T: Real = f32> {
    w: Weights<T>,
}

cell_common!(RnnCell, 1);

impl<T: Real> RecurrentCell<T> for RnnCell<T> {
    fn input_size(&self) -> usize {
        self.w.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.w.hidden_size()
    }
    fn initial_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Vec<Var<'t, T>> {
        vec![self.w.zeros(tape, batch)]
    }
    #[track_caller]
    fn step<'t>(&self, x: Var<'t, T>, state: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let (gi, gh) = self.w.project("RnnCell", x, state[0]);
        vec![(gi + gh).tanh()]
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.w.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.w.params_mut()
    }
    fn describe(&self) -> String {
        format!("RnnCell({} -> {})", self.input_size(), self.hidden_size())
    }
}

/// The LSTM cell (PyTorch's `LSTMCell`), gates in the order input, forget, cell, output:
///
/// ```text
/// i = σ(x W_ii + b_ii + h W_hi + b_hi)     f = σ(x W_if + b_if + h W_hf + b_hf)
/// g = tanh(x W_ig + b_ig + h W_hg + b_hg)  o = σ(x W_io + b_io + h W_ho + b_ho)
/// c' = f c + i g                           h' = o tanh(c')
/// ```
///
/// The state is `[h, c]`.
#[derive(Clone, Debug)]
pub struct LstmCell<T: Real = f32> {
    w: Weights<T>,
}

cell_common!(LstmCell, 4);

impl<T: Real> RecurrentCell<T> for LstmCell<T> {
    fn input_size(&self) -> usize {
        self.w.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.w.hidden_size()
    }
    fn initial_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Vec<Var<'t, T>> {
        vec![self.w.zeros(tape, batch), self.w.zeros(tape, batch)]
    }
    #[track_caller]
    fn step<'t>(&self, x: Var<'t, T>, state: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let hidden = self.hidden_size();
        let (gi, gh) = self.w.project("LstmCell", x, state[0]);
        let gates = gi + gh;
        let i = gate(gates, 0, hidden).sigmoid();
        let f = gate(gates, 1, hidden).sigmoid();
        let g = gate(gates, 2, hidden).tanh();
        let o = gate(gates, 3, hidden).sigmoid();
        let c = f * state[1] + i * g;
        vec![o * c.tanh(), c]
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.w.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.w.params_mut()
    }
    fn describe(&self) -> String {
        format!("LstmCell({} -> {})", self.input_size(), self.hidden_size())
    }
}

/// The GRU cell (PyTorch's `GRUCell`), gates in the order reset, update, new:
///
/// ```text
/// r = σ(x W_ir + b_ir + h W_hr + b_hr)     z = σ(x W_iz + b_iz + h W_hz + b_hz)
/// n = tanh(x W_in + b_in + r (h W_hn + b_hn))
/// h' = (1 - z) n + z h
/// ```
#[derive(Clone, Debug)]
pub struct GruCell<T: Real = f32> {
    w: Weights<T>,
}

cell_common!(GruCell, 3);

impl<T: Real> RecurrentCell<T> for GruCell<T> {
    fn input_size(&self) -> usize {
        self.w.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.w.hidden_size()
    }
    fn initial_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Vec<Var<'t, T>> {
        vec![self.w.zeros(tape, batch)]
    }
    #[track_caller]
    fn step<'t>(&self, x: Var<'t, T>, state: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let hidden = self.hidden_size();
        let h = state[0];
        let (gi, gh) = self.w.project("GruCell", x, h);
        let r = (gate(gi, 0, hidden) + gate(gh, 0, hidden)).sigmoid();
        let z = (gate(gi, 1, hidden) + gate(gh, 1, hidden)).sigmoid();
        let n = (gate(gi, 2, hidden) + r * gate(gh, 2, hidden)).tanh();
        vec![n + z * (h - n)]
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.w.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.w.params_mut()
    }
    fn describe(&self) -> String {
        format!("GruCell({} -> {})", self.input_size(), self.hidden_size())
    }
}

/// A cell unrolled over `[batch, time, features]` sequences from a zero state (PyTorch's
/// `RNN`/`LSTM`/`GRU` with `batch_first=True`, one layer, one direction; Keras' `SimpleRNN`,
/// `LSTM`, `GRU`). The output is every step's `h`, `[batch, time, hidden]`, or with
/// [`last_only`](Recurrent::last_only) the last one, `[batch, hidden]` (Keras'
/// `return_sequences=False`).
///
/// ```
/// use tapegrad_nn::autograd::{zeros, Tape};
/// use tapegrad_nn::layer::{Dense, LstmCell, Recurrent, Sequential};
/// use tapegrad_nn::Module;
///
/// let net = Sequential::<f32>::new()
///     .add(Recurrent::new(LstmCell::new(8, 16, 0)).last_only())
///     .add(Dense::new(16, 2, 1));
/// let tape = Tape::new();
/// let y = net.forward(tape.constant(zeros(&[4, 10, 8]))); // 4 sequences of 10 steps
/// assert_eq!(y.shape(), vec![4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Recurrent<C> {
    cell: C,
    last_only: bool,
}

impl<C> Recurrent<C> {
    /// Unrolls `cell`, returning every step's output.
    pub fn new(cell: C) -> Self {
        Recurrent {
            cell,
            last_only: false,
        }
    }

    /// Returns only the last step's output.
    pub fn last_only(mut self) -> Self {
        self.last_only = true;
        self
    }

    /// The cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }
}

impl<C> Recurrent<C> {
    /// Every state after each step (each a list as the cell's [`RecurrentCell::step`] returns
    /// it), for reading an LSTM's cell states or continuing from the last one.
    #[track_caller]
    pub fn states<'t, T: Real>(&self, x: Var<'t, T>) -> Vec<Vec<Var<'t, T>>>
    where
        C: RecurrentCell<T>,
    {
        let shape = x.shape();
        if shape.len() != 3 || shape[2] != self.cell.input_size() {
            panic!(
                "Recurrent({}): expected sequences [batch, time, {}], got {shape:?}",
                self.cell.describe(),
                self.cell.input_size()
            );
        }
        let (batch, time, features) = (shape[0], shape[1], shape[2]);
        let mut state = self.cell.initial_state(x.tape(), batch);
        let mut all = Vec::with_capacity(time);
        for t in 0..time {
            let xt = x.narrow(1, t, 1).reshape(&[batch, features]);
            state = self.cell.step(xt, &state);
            all.push(state.clone());
        }
        all
    }
}

impl<T: Real, C: RecurrentCell<T>> Module<T> for Recurrent<C> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let states = self.states(x);
        if states.is_empty() {
            let batch = x.shape()[0];
            return self.cell.initial_state(x.tape(), batch)[0];
        }
        if self.last_only {
            return states[states.len() - 1][0];
        }
        let outputs: Vec<Var<'t, T>> = states.iter().map(|s| s[0]).collect();
        Var::stack(&outputs, 1)
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.cell.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.cell.params_mut()
    }
    fn describe(&self) -> String {
        format!(
            "Recurrent({}{})",
            self.cell.describe(),
            if self.last_only { ", last only" } else { "" }
        )
    }
}
