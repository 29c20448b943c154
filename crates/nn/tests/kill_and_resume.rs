//! Nothing is lost: training killed with SIGKILL at random moments never leaves a damaged
//! checkpoint, and resuming from the last one ends on exactly the weights of a run that was
//! never interrupted. A full disk or an unwritable folder gives a clear error and leaves the
//! previous checkpoint intact.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::callback::ModelCheckpoint;
use tapegrad_nn::checkpoint::Checkpoint;
use tapegrad_nn::error::CheckpointError;
use tapegrad_nn::layer::{Dropout, Linear, Relu, Sequential};
use tapegrad_nn::loss::CategoricalCrossentropy;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::Module;

const EPOCHS: usize = 16;
const TRAIN_CHILD: &str = "TAPEGRAD_NN_KILL_TRAIN_CHILD";
const FULL_DISK_CHILD: &str = "TAPEGRAD_NN_FULL_DISK_CHILD";

/// Four noisy blobs in 32-d.
fn data() -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(21);
    let (n, d) = (512, 32);
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 4;
        for k in 0..d {
            let centre = if k % 4 == c { 1.5 } else { 0.0 };
            x.push(centre + (rng.next_f64() as f32 - 0.5));
        }
        y.push(c);
    }
    (tensor(&[n, d], x), y)
}

/// Big enough that a checkpoint takes a moment to write (about 300 KB, three times that with Adam's moments).
fn model() -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Linear::new(32, 256, 1))
            .add(Relu)
            .add(Dropout::new(0.2, 9))
            .add(Linear::new(256, 256, 2))
            .add(Relu)
            .add(Linear::new(256, 4, 3)),
    );
    m.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.003),
        vec![],
    );
    m
}

fn options() -> FitOptions<f32> {
    FitOptions::new(EPOCHS, 64).shuffle_seed(4).verbosity(0)
}

/// The child: resume from the checkpoint if there is one, then train to the end, writing the
/// checkpoint after every epoch.
fn train_resuming(path: &Path) {
    let (x, y) = data();
    let mut m = model();
    if path.exists() {
        m.load_checkpoint(path).expect("the last checkpoint loads");
    }
    m.fit(&x, y, options().callback(ModelCheckpoint::new(path)))
        .unwrap();
}

#[test]
fn child_training_with_checkpoints() {
    if let Ok(path) = std::env::var(TRAIN_CHILD) {
        train_resuming(Path::new(&path));
    }
}

fn spawn(test: &str, env: &str, value: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, value)
        .spawn()
        .unwrap()
}

fn bits(m: &Model<f32>) -> Vec<(String, Vec<u32>)> {
    m.module()
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn training_killed_at_random_moments_resumes_to_the_unbroken_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latest.ckpt");

    // How long an epoch takes here, to spread the kills over it.
    let started = Instant::now();
    let (x, y) = data();
    let mut straight = model();
    straight.fit(&x, y, options()).unwrap();
    let epoch_time = started.elapsed().max(Duration::from_millis(20)) / EPOCHS as u32;

    let mut rng = SplitMix64::new(2024);
    let mut epochs_seen = Vec::new();
    for round in 0..6 {
        let mtime = || std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let last = mtime();
        let mut child = spawn("child_training_with_checkpoints", TRAIN_CHILD, &path);
        // Wait for the child to save its next checkpoint, so each round makes progress, then
        // kill it at a random moment of the next two epochs: while training or mid-save.
        let since = Instant::now();
        while mtime() == last
            && child.try_wait().unwrap().is_none()
            && since.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_micros(500));
        }
        let delay = epoch_time.mul_f64(2.0 * rng.next_f64());
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();

        let ckpt = Checkpoint::<f32>::load(&path)
            .unwrap_or_else(|e| panic!("round {round}: the checkpoint is damaged: {e}"));
        assert!(ckpt.epoch >= 1 && ckpt.epoch <= EPOCHS, "{}", ckpt.epoch);
        assert_eq!(ckpt.history.epochs(), ckpt.epoch);
        epochs_seen.push((ckpt.epoch, status.success()));
    }
    assert!(
        epochs_seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "every resume starts from the last checkpoint: {epochs_seen:?}"
    );

    // Finish without interruption, then compare with the unbroken run.
    let mut child = spawn("child_training_with_checkpoints", TRAIN_CHILD, &path);
    assert!(child.wait().unwrap().success());
    let mut resumed = model();
    resumed.load_checkpoint(&path).unwrap();
    assert_eq!(resumed.epoch(), EPOCHS, "{epochs_seen:?}");
    assert_eq!(bits(&resumed), bits(&straight), "{epochs_seen:?}");
    assert_eq!(resumed.history(), straight.history());
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "latest.ckpt")
        .collect();
    // A kill during a save may leave its hidden temporary file; nothing else appears.
    assert!(
        leftovers.iter().all(|n| n.starts_with(".latest.ckpt.tmp-")),
        "{leftovers:?}"
    );
    eprintln!("epochs at each kill (and whether the run had finished): {epochs_seen:?}");
}

/// The child of the full-disk test: runs with a file size limit (`ulimit -f`) far below the
/// checkpoint's size, so writing fails part way as on a full disk.
#[test]
fn child_saving_on_a_full_disk() {
    let Ok(path) = std::env::var(FULL_DISK_CHILD) else {
        return;
    };
    let path = Path::new(&path);
    let before = std::fs::read(path).unwrap();
    let mut m = model();
    m.module_mut()
        .param_mut("layer0.weight")
        .unwrap()
        .value_mut()
        .fill(0.5);
    let err = m.save_checkpoint(path).unwrap_err();
    let text = err.to_string();
    eprintln!("full disk: {text}");
    assert!(matches!(&err, CheckpointError::Weights(_)), "{err:?}");
    assert!(text.contains("The disk is full"), "{text}");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the old checkpoint changed"
    );
    let dir = path.parent().unwrap();
    let names: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert_eq!(names.len(), 1, "a temporary file was left behind");
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    model().save_checkpoint(&path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 250_000, "{size}");
    // RLIMIT_FSIZE works for root too (unlike permissions); SIGXFSZ is ignored so that the
    // write returns EFBIG instead of killing the child. `ulimit -f` counts 512-byte blocks in
    // dash and 1024-byte blocks in bash: 100 blocks is at most 100 KB either way.
    let status = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 100 && exec \"$0\" --exact child_saving_on_a_full_disk --nocapture")
        .arg(std::env::current_exe().unwrap())
        .env(FULL_DISK_CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success(), "the child's checks failed: {status}");
    Checkpoint::<f32>::load(&path).unwrap();
}

#[test]
fn an_unwritable_folder_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Tests often run as root, for whom permission bits mean nothing: a path below a plain
    // file fails for everyone.
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let err = model()
        .save_checkpoint(file.join("run.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-folder"), "{err}");
    assert!(err.contains("not a folder"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");

    // sysfs refuses new files even to root, with a permission error.
    let sys = Path::new("/sys/kernel");
    if sys.is_dir() {
        let err = model()
            .save_checkpoint(sys.join("tapegrad-test.ckpt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot create"), "{err}");
        assert!(!sys.join("tapegrad-test.ckpt").exists());
    }
}
