//! A user-defined op written through the public trait only, gradchecked; and a deliberately
//! wrong backward that gradcheck must reject, naming the input and the element.

use tapegrad_autograd::gradcheck::{gradcheck, GradcheckError, GradcheckOptions};
use tapegrad_autograd::{tensor, BackwardContext, Op, OpError, Tape, Tensor};

/// `swish(x) = x * sigmoid(x)`; `d/dx = s + x s (1 - s)` with `s = sigmoid(x)`.
struct Swish {
    /// Deliberately wrong backward (drops the second term), to see gradcheck catch it.
    wrong: bool,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Op<f64> for Swish {
    fn name(&self) -> &str {
        "swish"
    }

    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        Ok(inputs[0].mapv(|x| x * sigmoid(x)).into_shared())
    }

    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let wrong = self.wrong;
        let d = ctx.input(0).mapv(|x| {
            let s = sigmoid(x);
            if wrong {
                s
            } else {
                s + x * s * (1.0 - s)
            }
        });
        vec![Some((ctx.grad_output() * &d).into_shared())]
    }
}

fn input() -> Tensor<f64> {
    tensor(&[2, 3], vec![-1.5, -0.3, 0.2, 0.7, 1.1, 2.5])
}

#[test]
fn a_custom_op_records_runs_backward_and_passes_gradcheck() {
    let tape = Tape::<f64>::new();
    let x = tape.var(input());
    let y = tape.apply(Swish { wrong: false }, &[x]);
    assert_eq!(tape.nodes()[1].name, "swish");
    let loss = (y * 2.0).sum();
    let g = tape.backward(loss);
    let expected = 2.0 * (sigmoid(0.7) + 0.7 * sigmoid(0.7) * (1.0 - sigmoid(0.7)));
    assert!((g.get(x).unwrap()[[1, 0]] - expected).abs() < 1e-15);

    let report = gradcheck(
        |v| v[0].tape().apply(Swish { wrong: false }, &[v[0]]),
        &[input()],
        &GradcheckOptions::default(),
    )
    .expect("swish's backward is right");
    assert!(report.relative_difference < 1e-8, "{report}");
    // Composed with built-in ops, too.
    gradcheck(
        |v| (v[0].tape().apply(Swish { wrong: false }, &[v[0]]) * v[1]).sum(),
        &[input(), tensor(&[3], vec![0.5, -1.0, 2.0])],
        &GradcheckOptions::default(),
    )
    .expect("composition is right");
}

#[test]
fn gradcheck_rejects_a_wrong_backward_and_says_where() {
    let err = gradcheck(
        |v| v[0].tape().apply(Swish { wrong: true }, &[v[0]]),
        &[input()],
        &GradcheckOptions::default(),
    )
    .unwrap_err();
    match &err {
        GradcheckError::Mismatch {
            input,
            location,
            analytic,
            numerical,
            relative_difference,
            ..
        } => {
            assert_eq!(*input, 0);
            assert!(location.contains("element [0, 0]"), "{location}");
            assert!((analytic - numerical).abs() > 1e-3);
            assert!(*relative_difference > 1e-3);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let message = err.to_string();
    println!("{message}");
    assert!(
        message.contains("analytic") && message.contains("numerical"),
        "{message}"
    );
}

#[test]
fn a_custom_op_can_reject_its_input() {
    struct NeedsMatrix;
    impl Op<f32> for NeedsMatrix {
        fn name(&self) -> &str {
            "needs_matrix"
        }
        fn forward(&mut self, inputs: &[&Tensor<f32>]) -> Result<Tensor<f32>, OpError> {
            if inputs[0].ndim() != 2 {
                return Err(OpError::new(
                    "needs_matrix",
                    &[inputs[0].shape()],
                    "expected a 2-D input",
                ));
            }
            Ok(inputs[0].clone())
        }
        fn backward(&self, ctx: &BackwardContext<'_, f32>) -> Vec<Option<Tensor<f32>>> {
            vec![Some(ctx.grad_output().clone())]
        }
    }
    let tape = Tape::<f32>::new();
    let x = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
    let err = tape.try_apply(NeedsMatrix, &[x]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "needs_matrix: expected a 2-D input; input shapes [3]"
    );
}
