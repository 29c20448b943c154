//! Udacity lesson 1 and assignment 1 (notMNIST): the lesson's numbers exactly, the pipeline's
//! counts and overlaps exactly (the reference numpy run with `np.random.seed(133)`), and the
//! logistic-regression baseline on 1,000 training letters.
//!
//! Needs `TAPEGRAD_DATA_DIR`; run with `--profile release-test`.

mod common;

#[allow(dead_code)]
#[path = "../examples/udacity_notmnist.rs"]
mod udacity;

use tapegrad::datasets::NotMnist;

#[test]
fn lesson_numbers_are_the_lessons() {
    // Lines of the reference run (logs/udacity_notmnist_logreg.log), character for character.
    assert_eq!(
        udacity::lesson(),
        [
            "softmax([3.0, 1.0, 0.2])        = [0.8360188  0.11314284 0.05083836]",
            "softmax(10 * [3.0, 1.0, 0.2])   = [9.99999998e-01 2.06115362e-09 6.91440009e-13]",
            "softmax([3.0, 1.0, 0.2] / 10)   = [0.38842275 0.31801365 0.2935636 ]",
            "1e9 + 1e6*1e-6 - 1e9 = 0.95367431640625",
            "1   + 1e6*1e-6 - 1   = 0.9999999999177334",
            "RESULT udacity softmax([3,1,0.2]) [0.8360188027814407, 0.11314284146556011, \
             0.05083835575299916] ; float example 0.95367431640625 / 0.9999999999177334",
        ]
    );
}

#[test]
fn pipeline_overlaps_and_logistic_regression() {
    common::require_data(&common::NOTMNIST_SMALL);
    let data = NotMnist::load_small().expect("notMNIST_small loads");
    assert_eq!(
        data.class_counts(),
        [1872, 1873, 1873, 1873, 1873, 1872, 1872, 1872, 1872, 1872]
    );
    let p = udacity::pipeline(&data).expect("the split fits");
    assert_eq!((p.train.len(), p.test.len()), (12_700, 5_000));
    assert_eq!(p.train.class_counts(), [1270; 10]);
    assert_eq!(p.test.class_counts(), [500; 10]);
    // The reference: 89 distinct training images also held out, 291 repeats in training.
    assert_eq!(p.overlap, 89);
    assert_eq!(p.duplicates_in_train, 291);
    assert_eq!(p.train_sanitized.len(), 12_700 - 291);
    // Held out: repeats go first (74), then the 89 distinct images that are also in training.
    assert_eq!(p.duplicates_in_test, 74);
    assert_eq!(p.test_sanitized.len(), 5_000 - 74 - 89);

    // scikit-learn's LogisticRegression() on the first 1,000: 0.8538 in the reference.
    let model = udacity::fit_logistic_regression(&p.train.range(0, 1000));
    let acc = model.score(&p.test);
    println!(
        "accuracy {acc} after {} L-BFGS iterations (objective {})",
        model.iterations, model.objective
    );
    assert!(
        acc > 0.83,
        "held-out accuracy {acc} with 1000 training letters"
    );
    assert!(model.grad_max < 1e-3, "{}", model.grad_max);
}
