//! Vanishing gradients, measured: a deep sigmoid network against a ReLU network with He
//! initialisation (the course's lesson on deep networks).
//!
//! Both networks have ten hidden layers of 64 units and are shown the same batch. After one
//! backward pass, `gradient_stats` prints every parameter's gradient. In the sigmoid network
//! each layer multiplies the gradient by at most 1/4 (the largest slope of the sigmoid), so
//! the first layer's gradient is about a million times smaller than the last one's: those
//! layers barely learn. With ReLU and He initialisation (`std = sqrt(2 / fan_in)`) the
//! gradient keeps its size through every layer. A short training run shows the consequence.
//!
//! ```sh
//! cargo run --release --example gradient_statistics
//! ```

use tapegrad::autograd::{tensor, Reduce, Tape, Tensor};
use tapegrad::books::NumpyRandomState;
use tapegrad::nn::diagnostics::gradient_stats;
use tapegrad::nn::init::Init;
use tapegrad::nn::layer::{Linear, Relu, Sequential, Sigmoid};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::nn::Module;

const FEATURES: usize = 64;
const CLASSES: usize = 10;
const HIDDEN_LAYERS: usize = 10;

/// What the example measured, for the test that runs it.
pub struct Outcome {
    /// Gradient RMS of the first hidden layer's weight divided by that of the last hidden
    /// layer, in the sigmoid network.
    pub sigmoid_first_over_last: f64,
    /// The same for the ReLU network.
    pub relu_first_over_last: f64,
    /// Loss before and after training, per network.
    pub sigmoid_loss: (f64, f64),
    /// The same for the ReLU network.
    pub relu_loss: (f64, f64),
    /// Everything printed.
    pub lines: Vec<String>,
}

/// A batch of Gaussian inputs labelled by a random linear teacher.
fn data(n: usize) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = NumpyRandomState::new(0);
    let x: Vec<f32> = (0..n * FEATURES)
        .map(|_| rng.standard_normal() as f32)
        .collect();
    let teacher: Vec<f32> = (0..FEATURES * CLASSES)
        .map(|_| rng.standard_normal() as f32)
        .collect();
    let labels = (0..n)
        .map(|i| {
            let score = |c: usize| -> f32 {
                (0..FEATURES)
                    .map(|k| x[i * FEATURES + k] * teacher[k * CLASSES + c])
                    .sum()
            };
            (0..CLASSES)
                .max_by(|&a, &b| score(a).total_cmp(&score(b)))
                .expect("ten classes")
        })
        .collect();
    (tensor(&[n, FEATURES], x), labels)
}

fn network(relu: bool) -> Sequential<f32> {
    let mut rng = NumpyRandomState::new(1);
    let init = if relu {
        Init::HeNormal
    } else {
        Init::GlorotUniform
    };
    let mut net = Sequential::new();
    for _ in 0..HIDDEN_LAYERS {
        net = net.add(Linear::with_init(
            FEATURES,
            FEATURES,
            init,
            Some(Init::Zeros),
            &mut rng,
        ));
        net = if relu {
            net.add(Relu)
        } else {
            net.add(Sigmoid)
        };
    }
    net.add(Linear::with_init(
        FEATURES,
        CLASSES,
        Init::GlorotUniform,
        Some(Init::Zeros),
        &mut rng,
    ))
}

/// One step: the loss and the gradients.
fn step(
    net: &Sequential<f32>,
    x: &Tensor<f32>,
    labels: &[usize],
) -> (f64, tapegrad::autograd::Gradients<f32>) {
    let tape = Tape::new();
    let logits = net.forward(tape.constant(x.clone()));
    let loss = logits.softmax_cross_entropy_with_labels(labels, Reduce::Mean);
    (loss.item() as f64, tape.backward(loss))
}

fn study(relu: bool, lines: &mut Vec<String>) -> (f64, (f64, f64)) {
    let (x, labels) = data(256);
    let mut net = network(relu);
    let (first_loss, grads) = step(&net, &x, &labels);
    let report = gradient_stats(&net, &grads);
    lines.push(if relu {
        format!("ReLU network, He initialisation, {HIDDEN_LAYERS} hidden layers:")
    } else {
        format!("sigmoid network, Glorot initialisation, {HIDDEN_LAYERS} hidden layers:")
    });
    lines.extend(report.to_string().lines().map(str::to_owned));
    let weights: Vec<_> = report
        .params
        .iter()
        .filter(|p| p.name.ends_with("weight"))
        .collect();
    // The output layer has other fans; compare the first hidden layer with the last one.
    let ratio = weights[0].rms / weights[HIDDEN_LAYERS - 1].rms;
    lines.push(format!(
        "gradient rms of the first hidden layer / the last hidden layer: {ratio:.3e}"
    ));

    let mut opt = Sgd::new(0.1);
    let mut loss = first_loss;
    for _ in 0..200 {
        let (l, grads) = step(&net, &x, &labels);
        loss = l;
        opt.step(&mut net.params_mut(), &grads);
    }
    lines.push(format!(
        "loss {first_loss:.4} at the start, {loss:.4} after 200 SGD steps (lr 0.1)"
    ));
    lines.push(String::new());
    (ratio, (first_loss, loss))
}

/// Runs both networks and returns what was printed and measured.
pub fn run() -> Outcome {
    let mut lines = Vec::new();
    let (s_ratio, s_loss) = study(false, &mut lines);
    let (r_ratio, r_loss) = study(true, &mut lines);
    Outcome {
        sigmoid_first_over_last: s_ratio,
        relu_first_over_last: r_ratio,
        sigmoid_loss: s_loss,
        relu_loss: r_loss,
        lines,
    }
}

fn main() {
    for line in run().lines {
        println!("{line}");
    }
}
