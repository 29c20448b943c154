//! Resuming from a checkpoint gives bit for bit the run that never stopped, and a save killed
//! half-way never leaves a damaged checkpoint.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::checkpoint::Checkpoint;
use tapegrad_nn::error::CheckpointError;
use tapegrad_nn::init::Init;
use tapegrad_nn::layer::{Dropout, Linear, Relu, Sequential};
use tapegrad_nn::loss::CategoricalCrossentropy;
use tapegrad_nn::metric::accuracy_metric;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::Module;

/// Three noisy blobs in 4-d.
fn data() -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(11);
    let n = 96;
    let mut x = Vec::with_capacity(n * 4);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        for d in 0..4 {
            let centre = if d == c { 2.0 } else { 0.0 };
            x.push(centre + (rng.next_f64() as f32 - 0.5));
        }
        y.push(c);
    }
    (tensor(&[n, 4], x), y)
}

fn model() -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Linear::new(4, 16, 1))
            .add(Relu)
            .add(Dropout::new(0.3, 5))
            .add(Linear::new(16, 3, 2)),
    );
    m.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.01),
        vec![accuracy_metric()],
    );
    m
}

fn options(epochs: usize) -> FitOptions<f32> {
    FitOptions::new(epochs, 10)
        .shuffle_seed(3)
        .validation_split(0.25)
        .verbosity(0)
}

#[test]
fn two_epochs_straight_equal_one_save_load_one_bitwise() {
    let (x, y) = data();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("run.ckpt");

    let mut straight = model();
    straight.fit(&x, y.clone(), options(2)).unwrap();

    let mut first = model();
    first.fit(&x, y.clone(), options(1)).unwrap();
    first.save_checkpoint(&ckpt).unwrap();
    drop(first);

    let mut resumed = model();
    resumed.load_checkpoint(&ckpt).unwrap();
    assert_eq!(resumed.epoch(), 1);
    resumed.fit(&x, y.clone(), options(1)).unwrap();

    let a = straight.module().state_dict();
    let b = resumed.module().state_dict();
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let bits_a: Vec<u32> = ta.iter().map(|v| v.to_bits()).collect();
        let bits_b: Vec<u32> = tb.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits_a, bits_b, "{na} differs after resuming");
    }
    assert_eq!(straight.history(), resumed.history());
    assert_eq!(resumed.history().epochs(), 2);
    assert_eq!(
        straight.module().random_states(),
        resumed.module().random_states()
    );
}

#[test]
fn the_checkpoint_callback_resumes_too() {
    let (x, y) = data();
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("epoch-{epoch}.ckpt");

    let mut straight = model();
    straight.fit(&x, y.clone(), options(3)).unwrap();

    let mut saved = model();
    saved
        .fit(
            &x,
            y.clone(),
            options(3).callback(tapegrad_nn::callback::ModelCheckpoint::new(&pattern)),
        )
        .unwrap();
    assert_eq!(saved.module().state_dict(), straight.module().state_dict());
    for e in 1..=3 {
        assert!(dir.path().join(format!("epoch-{e}.ckpt")).exists());
    }

    let mut resumed = model();
    resumed
        .load_checkpoint(dir.path().join("epoch-2.ckpt"))
        .unwrap();
    resumed.fit(&x, y, options(3).initial_epoch(2)).unwrap();
    assert_eq!(
        resumed.module().state_dict(),
        straight.module().state_dict()
    );
}

#[test]
fn a_checkpoint_of_another_model_or_optimizer_is_refused_without_changes() {
    let (x, y) = data();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("run.ckpt");
    let mut m = model();
    m.fit(&x, y, options(1)).unwrap();
    m.save_checkpoint(&ckpt).unwrap();

    let mut other = Model::new(Sequential::<f32>::new().add(Linear::new(4, 3, 0)));
    other.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.01),
        vec![],
    );
    let before = other.module().state_dict();
    let err = other.load_checkpoint(&ckpt).unwrap_err();
    assert!(err.to_string().contains("does not fit this model"), "{err}");
    assert_eq!(other.module().state_dict(), before);
    assert_eq!(other.epoch(), 0);

    let mut sgd = model();
    sgd.compile(
        CategoricalCrossentropy::from_logits(),
        tapegrad_nn::optim::Sgd::new(0.1),
        vec![],
    );
    let before = sgd.module().state_dict();
    let err = sgd.load_checkpoint(&ckpt).unwrap_err();
    assert!(matches!(err, CheckpointError::Optimizer { .. }), "{err}");
    assert!(err.to_string().contains("'adam'"), "{err}");
    assert_eq!(sgd.module().state_dict(), before);

    let weights_only = dir.path().join("w.safetensors");
    m.save_weights(&weights_only).unwrap();
    let err = model().load_checkpoint(&weights_only).unwrap_err();
    assert!(
        matches!(err, CheckpointError::NotACheckpoint { .. }),
        "{err}"
    );
}

const CHILD_ENV: &str = "TAPEGRAD_NN_CHECKPOINT_CHILD";

/// A big model whose checkpoints take a while to write, with weights that identify the save.
fn big_model(fill: f32) -> Sequential<f32> {
    let mut rng = SplitMix64::new(0);
    let mut m = Sequential::new().add(Linear::<f32>::with_init(
        1024,
        2048,
        Init::Constant(fill as f64),
        Some(Init::Zeros),
        &mut rng,
    ));
    m.param_mut("layer0.bias")
        .unwrap()
        .set_value(tensor(&[2048], vec![fill; 2048]));
    m
}

fn save_forever(path: &Path) {
    let start = Instant::now();
    let mut k = 0u32;
    while start.elapsed() < Duration::from_secs(20) {
        let m = big_model(k as f32);
        Checkpoint::capture(&m, None, k as usize, &Default::default())
            .save(path)
            .unwrap();
        k += 1;
    }
}

/// The child half of the kill test: saves checkpoints in a loop until killed.
#[test]
fn child_saving_checkpoints_in_a_loop() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        save_forever(Path::new(&path));
    }
}

#[test]
fn killing_a_save_never_leaves_a_damaged_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut interrupted = 0;
    for round in 0..4u64 {
        let path = dir.path().join(format!("live-{round}.ckpt"));
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_saving_checkpoints_in_a_loop",
                "--nocapture",
            ])
            .env(CHILD_ENV, &path)
            .spawn()
            .unwrap();
        // Kill the child while it is writing: as soon as a temporary file of a save after the
        // first shows up (plus a few milliseconds, to land at different points of the write).
        let prefix = format!(".live-{round}.ckpt.tmp");
        let writing = || {
            path.exists()
                && std::fs::read_dir(dir.path()).unwrap().any(|e| {
                    e.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(&prefix)
                })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !writing() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_millis([0, 1, 3, 7][round as usize]));
        child.kill().unwrap();
        child.wait().unwrap();

        let ckpt = Checkpoint::<f32>::load(&path).expect("the checkpoint survives the kill");
        let fill = ckpt.epoch as f32;
        for (name, t) in &ckpt.weights {
            assert!(
                t.iter().all(|&v| v == fill),
                "round {round}: {name} mixes two saves"
            );
        }
        let mut m = big_model(-1.0);
        ckpt.restore(&path, &mut m, None).unwrap();
        // A temporary file left behind means the kill interrupted a save.
        interrupted += std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&prefix)
            })
            .count();
    }
    assert!(
        interrupted > 0,
        "no kill landed during a save; the test proved nothing"
    );
}
