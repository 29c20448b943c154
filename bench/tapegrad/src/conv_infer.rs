//! `conv_infer`: the `lenet` network with its initial weights evaluated over the 10,000 test
//! images without gradients (inference tapes of 1,000 images). Timed: the pass, the argmax and
//! the checksum included. Metric: accuracy; the sum of all logits goes to stderr.

use crate::common::*;
use crate::lenet::{evaluate, LeNet};

pub fn run() {
    let mnist = mnist();
    let test = mnist.test();
    let labels = labels_of(&test.y);
    let model = LeNet::new();

    let timer = Timer::start();
    let (correct, checksum) = evaluate(&model, &test.x, &labels);
    let secs = timer.stop();

    eprintln!("checksum {checksum:.6}");
    print_result("conv_infer", secs, correct as f64 / labels.len() as f64);
}
