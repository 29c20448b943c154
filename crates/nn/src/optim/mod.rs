//! Optimizers: update parameters in place from the gradients of one backward pass.
//!
//! Every optimizer implements [`Optimizer`]: `step(&mut params, &grads)` walks the parameters
//! once, and for each trainable parameter that has a gradient does one fused pass over its
//! elements (gradient clipping, weight decay, the update rule and the state update together).
//! State (velocities, moment estimates) lives in the optimizer, one slot per parameter, made on
//! the first step; later steps allocate nothing. Frozen parameters and parameters without a
//! gradient are skipped.
//!
//! | optimizer | rule |
//! |---|---|
//! | [`Sgd`] | `p -= lr * g` |
//! | [`Sgd::momentum`] (PyTorch) | `v = m v + g; p -= lr v` |
//! | [`Sgd::ewma_momentum`] (the course) | `v = b v + (1 - b) g; p -= lr v` |
//! | [`Sgd::nesterov`] (PyTorch) | `v = m v + g; p -= lr (g + m v)` |
//! | [`RmsProp`] (Keras) | `s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)` |
//! | [`Adam`] | bias-corrected `m`, `v`; `p -= lr m^ / (sqrt(v^) + eps)` |
//! | [`Adam::adamw`] | `p -= lr wd p`, then Adam |
//! | [`Adagrad`] | `s += g^2; p -= lr g / (sqrt(s) + eps)` |
//!
//! All of them take `.weight_decay(wd)` (L2: `g += wd p`, the course's `lambd / m`),
//! `.clip_value(c)` (each gradient element clamped to `[-c, c]`) and `.clip_global_norm(n)` (all
//! gradients scaled by `n / max(norm, n)`, where `norm` is the L2 norm of all of them
//! together), applied in that order: scale, clamp, decay.
//!
//! [`Lbfgs`] is of another kind: it minimises a whole objective (full batch), evaluating it
//! as often as its line search needs, as scikit-learn's `LogisticRegression` does.
//!
//! # Steps and tapes
//!
//! The update writes into the parameter's buffer. If a tape still holds that buffer (the tape
//! the gradients came from is alive), [`Param::value_mut`] copies it first. To update truly in
//! place, let the tape go before stepping, for example by computing the gradients in a block:
//!
//! ```
//! use tapegrad_nn::autograd::{tensor, Param, Tape};
//! use tapegrad_nn::optim::{Optimizer, Sgd};
//!
//! let mut w = Param::new("w", tensor(&[2], vec![1.0f64, -2.0]));
//! let mut opt = Sgd::new(0.1);
//! let grads = {
//!     let tape = Tape::new();
//!     let loss = (tape.param(&w) * tape.param(&w)).sum(); // d/dw = 2w
//!     tape.backward(loss)
//! }; // the tape is dropped here, so the step below writes in place
//! opt.step(&mut [&mut w], &grads);
//! assert_eq!(w.value().as_slice().unwrap(), &[0.8, -1.6]);
//! ```

use rayon::prelude::*;
use tapegrad_autograd::kernels::elementwise::PARALLEL_MIN_LEN;
use tapegrad_autograd::{Gradients, Param, Real, Tensor};

mod adagrad;
mod adam;
mod lbfgs;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use lbfgs::{Lbfgs, Minimum};
pub use rmsprop::RmsProp;
pub use sgd::{Momentum, Sgd};

use crate::error::OptimizerStateError;

/// An optimizer: updates parameters in place from their gradients. `Send`, as `Model::fit`
/// runs on a thread of rayon's pool.
pub trait Optimizer<T: Real>: Send {
    /// A short name (`"sgd"`, `"adam"`), also stored in checkpoints.
    fn name(&self) -> &str;

    /// One update of every trainable parameter in `params` that has a gradient in `grads`.
    ///
    /// State is kept per parameter, matched by position and checked by name, so pass the
    /// parameters in the same order every step (a module's `params_mut()` does).
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate used by later steps (what schedules call).
    fn set_learning_rate(&mut self, lr: f64);

    /// The optimizer's state (learning rate, step counts, per-parameter buffers), for
    /// checkpoints.
    fn state(&self) -> OptimizerState<T>;

    /// Restores a state saved by [`state`](Optimizer::state) of the same kind of optimizer.
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), OptimizerStateError>;
}

impl<T: Real, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) {
        (**self).step(params, grads)
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr)
    }
    fn state(&self) -> OptimizerState<T> {
        (**self).state()
    }
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), OptimizerStateError> {
        (**self).load_state(state)
    }
}

/// An optimizer's state as named numbers and tensors, ready to be saved.
///
/// Tensor names are `"{parameter}.{buffer}"` (`"layer0.weight.exp_avg"`); each parameter's step
/// count is the scalar `"{parameter}.step"`; the learning rate is `"learning_rate"`.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T: Real> {
    /// The optimizer's [`name`](Optimizer::name).
    pub kind: String,
    /// Named numbers.
    pub scalars: Vec<(String, f64)>,
    /// Named tensors.
    pub tensors: Vec<(String, Tensor<T>)>,
}

impl<T: Real> OptimizerState<T> {
    /// The scalar of this name, if present.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.scalars
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}

/// The L2 norm of the gradients of all trainable `params` together (parameters without a
/// gradient count as zero), the quantity that [`clip_global_norm`](Sgd::clip_global_norm) bounds.
///
/// The sum runs in `f64`, in a fixed order, so it does not depend on the thread count.
pub fn global_grad_norm<'a, T: Real>(
    params: impl IntoIterator<Item = &'a Param<T>>,
    grads: &Gradients<T>,
) -> f64 {
    let mut total = 0.0f64;
    for p in params {
        if !p.is_trainable() {
            continue;
        }
        if let Some(g) = grads.param(p) {
            total += sum_squares(g);
        }
    }
    total.sqrt()
}

fn sum_squares<T: Real>(g: &Tensor<T>) -> f64 {
    let sq = |s: &[T]| -> f64 {
        s.iter()
            .map(|x| {
                let x = x.to_f64().unwrap_or(f64::NAN);
                x * x
            })
            .sum()
    };
    match g.as_slice_memory_order() {
        Some(s) if s.len() >= PARALLEL_MIN_LEN => {
            // Partial sums per fixed chunk, added in order: the same result on any thread count.
            let parts: Vec<f64> = s.par_chunks(CHUNK).map(sq).collect();
            parts.iter().sum()
        }
        Some(s) => sq(s),
        None => g
            .iter()
            .map(|x| {
                let x = x.to_f64().unwrap_or(f64::NAN);
                x * x
            })
            .sum(),
    }
}

/// Elements per parallel task in the update loops.
const CHUNK: usize = 1 << 13;

/// The gradient preprocessing shared by every optimizer: global-norm clipping, value
/// clipping and L2 weight decay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct GradTransform {
    pub(crate) weight_decay: f64,
    pub(crate) clip_value: Option<f64>,
    pub(crate) clip_norm: Option<f64>,
}

/// [`GradTransform`] resolved for one step, in the element type.
#[derive(Clone, Copy)]
pub(crate) struct Prep<T> {
    scale: T,
    clip: T,
    wd: T,
}

impl<T: Real> Prep<T> {
    /// The gradient element as the update rule sees it.
    #[inline(always)]
    pub(crate) fn grad(&self, g: T, p: T) -> T {
        let g = (g * self.scale).max(-self.clip).min(self.clip);
        g + self.wd * p
    }
}

/// The per-parameter state of an optimizer: named buffers shaped like the parameter.
#[derive(Clone, Debug)]
pub(crate) struct Slot<T> {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
    /// Steps taken for this parameter (Adam's `t`).
    pub(crate) step: u64,
    pub(crate) bufs: Vec<Vec<T>>,
    /// The [`Slots::step_mark`] of the last step that used this slot.
    claimed: u64,
}

/// The slots of an optimizer, one per parameter, in the order of the parameters.
#[derive(Clone, Debug)]
pub(crate) struct Slots<T> {
    buf_names: &'static [&'static str],
    fill: T,
    slots: Vec<Slot<T>>,
    /// Counts steps, so that a slot claimed in the current step is recognised.
    step_mark: u64,
}

impl<T: Real> Slots<T> {
    /// Slots with the given buffers, each starting filled with `fill`.
    pub(crate) fn new(buf_names: &'static [&'static str], fill: T) -> Self {
        Slots {
            buf_names,
            fill,
            slots: Vec::new(),
            step_mark: 0,
        }
    }

    pub(crate) fn set_fill(&mut self, fill: T) {
        self.fill = fill;
    }

    fn fresh(&self, p: &Param<T>) -> Slot<T> {
        Slot {
            name: p.name().to_string(),
            shape: p.shape().to_vec(),
            step: 0,
            bufs: self
                .buf_names
                .iter()
                .map(|_| vec![self.fill; p.len()])
                .collect(),
            claimed: 0,
        }
    }

    /// Starts a step: every slot becomes free to be claimed by one parameter again.
    fn begin_step(&mut self) {
        self.step_mark += 1;
    }

    /// The slot of parameter `i`; made on first use. Each slot is claimed by at most one
    /// parameter per step, so parameters sharing a name (the `weight` of two layers) never share
    /// or reset each other's state. A free slot found under the parameter's name (and shape) at
    /// another position moves to position `i`; a free slot of that name whose shape no longer
    /// fits is started again.
    fn slot(&mut self, i: usize, p: &Param<T>) -> &mut Slot<T> {
        let mark = self.step_mark;
        let free = |s: &Slot<T>| s.claimed != mark && s.name == p.name();
        let fits = |s: &Slot<T>| free(s) && s.shape == p.shape();
        let j = if i < self.slots.len() && fits(&self.slots[i]) {
            i
        } else if let Some(j) = self
            .slots
            .iter()
            .position(fits)
            .or_else(|| self.slots.iter().position(free))
        {
            if self.slots[j].shape != p.shape() {
                self.slots[j] = self.fresh(p);
            }
            if i < self.slots.len() && self.slots[i].claimed != mark {
                self.slots.swap(i, j);
                i
            } else {
                j
            }
        } else {
            let fresh = self.fresh(p);
            self.slots.push(fresh);
            self.slots.len() - 1
        };
        let slot = &mut self.slots[j];
        slot.claimed = mark;
        slot
    }

    fn export(&self, state: &mut OptimizerState<T>) {
        for s in &self.slots {
            state
                .scalars
                .push((format!("{}.step", s.name), s.step as f64));
            for (name, buf) in self.buf_names.iter().zip(&s.bufs) {
                state.tensors.push((
                    format!("{}.{}", s.name, name),
                    tapegrad_autograd::tensor(&s.shape, buf.clone()),
                ));
            }
        }
    }

    fn import(&mut self, state: &OptimizerState<T>) -> Result<(), OptimizerStateError> {
        let mut slots: Vec<Slot<T>> = Vec::new();
        for (key, t) in &state.tensors {
            let (pname, buf) = key.rsplit_once('.').unwrap_or(("", key.as_str()));
            let Some(k) = self.buf_names.iter().position(|b| *b == buf) else {
                return Err(OptimizerStateError::UnknownEntry {
                    kind: state.kind.clone(),
                    name: key.clone(),
                });
            };
            let pos = match slots.iter().position(|s| s.name == pname) {
                Some(pos) => pos,
                None => {
                    let step = state.scalar(&format!("{pname}.step")).unwrap_or(0.0);
                    slots.push(Slot {
                        name: pname.to_string(),
                        shape: t.shape().to_vec(),
                        step: step as u64,
                        bufs: vec![Vec::new(); self.buf_names.len()],
                        claimed: 0,
                    });
                    slots.len() - 1
                }
            };
            let slot = &mut slots[pos];
            if slot.shape != t.shape() {
                return Err(OptimizerStateError::ShapeMismatch {
                    name: key.clone(),
                    expected: slot.shape.clone(),
                    found: t.shape().to_vec(),
                });
            }
            slot.bufs[k] = t.iter().copied().collect();
        }
        for s in &mut slots {
            for (k, b) in s.bufs.iter().enumerate() {
                if b.len() != s.shape.iter().product::<usize>() {
                    return Err(OptimizerStateError::MissingEntry {
                        name: format!("{}.{}", s.name, self.buf_names[k]),
                    });
                }
            }
        }
        // Slots of stateless optimizers carry only a step count.
        if self.buf_names.is_empty() {
            for (key, v) in &state.scalars {
                if let Some(pname) = key.strip_suffix(".step") {
                    slots.push(Slot {
                        name: pname.to_string(),
                        shape: Vec::new(),
                        step: *v as u64,
                        bufs: Vec::new(),
                        claimed: 0,
                    });
                }
            }
        }
        self.slots = slots;
        Ok(())
    }
}

/// Exports the common part of a state: kind, learning rate and slots.
pub(crate) fn export_state<T: Real>(kind: &str, lr: f64, slots: &Slots<T>) -> OptimizerState<T> {
    let mut state = OptimizerState {
        kind: kind.to_string(),
        scalars: vec![("learning_rate".to_string(), lr)],
        tensors: Vec::new(),
    };
    slots.export(&mut state);
    state
}

/// Imports the common part of a state, returning the learning rate.
pub(crate) fn import_state<T: Real>(
    kind: &str,
    state: &OptimizerState<T>,
    slots: &mut Slots<T>,
) -> Result<f64, OptimizerStateError> {
    if state.kind != kind {
        return Err(OptimizerStateError::WrongKind {
            expected: kind.to_string(),
            found: state.kind.clone(),
        });
    }
    let lr = state
        .scalar("learning_rate")
        .ok_or_else(|| OptimizerStateError::MissingEntry {
            name: "learning_rate".to_string(),
        })?;
    slots.import(state)?;
    Ok(lr)
}

/// Runs `update(param, grad, slot, prep)` for every trainable parameter with a gradient, on
/// contiguous slices, after working out the gradient transform of this step.
pub(crate) fn step_each<T: Real>(
    params: &mut [&mut Param<T>],
    grads: &Gradients<T>,
    transform: &GradTransform,
    slots: &mut Slots<T>,
    mut update: impl FnMut(&mut [T], &[T], &mut Slot<T>, &Prep<T>),
) {
    let scale = match transform.clip_norm {
        Some(max) => {
            let norm = global_grad_norm(params.iter().map(|p| &**p), grads);
            if norm > max {
                max / norm
            } else {
                1.0
            }
        }
        None => 1.0,
    };
    slots.begin_step();
    let prep = Prep {
        scale: T::lit(scale),
        clip: T::lit(transform.clip_value.unwrap_or(f64::INFINITY)),
        wd: T::lit(transform.weight_decay),
    };
    for (i, p) in params.iter_mut().enumerate() {
        if !p.is_trainable() {
            continue;
        }
        let Some(g) = grads.param(p) else {
            continue;
        };
        assert_eq!(
            g.shape(),
            p.shape(),
            "optimizer step: the gradient of '{}' has shape {:?} but the parameter {:?}",
            p.name(),
            g.shape(),
            p.shape()
        );
        let g = g.as_standard_layout();
        let g = g.as_slice().expect("standard layout is contiguous");
        let slot = slots.slot(i, p);
        slot.step += 1;
        let value = p.value_mut();
        if !value.is_standard_layout() {
            *value = value.as_standard_layout().into_owned().into_shared();
        }
        let value = value.as_slice_mut().expect("standard layout is contiguous");
        update(value, g, slot, &prep);
    }
}

/// `f(p, g)` for each element pair, on several threads for large parameters.
pub(crate) fn zip0<T: Real>(p: &mut [T], g: &[T], f: impl Fn(&mut T, T) + Sync + Send) {
    if p.len() >= PARALLEL_MIN_LEN {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(p, g)| p.iter_mut().zip(g).for_each(|(p, &g)| f(p, g)));
    } else {
        p.iter_mut().zip(g).for_each(|(p, &g)| f(p, g));
    }
}

/// `f(p, g, a)` with one state buffer.
pub(crate) fn zip1<T: Real>(
    p: &mut [T],
    g: &[T],
    a: &mut [T],
    f: impl Fn(&mut T, T, &mut T) + Sync + Send,
) {
    if p.len() >= PARALLEL_MIN_LEN {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(a.par_chunks_mut(CHUNK))
            .for_each(|((p, g), a)| {
                for ((p, &g), a) in p.iter_mut().zip(g).zip(a) {
                    f(p, g, a)
                }
            });
    } else {
        for ((p, &g), a) in p.iter_mut().zip(g).zip(a) {
            f(p, g, a)
        }
    }
}

/// `f(p, g, a, b)` with two state buffers.
pub(crate) fn zip2<T: Real>(
    p: &mut [T],
    g: &[T],
    a: &mut [T],
    b: &mut [T],
    f: impl Fn(&mut T, T, &mut T, &mut T) + Sync + Send,
) {
    if p.len() >= PARALLEL_MIN_LEN {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(a.par_chunks_mut(CHUNK))
            .zip(b.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), a), b)| {
                for (((p, &g), a), b) in p.iter_mut().zip(g).zip(a).zip(b) {
                    f(p, g, a, b)
                }
            });
    } else {
        for (((p, &g), a), b) in p.iter_mut().zip(g).zip(a).zip(b) {
            f(p, g, a, b)
        }
    }
}

/// The builder methods every optimizer has: weight decay and gradient clipping.
macro_rules! common_builders {
    ($ty:ident) => {
        impl<T: Real> $ty<T> {
            /// L2 weight decay: `g += wd * p` before the update (the course's L2
            /// regularisation with `wd = lambd / m`).
            pub fn weight_decay(mut self, wd: f64) -> Self {
                self.transform.weight_decay = wd;
                self
            }

            /// Clamps each gradient element to `[-c, c]` (Keras' `clipvalue`).
            ///
            /// # Panics
            /// If `c` is not positive.
            #[track_caller]
            pub fn clip_value(mut self, c: f64) -> Self {
                assert!(c > 0.0, "clip_value: the bound must be positive, got {c}");
                self.transform.clip_value = Some(c);
                self
            }

            /// Scales all gradients together by `max_norm / max(norm, max_norm)`, where `norm`
            /// is their joint L2 norm (Keras' `global_clipnorm`, PyTorch's
            /// `clip_grad_norm_`).
            ///
            /// # Panics
            /// If `max_norm` is not positive.
            #[track_caller]
            pub fn clip_global_norm(mut self, max_norm: f64) -> Self {
                assert!(
                    max_norm > 0.0,
                    "clip_global_norm: the norm must be positive, got {max_norm}"
                );
                self.transform.clip_norm = Some(max_norm);
                self
            }
        }
    };
}
pub(crate) use common_builders;

#[cfg(test)]
pub(crate) mod testing {
    use tapegrad_autograd::{tensor, Gradients, Param, Tape};

    /// Gradients for `params` equal to `gs` exactly (loss = sum(p * g) with `g` constant).
    pub(crate) fn grads_for(params: &[&Param<f64>], gs: &[Vec<f64>]) -> Gradients<f64> {
        let tape = Tape::new();
        let mut loss = None;
        for (p, g) in params.iter().zip(gs) {
            let term = (tape.param(p) * tape.constant(tensor(p.shape(), g.clone()))).sum();
            loss = Some(match loss {
                None => term,
                Some(l) => l + term,
            });
        }
        tape.backward(loss.expect("at least one parameter"))
    }

    /// Runs `steps` steps of `opt` on a parameter starting at `p0`, with gradient `g` each step.
    pub(crate) fn run<O: super::Optimizer<f64>>(
        opt: &mut O,
        p0: &[f64],
        gs: &[Vec<f64>],
    ) -> Vec<f64> {
        let mut p = Param::new("w", tensor(&[p0.len()], p0.to_vec()));
        for g in gs {
            let grads = grads_for(&[&p], std::slice::from_ref(g));
            opt.step(&mut [&mut p], &grads);
        }
        p.value().iter().copied().collect()
    }

    #[track_caller]
    pub(crate) fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use tapegrad_autograd::tensor;

    #[test]
    fn weight_decay_and_clipping_transform_the_gradient() {
        // g' = g + 0.1 p = [0.6, -1.2]; p -= 0.1 g'
        let got = run(
            &mut Sgd::new(0.1).weight_decay(0.1),
            &[1.0, -2.0],
            &[vec![0.5, -1.0]],
        );
        assert_close(&got, &[0.94, -1.88]);
        // g clamped to [-0.3, 0.3]
        let got = run(
            &mut Sgd::new(0.1).clip_value(0.3),
            &[1.0, -2.0],
            &[vec![0.5, -1.0]],
        );
        assert_close(&got, &[0.97, -1.97]);
        // |[3, 4]| = 5, scaled to norm 1: [0.6, 0.8]
        let got = run(
            &mut Sgd::new(1.0).clip_global_norm(1.0),
            &[0.0, 0.0],
            &[vec![3.0, 4.0]],
        );
        assert_close(&got, &[-0.6, -0.8]);
        // below the bound nothing changes
        let got = run(
            &mut Sgd::new(1.0).clip_global_norm(10.0),
            &[0.0, 0.0],
            &[vec![3.0, 4.0]],
        );
        assert_close(&got, &[-3.0, -4.0]);
    }

    #[test]
    fn global_norm_spans_parameters_and_skips_frozen_ones() {
        let a = Param::new("a", tensor(&[1], vec![0.0f64]));
        let mut b = Param::new("b", tensor(&[1], vec![0.0f64]));
        let grads = grads_for(&[&a, &b], &[vec![3.0], vec![4.0]]);
        assert!((global_grad_norm([&a, &b], &grads) - 5.0).abs() < 1e-12);
        b.freeze();
        assert!((global_grad_norm([&a, &b], &grads) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn frozen_parameters_and_parameters_without_gradients_are_skipped() {
        let mut a = Param::new("a", tensor(&[1], vec![1.0f64]));
        let mut b = Param::new("b", tensor(&[1], vec![1.0f64]));
        let grads = grads_for(&[&a, &b], &[vec![1.0], vec![1.0]]);
        b.freeze();
        let mut opt = Sgd::new(0.5);
        opt.step(&mut [&mut a, &mut b], &grads);
        assert_eq!(a.value()[[0]], 0.5);
        assert_eq!(b.value()[[0]], 1.0);
        let mut c = Param::new("c", tensor(&[1], vec![1.0f64]));
        opt.step(&mut [&mut c], &grads);
        assert_eq!(c.value()[[0]], 1.0);
    }

    #[test]
    fn parameters_sharing_a_name_keep_their_own_state() {
        // Two layers' weights are both called "weight" (different shapes), and their biases
        // both "bias" (same shape): each keeps its own velocity.
        let p0 = [vec![1.0f64, 2.0], vec![3.0], vec![4.0, 5.0, 6.0], vec![7.0]];
        let names = ["weight", "bias", "weight", "bias"];
        let gs = [vec![0.5, -1.0], vec![2.0], vec![0.1, 0.2, 0.3], vec![-0.3]];
        let mut ps: Vec<Param<f64>> = names
            .iter()
            .zip(&p0)
            .map(|(n, v)| Param::new(*n, tensor(&[v.len()], v.clone())))
            .collect();
        let mut opt = Sgd::momentum(0.1, 0.9);
        for _ in 0..3 {
            let grads = grads_for(&ps.iter().collect::<Vec<_>>(), &gs);
            opt.step(&mut ps.iter_mut().collect::<Vec<_>>(), &grads);
        }
        for ((p, v), g) in ps.iter().zip(&p0).zip(&gs) {
            // v = g, 1.9 g, 2.71 g: p = p0 - 0.1 * 5.61 g
            let want: Vec<f64> = v.iter().zip(g).map(|(v, g)| v - 0.561 * g).collect();
            assert_close(&p.value().iter().copied().collect::<Vec<_>>(), &want);
        }
        assert_eq!(opt.state().tensors.len(), 4);
    }

    #[test]
    fn state_round_trips_and_survives_reordering() {
        let mut a = Param::new("a", tensor(&[2], vec![1.0f64, 2.0]));
        let mut b = Param::new("b", tensor(&[1], vec![3.0f64]));
        let mut opt = Adam::new(0.1);
        let grads = grads_for(&[&a, &b], &[vec![0.5, -1.0], vec![2.0]]);
        opt.step(&mut [&mut a, &mut b], &grads);
        let state = opt.state();
        assert_eq!(state.kind, "adam");
        assert_eq!(state.scalar("a.step"), Some(1.0));
        let mut restored = Adam::new(0.5);
        restored.load_state(&state).unwrap();
        assert_eq!(Optimizer::<f64>::learning_rate(&restored), 0.1);
        let (mut a2, mut b2) = (a.clone(), b.clone());
        let grads = grads_for(&[&a, &b], &[vec![0.1, 0.2], vec![-0.3]]);
        opt.step(&mut [&mut a, &mut b], &grads);
        let grads2 = grads_for(&[&b2, &a2], &[vec![-0.3], vec![0.1, 0.2]]);
        restored.step(&mut [&mut b2, &mut a2], &grads2);
        assert_eq!(a.value(), a2.value());
        assert_eq!(b.value(), b2.value());
        let err = Sgd::<f64>::new(0.1).load_state(&state).unwrap_err();
        assert!(err.to_string().contains("adam"), "{err}");
    }
}
