//! `adam_mlp`: one epoch of a 784-256(relu)-128(relu)-10 network, batch 32, softmax
//! cross-entropy, Adam (`lr 1e-3, betas 0.9 0.999, eps 1e-8` outside the root, bias-corrected),
//! on the training images in `permutation(44, 60000)` order (1,875 steps).

use tapegrad::autograd::{zeros, Reduce, Tape};
use tapegrad::nn::layer::{Linear, Relu, Sequential};
use tapegrad::nn::optim::{Adam, Optimizer};
use tapegrad::nn::Module;

use crate::common::*;

const BATCH: usize = 32;

pub fn run() {
    let mnist = mnist();
    let test = mnist.test();
    let (xs, ys) = shuffled_train(&mnist, 44);
    let dense = |seed, fan_in, fan_out| {
        Linear::from_tensors(glorot(seed, fan_in, fan_out), Some(zeros(&[fan_out])))
    };
    let mut model = Sequential::new()
        .add(dense(41, IN, 256))
        .add(Relu)
        .add(dense(42, 256, 128))
        .add(Relu)
        .add(dense(43, 128, CLASSES));
    let mut opt = Adam::new(0.001);
    let mut losses = Losses::default();

    let timer = Timer::start();
    for s in (0..ys.len()).step_by(BATCH) {
        let e = (s + BATCH).min(ys.len());
        let grads = {
            let tape = Tape::new();
            let loss = model
                .forward(tape.constant(rows(&xs, s, e)))
                .softmax_cross_entropy_with_labels(&ys[s..e], Reduce::Mean);
            losses.push(loss.item());
            tape.backward(loss)
        };
        opt.step(&mut model.params_mut(), &grads);
    }
    let secs = timer.stop();

    losses.report();
    let logits = {
        let tape = Tape::inference();
        model.forward(tape.constant(test.x.clone())).value()
    };
    print_result("adam_mlp", secs, accuracy(&logits, &labels_of(&test.y)));
}
