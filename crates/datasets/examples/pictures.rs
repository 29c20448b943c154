//! Saves two pictures of notMNIST: a grid of samples with their letters, and a grid of
//! predictions by a nearest-class-mean classifier (green frame = right, red = wrong).
//!
//! ```text
//! TAPEGRAD_DATA_DIR=/path/to/data cargo run -p tapegrad-datasets --example pictures -- out/
//! ```

use std::path::PathBuf;

use ndarray::{s, Array2, Axis};
use tapegrad_autograd::random::SplitMix64;
use tapegrad_datasets::notmnist::{merge_datasets, LETTERS};
use tapegrad_datasets::picture::{save_grid, save_prediction_grid, GridOptions};
use tapegrad_datasets::NotMnist;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let data = NotMnist::load_small()?;
    let mut rng = SplitMix64::new(133);
    let (test, train) = merge_datasets(&data, 12_700, 5_000, &mut rng)?;
    let test = test.randomize(&mut rng);

    let letters: Vec<String> = test
        .labels
        .iter()
        .map(|&l| LETTERS[l as usize].to_string())
        .collect();
    let opts = GridOptions {
        columns: 10,
        scale: 2,
        invert: true,
    };
    save_grid(
        out.join("notmnist_samples.png"),
        test.images.slice(s![..40, .., ..]),
        &letters[..40],
        &opts,
    )?;

    // Nearest class mean: the simplest classifier there is.
    let flat = |im: &ndarray::Array3<u8>| -> Array2<f32> {
        im.to_shape((im.shape()[0], 784))
            .unwrap()
            .mapv(|p| p as f32 / 255.0)
    };
    let (xtr, xte) = (flat(&train.images), flat(&test.images));
    let mut means = Array2::<f32>::zeros((10, 784));
    for (row, &l) in xtr.outer_iter().zip(train.labels.iter()) {
        let mut m = means.row_mut(l as usize);
        m += &row;
    }
    for (c, mut m) in means.outer_iter_mut().enumerate() {
        m /= train.class_counts()[c] as f32;
    }
    let predicted: Vec<usize> = xte
        .outer_iter()
        .map(|x| {
            let d = (&means - &x.insert_axis(Axis(0)))
                .mapv(|v| v * v)
                .sum_axis(Axis(1));
            (0..10).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap()
        })
        .collect();
    let truth: Vec<usize> = test.labels.iter().map(|&l| l as usize).collect();
    let right = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    println!("nearest class mean: {right} / {} right", truth.len());
    let names: Vec<String> = LETTERS.iter().map(|c| c.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    save_prediction_grid(
        out.join("notmnist_predictions.png"),
        test.images.slice(s![..40, .., ..]),
        &predicted[..40],
        &truth[..40],
        &names,
        &opts,
    )?;
    println!("wrote {}", out.join("notmnist_*.png").display());
    Ok(())
}
