//! Nothing is lost: training killed with SIGKILL at random moments, many of them in the middle
//! of writing a checkpoint, never leaves a checkpoint that is not one of the run's complete
//! ones, and resuming from the last one ends on exactly the weights of a run that was never
//! interrupted. A full disk or an unwritable folder gives a clear error and leaves the previous
//! checkpoint intact.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapegrad_nn::autograd::random::{RandomStream, SplitMix64};
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::callback::{Callback, CallbackContext, Logs, ModelCheckpoint};
use tapegrad_nn::checkpoint::Checkpoint;
use tapegrad_nn::error::{CheckpointError, FitError};
use tapegrad_nn::layer::{Dropout, Linear, Relu, Sequential};
use tapegrad_nn::loss::CategoricalCrossentropy;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::Module;

/// Enough epochs that the kills never run out of training to interrupt.
const EPOCHS: usize = 48;
/// How many times the training process is killed.
const KILLS: usize = 24;
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

/// The child: resume from `latest.ckpt` if there is one, then train to the end, writing
/// `epoch-{epoch}.ckpt` and then `latest.ckpt` after every epoch. A kill while `latest` is
/// written makes the next child train that epoch again and write its epoch file over the
/// complete one already there.
fn train_resuming(dir: &Path) {
    let (x, y) = data();
    let latest = dir.join("latest.ckpt");
    let mut m = model();
    if latest.exists() {
        m.load_checkpoint(&latest)
            .expect("the last checkpoint loads");
    }
    let every_epoch = ModelCheckpoint::new(dir.join("epoch-{epoch}.ckpt"));
    m.fit(
        &x,
        y,
        options()
            .initial_epoch(m.epoch())
            .callback(every_epoch)
            .callback(ModelCheckpoint::new(&latest)),
    )
    .unwrap();
}

#[test]
fn child_training_with_checkpoints() {
    if let Ok(dir) = std::env::var(TRAIN_CHILD) {
        train_resuming(Path::new(&dir));
    }
}

fn spawn(test: &str, env: &str, value: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, value)
        .spawn()
        .unwrap()
}

/// A saved state as bits, part by part (see [`bits`]).
type Bits = Vec<(&'static str, String)>;

/// A saved state as bits, part by part (epochs, weights, optimizer buffers and scalars, random
/// streams, history), so that equal means bit for bit and a difference names its part.
fn bits(c: &Checkpoint<f32>) -> Bits {
    let tensors = |ts: &[(String, Tensor<f32>)]| -> String {
        let mut bits: Vec<(&String, Vec<u32>)> = ts
            .iter()
            .map(|(n, t)| (n, t.iter().map(|v| v.to_bits()).collect()))
            .collect();
        bits.sort(); // a file lists its tensors in its own order
        format!("{bits:?}")
    };
    let opt = c.optimizer.as_ref().expect("an optimizer state");
    let mut scalars: Vec<(&String, u64)> =
        opt.scalars.iter().map(|(n, v)| (n, v.to_bits())).collect();
    scalars.sort();
    vec![
        ("epoch", c.epoch.to_string()),
        ("weights", tensors(&c.weights)),
        ("optimizer", opt.kind.clone()),
        ("optimizer buffers", tensors(&opt.tensors)),
        ("optimizer scalars", format!("{scalars:?}")),
        ("random streams", format!("{:?}", c.random_states)),
        ("history", format!("{:?}", c.history)),
    ]
}

/// The first part in which two states differ.
fn first_difference(a: &Bits, b: &Bits) -> Option<String> {
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map(|((part, x), (_, y))| format!("{part}: {:.300} vs {:.300}", x, y))
}

/// Remembers the state after every epoch of the uninterrupted run.
struct Record(Arc<Mutex<Vec<Bits>>>);

impl Callback<f32> for Record {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        ctx: &mut CallbackContext<'_, f32>,
    ) -> Result<(), FitError> {
        let state = Checkpoint::capture(
            &*ctx.module,
            Some(&*ctx.optimizer),
            ctx.epochs_done,
            ctx.history,
        );
        self.0.lock().unwrap().push(bits(&state));
        Ok(())
    }
}

/// The names of the hidden temporary files in `dir`: each is a write that was cut short.
fn temporaries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
        .collect()
}

/// Checks every checkpoint in `dir` against the uninterrupted run's states (`reference[k - 1]`
/// after epoch `k`): each must load, pass its digests and equal one of them bit for bit.
/// Returns the epoch of `latest.ckpt`, if it exists.
fn check_every_checkpoint(dir: &Path, reference: &[Bits], round: usize) -> Option<usize> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let ckpt = Checkpoint::<f32>::load(dir.join(&name))
            .unwrap_or_else(|e| panic!("kill {round}: {name} is not a complete checkpoint: {e}"));
        assert!(
            (1..=EPOCHS).contains(&ckpt.epoch),
            "kill {round}: {name} holds epoch {}",
            ckpt.epoch
        );
        if let Some(diff) = first_difference(&bits(&ckpt), &reference[ckpt.epoch - 1]) {
            panic!(
                "kill {round}: {name} differs from the uninterrupted run's state after epoch {}: \
                 {diff}",
                ckpt.epoch
            );
        }
        if name == "latest.ckpt" {
            latest = Some(ckpt.epoch);
        } else {
            assert_eq!(name, format!("epoch-{}.ckpt", ckpt.epoch), "kill {round}");
        }
    }
    latest
}

/// Waits until `ready` holds or the child exits (or a minute passes); whether `ready` held.
fn wait_for(child: &mut Child, mut ready: impl FnMut() -> bool) -> bool {
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(60) {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    false
}

#[test]
fn training_killed_at_random_moments_resumes_to_the_unbroken_result() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // The uninterrupted run: its state after every epoch, and how long an epoch takes here,
    // to spread the kills over it.
    let reference = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let (x, y) = data();
    let mut straight = model();
    straight
        .fit(&x, y, options().callback(Record(reference.clone())))
        .unwrap();
    let epoch_time = started.elapsed().max(Duration::from_millis(20)) / EPOCHS as u32;
    let reference = reference.lock().unwrap().clone();
    assert_eq!(reference.len(), EPOCHS);

    // Half the kills (in a seeded random order) wait for a checkpoint write to begin, then
    // strike within a millisecond of it: mid-write. The others wait for the next complete
    // checkpoint (so that every such round makes progress), then strike at a random moment
    // of the next two epochs: while training, or while writing.
    let mut rng = SplitMix64::new(2024);
    let (mut kills, mut cut_writes, mut latest_epochs) = (0, 0, Vec::new());
    let mut last_epoch = None;
    while kills < KILLS {
        let temporaries_before = temporaries(dir);
        let mtime = || {
            std::fs::metadata(dir.join("latest.ckpt"))
                .and_then(|m| m.modified())
                .ok()
        };
        let last_save = mtime();
        let mut child = spawn("child_training_with_checkpoints", TRAIN_CHILD, dir);
        let mid_write = rng.next_f64() < 0.5;
        let delay = if mid_write {
            let began = wait_for(&mut child, || {
                temporaries(dir)
                    .difference(&temporaries_before)
                    .next()
                    .is_some()
            });
            assert!(
                began,
                "kill {kills}: the child saved nothing before it ended"
            );
            Duration::from_micros(rng.below(1000))
        } else {
            let saved = wait_for(&mut child, || mtime() != last_save);
            assert!(
                saved,
                "kill {kills}: the child saved nothing before it ended"
            );
            epoch_time.mul_f64(2.0 * rng.next_f64())
        };
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "kill {kills}: the child finished all {EPOCHS} epochs before it was killed; \
             raise EPOCHS"
        );
        kills += 1;
        cut_writes += temporaries(dir).difference(&temporaries_before).count();

        let latest = check_every_checkpoint(dir, &reference, kills);
        assert!(
            latest >= last_epoch,
            "kill {kills}: latest.ckpt went back from {last_epoch:?} to {latest:?}"
        );
        last_epoch = latest;
        latest_epochs.push(latest.unwrap_or(0));
    }
    eprintln!(
        "{kills} kills, {cut_writes} of them during a checkpoint write; epochs of latest.ckpt \
         after each: {latest_epochs:?}"
    );
    assert!(
        cut_writes >= 4,
        "only {cut_writes} of {kills} kills landed during a checkpoint write; the test proved \
         too little"
    );

    // Finish without interruption, then compare with the unbroken run.
    let mut child = spawn("child_training_with_checkpoints", TRAIN_CHILD, dir);
    assert!(child.wait().unwrap().success());
    assert_eq!(
        check_every_checkpoint(dir, &reference, kills + 1),
        Some(EPOCHS)
    );
    for epoch in 1..=EPOCHS {
        assert!(
            dir.join(format!("epoch-{epoch}.ckpt")).exists(),
            "epoch {epoch}"
        );
    }
    let mut resumed = model();
    resumed.load_checkpoint(dir.join("latest.ckpt")).unwrap();
    assert_eq!(resumed.epoch(), EPOCHS);
    let weights = |m: &Model<f32>| -> Vec<(String, Vec<u32>)> {
        m.module()
            .state_dict()
            .into_iter()
            .map(|(n, t)| (n, t.iter().map(|v| v.to_bits()).collect()))
            .collect()
    };
    assert_eq!(weights(&resumed), weights(&straight));
    assert_eq!(resumed.history(), straight.history());
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
