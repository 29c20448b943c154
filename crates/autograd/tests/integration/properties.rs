//! Property tests over random shapes: broadcasting binary ops and reductions (values and
//! gradients) against naive loops over multi-indices, and gradcheck over random compositions
//! of ops.

use proptest::prelude::*;
use tapegrad_autograd::gradcheck::{gradcheck, GradcheckOptions};
use tapegrad_autograd::{tensor, Tape, Tensor, Var};

/// The multi-index of the `flat`-th element of a row-major array of `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// The element of an operand of `shape` that output index `out_idx` reads under numpy
/// broadcasting (shapes aligned at the right, size-1 axes repeated).
fn source(out_idx: &[usize], shape: &[usize]) -> usize {
    let skip = out_idx.len() - shape.len();
    let idx: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if n == 1 { 0 } else { out_idx[skip + d] })
        .collect();
    ravel(&idx, shape)
}

/// Two operand shapes that broadcast together, and the shape they broadcast to: each
/// operand takes a suffix of a common list of axes, with some of them set to 1.
fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..4, 0..4).prop_flat_map(|full| {
        let r = full.len();
        let operand = move |full: Vec<usize>| {
            (0..=r, prop::collection::vec(any::<bool>(), r)).prop_map(move |(keep, ones)| {
                full[r - keep..]
                    .iter()
                    .zip(&ones[r - keep..])
                    .map(|(&n, &one)| if one { 1 } else { n })
                    .collect::<Vec<usize>>()
            })
        };
        (operand(full.clone()), operand(full)).prop_map(|(sa, sb)| {
            let r = sa.len().max(sb.len());
            let dim = |s: &[usize], d: usize| {
                let skip = r - s.len();
                if d < skip {
                    1
                } else {
                    s[d - skip]
                }
            };
            let out = (0..r).map(|d| dim(&sa, d).max(dim(&sb, d))).collect();
            (out, sa, sb)
        })
    })
}

fn values(shape: &[usize], lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let shape = shape.to_vec();
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n).prop_map(move |v| tensor(&shape, v))
}

/// Broadcast shapes with values: `a` in ±[0.5, 2], `b` positive (a safe divisor).
fn broadcast_case() -> impl Strategy<Value = (Vec<usize>, Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    broadcast_shapes().prop_flat_map(|(out, sa, sb)| {
        let signs = values(&sa, -1.0, 1.0);
        (
            Just(out.clone()),
            (values(&sa, 0.5, 2.0), signs).prop_map(|(m, s)| {
                let shape = m.shape().to_vec();
                let v = m
                    .iter()
                    .zip(s.iter())
                    .map(|(m, s)| if *s < 0.0 { -m } else { *m })
                    .collect();
                tensor(&shape, v)
            }),
            values(&sb, 0.5, 2.0),
            values(&out, -1.0, 1.0),
        )
    })
}

type Binary = for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>;

/// Each op with its scalar formula and its partial derivatives.
#[allow(clippy::type_complexity)]
fn binary_ops() -> Vec<(
    &'static str,
    Binary,
    fn(f64, f64) -> f64,
    fn(f64, f64) -> (f64, f64),
)> {
    vec![
        ("add", |a, b| a + b, |a, b| a + b, |_, _| (1.0, 1.0)),
        ("sub", |a, b| a - b, |a, b| a - b, |_, _| (1.0, -1.0)),
        ("mul", |a, b| a * b, |a, b| a * b, |a, b| (b, a)),
        (
            "div",
            |a, b| a / b,
            |a, b| a / b,
            |a, b| (1.0 / b, -a / (b * b)),
        ),
        (
            "maximum",
            |a, b| a.maximum(b),
            f64::max,
            |a, b| {
                if a > b {
                    (1.0, 0.0)
                } else if a < b {
                    (0.0, 1.0)
                } else {
                    (0.5, 0.5)
                }
            },
        ),
        (
            "minimum",
            |a, b| a.minimum(b),
            f64::min,
            |a, b| {
                if a < b {
                    (1.0, 0.0)
                } else if a > b {
                    (0.0, 1.0)
                } else {
                    (0.5, 0.5)
                }
            },
        ),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn broadcasting_binary_ops_match_naive_loops((out, a, b, w) in broadcast_case()) {
        for (name, op, f, df) in binary_ops() {
            let tape = Tape::<f64>::new();
            let (va, vb) = (tape.var(a.clone()), tape.var(b.clone()));
            let y = op(va, vb);
            prop_assert_eq!(y.shape(), out.clone(), "{} shape", name);
            let y_val = y.value();
            let n: usize = out.iter().product();
            let (av, bv): (Vec<f64>, Vec<f64>) = (a.iter().copied().collect(), b.iter().copied().collect());
            let mut ga = vec![0.0; a.len()];
            let mut gb = vec![0.0; b.len()];
            let wv: Vec<f64> = w.iter().copied().collect();
            for (k, got) in y_val.iter().enumerate().take(n) {
                let idx = unravel(k, &out);
                let (i, j) = (source(&idx, a.shape()), source(&idx, b.shape()));
                // Elementwise results are exact: the same one rounding as the scalar formula.
                prop_assert_eq!(*got, f(av[i], bv[j]), "{} at {:?}", name, idx);
                let (da, db) = df(av[i], bv[j]);
                ga[i] += wv[k] * da;
                gb[j] += wv[k] * db;
            }
            let loss = (y * tape.constant(w.clone())).sum();
            let g = tape.backward(loss);
            let (got_a, got_b) = (g.get(va).unwrap(), g.get(vb).unwrap());
            prop_assert_eq!(got_a.shape(), a.shape());
            prop_assert_eq!(got_b.shape(), b.shape());
            for (x, y) in got_a.iter().zip(&ga) {
                prop_assert!(close(*x, *y), "{} d/da {} vs {}", name, x, y);
            }
            for (x, y) in got_b.iter().zip(&gb) {
                prop_assert!(close(*x, *y), "{} d/db {} vs {}", name, x, y);
            }
        }
    }

    #[test]
    fn reductions_match_naive_loops(
        (shape, x, axes, keepdims) in prop::collection::vec(1usize..5, 1..4).prop_flat_map(|shape| {
            let r = shape.len();
            (
                Just(shape.clone()),
                values(&shape, -2.0, 2.0),
                prop::collection::vec(any::<bool>(), r),
                any::<bool>(),
            )
        })
    ) {
        let r = shape.len();
        let reduced: Vec<usize> = (0..r).filter(|&d| axes[d]).collect();
        let axes_arg: Vec<isize> = reduced
            .iter()
            .enumerate()
            // Alternate positive and negative axis numbers.
            .map(|(k, &d)| if k % 2 == 0 { d as isize } else { d as isize - r as isize })
            .collect();
        let kept_shape: Vec<usize> = (0..r).map(|d| if axes[d] { 1 } else { shape[d] }).collect();
        let out_shape: Vec<usize> = if keepdims {
            kept_shape.clone()
        } else {
            (0..r).filter(|&d| !axes[d]).map(|d| shape[d]).collect()
        };
        let m: usize = reduced.iter().map(|&d| shape[d]).product();
        let n_out: usize = kept_shape.iter().product();
        let xv: Vec<f64> = x.iter().copied().collect();
        let mut sum = vec![0.0; n_out];
        let mut max = vec![f64::NEG_INFINITY; n_out];
        let mut min = vec![f64::INFINITY; n_out];
        for (k, &v) in xv.iter().enumerate() {
            let o = source(&unravel(k, &shape), &kept_shape);
            sum[o] += v;
            max[o] = max[o].max(v);
            min[o] = min[o].min(v);
        }
        let tape = Tape::<f64>::new();
        let vx = tape.var(x.clone());
        let cases: Vec<(&str, Var<'_, f64>, Vec<f64>)> = vec![
            ("sum_axes", vx.sum_axes(&axes_arg, keepdims), sum.clone()),
            ("mean_axes", vx.mean_axes(&axes_arg, keepdims), sum.iter().map(|s| s / m as f64).collect()),
            ("max_axes", vx.max_axes(&axes_arg, keepdims), max),
            ("min_axes", vx.min_axes(&axes_arg, keepdims), min),
        ];
        for (name, y, want) in &cases {
            prop_assert_eq!(y.shape(), out_shape.clone(), "{} shape", name);
            for (got, want) in y.value().iter().zip(want) {
                prop_assert!(close(*got, *want), "{}: {} vs {}", name, got, want);
            }
        }
        // d sum / dx = 1 and d mean / dx = 1/m, broadcast back over the reduced axes.
        let g = tape.backward(vx.mean_axes(&axes_arg, keepdims).sum());
        for v in g.get(vx).unwrap().iter() {
            prop_assert!(close(*v, 1.0 / m as f64));
        }
    }
}

/// A random composition of smooth ops (no kinks, bounded values) of two inputs.
#[derive(Clone, Debug)]
enum Step {
    Tanh,
    Sigmoid,
    Softplus,
    Square,
    Scale(f64),
    AddOther,
    MulOther,
    DivByOnePlusSquareOfOther,
    Exp,
    SumRowsKeep,
    SoftmaxRows,
    LogSumExpRowsKeep,
    MatmulOtherT,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        Just(Step::Tanh),
        Just(Step::Sigmoid),
        Just(Step::Softplus),
        Just(Step::Square),
        (-1.5f64..1.5).prop_map(Step::Scale),
        Just(Step::AddOther),
        Just(Step::MulOther),
        Just(Step::DivByOnePlusSquareOfOther),
        Just(Step::Exp),
        Just(Step::SumRowsKeep),
        Just(Step::SoftmaxRows),
        Just(Step::LogSumExpRowsKeep),
        Just(Step::MatmulOtherT),
    ];
    prop::collection::vec(step, 1..7)
}

fn apply<'t>(steps: &[Step], x: Var<'t, f64>, other: Var<'t, f64>) -> Var<'t, f64> {
    let mut h = x;
    for s in steps {
        // Keep values in a range where exp and powers stay tame.
        h = match s {
            Step::Tanh => h.tanh(),
            Step::Sigmoid => h.sigmoid(),
            Step::Softplus => h.softplus(),
            Step::Square => h.tanh().square(),
            Step::Scale(c) => h * *c,
            Step::AddOther => h + other,
            Step::MulOther => h * other,
            Step::DivByOnePlusSquareOfOther => h / (other.square() + 1.0),
            Step::Exp => h.tanh().exp(),
            Step::SumRowsKeep => h.sum_axes(&[-1], true),
            Step::SoftmaxRows => h.softmax(-1),
            Step::LogSumExpRowsKeep => h.logsumexp_axes(&[-1], true),
            // Broadcast to [r, c] (h may be [r, 1]), times [c, r] gives [r, r], times the
            // other input gives [r, c] again.
            Step::MatmulOtherT => (h.tanh() + other * 0.5).matmul(other.t()).matmul(other) * 0.25,
        };
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn gradcheck_passes_on_random_compositions(
        (rows, cols, steps, seed) in (1usize..4, 1usize..4, steps(), any::<u64>())
    ) {
        let mut rng = tapegrad_autograd::random::SplitMix64::new(seed);
        let mut sample = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect() };
        let x = tensor(&[rows, cols], sample(rows * cols));
        let other = tensor(&[rows, cols], sample(rows * cols));
        let report = gradcheck(
            |v| apply(&steps, v[0], v[1]).sum(),
            &[x, other],
            &GradcheckOptions::default(),
        );
        prop_assert!(report.is_ok(), "{:?}: {}", steps, report.unwrap_err());
    }
}
