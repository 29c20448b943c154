//! Coursera *Improving Deep Neural Networks*: normalising inputs (week 1), mini-batch size and
//! exponentially weighted averages (week 2).
//!
//! 1. **Input normalisation.** The course's moons (`np.random.seed(3)`, `make_moons(300,
//!    noise=.2)`; a test set of 200 from `np.random.seed(4)`) with the second feature put on
//!    another scale, `x2' = 100 x2 + 300`, like the lecture's `x1` in 1..1000 next to `x2` in
//!    0..1. The mean and standard deviation are fitted on the training set only and the same
//!    numbers are applied to the test set ([`Standardizer`]): the test set is *not* exactly
//!    mean 0, variance 1 afterwards, and must not be. Logistic regression (one sigmoid unit, a
//!    convex cost) is then trained by full-batch gradient descent for 1000 epochs at a sweep of
//!    learning rates, raw and normalised. On the raw inputs the cost is a long narrow valley:
//!    every rate down to 1e-4 overshoots across it and ends above the starting cost `ln 2`
//!    (in the thousands from 0.3 up), and the rates small enough to be stable barely move
//!    along it (cost 0.686 at best, test accuracy 0.5, still 0.672 after 20000 epochs).
//!    Normalised, the valley is round: every rate from 0.1 to 3 reaches cost 0.333 and test
//!    accuracy 0.865-0.87.
//! 2. **Mini-batch size.** The normalised moons trained with plain gradient descent (lr 0.05)
//!    for the same number of epochs with batches of 1 (stochastic), 8, 64 and 300 (full
//!    batch), shuffled as the course does (`np.random.seed(10 + epoch + 1)` then one
//!    permutation): smaller batches make more, noisier updates per epoch.
//! 3. **Exponentially weighted averages.** `v_t = 0.9 v_(t-1) + 0.1 x_t` over `x = 1..10`:
//!    `v_10 = 4.1381059609`, bias-corrected `v_10 / (1 - 0.9^10) = 6.3533993279`.
//!
//! Curves go to `examples-out/`.
//!
//! ```sh
//! cargo run --release --example coursera_input_normalisation_minibatch
//! ```

mod coursera;

use std::time::Instant;

use coursera::{columns, out_dir, random_mini_batches, Initialization, Net};
use tapegrad::autograd::ndarray::Axis;
use tapegrad::autograd::Tensor;
use tapegrad::books::pyfmt::float_repr;
use tapegrad::books::{sklearn, NumpyRandomState};
use tapegrad::datasets::batch::Standardizer;
use tapegrad::datasets::Dataset;
use tapegrad::nn::ewma::Ewma;
use tapegrad::nn::history::History;
use tapegrad::nn::optim::Sgd;

/// The network of the optimization assignment (the mini-batch part).
pub const LAYER_DIMS: [usize; 4] = [2, 5, 2, 1];

/// The learning rates of the sweep.
pub const LEARNING_RATES: [f64; 9] = [3.0, 1.0, 0.3, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6];

/// `x2' = 100 x2 + 300`: the second feature on a scale 100 times larger, far from 0.
fn rescale(data: &Dataset<f64>) -> Dataset<f64> {
    let mut x = data.x.to_owned();
    x.index_axis_mut(Axis(1), 1)
        .mapv_inplace(|v| 100.0 * v + 300.0);
    Dataset::new(x.into_shared(), data.y.clone())
}

/// Moons for training (300, seed 3, as the course) and testing (200, seed 4), rescaled.
pub fn raw_data() -> (Dataset<f64>, Dataset<f64>) {
    let train = sklearn::make_moons(300, 0.2, &mut NumpyRandomState::new(3));
    let test = sklearn::make_moons(200, 0.2, &mut NumpyRandomState::new(4));
    (rescale(&train), rescale(&test))
}

/// Per-feature mean and population standard deviation of `x` `[N, features]`.
pub fn stats(x: &Tensor<f64>) -> Vec<(f64, f64)> {
    let n = x.shape()[0] as f64;
    x.axis_iter(Axis(1))
        .map(|c| {
            let mean = c.sum() / n;
            let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        })
        .collect()
}

/// One run of the learning-rate sweep.
#[derive(Clone, Debug)]
pub struct SweepRun {
    /// The learning rate.
    pub learning_rate: f64,
    /// The training cost after the last epoch (`NaN` or huge when it diverged).
    pub cost: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
}

/// Logistic regression (the net `[2, 1]`: one sigmoid unit, weights starting at 0) trained by
/// full-batch gradient descent: a convex cost, so what changes between raw and normalised
/// inputs is only the shape of its valley.
pub fn train_full_batch(
    train: &Dataset<f64>,
    test: &Dataset<f64>,
    learning_rate: f64,
    epochs: usize,
) -> SweepRun {
    let (x, y) = columns(train);
    let (tx, ty) = columns(test);
    let mut net = Net::new(
        &[2, 1],
        Initialization::Zeros,
        &mut NumpyRandomState::new(3),
    );
    let mut optimizer = Sgd::new(learning_rate);
    for _ in 0..epochs {
        let cost = net.train_step(&x, &y, &mut optimizer);
        if !cost.is_finite() {
            break;
        }
    }
    SweepRun {
        learning_rate,
        cost: net.cost(&x, &y),
        test_accuracy: net.accuracy(&tx, &ty),
    }
}

/// One mini-batch size's run.
pub struct BatchRun {
    /// Examples per mini-batch.
    pub batch_size: usize,
    /// Updates made.
    pub updates: usize,
    /// The full training cost at the end of every epoch.
    pub epoch_costs: Vec<f64>,
    /// Each update's mini-batch cost.
    pub step_costs: Vec<f64>,
    /// Test accuracy at the end.
    pub test_accuracy: f64,
    /// Seconds taken.
    pub seconds: f64,
}

/// Mini-batch gradient descent, batches shuffled as the course's `random_mini_batches`.
pub fn train_mini_batch(
    train: &Dataset<f64>,
    test: &Dataset<f64>,
    batch_size: usize,
    learning_rate: f64,
    epochs: usize,
) -> BatchRun {
    let start = Instant::now();
    let (x, y) = columns(train);
    let (tx, ty) = columns(test);
    let mut net = Net::new(
        &LAYER_DIMS,
        Initialization::He,
        &mut NumpyRandomState::new(3),
    );
    let mut optimizer = Sgd::new(learning_rate);
    let (mut epoch_costs, mut step_costs) = (Vec::new(), Vec::new());
    for epoch in 0..epochs {
        for (bx, by) in random_mini_batches(&x, &y, batch_size, 10 + epoch as u32 + 1) {
            step_costs.push(net.train_step(&bx, &by, &mut optimizer));
        }
        epoch_costs.push(net.cost(&x, &y));
    }
    BatchRun {
        batch_size,
        updates: step_costs.len(),
        epoch_costs,
        step_costs,
        test_accuracy: net.accuracy(&tx, &ty),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// `(t, x_t, v_t, v_t / (1 - beta^t))` for `x = 1..=n`.
pub fn ewma_table(beta: f64, n: usize) -> Vec<(usize, f64, f64, f64)> {
    let mut avg = Ewma::new(beta);
    (1..=n)
        .map(|t| {
            let x = t as f64;
            avg.update(x);
            (t, x, avg.value(), avg.corrected())
        })
        .collect()
}

fn fmt_stats(s: &[(f64, f64)]) -> String {
    s.iter()
        .map(|(m, sd)| format!("mean {m:>9.4} std {sd:>8.4}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn plot(history: &History, names: &[&str], file: &str, title: &str) {
    let path = out_dir().join(file);
    match history.plot_series(&path, names, title) {
        Ok(()) => println!("  wrote {}", path.display()),
        Err(e) => eprintln!("  could not plot {}: {e}", path.display()),
    }
}

fn main() {
    let start = Instant::now();

    println!("== 1. Input normalisation (statistics fitted on the training set only) ==");
    let (train_raw, test_raw) = raw_data();
    let scaler = Standardizer::fit(&train_raw.x);
    let train = Dataset::new(scaler.transform(&train_raw.x), train_raw.y.clone());
    let test = Dataset::new(scaler.transform(&test_raw.x), test_raw.y.clone());
    println!("  raw train        : {}", fmt_stats(&stats(&train_raw.x)));
    println!("  raw test         : {}", fmt_stats(&stats(&test_raw.x)));
    println!(
        "  fitted mu        : {:?}",
        scaler
            .mean
            .iter()
            .map(|&v| float_repr(v))
            .collect::<Vec<_>>()
    );
    println!(
        "  fitted sigma     : {:?}",
        scaler
            .std
            .iter()
            .map(|&v| float_repr(v))
            .collect::<Vec<_>>()
    );
    println!("  normalised train : {}", fmt_stats(&stats(&train.x)));
    println!(
        "  normalised test  : {}   (train's mu and sigma: close to, not exactly, 0 and 1)",
        fmt_stats(&stats(&test.x))
    );
    let epochs = 1000;
    println!(
        "  logistic regression (one sigmoid unit, zero init), full-batch gradient descent, \
         {epochs} epochs:"
    );
    println!(
        "  {:>8} | {:>22} | {:>28}",
        "lr", "raw: cost / test acc", "normalised: cost / test acc"
    );
    let mut best: [Option<SweepRun>; 2] = [None, None];
    for lr in LEARNING_RATES {
        let raw = train_full_batch(&train_raw, &test_raw, lr, epochs);
        let norm = train_full_batch(&train, &test, lr, epochs);
        let cell = |r: &SweepRun| {
            if r.cost.is_finite() {
                format!("{:.4} / {:.3}", r.cost, r.test_accuracy)
            } else {
                "diverged".to_string()
            }
        };
        println!(
            "  {:>8} | {:>22} | {:>28}",
            float_repr(lr),
            cell(&raw),
            cell(&norm)
        );
        for (b, r) in best.iter_mut().zip([raw, norm]) {
            if r.cost.is_finite() && b.as_ref().is_none_or(|b| r.cost < b.cost) {
                *b = Some(r);
            }
        }
    }
    let [raw_best, norm_best] = best.map(|b| b.expect("some learning rate gives a finite cost"));
    let long = train_full_batch(&train_raw, &test_raw, raw_best.learning_rate, 20 * epochs);
    println!(
        "  raw inputs at their best lr {} for {} epochs: cost {:.4}, test accuracy {:.3}",
        float_repr(raw_best.learning_rate),
        20 * epochs,
        long.cost,
        long.test_accuracy
    );
    for (name, b) in [("raw", &raw_best), ("normalised", &norm_best)] {
        println!(
            "RESULT coursera_normalisation {name} best lr {} cost {:.4} test_accuracy {}",
            float_repr(b.learning_rate),
            b.cost,
            float_repr(b.test_accuracy)
        );
    }

    println!("== 2. Mini-batch size (normalised moons, gradient descent lr 0.05, 200 epochs) ==");
    let mut curves = History::new();
    let runs: Vec<BatchRun> = [1, 8, 64, 300]
        .into_iter()
        .map(|b| train_mini_batch(&train, &test, b, 0.05, 200))
        .collect();
    println!(
        "  {:>10} {:>8} {:>10} {:>10} {:>10} {:>8}",
        "batch", "updates", "cost@10", "cost@200", "test acc", "time"
    );
    for r in &runs {
        println!(
            "  {:>10} {:>8} {:>10.4} {:>10.4} {:>10.3} {:>7.2}s",
            r.batch_size,
            r.updates,
            r.epoch_costs[9],
            r.epoch_costs[r.epoch_costs.len() - 1],
            r.test_accuracy,
            r.seconds
        );
        println!(
            "RESULT coursera_minibatch batch {} cost {:.4} test_accuracy {}",
            r.batch_size,
            r.epoch_costs[r.epoch_costs.len() - 1],
            float_repr(r.test_accuracy)
        );
    }
    let names: Vec<String> = runs
        .iter()
        .map(|r| format!("batch {}", r.batch_size))
        .collect();
    for e in 0..runs[0].epoch_costs.len() {
        let logs: Vec<(String, f64)> = names
            .iter()
            .zip(&runs)
            .map(|(n, r)| (n.clone(), r.epoch_costs[e]))
            .collect();
        curves.record(&logs);
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    plot(
        &curves,
        &name_refs,
        "coursera_minibatch_epoch_costs.png",
        "training cost after each epoch, by mini-batch size",
    );
    // The per-update costs of batches of 8 are noisy; the bias-corrected average follows them.
    let noisy = &runs[1];
    let mut smooth = Ewma::new(0.98);
    let mut steps = History::new();
    for &c in noisy.step_costs.iter().take(1500) {
        smooth.update(c);
        steps.record(&[
            ("mini-batch cost".into(), c),
            ("EWMA 0.98, bias-corrected".into(), smooth.corrected()),
        ]);
    }
    plot(
        &steps,
        &["mini-batch cost", "EWMA 0.98, bias-corrected"],
        "coursera_minibatch_step_costs.png",
        "cost of each update (batches of 8), first 1500 updates",
    );

    println!("== 3. Exponentially weighted average, beta 0.9, x = 1..10 ==");
    println!("  {:>3} {:>4} {:>14} {:>14}", "t", "x", "v_t", "corrected");
    let table = ewma_table(0.9, 10);
    for &(t, x, v, c) in &table {
        println!("  {t:>3} {x:>4} {v:>14.10} {c:>14.10}");
    }
    let (_, _, v, c) = table[table.len() - 1];
    println!("RESULT coursera_ewma raw {v:.10} corrected {c:.10}");
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
