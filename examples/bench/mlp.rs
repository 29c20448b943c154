//! `mlp`: one epoch of Deep Learning with Python ch.2's 784-512(relu)-10 network, batch 128,
//! softmax cross-entropy, RMSprop (`lr 1e-3, rho 0.9, eps 1e-7` outside the root), on the
//! training images in `permutation(3, 60000)` order.

use tapegrad::autograd::ndarray::{Axis, Slice};
use tapegrad::autograd::{zeros, Reduce, Tape, Tensor};
use tapegrad::datasets::batch::flatten_pixels;
use tapegrad::nn::layer::Linear;
use tapegrad::nn::optim::{Optimizer, RmsProp};
use tapegrad::nn::Module;

use crate::common::*;

const HIDDEN: usize = 512;
const BATCH: usize = 128;

/// `relu(x W1 + b1) W2 + b2`.
pub struct Mlp {
    pub l1: Linear<f32>,
    pub l2: Linear<f32>,
}

impl Mlp {
    pub fn new(hidden: usize) -> Self {
        Mlp {
            l1: Linear::from_tensors(glorot(1, IN, hidden), Some(zeros(&[hidden]))),
            l2: Linear::from_tensors(glorot(2, hidden, CLASSES), Some(zeros(&[CLASSES]))),
        }
    }

    pub fn logits(&self, x: &Tensor<f32>) -> Tensor<f32> {
        let tape = Tape::inference();
        let h = self.l1.forward(tape.constant(x.clone())).relu();
        self.l2.forward(h).value()
    }
}

/// Rows `start..end` of `x`, sharing its buffer.
fn rows(x: &Tensor<f32>, start: usize, end: usize) -> Tensor<f32> {
    let mut v = x.clone();
    v.slice_axis_inplace(Axis(0), Slice::from(start..end));
    v
}

pub fn run() {
    let hidden = env_usize("BENCH_HIDDEN", HIDDEN);
    let batch = env_usize("BENCH_BATCH", BATCH);
    let mnist = mnist();
    let test = mnist.test();
    let perm = permutation(3, mnist.train_labels.len());
    // Shuffled while still bytes, so that only one f32 copy of the images exists.
    let xs = flatten_pixels(mnist.train_images.select(Axis(0), &perm).view(), 255.0);
    let ys: Vec<usize> = perm
        .iter()
        .map(|&i| usize::from(mnist.train_labels[i]))
        .collect();
    let mut model = Mlp::new(hidden);
    let mut opt = RmsProp::new(0.001).rho(0.9).eps(1e-7);
    let n = ys.len();
    let mut loss_sum = 0.0f64;
    let mut steps = 0usize;

    let timer = Timer::start();
    let mut s = 0;
    while s < n {
        let e = (s + batch).min(n);
        let grads = {
            let tape = Tape::new();
            let x = tape.constant(rows(&xs, s, e));
            let h = model.l1.forward(x).relu();
            let loss = model
                .l2
                .forward(h)
                .softmax_cross_entropy_with_labels(&ys[s..e], Reduce::Mean);
            loss_sum += f64::from(loss.item());
            tape.backward(loss)
        };
        let mut params = model.l1.params_mut();
        params.extend(model.l2.params_mut());
        opt.step(&mut params, &grads);
        steps += 1;
        s = e;
    }
    let secs = timer.stop();

    let acc = accuracy(&model.logits(&test.x), &labels_of(&test.y));
    eprintln!("mean train loss {:.4}", loss_sum / steps as f64);
    eprintln!(
        "check W1[0][0] (initial) = {}",
        glorot(1, IN, hidden).as_slice().unwrap()[0]
    );
    print_result("mlp", secs, acc);
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
