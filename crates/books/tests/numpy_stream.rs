//! numpy's stream where the core takes any stream: dropout, initialisers and scikit-learn's
//! generators draw what numpy draws.

use tapegrad_autograd::{tensor, Tape};
use tapegrad_books::{sklearn, NumpyRandomState};
use tapegrad_nn::init::Init;

#[test]
fn matches_numpy_inverted_dropout_and_the_gradient_is_the_mask() {
    // numpy 2.4.6: np.random.seed(1); a = np.arange(1, 11.).reshape(2, 5)
    // d = np.random.rand(2, 5) < 0.7; a = a * d; a = a / 0.7
    let expected = [
        1.4285714285714286,
        0.0,
        4.285714285714286,
        5.714285714285714,
        7.142857142857143,
        8.571428571428571,
        10.0,
        11.428571428571429,
        12.857142857142858,
        14.285714285714286,
    ];
    let tape = Tape::<f64>::new();
    let a = tape.var(tensor(&[2, 5], (1..=10).map(f64::from).collect()));
    let d = a.dropout(0.3, &mut NumpyRandomState::new(1));
    assert_eq!(d.value().as_slice().unwrap(), &expected);
    let g = tape.backward(d.sum());
    let g = g.get(a).unwrap();
    for (k, &gv) in g.iter().enumerate() {
        let want = if expected[k] == 0.0 { 0.0 } else { 1.0 / 0.7 };
        assert_eq!(gv, want);
    }
}

#[test]
fn initialisers_keep_numpy_s_normal_cache_across_calls() {
    let normal = Init::Normal {
        mean: 0.0,
        std: 1.0,
    };
    let mut a = NumpyRandomState::new(3);
    let whole = normal.tensor_sampled::<f64>(&[6], &mut a);
    let mut b = NumpyRandomState::new(3);
    let first = normal.tensor_sampled::<f64>(&[3], &mut b);
    let rest = normal.tensor_sampled::<f64>(&[3], &mut b);
    let joined: Vec<f64> = first.iter().chain(rest.iter()).copied().collect();
    assert_eq!(whole.as_slice().unwrap(), joined.as_slice());
    assert_eq!(whole[0], NumpyRandomState::new(3).standard_normal());
    // From a fresh stream, the generic path (any stream, the polar method in numpy's order)
    // draws the same numbers.
    let generic = normal.tensor::<f64>(&[6], &mut NumpyRandomState::new(3));
    assert_eq!(generic, whole);
}

/// scikit-learn's generators on numpy's global stream: the row order is one
/// `RandomState.shuffle` of `arange(n)`, then the noise is `n * 2` normals in row-major order,
/// and the stream is left just after them. (That the result is scikit-learn's, digit for digit,
/// is checked end to end by the root package's Coursera tests, whose printed costs depend on
/// every coordinate.)
#[test]
fn sklearn_generators_draw_numpy_s_stream_in_sklearn_s_order() {
    let n = 300;
    let clean_moon = |label: f64, k: usize| {
        let t = k as f64 * (std::f64::consts::PI / 149.0);
        let t = if k == 149 { std::f64::consts::PI } else { t };
        if label == 0.0 {
            [t.cos(), t.sin()]
        } else {
            [1.0 - t.cos(), 1.0 - t.sin() - 0.5]
        }
    };
    let mut rng = NumpyRandomState::new(3);
    let moons = sklearn::make_moons::<f64>(n, 0.2, &mut rng);
    let mut replay = NumpyRandomState::new(3);
    let order = replay.permutation(n);
    for (row, &i) in order.iter().enumerate() {
        let (label, k) = if i < 150 { (0.0, i) } else { (1.0, i - 150) };
        assert_eq!(moons.y[[row, 0]], label);
        for (c, clean) in clean_moon(label, k).into_iter().enumerate() {
            let noisy = clean + 0.2 * replay.standard_normal();
            assert_eq!(moons.x[[row, c]], noisy, "row {row}, coordinate {c}");
        }
    }
    assert_eq!(rng, replay, "the stream is left after the 600 normals");

    // Without noise no normal is drawn; circles use endpoint-free angles 2 pi k / (n / 2).
    let mut rng = NumpyRandomState::new(1);
    let circles = sklearn::make_circles::<f64>(10, 0.0, 0.8, &mut rng);
    let mut replay = NumpyRandomState::new(1);
    let order = replay.permutation(10);
    assert_eq!(rng, replay);
    for (row, &i) in order.iter().enumerate() {
        let (r, k) = if i < 5 { (1.0, i) } else { (0.8, i - 5) };
        let t = k as f64 * (std::f64::consts::TAU / 5.0);
        assert_eq!(circles.x[[row, 0]], t.cos() * r);
        assert_eq!(circles.x[[row, 1]], t.sin() * r);
        assert_eq!(circles.y[[row, 0]], if i < 5 { 0.0 } else { 1.0 });
    }
}
