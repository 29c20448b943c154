//! Finding what went wrong: a custom op with a wrong backward hidden in a model, found by the
//! model-wide gradient check; a NaN stopped at its source by anomaly detection; and the
//! model's graph drawn with Graphviz. docs/debugging.md walks through the output.
//!
//! ```sh
//! cargo run --example find_a_wrong_op            # prints the reports, writes examples-out/tape.dot
//! dot -Tpng examples-out/tape.dot -o tape.png    # draws the graph (apt-get install graphviz)
//! ```

use tapegrad::autograd::gradcheck::{check_model, NodeCheckOptions};
use tapegrad::autograd::random::SplitMix64;
use tapegrad::autograd::{
    tensor, AnomalyMode, BackwardContext, BackwardError, Op, OpError, Real, Reduce, Tape, Tensor,
    Var,
};
use tapegrad::books::MainError;
use tapegrad::nn::init::Init;
use tapegrad::nn::layer::{Linear, Relu, Sequential};
use tapegrad::nn::Module;

/// The swish activation `x * sigmoid(x)`, written as a custom op. Its derivative is
/// `s + x s (1 - s)` with `s = sigmoid(x)`; the backward below forgets the second term, a
/// typical slip that makes training slower and worse but raises no error.
struct Swish;

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
        let d = ctx.input(0).mapv(|x| T::one() / (T::one() + (-x).exp())); // wrong: s only
        vec![Some((ctx.grad_output() * &d).into_shared())]
    }
}

/// A layer applying [`Swish`].
struct SwishLayer;

impl<T: Real> Module<T> for SwishLayer {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        x.tape().apply(Swish, &[x])
    }
}

/// A 3-layer network with the swish in the middle, in any element type.
fn network<T: Real>() -> Sequential<T> {
    let mut rng = SplitMix64::new(3);
    Sequential::new()
        .add(Linear::with_init(
            8,
            16,
            Init::HeNormal,
            Some(Init::Zeros),
            &mut rng,
        ))
        .add(Relu)
        .add(Linear::with_init(
            16,
            16,
            Init::HeNormal,
            Some(Init::Zeros),
            &mut rng,
        ))
        .add(SwishLayer)
        .add(Linear::with_init(
            16,
            3,
            Init::GlorotUniform,
            Some(Init::Zeros),
            &mut rng,
        ))
}

/// One batch: 16 samples of 8 features, labels 0-2.
fn batch<T: Real>() -> (Tensor<T>, Vec<usize>) {
    let mut rng = SplitMix64::new(7);
    let x = (0..16 * 8)
        .map(|_| T::lit(rng.next_f64() * 2.0 - 1.0))
        .collect();
    (tensor(&[16, 8], x), (0..16).map(|i| i % 3).collect())
}

/// The loss of `net` on the batch, recorded on `tape`.
fn loss<'t, T: Real>(net: &Sequential<T>, tape: &'t Tape<T>) -> Var<'t, T> {
    let (x, labels) = batch::<T>();
    net.forward(tape.constant(x))
        .softmax_cross_entropy_with_labels(&labels, Reduce::Mean)
}

/// What the example printed, and the DOT text of the model's tape.
pub struct Outcome {
    /// The report of the model-wide gradient check.
    pub check: String,
    /// The name and node of the first wrong op.
    pub wrong: (String, usize),
    /// The anomaly report.
    pub anomaly: String,
    /// The tape as a table.
    pub table: String,
    /// The tape in Graphviz DOT.
    pub dot: String,
}

/// Runs the three tools.
pub fn run() -> Outcome {
    // 1. The model-wide gradient check, in f64.
    let net = network::<f64>();
    let err = check_model(|tape| loss(&net, tape), &NodeCheckOptions::default())
        .expect_err("the swish backward is wrong");
    let wrong = (err.node().op.clone(), err.node().node);
    let check = err.to_string();

    // 2. Anomaly detection: the probabilities of a saturated softmax reach 0, and ln(0) = -inf.
    let tape = Tape::<f32>::new();
    tape.set_anomaly_mode(AnomalyMode::Report);
    let logits = tape.var(tensor(&[2, 3], vec![120.0, 0.0, -30.0, 1.0, 2.0, 3.0]));
    let p = logits.softmax(-1);
    let nll = -(p.ln() * tape.constant(tensor(&[2, 3], vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]))).sum();
    let anomaly = match tape.try_backward(nll) {
        Err(BackwardError::Anomaly(a)) => a.to_string(),
        other => panic!("expected an anomaly, got {other:?}"),
    };

    // 3. The tape of the f32 model, as a table and as a graph.
    let net32 = network::<f32>();
    let tape = Tape::<f32>::new();
    let _ = loss(&net32, &tape);
    Outcome {
        check,
        wrong,
        anomaly,
        table: tape.to_string(),
        dot: tape.to_dot(),
    }
}

fn main() -> Result<(), MainError> {
    let out = run();
    println!("== model-wide gradient check ==\n{}\n", out.check);
    println!("== anomaly detection ==\n{}\n", out.anomaly);
    println!("== the tape ==\n{}\n", out.table);
    // The examples' output directory, not the working directory, which may be anywhere.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples-out");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("tape.dot");
    std::fs::write(&path, &out.dot).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "wrote {}; draw it with: dot -Tpng {} -o tape.png",
        path.display(),
        path.display()
    );
    Ok(())
}
