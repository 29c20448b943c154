//! Per-step cost of Grokking ch.8's 784-40-10 network at batch size 1 (the `tiny` workload's
//! shape, on synthetic inputs): 10,000 SGD steps through the tape.
use std::time::Instant;
use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{tensor, Param, Tape, Tensor};

fn uniform(shape: &[usize], seed: u64, scale: f32) -> Tensor<f32> {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    tensor(
        shape,
        (0..n)
            .map(|_| scale * (2.0 * rng.next_f64() as f32 - 1.0))
            .collect(),
    )
}

fn main() {
    let images: Vec<Tensor<f32>> = (0..1000)
        .map(|i| uniform(&[1, 784], 100 + i, 0.5))
        .collect();
    let labels: Vec<Tensor<f32>> = (0..1000)
        .map(|i| {
            let mut v = vec![0.0; 10];
            v[i % 10] = 1.0;
            tensor(&[1, 10], v)
        })
        .collect();
    for _ in 0..3 {
        let mut w01 = Param::new("w01", uniform(&[784, 40], 11, 0.1));
        let mut w12 = Param::new("w12", uniform(&[40, 10], 12, 0.1));
        let t0 = Instant::now();
        let mut total = 0.0;
        for _ in 0..10 {
            for (x, y) in images.iter().zip(&labels) {
                let grads = {
                    let tape = Tape::new();
                    let h = tape.constant(x.clone()).matmul(tape.param(&w01)).relu();
                    let out = h.matmul(tape.param(&w12));
                    let loss = (out - tape.constant(y.clone())).square().sum() * 0.5;
                    total += loss.item();
                    tape.backward(loss)
                };
                for p in [&mut w01, &mut w12] {
                    let g = grads.param(p).unwrap().clone();
                    p.value_mut().zip_mut_with(&g, |w, g| *w -= 0.005 * g);
                }
            }
        }
        println!("seconds={:.4} loss={total:.3}", t0.elapsed().as_secs_f64());
    }
}
