//! The Coursera *Improving Deep Neural Networks* examples print the course's numbers.
//!
//! The references are the course's printed outputs and the reference numpy runs of the same
//! programs (`logs/coursera_gradient_check.log`, `logs/coursera_optimizers.log` of the
//! reference set), copied here. The optimizer runs are cut to their first 1001 epochs, which
//! print the lines of epochs 0 and 1000; the full runs are the example's.

// Each example brings its own copy of examples/coursera, as it does when built on its own.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/coursera_gradient_check.rs"]
mod gradient_check;
#[allow(dead_code)]
#[path = "../examples/coursera_initialization.rs"]
mod initialization;
#[allow(dead_code)]
#[path = "../examples/coursera_input_normalisation_minibatch.rs"]
mod normalisation;
#[allow(dead_code)]
#[path = "../examples/coursera_optimizers.rs"]
mod optimizers;

use tapegrad::books::pyfmt::float_repr;

fn assert_rel(ours: f64, want: f64, rel: f64, what: &str) {
    let diff = (ours - want).abs() / want.abs();
    assert!(
        diff <= rel,
        "{what}: {ours:e} vs {want:e}, relative difference {diff:e} > {rel:e}"
    );
}

#[test]
fn gradient_check_numbers() {
    let o = gradient_check::run();
    // 1-D: every step is exact or correctly rounded, so the course's digits come out exactly.
    assert_eq!(float_repr(o.one_d), "2.919335883291695e-10");
    assert_eq!(float_repr(o.cost), "2.407833389834357");
    // The buggy backward: the reference run prints 0.2850931567761623 (ours, exactly, on the
    // machines tried), the course 0.2850931567761624, one unit in the last place away.
    assert_rel(o.buggy, 0.2850931567761623, 1e-15, "buggy vs reference run");
    assert_rel(o.buggy, 0.2850931567761624, 1e-15, "buggy vs course");
    // The fixed backward: a ratio of rounding residues (each J(theta +- 1e-7) is off by about
    // 1e-14 because log(1 - a3) is taken of a3 = 0.9989), so it depends on how each forward
    // pass rounds. The reference run prints 1.1890913024229996e-07 (ours, exactly, on the
    // machines tried), the course 1.1890913022840002e-07: 10 digits in common.
    assert_rel(
        o.fixed,
        1.1890913024229996e-07,
        1e-8,
        "fixed vs reference run",
    );
    assert_rel(o.fixed, 1.1890913022840002e-07, 2e-9, "fixed vs course");
    assert!(o.fixed < 2e-7 && o.buggy > 1e-3);
    // The same finite differences judge the tape's gradient alike; gradcheck of the hand-written
    // op reproduces the course's loop.
    assert_rel(o.tape_course_form, o.fixed, 1e-6, "tape vs fixed");
    assert_rel(
        o.gradcheck_fixed,
        o.fixed,
        1e-12,
        "gradcheck vs the course's loop",
    );
    // gradcheck finds the db1 bug, the first wrong input in the course's order.
    assert!(
        o.gradcheck_buggy_message
            .starts_with("gradient mismatch for input 1 (shape [5, 1])"),
        "{}",
        o.gradcheck_buggy_message
    );
    // Written from the logits, the numerical side keeps its precision: the tape's gradient
    // agrees to about 1e-10 (1.1e-9 at the course's eps 1e-7, 8.8e-11 at gradcheck's 1e-6).
    assert!(o.tape_logits_form < 3e-9, "{:e}", o.tape_logits_form);
    assert!(
        o.tape_logits_default_eps < 3e-10,
        "{:e}",
        o.tape_logits_default_eps
    );
}

/// The reference run's lines of epochs 0 and 1000 for each run.
const OPTIMIZER_LINES: &[(&str, [&str; 2])] = &[
    (
        "gd",
        [
            "    Cost after epoch 0: 0.690736",
            "    Cost after epoch 1000: 0.685273",
        ],
    ),
    (
        "adam(sqrt(s+eps), as the 2017 notebook)",
        [
            "    Cost after epoch 0: 0.690552",
            "    Cost after epoch 1000: 0.185501",
        ],
    ),
    (
        "adam(sqrt(s)+eps, lecture formula)",
        [
            "    Cost after epoch 0: 0.690552",
            "    Cost after epoch 1000: 0.185567",
        ],
    ),
    (
        "momentum lr0=0.1 schedule_lr_decay",
        [
            "    Cost after epoch 0: 0.702226   learning rate after epoch 0: 0.100000",
            "    Cost after epoch 1000: 0.128974   learning rate after epoch 1000: 0.050000",
        ],
    ),
    (
        "gd lr0=0.1 update_lr",
        [
            "    Cost after epoch 0: 0.701091   learning rate after epoch 0: 0.100000",
            "    Cost after epoch 1000: 0.661884   learning rate after epoch 1000: 0.000100",
        ],
    ),
];

#[test]
fn optimizer_cost_lines_match_the_reference_run() {
    let (x, y) = optimizers::load_dataset();
    let specs: Vec<optimizers::RunSpec> = optimizers::part_a_specs(1001)
        .into_iter()
        .chain(optimizers::part_b_specs(1001))
        .collect();
    for (label, want) in OPTIMIZER_LINES {
        let spec = specs
            .iter()
            .find(|s| s.label() == *label)
            .unwrap_or_else(|| panic!("no run labelled {label}"));
        let r = optimizers::model(&x, &y, *spec);
        assert_eq!(r.cost_lines, want, "{label}");
    }
    assert_eq!(
        optimizers::part_c()[1..],
        [
            "  schedule_lr_decay(0.5, 10, 0.3, 100) = 0.5",
            "  schedule_lr_decay(0.5, 100, 0.3, 100) = 0.3846153846153846",
            "  update_lr(0.5, 2, 1) = 0.16666666666666666",
            "  EWMA(theta=0.9) of 1..10: raw v_10 = 4.1381059609, bias-corrected = 6.3533993279",
        ]
    );
}

#[test]
fn zeros_initialization_never_breaks_symmetry() {
    let data = initialization::load_dataset();
    let zeros = initialization::model(&data, initialization::INITS[0], 2001);
    assert_eq!(zeros.train_accuracy, 0.5);
    assert_eq!(zeros.test_accuracy, 0.5);
    for c in &zeros.costs {
        assert_rel(*c, std::f64::consts::LN_2, 1e-15, "zeros cost");
    }
    // Every weight is still exactly 0; only the output bias may carry rounding residue.
    for p in &zeros.net.params {
        if p.name().starts_with('W') {
            assert!(p.value().iter().all(|&w| w == 0.0), "{} moved", p.name());
        }
    }
    // He initialization from the same data: the course's costs at iterations 0 and 1000
    // (printed 0.8830537463419761 and 0.6879825919728063; last digits vary between copies of
    // the course's output).
    let he = initialization::model(&data, initialization::INITS[2], 1001);
    assert_rel(he.costs[0], 0.8830537463419761, 1e-15, "He, iteration 0");
    assert_rel(he.costs[1], 0.6879825919728063, 1e-14, "He, iteration 1000");
}

#[test]
fn normalised_inputs_train_where_raw_ones_do_not() {
    let (train_raw, test_raw) = normalisation::raw_data();
    let scaler = tapegrad::datasets::batch::Standardizer::fit(&train_raw.x);
    let train =
        tapegrad::datasets::Dataset::new(scaler.transform(&train_raw.x), train_raw.y.clone());
    let test = tapegrad::datasets::Dataset::new(scaler.transform(&test_raw.x), test_raw.y.clone());
    // The test set is transformed with the training set's statistics: close to, not exactly,
    // mean 0 and standard deviation 1.
    for (mean, std) in normalisation::stats(&test.x) {
        assert!(mean.abs() > 1e-4 && mean.abs() < 0.1, "{mean}");
        assert!(
            (std - 1.0).abs() > 1e-4 && (std - 1.0).abs() < 0.05,
            "{std}"
        );
    }
    let norm = normalisation::train_full_batch(&train, &test, 1.0, 1000);
    assert!(norm.cost < 0.34 && norm.test_accuracy >= 0.85, "{norm:?}");
    // On the raw inputs a step as large diverges, and the best small one barely moves.
    let raw_large = normalisation::train_full_batch(&train_raw, &test_raw, 1.0, 1000);
    assert!(raw_large.cost > 10.0, "{raw_large:?}");
    let raw_small = normalisation::train_full_batch(&train_raw, &test_raw, 1e-5, 1000);
    assert!(raw_small.cost > 0.65, "{raw_small:?}");
    let table = normalisation::ewma_table(0.9, 10);
    let (_, _, v, c) = table[9];
    assert_eq!(format!("{v:.10} {c:.10}"), "4.1381059609 6.3533993279");
}
