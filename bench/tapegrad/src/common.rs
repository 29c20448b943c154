//! What every workload shares: the deterministic SplitMix64 inputs of the benchmark
//! definitions, MNIST through `datasets::Mnist`, the RESULT line and the peak memory.

use tapegrad::autograd::ndarray::{Axis, Slice};
use tapegrad::autograd::random::SplitMix64;
use tapegrad::autograd::{tensor, Tensor};
use tapegrad::datasets::batch::flatten_pixels;
use tapegrad::datasets::Mnist;

pub const IN: usize = 784;
pub const CLASSES: usize = 10;

/// `n` values `lo + (hi - lo) * u`, computed in f64 and rounded to f32, with `u` the top 53
/// bits of SplitMix64 seeded with `seed`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            (lo + (hi - lo) * ((r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64))) as f32
        })
        .collect()
}

/// Glorot-uniform `[fan_in, fan_out]`, row-major, from the stream seeded with `seed`.
pub fn glorot(seed: u64, fan_in: usize, fan_out: usize) -> Tensor<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    tensor(
        &[fan_in, fan_out],
        uniform(seed, fan_in * fan_out, -limit, limit),
    )
}

/// Glorot-uniform convolution kernels `[out, in, k, k]`, row-major, from the stream seeded with
/// `seed`: the fans are `in * k * k` and `out * k * k`, as for PyTorch's and Keras's kernels.
pub fn conv_glorot(seed: u64, out: usize, inputs: usize, k: usize) -> Tensor<f32> {
    let n = out * inputs * k * k;
    let limit = (6.0 / ((inputs + out) * k * k) as f64).sqrt();
    tensor(&[out, inputs, k, k], uniform(seed, n, -limit, limit))
}

/// Fisher-Yates as the benchmark defines it: `j = next % (i + 1)` for `i` from `n - 1` down.
pub fn permutation(seed: u64, n: usize) -> Vec<usize> {
    let mut r = SplitMix64::new(seed);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (r.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// MNIST from `TAPEGRAD_DATA_DIR` (`<dir>/mnist/*.gz`), else from `../shared/data/mnist` next
/// to the repository.
pub fn mnist() -> Mnist {
    let loaded = match std::env::var_os("TAPEGRAD_DATA_DIR") {
        Some(_) => Mnist::load(),
        None => Mnist::load_from(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        ),
    };
    loaded.unwrap_or_else(|e| {
        eprintln!("bench: cannot load MNIST: {e}");
        std::process::exit(3)
    })
}

/// The 60,000 training images as `[60000, 784]` pixels `p / 255` and their labels, in
/// `permutation(seed, 60000)` order.
pub fn shuffled_train(mnist: &Mnist, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let perm = permutation(seed, mnist.train_labels.len());
    // Shuffled while still bytes, so that only one f32 copy of the images exists.
    let xs = flatten_pixels(mnist.train_images.select(Axis(0), &perm).view(), 255.0);
    let ys = perm
        .iter()
        .map(|&i| usize::from(mnist.train_labels[i]))
        .collect();
    (xs, ys)
}

/// Rows `start..end` of `x`, sharing its buffer.
pub fn rows(x: &Tensor<f32>, start: usize, end: usize) -> Tensor<f32> {
    let mut v = x.clone();
    v.slice_axis_inplace(Axis(0), Slice::from(start..end));
    v
}

/// The losses of a training run: the first step's, the last step's and their mean, printed so
/// that runs of different frameworks can be seen to do the same work.
#[derive(Default)]
pub struct Losses {
    first: Option<f32>,
    last: f32,
    sum: f64,
    steps: usize,
}

impl Losses {
    pub fn push(&mut self, loss: f32) {
        self.first.get_or_insert(loss);
        self.last = loss;
        self.sum += f64::from(loss);
        self.steps += 1;
    }

    /// `first step loss`, `final step loss` and `mean train loss` on stderr.
    pub fn report(&self) {
        eprintln!("first step loss {:.7}", self.first.unwrap_or(f32::NAN));
        eprintln!("final step loss {:.7}", self.last);
        eprintln!(
            "mean train loss {:.4} over {} steps",
            self.sum / self.steps as f64,
            self.steps
        );
    }
}

/// Labels of one-hot rows.
pub fn labels_of(onehot: &Tensor<f32>) -> Vec<usize> {
    onehot
        .as_standard_layout()
        .as_slice()
        .expect("standard layout")
        .chunks_exact(CLASSES)
        .map(|row| row.iter().position(|&v| v == 1.0).expect("one-hot row"))
        .collect()
}

/// The fraction of rows of `scores` (`[n, 10]`) whose first maximum is the label.
pub fn accuracy(scores: &Tensor<f32>, labels: &[usize]) -> f64 {
    let s = scores.as_standard_layout();
    let s = s.as_slice().expect("standard layout");
    let ok = s
        .chunks_exact(CLASSES)
        .zip(labels)
        .filter(|(row, &l)| {
            let mut best = 0;
            for k in 1..CLASSES {
                if row[k] > row[best] {
                    best = k;
                }
            }
            best == l
        })
        .count();
    ok as f64 / labels.len() as f64
}

/// The peak resident memory so far (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// What the whole process has used so far (all threads), from `/proc/self/stat`.
#[derive(Clone, Copy)]
struct Usage {
    /// User and system CPU seconds.
    user: f64,
    system: f64,
    /// Minor page faults: pages the kernel mapped in on first touch.
    faults: f64,
}

impl Usage {
    fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            f.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        // minflt, utime and stime are fields 10, 14 and 15 of the line: 8, 12 and 13 after
        // the name.
        Usage {
            faults: field(7),
            user: field(11) / 100.0,
            system: field(12) / 100.0,
        }
    }
}

/// Wall time of the timed part, with the process CPU time and page faults over it reported on
/// stderr.
pub struct Timer {
    wall: std::time::Instant,
    usage: Usage,
}

impl Timer {
    pub fn start() -> Self {
        Timer {
            usage: Usage::now(),
            wall: std::time::Instant::now(),
        }
    }

    /// The seconds since `start`.
    pub fn stop(self) -> f64 {
        let wall = self.wall.elapsed().as_secs_f64();
        let (now, then) = (Usage::now(), self.usage);
        eprintln!(
            "timed part: wall {wall:.4} s, process CPU {:.2} s (user {:.2}, system {:.2}), \
             {} page faults",
            now.user + now.system - then.user - then.system,
            now.user - then.user,
            now.system - then.system,
            now.faults - then.faults
        );
        wall
    }
}

/// The variable `name` as a number, or `default` when unset or not a number.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn print_result(workload: &str, seconds: f64, metric: f64) {
    eprintln!("peak RSS {:.1} MiB", peak_rss_mib());
    println!("RESULT peer=tapegrad workload={workload} seconds={seconds:.6} metric={metric}");
}

/// Runs `work` on a thread of a rayon pool of the default size (`RAYON_NUM_THREADS`).
///
/// A kernel called from a thread outside the pool hands its parallel part to the pool and
/// sleeps until it is done: a futex wake and wait per op, and the calling thread does none of
/// the work. From a thread of the pool, the caller takes its own share. For the workloads whose
/// ops split their work that is measurable: `mlp` 0.66-0.67 s to 0.60-0.61 s per epoch,
/// `conv`'s training step alone on one thread 0.047-0.048 s to 0.037-0.038 s per iteration,
/// `matmul` 314-320 to 327-333 GFLOP/s.
/// (`tiny` and `scalar`, whose ops are too small to split, do not gain, so they stay on the
/// main thread.)
pub fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("bench-{i}"))
        .build()
        .expect("threads for the workload")
        .install(work)
}
