//! Stochastic-gradient-descent notes on handwritten digits (Nielsen-style): the notes' own
//! numpy network, 784-128-10, on the tape.
//!
//! As in the notes:
//! * inputs standardised with the training set's single mean and standard deviation (the same
//!   two numbers applied to the test set);
//! * weights `np.random.normal(scale=0.1, ...)`, **no biases**;
//! * ReLU hidden layer, softmax with cross-entropy on the 10 outputs;
//! * **full-batch** gradient descent (despite the notes' title): every step uses all 50,000
//!   training images, learning rate 0.1, 1000 epochs;
//! * the loss printed every 10 epochs (the reference run adds the test accuracy every 100).
//!
//! The notes derive the two weight gradients by hand (`grad_y_pred[range(m), y_true] -= 1`,
//! `grad_hidden[hidden <= 0] = 0`, ...); here the tape does, from the model (an `nn`
//! [`Sequential`] of two bias-free dense layers) and the loss
//! ([`softmax_cross_entropy_with_labels`]).
//!
//! The notes give no numbers and no seed; the reference run seeds `np.random.seed(1)` and this
//! example draws the same weights from [`NumpyRandomState`], in float64 like numpy, so its
//! loss curve is the reference's (`Epoch 0, Loss: 3.199` ... test accuracy 0.957 after 1000
//! epochs). Data: the `mnist.pkl.gz` split, the first 50,000 training images and the 10,000
//! test images, pixels `x / 256` (the standardisation makes the scale irrelevant).
//!
//! ```sh
//! cargo run --release --example nielsen_sgd                  # 1000 epochs
//! cargo run --release --example nielsen_sgd -- --epochs 100
//! ```

use std::error::Error;

use tapegrad::autograd::{tensor, Tape, Tensor};
use tapegrad::books::MainError;
use tapegrad::books::NumpyRandomState;
use tapegrad::datasets::notmnist::numpy_mean_std;
use tapegrad::datasets::Mnist;
use tapegrad::nn::layer::{Linear, Relu, Sequential};
use tapegrad::nn::loss::{softmax_cross_entropy_with_labels, Reduce};
use tapegrad::nn::metric::argmax_rows;
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::nn::Module;

/// Standardised images in float64 and their labels.
pub struct Split {
    /// `(x / 256 - mean) / std`, `[N, 784]`.
    pub x: Tensor<f64>,
    /// Digits 0-9.
    pub labels: Vec<usize>,
}

/// The `mnist.pkl.gz` training (first 50,000) and test sets, standardised like the notes:
/// `mean = np.mean(x_train)`, `std = np.std(x_train)` over all pixels, in float32 as numpy
/// computes them, then `(x - mean) / std` in float32, converted to float64 once.
pub fn load() -> Result<(Split, Split), Box<dyn Error>> {
    let mnist = Mnist::load()?;
    let to_f32 = |images: ndarray::ArrayView3<'_, u8>| -> Vec<f32> {
        images.iter().map(|&p| f32::from(p) / 256.0).collect()
    };
    let train_x = to_f32(mnist.train_images.slice(ndarray::s![..50_000, .., ..]));
    let test_x = to_f32(mnist.test_images.view());
    let (mean, std) = numpy_mean_std(&train_x);
    let standardise = |x: Vec<f32>| -> Tensor<f64> {
        let n = x.len() / 784;
        tensor(
            &[n, 784],
            x.into_iter().map(|v| f64::from((v - mean) / std)).collect(),
        )
    };
    let labels = |l: &ndarray::Array1<u8>, n: usize| -> Vec<usize> {
        l.iter().take(n).map(|&d| usize::from(d)).collect()
    };
    Ok((
        Split {
            x: standardise(train_x),
            labels: labels(&mnist.train_labels, 50_000),
        },
        Split {
            x: standardise(test_x),
            labels: labels(&mnist.test_labels, 10_000),
        },
    ))
}

/// `NeuralNetwork(784, 128, 10)` of the notes: `weights1 = np.random.normal(scale=0.1,
/// size=(784, 128))`, then `weights2` `(128, 10)`, no biases.
pub fn network(rng: &mut NumpyRandomState) -> Sequential<f64> {
    let mut normal = |rows: usize, cols: usize| {
        let w: Vec<f64> = (0..rows * cols)
            .map(|_| 0.1 * rng.standard_normal())
            .collect();
        Linear::from_tensors(tensor(&[rows, cols], w), None)
    };
    let layer1 = normal(784, 128);
    let layer2 = normal(128, 10);
    Sequential::new().add(layer1).add(Relu).add(layer2)
}

/// Fraction of images whose largest output is the right digit (`np.mean(predict(x) == y)`).
pub fn accuracy(net: &Sequential<f64>, data: &Split) -> f64 {
    let tape = Tape::inference();
    let out = net.forward(tape.constant(data.x.clone())).value();
    let right = argmax_rows(&out)
        .iter()
        .zip(&data.labels)
        .filter(|(p, y)| p == y)
        .count();
    right as f64 / data.labels.len() as f64
}

/// One printed line of the training.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean cross-entropy on the training set before this epoch's step.
    pub loss: f64,
    /// Test accuracy, every 100 epochs.
    pub test_acc: Option<f64>,
}

/// The run's numbers.
pub struct Report {
    /// Every printed epoch line.
    pub logged: Vec<Logged>,
    /// Training loss after the last step.
    pub final_loss: f64,
    /// Training accuracy after the last step.
    pub train_acc: f64,
    /// Test accuracy after the last step.
    pub test_acc: f64,
}

/// Trains for `epochs` full-batch steps, printing like the reference run.
pub fn run(train: &Split, test: &Split, epochs: usize, print_every: usize) -> Report {
    let mut rng = NumpyRandomState::new(1);
    let mut net = network(&mut rng);
    let mut opt = Sgd::new(0.1);
    let x = train.x.clone();
    let mut logged = Vec::new();
    for epoch in 0..epochs {
        let (loss, grads) = {
            let tape = Tape::new();
            let y_pred = net.forward(tape.constant(x.clone()));
            let loss = softmax_cross_entropy_with_labels(y_pred, &train.labels, Reduce::Mean);
            (loss.item(), tape.backward(loss))
        };
        if epoch % print_every == 0 {
            let test_acc = (epoch % 100 == 0).then(|| accuracy(&net, test));
            match test_acc {
                Some(a) => println!("Epoch {epoch}, Loss: {loss:.3}  (test acc {a:.4})"),
                None => println!("Epoch {epoch}, Loss: {loss:.3}"),
            }
            logged.push(Logged {
                epoch,
                loss,
                test_acc,
            });
        }
        opt.step(&mut net.params_mut(), &grads);
    }
    let final_loss = {
        let tape = Tape::inference();
        let out = net.forward(tape.constant(x));
        softmax_cross_entropy_with_labels(out, &train.labels, Reduce::Mean).item()
    };
    let train_acc = accuracy(&net, train);
    let test_acc = accuracy(&net, test);
    println!("Final train loss: {final_loss:.4}  train acc: {train_acc:.4}");
    println!("Test Accuracy: {test_acc:.3}");
    Report {
        logged,
        final_loss,
        train_acc,
        test_acc,
    }
}

fn parse_args() -> Result<(usize, usize), String> {
    let (mut epochs, mut print_every) = (1000, 10);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let target = match arg.as_str() {
            "--epochs" => &mut epochs,
            "--print-every" => &mut print_every,
            other => {
                return Err(format!(
                    "unknown argument '{other}'; use --epochs N, --print-every N"
                ))
            }
        };
        let v = args.next().ok_or(format!("{arg} needs a value"))?;
        *target = v
            .parse()
            .map_err(|_| format!("{arg} takes a number, got '{v}'"))?;
    }
    if print_every == 0 {
        return Err("--print-every must be at least 1".into());
    }
    Ok((epochs, print_every))
}

fn main() -> Result<(), MainError> {
    let (epochs, print_every) = parse_args()?;
    let started = std::time::Instant::now();
    let (train, test) = load()?;
    let trained = std::time::Instant::now();
    let r = run(&train, &test, epochs, print_every);
    let per_epoch = trained.elapsed().as_secs_f64() / epochs.max(1) as f64;
    println!(
        "RESULT nielsen_sgd(seed 784-128-10 full-batch GD, {epochs} epochs): train loss {:.4}, train acc {:.4}, test acc {:.4}",
        r.final_loss, r.train_acc, r.test_acc
    );
    println!(
        "WALL {:.1} s ({per_epoch:.3} s/epoch)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
