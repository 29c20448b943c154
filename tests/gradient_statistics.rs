//! The gradient statistics example shows vanishing gradients in a deep sigmoid network and
//! healthy ones in a ReLU network with He initialisation.

#[allow(dead_code)]
#[path = "../examples/gradient_statistics.rs"]
mod example;

#[test]
fn sigmoid_gradients_vanish_and_relu_with_he_keeps_them() {
    let out = example::run();
    let text = out.lines.join("\n");
    assert!(
        out.sigmoid_first_over_last < 1e-4,
        "sigmoid: first/last = {:e}\n{text}",
        out.sigmoid_first_over_last
    );
    assert!(
        (0.1..10.0).contains(&out.relu_first_over_last),
        "relu: first/last = {:e}\n{text}",
        out.relu_first_over_last
    );
    // The consequence: the ReLU network learns, the sigmoid network barely moves.
    let (s0, s1) = out.sigmoid_loss;
    let (r0, r1) = out.relu_loss;
    assert!(r1 < 0.1 * r0, "relu loss {r0} -> {r1}\n{text}");
    assert!(s1 > 0.8 * s0, "sigmoid loss {s0} -> {s1}\n{text}");
    assert!(text.contains("layer0.weight"), "{text}");
    assert!(text.contains("grad norm"), "{text}");
}
