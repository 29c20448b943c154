//! `mlp`: one epoch of Deep Learning with Python ch.2's 784-512(relu)-10 network, batch 128,
//! softmax cross-entropy, RMSprop (`lr 1e-3, rho 0.9, eps 1e-7` outside the root), on the
//! training images in `permutation(3, 60000)` order.

use tapegrad::autograd::{zeros, Reduce, Tape, Tensor};
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

pub fn run() {
    let hidden = env_usize("BENCH_HIDDEN", HIDDEN);
    let batch = env_usize("BENCH_BATCH", BATCH);
    let mnist = mnist();
    let test = mnist.test();
    let (xs, ys) = shuffled_train(&mnist, 3);
    let mut model = Mlp::new(hidden);
    let mut opt = RmsProp::new(0.001).rho(0.9).eps(1e-7);
    let n = ys.len();
    let mut losses = Losses::default();

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
            losses.push(loss.item());
            tape.backward(loss)
        };
        let mut params = model.l1.params_mut();
        params.extend(model.l2.params_mut());
        opt.step(&mut params, &grads);
        s = e;
    }
    let secs = timer.stop();

    let acc = accuracy(&model.logits(&test.x), &labels_of(&test.y));
    losses.report();
    eprintln!(
        "check W1[0][0] (initial) = {}",
        glorot(1, IN, hidden).as_slice().unwrap()[0]
    );
    print_result("mlp", secs, acc);
}
