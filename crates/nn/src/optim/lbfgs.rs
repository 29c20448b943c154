//! L-BFGS: a quasi-Newton minimiser for a whole objective at once (full-batch training).

use std::collections::VecDeque;

/// L-BFGS, the minimiser behind scikit-learn's `LogisticRegression` and scipy's
/// `minimize(method="L-BFGS-B")` (without the bounds): the last [`memory`](Self::memory) steps
/// and gradient changes stand in for the inverse Hessian (the two-loop recursion), and each
/// step backtracks from the full quasi-Newton step until the objective falls enough (Armijo).
///
/// Unlike the [`Optimizer`](super::Optimizer)s, which take one step from the gradients of one
/// batch, it evaluates the objective as often as its line search needs, so it takes the
/// objective itself: a function from the parameters, flattened into one `&[f64]`, to the value
/// and the gradient (both usually from one tape's forward and backward pass).
///
/// It stops after [`max_iter`](Self::max_iter) iterations, when every gradient element is at
/// most [`gtol`](Self::gtol) in size, or when an iteration lowers the objective by no more than
/// rounding (scipy's `ftol` rule).
///
/// ```
/// use tapegrad_nn::optim::Lbfgs;
///
/// // Rosenbrock's valley: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1).
/// let rosenbrock = |p: &[f64]| {
///     let (x, y) = (p[0], p[1]);
///     let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
///     let g = vec![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)];
///     (f, g)
/// };
/// let min = Lbfgs::new().max_iter(200).minimize(vec![-1.2, 1.0], rosenbrock);
/// assert!((min.x[0] - 1.0).abs() < 1e-5 && (min.x[1] - 1.0).abs() < 1e-5, "{:?}", min.x);
/// assert!(min.f < 1e-10);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Lbfgs {
    memory: usize,
    max_iter: usize,
    gtol: f64,
}

/// Where [`Lbfgs::minimize`] ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The parameters at the end.
    pub x: Vec<f64>,
    /// The objective there.
    pub f: f64,
    /// The largest gradient element (in size) there.
    pub grad_max: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Objective evaluations done.
    pub evaluations: usize,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs::new()
    }
}

impl Lbfgs {
    /// scikit-learn's settings: memory 10, at most 100 iterations, gradient tolerance `1e-4`.
    pub fn new() -> Self {
        Lbfgs {
            memory: 10,
            max_iter: 100,
            gtol: 1e-4,
        }
    }

    /// How many past steps approximate the inverse Hessian.
    ///
    /// # Panics
    /// If `memory` is 0.
    #[track_caller]
    pub fn memory(mut self, memory: usize) -> Self {
        assert!(
            memory > 0,
            "Lbfgs::memory: the memory must hold at least one step, got 0"
        );
        self.memory = memory;
        self
    }

    /// The most iterations to do.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop when every gradient element is at most this in size.
    pub fn gtol(mut self, gtol: f64) -> Self {
        self.gtol = gtol;
        self
    }

    /// Minimises `objective`, which returns the value and the gradient at its argument, from
    /// `x0`.
    ///
    /// # Panics
    /// If `objective` returns a gradient whose length is not the parameters'.
    #[track_caller]
    pub fn minimize(
        &self,
        x0: Vec<f64>,
        mut objective: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    ) -> Minimum {
        let mut evaluate = |x: &[f64]| {
            let (f, g) = objective(x);
            assert_eq!(
                g.len(),
                x.len(),
                "Lbfgs::minimize: the objective returned a gradient of {} elements for {} \
                 parameters; it must return one element per parameter",
                g.len(),
                x.len()
            );
            (f, g)
        };
        let mut x = x0;
        let (mut fx, mut g) = evaluate(&x);
        let mut evaluations = 1;
        // (step, gradient change, 1 / their dot product), oldest first.
        let mut history: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(self.memory);
        let mut iterations = 0;
        while iterations < self.max_iter && max_abs(&g) > self.gtol {
            iterations += 1;
            let d = search_direction(&history, &g);
            let slope = dot(&g, &d);
            if slope >= 0.0 {
                // Not a descent direction (rounding): start the memory afresh.
                history.clear();
                continue;
            }
            let mut t = 1.0;
            let (x_new, f_new, g_new) = loop {
                let x_new: Vec<f64> = x.iter().zip(&d).map(|(x, d)| x + t * d).collect();
                let (f_new, g_new) = evaluate(&x_new);
                evaluations += 1;
                if f_new <= fx + 1e-4 * t * slope || t < 1e-10 {
                    break (x_new, f_new, g_new);
                }
                t *= 0.5;
            };
            let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
            let sy = dot(&s, &y);
            // Only a pair with positive curvature keeps the approximation positive definite.
            if sy > 1e-12 {
                if history.len() == self.memory {
                    history.pop_front();
                }
                history.push_back((s, y, 1.0 / sy));
            }
            let decrease = fx - f_new;
            x = x_new;
            fx = f_new;
            g = g_new;
            if decrease <= f64::EPSILON * 64.0 * fx.abs().max(1.0) {
                break;
            }
        }
        Minimum {
            grad_max: max_abs(&g),
            x,
            f: fx,
            iterations,
            evaluations,
        }
    }
}

/// `-H g` by the two-loop recursion, `H` the inverse Hessian that `history` implies.
fn search_direction(history: &VecDeque<(Vec<f64>, Vec<f64>, f64)>, g: &[f64]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
        alphas.push(a);
    }
    let gamma = match history.back() {
        Some((s, y, _)) => dot(s, y) / dot(y, y),
        // No curvature known yet: a first step of length 1 at most.
        None => 1.0 / dot(g, g).sqrt().max(1.0),
    };
    q.iter_mut().for_each(|q| *q *= gamma);
    for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
    }
    q.iter().map(|v| -v).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x) = sum_i i (x_i - 1)^2: minimum 0 at all ones.
    fn weighted_quadratic(x: &[f64]) -> (f64, Vec<f64>) {
        let weight = |i: usize| (i + 1) as f64;
        let f = x
            .iter()
            .enumerate()
            .map(|(i, &x)| weight(i) * (x - 1.0).powi(2))
            .sum();
        let g = x
            .iter()
            .enumerate()
            .map(|(i, &x)| 2.0 * weight(i) * (x - 1.0))
            .collect();
        (f, g)
    }

    #[test]
    fn a_quadratic_reaches_its_minimum_in_few_iterations() {
        let min = Lbfgs::new()
            .gtol(1e-6)
            .minimize(vec![0.0; 20], weighted_quadratic);
        // It stops at the gradient tolerance, or earlier when a step no longer lowers f by
        // more than rounding; either way f is at its minimum to about 1e-12.
        assert!(
            min.f < 1e-12,
            "f = {:e} after {} iterations",
            min.f,
            min.iterations
        );
        assert!(min.x.iter().all(|&x| (x - 1.0).abs() < 1e-6), "{:?}", min.x);
        // Gradient descent needs hundreds here (condition number 20); the curvature pairs
        // are what make it fast.
        assert!(min.iterations < 60, "{} iterations", min.iterations);
        assert!(min.evaluations > min.iterations);
    }

    #[test]
    fn rosenbrock_reaches_one_one() {
        let rosenbrock = |p: &[f64]| {
            let (x, y) = (p[0], p[1]);
            let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let g = vec![
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            (f, g)
        };
        let min = Lbfgs::new()
            .max_iter(500)
            .gtol(1e-8)
            .minimize(vec![-1.2, 1.0], rosenbrock);
        assert!(
            (min.x[0] - 1.0).abs() < 1e-6 && (min.x[1] - 1.0).abs() < 1e-6,
            "{min:?}"
        );
        assert!(min.grad_max < 1e-5, "{min:?}");
    }

    #[test]
    fn stops_at_max_iter_and_at_a_flat_start() {
        let min = Lbfgs::new()
            .max_iter(1)
            .minimize(vec![0.0; 20], weighted_quadratic);
        assert_eq!(min.iterations, 1);
        assert!(min.f > 1e-3, "one iteration cannot finish: {}", min.f);
        let at_min = Lbfgs::new().minimize(vec![1.0; 3], weighted_quadratic);
        assert_eq!((at_min.iterations, at_min.evaluations), (0, 1));
    }

    #[test]
    #[should_panic(expected = "gradient of 1 elements for 2 parameters")]
    fn a_gradient_of_the_wrong_length_is_named() {
        Lbfgs::new().minimize(vec![0.0, 0.0], |_| (1.0, vec![1.0]));
    }
}
