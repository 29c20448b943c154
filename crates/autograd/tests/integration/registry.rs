//! Every built-in op, gradchecked in f64 on every case of the registry.

use tapegrad_autograd::gradcheck::registry::all_cases;
use tapegrad_autograd::{OpKind, Tape};

#[test]
fn every_op_has_cases() {
    let missing: Vec<_> = OpKind::all()
        .into_iter()
        .filter(|k| k.gradcheck_cases().is_empty())
        .collect();
    assert!(
        missing.is_empty(),
        "ops without gradcheck cases: {missing:?}"
    );
}

#[test]
fn every_case_records_the_op_it_is_listed_under() {
    for (kind, case) in all_cases() {
        let tape = Tape::<f64>::new();
        let vars: Vec<_> = case.inputs.iter().map(|x| tape.var(x.clone())).collect();
        case.apply(&vars);
        assert!(
            tape.nodes().iter().any(|n| n.kind == Some(kind)),
            "case '{}' is listed under {kind} but does not record it",
            case.label
        );
    }
}

#[test]
fn every_registered_op_passes_gradcheck_in_f64() {
    let cases = all_cases();
    let mut failures = Vec::new();
    for (kind, case) in &cases {
        match case.check() {
            Ok(report) => assert!(
                report.relative_difference < 1e-6,
                "{kind} '{}': relative difference {:e}\n{report}",
                case.label,
                report.relative_difference
            ),
            Err(e) => failures.push(format!("{kind} '{}': {e}", case.label)),
        }
    }
    assert!(
        failures.is_empty(),
        "gradcheck failures:\n{}",
        failures.join("\n")
    );
    let ops = OpKind::all().len();
    println!("gradchecked {ops} ops on {} cases", cases.len());
}

#[test]
fn every_registered_op_passes_second_order_and_forward_mode_checks_in_f64() {
    use tapegrad_autograd::gradcheck::{gradgradcheck, jvpcheck};

    let mut failures = Vec::new();
    for (kind, case) in &all_cases() {
        let second = gradgradcheck(|v| case.apply(v), &case.inputs, &case.options).map(|_| ());
        let forward = jvpcheck(|v| case.apply(v), &case.inputs, &case.options).map(|_| ());
        for (what, result) in [("second order", second), ("forward mode", forward)] {
            if let Err(e) = result {
                failures.push(format!("{kind} '{}' ({what}): {e}", case.label));
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
