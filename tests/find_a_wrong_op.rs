//! The debugging walk-through example finds the wrong custom op, stops at the first NaN and
//! draws the graph.

#[allow(dead_code)]
#[path = "../examples/find_a_wrong_op.rs"]
mod example;

#[test]
fn the_wrong_swish_is_found_and_the_ln_of_zero_is_reported() {
    let out = example::run();
    assert_eq!(out.wrong.0, "swish", "{}", out.check);
    assert!(out.check.contains("find_a_wrong_op.rs"), "{}", out.check);
    assert_eq!(out.check.matches("WRONG").count(), 1, "{}", out.check);
    assert!(
        out.anomaly.contains("the forward of `ln`"),
        "{}",
        out.anomaly
    );
    assert!(out.anomaly.contains("-inf"), "{}", out.anomaly);
    assert!(out.table.contains("swish"), "{}", out.table);
    assert!(out.dot.contains("swish\\n[16, 16]"), "{}", out.dot);
}
