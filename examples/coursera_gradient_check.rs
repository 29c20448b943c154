//! Coursera *Improving Deep Neural Networks*, week 1: gradient checking.
//!
//! The course checks a backward pass by comparing it with the two-sided difference
//! `(J(theta + eps) - J(theta - eps)) / (2 eps)`, element by element, and reporting
//! `||grad - gradapprox|| / (||grad|| + ||gradapprox||)` (good below 1e-7, a bug above 1e-3).
//!
//! * 1-D: `J(theta) = theta * x` at `x = 2`, `theta = 4`, `eps = 1e-7`. Course:
//!   `2.919335883291695e-10`; here identical.
//! * n-D: the course's 3-layer net LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID on its
//!   `gradient_check_n_test_case()` data, drawn after `np.random.seed(1)` with
//!   [`NumpyRandomState`] (numpy's legacy stream, so the 59 `randn` values are numpy's). The
//!   forward pass is built from tape ops. The course's hand-written `backward_propagation_n`
//!   is checked twice, with its two deliberate bugs (`dW2 * 2`, `db1` with `4./m`; course
//!   `0.2850931567761624`) and fixed (course `1.1890913022840002e-07`).
//!
//! Then tapegrad's own machinery: the hand-written backward is wrapped as an [`Op`] so that
//! [`gradcheck`] can find the bug by itself (it names the parameter and element), and the
//! tape's own gradient of the same network is checked.
//!
//! Why the fixed backward only reaches 1.2e-7: the error is on the *numerical* side. The
//! third example has label 0 and `a3 = 0.99887`, so the course's cost takes `log(1 - a3)` of
//! `0.00113`, a difference that keeps only about 13 correct digits. Each `J(theta +- eps)` is
//! off by some 1e-14, and dividing by `2 eps = 2e-7` makes that an error of about 1e-7 in
//! `gradapprox`. The printed value is a ratio of such rounding residues: it agrees with the
//! course to 10 digits, not 16 (this program prints the reference numpy run's
//! `1.1890913024229996e-07`; the course printed `1.1890913022840002e-07`). Written with the
//! stable `bce_with_logits` on the last pre-activation, the same check of the tape's gradient
//! drops to 1.1e-9 (8.8e-11 at gradcheck's default eps 1e-6): the gradient was right all
//! along.
//!
//! ```sh
//! cargo run --release --example coursera_gradient_check
//! ```

use tapegrad::autograd::gradcheck::{
    gradcheck, relative_difference, GradcheckError, GradcheckOptions,
};
use tapegrad::autograd::ndarray::{Array2, Axis, Ix2};
use tapegrad::autograd::{
    into_tensor, tensor, BackwardContext, Op, OpError, Reduce, Tape, Tensor, Var,
};
use tapegrad::books::pyfmt::{array_str, float_repr};
use tapegrad::books::NumpyRandomState;

/// The course's step.
const EPSILON: f64 = 1e-7;

/// The parameter names in the course's `dictionary_to_vector` order.
pub const NAMES: [&str; 6] = ["W1", "b1", "W2", "b2", "W3", "b3"];

/// `np.random.randn(rows, cols)` from the running stream.
fn randn(rng: &mut NumpyRandomState, rows: usize, cols: usize) -> Tensor<f64> {
    let mut v = vec![0.0; rows * cols];
    rng.fill_standard_normal(&mut v);
    tensor(&[rows, cols], v)
}

/// The course's `gradient_check_n_test_case()`: `x` [4, 3], `y` [1, 3] = `[1, 1, 0]` and the
/// parameters W1 [5, 4], b1 [5, 1], W2 [3, 5], b2 [3, 1], W3 [1, 3], b3 [1, 1], in that
/// order, all `randn` after `np.random.seed(1)`.
pub fn gradient_check_n_test_case() -> (Tensor<f64>, Tensor<f64>, Vec<Tensor<f64>>) {
    let mut rng = NumpyRandomState::new(1);
    let x = randn(&mut rng, 4, 3);
    let y = tensor(&[1, 3], vec![1.0, 1.0, 0.0]);
    let shapes = [(5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)];
    let params = shapes.iter().map(|&(r, c)| randn(&mut rng, r, c)).collect();
    (x, y, params)
}

/// What the course's backward pass reads: the activations.
pub struct Cache {
    a1: Tensor<f64>,
    a2: Tensor<f64>,
    a3: Tensor<f64>,
}

/// How the cost is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostForm {
    /// The course's `-log(a3) y - log(1 - a3) (1 - y)`, averaged, with `a3 = sigmoid(z3)`.
    Course,
    /// The same cross-entropy from the logits `z3`: `bce_with_logits`, which never forms
    /// `1 - a3` and so keeps full precision when `a3` is close to 1.
    Logits,
}

/// `forward_propagation_n` on the tape: the cost of `params` (`[W1, b1, W2, b2, W3, b3]`) on
/// `x` [features, m] with labels `y` [1, m], and the activations for the hand-written backward.
pub fn forward_propagation_n<'t>(
    x: Var<'t, f64>,
    y: Var<'t, f64>,
    params: &[Var<'t, f64>],
    form: CostForm,
) -> (Var<'t, f64>, Cache) {
    let m = x.shape()[1] as f64;
    let [w1, b1, w2, b2, w3, b3] = params else {
        panic!("forward_propagation_n: expected the six parameters W1, b1, W2, b2, W3, b3");
    };
    let z1 = w1.matmul(x) + *b1;
    let a1 = z1.relu();
    let z2 = w2.matmul(a1) + *b2;
    let a2 = z2.relu();
    let z3 = w3.matmul(a2) + *b3;
    let a3 = z3.sigmoid();
    let cost = match form {
        CostForm::Course => {
            let logprobs = -a3.ln() * y + -(1.0 - a3).ln() * (1.0 - y);
            logprobs.sum() * (1.0 / m)
        }
        CostForm::Logits => z3.bce_with_logits(y, Reduce::Mean),
    };
    let cache = Cache {
        a1: a1.value(),
        a2: a2.value(),
        a3: a3.value(),
    };
    (cost, cache)
}

/// The cost alone, on a tape that records nothing (what the numerical side evaluates).
fn cost_at(x: &Tensor<f64>, y: &Tensor<f64>, params: &[Tensor<f64>], form: CostForm) -> f64 {
    let tape = Tape::inference();
    let vars: Vec<Var<'_, f64>> = params.iter().map(|p| tape.constant(p.clone())).collect();
    let (cost, _) = forward_propagation_n(
        tape.constant(x.clone()),
        tape.constant(y.clone()),
        &vars,
        form,
    );
    cost.item()
}

fn mat(t: &Tensor<f64>) -> Array2<f64> {
    t.view()
        .into_dimensionality::<Ix2>()
        .expect("the course's arrays are 2-D")
        .to_owned()
}

/// The course's hand-written `backward_propagation_n`, with its two deliberate bugs when
/// `buggy` (`dW2` doubled, `db1` computed with `4./m`). Returns `[dW1, db1, dW2, db2, dW3,
/// db3]`.
pub fn backward_propagation_n(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    params: &[Tensor<f64>],
    cache: &Cache,
    buggy: bool,
) -> Vec<Tensor<f64>> {
    let m = x.shape()[1] as f64;
    let (x, y) = (mat(x), mat(y));
    let (w2, w3) = (mat(&params[2]), mat(&params[4]));
    let (a1, a2, a3) = (mat(&cache.a1), mat(&cache.a2), mat(&cache.a3));
    let relu_mask = |a: &Array2<f64>| a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let sum_rows = |d: &Array2<f64>| d.sum_axis(Axis(1)).insert_axis(Axis(1));

    let dz3 = &a3 - &y;
    let dw3 = 1.0 / m * dz3.dot(&a2.t());
    let db3 = 1.0 / m * sum_rows(&dz3);
    let da2 = w3.t().dot(&dz3);
    let dz2 = da2 * relu_mask(&a2);
    let dw2 = 1.0 / m * dz2.dot(&a1.t()) * if buggy { 2.0 } else { 1.0 };
    let db2 = 1.0 / m * sum_rows(&dz2);
    let da1 = w2.t().dot(&dz2);
    let dz1 = da1 * relu_mask(&a1);
    let dw1 = 1.0 / m * dz1.dot(&x.t());
    let db1 = (if buggy { 4.0 } else { 1.0 }) / m * sum_rows(&dz1);
    [dw1, db1, dw2, db2, dw3, db3]
        .into_iter()
        .map(into_tensor)
        .collect()
}

/// Every element of the tensors, in order: the course's `dictionary_to_vector`.
fn to_vector(ts: &[Tensor<f64>]) -> Vec<f64> {
    ts.iter().flat_map(|t| t.iter().copied()).collect()
}

/// The course's `gradient_check_n`: nudges each parameter element by `+-eps`, evaluates the
/// cost on the tape, and compares the two-sided differences with `grad` by the course's
/// relative difference. Returns the difference and `gradapprox`.
pub fn gradient_check_n(
    params: &[Tensor<f64>],
    grad: &[f64],
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    epsilon: f64,
    form: CostForm,
) -> (f64, Vec<f64>) {
    let mut gradapprox = Vec::with_capacity(grad.len());
    for (k, p) in params.iter().enumerate() {
        for i in 0..p.len() {
            let nudged = |delta: f64| {
                let mut theta = params.to_vec();
                let mut q = p.to_owned();
                q.as_slice_mut().expect("contiguous")[i] += delta;
                theta[k] = q.into_shared();
                cost_at(x, y, &theta, form)
            };
            let j_plus = nudged(epsilon);
            let j_minus = nudged(-epsilon);
            gradapprox.push((j_plus - j_minus) / (2.0 * epsilon));
        }
    }
    (relative_difference(grad, &gradapprox), gradapprox)
}

/// The hand-written backward pass as a tape op, so that tapegrad's [`gradcheck`] can test it
/// like any built-in op. Inputs: the six parameters; output: the course's cost.
struct HandWrittenNet {
    x: Tensor<f64>,
    y: Tensor<f64>,
    buggy: bool,
    cache: Option<Cache>,
}

impl Op<f64> for HandWrittenNet {
    fn name(&self) -> &str {
        if self.buggy {
            "course_net(buggy backward)"
        } else {
            "course_net"
        }
    }

    fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>, OpError> {
        let tape = Tape::inference();
        let vars: Vec<Var<'_, f64>> = inputs.iter().map(|p| tape.constant((*p).clone())).collect();
        let x = tape.constant(self.x.clone());
        let y = tape.constant(self.y.clone());
        let (cost, cache) = forward_propagation_n(x, y, &vars, CostForm::Course);
        self.cache = Some(cache);
        Ok(cost.value())
    }

    fn backward(&self, ctx: &BackwardContext<'_, f64>) -> Vec<Option<Tensor<f64>>> {
        let g = ctx.grad_output()[[]];
        let params: Vec<Tensor<f64>> = ctx.inputs().iter().map(|p| (*p).clone()).collect();
        let cache = self.cache.as_ref().expect("forward ran first");
        backward_propagation_n(&self.x, &self.y, &params, cache, self.buggy)
            .into_iter()
            .map(|d| Some((d * g).into_shared()))
            .collect()
    }
}

/// The numbers the example prints, for the tests.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// 1-D relative difference (course `2.919335883291695e-10`).
    pub one_d: f64,
    /// The cost of the n-D test case (reference run `2.407833389834357`).
    pub cost: f64,
    /// The buggy backward's relative difference (course `0.2850931567761624`).
    pub buggy: f64,
    /// The fixed backward's relative difference (course `1.1890913022840002e-07`).
    pub fixed: f64,
    /// The tape's own gradient against the course's finite differences (`eps = 1e-7`).
    pub tape_course_form: f64,
    /// `gradcheck` of the tape's gradient with the cost written from the logits, eps 1e-7.
    pub tape_logits_form: f64,
    /// The same at `gradcheck`'s default eps 1e-6.
    pub tape_logits_default_eps: f64,
    /// `gradcheck` of the fixed hand-written op.
    pub gradcheck_fixed: f64,
    /// `gradcheck`'s message for the buggy hand-written op.
    pub gradcheck_buggy_message: String,
    /// Every printed line.
    pub lines: Vec<String>,
}

/// Runs every check and returns what is printed.
pub fn run() -> Outcome {
    let mut lines = Vec::new();

    // 1-D: J(theta) = theta * x; the tape gives dJ/dtheta.
    let (x1, theta) = (2.0, 4.0);
    let tape = Tape::new();
    let t = tape.var(tensor(&[], vec![theta]));
    let j = t * x1;
    let grad = tape.backward(j).get(t).expect("theta has a gradient")[[]];
    let forward = |th: f64| {
        let tape = Tape::inference();
        (tape.constant(tensor(&[], vec![th])) * x1).item()
    };
    let gradapprox = (forward(theta + EPSILON) - forward(theta - EPSILON)) / (2.0 * EPSILON);
    let one_d = relative_difference(&[grad], &[gradapprox]);
    lines.push(format!(
        "1-D gradient check: difference = {}{}",
        float_repr(one_d),
        if one_d < 1e-7 {
            "  -> The gradient is correct!"
        } else {
            "  -> wrong"
        }
    ));

    // n-D: the course's test case and hand-written backward.
    let (x, y, params) = gradient_check_n_test_case();
    let tape = Tape::new();
    let vars: Vec<Var<'_, f64>> = params.iter().map(|p| tape.var(p.clone())).collect();
    let (cost, cache) = forward_propagation_n(
        tape.constant(x.clone()),
        tape.constant(y.clone()),
        &vars,
        CostForm::Course,
    );
    lines.push(format!(
        "N-D test case cost J = {}",
        float_repr(cost.item())
    ));
    let a3: Vec<f64> = cache.a3.iter().copied().collect();
    lines.push(format!("A3 = {} for Y = [1 1 0]", array_str(&a3)));
    let mut diffs = [0.0; 2];
    for (k, buggy) in [true, false].into_iter().enumerate() {
        let grads = backward_propagation_n(&x, &y, &params, &cache, buggy);
        let (d, _) = gradient_check_n(
            &params,
            &to_vector(&grads),
            &x,
            &y,
            EPSILON,
            CostForm::Course,
        );
        let verdict = if d > 2e-7 {
            "There is a mistake in the backward propagation!"
        } else {
            "Your backward propagation works perfectly fine!"
        };
        let name = if buggy { "buggy" } else { "fixed" };
        lines.push(format!(
            "{name} backprop: {verdict} difference = {}",
            float_repr(d)
        ));
        lines.push(format!(
            "RESULT coursera_gradient_check {name} {}",
            float_repr(d)
        ));
        diffs[k] = d;
    }
    lines.push(format!(
        "RESULT coursera_gradient_check 1d {}",
        float_repr(one_d)
    ));

    // The tape's own gradient, against the same finite differences.
    let tape_grads = tape.backward(cost);
    let tape_grad: Vec<f64> = vars
        .iter()
        .flat_map(|v| {
            tape_grads
                .get(*v)
                .expect("every parameter has a gradient")
                .iter()
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let (tape_course_form, _) =
        gradient_check_n(&params, &tape_grad, &x, &y, EPSILON, CostForm::Course);
    lines.push(format!(
        "tape gradient vs the course's gradapprox (eps 1e-7): difference = {}",
        float_repr(tape_course_form)
    ));
    let hand = to_vector(&backward_propagation_n(&x, &y, &params, &cache, false));
    lines.push(format!(
        "tape gradient vs fixed hand-written backprop: difference = {}",
        float_repr(relative_difference(&hand, &tape_grad))
    ));

    // tapegrad's gradcheck on the hand-written backward, wrapped as an op.
    let course_eps = GradcheckOptions {
        eps: EPSILON,
        ..GradcheckOptions::default()
    };
    let check_hand = |buggy: bool| {
        let (xc, yc) = (x.clone(), y.clone());
        gradcheck(
            move |v| {
                let op = HandWrittenNet {
                    x: xc.clone(),
                    y: yc.clone(),
                    buggy,
                    cache: None,
                };
                v[0].tape().apply(op, v)
            },
            &params,
            &course_eps,
        )
    };
    let gradcheck_buggy_message = match check_hand(true) {
        Ok(r) => format!("passed?! relative difference {:e}", r.relative_difference),
        Err(e @ GradcheckError::Mismatch { input, .. }) => {
            format!("{e} (input {input} is {})", NAMES[input])
        }
        Err(e) => panic!("gradcheck could not run: {e}"),
    };
    lines.push(format!(
        "gradcheck(buggy hand-written backprop): {gradcheck_buggy_message}"
    ));
    let fixed_report = check_hand(false).expect("the fixed backward passes gradcheck");
    lines.push(format!(
        "gradcheck(fixed hand-written backprop, eps 1e-7): relative difference = {}",
        float_repr(fixed_report.relative_difference)
    ));

    // tapegrad's gradcheck on the tape's own gradient, both ways of writing the cost.
    let (xc, yc) = (x.clone(), y.clone());
    let tape_check = |form: CostForm, eps: f64| {
        let (xc, yc) = (xc.clone(), yc.clone());
        gradcheck(
            move |v| {
                let tape = v[0].tape();
                let (cost, _) = forward_propagation_n(
                    tape.constant(xc.clone()),
                    tape.constant(yc.clone()),
                    v,
                    form,
                );
                cost
            },
            &params,
            &GradcheckOptions {
                eps,
                ..GradcheckOptions::default()
            },
        )
        .expect("the tape's gradient passes gradcheck")
    };
    let course_form = tape_check(CostForm::Course, EPSILON);
    lines.push(format!(
        "gradcheck(tape, course's cost with log(1 - a3), eps 1e-7): relative difference = {}",
        float_repr(course_form.relative_difference)
    ));
    let logits_form = tape_check(CostForm::Logits, EPSILON);
    lines.push(format!(
        "gradcheck(tape, cost from the logits, eps 1e-7): relative difference = {}",
        float_repr(logits_form.relative_difference)
    ));
    let default_eps = tape_check(CostForm::Logits, GradcheckOptions::default().eps);
    lines.push(format!(
        "gradcheck(tape, cost from the logits, default eps 1e-6): relative difference = {}",
        float_repr(default_eps.relative_difference)
    ));
    lines.push(format!("{default_eps}"));

    Outcome {
        one_d,
        cost: cost.item(),
        buggy: diffs[0],
        fixed: diffs[1],
        tape_course_form,
        tape_logits_form: logits_form.relative_difference,
        tape_logits_default_eps: default_eps.relative_difference,
        gradcheck_fixed: fixed_report.relative_difference,
        gradcheck_buggy_message,
        lines,
    }
}

fn main() {
    for line in run().lines {
        println!("{line}");
    }
}
