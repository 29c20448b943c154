//! The course's fully connected binary classifier, shared by the Coursera examples.
//!
//! The layout is the course's: examples are *columns*, `X` is `[features, m]`, `W_l` is
//! `[n_l, n_(l-1)]`, `b_l` is `[n_l, 1]`, and `Z_l = W_l A_(l-1) + b_l`. Hidden layers use
//! ReLU, the output a sigmoid; the cost is the mean binary cross-entropy. Gradients come from
//! the tape, updates from `tapegrad::nn::optim`.

// Each example uses only some of these.
#![allow(dead_code)]

use std::path::Path;

use plotters::prelude::*;
use tapegrad::autograd::ndarray::Axis;
use tapegrad::autograd::{into_tensor, Param, Reduce, Tape, Tensor, Var};
use tapegrad::books::NumpyRandomState;
use tapegrad::datasets::Dataset;
use tapegrad::nn::init::Init;
use tapegrad::nn::optim::Optimizer;

/// How the weights start (the biases start at zero in every scheme).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initialization {
    /// Every weight 0: `np.zeros((n_l, n_prev))`.
    Zeros,
    /// `np.random.randn(n_l, n_prev) * scale` (the initialization assignment uses 10).
    Random(f64),
    /// He: `np.random.randn(n_l, n_prev) * sqrt(2 / n_prev)`.
    He,
}

/// A stack of ReLU layers ending in one sigmoid unit, parameters `[W1, b1, W2, b2, ...]`.
pub struct Net {
    /// The parameters in the course's order.
    pub params: Vec<Param<f64>>,
}

impl Net {
    /// The course's `initialize_parameters_*(layer_dims)` drawing from `rng` (the course seeds
    /// it with `np.random.seed(3)` first): for each layer `W` then `b`.
    pub fn new(layer_dims: &[usize], init: Initialization, rng: &mut NumpyRandomState) -> Net {
        let mut params = Vec::new();
        for l in 1..layer_dims.len() {
            let shape = [layer_dims[l], layer_dims[l - 1]];
            let w_init = match init {
                Initialization::Zeros => Init::Zeros,
                Initialization::Random(scale) => Init::Normal {
                    mean: 0.0,
                    std: scale,
                },
                Initialization::He => Init::Normal {
                    mean: 0.0,
                    std: (2.0 / layer_dims[l - 1] as f64).sqrt(),
                },
            };
            params.push(Param::new(
                format!("W{l}"),
                w_init.tensor_sampled(&shape, rng),
            ));
            params.push(Param::new(
                format!("b{l}"),
                Init::Zeros.tensor_sampled(&[layer_dims[l], 1], rng),
            ));
        }
        Net { params }
    }

    /// The output layer's pre-activation `Z_L` `[1, m]` for inputs `x` `[features, m]`.
    pub fn logits<'t>(&self, tape: &'t Tape<f64>, x: Var<'t, f64>) -> Var<'t, f64> {
        let layers = self.params.len() / 2;
        let mut a = x;
        for l in 0..layers {
            let w = tape.param(&self.params[2 * l]);
            let b = tape.param(&self.params[2 * l + 1]);
            let z = w.matmul(a) + b;
            if l + 1 == layers {
                return z;
            }
            a = z.relu();
        }
        unreachable!("a net has at least one layer")
    }

    /// The probabilities `A_L = sigmoid(Z_L)` `[1, m]`.
    pub fn probabilities(&self, x: &Tensor<f64>) -> Vec<f64> {
        let tape = Tape::inference();
        let a = self.logits(&tape, tape.constant(x.clone())).sigmoid();
        a.value().iter().copied().collect()
    }

    /// The course's `predict`: the fraction of columns where `A_L > 0.5` equals the label.
    pub fn accuracy(&self, x: &Tensor<f64>, y: &Tensor<f64>) -> f64 {
        let p = self.probabilities(x);
        let right = p
            .iter()
            .zip(y.iter())
            .filter(|&(&p, &y)| (p > 0.5) == (y > 0.5))
            .count();
        right as f64 / p.len() as f64
    }

    /// One forward and backward pass on a mini-batch and one optimizer step. Returns the
    /// batch's mean cross-entropy, computed from the logits (`bce_with_logits`), whose gradient
    /// with respect to `Z_L` is the course's `dZ_L = (A_L - Y) / m`.
    pub fn train_step(
        &mut self,
        x: &Tensor<f64>,
        y: &Tensor<f64>,
        optimizer: &mut impl Optimizer<f64>,
    ) -> f64 {
        let (cost, grads) = {
            let tape = Tape::new();
            let z = self.logits(&tape, tape.constant(x.clone()));
            let cost = z.bce_with_logits(tape.constant(y.clone()), Reduce::Mean);
            (cost.item(), tape.backward(cost))
        };
        let mut params: Vec<&mut Param<f64>> = self.params.iter_mut().collect();
        optimizer.step(&mut params, &grads);
        cost
    }

    /// The mean cross-entropy on `(x, y)`, without training.
    pub fn cost(&self, x: &Tensor<f64>, y: &Tensor<f64>) -> f64 {
        let tape = Tape::inference();
        let z = self.logits(&tape, tape.constant(x.clone()));
        z.bce_with_logits(tape.constant(y.clone()), Reduce::Mean)
            .item()
    }
}

/// A data set in the course's layout: `x` `[features, m]`, `y` `[1, m]`.
pub fn columns(data: &Dataset<f64>) -> (Tensor<f64>, Tensor<f64>) {
    (
        into_tensor(data.x.t().to_owned()),
        into_tensor(data.y.t().to_owned()),
    )
}

/// The course's `random_mini_batches(X, Y, mini_batch_size, seed)`: `np.random.seed(seed)`,
/// one `np.random.permutation(m)` of the columns, then consecutive slices of
/// `mini_batch_size` columns, the last one shorter when `m` is not a multiple.
pub fn random_mini_batches(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    mini_batch_size: usize,
    seed: u32,
) -> Vec<(Tensor<f64>, Tensor<f64>)> {
    let m = x.shape()[1];
    let permutation = NumpyRandomState::new(seed).permutation(m);
    let (sx, sy) = (
        x.select(Axis(1), &permutation),
        y.select(Axis(1), &permutation),
    );
    (0..m)
        .step_by(mini_batch_size)
        .map(|start| {
            let end = (start + mini_batch_size).min(m);
            let cols: Vec<usize> = (start..end).collect();
            (
                into_tensor(sx.select(Axis(1), &cols)),
                into_tensor(sy.select(Axis(1), &cols)),
            )
        })
        .collect()
}

/// The directory the examples write their pictures to (`examples-out/`, created if missing).
pub fn out_dir() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples-out");
    std::fs::create_dir_all(&dir).expect("examples-out/ can be created");
    dir
}

/// The font the pictures are labelled with (the one tapegrad's history plots embed).
static FONT: &[u8] = include_bytes!("../../crates/nn/assets/DejaVuSans-subset.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is embedded and known to parse; failure would only lose the labels.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The course's `plot_decision_boundary`: the plane coloured by the net's prediction, with the
/// points `x` `[2, m]` coloured by their labels, saved as a PNG.
pub fn plot_decision_boundary(
    path: &Path,
    title: &str,
    net: &Net,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let xs: Vec<f64> = x.index_axis(Axis(0), 0).iter().copied().collect();
    let ys: Vec<f64> = x.index_axis(Axis(0), 1).iter().copied().collect();
    let bounds = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min) - 1.0;
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 1.0;
        (lo, hi)
    };
    let ((x0, x1), (y0, y1)) = (bounds(&xs), bounds(&ys));
    let n = 200;
    let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
    let mut grid = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            grid.push(x0 + (j as f64 + 0.5) * dx);
            grid.push(y0 + (i as f64 + 0.5) * dy);
        }
    }
    let grid = into_tensor(
        tapegrad::autograd::ndarray::Array2::from_shape_vec((n * n, 2), grid)?
            .t()
            .to_owned(),
    );
    let p = net.probabilities(&grid);

    let root = BitMapBackend::new(path, (640, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()?;
    let (red_area, blue_area) = (RGBColor(250, 190, 180), RGBColor(180, 200, 245));
    chart.draw_series((0..n * n).map(|k| {
        let (i, j) = (k / n, k % n);
        let (ax, ay) = (x0 + j as f64 * dx, y0 + i as f64 * dy);
        let color = if p[k] > 0.5 { blue_area } else { red_area };
        Rectangle::new([(ax, ay), (ax + dx, ay + dy)], color.filled())
    }))?;
    let (red, blue) = (RGBColor(214, 39, 40), RGBColor(31, 119, 180));
    chart.draw_series(xs.iter().zip(&ys).zip(y.iter()).map(|((&a, &b), &label)| {
        let color = if label > 0.5 { blue } else { red };
        Circle::new((a, b), 3, color.filled())
    }))?;
    root.present()?;
    Ok(())
}
