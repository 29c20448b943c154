//! The model-wide gradient check: every op of a recorded model checked against finite
//! differences of its own forward, naming the first wrong one.

use tapegrad_autograd::gradcheck::{check_model, check_tape, NodeCheckOptions, NodeMismatch};
use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{
    tensor, BackwardContext, Conv2dOptions, Op, OpError, Real, Reduce, Tape, Tensor, Var,
};

fn uniform<T: Real>(shape: &[usize], seed: u64, scale: f64) -> Tensor<T> {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    tensor(
        shape,
        (0..n)
            .map(|_| T::lit(scale * (2.0 * rng.next_f64() - 1.0)))
            .collect(),
    )
}

/// `swish(x) = x sigmoid(x)`; the wrong backward forgets the second term of
/// `s + x s (1 - s)`.
struct Swish {
    wrong: bool,
}

impl<T: Real> Op<T> for Swish {
    fn name(&self) -> &str {
        "swish"
    }
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(inputs[0]
            .mapv(|x| x / (T::one() + (-x).exp()))
            .into_shared())
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let wrong = self.wrong;
        let d = ctx.input(0).mapv(|x| {
            let s = T::one() / (T::one() + (-x).exp());
            if wrong {
                s
            } else {
                s + x * s * (T::one() - s)
            }
        });
        vec![Some((ctx.grad_output() * &d).into_shared())]
    }
}

/// A 20-16-16-16-3 network on a batch of 32: matmuls, broadcast bias adds, relu, a custom
/// swish, tanh, dropout and a fused softmax cross-entropy.
fn mlp<T: Real>(tape: &Tape<T>, wrong_swish: bool) -> (Var<'_, T>, usize) {
    let x = tape.constant(uniform(&[32, 20], 1, 1.0));
    let labels: Vec<usize> = (0..32).map(|i| i % 3).collect();
    fn layer<T: Real>(h: Var<'_, T>, n_in: usize, n_out: usize, seed: u64) -> Var<'_, T> {
        let tape = h.tape();
        let w = tape.var(uniform(&[n_in, n_out], seed, (1.0 / n_in as f64).sqrt()));
        let b = tape.var(uniform(&[n_out], seed + 100, 0.1));
        h.matmul(w) + b
    }
    let h = layer(x, 20, 16, 2).relu();
    let line = line!() + 1;
    let h = tape.apply(Swish { wrong: wrong_swish }, &[layer(h, 16, 16, 3)]);
    let h = layer(h, 16, 16, 4)
        .tanh()
        .dropout(0.25, &mut SplitMix64::new(5));
    let loss = layer(h, 16, 3, 6).softmax_cross_entropy_with_labels(&labels, Reduce::Mean);
    (loss, line as usize)
}

#[test]
fn every_op_of_a_correct_model_agrees() {
    let report = check_model(|t| mlp::<f64>(t, false).0, &NodeCheckOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = report.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(
        names,
        [
            "matmul",
            "add",
            "relu",
            "matmul",
            "add",
            "swish",
            "matmul",
            "add",
            "tanh",
            "dropout",
            "matmul",
            "add",
            "softmax_cross_entropy_with_labels"
        ]
    );
    assert!(report.max_relative_difference() < 1e-6, "{report}");
    // Large inputs are sampled: [32, 20] x [20, 16] compares 64 elements of the weight.
    assert_eq!(report.nodes[0].compared, 64);
    let text = report.to_string();
    assert!(text.contains("13 nodes checked, all agree"), "{text}");
}

#[test]
fn a_wrong_custom_backward_inside_a_model_is_named_with_its_line() {
    let mut line = 0;
    let err = check_model(
        |t| {
            let (loss, l) = mlp::<f64>(t, true);
            line = l;
            loss
        },
        &NodeCheckOptions::default(),
    )
    .unwrap_err();
    let node = err.node();
    assert_eq!(node.op, "swish");
    assert_eq!(node.node, 10);
    assert_eq!(node.location.file(), file!());
    assert_eq!(node.location.line() as usize, line);
    assert!(node.relative_difference > 1e-3, "{err}");
    assert!(matches!(
        node.mismatch,
        Some(NodeMismatch::Value { input: 0, .. })
    ));
    // Only the wrong op fails: the ops after it get correct numbers from their own inputs.
    let failed: Vec<usize> = err
        .report
        .nodes
        .iter()
        .filter(|n| !n.passed())
        .map(|n| n.node)
        .collect();
    assert_eq!(failed, [10]);
    let text = err.to_string();
    assert!(
        text.starts_with("the backward of `swish` (node #10, recorded at"),
        "{text}"
    );
    assert!(text.contains("WRONG"), "{text}");
}

#[test]
fn the_tape_still_differentiates_the_same_after_a_check() {
    let tape = Tape::<f64>::new();
    let (loss, _) = mlp(&tape, false);
    let before: Vec<Tensor<f64>> = {
        let g = tape.backward(loss);
        (0..tape.len())
            .filter_map(|i| g.get_index(i).cloned())
            .collect()
    };
    check_tape(&tape, &NodeCheckOptions::default()).unwrap();
    let g = tape.backward(loss);
    let after: Vec<Tensor<f64>> = (0..tape.len())
        .filter_map(|i| g.get_index(i).cloned())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn max_pool_ties_and_relu_zeros_count_as_kinks_not_errors() {
    // A convnet on images that are mostly zero: the zero-bias convolution gives exact zeros
    // (relu's kink) and equal values in a pooling window (ties of the max).
    fn build(tape: &Tape<f64>) -> Var<'_, f64> {
        let mut img = vec![0.0; 2 * 8 * 8];
        for (k, v) in img.iter_mut().enumerate() {
            if k % 7 == 0 {
                *v = (k % 5) as f64 * 0.3 + 0.1;
            }
        }
        let x = tape.constant(tensor(&[2, 1, 8, 8], img));
        let w = tape.var(uniform(&[3, 1, 3, 3], 7, 0.5));
        let b = tape.var(tensor(&[3], vec![0.0; 3]));
        let h = x
            .conv2d(w, Some(b), Conv2dOptions::new().padding(1))
            .relu()
            .max_pool2d((2, 2), (2, 2));
        let w2 = tape.var(uniform(&[48, 2], 8, 0.3));
        h.reshape(&[2, 48]).matmul(w2).square().mean()
    }
    let report = check_model(build, &NodeCheckOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let kinks: usize = report.nodes.iter().map(|n| n.kinks).sum();
    assert!(kinks > 0, "{report}");
}
