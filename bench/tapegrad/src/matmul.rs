//! `matmul`: 20 products of two f32 1024x1024 matrices through `Var::matmul` (a fresh output
//! each time), after one warm-up; GFLOP/s.

use tapegrad::autograd::{tensor, Tape, Tensor};

use crate::common::*;

const N: usize = 1024;
const REPS: usize = 20;

fn product(a: &Tensor<f32>, b: &Tensor<f32>) -> Tensor<f32> {
    let tape = Tape::inference();
    tape.constant(a.clone())
        .matmul(tape.constant(b.clone()))
        .value()
}

pub fn run() {
    let a = tensor(&[N, N], uniform(21, N * N, -1.0, 1.0));
    let b = tensor(&[N, N], uniform(22, N * N, -1.0, 1.0));
    eprintln!("check A[0][0] = {}, B[0][0] = {}", a[[0, 0]], b[[0, 0]]);
    let mut check = f64::from(product(&a, &b)[[0, 0]]);
    let timer = Timer::start();
    for _ in 0..REPS {
        let c = product(&a, &b);
        check += f64::from(c[[N - 1, N - 1]]);
    }
    let secs = timer.stop();
    eprintln!("checksum {check:.4}");
    print_result(
        "matmul",
        secs,
        REPS as f64 * 2.0 * (N as f64).powi(3) / secs / 1e9,
    );
}
