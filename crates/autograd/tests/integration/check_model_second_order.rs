//! The model-wide second-order check: every op's gradient as variables checked against finite
//! differences of its own backward, naming the first op whose second derivative is wrong.

use tapegrad_autograd::gradcheck::{
    check_model, check_model_second_order, NodeCheckOptions, NodeMismatch,
};
use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{
    tensor, BackwardContext, Conv2dOptions, Op, OpError, Reduce, Tape, Tensor, Var, VarContext,
};

fn uniform(shape: &[usize], seed: u64, scale: f64) -> Tensor<f64> {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    tensor(
        shape,
        (0..n)
            .map(|_| scale * (2.0 * rng.next_f64() - 1.0))
            .collect(),
    )
}

/// How [`Cube`]'s `backward_vars` is written.
#[derive(Clone, Copy, PartialEq)]
enum Rule {
    /// `g 3x²` with Var ops: right to every order.
    Right,
    /// `g 3x²` with `3x²` as a constant: the right value, but its derivative in `x` is lost.
    FrozenDerivative,
    /// No `backward_vars` at all.
    None,
}

/// `y = x³`, whose tensor backward is always right.
struct Cube(Rule);

impl Op<f64> for Cube {
    fn name(&self) -> &str {
        "cube"
    }
    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        Ok(inputs[0].mapv(|x| x * x * x).into_shared())
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let d = ctx.input(0).mapv(|x| 3.0 * x * x);
        vec![Some((ctx.grad_output() * &d).into_shared())]
    }
    fn backward_vars<'t>(
        &self,
        ctx: &VarContext<'_, 't, f64>,
    ) -> Option<Vec<Option<Var<'t, f64>>>> {
        let x = ctx.input(0);
        let d = match self.0 {
            Rule::Right => x.square() * 3.0,
            Rule::FrozenDerivative => ctx.constant(x.value().mapv(|x| 3.0 * x * x).into_shared()),
            Rule::None => return None,
        };
        Some(vec![Some(ctx.grad_output() * d)])
    }
}

/// A small convolutional network with the cube as an activation: conv2d (bias, stride,
/// padding), max pooling, tanh, matmul and a softmax cross-entropy; the position of the cube.
fn model(tape: &Tape<f64>, rule: Rule) -> (Var<'_, f64>, usize) {
    let images = tape.constant(uniform(&[2, 1, 6, 6], 1, 1.0));
    let kernels = tape.var(uniform(&[3, 1, 3, 3], 2, 0.5));
    let bias = tape.var(uniform(&[3], 3, 0.1));
    let conv = images.conv2d(
        kernels,
        Some(bias),
        Conv2dOptions::new().padding(1).stride(2),
    );
    let pooled = conv.max_pool2d((2, 2), (1, 1)).tanh();
    let flat = pooled.reshape(&[2, 12]);
    let w = tape.var(uniform(&[12, 4], 4, 0.4));
    let hidden = flat.matmul(w);
    let cubed = tape.apply(Cube(rule), &[hidden]);
    let at = tape.len() - 1;
    let out = tape.var(uniform(&[4, 3], 5, 0.5));
    let logits = cubed.matmul(out);
    let loss = logits.softmax_cross_entropy_with_labels(&[0, 2], Reduce::Mean);
    (loss, at)
}

#[test]
fn a_correct_model_passes_and_every_op_is_checked() {
    let options = NodeCheckOptions::default();
    check_model(|t| model(t, Rule::Right).0, &options).expect("first order");
    let report = check_model_second_order(|t| model(t, Rule::Right).0, &options)
        .unwrap_or_else(|e| panic!("{e}"));
    let ops: Vec<&str> = report.nodes.iter().map(|n| n.op.as_str()).collect();
    for op in ["conv2d", "max_pool2d", "tanh", "matmul", "cube"] {
        assert!(ops.contains(&op), "{op} not checked: {ops:?}");
    }
    assert!(report.nodes.iter().all(|n| n.compared > 0));
    assert_eq!(report.order, 2);
}

#[test]
fn a_wrong_backward_vars_is_reported_at_its_node() {
    let options = NodeCheckOptions::default();
    // Its backward is right: the first-order check cannot see the mistake.
    check_model(|t| model(t, Rule::FrozenDerivative).0, &options).expect("first order");
    let at = model(&Tape::new(), Rule::FrozenDerivative).1;
    let err = check_model_second_order(|t| model(t, Rule::FrozenDerivative).0, &options)
        .expect_err("the cube's gradient is not differentiated correctly");
    let node = err.node();
    assert_eq!((node.op.as_str(), node.node), ("cube", at));
    assert_eq!(node.input_shapes, vec![vec![2, 4]]);
    match node.mismatch.as_ref().unwrap() {
        NodeMismatch::SecondOrder { wrt, .. } => assert_eq!(wrt, "input 0"),
        m => panic!("expected a second-order mismatch, got {m}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("second derivative") && text.contains(&format!("`cube` (node #{at}")),
        "{text}"
    );
    // Every node before the cube passed.
    assert!(err
        .report
        .nodes
        .iter()
        .take_while(|n| n.node < at)
        .all(|n| n.passed()));
}

#[test]
fn an_op_without_backward_vars_is_named() {
    let err = check_model_second_order(|t| model(t, Rule::None).0, &NodeCheckOptions::default())
        .expect_err("the cube cannot be differentiated twice");
    assert_eq!(err.node().op, "cube");
    assert_eq!(
        err.node().mismatch,
        Some(NodeMismatch::NotTwiceDifferentiable)
    );
}
