//! Smooth activations of newer networks: GELU (the exact form with `erf`, and the tanh
//! approximation), ELU and SiLU, and the error function they are built on.
//!
//! Each is one [`map`] forward and one [`zip_with`] backward; each `backward_vars` writes the
//! derivative with ops on variables, so the gradient can be differentiated again.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI};

use super::{indicator, op_family};
use crate::gradcheck::registry::{sample, sample_in, Case};
use crate::kernels::elementwise::{map, zip_with};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The smooth activations.
    SmoothActivation {
        /// `erf a = 2/sqrt(pi) ∫_0^a e^(-t²) dt`
        Erf => "erf",
        /// `a Φ(a)`, `Φ` the standard normal distribution function
        Gelu => "gelu",
        /// `a/2 (1 + tanh(sqrt(2/pi) (a + 0.044715 a³)))`
        GeluTanh => "gelu_tanh",
        /// `a` where positive, `alpha (e^a - 1)` elsewhere
        Elu => "elu",
        /// `a sigmoid(a)`
        Silu => "silu",
    }
}

/// The constant of the tanh approximation of GELU.
const GELU_CUBIC: f64 = 0.044715;

/// `sqrt(2 / pi)`.
fn sqrt_2_over_pi() -> f64 {
    (2.0 / PI).sqrt()
}

/// The error function, within 1e-15 of the exact value.
///
/// From the series `erf a = 2/sqrt(pi) e^(-a²) Σ 2^n a^(2n+1) / (1·3···(2n+1))`, whose terms
/// are all positive, so nothing cancels; beyond |a| = 6, `1 - erf a < 3e-17`, below the last
/// place of 1.
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a.is_nan() {
        return f64::NAN;
    }
    if a >= 6.0 {
        return x.signum();
    }
    let a2 = a * a;
    let (mut term, mut sum) = (a, a);
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= 2.0 * a2 / (2.0 * n + 1.0);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    (FRAC_2_SQRT_PI * (-a2).exp() * sum).copysign(x)
}

/// The standard normal density `e^(-a²/2) / sqrt(2 pi)`.
fn normal_density(a: f64) -> f64 {
    (-0.5 * a * a).exp() / (2.0 * PI).sqrt()
}

/// The standard normal distribution function `(1 + erf(a / sqrt 2)) / 2`.
fn normal_cdf(a: f64) -> f64 {
    0.5 * (1.0 + erf(a * FRAC_1_SQRT_2))
}

/// `f` applied in f64 to a value of any element type.
fn in_f64<T: Real>(f: impl Fn(f64) -> f64) -> impl Fn(T) -> T {
    move |a: T| T::lit(f(a.to_f64().unwrap_or(f64::NAN)))
}

/// `g * f(a)` for the gradient `g` and the op's input `a`.
fn times<T: Real>(ctx: &BackwardContext<'_, T>, f: impl Fn(f64) -> f64 + Sync) -> Tensor<T> {
    let f = in_f64::<T>(f);
    zip_with(ctx.grad_output(), ctx.input(0), |g, a| g * f(a))
        .expect("the output gradient has the shape of the op's input")
}

/// `y = erf a`; `dy/da = 2/sqrt(pi) e^(-a²)`.
struct ErfOp;

impl<T: Real> Op<T> for ErfOp {
    fn name(&self) -> &str {
        SmoothActivation::Erf.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], in_f64(erf)))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(times(ctx, |a| FRAC_2_SQRT_PI * (-a * a).exp()))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let a = ctx.input(0);
        let d = a.square().mul_scalar(T::lit(-1.0)).exp();
        Some(vec![Some(
            ctx.grad_output() * d.mul_scalar(T::lit(FRAC_2_SQRT_PI)),
        )])
    }
}

/// `y = a Φ(a)`; `dy/da = Φ(a) + a φ(a)`, `φ` the standard normal density.
struct GeluOp;

impl<T: Real> Op<T> for GeluOp {
    fn name(&self) -> &str {
        SmoothActivation::Gelu.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], in_f64(|a| a * normal_cdf(a))))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(times(ctx, |a| normal_cdf(a) + a * normal_density(a)))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let a = ctx.input(0);
        let cdf = a
            .mul_scalar(T::lit(FRAC_1_SQRT_2))
            .erf()
            .add_scalar(T::one())
            .mul_scalar(T::lit(0.5));
        let density = a
            .square()
            .mul_scalar(T::lit(-0.5))
            .exp()
            .mul_scalar(T::lit(1.0 / (2.0 * PI).sqrt()));
        Some(vec![Some(ctx.grad_output() * (cdf + a * density))])
    }
}

/// `y = a/2 (1 + tanh u)`, `u = k (a + c a³)`, `k = sqrt(2/pi)`, `c = 0.044715`;
/// `dy/da = (1 + tanh u)/2 + a/2 (1 - tanh² u) k (1 + 3 c a²)`.
struct GeluTanhOp;

fn gelu_tanh_derivative(a: f64) -> f64 {
    let k = sqrt_2_over_pi();
    let t = (k * (a + GELU_CUBIC * a * a * a)).tanh();
    0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * k * (1.0 + 3.0 * GELU_CUBIC * a * a)
}

impl<T: Real> Op<T> for GeluTanhOp {
    fn name(&self) -> &str {
        SmoothActivation::GeluTanh.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let k = sqrt_2_over_pi();
        Ok(map(
            x[0],
            in_f64(move |a| 0.5 * a * (1.0 + (k * (a + GELU_CUBIC * a * a * a)).tanh())),
        ))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(times(ctx, gelu_tanh_derivative))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let a = ctx.input(0);
        let k = T::lit(sqrt_2_over_pi());
        let a2 = a.square();
        let t = (a + a2 * a * T::lit(GELU_CUBIC)).mul_scalar(k).tanh();
        let du = a2.mul_scalar(T::lit(3.0 * GELU_CUBIC)).add_scalar(T::one());
        let d = t.add_scalar(T::one()).mul_scalar(T::lit(0.5))
            + a * t.square().rsub_scalar(T::one()) * du.mul_scalar(k * T::lit(0.5));
        Some(vec![Some(ctx.grad_output() * d)])
    }
}

/// `y = a` for `a > 0`, `alpha (e^a - 1)` otherwise; `dy/da = 1` for `a > 0`, `alpha e^a =
/// y + alpha` otherwise.
struct EluOp<T> {
    alpha: T,
}

impl<T: Real> Op<T> for EluOp<T> {
    fn name(&self) -> &str {
        SmoothActivation::Elu.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let alpha = self.alpha;
        Ok(map(x[0], |a| {
            if a > T::zero() {
                a
            } else {
                alpha * a.exp_m1()
            }
        }))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let alpha = self.alpha;
        let grad = zip_with(ctx.grad_output(), ctx.input(0), |g, a| {
            if a > T::zero() {
                g
            } else {
                g * alpha * a.exp()
            }
        });
        vec![Some(
            grad.expect("the output gradient has the input's shape"),
        )]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        // From the output, `alpha e^a = y + alpha`: `e^a` itself would overflow to infinity
        // for large positive inputs, and infinity times the mask's 0 is NaN.
        let (positive, rest) = ctx.input(0).with_value(|a| {
            (
                indicator(a, |v| v > T::zero()),
                indicator(a, |v| v <= T::zero()),
            )
        });
        let negative_slope = ctx.output().add_scalar(self.alpha) * ctx.constant(rest);
        Some(vec![Some(
            ctx.grad_output() * (negative_slope + ctx.constant(positive)),
        )])
    }
}

/// `y = a sigmoid(a)`; `dy/da = s (1 + a (1 - s))`, `s = sigmoid(a)`.
struct SiluOp;

fn logistic(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

impl<T: Real> Op<T> for SiluOp {
    fn name(&self) -> &str {
        SmoothActivation::Silu.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(map(x[0], in_f64(|a| a * logistic(a))))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(times(ctx, |a| {
            let s = logistic(a);
            s * (1.0 + a * (1.0 - s))
        }))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let a = ctx.input(0);
        let s = a.sigmoid();
        let d = s * (a * s.rsub_scalar(T::one())).add_scalar(T::one());
        Some(vec![Some(ctx.grad_output() * d)])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The error function `erf x` elementwise, in `(-1, 1)`, within 1e-15 in `f64`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.var(tensor(&[2], vec![0.5, 1.0])).erf().value();
    /// assert!((y[[0]] - 0.5204998778130465).abs() < 1e-15);
    /// assert!((y[[1]] - 0.8427007929497149).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn erf(self) -> Var<'t, T> {
        super::or_panic(self.record1(SmoothActivation::Erf, ErfOp))
    }

    /// GELU, `x Φ(x)` with `Φ` the standard normal distribution function, in its exact form
    /// `x/2 (1 + erf(x / sqrt 2))` (PyTorch's default, `approximate='none'`).
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.var(tensor(&[2], vec![1.0, -1.0])).gelu().value();
    /// assert!((y[[0]] - 0.8413447460685429).abs() < 1e-15);
    /// assert!((y[[1]] + 0.15865525393145707).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn gelu(self) -> Var<'t, T> {
        super::or_panic(self.record1(SmoothActivation::Gelu, GeluOp))
    }

    /// GELU in the tanh approximation of BERT and GPT-2 (PyTorch's `approximate='tanh'`):
    /// `x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))`, within 0.0005 of [`gelu`](Var::gelu).
    #[track_caller]
    pub fn gelu_tanh(self) -> Var<'t, T> {
        super::or_panic(self.record1(SmoothActivation::GeluTanh, GeluTanhOp))
    }

    /// ELU: `x` where positive, `alpha (e^x - 1)` elsewhere (`alpha` is usually 1), smooth
    /// at 0 for `alpha = 1` and saturating at `-alpha` for very negative inputs.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.var(tensor(&[2], vec![2.0, -1.0])).elu(1.0).value();
    /// assert_eq!(y[[0]], 2.0);
    /// assert!((y[[1]] - (-1.0f64).exp_m1()).abs() < 1e-16);
    /// ```
    #[track_caller]
    pub fn elu(self, alpha: T) -> Var<'t, T> {
        super::or_panic(self.record1(SmoothActivation::Elu, EluOp { alpha }))
    }

    /// SiLU (swish with β = 1): `x sigmoid(x)` elementwise.
    #[track_caller]
    pub fn silu(self) -> Var<'t, T> {
        super::or_panic(self.record1(SmoothActivation::Silu, SiluOp))
    }
}

/// Gradcheck cases: vectors, batches and scalars, inputs near 0 and out to ±8.
pub(crate) fn gradcheck_cases(kind: SmoothActivation) -> Vec<Case> {
    type Unary = fn(Var<'_, f64>) -> Var<'_, f64>;
    let elementwise = |name: &str, f: Unary| -> Vec<Case> {
        vec![
            Case::new(format!("{name} [5]"), vec![sample(&[5], 61)], move |v| {
                f(v[0])
            }),
            Case::new(
                format!("{name} [2, 3, 4]"),
                vec![sample(&[2, 3, 4], 62)],
                move |v| f(v[0]),
            ),
            Case::new(
                format!("{name} []"),
                vec![sample(&[], 63)],
                move |v| f(v[0]),
            ),
            Case::new(
                format!("{name} [4, 3] in ±[1, 8]"),
                vec![sample_in(&[4, 3], 64, 1.0, 8.0, true)],
                move |v| f(v[0]),
            ),
        ]
    };
    match kind {
        SmoothActivation::Erf => elementwise("erf", |a| a.erf()),
        SmoothActivation::Gelu => elementwise("gelu", |a| a.gelu()),
        SmoothActivation::GeluTanh => elementwise("gelu_tanh", |a| a.gelu_tanh()),
        SmoothActivation::Elu => {
            let mut cases = elementwise("elu 1", |a| a.elu(1.0));
            cases.push(Case::new(
                "elu 0.5 [2, 5]",
                vec![sample(&[2, 5], 65)],
                |v| v[0].elu(0.5),
            ));
            cases
        }
        SmoothActivation::Silu => elementwise("silu", |a| a.silu()),
    }
}

#[cfg(test)]
mod tests {
    use super::erf;
    use crate::{tensor, Tape};

    /// Values from tables of the error function and the definitions, to 15 digits.
    #[test]
    fn erf_matches_its_table() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-1.0, -0.842_700_792_949_714_9),
        ] {
            assert!((erf(x) - want).abs() < 1e-15, "erf({x}) = {}", erf(x));
        }
        assert_eq!(erf(7.0), 1.0);
        assert_eq!(erf(-7.0), -1.0);
        assert!(erf(f64::NAN).is_nan());
    }

    #[test]
    fn activations_match_values_computed_by_hand() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[3], vec![1.0, -1.0, -2.0]));
        let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // Φ(1) = 0.8413447460685429, Φ(-1) = 0.15865525393145707.
        let gelu = x.gelu().value();
        close(gelu[[0]], 0.841_344_746_068_542_9);
        close(gelu[[1]], -0.158_655_253_931_457_07);
        // 0.5 (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.8411919906082768.
        close(x.gelu_tanh().value()[[0]], 0.841_191_990_608_276_8);
        // sigmoid(1) = 0.7310585786300049, -2 sigmoid(-2) = -0.2384058440442351.
        let silu = x.silu().value();
        close(silu[[0]], 0.731_058_578_630_004_9);
        close(silu[[2]], -0.238_405_844_044_235_1);
        let elu = x.elu(2.0).value();
        close(elu[[0]], 1.0);
        close(elu[[1]], 2.0 * (-1.0f64).exp_m1());
        // d/dx GELU at 1: Φ(1) + φ(1) = 0.8413447460685429 + 0.24197072451914337.
        let g = tape.backward(x.gelu().sum());
        close(g.get(x).unwrap()[[0]], 1.083_315_470_587_686_3);
    }

    #[test]
    fn large_inputs_stay_finite_in_both_orders() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[4], vec![-200.0f32, 200.0, -30.0, 30.0]));
        for y in [x.gelu(), x.gelu_tanh(), x.elu(1.0), x.silu()] {
            assert!(y.value().iter().all(|v| v.is_finite()), "{}", y.value());
            let g = tape.grad(y.sum(), &[x])[0];
            assert!(g.value().iter().all(|v| v.is_finite()), "{}", g.value());
            let gg = tape.backward(g.sum());
            assert!(gg.get(x).unwrap().iter().all(|v| v.is_finite()));
        }
    }
}
