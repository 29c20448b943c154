//! `Model::fit`, `evaluate`, `predict` and the callbacks on small problems.

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Param, Real, Tape, Tensor, Var};
use tapegrad_nn::callback::{
    Callback, CallbackContext, EarlyStopping, LearningRateScheduler, Logs,
};
use tapegrad_nn::error::FitError;
use tapegrad_nn::layer::{Dense, Dropout, Linear, Relu, Sequential, Sigmoid, Softmax};
use tapegrad_nn::loss::{BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError};
use tapegrad_nn::metric::accuracy_metric;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::{RmsProp, Sgd};
use tapegrad_nn::schedule::InverseTimeDecay;
use tapegrad_nn::targets::Targets;
use tapegrad_nn::Module;

fn blobs(n: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % 3;
        for d in 0..4 {
            let centre = if d == c { 1.5 } else { 0.0 };
            x.push(centre + (rng.next_f64() as f32 - 0.5));
        }
        y.push(c);
    }
    (tensor(&[n, 4], x), y)
}

/// Keras ch.2's shape of model: dense relu, dense softmax, rmsprop, sparse labels.
fn keras_like() -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(4, 32, 0))
            .add(Relu)
            .add(Dense::new(32, 3, 1))
            .add(Softmax),
    );
    m.compile(
        CategoricalCrossentropy::new(),
        RmsProp::new(0.01),
        vec![accuracy_metric()],
    );
    m
}

#[test]
fn fit_learns_blobs_with_labels_and_with_one_hot() {
    let (x, y) = blobs(150, 1);
    let mut m = keras_like();
    let history = m
        .fit(&x, y.clone(), FitOptions::new(15, 16).verbosity(0))
        .unwrap();
    let loss = history.get("loss").unwrap();
    assert_eq!(loss.len(), 15);
    assert!(loss[14] < loss[0] * 0.5, "{loss:?}");
    assert!(history.last("accuracy").unwrap() > 0.95);
    let logs = m.evaluate(&x, y.clone(), 32).unwrap();
    assert!(logs.get("accuracy").unwrap() > 0.95, "{logs:?}");

    let one_hot = Targets::<f32>::from(y.clone()).to_one_hot(3);
    let mut m2 = keras_like();
    m2.fit(&x, one_hot.clone(), FitOptions::new(15, 16).verbosity(0))
        .unwrap();
    // The same data in the other target form trains the same model.
    assert_eq!(m.module().state_dict(), m2.module().state_dict());
    let logs2 = m2.evaluate(&x, one_hot, 7).unwrap();
    assert!((logs2.get("loss").unwrap() - logs.get("loss").unwrap()).abs() < 1e-5);
}

#[test]
fn predict_in_batches_equals_one_batch() {
    let (x, _) = blobs(50, 2);
    let mut m = keras_like();
    let all = m.predict(&x, 1000).unwrap();
    let batched = m.predict(&x, 7).unwrap();
    assert_eq!(all.shape(), &[50, 3]);
    // Batches of other sizes may take other GEMM paths: equal up to rounding.
    for (a, b) in all.iter().zip(batched.iter()) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    let row_sums: Vec<f32> = all.outer_iter().map(|r| r.sum()).collect();
    assert!(row_sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
}

#[test]
fn validation_split_and_data_add_val_series() {
    let (x, y) = blobs(120, 3);
    let mut m = keras_like();
    let h = m
        .fit(
            &x,
            y.clone(),
            FitOptions::new(3, 16).validation_split(0.25).verbosity(0),
        )
        .unwrap();
    assert_eq!(h.names(), ["loss", "accuracy", "val_loss", "val_accuracy"]);
    let (vx, vy) = blobs(30, 4);
    let mut m = keras_like();
    let h = m
        .fit(
            &x,
            y,
            FitOptions::new(2, 16).validation_data(vx, vy).verbosity(0),
        )
        .unwrap();
    assert_eq!(h.get("val_loss").unwrap().len(), 2);
}

#[test]
fn a_second_fit_trains_its_epochs_more_as_in_keras() {
    let (x, y) = blobs(60, 5);
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("epoch-{epoch}.ckpt");
    let mut m = keras_like();
    m.fit(&x, y.clone(), FitOptions::new(2, 16).verbosity(0))
        .unwrap();
    let h = m
        .fit(
            &x,
            y.clone(),
            FitOptions::new(5, 16)
                .verbosity(0)
                .callback(tapegrad_nn::callback::ModelCheckpoint::new(&pattern)),
        )
        .unwrap();
    assert_eq!(h.epochs(), 5);
    assert_eq!(m.epoch(), 7);
    assert_eq!(m.history().epochs(), 7);
    // The second call's epochs are numbered 3 to 7, after the first call's.
    let names: Vec<bool> = (1..=7)
        .map(|e| dir.path().join(format!("epoch-{e}.ckpt")).exists())
        .collect();
    assert_eq!(names, [false, false, true, true, true, true, true]);
    assert_eq!(
        &m.history().get("loss").unwrap()[2..],
        h.get("loss").unwrap()
    );

    // The same seven epochs in one call give the same weights.
    let mut once = keras_like();
    once.fit(&x, y, FitOptions::new(7, 16).verbosity(0))
        .unwrap();
    assert_eq!(once.module().state_dict(), m.module().state_dict());
}

#[test]
fn initial_epoch_counts_epochs_from_the_first() {
    let (x, y) = blobs(60, 5);
    let mut m = keras_like();
    m.fit(&x, y.clone(), FitOptions::new(2, 16).verbosity(0))
        .unwrap();
    let h = m
        .fit(
            &x,
            y.clone(),
            FitOptions::new(5, 16).initial_epoch(2).verbosity(0),
        )
        .unwrap();
    assert_eq!(h.epochs(), 3);
    assert_eq!(m.epoch(), 5);
    assert_eq!(m.history().epochs(), 5);
    // Up to an epoch already reached: nothing to do.
    let h = m
        .fit(&x, y, FitOptions::new(4, 16).initial_epoch(5).verbosity(0))
        .unwrap();
    assert_eq!((h.epochs(), m.epoch()), (0, 5));
}

#[test]
#[should_panic(expected = "initial_epoch is 3 but the model has done 2 epochs")]
fn an_initial_epoch_other_than_the_epochs_done_is_refused() {
    let (x, y) = blobs(30, 5);
    let mut m = keras_like();
    m.fit(&x, y.clone(), FitOptions::new(2, 16).verbosity(0))
        .unwrap();
    let _ = m.fit(&x, y, FitOptions::new(5, 16).initial_epoch(3).verbosity(0));
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let (x, y) = blobs(60, 6);
    // Validation labels that contradict the training labels: the better the model learns,
    // the worse the validation loss, so training stops early.
    let wrong: Vec<usize> = y.iter().map(|&c| (c + 1) % 3).collect();
    let opts = |epochs: usize| {
        FitOptions::new(epochs, 10)
            .validation_data(x.clone(), wrong.clone())
            .verbosity(0)
    };
    let mut m = keras_like();
    let h = m
        .fit(
            &x,
            y.clone(),
            opts(50).callback(EarlyStopping::new("val_loss", 2).restore_best_weights(true)),
        )
        .unwrap();
    assert!(h.epochs() < 50, "stopped after {} epochs", h.epochs());
    let val = h.get("val_loss").unwrap();
    let best = val
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(h.epochs(), best + 3, "{val:?}");
    // The same run stopped by hand after the best epoch has the restored weights.
    let mut again = keras_like();
    again.fit(&x, y, opts(best + 1)).unwrap();
    assert_eq!(m.module().state_dict(), again.module().state_dict());
}

#[test]
fn early_stopping_on_a_missing_series_is_an_error() {
    let (x, y) = blobs(30, 7);
    let mut m = keras_like();
    let err = m
        .fit(
            &x,
            y,
            FitOptions::new(2, 16)
                .verbosity(0)
                .callback(EarlyStopping::new("val_loss", 2)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("val_loss"), "{err}");
    assert!(err.to_string().contains("no validation data"), "{err}");
    assert_eq!(m.epoch(), 0, "refused before the first epoch");
}

#[test]
fn a_misspelt_monitor_is_refused_before_the_first_epoch() {
    use tapegrad_nn::callback::ModelCheckpoint;
    use tapegrad_nn::monitor::Monitor;
    let (x, y) = blobs(30, 7);
    let opts = || FitOptions::new(2, 16).validation_split(0.2).verbosity(0);
    let mut m = keras_like();
    let err = m
        .fit(
            &x,
            y.clone(),
            opts().callback(EarlyStopping::new("val_acuracy", 2)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("'val_acuracy'"), "{err}");
    assert!(err.to_string().contains("check the spelling"), "{err}");
    assert_eq!(m.epoch(), 0);
    let err = m
        .fit(
            &x,
            y.clone(),
            opts()
                .callback(ModelCheckpoint::new("unused.ckpt").save_best_only(Monitor::val("auc"))),
        )
        .unwrap_err();
    assert!(err.to_string().contains("'val_auc'"), "{err}");
    assert_eq!(m.epoch(), 0);
    // The typed keys of what is logged pass.
    let h = m
        .fit(
            &x,
            y,
            opts().callback(EarlyStopping::new(Monitor::ValAccuracy, 5)),
        )
        .unwrap();
    assert_eq!(h.epochs(), 2);
}

#[test]
fn learning_rate_scheduler_sets_the_rate_each_epoch() {
    let (x, y) = blobs(30, 8);
    struct Record(std::sync::Arc<std::sync::Mutex<Vec<f64>>>);
    impl Callback<f32> for Record {
        fn on_epoch_end(
            &mut self,
            _e: usize,
            _l: &Logs,
            ctx: &mut CallbackContext<'_, f32>,
        ) -> Result<(), FitError> {
            self.0.lock().unwrap().push(ctx.optimizer.learning_rate());
            Ok(())
        }
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut m = keras_like();
    m.fit(
        &x,
        y,
        FitOptions::new(3, 16)
            .verbosity(0)
            .callback(LearningRateScheduler::new(InverseTimeDecay::new(0.3, 1.0)))
            .callback(Record(seen.clone())),
    )
    .unwrap();
    let seen = seen.lock().unwrap();
    let want = [0.3, 0.15, 0.1];
    assert_eq!(seen.len(), 3);
    for (s, w) in seen.iter().zip(want) {
        assert!((s - w).abs() < 1e-15, "{seen:?}");
    }
}

#[test]
fn fit_runs_on_a_thread_of_the_pool_and_evaluate_and_predict_too() {
    // Called from outside the pool, each op that splits its work would hand it over and
    // sleep; the loop runs on a pool thread instead.
    let (x, y) = blobs(30, 8);
    struct Where(std::sync::Arc<std::sync::Mutex<Vec<Option<usize>>>>);
    impl Callback<f32> for Where {
        fn on_epoch_begin(
            &mut self,
            _e: usize,
            _ctx: &mut CallbackContext<'_, f32>,
        ) -> Result<(), FitError> {
            self.0.lock().unwrap().push(rayon::current_thread_index());
            Ok(())
        }
    }
    assert_eq!(
        rayon::current_thread_index(),
        None,
        "the test runs outside the pool"
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut m = keras_like();
    m.fit(
        &x,
        y.clone(),
        FitOptions::new(2, 16)
            .verbosity(0)
            .callback(Where(seen.clone())),
    )
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(Option::is_some), "{seen:?}");
    // The same numbers as on the calling thread: predict's outputs match a forward pass here.
    let predicted = m.predict(&x, 7).unwrap();
    let tape = Tape::inference();
    m.module_mut().set_training(false);
    let here = m.module().forward(tape.constant(x.clone())).value();
    assert_eq!(predicted, here);
}

/// A layer written by a user as a plain struct: a learned per-feature scale.
struct Scale<T: Real> {
    scale: Param<T>,
}

impl<T: Real> Module<T> for Scale<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        x * x.tape().param(&self.scale)
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.scale]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.scale]
    }
}

#[test]
fn custom_layers_frozen_layers_and_binary_targets() {
    let (x, y) = blobs(90, 9);
    let binary: Vec<f32> = y.iter().map(|&c| f32::from(c == 0)).collect();
    let mut seq = Sequential::new()
        .add(Scale {
            scale: Param::new("scale", tensor(&[4], vec![1.0f32; 4])),
        })
        .add(Linear::new(4, 8, 0))
        .add(Relu)
        .add(Dropout::new(0.1, 3))
        .add(Linear::new(8, 1, 1))
        .add(Sigmoid);
    seq.layer_mut(1).freeze();
    let frozen_before = seq.param("layer1.weight").unwrap().value().clone();
    assert_eq!(
        seq.named_shapes()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "layer0.scale",
            "layer1.weight",
            "layer1.bias",
            "layer4.weight",
            "layer4.bias"
        ]
    );
    let mut m = Model::new(seq);
    m.compile(
        BinaryCrossentropy::new(),
        RmsProp::new(0.02),
        vec![accuracy_metric()],
    );
    let h = m
        .fit(
            &x,
            tensor(&[90, 1], binary),
            FitOptions::new(20, 10).verbosity(0),
        )
        .unwrap();
    assert!(h.last("accuracy").unwrap() > 0.9, "{:?}", h.get("accuracy"));
    assert_eq!(
        m.module().param("layer1.weight").unwrap().value(),
        &frozen_before
    );
    assert_ne!(
        m.module().param("layer0.scale").unwrap().value(),
        &tensor(&[4], vec![1.0f32; 4])
    );
    let summary = m.module().summary();
    assert!(summary.contains("(frozen)"), "{summary}");
}

#[test]
fn mse_regression_with_train_on_batch() {
    let x = tensor(&[4, 1], vec![0.0f32, 1.0, 2.0, 3.0]);
    let y = tensor(&[4, 1], vec![1.0f32, 3.0, 5.0, 7.0]);
    let mut m = Model::new(Sequential::new().add(Linear::<f32>::new(1, 1, 0)));
    m.compile(MeanSquaredError, Sgd::new(0.05), vec![]);
    let first = m.train_on_batch(&x, y.clone());
    let mut last = first;
    for _ in 0..500 {
        last = m.train_on_batch(&x, y.clone());
    }
    assert!(last < 1e-4 && last < first, "{first} -> {last}");
}

#[test]
#[should_panic(expected = "not compiled")]
fn fit_before_compile_panics_with_advice() {
    let (x, y) = blobs(6, 1);
    let mut m = Model::new(Sequential::new().add(Linear::<f32>::new(4, 3, 0)));
    let _ = m.fit(&x, y, FitOptions::new(1, 2).verbosity(0));
}

#[test]
fn a_wrong_input_shape_names_the_layer() {
    let mut m = keras_like();
    let err = m
        .predict(&tensor(&[2, 5], vec![0.0f32; 10]), 2)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Model::predict: the model cannot take inputs of shape [2, 5]"),
        "{text}"
    );
    assert!(
        text.contains("Linear(4 -> 32) layer0: expected an input of shape [batch, 4]"),
        "{text}"
    );
}

#[test]
fn a_small_convnet_trains() {
    // 6x6 images: a bright vertical bar (class 0) or horizontal bar (class 1), with noise.
    let mut rng = SplitMix64::new(4);
    let n = 40;
    let mut x = Vec::with_capacity(n * 36);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 2;
        let at = 1 + (i / 2) % 4;
        for r in 0..6 {
            for col in 0..6 {
                let on = if c == 0 { col == at } else { r == at };
                x.push(f32::from(u8::from(on)) + 0.2 * rng.next_f64() as f32);
            }
        }
        y.push(c);
    }
    let x = tensor(&[n, 1, 6, 6], x);
    let mut m = Model::new(
        Sequential::new()
            .add(tapegrad_nn::layer::Conv2d::new(1, 4, 3, 0).padding(1))
            .add(Relu)
            .add(tapegrad_nn::layer::MaxPool2d::new(2))
            .add(tapegrad_nn::layer::Flatten)
            .add(Dense::new(36, 2, 1)),
    );
    m.compile(
        CategoricalCrossentropy::from_logits(),
        tapegrad_nn::optim::Adam::new(0.02),
        vec![accuracy_metric()],
    );
    let h = m
        .fit(&x, y.clone(), FitOptions::new(25, 8).verbosity(0))
        .unwrap();
    assert!(
        h.last("accuracy").unwrap() >= 0.95,
        "{:?}",
        h.get("accuracy")
    );
    assert_eq!(m.predict(&x, 16).unwrap().shape(), &[n, 2]);
}

#[test]
fn checkpoint_callback_saves_only_improvements() {
    let (x, y) = blobs(60, 10);
    let dir = tempfile::tempdir().unwrap();
    let wrong: Vec<usize> = y.iter().map(|&c| (c + 1) % 3).collect();
    let mut m = keras_like();
    m.fit(
        &x,
        y,
        FitOptions::new(6, 10)
            .validation_data(x.clone(), wrong)
            .verbosity(0)
            .callback(
                tapegrad_nn::callback::ModelCheckpoint::new(dir.path().join("best-{epoch}.ckpt"))
                    .save_best_only("val_loss"),
            ),
    )
    .unwrap();
    let saved: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The validation loss only gets worse, so only the first epoch was an improvement.
    assert_eq!(saved, ["best-1.ckpt"]);
}
