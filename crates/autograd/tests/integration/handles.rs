//! Parameter bindings and gradients never answer for the wrong recording.
//!
//! Random sequences of tape lives (new tapes, inference tapes, resets, drops), parameter
//! bindings in any order (shared weights, inside `no_grad`), value changes, freezing,
//! backward passes and optimizer steps run against a naive model that says what every call
//! must return: the value a binding reads, the gradient `Gradients::param` gives (or that it
//! must panic), and that gradients refuse variables of a later recording or another tape.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use tapegrad_autograd::{scalar, tensor, Gradients, Param, Tape, Var};

const PARAMS: usize = 3;
const SLOTS: usize = 3;
const KEPT_GRADIENTS: usize = 6;

#[derive(Clone, Debug)]
enum Sub {
    /// `coef * sum(p * p)` added to the step's loss, the parameter bound on the tape (inside
    /// `no_grad` if the flag is set).
    Use(usize, u8, bool),
    /// `p += 1` in place.
    Change(usize),
    Freeze(usize),
    Unfreeze(usize),
}

#[derive(Clone, Debug)]
enum Action {
    NewTape(usize, bool),
    Drop(usize),
    Reset(usize),
    Step(usize, Vec<Sub>, bool),
    /// Plain SGD with the kept gradients `k`.
    OptimizerStep(usize),
    Sub(Sub),
}

fn sub() -> impl Strategy<Value = Sub> {
    prop_oneof![
        6 => (0..PARAMS, 1u8..4, prop::bool::weighted(0.2)).prop_map(|(p, c, ng)| Sub::Use(p, c, ng)),
        1 => (0..PARAMS).prop_map(Sub::Change),
        1 => (0..PARAMS).prop_map(Sub::Freeze),
        1 => (0..PARAMS).prop_map(Sub::Unfreeze),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => (0..SLOTS, prop::bool::weighted(0.25)).prop_map(|(s, inf)| Action::NewTape(s, inf)),
        1 => (0..SLOTS).prop_map(Action::Drop),
        2 => (0..SLOTS).prop_map(Action::Reset),
        6 => (0..SLOTS, prop::collection::vec(sub(), 0..8), prop::bool::weighted(0.85))
            .prop_map(|(s, subs, bw)| Action::Step(s, subs, bw)),
        2 => (0..KEPT_GRADIENTS).prop_map(Action::OptimizerStep),
        1 => sub().prop_map(Action::Sub),
    ]
}

/// What `Gradients::param` must do.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    None,
    Some(Vec<f64>),
    Panic,
}

#[derive(Clone, Debug)]
struct Node {
    id: u64,
    trainable: bool,
    value: Vec<f64>,
}

#[derive(Clone, Debug)]
struct ModelParam {
    value: Vec<f64>,
    version: u64,
    trainable: bool,
}

#[derive(Debug)]
struct ModelTape {
    tape_id: u64,
    recording: u64,
    inference: bool,
    bindings: HashMap<usize, (Node, u64)>,
    superseded: Vec<(usize, Node)>,
}

struct Kept {
    grads: Gradients<f64>,
    expect: Vec<Expect>,
    tape_id: u64,
    recording: u64,
}

struct World {
    params: Vec<Param<f64>>,
    model: Vec<ModelParam>,
    tapes: Vec<Option<Tape<f64>>>,
    model_tapes: Vec<Option<ModelTape>>,
    kept: Vec<Kept>,
    next_id: u64,
}

fn values(t: &tapegrad_autograd::Tensor<f64>) -> Vec<f64> {
    t.iter().copied().collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + x.abs().max(y.abs())))
}

fn param_answer(grads: &Gradients<f64>, p: &Param<f64>) -> Expect {
    match catch_unwind(AssertUnwindSafe(|| grads.param(p).map(values))) {
        Ok(None) => Expect::None,
        Ok(Some(g)) => Expect::Some(g),
        Err(_) => Expect::Panic,
    }
}

fn same(real: &Expect, want: &Expect) -> bool {
    match (real, want) {
        (Expect::Some(a), Expect::Some(b)) => close(a, b),
        (a, b) => a == b,
    }
}

impl World {
    fn new() -> Self {
        let params = (0..PARAMS)
            .map(|j| {
                let v = vec![j as f64 + 0.5, -(j as f64) - 1.25];
                Param::new(format!("p{j}"), tensor(&[2], v))
            })
            .collect::<Vec<_>>();
        let model = params
            .iter()
            .map(|p| ModelParam {
                value: values(p.value()),
                version: 0,
                trainable: true,
            })
            .collect();
        World {
            params,
            model,
            tapes: (0..SLOTS).map(|_| None).collect(),
            model_tapes: (0..SLOTS).map(|_| None).collect(),
            kept: Vec::new(),
            next_id: 0,
        }
    }

    fn fresh(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn apply_sub_to_param(&mut self, s: &Sub) {
        match *s {
            Sub::Change(j) => {
                self.params[j].value_mut().mapv_inplace(|v| v + 1.0);
                let m = &mut self.model[j];
                m.value.iter_mut().for_each(|v| *v += 1.0);
                m.version += 1;
            }
            Sub::Freeze(j) | Sub::Unfreeze(j) => {
                let on = matches!(s, Sub::Unfreeze(_));
                if on {
                    self.params[j].unfreeze();
                } else {
                    self.params[j].freeze();
                }
                let m = &mut self.model[j];
                if m.trainable != on {
                    m.trainable = on;
                    m.version += 1;
                }
            }
            Sub::Use(..) => {}
        }
    }

    fn run(&mut self, a: &Action) -> Result<(), TestCaseError> {
        match a {
            Action::NewTape(s, inference) => {
                self.tapes[*s] = Some(if *inference {
                    Tape::inference()
                } else {
                    Tape::new()
                });
                let (tape_id, recording) = (self.fresh(), self.fresh());
                self.model_tapes[*s] = Some(ModelTape {
                    tape_id,
                    recording,
                    inference: *inference,
                    bindings: HashMap::new(),
                    superseded: Vec::new(),
                });
            }
            Action::Drop(s) => {
                self.tapes[*s] = None;
                self.model_tapes[*s] = None;
            }
            Action::Reset(s) => {
                if let Some(t) = self.tapes[*s].as_mut() {
                    t.reset();
                    let recording = self.fresh();
                    let m = self.model_tapes[*s].as_mut().unwrap();
                    m.recording = recording;
                    m.bindings.clear();
                    m.superseded.clear();
                }
            }
            Action::Sub(s) => self.apply_sub_to_param(s),
            Action::OptimizerStep(k) => {
                let Some(kept) = self.kept.get(*k) else {
                    return Ok(());
                };
                let steps: Vec<(usize, Vec<f64>)> = kept
                    .expect
                    .iter()
                    .enumerate()
                    .filter_map(|(j, e)| match e {
                        Expect::Some(g) => Some((j, g.clone())),
                        _ => None,
                    })
                    .collect();
                for (j, g) in steps {
                    let real = self.kept[*k].grads.param(&self.params[j]).unwrap().clone();
                    self.params[j]
                        .value_mut()
                        .zip_mut_with(&real, |w, g| *w -= 0.1 * g);
                    let m = &mut self.model[j];
                    m.value.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.1 * g);
                    m.version += 1;
                }
            }
            Action::Step(s, subs, backward) => self.step(*s, subs, *backward)?,
        }
        // Every kept set of gradients still gives what it gave when it was computed.
        for kept in &self.kept {
            for (j, want) in kept.expect.iter().enumerate() {
                let real = param_answer(&kept.grads, &self.params[j]);
                prop_assert!(
                    same(&real, want),
                    "gradients of recording {} for p{j}: {real:?}, want {want:?}",
                    kept.recording
                );
            }
        }
        Ok(())
    }

    fn step(&mut self, s: usize, subs: &[Sub], backward: bool) -> Result<(), TestCaseError> {
        let Some(tape) = self.tapes[s].take() else {
            return Ok(());
        };
        let mut mt = self.model_tapes[s].take().unwrap();
        let result = self.record(&tape, &mut mt, subs, backward);
        self.tapes[s] = Some(tape);
        self.model_tapes[s] = Some(mt);
        result
    }

    fn record(
        &mut self,
        tape: &Tape<f64>,
        mt: &mut ModelTape,
        subs: &[Sub],
        backward: bool,
    ) -> Result<(), TestCaseError> {
        let mut terms: Vec<Var<'_, f64>> = Vec::new();
        let mut contributions: HashMap<u64, f64> = HashMap::new();
        let mut probe = None;
        for sub in subs {
            let Sub::Use(j, coef, no_grad) = *sub else {
                self.apply_sub_to_param(sub);
                continue;
            };
            let recording_off = no_grad || mt.inference;
            let m = self.model[j].clone();
            let bound = mt
                .bindings
                .get(&j)
                .filter(|(_, version)| *version == m.version)
                .map(|(n, _)| n.clone());
            let node = match bound {
                Some(n) => n,
                None if recording_off => Node {
                    id: 0,
                    trainable: false,
                    value: m.value.clone(),
                },
                None => {
                    let n = Node {
                        id: self.fresh(),
                        trainable: m.trainable,
                        value: m.value.clone(),
                    };
                    if let Some((old, _)) = mt.bindings.insert(j, (n.clone(), m.version)) {
                        mt.superseded.push((j, old));
                    }
                    n
                }
            };
            let p = &self.params[j];
            let term = if no_grad {
                tape.no_grad(|| {
                    let v = tape.param(p);
                    (v * v).sum() * f64::from(coef)
                })
            } else {
                let v = tape.param(p);
                (v * v).sum() * f64::from(coef)
            };
            let read = tape.no_grad(|| values(&tape.param(p).value()));
            prop_assert!(
                close(&read, &node.value),
                "p{j} reads {read:?} on the tape, want {:?}",
                node.value
            );
            if !recording_off && node.trainable {
                *contributions.entry(node.id).or_default() += f64::from(coef);
            }
            probe.get_or_insert(term);
            terms.push(term);
        }
        // Gradients of earlier recordings, and of other tapes, refuse this recording's variables.
        if let Some(v) = probe {
            for kept in &self.kept {
                let refused = catch_unwind(AssertUnwindSafe(|| kept.grads.get(v))).is_err();
                let ours = kept.tape_id == mt.tape_id && kept.recording == mt.recording;
                prop_assert_eq!(
                    refused,
                    !ours,
                    "Gradients::get on recording {}",
                    kept.recording
                );
            }
        }
        if !backward {
            return Ok(());
        }
        let loss = terms
            .into_iter()
            .fold(tape.constant(scalar(0.0)), |acc, t| acc + t);
        let grads = tape.backward(loss);
        let expect = (0..PARAMS)
            .map(|j| {
                let earlier_used = mt
                    .superseded
                    .iter()
                    .any(|(p, n)| *p == j && contributions.contains_key(&n.id));
                if earlier_used {
                    return Expect::Panic;
                }
                match mt.bindings.get(&j) {
                    Some((n, _)) => match contributions.get(&n.id) {
                        Some(c) => Expect::Some(n.value.iter().map(|v| 2.0 * c * v).collect()),
                        None => Expect::None,
                    },
                    None => Expect::None,
                }
            })
            .collect();
        if self.kept.len() == KEPT_GRADIENTS {
            self.kept.remove(0);
        }
        self.kept.push(Kept {
            grads,
            expect,
            tape_id: mt.tape_id,
            recording: mt.recording,
        });
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn bindings_and_gradients_follow_the_naive_model(
        actions in prop::collection::vec(action(), 1..40)
    ) {
        // The expected panics would flood the output.
        std::panic::set_hook(Box::new(|_| {}));
        let mut world = World::new();
        for a in &actions {
            world.run(a)?;
        }
    }
}

/// The program a user ran: after a reset, a parameter bound at an index that now holds
/// another node read that node's value and got no gradient.
#[test]
fn a_parameter_bound_before_a_reset_is_bound_anew_after_it() {
    let w = Param::new("w", scalar(2.0f64));
    let mut tape = Tape::<f64>::new();
    for v in [1.0, 2.0, 3.0] {
        let _ = tape.constant(scalar(v));
    }
    let first = {
        let x = tape.param(&w);
        tape.backward(x * 3.0)
    };
    tape.reset();
    for v in [4.0, 5.0, 6.0, 7.0, 13.0] {
        let _ = tape.constant(scalar(v));
    }
    let x = tape.param(&w);
    assert_eq!(x.item(), 2.0);
    let grads = tape.backward(x * x * 2.5);
    assert_eq!(grads.param(&w).unwrap()[[]], 10.0);
    // The gradients of the first recording still answer for it.
    assert_eq!(first.param(&w).unwrap()[[]], 3.0);
}

#[test]
#[should_panic(expected = "recorded after its tape was reset")]
fn gradients_refuse_a_variable_of_a_later_recording() {
    let mut tape = Tape::<f64>::new();
    let old = {
        let x = tape.var(scalar(1.0));
        tape.backward(x * 2.0)
    };
    tape.reset();
    let y = tape.var(scalar(1.0));
    let _ = old.get(y);
}

#[test]
fn a_parameter_bound_on_two_live_tapes_keeps_both_bindings() {
    let w = Param::new("w", tensor(&[2], vec![1.0f64, -2.0]));
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let wa = a.param(&w);
    let wb = b.param(&w);
    // Binding on `b` did not undo the binding on `a`: the shared weight is one node.
    assert_eq!(a.param(&w), wa);
    let ga = a.backward((wa * 3.0).sum() + (a.param(&w) * 1.0).sum());
    let gb = b.backward((wb * wb).sum());
    assert_eq!(ga.param(&w).unwrap().as_slice().unwrap(), &[4.0, 4.0]);
    assert_eq!(gb.param(&w).unwrap().as_slice().unwrap(), &[2.0, -4.0]);
}

#[test]
#[should_panic(expected = "the output depends on both")]
fn a_graph_that_mixes_two_values_of_one_parameter_has_no_gradient_for_it() {
    let mut w = Param::new("w", scalar(1.0f64));
    let tape = Tape::<f64>::new();
    let before = tape.param(&w);
    *w.value_mut() += 1.0;
    let after = tape.param(&w);
    assert_eq!(after.item(), 2.0);
    let _ = tape.backward(before * after).param(&w);
}
