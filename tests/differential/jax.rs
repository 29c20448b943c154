//! Finding the Python with JAX and running `eval_jax.py` on a file of programs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tapegrad::autograd::{tensor, Tensor};

/// The command that creates the virtual environment with JAX.
pub const SETUP: &str = "bash .ci/differential-setup";

/// The virtual environment `.ci/differential-setup` creates: `$TAPEGRAD_JAX_VENV`, else
/// `$XDG_CACHE_HOME/tapegrad/jax-venv`, else `~/.cache/tapegrad/jax-venv`.
fn venv() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = env("TAPEGRAD_JAX_VENV") {
        return dir.into();
    }
    let cache = env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set: set TAPEGRAD_JAX_PYTHON");
    cache.join("tapegrad").join("jax-venv")
}

/// The Python interpreter to run JAX with: `$TAPEGRAD_JAX_PYTHON`, else the virtual
/// environment's, which is created on first use (the README's test command is all the set-up
/// the tests need). Panics, saying how to install it, when that fails: the comparison never
/// skips.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TAPEGRAD_JAX_PYTHON").filter(|v| !v.is_empty()) {
        return p.into();
    }
    let venv = venv();
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/differential-setup");
        eprintln!(
            "differential: creating the JAX environment at {}",
            venv.display()
        );
        let status = Command::new("bash")
            .arg(&script)
            .env("TAPEGRAD_JAX_VENV", &venv)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            panic!("`{SETUP}` failed ({status:?}); see its output above");
        }
    }
    assert!(
        python.exists(),
        "no Python with JAX for the differential test: {} does not exist. Create it from the \
         repository root with `{SETUP}` (a virtual environment with the pinned JAX from PyPI, \
         about 600 MB), or set TAPEGRAD_JAX_PYTHON to a Python that has jax installed.",
        python.display()
    );
    python
}

/// Runs `eval_jax.py` with `python` on the programs in `programs` and returns its results, one
/// per program.
pub fn evaluate(python: &Path, programs: &Path) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/eval_jax.py");
    let out = programs.with_file_name("jax-results.json");
    let status = Command::new(python)
        .arg(&script)
        .arg(programs)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        status.success(),
        "{} {} failed ({status}); its error is printed above. If jax is missing, run `{SETUP}`.",
        python.display(),
        script.display()
    );
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()));
    let mut doc: Value = serde_json::from_str(&text).expect("eval_jax.py writes valid JSON");
    match doc["results"].take() {
        Value::Array(results) => results,
        other => panic!("eval_jax.py wrote no result list: {other}"),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("a JSON number is an f64"),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        other => panic!("not a number: {other}"),
    }
}

/// A tensor written as `{"shape": [...], "data": [...]}`.
pub fn tensor_from(v: &Value) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a side") as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(number)
        .collect();
    tensor(&shape, data)
}

/// A result's objective.
pub fn objective(result: &Value) -> f64 {
    number(&result["objective"])
}
