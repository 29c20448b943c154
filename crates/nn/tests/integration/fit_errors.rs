//! `fit`, `evaluate` and `predict` hand data that does not fit the model, and panics raised
//! while it runs, back to the caller as errors, from whichever thread found them; after a
//! panic in `fit` the model is as it was when the failing epoch began.

use std::sync::atomic::{AtomicUsize, Ordering};

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Real, Tensor, Var};
use tapegrad_nn::error::{DataError, FitError};
use tapegrad_nn::layer::{Dense, Dropout, Relu, Sequential, Sigmoid};
use tapegrad_nn::loss::{loss_fn, BinaryCrossentropy, CategoricalCrossentropy, Loss};
use tapegrad_nn::metric::{accuracy_metric, Metric};
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::targets::Targets;
use tapegrad_nn::Module;

/// Three blobs in 4-d.
fn blobs(n: usize) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(3);
    let mut x = Vec::with_capacity(4 * n);
    for i in 0..n {
        for d in 0..4 {
            let centre = if d == i % 3 { 1.5 } else { 0.0 };
            x.push(centre + rng.next_f64() as f32 - 0.5);
        }
    }
    (tensor(&[n, 4], x), (0..n).map(|i| i % 3).collect())
}

fn classifier(loss: impl Loss<f32> + 'static) -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(4, 16, 0))
            .add(Relu)
            .add(Dropout::new(0.25, 7))
            .add(Dense::new(16, 3, 1)),
    );
    m.compile(loss, Adam::new(0.01), vec![accuracy_metric()]);
    m
}

/// Everything a resumed run depends on, as bits: weights, optimizer buffers and scalars,
/// random streams, epochs done and history.
fn state(m: &mut Model<f32>) -> String {
    let weights: Vec<(String, Vec<u32>)> = m
        .module()
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.iter().map(|v| v.to_bits()).collect()))
        .collect();
    let streams = m.module().random_states();
    let (epoch, history) = (m.epoch(), format!("{:?}", m.history()));
    let opt = m.optimizer_mut().unwrap().state();
    let buffers: Vec<(String, Vec<u32>)> = opt
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.iter().map(|v| v.to_bits()).collect()))
        .collect();
    format!(
        "{weights:?} {buffers:?} {:?} {streams:?} {epoch} {history}",
        opt.scalars
    )
}

fn quiet(epochs: usize) -> FitOptions<f32> {
    FitOptions::new(epochs, 8).shuffle_seed(1).verbosity(0)
}

#[test]
fn categorical_cross_entropy_on_one_sigmoid_column_is_an_error_not_a_silent_loss() {
    let n = 40;
    let (x, y) = blobs(n);
    let binary: Vec<f32> = y.iter().map(|&c| f32::from(c == 0)).collect();
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(4, 8, 0))
            .add(Relu)
            .add(Dense::new(8, 1, 1))
            .add(Sigmoid),
    );
    m.compile(
        CategoricalCrossentropy::new(),
        Adam::new(0.01),
        vec![accuracy_metric()],
    );
    let before = m.module().state_dict();
    let err = m
        .fit(&x, tensor(&[n, 1], binary.clone()), quiet(3))
        .unwrap_err();
    let FitError::Data(DataError::Targets { call, source }) = &err else {
        panic!("expected a targets error, got {err:?}");
    };
    assert_eq!(*call, "fit");
    assert_eq!(source.by, "CategoricalCrossentropy");
    assert_eq!(source.outputs, [n, 1]);
    let text = err.to_string();
    assert!(text.contains("at least 2 classes"), "{text}");
    assert_eq!(m.epoch(), 0);
    assert_eq!(m.module().state_dict(), before);

    // The same data with the loss that fits it trains.
    m.compile(
        BinaryCrossentropy::new(),
        Adam::new(0.01),
        vec![accuracy_metric()],
    );
    let h = m.fit(&x, tensor(&[n], binary), quiet(30)).unwrap();
    assert!(h.last("accuracy").unwrap() > 0.9, "{h:?}");
}

#[test]
fn targets_that_do_not_fit_are_found_before_the_first_step() {
    let (x, mut y) = blobs(30);
    // one bad label, in the last batch of the training data
    y[29] = 3;
    let mut m = classifier(CategoricalCrossentropy::from_logits());
    let before = state(&mut m);
    let err = m.fit(&x, y.clone(), quiet(2)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("Model::fit: CategoricalCrossentropy: outputs of shape [30, 3] against 30 integer labels (the largest 3)"),
        "{text}"
    );
    assert!(text.contains("label 29 is 3"), "{text}");
    assert_eq!(state(&mut m), before);

    // Validation data is checked before training too, not after the first epoch.
    let (vx, _) = blobs(6);
    let err = m
        .fit(
            &x,
            blobs(30).1,
            quiet(2).validation_data(vx, Targets::Dense(tensor(&[6, 2], vec![0.0; 12]))),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("Model::fit (validation data): CategoricalCrossentropy: outputs of shape [6, 3] against dense targets of shape [6, 2]"),
        "{text}"
    );
    assert_eq!(state(&mut m), before);

    // evaluate checks the same
    let err = m.evaluate(&x, y, 8).unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Data(DataError::Targets {
                call: "evaluate",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(state(&mut m), before);
}

#[test]
fn inputs_the_model_cannot_take_are_errors_of_fit_evaluate_and_predict() {
    let (_, y) = blobs(12);
    let five_features = tensor(&[12, 5], vec![0.5f32; 60]);
    let mut m = classifier(CategoricalCrossentropy::from_logits());
    let before = state(&mut m);
    let fit = m.fit(&five_features, y.clone(), quiet(1)).unwrap_err();
    let evaluate = m.evaluate(&five_features, y, 4).unwrap_err();
    let predict = m.predict(&five_features, 4).unwrap_err();
    for (call, err) in [("fit", fit), ("evaluate", evaluate), ("predict", predict)] {
        let FitError::Data(DataError::Input { shape, message, .. }) = &err else {
            panic!("{call}: expected an input error, got {err:?}");
        };
        assert_eq!(shape, &[12, 5]);
        assert!(
            message.contains("expected an input of shape [batch, 4]"),
            "{message}"
        );
        assert!(
            err.to_string().starts_with(&format!("Model::{call}: ")),
            "{err}"
        );
    }
    assert_eq!(state(&mut m), before);
}

#[test]
fn inputs_and_targets_of_different_lengths_are_errors() {
    let (x, y) = blobs(12);
    let mut m = classifier(CategoricalCrossentropy::from_logits());
    let err = m.fit(&x, y[..11].to_vec(), quiet(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Model::fit: 12 input rows (inputs of shape [12, 4]) but 11 targets; inputs and \
         targets need one row per sample"
    );
    let err = m
        .fit(
            &x,
            y.clone(),
            quiet(1).validation_data(x.clone(), y[..3].to_vec()),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Data(DataError::Lengths {
                call: "fit (validation data)",
                targets: 3,
                ..
            })
        ),
        "{err:?}"
    );
    let err = m.evaluate(&x, y[..2].to_vec(), 4).unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Data(DataError::Lengths {
                call: "evaluate",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(m.epoch(), 0);
}

/// A cross-entropy that panics on its `fail_at`-th call, as a bug in user code would.
fn panics_once(fail_at: usize) -> impl Loss<f32> {
    let calls = AtomicUsize::new(0);
    loss_fn(move |out: Var<'_, f32>, targets: &Targets<f32>| {
        if calls.fetch_add(1, Ordering::SeqCst) == fail_at {
            panic!("boom in batch {fail_at}");
        }
        CategoricalCrossentropy::from_logits().loss(out, targets)
    })
}

#[test]
fn a_panic_in_training_comes_back_as_an_error_and_the_model_is_put_back() {
    let (x, y) = blobs(40); // 5 batches an epoch
    let mut straight = classifier(CategoricalCrossentropy::from_logits());
    straight.fit(&x, y.clone(), quiet(2)).unwrap();
    let after_two = state(&mut straight);
    straight.fit(&x, y.clone(), quiet(2)).unwrap();
    let after_four = state(&mut straight);

    // The third batch of the third epoch panics: the model goes back to two epochs done,
    // including the optimizer's moments and the dropout stream the failed epoch advanced.
    let mut m = classifier(panics_once(12));
    let err = m.fit(&x, y.clone(), quiet(4)).unwrap_err();
    let FitError::Panicked {
        call,
        epoch,
        message,
    } = &err
    else {
        panic!("expected a caught panic, got {err:?}");
    };
    assert_eq!((*call, *epoch), ("fit", Some(2)));
    assert_eq!(message, "boom in batch 12");
    assert!(err.to_string().contains("2 epochs done"), "{err}");
    assert_eq!(state(&mut m), after_two);

    // Carrying on up to epoch 4 gives exactly the run that never failed.
    m.fit(&x, y, quiet(4).initial_epoch(2)).unwrap();
    assert_eq!(state(&mut m), after_four);
}

/// A metric with a bug: it panics on its second batch.
struct Flaky(usize);

impl<T: Real> Metric<T> for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn update(&mut self, _outputs: &Tensor<T>, _targets: &Targets<T>) {
        self.0 += 1;
        assert!(self.0 < 2, "flaky metric: index out of range");
    }
    fn result(&self) -> f64 {
        0.0
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
}

#[test]
fn a_panic_in_evaluate_comes_back_as_an_error() {
    let (x, y) = blobs(24);
    let mut m = classifier(CategoricalCrossentropy::from_logits());
    m.fit(&x, y.clone(), quiet(1)).unwrap();
    m.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.01),
        vec![Box::new(Flaky(0))],
    );
    let before = m.module().state_dict();
    let err = m.evaluate(&x, y, 8).unwrap_err();
    assert!(
        matches!(&err, FitError::Panicked { call: "evaluate", epoch: None, message } if message == "flaky metric: index out of range"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("the model's weights are unchanged"),
        "{err}"
    );
    assert_eq!(m.module().state_dict(), before);
}
