//! Udacity *Deep Learning*, lesson 1 and assignment 1 (notMNIST): the lesson's softmax and
//! floating-point examples, then the assignment's pipeline and a logistic-regression baseline.
//!
//! **Lesson.** `softmax([3.0, 1.0, 0.2]) = [0.8360188 0.11314284 0.05083836]`; multiplying the
//! scores by 10 makes it nearly one-hot, dividing by 10 nearly uniform. Adding `1e-6` a million
//! times to `1e9` and taking `1e9` away again gives `0.95367431640625`, not 1: large and small
//! numbers do not mix in floating point (the reason inputs are normalised to mean 0).
//!
//! **Assignment 1**, on `notMNIST_small` (18,724 letters A-J, 28x28):
//! * problem 1-3: the letters per class, the class balance, and each class's mean and standard
//!   deviation after `(x - 127.5) / 255` (A: -0.132626, 0.445128, digit for digit); a grid of
//!   samples of every class saved as PNG;
//! * `merge_datasets` and `randomize` with numpy's stream after `np.random.seed(133)`
//!   ([`NumpyRandomState`]): 500 letters per class held out (5,000) and the next 1,270 per class
//!   for training (12,700); a grid of the shuffled training set saved as PNG;
//! * problem 5: the overlap between the sets (89 distinct training images also in the held-out
//!   set, 291 repeats within the training set), near duplicates, and sanitised sets;
//! * problem 6: an off-the-shelf classifier on 50, 100, 1000, 5000 and all 12,700 training
//!   images, scored on the 5,000 held-out letters.
//!
//! The course used scikit-learn's `LogisticRegression()`; here it is softmax regression,
//! `softmax(x @ W + b)`, an `nn` [`Linear`] layer whose gradients come from the tape, minimising
//! the same objective as scikit-learn's default (`C = 1`, L2 on the weights, not the bias):
//! `mean cross-entropy + ||W||^2 / (2 C n)`, with [`Lbfgs`] (memory 10, at most 100 iterations,
//! stopping when every gradient element is below 1e-4, as scikit-learn's `lbfgs`). The
//! line search differs from scipy's, so where the 100 iterations end before convergence the
//! accuracies differ somewhat from scikit-learn's (0.6052, 0.7708, 0.8538, 0.8554, 0.8736).
//!
//! Only `notMNIST_small` is used, split by the assignment's own `merge_datasets`; the course
//! trains on `notMNIST_large`, so its accuracies are not comparable with these.
//!
//! ```sh
//! cargo run --release --example udacity_notmnist                 # pictures in examples-out/
//! cargo run --release --example udacity_notmnist -- --out /tmp/notmnist
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};

use tapegrad::autograd::{tensor, Tape};
use tapegrad::books::pyfmt::{array_str, float_repr, list_repr};
use tapegrad::books::MainError;
use tapegrad::books::NumpyRandomState;
use tapegrad::datasets::notmnist::{
    duplicates_within, exact_overlap, merge_datasets, near_duplicates_within, near_overlap,
    sanitize, NotMnist, Split, LETTERS,
};
use tapegrad::datasets::picture::{self, GridOptions};
use tapegrad::nn::init::Init;
use tapegrad::nn::layer::Linear;
use tapegrad::nn::loss::{softmax_cross_entropy_with_labels, Reduce};
use tapegrad::nn::metric::argmax_rows;
use tapegrad::nn::optim::Lbfgs;
use tapegrad::nn::Module;

/// The lesson's printed lines: softmax of the scores, scaled up and down, and the float sums.
pub fn lesson() -> Vec<String> {
    // The lesson's own formula, exp(x) / sum(exp(x)), op by op on the tape. The library's
    // `Var::softmax` subtracts the largest score first so that scores like 1000 do not
    // overflow; it agrees with this to the last bit or so.
    let softmax = |scores: Vec<f64>| -> Vec<f64> {
        let tape = Tape::<f64>::inference();
        let n = scores.len();
        let exp = tape.constant(tensor(&[n], scores)).exp();
        let p = (exp / exp.sum()).value();
        p.iter().copied().collect()
    };
    let scores = vec![3.0, 1.0, 0.2];
    let p = softmax(scores.clone());
    let p_times_10 = softmax(scores.iter().map(|s| s * 10.0).collect());
    let p_over_10 = softmax(scores.iter().map(|s| s / 10.0).collect());
    let add_a_million_times = |start: f64| {
        let mut s = start;
        for _ in 0..1_000_000 {
            s += 0.000001;
        }
        s - start
    };
    let big = add_a_million_times(1e9);
    let one = add_a_million_times(1.0);
    vec![
        format!("softmax([3.0, 1.0, 0.2])        = {}", array_str(&p)),
        format!(
            "softmax(10 * [3.0, 1.0, 0.2])   = {}",
            array_str(&p_times_10)
        ),
        format!(
            "softmax([3.0, 1.0, 0.2] / 10)   = {}",
            array_str(&p_over_10)
        ),
        format!("1e9 + 1e6*1e-6 - 1e9 = {}", float_repr(big)),
        format!("1   + 1e6*1e-6 - 1   = {}", float_repr(one)),
        format!(
            "RESULT udacity softmax([3,1,0.2]) {} ; float example {} / {}",
            list_repr(&p),
            float_repr(big),
            float_repr(one)
        ),
    ]
}

/// The assignment's sets and their overlaps.
pub struct Pipeline {
    /// Training set: 1,270 letters per class, shuffled.
    pub train: Split,
    /// Held-out set: 500 letters per class, shuffled (the assignment's `valid_size` slot).
    pub test: Split,
    /// Distinct training images also in the held-out set (md5 `intersect1d`).
    pub overlap: usize,
    /// Training images that repeat an earlier training image.
    pub duplicates_in_train: usize,
    /// Held-out images that repeat an earlier held-out image.
    pub duplicates_in_test: usize,
    /// The training set without repeats.
    pub train_sanitized: Split,
    /// The held-out set without repeats and without any image of the training set.
    pub test_sanitized: Split,
}

/// Training and held-out sizes of the split of `notMNIST_small`.
pub const TRAIN_SIZE: usize = 12_700;
/// See [`TRAIN_SIZE`].
pub const HELDOUT_SIZE: usize = 5_000;

/// Problems 3-5: merge, randomize, overlaps, sanitised sets.
pub fn pipeline(data: &NotMnist) -> Result<Pipeline, Box<dyn Error>> {
    // np.random.seed(133) at the top of the assignment; merge_datasets shuffles each letter,
    // then randomize permutes the training set and the held-out set, in that order.
    let mut rng = NumpyRandomState::new(133);
    let (test, train) = merge_datasets(data, TRAIN_SIZE, HELDOUT_SIZE, &mut rng)?;
    let train = train.randomize(&mut rng);
    let test = test.randomize(&mut rng);
    let train_sanitized = sanitize(&train, &[], None);
    let test_sanitized = sanitize(&test, &[&train], None);
    Ok(Pipeline {
        overlap: exact_overlap(&train, &test),
        duplicates_in_train: duplicates_within(&train),
        duplicates_in_test: duplicates_within(&test),
        train_sanitized,
        test_sanitized,
        train,
        test,
    })
}

/// Softmax regression trained by [`fit_logistic_regression`].
pub struct LogisticRegression {
    /// `logits = x @ W + b`, `W` `[784, 10]`.
    pub layer: Linear<f64>,
    /// How the minimisation ended.
    pub iterations: usize,
    /// The objective at the end.
    pub objective: f64,
    /// The largest gradient element at the end.
    pub grad_max: f64,
}

impl LogisticRegression {
    /// The predicted letter of every image.
    pub fn predict(&self, split: &Split) -> Vec<usize> {
        let x = split.to_dataset::<f64>().x;
        let tape = Tape::inference();
        argmax_rows(&self.layer.forward(tape.constant(x)).value())
    }

    /// The fraction of `split` classified right (scikit-learn's `score`).
    pub fn score(&self, split: &Split) -> f64 {
        let right = self
            .predict(split)
            .iter()
            .zip(split.labels.iter())
            .filter(|(p, &l)| **p == usize::from(l))
            .count();
        right as f64 / split.len() as f64
    }
}

/// `LogisticRegression().fit(X, y)` with scikit-learn's defaults: softmax regression from zero
/// weights minimising `mean cross-entropy + ||W||^2 / (2 C n)` with `C = 1` by L-BFGS, at most
/// 100 iterations, gradient tolerance 1e-4.
pub fn fit_logistic_regression(train: &Split) -> LogisticRegression {
    let c = 1.0;
    let data = train.to_dataset::<f64>();
    let n = train.len();
    let labels: Vec<usize> = train.labels.iter().map(|&l| usize::from(l)).collect();
    let (inputs, classes) = (784, 10);
    let mut layer = Linear::<f64>::with_init(
        inputs,
        classes,
        Init::Zeros,
        Some(Init::Zeros),
        &mut tapegrad::autograd::random::SplitMix64::new(0),
    );
    let weights = inputs * classes;
    let l2 = 1.0 / (2.0 * c * n as f64);
    let objective = |layer: &mut Linear<f64>, theta: &[f64]| -> (f64, Vec<f64>) {
        layer
            .weight_mut()
            .set_value(tensor(&[inputs, classes], theta[..weights].to_vec()));
        layer
            .bias_mut()
            .expect("the layer has a bias")
            .set_value(tensor(&[classes], theta[weights..].to_vec()));
        let tape = Tape::new();
        let logits = layer.forward(tape.constant(data.x.clone()));
        let w = tape.param(layer.weight());
        let loss = softmax_cross_entropy_with_labels(logits, &labels, Reduce::Mean)
            + w.square().sum() * l2;
        let grads = tape.backward(loss);
        let mut g: Vec<f64> = grads
            .param(layer.weight())
            .expect("the weight is trained")
            .iter()
            .copied()
            .collect();
        let bias = layer.bias().expect("the layer has a bias");
        g.extend(grads.param(bias).expect("the bias is trained").iter());
        (loss.item(), g)
    };
    let theta0 = vec![0.0; weights + classes];
    let min = Lbfgs::new().minimize(theta0, |theta| objective(&mut layer, theta));
    objective(&mut layer, &min.x);
    LogisticRegression {
        layer,
        iterations: min.iterations,
        objective: min.f,
        grad_max: min.grad_max,
    }
}

/// What to run.
pub struct Options {
    /// Where the pictures go.
    pub out_dir: PathBuf,
    /// Training-set sizes of problem 6.
    pub sample_sizes: Vec<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out_dir: PathBuf::from("examples-out"),
            sample_sizes: vec![50, 100, 1000, 5000, TRAIN_SIZE],
        }
    }
}

/// The run's numbers.
pub struct Report {
    /// Distinct training images also held out.
    pub overlap: usize,
    /// Repeats within the training set.
    pub duplicates_in_train: usize,
    /// `(sample size, held-out accuracy)` of problem 6.
    pub accuracies: Vec<(usize, f64)>,
    /// The pictures written.
    pub pictures: Vec<PathBuf>,
}

fn letter_names(labels: impl Iterator<Item = u8>) -> Vec<String> {
    labels
        .map(|l| LETTERS[usize::from(l)].to_string())
        .collect()
}

fn save_pictures(
    out_dir: &Path,
    data: &NotMnist,
    p: &Pipeline,
    model: Option<&LogisticRegression>,
) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create the output dir {}: {e}", out_dir.display()))?;
    let mut written = Vec::new();
    let opts = GridOptions {
        columns: 10,
        scale: 2,
        invert: false,
    };
    // Problem 1: the first ten letters of every class, one class per row.
    let idx: Vec<usize> = {
        let counts = data.class_counts();
        let mut start = 0;
        let mut idx = Vec::new();
        for n in counts {
            idx.extend(start..start + 10);
            start += n;
        }
        idx
    };
    let path = out_dir.join("udacity_notmnist_letters.png");
    let letters = data.images.select(ndarray::Axis(0), &idx);
    let names = letter_names(idx.iter().map(|&i| data.labels[i]));
    picture::save_grid(&path, letters.view(), &names, &opts)?;
    written.push(path);
    // Problem 2: the shuffled training set with its labels, to check they still match.
    let path = out_dir.join("udacity_notmnist_train_sample.png");
    let sample = p.train.range(0, 40);
    let names = letter_names(sample.labels.iter().copied());
    picture::save_grid(&path, sample.images.view(), &names, &opts)?;
    written.push(path);
    if let Some(model) = model {
        let path = out_dir.join("udacity_notmnist_predictions.png");
        let sample = p.test.range(0, 40);
        let truth: Vec<usize> = sample.labels.iter().map(|&l| usize::from(l)).collect();
        let names: Vec<String> = LETTERS.iter().map(|l| l.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        picture::save_prediction_grid(
            &path,
            sample.images.view(),
            &model.predict(&sample),
            &truth,
            &names,
            &opts,
        )?;
        written.push(path);
    }
    Ok(written)
}

/// The lesson, then the assignment.
pub fn run(opts: &Options) -> Result<Report, Box<dyn Error>> {
    for line in lesson() {
        println!("{line}");
    }

    // Problems 1-3: load (nothing extracted; unreadable files are skipped and listed),
    // statistics per letter, balance.
    let data = NotMnist::load_small()?;
    for s in &data.skipped {
        println!(
            "Could not read: {} : {} - it's ok, skipping.",
            s.path, s.reason
        );
    }
    for s in data.class_stats() {
        println!(
            "notMNIST_small/{} Full dataset tensor: ({}, 28, 28) Mean: {:.6} Standard deviation: {:.6}",
            s.letter, s.count, s.mean, s.std
        );
    }
    let balance = data.balance();
    println!("problem 3, images per class: {:?}", balance.counts);
    println!(
        "problem 3, balanced: {} (smallest {}, largest {}, spread {:.2} %)",
        balance.is_balanced(0.01),
        balance.min,
        balance.max,
        100.0 * balance.spread
    );

    let p = pipeline(&data)?;
    println!("Training: ({}, 28, 28) ({},)", p.train.len(), p.train.len());
    println!(
        "Held-out test: ({}, 28, 28) ({},)",
        p.test.len(),
        p.test.len()
    );
    println!(
        "problem 5: train & held-out test (distinct md5s): overlap {} from {} to {}",
        p.overlap,
        p.train.len(),
        p.test.len()
    );
    println!(
        "problem 5: duplicate images inside the training set: {}",
        p.duplicates_in_train
    );
    println!(
        "problem 5: duplicate images inside the held-out set: {}",
        p.duplicates_in_test
    );
    let tolerance = 0.02;
    println!(
        "problem 5: near duplicates (mean |difference| <= {tolerance}): held-out images with a \
         twin in train {}, training images with a twin in train {}",
        near_overlap(&p.test, &p.train, tolerance),
        near_duplicates_within(&p.train, tolerance)
    );
    println!(
        "problem 5: sanitized sets: train {} -> {}, held-out {} -> {}",
        p.train.len(),
        p.train_sanitized.len(),
        p.test.len(),
        p.test_sanitized.len()
    );

    // Problem 6.
    let mut accuracies = Vec::new();
    let mut last = None;
    for &n in &opts.sample_sizes {
        let started = std::time::Instant::now();
        let model = fit_logistic_regression(&p.train.range(0, n.min(p.train.len())));
        let acc = model.score(&p.test);
        println!(
            "Accuracy: {} when sample_size= {n}  ({:.1}s, {} L-BFGS iterations, objective {:.4}, \
             largest gradient {:.1e})",
            float_repr(acc),
            started.elapsed().as_secs_f64(),
            model.iterations,
            model.objective,
            model.grad_max
        );
        accuracies.push((n, acc));
        last = Some(model);
    }
    if let Some(model) = &last {
        println!(
            "the last model on the sanitized held-out set ({} images): accuracy {:.4}",
            p.test_sanitized.len(),
            model.score(&p.test_sanitized)
        );
    }
    let pictures = save_pictures(&opts.out_dir, &data, &p, last.as_ref())?;
    for path in &pictures {
        println!("saved {}", path.display());
    }
    Ok(Report {
        overlap: p.overlap,
        duplicates_in_train: p.duplicates_in_train,
        accuracies,
        pictures,
    })
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => {
                opts.out_dir = PathBuf::from(args.next().ok_or("--out needs a directory")?);
            }
            other => return Err(format!("unknown argument '{other}'; use --out DIR")),
        }
    }
    Ok(opts)
}

fn main() -> Result<(), MainError> {
    let opts = parse_args()?;
    let started = std::time::Instant::now();
    let report = run(&opts)?;
    for (n, acc) in &report.accuracies {
        println!("RESULT udacity_notmnist_logreg(small-split) sample_size={n} accuracy={acc:.4}");
    }
    println!(
        "RESULT overlap train/heldout md5={}, dup-in-train={}",
        report.overlap, report.duplicates_in_train
    );
    println!("WALL {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
