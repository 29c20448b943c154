//! Nielsen, *Neural Networks and Deep Learning*, chapter 1: `network.py` on MNIST, and the
//! average-darkness baseline it has to beat.
//!
//! * `Network([784, 30, 10])`: sigmoid neurons in both layers, weights and biases drawn from
//!   `N(0, 1)`;
//! * the quadratic cost `C = 1/2n sum_x ||y(x) - a||^2`;
//! * `SGD(training_data, 30, 10, 3.0, test_data=test_data)`: each epoch shuffles the 50,000
//!   training images, cuts them into mini-batches of 10 and moves every weight by
//!   `-(eta / m) * sum of the mini-batch's gradients`, then counts the test images classified
//!   right: `Epoch 0: 9129 / 10000` in the book, about 95.42 % at best.
//!
//! The book's `backprop` derives the gradients by hand; here the mini-batch is one `[10, 784]`
//! matrix, the network an `nn` [`Sequential`] of two dense layers and sigmoids, and the tape
//! computes the gradient of the mini-batch's cost. `update_mini_batch`'s step is an [`Sgd`]
//! step.
//!
//! The data is the book's `mnist.pkl.gz` split of MNIST: the first 50,000 training images
//! train, the 10,000 test images test, pixels `x / 256`.
//!
//! The book seeds nothing. This example draws the initial weights from numpy's stream after
//! `np.random.seed(1)` ([`NumpyRandomState`]) and shuffles with Python's `random` after
//! `random.seed(1)` ([`PythonRandom`] below), as the reference run of `network.py` does
//! (`Epoch 0: 8285 / 10000`, best 9555 at epoch 28), so its curve starts from the same weights
//! and sees the mini-batches in the same order.
//!
//! The average-darkness baseline guesses the digit whose average training image darkness is
//! closest to the test image's: 2225 of 10,000 right (exactly, as in the book).
//!
//! ```sh
//! cargo run --release --example nielsen_network                 # 30 epochs
//! cargo run --release --example nielsen_network -- --epochs 3 --hidden 100
//! ```

use std::error::Error;

use tapegrad::autograd::{tensor, Tape, Tensor};
use tapegrad::books::MainError;
use tapegrad::books::{NumpyRandomState, NumpyState};
use tapegrad::datasets::batch::one_hot;
use tapegrad::datasets::Mnist;
use tapegrad::nn::layer::{Linear, Sequential, Sigmoid};
use tapegrad::nn::loss::sum_squared_error;
use tapegrad::nn::metric::argmax_rows;
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::nn::Module;

/// Python's `random` module: MT19937 seeded with `init_by_array`, as `random.seed(n)` does,
/// and `shuffle` with `getrandbits`-based rejection sampling (Python 3.2 and later).
pub struct PythonRandom {
    mt: NumpyRandomState,
}

impl PythonRandom {
    /// `random.seed(seed)` for a seed below 2^32.
    pub fn new(seed: u32) -> Self {
        const N: usize = 624;
        let mut mt = NumpyRandomState::new(19_650_218).state().key;
        let key = [seed];
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        let mut state = NumpyRandomState::new(0);
        state.set_state(&NumpyState {
            key: mt,
            pos: N,
            cached_gaussian: None,
        });
        PythonRandom { mt: state }
    }

    /// `random.getrandbits(k)` for `1 <= k <= 32`.
    pub fn getrandbits(&mut self, k: u32) -> u32 {
        self.mt.next_u32() >> (32 - k)
    }

    /// `random._randbelow(n)`: `getrandbits(n.bit_length())` until below `n`.
    fn randbelow(&mut self, n: u32) -> u32 {
        let k = 32 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `random.shuffle(x)`.
    pub fn shuffle<X>(&mut self, x: &mut [X]) {
        for i in (1..x.len()).rev() {
            let j = self.randbelow(i as u32 + 1) as usize;
            x.swap(i, j);
        }
    }
}

/// `np.random.randn(rows, cols)` from the stream, in C order.
fn randn(rng: &mut NumpyRandomState, rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols).map(|_| rng.standard_normal()).collect()
}

/// `Network(sizes)`: for every layer after the first, a bias `randn(y, 1)` (all biases first),
/// then the weights `randn(y, x)`; stored as dense layers `x @ W + b` with `W = w.T`.
pub fn network(sizes: &[usize], rng: &mut NumpyRandomState) -> Sequential<f64> {
    let biases: Vec<Vec<f64>> = sizes[1..].iter().map(|&y| randn(rng, y, 1)).collect();
    let mut net = Sequential::new();
    for (k, (&x, &y)) in sizes.iter().zip(&sizes[1..]).enumerate() {
        let w = tensor(&[y, x], randn(rng, y, x));
        let w_t = w.t().as_standard_layout().into_owned().into_shared();
        net.push(Linear::from_tensors(
            w_t,
            Some(tensor(&[y], biases[k].clone())),
        ));
        net.push(Sigmoid);
    }
    net
}

/// The `mnist.pkl.gz` arrays: images as `x / 256` in `[N, 784]`, labels.
pub struct PklSplit {
    /// Pixels `x / 256`, one row per image.
    pub x: Tensor<f64>,
    /// Digits 0-9.
    pub labels: Vec<u8>,
    /// Raw pixel sums (darkness, in units of 1/256).
    pub darkness: Vec<u32>,
}

fn pkl_split(images: ndarray::ArrayView3<'_, u8>, labels: &[u8]) -> PklSplit {
    let n = images.shape()[0];
    let x: Vec<f64> = images.iter().map(|&p| f64::from(p) / 256.0).collect();
    let darkness = images
        .outer_iter()
        .map(|img| img.iter().map(|&p| u32::from(p)).sum())
        .collect();
    PklSplit {
        x: tensor(&[n, 784], x),
        labels: labels.to_vec(),
        darkness,
    }
}

/// `load_data()` of the book: (training = first 50,000, test = the 10,000 test images).
pub fn load_pkl_style() -> Result<(PklSplit, PklSplit), Box<dyn Error>> {
    let mnist = Mnist::load()?;
    let train_labels = mnist.train_labels.to_vec();
    let test_labels = mnist.test_labels.to_vec();
    let train = pkl_split(
        mnist.train_images.slice(ndarray::s![..50_000, .., ..]),
        &train_labels[..50_000],
    );
    let test = pkl_split(mnist.test_images.view(), &test_labels);
    Ok((train, test))
}

/// `mnist_average_darkness.py`: test images classified right by the nearest average darkness.
///
/// The sums are of whole pixel values, so every average is exact to the last bit, as in the
/// book's float sums of `x / 256`.
pub fn average_darkness(train: &PklSplit, test: &PklSplit) -> usize {
    let mut total = [0u64; 10];
    let mut count = [0u64; 10];
    // The book keeps the digits in a dict in order of first appearance; on a tie `min` takes
    // the first of them.
    let mut order: Vec<usize> = Vec::new();
    for (&d, &dark) in train.labels.iter().zip(&train.darkness) {
        let d = usize::from(d);
        if count[d] == 0 {
            order.push(d);
        }
        total[d] += u64::from(dark);
        count[d] += 1;
    }
    let avg: Vec<f64> = (0..10)
        .map(|d| (total[d] as f64 / 256.0) / count[d] as f64)
        .collect();
    test.labels
        .iter()
        .zip(&test.darkness)
        .filter(|(&digit, &dark)| {
            let dark = f64::from(dark) / 256.0;
            let mut guess = order[0];
            for &d in &order[1..] {
                if (avg[d] - dark).abs() < (avg[guess] - dark).abs() {
                    guess = d;
                }
            }
            guess == usize::from(digit)
        })
        .count()
}

/// `evaluate`: the number of test images whose largest output is the right digit.
pub fn evaluate(net: &Sequential<f64>, test: &PklSplit) -> usize {
    let tape = Tape::inference();
    let out = net.forward(tape.constant(test.x.clone())).value();
    argmax_rows(&out)
        .iter()
        .zip(&test.labels)
        .filter(|(&p, &y)| p == usize::from(y))
        .count()
}

/// Trains `net` with the book's `SGD` and returns the test count after every epoch, printing
/// `Epoch j: n / 10000` as it goes.
pub fn sgd(
    net: &mut Sequential<f64>,
    train: &PklSplit,
    epochs: usize,
    mini_batch_size: usize,
    eta: f64,
    test: &PklSplit,
    shuffler: &mut PythonRandom,
) -> Vec<usize> {
    let n = train.labels.len();
    let targets: Tensor<f64> = one_hot(&train.labels, 10);
    let mut order: Vec<usize> = (0..n).collect();
    let mut opt = Sgd::new(eta);
    let mut results = Vec::with_capacity(epochs);
    for j in 0..epochs {
        shuffler.shuffle(&mut order);
        for batch in order.chunks(mini_batch_size) {
            let x = train.x.select(ndarray::Axis(0), batch).into_shared();
            let y = targets.select(ndarray::Axis(0), batch).into_shared();
            let grads = {
                let tape = Tape::new();
                let a = net.forward(tape.constant(x));
                // The quadratic cost of the mini-batch, 1/2m sum ||a - y||^2: its gradient is
                // the mean of the per-example gradients, so a step of eta is the book's
                // w - (eta / len(mini_batch)) * nabla_w.
                let cost = sum_squared_error(a, tape.constant(y)) * (0.5 / batch.len() as f64);
                tape.backward(cost)
            };
            opt.step(&mut net.params_mut(), &grads);
        }
        let r = evaluate(net, test);
        println!("Epoch {j}: {r} / {}", test.labels.len());
        results.push(r);
    }
    results
}

/// What to run.
pub struct Options {
    /// Epochs (the book: 30).
    pub epochs: usize,
    /// Hidden neurons (the book: 30).
    pub hidden: usize,
}

/// The run's numbers.
pub struct Report {
    /// Test images right by average darkness.
    pub darkness: usize,
    /// Test images right after each epoch.
    pub results: Vec<usize>,
}

/// The chapter: the darkness baseline, then the network.
pub fn run(opts: &Options) -> Result<Report, Box<dyn Error>> {
    let (train, test) = load_pkl_style()?;
    let darkness = average_darkness(&train, &test);
    println!("Average-darkness baseline: {darkness} of 10000 values correct.");
    let mut rng = NumpyRandomState::new(1);
    let mut shuffler = PythonRandom::new(1);
    let mut net = network(&[784, opts.hidden, 10], &mut rng);
    let results = sgd(&mut net, &train, opts.epochs, 10, 3.0, &test, &mut shuffler);
    Ok(Report { darkness, results })
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        epochs: 30,
        hidden: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let target = match arg.as_str() {
            "--epochs" => &mut opts.epochs,
            "--hidden" => &mut opts.hidden,
            other => {
                return Err(format!(
                    "unknown argument '{other}'; use --epochs N, --hidden N"
                ))
            }
        };
        let v = args.next().ok_or(format!("{arg} needs a value"))?;
        *target = v
            .parse()
            .map_err(|_| format!("{arg} takes a number, got '{v}'"))?;
    }
    Ok(opts)
}

fn main() -> Result<(), MainError> {
    let opts = parse_args()?;
    let started = std::time::Instant::now();
    let report = run(&opts)?;
    let r = &report.results;
    if let Some((best_epoch, best)) = r
        .iter()
        .enumerate()
        .max_by_key(|&(i, &v)| (v, std::cmp::Reverse(i)))
    {
        println!(
            "RESULT nielsen network.py [784,{},10] eta 3.0 batch 10: epoch0 {}/10000, last {}/10000, best {}/10000 (epoch {})",
            opts.hidden,
            r[0],
            r[r.len() - 1],
            best,
            best_epoch
        );
    }
    println!("WALL {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
