//! Coursera *Improving Deep Neural Networks*, week 2: optimization methods.
//!
//! The course's "Optimization methods" assignment on its moons data: mini-batch gradient
//! descent, momentum and Adam on a `[2, 5, 2, 1]` network (ReLU, ReLU, sigmoid), and in the
//! 2021 version learning-rate decay.
//!
//! * Data: `np.random.seed(3)` then `sklearn.datasets.make_moons(n_samples=300, noise=.2)`,
//!   reproduced draw for draw by [`sklearn::make_moons`] on a [`NumpyRandomState`].
//! * Weights: `np.random.seed(3)`, then `randn(n_l, n_prev) * sqrt(2 / n_prev)` per layer.
//! * Mini-batches of 64, reshuffled every epoch after `np.random.seed(10 + epoch + 1)`.
//! * Gradients from the tape (`bce_with_logits`, whose gradient is the course's
//!   `dZ3 = (A3 - Y) / m`); the updates are `tapegrad::nn::optim`: [`Sgd::new`] for the course's
//!   `update_parameters_with_gd`, [`Sgd::ewma_momentum`] for its momentum
//!   `v = beta v + (1 - beta) dW`, [`Adam`] with bias correction. The decays are
//!   [`InverseTimeDecay`] (`update_lr`) and [`ScheduledDecay`] (`schedule_lr_decay`,
//!   interval 1000), applied at the end of each epoch as the notebook does.
//!
//! Part A is the 2017 notebook (10000 epochs, lr 0.0007, the printed cost is the *last
//! mini-batch's* mean cost): GD 0.7967, momentum 0.7967, Adam 0.94. Its printed Adam curve
//! (0.185501 at epoch 1000, ...) was made with `eps` inside the square root,
//! `v^ / sqrt(s^ + eps)` ([`Adam::eps_inside_sqrt`]); the lecture's `v^ / (sqrt(s^) + eps)`
//! gives 0.185567, ... Both run. Part B is the 2021 notebook (5000 epochs, the printed cost is
//! the epoch's total cost / m). Part C prints the small formulas of the lectures.
//!
//! Every printed cost line equals the reference numpy run's (`logs/coursera_optimizers.log`).
//! The cost curves and decision boundaries go to `examples-out/`.
//!
//! ```sh
//! cargo run --release --example coursera_optimizers
//! ```

mod coursera;

use std::time::Instant;

use coursera::{
    columns, out_dir, plot_decision_boundary, random_mini_batches, Initialization, Net,
};
use tapegrad::autograd::Tensor;
use tapegrad::books::pyfmt::float_repr;
use tapegrad::books::{sklearn, NumpyRandomState};
use tapegrad::nn::ewma::Ewma;
use tapegrad::nn::history::History;
use tapegrad::nn::optim::{Adam, Optimizer, Sgd};
use tapegrad::nn::schedule::{InverseTimeDecay, Schedule, ScheduledDecay};

/// The network of the assignment.
pub const LAYER_DIMS: [usize; 4] = [2, 5, 2, 1];

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// `update_parameters_with_gd`.
    Gd,
    /// `update_parameters_with_momentum`, beta 0.9.
    Momentum,
    /// `update_parameters_with_adam`, beta1 0.9, beta2 0.999, eps 1e-8; `eps_inside` for the
    /// 2017 notebook's `sqrt(s^ + eps)`.
    Adam {
        /// Whether `eps` goes inside the square root.
        eps_inside: bool,
    },
}

/// Which cost the notebook prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostStyle {
    /// 2017: the mean cost of the epoch's last mini-batch.
    LastBatch,
    /// 2021: the total cost of the epoch divided by the number of examples.
    EpochMean,
}

/// The 2021 notebook's learning-rate decays, with `decay_rate = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decay {
    /// `update_lr`: `lr0 / (1 + epoch)`.
    UpdateLr,
    /// `schedule_lr_decay`: `lr0 / (1 + floor(epoch / 1000))`.
    Scheduled,
}

/// One call of the notebook's `model(...)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSpec {
    /// The update rule.
    pub method: Method,
    /// The (initial) learning rate.
    pub learning_rate: f64,
    /// Passes over the data.
    pub epochs: usize,
    /// Which cost is printed.
    pub style: CostStyle,
    /// The decay, if any.
    pub decay: Option<Decay>,
}

impl RunSpec {
    /// The label printed before the accuracy (the reference log's).
    pub fn label(&self) -> String {
        let method = match self.method {
            Method::Gd => "gd",
            Method::Momentum => "momentum",
            Method::Adam { .. } => "adam",
        };
        match self.style {
            CostStyle::LastBatch => match self.method {
                Method::Adam { eps_inside: true } => {
                    "adam(sqrt(s+eps), as the 2017 notebook)".into()
                }
                Method::Adam { eps_inside: false } => "adam(sqrt(s)+eps, lecture formula)".into(),
                _ => method.into(),
            },
            CostStyle::EpochMean => format!(
                "{method} lr0={} {}",
                // Python's `%g`: no trailing `.0`.
                float_repr(self.learning_rate).trim_end_matches(".0"),
                match self.decay {
                    None => "no-decay",
                    Some(Decay::UpdateLr) => "update_lr",
                    Some(Decay::Scheduled) => "schedule_lr_decay",
                }
            ),
        }
    }

    /// A short label for pictures.
    pub fn short_label(&self) -> String {
        match (self.style, self.method) {
            (CostStyle::LastBatch, Method::Adam { eps_inside: true }) => {
                "adam, eps inside sqrt".into()
            }
            (CostStyle::LastBatch, Method::Adam { eps_inside: false }) => {
                "adam, sqrt(s)+eps".into()
            }
            _ => self.label(),
        }
    }
}

/// What one run printed and learned.
pub struct RunResult {
    /// The spec.
    pub spec: RunSpec,
    /// The "Cost after epoch ..." lines, every 1000 epochs.
    pub cost_lines: Vec<String>,
    /// The printed cost every 100 epochs (the course's plotted curve).
    pub curve: Vec<f64>,
    /// Accuracy on the training set (the course's `predict(train_X, train_Y)`).
    pub accuracy: f64,
    /// The trained network.
    pub net: Net,
    /// Seconds taken.
    pub seconds: f64,
}

/// The course's `load_dataset()`: `np.random.seed(3)`, then `make_moons(300, noise=.2)`,
/// returned as `X` `[2, 300]` and `Y` `[1, 300]`.
pub fn load_dataset() -> (Tensor<f64>, Tensor<f64>) {
    let mut rng = NumpyRandomState::new(3);
    columns(&sklearn::make_moons(300, 0.2, &mut rng))
}

/// The notebook's `model(...)`: trains a fresh He-initialised net and returns what it printed.
pub fn model(x: &Tensor<f64>, y: &Tensor<f64>, spec: RunSpec) -> RunResult {
    let start = Instant::now();
    let mut net = Net::new(
        &LAYER_DIMS,
        Initialization::He,
        &mut NumpyRandomState::new(3),
    );
    let lr0 = spec.learning_rate;
    let mut optimizer: Box<dyn Optimizer<f64>> = match spec.method {
        Method::Gd => Box::new(Sgd::new(lr0)),
        Method::Momentum => Box::new(Sgd::ewma_momentum(lr0, 0.9)),
        Method::Adam { eps_inside } => Box::new(
            Adam::new(lr0)
                .betas(0.9, 0.999)
                .eps(1e-8)
                .eps_inside_sqrt(eps_inside),
        ),
    };
    let schedule: Option<Box<dyn Schedule>> = spec.decay.map(|d| -> Box<dyn Schedule> {
        match d {
            Decay::UpdateLr => Box::new(InverseTimeDecay::new(lr0, 1.0)),
            Decay::Scheduled => Box::new(ScheduledDecay::new(lr0, 1.0, 1000)),
        }
    });
    let m = x.shape()[1] as f64;
    let (mut cost_lines, mut curve) = (Vec::new(), Vec::new());
    let mut seed = 10;
    for epoch in 0..spec.epochs {
        seed += 1;
        let (mut total, mut last) = (0.0, 0.0);
        for (bx, by) in random_mini_batches(x, y, 64, seed) {
            let mean = net.train_step(&bx, &by, &mut optimizer);
            total += mean * bx.shape()[1] as f64;
            last = mean;
        }
        if let Some(s) = &schedule {
            optimizer.set_learning_rate(s.learning_rate(epoch));
        }
        let cost = match spec.style {
            CostStyle::LastBatch => last,
            CostStyle::EpochMean => total / m,
        };
        if epoch % 100 == 0 {
            curve.push(cost);
        }
        if epoch % 1000 == 0 {
            let mut line = format!("    Cost after epoch {epoch}: {cost:.6}");
            if schedule.is_some() {
                line += &format!(
                    "   learning rate after epoch {epoch}: {:.6}",
                    optimizer.learning_rate()
                );
            }
            cost_lines.push(line);
        }
    }
    let accuracy = net.accuracy(x, y);
    RunResult {
        spec,
        cost_lines,
        curve,
        accuracy,
        net,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Part A: the 2017 notebook's four runs.
pub fn part_a_specs(epochs: usize) -> Vec<RunSpec> {
    [
        Method::Gd,
        Method::Momentum,
        Method::Adam { eps_inside: true },
        Method::Adam { eps_inside: false },
    ]
    .into_iter()
    .map(|method| RunSpec {
        method,
        learning_rate: 0.0007,
        epochs,
        style: CostStyle::LastBatch,
        decay: None,
    })
    .collect()
}

/// Part B: the 2021 notebook's seven runs.
pub fn part_b_specs(epochs: usize) -> Vec<RunSpec> {
    let runs = [
        (Method::Gd, 0.0007, None),
        (Method::Momentum, 0.0007, None),
        (Method::Adam { eps_inside: false }, 0.0007, None),
        (Method::Gd, 0.1, Some(Decay::UpdateLr)),
        (Method::Gd, 0.1, Some(Decay::Scheduled)),
        (Method::Momentum, 0.1, Some(Decay::Scheduled)),
        (
            Method::Adam { eps_inside: false },
            0.01,
            Some(Decay::Scheduled),
        ),
    ];
    runs.into_iter()
        .map(|(method, learning_rate, decay)| RunSpec {
            method,
            learning_rate,
            epochs,
            style: CostStyle::EpochMean,
            decay,
        })
        .collect()
}

/// The accuracy line of a run, as the reference log prints it (without the time).
pub fn accuracy_line(r: &RunResult) -> String {
    match r.spec.style {
        CostStyle::LastBatch => format!(
            "  {:<8} Accuracy: {}",
            r.spec.label(),
            float_repr(r.accuracy)
        ),
        CostStyle::EpochMean => {
            format!("  {} Accuracy: {}", r.spec.label(), float_repr(r.accuracy))
        }
    }
}

/// Part C: the lectures' small formulas, as the reference prints them.
pub fn part_c() -> Vec<String> {
    let sched =
        |lr0, epoch, rate, interval| ScheduledDecay::new(lr0, rate, interval).learning_rate(epoch);
    let mut ewma = Ewma::new(0.9);
    for t in 1..=10 {
        ewma.update(t as f64);
    }
    vec![
        "== Part C: small deterministic checks of the seed's formulas ==".into(),
        format!(
            "  schedule_lr_decay(0.5, 10, 0.3, 100) = {}",
            float_repr(sched(0.5, 10, 0.3, 100))
        ),
        format!(
            "  schedule_lr_decay(0.5, 100, 0.3, 100) = {}",
            float_repr(sched(0.5, 100, 0.3, 100))
        ),
        format!(
            "  update_lr(0.5, 2, 1) = {}",
            float_repr(InverseTimeDecay::new(0.5, 1.0).learning_rate(2))
        ),
        format!(
            "  EWMA(theta=0.9) of 1..10: raw v_10 = {:.10}, bias-corrected = {:.10}",
            ewma.value(),
            ewma.corrected()
        ),
    ]
}

/// Plots one part's cost curves (every 100 epochs) to `examples-out/<name>.png`.
fn plot_curves(name: &str, title: &str, runs: &[RunResult]) {
    let mut history = History::new();
    let n = runs.iter().map(|r| r.curve.len()).max().unwrap_or(0);
    for k in 0..n {
        let logs: Vec<(String, f64)> = runs
            .iter()
            .map(|r| {
                let cost = r.curve.get(k).copied().unwrap_or(f64::NAN);
                (r.spec.short_label(), cost)
            })
            .collect();
        history.record(&logs);
    }
    let labels: Vec<String> = runs.iter().map(|r| r.spec.short_label()).collect();
    let names: Vec<&str> = labels.iter().map(String::as_str).collect();
    let path = out_dir().join(format!("{name}.png"));
    match history.plot_series(&path, &names, title) {
        Ok(()) => println!("  wrote {}", path.display()),
        Err(e) => eprintln!("  could not plot {}: {e}", path.display()),
    }
}

/// A file name made of the label's letters and digits.
fn slug(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn run_part(
    header: &str,
    specs: Vec<RunSpec>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    year: &str,
) -> Vec<RunResult> {
    println!("{header}");
    let mut results = Vec::new();
    for spec in specs {
        if spec.style == CostStyle::EpochMean {
            println!("  -- {}", spec.label());
        }
        let r = model(x, y, spec);
        for line in &r.cost_lines {
            println!("{line}");
        }
        println!("{}   ({:.1}s)", accuracy_line(&r), r.seconds);
        let path = out_dir().join(format!(
            "coursera_optimizers_{year}_{}.png",
            slug(&spec.label())
        ));
        let title = format!("{year} {}: accuracy {:.4}", spec.short_label(), r.accuracy);
        match plot_decision_boundary(&path, &title, &r.net, x, y) {
            Ok(()) => println!("  wrote {}", path.display()),
            Err(e) => eprintln!("  could not plot {}: {e}", path.display()),
        }
        results.push(r);
    }
    results
}

fn main() {
    let start = Instant::now();
    let (x, y) = load_dataset();
    let a = run_part(
        "== Part A: 2017 notebook, 10000 epochs, lr 0.0007, cost = last mini-batch ==",
        part_a_specs(10000),
        &x,
        &y,
        "2017",
    );
    plot_curves(
        "coursera_optimizers_2017_costs",
        "2017: cost of the last mini-batch, every 100 epochs",
        &a,
    );
    let b = run_part(
        "== Part B: 2021 notebook, 5000 epochs, cost = epoch total / m ==",
        part_b_specs(5000),
        &x,
        &y,
        "2021",
    );
    plot_curves(
        "coursera_optimizers_2021_costs",
        "2021: epoch cost, every 100 epochs",
        &b,
    );
    for line in part_c() {
        println!("{line}");
    }
    println!("RESULTS");
    for (part, runs) in [("A", &a), ("B", &b)] {
        for r in runs {
            println!(
                "RESULT coursera_optimizers {part}_{} accuracy {}",
                r.spec.label(),
                float_repr(r.accuracy)
            );
        }
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
