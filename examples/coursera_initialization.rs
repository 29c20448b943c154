//! Coursera *Improving Deep Neural Networks*, week 1: initialization.
//!
//! The course's "Initialization" assignment: a `[2, 10, 5, 1]` network (ReLU, ReLU, sigmoid)
//! trained by full-batch gradient descent (lr 0.01, 15000 iterations) on two circles,
//! `np.random.seed(1); make_circles(n_samples=300, noise=.05)` for training and
//! `np.random.seed(2); make_circles(n_samples=100, noise=.05)` for testing (reproduced draw for
//! draw with [`sklearn::make_circles`]), starting from three initializations:
//!
//! * zeros: every unit of a layer computes the same function and receives the same gradient,
//!   so the symmetry never breaks. Here even that one function cannot move: with all weights 0
//!   every hidden activation is 0, so every weight gradient is exactly 0; the output is
//!   `sigmoid(0) = 0.5` for every example and the labels are balanced, so the output bias only
//!   picks up rounding residue. The cost stays at `ln 2 = 0.6931471805599453` (its last digit
//!   wobbles, as in the course's own printout) and the net predicts 0 everywhere: accuracy 0.5
//!   on both sets, as in the course.
//! * large random, `randn * 10` after `np.random.seed(3)`: the sigmoid saturates. The course's
//!   cost `-log(a3)` is `inf` at iteration 0 because `a3` rounds to exactly 0 or 1; written from
//!   the logits (`bce_with_logits`, used here) the cost is finite, and large. Training is slow:
//!   course 0.83 train / 0.86 test.
//! * He, `randn * sqrt(2 / n_prev)` after `np.random.seed(3)`: course 0.9933 train / 0.96 test,
//!   cost 0.8830537463419761 at iteration 0.
//!
//! The decision boundaries go to `examples-out/`.
//!
//! ```sh
//! cargo run --release --example coursera_initialization
//! ```

mod coursera;

use std::time::Instant;

use coursera::{columns, out_dir, plot_decision_boundary, Initialization, Net};
use tapegrad::autograd::Tensor;
use tapegrad::books::pyfmt::float_repr;
use tapegrad::books::{sklearn, NumpyRandomState};
use tapegrad::nn::optim::Sgd;

/// The assignment's network.
pub const LAYER_DIMS: [usize; 4] = [2, 10, 5, 1];

/// The course's `load_dataset()`: train `[2, 300]`, `[1, 300]` and test `[2, 100]`, `[1, 100]`.
pub fn load_dataset() -> (Tensor<f64>, Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let mut rng = NumpyRandomState::new(1);
    let (train_x, train_y) = columns(&sklearn::make_circles(300, 0.05, 0.8, &mut rng));
    rng.seed(2);
    let (test_x, test_y) = columns(&sklearn::make_circles(100, 0.05, 0.8, &mut rng));
    (train_x, train_y, test_x, test_y)
}

/// What one initialization led to.
pub struct Outcome {
    /// The initialization.
    pub init: Initialization,
    /// The cost every 1000 iterations.
    pub costs: Vec<f64>,
    /// Training-set accuracy.
    pub train_accuracy: f64,
    /// Test-set accuracy.
    pub test_accuracy: f64,
    /// The trained network.
    pub net: Net,
}

/// The course's `model(X, Y, learning_rate=0.01, num_iterations, initialization)`.
pub fn model(
    data: &(Tensor<f64>, Tensor<f64>, Tensor<f64>, Tensor<f64>),
    init: Initialization,
    num_iterations: usize,
) -> Outcome {
    let (train_x, train_y, test_x, test_y) = data;
    let mut net = Net::new(&LAYER_DIMS, init, &mut NumpyRandomState::new(3));
    let mut optimizer = Sgd::new(0.01);
    let mut costs = Vec::new();
    for i in 0..num_iterations {
        let cost = net.train_step(train_x, train_y, &mut optimizer);
        if i % 1000 == 0 {
            costs.push(cost);
        }
    }
    Outcome {
        init,
        costs,
        train_accuracy: net.accuracy(train_x, train_y),
        test_accuracy: net.accuracy(test_x, test_y),
        net,
    }
}

/// The course's `compute_loss`: `1/m * np.nansum(-y log(a3) - (1 - y) log(1 - a3))` from the
/// sigmoid's output, which is `inf` as soon as a saturated `a3` rounds to exactly 0 or 1 on the
/// wrong side (the logits form used for training stays finite).
pub fn course_loss(net: &Net, x: &Tensor<f64>, y: &Tensor<f64>) -> f64 {
    let a3 = net.probabilities(x);
    let terms = a3
        .iter()
        .zip(y.iter())
        .map(|(&a, &y)| -a.ln() * y + -(1.0 - a).ln() * (1.0 - y));
    terms.filter(|t| !t.is_nan()).sum::<f64>() / a3.len() as f64
}

/// The name the course gives each initialization.
pub fn name(init: Initialization) -> &'static str {
    match init {
        Initialization::Zeros => "zeros",
        Initialization::Random(_) => "random",
        Initialization::He => "he",
    }
}

/// The three initializations of the assignment.
pub const INITS: [Initialization; 3] = [
    Initialization::Zeros,
    Initialization::Random(10.0),
    Initialization::He,
];

/// The printed lines of one run.
pub fn lines(o: &Outcome) -> Vec<String> {
    let mut out = vec![format!("== initialization = \"{}\" ==", name(o.init))];
    for (k, c) in o.costs.iter().enumerate() {
        out.push(format!(
            "Cost after iteration {}: {}",
            k * 1000,
            float_repr(*c)
        ));
    }
    out.push("On the train set:".into());
    out.push(format!("Accuracy: {}", float_repr(o.train_accuracy)));
    out.push("On the test set:".into());
    out.push(format!("Accuracy: {}", float_repr(o.test_accuracy)));
    out
}

fn main() {
    let start = Instant::now();
    let data = load_dataset();
    let course = [
        ("zeros", "cost 0.6931471805599453 throughout; train 0.5, test 0.5"),
        (
            "random",
            "cost inf at iteration 0 (log of a saturated sigmoid); train 0.83, test 0.86",
        ),
        (
            "he",
            "cost 0.8830537463419761 at 0, 0.07357895962677366 at 14000; train 0.9933333333333333, test 0.96",
        ),
    ];
    for (init, (_, course)) in INITS.into_iter().zip(course) {
        let t = Instant::now();
        let initial = Net::new(&LAYER_DIMS, init, &mut NumpyRandomState::new(3));
        let course_cost = course_loss(&initial, &data.0, &data.1);
        let o = model(&data, init, 15000);
        for line in lines(&o) {
            println!("{line}");
        }
        if let Initialization::Random(_) = init {
            println!(
                "  the course's -log(a3) cost at iteration 0: {} (from the logits: {})",
                float_repr(course_cost),
                float_repr(o.costs[0])
            );
        }
        println!("  course: {course}   ({:.1}s)", t.elapsed().as_secs_f64());
        if init == Initialization::Zeros {
            let p = o.net.probabilities(&data.0);
            let zeros = p.iter().filter(|&&a| a <= 0.5).count();
            println!(
                "  every output is {} so every prediction is 0 ({zeros} of {})",
                float_repr(p[0]),
                p.len()
            );
        }
        let path = out_dir().join(format!("coursera_initialization_{}.png", name(init)));
        let title = format!(
            "{} initialization: train {}, test {}",
            name(init),
            float_repr(o.train_accuracy),
            float_repr(o.test_accuracy)
        );
        match plot_decision_boundary(&path, &title, &o.net, &data.0, &data.1) {
            Ok(()) => println!("  wrote {}", path.display()),
            Err(e) => eprintln!("  could not plot {}: {e}", path.display()),
        }
        println!(
            "RESULT coursera_initialization {} train {} test {}",
            name(init),
            float_repr(o.train_accuracy),
            float_repr(o.test_accuracy)
        );
    }
    println!("WALL {:.1} s", start.elapsed().as_secs_f64());
}
