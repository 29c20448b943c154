//! Batching, preprocessing, toy data sets and pictures.

use ndarray::Array3;
use tapegrad_autograd::tensor;
use tapegrad_datasets::batch::{flatten, one_hot, Batches, Dataset, Standardizer};
use tapegrad_datasets::picture::{save_grid, save_prediction_grid, GridOptions};
use tapegrad_datasets::toy::{
    game_inputs, grokking, make_circles, make_moons, streetlights, streetlights_backprop,
};

fn numbered(n: usize) -> Dataset<f64> {
    Dataset::new(
        tensor(&[n, 2], (0..2 * n).map(|v| v as f64).collect()),
        tensor(&[n, 1], (0..n).map(|v| v as f64).collect()),
    )
}

#[test]
fn batches_cover_every_sample_once_in_a_seeded_order() {
    let data = numbered(10);
    let collect = |b: Batches<f64>| -> Vec<Vec<f64>> {
        b.map(|(x, y)| {
            assert_eq!(x.shape()[0], y.shape()[0]);
            // x rows stay paired with their y.
            for (r, &l) in x.outer_iter().zip(y.iter()) {
                assert_eq!(r[0], 2.0 * l);
            }
            y.iter().copied().collect()
        })
        .collect()
    };
    let plain = collect(data.batches(4));
    assert_eq!(
        plain,
        vec![
            vec![0.0, 1.0, 2.0, 3.0],
            vec![4.0, 5.0, 6.0, 7.0],
            vec![8.0, 9.0]
        ]
    );
    let a = collect(data.batches(4).shuffle(3));
    let b = collect(data.batches(4).shuffle(3));
    let c = collect(data.batches(4).shuffle(4));
    assert_eq!(a, b, "same seed, same order");
    assert_ne!(a, c, "another seed, another order");
    let mut all: Vec<f64> = a.concat();
    all.sort_by(f64::total_cmp);
    assert_eq!(all, (0..10).map(|v| v as f64).collect::<Vec<_>>());
    assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    let dropped = collect(data.batches(4).shuffle(3).drop_last(true));
    assert_eq!(dropped, a[..2].to_vec());
    assert_eq!(data.batches(4).len(), 3);
    assert_eq!(data.batches(4).drop_last(true).len(), 2);
    assert_eq!(data.batches(5).drop_last(true).len(), 2);
}

#[test]
fn one_hot_flatten_and_split() {
    let y = one_hot::<f32>(&[3, 0, 9], 10);
    assert_eq!(y.shape(), &[3, 10]);
    assert_eq!(y[[0, 3]], 1.0);
    assert_eq!(y.sum(), 3.0);
    let x = tensor(&[2, 2, 3], (0..12).map(|v| v as f32).collect());
    assert_eq!(flatten(&x).shape(), &[2, 6]);

    let data = numbered(100);
    let (train, valid) = data.split(20, 1);
    assert_eq!((train.len(), valid.len()), (80, 20));
    let mut ids: Vec<f64> = train.y.iter().chain(valid.y.iter()).copied().collect();
    ids.sort_by(f64::total_cmp);
    assert_eq!(
        ids,
        (0..100).map(|v| v as f64).collect::<Vec<_>>(),
        "disjoint and complete"
    );
    let (a, b) = data.split_last(10);
    assert_eq!(b.y[[0, 0]], 90.0);
    assert_eq!(a.len(), 90);
}

#[test]
fn standardizer_fitted_on_train_is_applied_unchanged_to_test() {
    let train = tensor(&[4, 2], vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0, 7.0, 5.0]);
    let s = Standardizer::fit(&train);
    assert_eq!(s.mean.to_vec(), vec![4.0, 5.0]);
    assert!((s.std[0] - 5.0f64.sqrt()).abs() < 1e-12);
    assert_eq!(s.std[1], 1.0, "constant feature: no division by zero");
    let t = s.transform(&train);
    let col0: Vec<f64> = t.column_view();
    let mean: f64 = col0.iter().sum::<f64>() / 4.0;
    assert!(mean.abs() < 1e-12);
    let test = s.transform(&tensor(&[1, 2], vec![4.0, 6.0]));
    assert_eq!(test.as_slice().unwrap(), &[0.0, 1.0]);
}

trait Column {
    fn column_view(&self) -> Vec<f64>;
}
impl Column for tapegrad_autograd::Tensor<f64> {
    fn column_view(&self) -> Vec<f64> {
        self.outer_iter().map(|r| r[0]).collect()
    }
}

#[test]
fn grokking_tables_and_streetlights() {
    assert_eq!(game_inputs(0), [8.5, 0.65, 1.2]);
    assert_eq!(grokking::NUMBER_OF_TOES, [8.5, 9.5, 10.0, 9.0]);
    assert_eq!(grokking::WIN_OR_LOSE_BINARY, [1.0, 1.0, 0.0, 1.0]);
    let s = streetlights::<f64>();
    assert_eq!(
        s.x.as_slice().unwrap(),
        &[1., 0., 1., 0., 1., 1., 0., 0., 1., 1., 1., 1., 0., 1., 1., 1., 0., 1.]
    );
    assert_eq!(s.y.as_slice().unwrap(), &[0., 1., 0., 1., 1., 0.]);
    // Walk exactly when the middle light is on.
    for (r, &y) in s.x.outer_iter().zip(s.y.iter()) {
        assert_eq!(r[1], y);
    }
    let b = streetlights_backprop::<f32>();
    assert_eq!(b.x.shape(), &[4, 3]);
    assert_eq!(b.y.as_slice().unwrap(), &[1., 1., 0., 0.]);
}

#[test]
fn moons_and_circles_follow_sklearn_formulas_and_seeds() {
    let clean = make_moons::<f64>(100, 0.0, 0);
    assert_eq!(clean.x.shape(), &[100, 2]);
    assert_eq!(clean.y.sum(), 50.0);
    for (p, &l) in clean.x.outer_iter().zip(clean.y.iter()) {
        let (x, y) = (p[0], p[1]);
        let r = if l == 0.0 {
            x * x + y * y
        } else {
            (x - 1.0).powi(2) + (y - 0.5).powi(2)
        };
        assert!((r - 1.0).abs() < 1e-12, "point ({x}, {y}) label {l}");
    }
    let a = make_moons::<f64>(300, 0.2, 3);
    let b = make_moons::<f64>(300, 0.2, 3);
    let c = make_moons::<f64>(300, 0.2, 4);
    assert_eq!(a.x, b.x);
    assert_eq!(a.y, b.y);
    assert_ne!(a.x, c.x);
    // Noise of standard deviation 0.2: the mean squared distance to the clean moon is ~0.08.
    let odd = make_moons::<f64>(301, 0.0, 1);
    assert_eq!(odd.y.sum(), 151.0, "the inner moon gets the extra sample");

    let circles = make_circles::<f64>(200, 0.0, 0.5, 9);
    for (p, &l) in circles.x.outer_iter().zip(circles.y.iter()) {
        let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
        let want = if l == 0.0 { 1.0 } else { 0.5 };
        assert!((r - want).abs() < 1e-12);
    }
    let noisy = make_circles::<f32>(1000, 0.1, 0.5, 1);
    let spread: f64 = noisy
        .x
        .outer_iter()
        .zip(noisy.y.iter())
        .map(|(p, &l)| {
            let r = ((p[0] * p[0] + p[1] * p[1]) as f64).sqrt();
            let want = if l == 0.0 { 1.0 } else { 0.5 };
            (r - want).powi(2)
        })
        .sum::<f64>()
        / 1000.0;
    assert!((0.005..0.02).contains(&spread), "radial variance {spread}");
}

fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (info.width, info.height, buf)
}

#[test]
fn pictures_of_samples_and_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let mut images = Array3::<u8>::zeros((5, 28, 28));
    for (k, mut img) in images.outer_iter_mut().enumerate() {
        img.slice_mut(ndarray::s![4..24, 10 + k..14 + k]).fill(255);
    }
    let labels: Vec<String> = (0..5).map(|k| k.to_string()).collect();
    let opts = GridOptions {
        columns: 3,
        scale: 2,
        invert: false,
    };
    let p = tmp.path().join("grid.png");
    save_grid(&p, images.view(), &labels, &opts).unwrap();
    let (w, h, _) = read_png(&p);
    assert!(w > 3 * 56 && h > 2 * 56, "{w}x{h}");

    let p = tmp.path().join("pred.png");
    let names = ["A", "B", "C", "D", "E"];
    save_prediction_grid(
        &p,
        images.view(),
        &[0, 1, 3, 3, 4],
        &[0, 1, 2, 3, 4],
        &names,
        &opts,
    )
    .unwrap();
    let (w, h, px) = read_png(&p);
    let at = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        [px[i], px[i + 1], px[i + 2]]
    };
    let green = (0..w).any(|x| at(x, 5) == [30, 170, 60]);
    assert!(green, "a right prediction gets a green frame");
    let red = (0..w).any(|x| (0..h).any(|y| at(x, y) == [210, 40, 40]));
    assert!(red, "a wrong prediction gets a red frame");
    assert!(save_grid(&p, images.view(), &labels[..2], &opts).is_err());
    assert!(save_prediction_grid(&p, images.view(), &[0; 5], &[9; 5], &names, &opts).is_err());
}
