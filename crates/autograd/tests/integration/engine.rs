//! The tape's semantics: what gets a gradient, what does not, and how errors read.

use tapegrad_autograd::{scalar, tensor, BackwardError, Tape};

#[test]
fn shared_subexpressions_accumulate_gradients() {
    // y = (x * x) + (x * x) * 3 uses the same node twice: dy/dx = 8x.
    let tape = Tape::<f64>::new();
    let x = tape.var(scalar(1.5));
    let sq = x * x;
    let y = sq + sq * 3.0;
    let g = tape.backward(y);
    assert_eq!(g.get(x).unwrap()[[]], 12.0);
}

#[test]
fn unused_outputs_constants_and_off_path_leaves_get_no_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.var(scalar(2.0));
    let unused_leaf = tape.var(scalar(5.0));
    let c = tape.constant(scalar(3.0));
    let _unused_branch = x * 100.0;
    let y = x * c;
    let g = tape.backward(y);
    assert_eq!(g.get(x).unwrap()[[]], 3.0);
    assert!(g.get(c).is_none());
    assert!(g.get(unused_leaf).is_none());
    assert!(g.get(_unused_branch).is_none());
    assert!(
        g.get(y).is_none(),
        "intermediate gradients are freed unless retained"
    );
    assert_eq!(g.len(), 1);
}

#[test]
fn retained_intermediate_gradients_are_kept() {
    let tape = Tape::<f64>::new();
    let x = tape.var(scalar(2.0));
    let h = (x * 3.0).retain_grad();
    let y = h * h;
    let g = tape.backward(y);
    assert_eq!(g.get(h).unwrap()[[]], 12.0);
    assert_eq!(g.get(x).unwrap()[[]], 36.0);
}

#[test]
fn detach_and_no_grad_stop_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.var(scalar(2.0));
    let stopped = (x * x).detach();
    let y = x * stopped; // d/dx = stopped = 4, not 3x^2 = 12
    assert_eq!(tape.backward(y).get(x).unwrap()[[]], 4.0);

    let z = tape.no_grad(|| x * 7.0);
    assert!(!z.requires_grad());
    assert!(tape.is_grad_enabled(), "no_grad restores the mode");
    let w = x + z;
    assert_eq!(tape.backward(w).get(x).unwrap()[[]], 1.0);
}

#[test]
fn inference_tapes_record_values_only() {
    let tape = Tape::<f32>::inference();
    let x = tape.var(scalar(2.0));
    let y = x * x;
    assert_eq!(y.item(), 4.0);
    assert!(!y.requires_grad());
    assert!(tape.backward(y).is_empty());
}

#[test]
fn backward_from_a_non_scalar_is_a_clear_error() {
    let tape = Tape::<f32>::new();
    let x = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
    let y = x * 2.0;
    let err = tape.try_backward(y).unwrap_err();
    assert_eq!(err, BackwardError::NotScalar { shape: vec![3] });
    assert!(err.to_string().contains(".sum()"), "{err}");
    let g = tape.backward_with(y, tensor(&[3], vec![1.0, 0.0, -1.0]));
    assert_eq!(g.get(x).unwrap().as_slice().unwrap(), &[2.0, 0.0, -2.0]);
}

#[test]
#[should_panic(expected = "another tape")]
fn variables_cannot_cross_tapes() {
    let a = Tape::<f32>::new();
    let b = Tape::<f32>::new();
    let x = a.var(scalar(1.0));
    let y = b.var(scalar(1.0));
    let _ = x + y;
}

#[test]
fn the_listing_names_ops_shapes_and_source_lines() {
    let tape = Tape::<f32>::new();
    let x = tape.var(tensor(&[2, 3], vec![0.5; 6]));
    let _y = (x * 2.0 + 1.0).sum();
    let text = tape.to_string();
    assert!(text.contains("mul_scalar") && text.contains("add_scalar") && text.contains("sum"));
    assert!(text.contains("[2, 3]"));
    assert!(text.contains("engine.rs:"), "{text}");
    let nodes = tape.nodes();
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[1].inputs, vec![0]);
    assert_eq!(nodes[3].shape, Vec::<usize>::new());
}

#[test]
fn reset_reuses_a_tape() {
    let mut tape = Tape::<f64>::new();
    for step in 0..3 {
        {
            let x = tape.var(scalar(step as f64));
            let y = x * x;
            assert_eq!(tape.backward(y).get(x).unwrap()[[]], 2.0 * step as f64);
        }
        assert_eq!(tape.len(), 2);
        tape.reset();
        assert!(tape.is_empty());
    }
}

#[test]
fn micro_batch_gradients_accumulate_to_the_whole_batch_gradient() {
    // A loss summed over four rows, in one pass and in two passes of two rows on one tape.
    let x = tensor(&[4, 3], (0..12).map(|i| i as f64 / 7.0 - 0.5).collect());
    let w0 = tensor(&[3, 2], vec![0.3, -0.2, 0.1, 0.4, -0.5, 0.2]);
    let whole = {
        let tape = Tape::<f64>::new();
        let w = tape.var(w0.clone());
        let loss = tape.constant(x.clone()).matmul(w).tanh().sum();
        tape.backward(loss).get(w).unwrap().clone()
    };
    let tape = Tape::<f64>::new();
    let w = tape.var(w0);
    let x = tape.constant(x);
    let mut grads = tape.backward(x.slice(&[0..2, 0..3]).matmul(w).tanh().sum());
    let rest = tape.backward(x.slice(&[2..4, 0..3]).matmul(w).tanh().sum());
    grads.accumulate(rest);
    let summed = grads.get(w).unwrap();
    for (a, b) in summed.iter().zip(whole.iter()) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
}

#[test]
#[should_panic(expected = "Gradients::accumulate: the two backward passes ran on different tapes")]
fn gradients_of_different_tapes_do_not_accumulate() {
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let (x, y) = (a.var(scalar(1.0)), b.var(scalar(1.0)));
    let mut grads = a.backward(x * 2.0);
    grads.accumulate(b.backward(y * 2.0));
}
