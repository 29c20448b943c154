//! Training with nothing but the tape: Grokking ch.6's streetlights network, and a memory check
//! over many steps.

use tapegrad_autograd::random::{NumpyRandomState, SplitMix64};
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

#[test]
fn streetlights_two_layer_net_matches_the_book() {
    // Grokking ch.6, "the first deep network": 3 lights -> hidden 4 (relu) -> walk/stop,
    // alpha 0.2, one sample at a time, weights from np.random.seed(1) as the book draws them.
    let mut rng = NumpyRandomState::new(1);
    let mut draw = |shape: &[usize]| {
        let n = shape.iter().product();
        tensor(
            shape,
            (0..n).map(|_| 2.0 * rng.random_sample() - 1.0).collect(),
        )
    };
    let mut w01 = Param::new("weights_0_1", draw(&[3, 4]));
    let mut w12 = Param::new("weights_1_2", draw(&[4, 1]));
    let lights = [[1., 0., 1.], [0., 1., 1.], [0., 0., 1.], [1., 1., 1.]];
    let walk_vs_stop = [1., 1., 0., 0.];
    let mut printed = Vec::new();
    for iteration in 0..60 {
        let mut layer_2_error = 0.0;
        for (row, goal) in lights.iter().zip(walk_vs_stop) {
            let grads = {
                let tape = Tape::new();
                let layer_0 = tape.constant(tensor(&[1, 3], row.to_vec()));
                let layer_1 = layer_0.matmul(tape.param(&w01)).relu();
                let layer_2 = layer_1.matmul(tape.param(&w12));
                let error = (layer_2 - goal).square().sum();
                layer_2_error += error.item();
                // The book's delta is (prediction - goal): the gradient of half the error.
                tape.backward(error * 0.5)
            };
            sgd(&mut [&mut w01, &mut w12], &grads, 0.2);
        }
        if iteration % 10 == 9 {
            printed.push(layer_2_error);
        }
    }
    let book = [
        0.6342311598444467,
        0.3583840767631751,
        0.08301831133032973,
        0.006467054957103672,
        0.0003292669000750735,
        1.5055622665134864e-05,
    ];
    for (ours, theirs) in printed.iter().zip(book) {
        // Equal up to the last bits of summation order.
        assert!(
            ((ours - theirs) / theirs).abs() < 1e-12,
            "error curve {printed:?} differs from the book's {book:?}"
        );
    }
    assert!(printed[5] < 1e-3);
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
