//! `tiny`: Grokking Deep Learning ch.8's 784-40(relu)-10 network without biases, 10 passes of
//! batch-size-1 SGD (`lr 0.005`) over the first 1,000 training images, loss
//! `0.5 * sum((out - onehot)^2)`, every gradient through the tape.

use tapegrad::autograd::ndarray::{Axis, Slice};
use tapegrad::autograd::{tensor, Param, Tape, Tensor};
use tapegrad::nn::optim::{Optimizer, Sgd};

use crate::common::*;

const N: usize = 1000;
const HIDDEN: usize = 40;
const PASSES: usize = 10;

fn row(x: &Tensor<f32>, i: usize) -> Tensor<f32> {
    let mut v = x.clone();
    v.slice_axis_inplace(Axis(0), Slice::from(i..i + 1));
    v
}

pub fn run() {
    let mnist = mnist();
    let (train, test) = (mnist.train(), mnist.test());
    let images = train
        .x
        .slice_axis(Axis(0), Slice::from(0..N))
        .to_owned()
        .into_shared();
    let labels = train
        .y
        .slice_axis(Axis(0), Slice::from(0..N))
        .to_owned()
        .into_shared();
    drop(train);
    let images: Vec<Tensor<f32>> = (0..N).map(|i| row(&images, i)).collect();
    let labels: Vec<Tensor<f32>> = (0..N).map(|i| row(&labels, i)).collect();
    let mut w01 = Param::new(
        "w01",
        tensor(&[IN, HIDDEN], uniform(11, IN * HIDDEN, -0.1, 0.1)),
    );
    let mut w12 = Param::new(
        "w12",
        tensor(&[HIDDEN, CLASSES], uniform(12, HIDDEN * CLASSES, -0.1, 0.1)),
    );
    let mut opt = Sgd::new(0.005);
    let mut error = 0.0f64;

    let timer = Timer::start();
    for _ in 0..PASSES {
        error = 0.0;
        for (x, y) in images.iter().zip(&labels) {
            let grads = {
                let tape = Tape::new();
                let h = tape.constant(x.clone()).matmul(tape.param(&w01)).relu();
                let out = h.matmul(tape.param(&w12));
                let loss = (out - tape.constant(y.clone())).square().sum() * 0.5;
                error += f64::from(loss.item());
                tape.backward(loss)
            };
            opt.step(&mut [&mut w01, &mut w12], &grads);
        }
    }
    let secs = timer.stop();

    let out = {
        let tape = Tape::inference();
        let x = tape.constant(test.x.clone());
        x.matmul(tape.param(&w01))
            .relu()
            .matmul(tape.param(&w12))
            .value()
    };
    let acc = accuracy(&out, &labels_of(&test.y));
    eprintln!("last-pass train SSE/n {:.4}", 2.0 * error / N as f64);
    print_result("tiny", secs, acc);
}
