//! A Keras-style run on synthetic data: compile, fit with a validation split and early
//! stopping, evaluate, and plot the history.
//!
//! ```sh
//! cargo run -p tapegrad-nn --example keras_style -- [history.png]
//! ```

use tapegrad_nn::autograd::random::{RandomStream, SplitMix64};
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::callback::EarlyStopping;
use tapegrad_nn::layer::{Dense, Dropout, Relu, Sequential, Softmax};
use tapegrad_nn::loss::CategoricalCrossentropy;
use tapegrad_nn::metric::{accuracy_metric, ConfusionMatrix};
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::RmsProp;

/// `n` points around 4 centres in 20 dimensions, with overlap.
fn blobs(n: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let c = rng.below(4) as usize;
        for d in 0..20 {
            let centre = if d % 4 == c { 1.0 } else { 0.0 };
            x.push(centre + 4.0 * (rng.next_f64() as f32 - 0.5));
        }
        y.push(c);
    }
    (tensor(&[n, 20], x), y)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plot = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "history.png".into());
    let (x, y) = blobs(20_000, 1);
    let (test_x, test_y) = blobs(2_000, 2);

    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(20, 64, 0))
            .add(Relu)
            .add(Dropout::new(0.2, 1))
            .add(Dense::new(64, 4, 2))
            .add(Softmax),
    );
    println!("{}", model.module());
    model.compile(
        CategoricalCrossentropy::new(),
        RmsProp::default(),
        vec![accuracy_metric()],
    );
    let history = model.fit(
        &x,
        y,
        FitOptions::new(10, 32)
            .validation_split(0.2)
            .callback(EarlyStopping::new("val_loss", 2).restore_best_weights(true)),
    )?;
    let logs = model.evaluate(&test_x, test_y.clone(), 256)?;
    println!(
        "test loss {:.4}, test accuracy {:.4}",
        logs.get("loss").unwrap_or(f64::NAN),
        logs.get("accuracy").unwrap_or(f64::NAN)
    );
    let mut cm = ConfusionMatrix::new(4);
    cm.update_from_outputs(&model.predict(&test_x, 256)?, &test_y.into());
    println!("{cm}");
    history.plot(&plot)?;
    println!("history plotted to {plot}");
    Ok(())
}
