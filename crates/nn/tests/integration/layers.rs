//! The normalisation, embedding and recurrent layers against values computed by hand (the
//! formulas in each test, evaluated in f64 with Python's `math`), their gradients against
//! finite differences, the L2 penalty against weight decay, and saving and loading them.

use ndarray::Axis;
use tapegrad_nn::autograd::gradcheck::{gradcheck, GradcheckOptions};
use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Param, Tape, Tensor};
use tapegrad_nn::io::{load_weights, save_weights};
use tapegrad_nn::layer::{
    BatchNorm1d, BatchNorm2d, Conv2d, Dense, Embedding, Flatten, Gelu, GruCell, LayerNorm,
    LstmCell, Recurrent, RecurrentCell, Relu, RnnCell, Sequential,
};
use tapegrad_nn::loss::{l2_penalty, mse, CategoricalCrossentropy, Reduce};
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::{Adam, Optimizer, Sgd};
use tapegrad_nn::Module;

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    tensor(shape, (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect())
}

#[test]
fn batch_norm_uses_batch_statistics_in_training_and_running_ones_in_evaluation() {
    // Channel 0: [1, 3], mean 2, biased variance 1, unbiased 2; channel 1: [0, 0].
    let mut bn = BatchNorm1d::<f64>::from_tensors(
        tensor(&[2], vec![2.0, 1.0]),
        tensor(&[2], vec![0.5, -1.0]),
        tensor(&[2], vec![0.0, 0.0]),
        tensor(&[2], vec![1.0, 1.0]),
    )
    .momentum(0.5);
    let tape = Tape::new();
    let y = bn
        .forward(tape.constant(tensor(&[2, 2], vec![1.0, 0.0, 3.0, 0.0])))
        .value();
    let s = (1.0f64 + 1e-5).sqrt();
    close(y[[0, 0]], -2.0 / s + 0.5);
    close(y[[1, 0]], 2.0 / s + 0.5);
    close(y[[0, 1]], -1.0);
    drop(tape);
    // running = 0.5 old + 0.5 batch: mean [1, 0], variance [0.5 + 1, 0.5 + 0].
    bn.set_training(false);
    let names: Vec<String> = bn.params().iter().map(|p| p.name().to_string()).collect();
    assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
    assert_eq!(bn.params()[2].value().as_slice().unwrap(), &[1.0, 0.0]);
    assert_eq!(bn.params()[3].value().as_slice().unwrap(), &[1.5, 0.5]);
    let tape = Tape::new();
    let y = bn.forward(tape.constant(tensor(&[1, 2], vec![4.0, 2.0])));
    close(
        y.value()[[0, 0]],
        (4.0 - 1.0) / (1.5f64 + 1e-5).sqrt() * 2.0 + 0.5,
    );
    close(y.value()[[0, 1]], 2.0 / (0.5f64 + 1e-5).sqrt() - 1.0);
    assert_eq!(bn.num_trainable_params(), 4);
    // Unfreezing a model leaves the running averages untrained.
    let mut net = Sequential::<f64>::new()
        .add(Dense::new(2, 2, 0))
        .add(BatchNorm1d::new(2));
    net.freeze();
    net.unfreeze();
    assert_eq!(net.num_trainable_params(), 6 + 4);
}

#[test]
fn model_evaluation_switches_batch_norm_to_its_running_averages() {
    let mut rng = SplitMix64::new(1);
    let x = tensor(
        &[40, 1, 3, 3],
        (0..360)
            .map(|_| rng.next_f64() as f32 * 4.0 + 2.0)
            .collect(),
    );
    let y: Vec<u8> = (0..40).map(|i| (i % 2) as u8).collect();
    let mut m = Model::new(
        Sequential::new()
            .add(Conv2d::new(1, 2, 3, 0))
            .add(BatchNorm2d::new(2))
            .add(Flatten)
            .add(Dense::new(2, 2, 1)),
    );
    m.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.01),
        vec![],
    );
    m.fit(&x, y, FitOptions::new(2, 8).verbosity(0)).unwrap();
    // The running mean moved away from 0 toward the conv outputs' mean.
    let running = m
        .module()
        .param("layer1.running_mean")
        .unwrap()
        .value()
        .clone();
    assert!(running.iter().all(|&v| v != 0.0), "{running}");
    // predict runs in evaluation mode: a batch of one gives the same rows as the whole set,
    // which batch statistics would not.
    let all = m.predict(&x, 40).unwrap();
    let one = m.predict(&x, 1).unwrap();
    for (a, b) in all.iter().zip(one.iter()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn layer_norm_and_batch_norm_gradients_match_finite_differences() {
    let options = GradcheckOptions::default();
    let ln = LayerNorm::<f64>::from_tensors(random(&[3, 4], 2), random(&[3, 4], 3));
    gradcheck(
        |v| ln.forward(v[0]).square().sum(),
        &[random(&[2, 3, 4], 4)],
        &options,
    )
    .unwrap();
    let bn = BatchNorm2d::<f64>::from_tensors(
        random(&[3], 5),
        random(&[3], 6),
        random(&[3], 7),
        random(&[3], 8).mapv(|v| v.abs() + 0.5).into_shared(),
    );
    gradcheck(
        |v| (bn.forward(v[0]) * v[0]).sum(),
        &[random(&[2, 3, 2, 2], 9)],
        &options,
    )
    .unwrap();
}

#[test]
fn recurrent_cells_match_pytorchs_formulas_by_hand() {
    let t = |v: Vec<f64>| tensor(&[1, v.len()], v);
    let b = |v: Vec<f64>| tensor(&[v.len()], v);
    let sequence = tensor(&[1, 2, 1], vec![1.0, -2.0]);

    // h1 = tanh(0.5 + 0.1), h2 = tanh(0.5 * -2 + 0.1 - h1).
    let rnn = RnnCell::from_tensors(t(vec![0.5]), t(vec![-1.0]), b(vec![0.1]), b(vec![0.0]));
    let tape = Tape::new();
    let h = Recurrent::new(rnn)
        .forward(tape.constant(sequence.clone()))
        .value();
    close(h[[0, 0, 0]], 0.537_049_566_998_035_3);
    close(
        h[[0, 1, 0]],
        (0.5f64 * -2.0 + 0.1 - 0.537_049_566_998_035_3).tanh(),
    );

    // Gates i, f, g, o; see LstmCell's formulas.
    let lstm = LstmCell::from_tensors(
        t(vec![0.1, 0.2, 0.3, 0.4]),
        t(vec![0.5, -0.5, 0.25, -0.25]),
        b(vec![0.0, 0.1, 0.0, 0.1]),
        b(vec![0.05, 0.0, 0.0, 0.0]),
    );
    let layer = Recurrent::new(lstm);
    let states = layer.states(tape.constant(sequence.clone()));
    close(states[0][0].item(), 0.096_663_800_382_164_4);
    close(states[0][1].item(), 0.156_560_092_256_542_16);
    close(states[1][0].item(), -0.058_719_652_409_744_53);
    close(states[1][1].item(), -0.181_836_833_213_483_48);
    let last = layer.last_only().forward(tape.constant(sequence.clone()));
    assert_eq!(last.shape(), vec![1, 1]);
    close(last.item(), -0.058_719_652_409_744_53);

    // Gates r, z, n; see GruCell's formulas.
    let gru = GruCell::from_tensors(
        t(vec![0.3, -0.2, 0.6]),
        t(vec![0.1, 0.4, -0.7]),
        b(vec![0.0, 0.1, 0.2]),
        b(vec![0.1, 0.0, -0.1]),
    );
    let h = Recurrent::new(gru).forward(tape.constant(sequence)).value();
    close(h[[0, 0, 0]], 0.330_329_737_007_599_93);
    close(h[[0, 1, 0]], -0.065_468_043_414_715_57);
}

#[test]
fn unrolled_cells_backpropagate_through_time() {
    let options = GradcheckOptions::default();
    let x = random(&[2, 3, 4], 10);
    let lstm = Recurrent::new(LstmCell::<f64>::new(4, 3, 11));
    gradcheck(
        |v| lstm.forward(v[0]).square().sum(),
        std::slice::from_ref(&x),
        &options,
    )
    .unwrap();
    let gru = Recurrent::new(GruCell::<f64>::new(4, 3, 12)).last_only();
    gradcheck(
        |v| gru.forward(v[0]).sum(),
        std::slice::from_ref(&x),
        &options,
    )
    .unwrap();
    // Every weight of the cell gets a gradient from the first step's input onward.
    let tape = Tape::new();
    let y = lstm.forward(tape.constant(x));
    let grads = tape.backward(y.sum());
    for p in lstm.params() {
        assert!(grads.param(p).is_some(), "{}", p.name());
    }
    assert_eq!(lstm.cell().hidden_size(), 3);
}

#[test]
fn embedding_gradients_scatter_add_and_skip_the_padding_row() {
    let emb = Embedding::<f64>::new(5, 3, 0).padding_index(4);
    assert!(emb
        .weight()
        .value()
        .index_axis(Axis(0), 4)
        .iter()
        .all(|&v| v == 0.0));
    let tape = Tape::new();
    let y = emb.lookup(&tape, &[1, 3, 1, 4]);
    let seed = tensor(&[4, 3], (1..=12).map(f64::from).collect());
    let grads = tape.backward((y * tape.constant(seed)).sum());
    let g = grads.param(emb.weight()).unwrap();
    // Row 1 was looked up twice: the sum of both rows of the seed; row 4 is padding.
    assert_eq!(
        g.index_axis(Axis(0), 1)
            .iter()
            .copied()
            .collect::<Vec<f64>>(),
        vec![1.0 + 7.0, 2.0 + 8.0, 3.0 + 9.0]
    );
    assert_eq!(
        g.index_axis(Axis(0), 3)
            .iter()
            .copied()
            .collect::<Vec<f64>>(),
        vec![4.0, 5.0, 6.0]
    );
    assert_eq!(
        g.index_axis(Axis(0), 0)
            .iter()
            .copied()
            .collect::<Vec<f64>>(),
        vec![0.0; 3]
    );
    assert_eq!(
        g.index_axis(Axis(0), 4)
            .iter()
            .copied()
            .collect::<Vec<f64>>(),
        vec![0.0; 3]
    );
}

#[test]
fn the_l2_penalty_is_the_step_of_coupled_weight_decay() {
    let x = tensor(&[3, 2], vec![1.0f64, 2.0, -1.0, 0.5, 0.0, 1.0]);
    let y = tensor(&[3, 1], vec![1.0, 0.0, 2.0]);
    let step = |penalty: bool| {
        let mut net = Sequential::<f64>::new().add(Dense::new(2, 1, 3));
        let mut opt = if penalty {
            Sgd::new(0.1)
        } else {
            Sgd::new(0.1).weight_decay(0.3)
        };
        let grads = {
            let tape = Tape::new();
            let out = net.forward(tape.constant(x.clone()));
            let mut loss = mse(out, tape.constant(y.clone()), Reduce::Mean);
            if penalty {
                loss = loss + l2_penalty(&tape, &net.params(), 0.3);
            }
            tape.backward(loss)
        };
        opt.step(&mut net.params_mut(), &grads);
        net.state_dict()
    };
    let (a, b) = (step(true), step(false));
    for ((_, ta), (_, tb)) in a.iter().zip(&b) {
        for (u, v) in ta.iter().zip(tb.iter()) {
            assert!((u - v).abs() < 1e-15, "{u} vs {v}");
        }
    }
    // Frozen parameters are not penalised.
    let mut w = Param::new("w", tensor(&[1], vec![2.0f64]));
    w.freeze();
    assert_eq!(l2_penalty(&Tape::new(), &[&w], 1.0).item(), 0.0);
}

/// Every new layer in one model: a text-ish branch is not possible in a `Sequential`, so two.
fn image_model(seed: u64) -> Sequential<f32> {
    Sequential::new()
        .add(Conv2d::new(1, 2, 3, seed).padding(1))
        .add(BatchNorm2d::new(2))
        .add(Relu)
        .add(Flatten)
        .add(Dense::new(18, 4, seed + 1))
        .add(BatchNorm1d::new(4))
        .add(LayerNorm::new(&[4]))
        .add(Gelu::new())
}

fn sequence_model(seed: u64) -> Sequential<f32> {
    Sequential::new()
        .add(Embedding::new(6, 3, seed).padding_index(0))
        .add(Recurrent::new(LstmCell::new(3, 4, seed + 1)))
        .add(Recurrent::new(GruCell::new(4, 2, seed + 2)))
        .add(Recurrent::new(RnnCell::new(2, 2, seed + 3)).last_only())
}

#[test]
fn every_new_layer_saves_and_loads_with_its_running_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let images = tensor(
        &[5, 1, 3, 3],
        (0..45).map(|v| (v % 7) as f32 / 7.0).collect(),
    );
    let tokens = tensor(&[2, 4], vec![1., 2., 3., 0., 5., 4., 0., 0.]);
    for (name, mut model, mut fresh, x) in [
        ("images", image_model(0), image_model(10), images),
        ("sequences", sequence_model(0), sequence_model(10), tokens),
    ] {
        let mut opt = Adam::new(0.01);
        for _ in 0..3 {
            let grads = {
                let tape = Tape::new();
                let out = model.forward(tape.constant(x.clone()));
                tape.backward(out.square().sum())
            };
            opt.step(&mut model.params_mut(), &grads);
        }
        model.set_training(false);
        let path = dir.path().join(format!("{name}.safetensors"));
        save_weights(&model, &path).unwrap();
        load_weights(&mut fresh, &path).unwrap();
        assert_eq!(fresh.state_dict(), model.state_dict(), "{name}");
        fresh.set_training(false);
        let out = |m: &Sequential<f32>| m.forward(Tape::inference().constant(x.clone())).value();
        assert_eq!(out(&fresh), out(&model), "{name}");
    }
    let names: Vec<String> = image_model(0)
        .named_shapes()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.contains(&"layer1.running_var".to_string()),
        "{names:?}"
    );
}
