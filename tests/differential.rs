//! Forward values and gradients of random op programs over every built-in differentiable op,
//! checked against an independent framework, JAX, in f64.
//!
//! A gradient check compares an op's backward with its own forward, so a wrong forward passes
//! it. Here seeded random programs run in tapegrad; their values, objective and gradients are
//! compared with JAX's at a relative tolerance of 1e-6. JAX runs once, on all programs in one
//! file, with the Python of `.ci/differential-setup`'s virtual environment.
//!
//! * `TAPEGRAD_DIFFERENTIAL_PROGRAMS` (default 300): how many programs.
//! * `TAPEGRAD_DIFFERENTIAL_SEED` (default 0): the first seed; program `i` has seed `first + i`.
//! * `TAPEGRAD_JAX_PYTHON`: a Python with jax, instead of the virtual environment.
//!
//! "Checked against JAX" in docs/debugging.md lists the conventions at non-differentiable
//! points where tapegrad differs from JAX on purpose, and how the test handles them.

#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/generate.rs"]
mod generate;
#[path = "differential/jax.rs"]
mod jax;
#[path = "differential/program.rs"]
mod program;
#[path = "differential/values.rs"]
mod values;

use std::collections::HashSet;
use std::path::Path;

use tapegrad::autograd::OpKind;

use compare::{compare, first_difference, listing};
use generate::{generate, Choice};
use program::{Outcome, Program};

/// The number of programs of the default run: every op kind is the first op of several.
const DEFAULT_PROGRAMS: u64 = 300;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a non-negative integer")),
        _ => default,
    }
}

/// The programs of seeds `first..first + count`, each run in tapegrad, and the op kinds they
/// recorded.
fn run_programs(first: u64, count: u64) -> (Vec<(Program, Outcome)>, HashSet<OpKind>) {
    let choices = Choice::all();
    let mut kinds = HashSet::new();
    let programs = (first..first + count)
        .map(|seed| {
            let program = generate(seed, choices[(seed % choices.len() as u64) as usize]);
            let (outcome, recorded) = program.run();
            kinds.extend(recorded);
            (program, outcome)
        })
        .collect();
    (programs, kinds)
}

#[test]
fn every_differentiable_op_is_generated() {
    let (_, kinds) = run_programs(0, DEFAULT_PROGRAMS);
    let missing: Vec<&str> = OpKind::all()
        .into_iter()
        .filter(|k| !kinds.contains(k))
        .map(OpKind::name)
        .collect();
    assert!(
        missing.is_empty(),
        "the default programs never record {missing:?}: add them to the generator \
         (tests/differential/generate.rs) and to eval_jax.py"
    );
}

#[test]
fn random_programs_agree_with_jax() {
    let first = env_u64("TAPEGRAD_DIFFERENTIAL_SEED", 0);
    let count = env_u64("TAPEGRAD_DIFFERENTIAL_PROGRAMS", DEFAULT_PROGRAMS);
    let python = jax::python();
    let (programs, _) = run_programs(first, count);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential");
    std::fs::create_dir_all(&dir).expect("the test's temporary directory can be created");
    let file = dir.join("programs.json");
    let json: Vec<_> = programs.iter().map(|(p, o)| p.to_json(&o.values)).collect();
    std::fs::write(&file, serde_json::to_vec(&json).expect("serialisable"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));

    let results = jax::evaluate(&python, &file);
    assert_eq!(results.len(), programs.len(), "one JAX result per program");

    let mut failures = Vec::new();
    for ((program, outcome), result) in programs.iter().zip(&results) {
        let problems = compare(program, outcome, result);
        if !problems.is_empty() {
            failures.push((program, outcome, problems));
        }
    }
    if failures.is_empty() {
        return;
    }
    let mut report = format!(
        "{} of {} programs disagree with JAX (rtol {:e}, atol {:e} of each tensor's scale).\n",
        failures.len(),
        programs.len(),
        compare::RTOL,
        compare::ATOL
    );
    for (program, outcome, problems) in failures.iter().take(3) {
        report += &format!("\nseed {}:\n{}", program.seed, listing(program, outcome));
        for p in problems.iter().take(6) {
            report += &format!("  - {p}\n");
        }
        report += &format!(
            "  rerun it alone: TAPEGRAD_DIFFERENTIAL_SEED={} TAPEGRAD_DIFFERENTIAL_PROGRAMS=1 \
             cargo test --profile release-test --test differential\n",
            program.seed
        );
    }
    report += &format!("\nThe programs and JAX's results are in {}.", dir.display());
    panic!("{report}");
}

#[test]
fn the_comparison_catches_a_relative_difference_of_1e_5() {
    let (programs, _) = run_programs(0, 20);
    for (_, outcome) in &programs {
        for v in &outcome.values {
            assert_eq!(first_difference(v, v), None);
            if v.is_empty() {
                continue;
            }
            let mut off = v.to_owned();
            let i = off.len() / 2;
            let x = off.as_slice_memory_order_mut().expect("contiguous")[i];
            let scale = v.iter().fold(1.0f64, |m, x| m.max(x.abs()));
            // As much as a wrong op would change one element at least: 1e-5 relative, and
            // far more than 1e-9 of the tensor's scale.
            off.as_slice_memory_order_mut().expect("contiguous")[i] = x + 1e-5 * x.abs().max(scale);
            assert!(
                first_difference(&off.into_shared(), v).is_some(),
                "a change of 1e-5 in {v:?} went unnoticed"
            );
        }
    }
}
