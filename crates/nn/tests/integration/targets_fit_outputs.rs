//! Losses and metrics in `fit` compare each output with its own target, never every output
//! with every target: `[N]` targets for a `[N, 1]` output are that column, and targets that
//! cannot mean anything for the outputs are refused.

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::layer::{Dense, Relu, Sequential, Sigmoid};
use tapegrad_nn::loss::{BinaryCrossentropy, Loss, MeanSquaredError};
use tapegrad_nn::metric::accuracy_metric;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::RmsProp;
use tapegrad_nn::Module;

/// Two features; class 1 where the first exceeds the second (IMDB's shape of problem: one
/// sigmoid output, a flat vector of 0/1 targets).
fn data(n: usize) -> (Tensor<f32>, Vec<f32>) {
    let mut rng = SplitMix64::new(5);
    let x: Vec<f32> = (0..2 * n).map(|_| rng.next_f64() as f32).collect();
    let y = (0..n).map(|i| f32::from(x[2 * i] > x[2 * i + 1])).collect();
    (tensor(&[n, 2], x), y)
}

fn sigmoid_model(loss: impl Loss<f32> + 'static) -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(2, 8, 0))
            .add(Relu)
            .add(Dense::new(8, 1, 1))
            .add(Sigmoid),
    );
    m.compile(loss, RmsProp::new(0.01), vec![accuracy_metric()]);
    m
}

fn bits(m: &Model<f32>) -> Vec<Vec<u32>> {
    m.module()
        .state_dict()
        .iter()
        .map(|(_, t)| t.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn flat_targets_for_one_sigmoid_column_train_exactly_like_the_column() {
    let (x, y) = data(200);
    let options = || FitOptions::new(8, 16).verbosity(0);
    let mut flat = sigmoid_model(BinaryCrossentropy::new());
    let h_flat = flat.fit(&x, tensor(&[200], y.clone()), options()).unwrap();
    let mut column = sigmoid_model(BinaryCrossentropy::new());
    let h_column = column.fit(&x, tensor(&[200, 1], y), options()).unwrap();
    // Broadcast to [N, N], this run reported a loss near 5.5 instead of 0.67, and learned
    // something else.
    assert_eq!(h_flat, h_column);
    assert_eq!(bits(&flat), bits(&column));
    let loss = h_flat.get("loss").unwrap();
    assert!(loss[0] < std::f64::consts::LN_2 + 0.05, "{loss:?}");
    assert!(loss[7] < loss[0], "{loss:?}");
    assert!(h_flat.last("accuracy").unwrap() > 0.9, "{h_flat:?}");
}

#[test]
fn flat_targets_for_one_regression_column_too() {
    let (x, y) = data(64);
    let options = || FitOptions::new(3, 16).verbosity(0);
    let mut flat = sigmoid_model(MeanSquaredError);
    let h_flat = flat.fit(&x, tensor(&[64], y.clone()), options()).unwrap();
    let mut column = sigmoid_model(MeanSquaredError);
    let h_column = column.fit(&x, tensor(&[64, 1], y), options()).unwrap();
    assert_eq!(h_flat, h_column);
    assert_eq!(bits(&flat), bits(&column));
}
