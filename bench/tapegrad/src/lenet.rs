//! `lenet`: a LeNet-style convolutional network on MNIST, one epoch of SGD with momentum.
//!
//! `conv 1->6 5x5 pad 2, relu, max-pool 2, conv 6->16 5x5, relu, max-pool 2, dense 400-120-84-10`
//! (relu between the dense layers), softmax cross-entropy, batch 64 on the training images in
//! `permutation(36, 60000)` order (938 steps, the last one of 32), PyTorch's momentum
//! (`v = 0.9 v + g; w -= 0.01 v`). Timed: the epoch. Metric: test accuracy.

use tapegrad::autograd::{zeros, Conv2dOptions, Param, Reduce, Tape, Tensor, Var};
use tapegrad::nn::layer::Linear;
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::nn::Module;

use crate::common::*;

const BATCH: usize = 64;
/// Images per test batch, for the accuracy and for `conv_infer`.
pub const TEST_BATCH: usize = 1000;

/// The network, its weights from the benchmark's seeds 31 to 35 and its biases zero.
pub struct LeNet {
    conv1: Param<f32>,
    conv1_bias: Param<f32>,
    conv2: Param<f32>,
    conv2_bias: Param<f32>,
    fc1: Linear<f32>,
    fc2: Linear<f32>,
    fc3: Linear<f32>,
}

impl LeNet {
    pub fn new() -> Self {
        let dense = |seed, fan_in, fan_out| {
            Linear::from_tensors(glorot(seed, fan_in, fan_out), Some(zeros(&[fan_out])))
        };
        LeNet {
            conv1: Param::new("conv1", conv_glorot(31, 6, 1, 5)),
            conv1_bias: Param::new("conv1_bias", zeros(&[6])),
            conv2: Param::new("conv2", conv_glorot(32, 16, 6, 5)),
            conv2_bias: Param::new("conv2_bias", zeros(&[16])),
            fc1: dense(33, 400, 120),
            fc2: dense(34, 120, 84),
            fc3: dense(35, 84, CLASSES),
        }
    }

    /// The logits of `images` (`[n, 784]`, pixels `p / 255`).
    pub fn logits<'t>(&self, tape: &'t Tape<f32>, images: Tensor<f32>) -> Var<'t, f32> {
        let n = images.shape()[0];
        let x = images
            .into_shape_with_order(vec![n, 1, 28, 28])
            .expect("rows of 784 pixels");
        let pool = |v: Var<'t, f32>| v.relu().max_pool2d((2, 2), (2, 2));
        let h = tape.constant(x).conv2d(
            tape.param(&self.conv1),
            Some(tape.param(&self.conv1_bias)),
            Conv2dOptions::new().padding(2),
        );
        let h = pool(h).conv2d(
            tape.param(&self.conv2),
            Some(tape.param(&self.conv2_bias)),
            Conv2dOptions::new(),
        );
        let h = pool(h).reshape(&[n, 400]);
        let h = self.fc1.forward(h).relu();
        let h = self.fc2.forward(h).relu();
        self.fc3.forward(h)
    }

    pub fn params_mut(&mut self) -> Vec<&mut Param<f32>> {
        let mut params = vec![
            &mut self.conv1,
            &mut self.conv1_bias,
            &mut self.conv2,
            &mut self.conv2_bias,
        ];
        params.extend(self.fc1.params_mut());
        params.extend(self.fc2.params_mut());
        params.extend(self.fc3.params_mut());
        params
    }
}

/// The number of test images `model` classifies right, and the sum of all their logits (in
/// f64), through inference tapes of [`TEST_BATCH`] images.
pub fn evaluate(model: &LeNet, x: &Tensor<f32>, labels: &[usize]) -> (usize, f64) {
    let (mut correct, mut checksum) = (0, 0.0);
    for s in (0..labels.len()).step_by(TEST_BATCH) {
        let e = (s + TEST_BATCH).min(labels.len());
        let tape = Tape::inference();
        let logits = model.logits(&tape, rows(x, s, e)).value();
        correct += (accuracy(&logits, &labels[s..e]) * (e - s) as f64).round() as usize;
        checksum += logits.iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    (correct, checksum)
}

pub fn run() {
    let mnist = mnist();
    let test = mnist.test();
    let (xs, ys) = shuffled_train(&mnist, 36);
    let mut model = LeNet::new();
    let mut opt = Sgd::momentum(0.01, 0.9);
    let mut losses = Losses::default();

    let timer = Timer::start();
    for s in (0..ys.len()).step_by(BATCH) {
        let e = (s + BATCH).min(ys.len());
        let grads = {
            let tape = Tape::new();
            let loss = model
                .logits(&tape, rows(&xs, s, e))
                .softmax_cross_entropy_with_labels(&ys[s..e], Reduce::Mean);
            losses.push(loss.item());
            tape.backward(loss)
        };
        opt.step(&mut model.params_mut(), &grads);
    }
    let secs = timer.stop();

    losses.report();
    let labels = labels_of(&test.y);
    let (correct, _) = evaluate(&model, &test.x, &labels);
    print_result("lenet", secs, correct as f64 / labels.len() as f64);
}
