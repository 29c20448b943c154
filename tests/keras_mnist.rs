//! *Deep Learning with Python* ch.2 on real MNIST: the chapter's network, built and trained
//! with the `nn` crate's Keras-like API (`Sequential`, `Dense`, `compile` with rmsprop and
//! categorical cross-entropy, `fit`, `evaluate`), classifies at least 95 % of the test images
//! after one epoch (the chapter's five epochs reach about 98 %).
//!
//! Needs `TAPEGRAD_DATA_DIR` (fails, never skips, without it). Run with
//! `--profile release-test`: one epoch takes a few seconds there.

mod common;

#[allow(dead_code)]
#[path = "../examples/keras_ch02_mnist.rs"]
mod ch02;

use std::time::Instant;

#[test]
fn the_chapter_network_passes_95_percent_after_one_epoch() {
    common::require_data(&common::MNIST);
    let out_dir = std::env::temp_dir().join(format!("tapegrad-keras-ch02-{}", std::process::id()));
    let started = Instant::now();
    let report = ch02::run(&ch02::Options {
        epochs: 1,
        out_dir: out_dir.clone(),
        verbose: 2,
    })
    .expect("the chapter runs");
    let elapsed = started.elapsed();
    println!("test_acc {:.4} in {elapsed:.1?}", report.test_acc);

    assert_eq!(report.history.epochs(), 1);
    let loss = report.history.last("loss").unwrap();
    let train_acc = report.history.last("accuracy").unwrap();
    // The numpy reference's first epoch: loss 0.2545, accuracy 0.9263 (Keras 0.2577).
    assert!(loss < 0.35, "first-epoch training loss {loss}");
    assert!(
        train_acc > 0.90,
        "first-epoch training accuracy {train_acc}"
    );
    assert!(
        report.test_acc >= 0.95,
        "test accuracy {} after one epoch, expected at least 0.95",
        report.test_acc
    );
    assert!(report.test_loss < 0.2, "test loss {}", report.test_loss);

    // The chapter's plt.imshow of train_images[4]: a PNG in the output dir.
    let png = std::fs::read(&report.digit_png).expect("the digit picture is written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(report.digit_png.starts_with(&out_dir));
    std::fs::remove_dir_all(&out_dir).ok();
}
