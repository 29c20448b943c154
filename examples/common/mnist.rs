//! What the Grokking MNIST chapters (8, 9 and 10) share: the book's data, its initialisation,
//! its dropout masks, its backprop rules as tape ops, a batched test evaluation and its way of
//! printing numbers.
//!
//! # The book's backprop, as tape ops
//!
//! The book writes every delta by hand, and three of its rules are not the derivative of its
//! own forward pass:
//!
//! * `relu2deriv(layer_1)` is `layer_1 >= 0`, tested on relu's *output*, which is never
//!   negative: the hidden delta is never masked by the relu ([`BookRelu`]).
//! * Dropout multiplies the forward pass by `mask * 2`, the delta only by `mask`
//!   ([`BookDropout`]).
//! * With tanh, `tanh2deriv(layer_1)` is `1 - layer_1 ** 2` taken *after* dropout scaled
//!   `layer_1` by 2: kept units get `1 - 4 tanh^2` instead of `2 (1 - tanh^2)`
//!   ([`BookTanhDropout`]).
//!
//! Each is an [`Op`] whose backward is the book's rule, so `tape.backward` computes exactly the
//! book's deltas and the printed curves are the book's. [`Derivatives::True`] swaps them for
//! the built-in `relu`, `tanh` and `dropout_with_mask`, whose backward is the true derivative.

use tapegrad::autograd::kernels::elementwise::{map, map_slices, zip_with};
use tapegrad::autograd::kernels::math::tanh_slice;
use tapegrad::autograd::ndarray::{s, Axis};
use tapegrad::autograd::{tensor, BackwardContext, Op, OpError, Param, Tape, Tensor, Var};
use tapegrad::books::pyfmt::float_repr;
use tapegrad::books::NumpyRandomState;
use tapegrad::datasets::batch::{flatten_pixels, one_hot};
use tapegrad::datasets::Mnist;

/// The data of the book's MNIST chapters: the first 1,000 training images and all 10,000 test
/// images as `pixel / 255` in `f64` rows of 784, with one-hot labels.
pub struct BookMnist {
    /// `[1000, 784]`.
    pub images: Tensor<f64>,
    /// `[1000, 10]`.
    pub labels: Tensor<f64>,
    /// `[10000, 784]`.
    pub test_images: Tensor<f64>,
    /// `[10000, 10]`.
    pub test_labels: Tensor<f64>,
}

impl BookMnist {
    /// `images, labels = (x_train[0:1000].reshape(1000, 28*28) / 255, y_train[0:1000])`, and
    /// the whole test set, from MNIST as loaded by [`Mnist::load`].
    pub fn new(mnist: &Mnist) -> Self {
        let n = 1000;
        let labels: Vec<u8> = mnist.train_labels.iter().take(n).copied().collect();
        let test_labels: Vec<u8> = mnist.test_labels.iter().copied().collect();
        BookMnist {
            images: flatten_pixels(mnist.train_images.slice(s![0..n, .., ..]), 255.0),
            labels: one_hot(&labels, 10),
            test_images: flatten_pixels(mnist.test_images.view(), 255.0),
            test_labels: one_hot(&test_labels, 10),
        }
    }

    /// Loads MNIST from `TAPEGRAD_DATA_DIR` (downloading it there if missing).
    ///
    /// # Panics
    /// If MNIST cannot be loaded, with the loader's message, which says what to do.
    pub fn load() -> Self {
        match Mnist::load() {
            Ok(mnist) => Self::new(&mnist),
            Err(e) => panic!("cannot load MNIST: {e}"),
        }
    }
}

/// Rows `start..end` of `x`, as their own tensor.
pub fn rows(x: &Tensor<f64>, start: usize, end: usize) -> Tensor<f64> {
    x.slice_axis(Axis(0), (start..end).into()).to_shared()
}

/// `scale * np.random.random(shape) - shift`: uniform weights drawn in row-major order.
pub fn book_uniform(
    rng: &mut NumpyRandomState,
    shape: &[usize],
    scale: f64,
    shift: f64,
) -> Tensor<f64> {
    let n = shape.iter().product();
    tensor(
        shape,
        (0..n)
            .map(|_| scale * rng.random_sample() - shift)
            .collect(),
    )
}

/// `np.random.randint(2, size=shape)`: a mask of 0s and 1s, one draw per element.
pub fn book_mask(rng: &mut NumpyRandomState, shape: &[usize]) -> Tensor<f64> {
    let n = shape.iter().product();
    tensor(shape, (0..n).map(|_| rng.randint2() as f64).collect())
}

/// Python's `str(x)[0:5]`, the book's way of printing errors.
pub fn str5(x: f64) -> String {
    float_repr(x).chars().take(5).collect()
}

/// Python's `str(count / float(n))`, the book's way of printing accuracies.
pub fn ratio(count: usize, n: usize) -> String {
    float_repr(count as f64 / n as f64)
}

/// How many rows of `scores` have their largest value (the first, on ties, as `np.argmax`)
/// where the one-hot `labels` have their 1.
pub fn count_correct(scores: &Tensor<f64>, labels: &Tensor<f64>) -> usize {
    let argmax = |row: tapegrad::autograd::ndarray::ArrayViewD<'_, f64>| {
        let (mut best, mut best_value) = (0, f64::NEG_INFINITY);
        for (j, &v) in row.iter().enumerate() {
            if v > best_value {
                (best, best_value) = (j, v);
            }
        }
        best
    };
    scores
        .axis_iter(Axis(0))
        .zip(labels.axis_iter(Axis(0)))
        .filter(|(s, l)| argmax(s.view()) == argmax(l.view()))
        .count()
}

/// Which derivatives backward uses for the hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivatives {
    /// The book's hand-written rules ([`BookRelu`], [`BookDropout`], [`BookTanhDropout`]): the
    /// book's numbers.
    Book,
    /// The true derivatives of the forward pass (the built-in ops).
    True,
}

impl Derivatives {
    /// `--true-grad` on the command line selects [`Derivatives::True`].
    pub fn from_args(args: &[String]) -> Self {
        if args.iter().any(|a| a == "--true-grad") {
            Derivatives::True
        } else {
            Derivatives::Book
        }
    }

    /// `relu(x)`, then dropout with a 0/1 `mask` if there is one: `* mask * scale` (the book
    /// doubles the kept units, `scale = 2`).
    pub fn relu_dropout<'t>(
        self,
        x: Var<'t, f64>,
        mask: Option<&Tensor<f64>>,
        scale: f64,
    ) -> Var<'t, f64> {
        let tape = x.tape();
        match (self, mask) {
            (Derivatives::Book, None) => tape.apply(BookRelu, &[x]),
            (Derivatives::Book, Some(m)) => {
                let y = tape.apply(BookRelu, &[x]);
                let mask = m.clone();
                tape.apply(BookDropout { mask, scale }, &[y])
            }
            (Derivatives::True, None) => x.relu(),
            (Derivatives::True, Some(m)) => x.relu().dropout_with_mask((m * scale).into_shared()),
        }
    }

    /// `tanh(x) * mask * 2`.
    pub fn tanh_dropout<'t>(self, x: Var<'t, f64>, mask: &Tensor<f64>) -> Var<'t, f64> {
        match self {
            Derivatives::Book => x.tape().apply(BookTanhDropout { mask: mask.clone() }, &[x]),
            Derivatives::True => x.tanh().dropout_with_mask((mask * 2.0).into_shared()),
        }
    }
}

/// The book's relu: `y = (x >= 0) * x`, and backward passes the gradient through unchanged.
///
/// The book backprops with `relu2deriv(layer_1)`, `layer_1 >= 0`, on relu's output, which is
/// `>= 0` everywhere (a negative input gives `-0.0`, and `-0.0 >= 0`): its derivative is 1 for
/// every unit, active or not.
pub struct BookRelu;

impl Op<f64> for BookRelu {
    fn name(&self) -> &str {
        "book_relu"
    }
    fn forward(&mut self, x: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        Ok(map(x[0], |a| if a >= 0.0 { a } else { 0.0 }))
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        vec![Some(ctx.grad_output().clone())]
    }
}

/// The book's dropout, `layer_1 *= dropout_mask * 2`: forward `y = x * mask * scale`;
/// backward multiplies by the 0/1 mask only (`layer_1_delta *= dropout_mask`), half the true
/// derivative of a kept unit when `scale` is 2.
pub struct BookDropout {
    /// 0s and 1s, shaped like the input.
    pub mask: Tensor<f64>,
    /// What kept units are multiplied by in the forward pass (2 in the book).
    pub scale: f64,
}

impl Op<f64> for BookDropout {
    fn name(&self) -> &str {
        "book_dropout"
    }
    fn forward(&mut self, x: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        let scale = self.scale;
        zip_with(x[0], &self.mask, |a, m| a * (m * scale))
            .filter(|y| y.shape() == x[0].shape())
            .ok_or_else(|| {
                OpError::new(
                    "book_dropout",
                    &[x[0].shape(), self.mask.shape()],
                    "the mask must have the input's shape",
                )
            })
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let g = zip_with(ctx.grad_output(), &self.mask, |g, m| g * m);
        vec![Some(g.expect("shape checked in forward"))]
    }
}

/// The book's tanh followed by its dropout (chapters 9 and 10): forward
/// `y = tanh(x) * mask * 2`; backward `g * (1 - y^2) * mask`, the book's
/// `tanh2deriv(layer_1) * dropout_mask` on the already dropped-out and doubled `layer_1`.
pub struct BookTanhDropout {
    /// 0s and 1s, shaped like the input.
    pub mask: Tensor<f64>,
}

impl Op<f64> for BookTanhDropout {
    fn name(&self) -> &str {
        "book_tanh_dropout"
    }
    fn forward(&mut self, x: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        if x[0].shape() != self.mask.shape() {
            return Err(OpError::new(
                "book_tanh_dropout",
                &[x[0].shape(), self.mask.shape()],
                "the mask must have the input's shape",
            ));
        }
        let mut y = map_slices(x[0], tanh_slice);
        y.zip_mut_with(&self.mask, |t, &m| *t *= m * 2.0);
        Ok(y)
    }
    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let mut g = zip_with(ctx.output(), &self.mask, |y, m| (1.0 - y * y) * m)
            .expect("shape checked in forward");
        g.zip_mut_with(ctx.grad_output(), |d, &g| *d *= g);
        vec![Some(g)]
    }
}

/// Runs `forward` on the test set `chunk` images at a time, each on an inference tape (no
/// graph is kept), and returns the values it computes per chunk in order.
pub fn evaluate<R>(
    images: &Tensor<f64>,
    labels: &Tensor<f64>,
    chunk: usize,
    mut forward: impl FnMut(Var<'_, f64>, &Tensor<f64>) -> R,
) -> Vec<R> {
    let n = images.shape()[0];
    (0..n)
        .step_by(chunk)
        .map(|start| {
            let end = (start + chunk).min(n);
            let tape = Tape::inference();
            let x = tape.constant(rows(images, start, end));
            forward(x, &rows(labels, start, end))
        })
        .collect()
}

/// The test pass of ch.8's `relu(x w01) w12` network, as the book prints it: the summed
/// squared error and the number of images classified right over the whole test set.
pub fn relu_net_test(data: &BookMnist, w01: &Param<f64>, w12: &Param<f64>) -> (f64, usize) {
    let per_chunk = evaluate(&data.test_images, &data.test_labels, 1000, |x, y| {
        let tape = x.tape();
        let layer_2 = x.matmul(tape.param(w01)).relu().matmul(tape.param(w12));
        let test_error = (layer_2 - tape.constant(y.clone())).square().sum();
        (test_error.item(), count_correct(&layer_2.value(), y))
    });
    (
        per_chunk.iter().map(|c| c.0).sum(),
        per_chunk.iter().map(|c| c.1).sum(),
    )
}

/// [`evaluate`] with the chunks spread over rayon's threads, for a test pass that dominates
/// an iteration (ch.10). `forward` must capture values, not `Param`s: each thread records
/// on its own inference tape. The results come back in chunk order, so sums over them do not
/// depend on the thread count.
pub fn evaluate_in_parallel<R: Send>(
    images: &Tensor<f64>,
    labels: &Tensor<f64>,
    chunk: usize,
    forward: impl Fn(Var<'_, f64>, &Tensor<f64>) -> R + Sync,
) -> Vec<R> {
    use rayon::prelude::*;
    let n = images.shape()[0];
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let (start, end) = (c * chunk, ((c + 1) * chunk).min(n));
            let tape = Tape::inference();
            let x = tape.constant(rows(images, start, end));
            forward(x, &rows(labels, start, end))
        })
        .collect()
}

/// The command-line arguments after the program name, checked against what the example
/// accepts: `flags` stand alone, `options` take a value. `--help` (or `-h`) prints `usage` and
/// exits; anything else unknown exits with an error and the usage, so that a misspelt
/// `--book-sign` cannot silently run the default and print a curve that looks like the book's.
pub fn args(usage: &str, flags: &[&str], options: &[&str]) -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "--help" || arg == "-h" {
            println!("{usage}");
            std::process::exit(0);
        } else if flags.contains(&arg) {
            i += 1;
        } else if options.contains(&arg) && i + 1 < args.len() {
            i += 2;
        } else {
            let problem = if options.contains(&arg) {
                format!("{arg} needs a value")
            } else {
                format!("unknown argument '{arg}'")
            };
            eprintln!("{problem}\n\n{usage}");
            std::process::exit(2);
        }
    }
    args
}

/// The value after `--name` on the command line, parsed, or `default`.
///
/// # Panics
/// If the value does not parse, saying which option it was.
pub fn option<V: std::str::FromStr>(args: &[String], name: &str, default: V) -> V {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value, e.g. {name} 3")),
        None => default,
    }
}
