//! The losses by hand, in every form, and the shapes they refuse.

use super::*;
use crate::targets::{one_hot, Targets};
use tapegrad_autograd::{tensor, Tape};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn squared_errors_and_course_norms() {
    let tape = Tape::<f64>::new();
    let p = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    let t = tape.constant(tensor(&[2, 2], vec![1.5, 2.0, 2.0, 6.0]));
    // squared errors 0.25, 0, 1, 4
    close(sum_squared_error(p, t).item(), 5.25);
    close(mse(p, t, Reduce::Mean).item(), 5.25 / 4.0);
    close(l2_loss(p, t).item(), 5.25);
    // the course: yhat = [.9, .2, .1, .4, .9], y = [1, 0, 0, 1, 1] -> L1 1.1, L2 0.43
    let yhat = tape.constant(tensor(&[5], vec![0.9, 0.2, 0.1, 0.4, 0.9]));
    let y = tape.constant(tensor(&[5], vec![1.0, 0.0, 0.0, 1.0, 1.0]));
    assert!((l1_loss(yhat, y).item() - 1.1).abs() < 1e-12);
    assert!((l2_loss(yhat, y).item() - 0.43).abs() < 1e-12);
}

#[test]
fn cross_entropies_agree_across_forms() {
    let tape = Tape::<f64>::new();
    let z = tape.var(tensor(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]));
    let labels = [0usize, 1];
    let onehot = tape.constant(one_hot(&labels, 3));
    let p = z.softmax(-1);
    let from_logits = softmax_cross_entropy_with_labels(z, &labels, Reduce::Mean).item();
    close(
        softmax_cross_entropy(z, onehot, Reduce::Mean).item(),
        from_logits,
    );
    close(
        categorical_cross_entropy(p, onehot, Reduce::Mean).item(),
        from_logits,
    );
    close(
        sparse_categorical_cross_entropy(p, &labels, Reduce::Sum).item(),
        2.0 * from_logits,
    );
    // by hand: -ln softmax(z)[label], averaged
    let pv = p.value();
    close(from_logits, -(pv[[0, 0]].ln() + pv[[1, 1]].ln()) / 2.0);
}

#[test]
fn binary_cross_entropies_agree() {
    let tape = Tape::<f64>::new();
    let z = tape.var(tensor(&[3, 1], vec![0.3, -1.2, 2.0]));
    let t = tape.constant(tensor(&[3, 1], vec![1.0, 0.0, 1.0]));
    let a = binary_cross_entropy(z.sigmoid(), t, Reduce::Mean).item();
    let b = bce_with_logits(z, t, Reduce::Mean).item();
    assert!((a - b).abs() < 1e-9, "{a} {b}");
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    let by_hand = -((s(0.3)).ln() + (1.0 - s(-1.2)).ln() + s(2.0).ln()) / 3.0;
    assert!((b - by_hand).abs() < 1e-12);
}

#[test]
fn loss_objects_take_labels_and_one_hot() {
    let tape = Tape::<f64>::new();
    let z = tape.var(tensor(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]));
    let labels: Targets<f64> = vec![2usize, 1].into();
    let dense = Targets::Dense(labels.to_one_hot(3));
    let l = CategoricalCrossentropy::from_logits();
    close(l.loss(z, &labels).item(), l.loss(z, &dense).item());
    let l = CategoricalCrossentropy::new();
    let p = z.softmax(-1);
    close(l.loss(p, &labels).item(), l.loss(p, &dense).item());
    let custom = loss_fn(|out: Var<'_, f64>, _t: &Targets<f64>| out.sum());
    close(Loss::loss(&custom, z, &labels).item(), 6.4);
}

#[test]
#[should_panic(expected = "MeanSquaredError: outputs of shape [2, 1] against 2 integer labels")]
fn mse_rejects_labels() {
    let tape = Tape::<f64>::new();
    let z = tape.var(tensor(&[2, 1], vec![1.0, 2.0]));
    MeanSquaredError.loss(z, &Targets::Labels(vec![0, 1]));
}

/// The [N, 1] against [N] case that broadcasting turned into [N, N]: each loss object reads
/// `[N]` targets as the column, and gives exactly the loss of `[N, 1]` targets.
#[test]
fn column_targets_are_read_as_the_column_never_broadcast() {
    let tape = Tape::<f64>::new();
    let p = tape.var(tensor(&[3, 1], vec![0.9, 0.2, 0.6]));
    let column = Targets::Dense(tensor(&[3], vec![1.0, 0.0, 0.0]));
    let as_matrix = Targets::Dense(tensor(&[3, 1], vec![1.0, 0.0, 0.0]));
    let losses: [&dyn Loss<f64>; 4] = [
        &BinaryCrossentropy::new(),
        &BinaryCrossentropy::from_logits(),
        &MeanSquaredError,
        &SumSquaredError,
    ];
    for loss in losses {
        let a = loss.loss(p, &column).item();
        let b = loss.loss(p, &as_matrix).item();
        assert_eq!(a.to_bits(), b.to_bits(), "{}", loss.name());
    }
    // by hand: the mean of the three terms, not of nine
    let by_hand = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln()) / 3.0;
    let bce = BinaryCrossentropy::new().loss(p, &column).item();
    assert!((bce - by_hand).abs() < 1e-12, "{bce} vs {by_hand}");
}

#[test]
fn loss_objects_refuse_targets_that_do_not_fit() {
    let tape = Tape::<f64>::new();
    let col = tape.var(tensor(&[4, 1], vec![0.9, 0.2, 0.6, 0.4]));
    let three = tape.var(tensor(&[4, 3], vec![0.2; 12]));
    let square = Targets::Dense(tensor(&[4, 4], vec![0.0; 16]));
    let err = BinaryCrossentropy::new()
        .try_loss(col, &square)
        .unwrap_err();
    assert_eq!(err.by, "BinaryCrossentropy");
    assert_eq!(err.outputs, [4, 1]);
    let text = err.to_string();
    assert!(
        text.contains(
            "BinaryCrossentropy: outputs of shape [4, 1] against dense targets of shape [4, 4]"
        ),
        "{text}"
    );
    assert!(
        text.contains("(or [4] for this single output column)"),
        "{text}"
    );
    // BCE targets are probabilities
    let twos = Targets::Dense(tensor(&[4, 1], vec![0.0, 1.0, 2.0, 1.0]));
    let text = BinaryCrossentropy::new()
        .try_loss(col, &twos)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("between 0 and 1") && text.contains("element 2 is 2.0"),
        "{text}"
    );
    // MSE: no broadcasting of a row either
    let row = Targets::Dense(tensor(&[3], vec![0.0; 3]));
    let text = MeanSquaredError
        .try_loss(three, &row)
        .unwrap_err()
        .to_string();
    assert!(text.contains("outputs' shape [4, 3]"), "{text}");
    // categorical: one column is not a distribution over classes
    let cce = CategoricalCrossentropy::new();
    let one_hot_col = Targets::Dense(tensor(&[4, 1], vec![1.0, 0.0, 1.0, 0.0]));
    let text = cce.try_loss(col, &one_hot_col).unwrap_err().to_string();
    assert!(text.contains("at least 2 classes"), "{text}");
    assert!(text.contains("BinaryCrossentropy"), "{text}");
    let text = CategoricalCrossentropy::from_logits()
        .try_loss(col, &Targets::Labels(vec![0, 1, 1, 0]))
        .unwrap_err()
        .to_string();
    assert!(text.contains("at least 2 classes"), "{text}");
    // labels out of range and of the wrong count
    let text = cce
        .try_loss(three, &Targets::Labels(vec![0, 1, 3, 2]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("labels in 0..3") && text.contains("label 2 is 3"),
        "{text}"
    );
    let text = cce
        .try_loss(three, &Targets::Labels(vec![0, 1]))
        .unwrap_err()
        .to_string();
    assert!(text.contains("one label per output row (4)"), "{text}");
    let text = cce
        .try_loss(
            three,
            &Targets::Dense(tensor(&[4], vec![0.0, 1.0, 2.0, 1.0])),
        )
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("rows of shape [4, 3]") && text.contains("Vec<usize>"),
        "{text}"
    );
    // what check says is what try_loss says
    assert_eq!(
        Loss::<f64>::check(&cce, &[4, 1], &one_hot_col).unwrap_err(),
        cce.try_loss(col, &one_hot_col).unwrap_err()
    );
}

#[test]
#[should_panic(
    expected = "BinaryCrossentropy: outputs of shape [2, 1] against dense targets of shape [2, 2]"
)]
fn the_panicking_form_says_the_same() {
    let tape = Tape::<f64>::new();
    let p = tape.var(tensor(&[2, 1], vec![0.9, 0.2]));
    BinaryCrossentropy::new().loss(p, &Targets::Dense(tensor(&[2, 2], vec![0.0; 4])));
}

#[test]
fn free_functions_refuse_mismatched_shapes_and_single_classes() {
    let tape = Tape::<f64>::new();
    let col = tape.var(tensor(&[3, 1], vec![0.9, 0.2, 0.6]));
    let flat = tape.constant(tensor(&[3], vec![1.0, 0.0, 0.0]));
    let err = try_binary_cross_entropy(col, flat, Reduce::Mean).unwrap_err();
    assert_eq!(err.op, "binary_cross_entropy");
    assert_eq!(err.shapes, [vec![3, 1], vec![3]]);
    assert!(err.message.contains("not broadcast"), "{err}");
    let err = try_categorical_cross_entropy(col, col, Reduce::Mean).unwrap_err();
    assert!(err.message.contains("at least 2 classes"), "{err}");
    let err = try_sparse_categorical_cross_entropy(col, &[0, 0, 0], Reduce::Mean).unwrap_err();
    assert!(err.message.contains("at least 2 classes"), "{err}");
    let err = try_softmax_cross_entropy_with_labels(col, &[0, 0, 0], Reduce::Mean).unwrap_err();
    assert!(err.message.contains("at least 2 classes"), "{err}");
    let two = tape.var(tensor(&[3, 2], vec![0.5; 6]));
    let err = try_sparse_categorical_cross_entropy(two, &[0, 2, 1], Reduce::Mean).unwrap_err();
    assert!(err.message.contains("label 2 (sample 1)"), "{err}");
    let err = try_categorical_cross_entropy(
        two,
        tape.constant(tensor(&[3, 3], vec![0.0; 9])),
        Reduce::Mean,
    )
    .unwrap_err();
    assert!(err.message.contains("same shape"), "{err}");
    let result = std::panic::catch_unwind(|| {
        let tape = Tape::<f64>::new();
        let a = tape.var(tensor(&[3, 1], vec![0.9, 0.2, 0.6]));
        l1_loss(a, tape.constant(tensor(&[3], vec![1.0, 0.0, 0.0]))).item()
    });
    assert!(result.is_err(), "l1_loss broadcast [3, 1] against [3]");
}
