//! The benchmark workloads, with the same inputs, initial weights, sample order and timing
//! boundaries as the peer frameworks they are compared with (see docs/performance.md).
//!
//! ```sh
//! cargo run --release --example bench -- <mlp|tiny|scalar|matmul|conv>
//! ```
//!
//! Prints one line, `RESULT peer=tapegrad workload=<w> seconds=<timed part> metric=<m>`, on
//! stdout; losses, checksums and the peak resident memory go to stderr. Threads: rayon's pool
//! (`RAYON_NUM_THREADS`), which runs the GEMM blocks too. `BENCH_BATCH` and `BENCH_HIDDEN`
//! change the `mlp` shape for scaling measurements, `BENCH_TEST_CHUNK` the `conv` test chunk.

#[path = "common/background.rs"]
mod background;
#[path = "bench/common.rs"]
mod common;
#[path = "bench/conv.rs"]
mod conv;
#[path = "bench/matmul.rs"]
mod matmul;
#[path = "bench/mlp.rs"]
mod mlp;
#[path = "bench/scalar.rs"]
mod scalar;
#[path = "bench/tiny.rs"]
mod tiny;

fn main() {
    let workload = std::env::args().nth(1).unwrap_or_default();
    match workload.as_str() {
        "mlp" => common::on_pool(mlp::run),
        "tiny" => tiny::run(),
        "scalar" => scalar::run(),
        "matmul" => common::on_pool(matmul::run),
        "conv" => common::on_pool(conv::run),
        _ => {
            eprintln!("usage: bench <mlp|tiny|scalar|matmul|conv>");
            std::process::exit(2);
        }
    }
}
