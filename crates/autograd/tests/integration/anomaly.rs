//! Anomaly detection names the first op whose value or gradient is not finite, with the line
//! that recorded it, and stops there: by panicking, or through `try_backward`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tapegrad_autograd::anomaly::AnomalyPhase;
use tapegrad_autograd::{
    tensor, AnomalyMode, BackwardContext, BackwardError, Op, OpError, Tape, Tensor,
};

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast::<&str>().map(|s| s.to_string()).unwrap(),
    }
}

#[test]
fn off_by_default_and_nan_flows_through_silently() {
    let tape = Tape::<f32>::new();
    assert_eq!(tape.anomaly_mode(), AnomalyMode::Off);
    let p = tape.var(tensor(&[2], vec![0.0, -1.0]));
    let loss = p.ln().sum();
    assert!(!loss.item().is_finite());
    let g = tape.backward(loss);
    assert!(g.get(p).is_some());
}

#[test]
fn the_first_non_finite_forward_panics_with_op_line_shapes_and_ranges() {
    let line = line!() + 6;
    let msg = panic_message(|| {
        let tape = Tape::<f32>::with_anomaly_detection();
        let x = tape.var(tensor(&[2, 3], vec![0.5, 1.0, 2.0, 0.75, 4.0, 8.0]));
        let shifted = x - 0.5;
        let _h = shifted * 2.0;
        let logs = shifted.ln();
        let _after = logs * 3.0; // never recorded: the loop stops at ln
    });
    assert!(msg.contains("the forward of `ln` (node #3)"), "{msg}");
    assert!(msg.contains("-inf"), "{msg}");
    assert!(
        msg.contains(&format!("recorded at {}:{line}", file!())),
        "{msg}"
    );
    assert!(
        msg.contains("input 0: shape [2, 3] from node #1 `add_scalar`"),
        "{msg}"
    );
    assert!(
        msg.contains("finite values in [0.000000e0, 7.500000e0]"),
        "{msg}"
    );
    assert!(msg.contains("hint: ln of 0"), "{msg}");
}

#[test]
fn a_backward_anomaly_is_an_error_from_try_backward_and_a_panic_from_backward() {
    fn build(tape: &Tape<f64>) -> tapegrad_autograd::Var<'_, f64> {
        let x = tape.var(tensor(&[3], vec![4.0, 0.0, 1.0]));
        x.sqrt().sum()
    }
    let tape = Tape::<f64>::with_anomaly_detection();
    let loss = build(&tape); // forward is finite: sqrt(0) = 0
    assert_eq!(loss.item(), 3.0);
    let err = tape.try_backward(loss).unwrap_err();
    let BackwardError::Anomaly(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.phase, AnomalyPhase::Backward);
    assert_eq!(a.op, "sqrt");
    assert_eq!(a.node, 1);
    assert_eq!(a.gradient_of_input, Some(0));
    assert_eq!(a.value.pos_inf, 1);
    assert_eq!(a.inputs[0].range, Some((0.0, 4.0)));
    assert!(err.to_string().contains("returned a gradient for input 0"));

    let msg = panic_message(|| {
        let tape = Tape::<f64>::with_anomaly_detection();
        let loss = build(&tape);
        tape.backward(loss);
    });
    assert!(msg.contains("the backward of `sqrt`"), "{msg}");
}

#[test]
fn report_mode_keeps_the_first_forward_anomaly_for_try_backward() {
    let tape = Tape::<f32>::new();
    tape.set_anomaly_mode(AnomalyMode::Report);
    let x = tape.var(tensor(&[2], vec![10.0, 1.0]));
    let e = x.exp().exp(); // the inner exp is finite, the outer overflows
    let loss = (e * 0.0).sum(); // NaN, but the first anomaly stays the outer exp
    let first = tape.anomaly().expect("kept");
    assert_eq!((first.op.as_str(), first.node), ("exp", 2));
    match tape.try_backward(loss) {
        Err(BackwardError::Anomaly(a)) => assert_eq!(*a, first),
        other => panic!("{other:?}"),
    }
    let mut tape = tape;
    tape.reset();
    assert!(tape.anomaly().is_none());
    assert_eq!(tape.anomaly_mode(), AnomalyMode::Report);
}

/// A custom op whose backward divides by its input: infinite where the input is 0.
struct BadBackward;

impl Op<f64> for BadBackward {
    fn name(&self) -> &str {
        "my_op"
    }
    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        Ok(inputs[0].mapv(|x| x * x).into_shared())
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let g = ctx.grad_output() * &ctx.input(0).mapv(|x| 1.0 / x);
        vec![Some(g.into_shared())]
    }
}

#[test]
fn a_custom_op_is_named_by_its_own_name() {
    let tape = Tape::<f64>::with_anomaly_detection();
    let x = tape.var(tensor(&[2], vec![0.0, 1.0]));
    let y = tape.apply(BadBackward, &[x * 1.0]);
    let err = tape.try_backward(y.sum()).unwrap_err().to_string();
    assert!(err.contains("the backward of `my_op` (node #2)"), "{err}");
    assert!(err.contains(file!()), "{err}");
}

#[test]
fn turning_it_off_again_stops_the_checks() {
    let tape = Tape::<f32>::with_anomaly_detection();
    tape.detect_anomaly(false);
    let x = tape.var(tensor(&[1], vec![0.0]));
    let loss = x.ln().sum();
    assert!(tape.try_backward(loss).is_ok());
}
