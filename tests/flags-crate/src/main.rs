//! Trains a small convolutional network for a few steps in `f32` and in `f64` and prints a hash
//! of the bits of every loss and parameter: the same program built with other compiler flags
//! must print the same lines on the same CPU.
//!
//! The network touches every kind of kernel: a convolution (im2col, the short product, col2im),
//! tanh, a product large enough for the packed GEMM (and its gradients, with transposed
//! operands), a bias broadcast and its reduction, sigmoid, a ten-column product (and its
//! transposed gradient), exp, softmax cross-entropy; then a few batch-size-1 steps (the
//! vector-shaped products).

use tapegrad_autograd::kernels::dispatch::level;
use tapegrad_autograd::ndarray::Array2;
use tapegrad_autograd::{tensor, Conv2dOptions, Param, Real, Reduce, Tape, Tensor};

/// Values in `[-scale, scale)` from a fixed linear congruential stream.
fn values<T: Real>(n: usize, seed: u64, scale: f64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            T::lit(((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale)
        })
        .collect()
}

fn random<T: Real>(shape: &[usize], seed: u64, scale: f64) -> Tensor<T> {
    tensor(shape, values(shape.iter().product(), seed, scale))
}

/// FNV-1a over the bits of every element.
fn hash<T: Real>(t: &Tensor<T>) -> u64 {
    t.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        let bits = x.to_f64().expect("a float").to_bits();
        (h ^ bits).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const BATCH: usize = 64;
const SIDE: usize = 10;
const KERNELS: usize = 8;
const HIDDEN: usize = 96;
const CLASSES: usize = 10;

fn train<T: Real>() {
    let conv_out = SIDE - 2;
    let flat = KERNELS * conv_out * conv_out;
    let mut params = [
        Param::new("kernels", random::<T>(&[KERNELS, 1, 3, 3], 1, 0.5)),
        Param::new("w1", random::<T>(&[flat, HIDDEN], 2, 0.08)),
        Param::new("b1", random::<T>(&[HIDDEN], 3, 0.1)),
        Param::new("w2", random::<T>(&[HIDDEN, CLASSES], 4, 0.2)),
    ];
    let images = random::<T>(&[BATCH, 1, SIDE, SIDE], 5, 1.0);
    let labels: Vec<T> = (0..BATCH * CLASSES)
        .map(|i| {
            T::lit(if i % CLASSES == (i / CLASSES * 7) % CLASSES {
                1.0
            } else {
                0.0
            })
        })
        .collect();
    let targets = tensor(&[BATCH, CLASSES], labels);
    let rate = T::lit(0.1);
    for step in 0..4 {
        let (loss, grads) = {
            let tape = Tape::new();
            let [k, w1, b1, w2] = params.each_ref().map(|p| tape.param(p));
            let x = tape.constant(images.clone());
            let h = x.conv2d(k, None, Conv2dOptions::default()).tanh();
            let h = (h.reshape(&[BATCH, flat]).matmul(w1) + b1).sigmoid();
            let out = h.matmul(w2);
            let loss = out.softmax_cross_entropy(tape.constant(targets.clone()), Reduce::Mean)
                + out.exp().mean().mul_scalar(T::lit(1e-3));
            let value = loss.item();
            (value, tape.backward(loss))
        };
        println!(
            "{} step {step}: loss {:016x}",
            T::DTYPE,
            loss.to_f64().unwrap().to_bits()
        );
        for p in &mut params {
            let g = grads
                .param(p)
                .expect("every parameter has a gradient")
                .clone();
            p.value_mut().zip_mut_with(&g, |w, &g| *w -= rate * g);
        }
    }
    // Batch size 1: matrix-vector products and rank-1 weight gradients.
    let [_, w1, b1, w2] = &mut params;
    for step in 0..3 {
        let grads = {
            let tape = Tape::new();
            let x = tape.constant(random::<T>(&[1, flat], 10 + step, 1.0));
            let h = (x.matmul(tape.param(w1)) + tape.param(b1)).tanh();
            let out = h.matmul(tape.param(w2));
            tape.backward(out.square().sum())
        };
        for p in [&mut *w1, &mut *b1, &mut *w2] {
            let g = grads.param(p).expect("a gradient").clone();
            p.value_mut().zip_mut_with(&g, |w, &g| *w -= rate * g);
        }
    }
    for p in &params {
        println!("{} {}: {:016x}", T::DTYPE, p.name(), hash(p.value()));
    }
    // ndarray's own product (`matrixmultiply`, which chooses its kernels at run time too).
    let a = Array2::from_shape_vec((70, 130), values::<T>(70 * 130, 20, 1.0)).expect("70 x 130");
    let b = Array2::from_shape_vec((130, 90), values::<T>(130 * 90, 21, 1.0)).expect("130 x 90");
    let c = a.dot(&b).into_dyn().into_shared();
    println!("{} ndarray product: {:016x}", T::DTYPE, hash(&c));
}

fn main() {
    println!("kernels: {}", level());
    train::<f32>();
    train::<f64>();
}
