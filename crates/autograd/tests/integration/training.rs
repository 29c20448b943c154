//! Training with nothing but the tape: memory over many steps, and gradients kept while
//! evaluating. (Grokking ch.6's network with the book's numpy weights, printing the book's
//! errors, is the chapter test `tests/grokking_deterministic.rs`.)

use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{tensor, Param, Tape, Tensor};

fn uniform(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    tensor(shape, (0..n).map(|_| 2.0 * rng.next_f64() - 1.0).collect())
}

fn sgd(params: &mut [&mut Param<f64>], grads: &tapegrad_autograd::Gradients<f64>, lr: f64) {
    for p in params.iter_mut() {
        let g = grads
            .param(p)
            .expect("every parameter gets a gradient")
            .clone();
        p.value_mut().zip_mut_with(&g, |w, g| *w -= lr * g);
    }
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn ten_thousand_training_steps_do_not_grow_memory() {
    let mut w1 = Param::new("w1", uniform(&[64, 32], 3));
    let mut w2 = Param::new("w2", uniform(&[32, 10], 4));
    let x = uniform(&[16, 64], 5);
    let y = uniform(&[16, 10], 6);
    let step = |w1: &mut Param<f64>, w2: &mut Param<f64>| {
        let grads = {
            let tape = Tape::new();
            let h = tape.constant(x.clone()).matmul(tape.param(w1)).tanh();
            let out = h.matmul(tape.param(w2));
            let loss = (out - tape.constant(y.clone())).square().mean();
            tape.backward(loss)
        };
        sgd(&mut [w1, w2], &grads, 0.01);
    };
    for _ in 0..1_000 {
        step(&mut w1, &mut w2);
    }
    let before = rss_bytes();
    for _ in 0..9_000 {
        step(&mut w1, &mut w2);
    }
    let after = rss_bytes();
    // One step's graph is about 20 KiB; 9,000 leaked graphs would be about 180 MiB.
    assert!(
        after < before + 2 * 1024 * 1024,
        "memory grew from {before} to {after} bytes over 9,000 steps"
    );
}

#[test]
fn evaluating_between_backward_and_the_step_keeps_the_gradients() {
    // Printing a test accuracy after backward and before the update is common; the inference
    // tape of the evaluation must not take the parameter's gradient away.
    let w = Param::new("w", tensor(&[2], vec![1.0f64, -2.0]));
    let x = tensor(&[2], vec![3.0, 4.0]);
    let grads = {
        let tape = Tape::new();
        let loss = tape.param(&w).dot(tape.constant(x.clone()));
        tape.backward(loss)
    };
    let eval = Tape::inference();
    let y = eval.param(&w).dot(eval.constant(x.clone()));
    assert_eq!(y.item(), -5.0);
    assert!(!y.requires_grad());
    let training = Tape::new();
    training.no_grad(|| training.param(&w).sum());
    assert_eq!(
        grads.param(&w).map(|g| g.as_slice().unwrap().to_vec()),
        Some(vec![3.0, 4.0])
    );
    // Bound again with recording on, the parameter gets a gradient on the new tape.
    let v = training.param(&w);
    assert!(v.requires_grad());
    let g = training.backward(v.sum());
    assert_eq!(g.param(&w).unwrap().as_slice().unwrap(), &[1.0, 1.0]);
}
