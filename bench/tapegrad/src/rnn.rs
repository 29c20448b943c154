//! `rnn`: a vanilla RNN cell written with tape ops, `h = tanh(x_t W + h U + b)` from `h = 0`,
//! reading each image row by row (28 steps of 28 pixels), hidden 128, a dense readout of the
//! last state, softmax cross-entropy, plain SGD (`lr 0.05`), batch 64: the first 400 batches of
//! the training images in `permutation(54, 60000)` order. Timed: the 400 steps. Metric: test
//! accuracy.

use tapegrad::autograd::ndarray::{s, Ix3};
use tapegrad::autograd::{zeros, Param, Reduce, Tape, Tensor, Var};
use tapegrad::nn::optim::{Optimizer, Sgd};

use crate::common::*;

const HIDDEN: usize = 128;
const SIDE: usize = 28;
const BATCH: usize = 64;
const STEPS: usize = 400;

struct Rnn {
    w: Param<f32>,
    u: Param<f32>,
    b: Param<f32>,
    readout: Param<f32>,
    readout_bias: Param<f32>,
}

impl Rnn {
    fn new() -> Self {
        Rnn {
            w: Param::new("w", glorot(51, SIDE, HIDDEN)),
            u: Param::new("u", glorot(52, HIDDEN, HIDDEN)),
            b: Param::new("b", zeros(&[HIDDEN])),
            readout: Param::new("readout", glorot(53, HIDDEN, CLASSES)),
            readout_bias: Param::new("readout_bias", zeros(&[CLASSES])),
        }
    }

    /// The logits of `images` (`[n, 784]`), read one row of 28 pixels per time step.
    fn logits<'t>(&self, tape: &'t Tape<f32>, images: &Tensor<f32>) -> Var<'t, f32> {
        let n = images.shape()[0];
        let images = images
            .view()
            .into_shape_with_order((n, SIDE, SIDE))
            .expect("rows of 784 pixels")
            .into_dimensionality::<Ix3>()
            .expect("rank 3");
        let (w, u, b) = (
            tape.param(&self.w),
            tape.param(&self.u),
            tape.param(&self.b),
        );
        let mut h = tape.constant(zeros(&[n, HIDDEN]));
        for t in 0..SIDE {
            let x_t = images
                .slice(s![.., t, ..])
                .to_owned()
                .into_dyn()
                .into_shared();
            h = (tape.constant(x_t).matmul(w) + h.matmul(u) + b).tanh();
        }
        h.matmul(tape.param(&self.readout)) + tape.param(&self.readout_bias)
    }

    fn params_mut(&mut self) -> Vec<&mut Param<f32>> {
        vec![
            &mut self.w,
            &mut self.u,
            &mut self.b,
            &mut self.readout,
            &mut self.readout_bias,
        ]
    }
}

pub fn run() {
    let mnist = mnist();
    let test = mnist.test();
    let (xs, ys) = shuffled_train(&mnist, 54);
    let mut model = Rnn::new();
    let mut opt = Sgd::new(0.05);
    let mut losses = Losses::default();

    let timer = Timer::start();
    for step in 0..STEPS {
        let (s, e) = (step * BATCH, (step + 1) * BATCH);
        let grads = {
            let tape = Tape::new();
            let loss = model
                .logits(&tape, &rows(&xs, s, e))
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
        model.logits(&tape, &test.x).value()
    };
    print_result("rnn", secs, accuracy(&logits, &labels_of(&test.y)));
}
