//! tapegrad's side of the benchmark workloads, with the same inputs, initial weights, sample
//! order and timing boundaries as the peer frameworks it is compared with (`bench/README.md`).
//!
//! ```sh
//! bench/run tapegrad <workload>       # builds this crate in release, then runs it
//! ```
//!
//! Prints one line, `RESULT peer=tapegrad workload=<w> seconds=<timed part> metric=<m>`, on
//! stdout; losses, checksums and the peak resident memory go to stderr. Threads: rayon's pool
//! (`RAYON_NUM_THREADS`), which runs the GEMM blocks too. `BENCH_BATCH` and `BENCH_HIDDEN`
//! change the `mlp` shape for scaling measurements, `BENCH_TEST_CHUNK` the `conv` test chunk.

mod adam_mlp;
#[path = "../../../examples/common/background.rs"]
mod background;
mod common;
mod conv;
mod conv_infer;
mod lenet;
mod matmul;
mod mlp;
mod rnn;
mod scalar;
mod tiny;

/// Every workload, by the name `bench/run` passes.
const WORKLOADS: &str = "mlp|tiny|scalar|matmul|conv|lenet|adam_mlp|rnn|conv_infer";

fn main() {
    let workload = std::env::args().nth(1).unwrap_or_default();
    match workload.as_str() {
        "mlp" => common::on_pool(mlp::run),
        "tiny" => tiny::run(),
        "scalar" => scalar::run(),
        "matmul" => common::on_pool(matmul::run),
        "conv" => common::on_pool(conv::run),
        "lenet" => common::on_pool(lenet::run),
        "adam_mlp" => common::on_pool(adam_mlp::run),
        "rnn" => common::on_pool(rnn::run),
        "conv_infer" => common::on_pool(conv_infer::run),
        _ => {
            eprintln!("usage: tapegrad-bench <{WORKLOADS}>");
            std::process::exit(2);
        }
    }
}
