//! A model shared between threads by reference, and class labels of any integer type.

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Tape, Tensor};
use tapegrad_nn::layer::{Conv2d, Dense, Dropout, Flatten, Relu, Sequential, Softmax};
use tapegrad_nn::loss::{
    softmax_cross_entropy_with_labels, sparse_categorical_cross_entropy, CategoricalCrossentropy,
    Reduce,
};
use tapegrad_nn::metric::{accuracy, accuracy_metric};
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::Module;

fn inputs(n: usize, seed: u64) -> Tensor<f32> {
    let mut rng = SplitMix64::new(seed);
    tensor(
        &[n, 1, 4, 4],
        (0..n * 16).map(|_| rng.next_f64() as f32).collect(),
    )
}

fn network() -> Sequential<f32> {
    Sequential::new()
        .add(Conv2d::new(1, 3, 3, 0).padding(1))
        .add(Relu)
        .add(Flatten)
        .add(Dropout::new(0.5, 9))
        .add(Dense::new(48, 3, 1))
        .add(Softmax)
}

#[test]
fn a_model_is_evaluated_from_several_threads_by_shared_reference() {
    let mut net = network();
    net.set_training(false);
    let batches: Vec<Tensor<f32>> = (0..4).map(|i| inputs(5, i)).collect();
    let alone: Vec<Tensor<f32>> = batches
        .iter()
        .map(|x| net.forward(Tape::inference().constant(x.clone())).value())
        .collect();

    let net = &net; // shared, not cloned: the model is Sync
    let together: Vec<Tensor<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = batches
            .iter()
            .map(|x| {
                s.spawn(move || {
                    let tape = Tape::inference();
                    net.forward(tape.constant(x.clone())).value()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(alone, together);
    // Training forwards on several threads share the dropout stream behind its mutex.
    let mut training = network();
    training.set_training(true);
    let training = &training;
    std::thread::scope(|s| {
        for x in &batches {
            s.spawn(move || {
                let tape = Tape::new();
                let y = training.forward(tape.constant(x.clone()));
                tape.backward(y.sum());
            });
        }
    });
}

#[test]
fn u8_labels_work_in_the_losses_fit_evaluate_and_accuracy() {
    let x = inputs(60, 3);
    // A learnable rule: the class is which third of the image's mean the sample falls in.
    let as_usize: Vec<usize> = (0..60)
        .map(|i| {
            let mean: f32 = x.index_axis(ndarray::Axis(0), i).sum() / 16.0;
            ((mean * 3.0) as usize).min(2)
        })
        .collect();
    let as_u8: Vec<u8> = as_usize.iter().map(|&l| l as u8).collect();

    let tape = Tape::<f32>::new();
    let logits = tape.var(tensor(&[3, 3], vec![1., 2., 0.5, 0.1, 0.2, 3., 2., 1., 0.]));
    let probs = logits.softmax(-1);
    for (a, b) in [
        (
            softmax_cross_entropy_with_labels(logits, &[1u8, 2, 0], Reduce::Mean),
            softmax_cross_entropy_with_labels(logits, &[1usize, 2, 0], Reduce::Mean),
        ),
        (
            sparse_categorical_cross_entropy(probs, &vec![1u8, 2, 0], Reduce::Sum),
            sparse_categorical_cross_entropy(probs, &vec![1usize, 2, 0], Reduce::Sum),
        ),
    ] {
        assert_eq!(a.item(), b.item());
    }
    assert_eq!(
        accuracy(&probs.value(), &[1u8, 2, 1].into()),
        accuracy(&probs.value(), &vec![1usize, 2, 1].into())
    );

    let run = |y_u8: bool| {
        let mut m = Model::new(network());
        m.compile(
            CategoricalCrossentropy::new(),
            Adam::new(0.01),
            vec![accuracy_metric()],
        );
        let opts = FitOptions::new(3, 20).verbosity(0);
        let h = if y_u8 {
            m.fit(&x, as_u8.clone(), opts).unwrap()
        } else {
            m.fit(&x, as_usize.clone(), opts).unwrap()
        };
        let logs = if y_u8 {
            m.evaluate(&x, &as_u8, 20).unwrap()
        } else {
            m.evaluate(&x, &as_usize, 20).unwrap()
        };
        (h, logs, m.module().state_dict())
    };
    assert_eq!(run(true), run(false));
}

#[test]
#[should_panic(expected = "label -1 at position 1 is negative")]
fn a_negative_label_is_refused_by_name() {
    let tape = Tape::<f32>::new();
    let logits = tape.var(tensor(&[2, 3], vec![0.0; 6]));
    softmax_cross_entropy_with_labels(logits, &[0, -1], Reduce::Mean);
}

#[test]
fn a_conv_layer_from_given_tensors_computes_by_hand() {
    // Two 1x2 filters over one channel: [1, -1] (a difference) and [0.5, 0.5] (a mean).
    let conv = Conv2d::from_tensors(
        tensor(&[2, 1, 1, 2], vec![1.0f32, -1.0, 0.5, 0.5]),
        Some(tensor(&[2], vec![0.0, 1.0])),
    )
    .stride(1);
    let tape = Tape::new();
    let y = conv.forward(tape.constant(tensor(&[1, 1, 1, 3], vec![4.0, 1.0, 3.0])));
    assert_eq!(y.shape(), vec![1, 2, 1, 2]);
    assert_eq!(y.value().as_slice().unwrap(), &[3.0, -2.0, 3.5, 3.0]);
    assert_eq!(conv.params().len(), 2);
}
