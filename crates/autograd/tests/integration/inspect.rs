//! Looking at a recorded tape: the table, the Graphviz export, and the line each node names.

use tapegrad_autograd::{tensor, Tape};

#[test]
fn every_node_names_the_line_of_user_code_that_recorded_it() {
    let tape = Tape::<f32>::new();
    let x = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    let ops = [
        x + 1.0,
        x - 1.0,
        x * 2.0,
        x / 2.0,
        1.0 - x,
        2.0 / x,
        -x,
        x + x,
        x.max(),
        x.max_axes(&[1], false),
        x.min(),
        x.sum(),
        x.mean(),
        x.relu(),
        x.exp(),
        x.matmul(x.t()),
        x.reshape(&[3, 2]),
        x.softmax(-1),
    ];
    for (k, v) in ops.iter().enumerate() {
        let info = &tape.nodes()[v.index()];
        assert_eq!(
            info.location.file(),
            file!(),
            "op {k} ({}) names {}:{}",
            info.name,
            info.location.file(),
            info.location.line()
        );
    }
}

#[test]
fn the_table_and_the_dot_graph_show_ops_shapes_and_edges() {
    let tape = Tape::<f32>::new();
    let x = tape.constant(tensor(&[4, 3], vec![0.5; 12]));
    let w = tape.var(tensor(&[3, 2], vec![0.1; 6]));
    let loss = x.matmul(w).relu().sum();
    let table = tape.to_string();
    assert!(table.contains("matmul"), "{table}");
    assert!(table.contains("[4, 2]"), "{table}");
    assert!(table.ends_with("5 nodes, 140 bytes of values"), "{table}");

    let dot = tape.to_dot();
    assert!(dot.starts_with("digraph tape {\n"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    assert!(
        dot.contains("n0 [label=\"#0 constant\\n[4, 3]\", shape=ellipse"),
        "{dot}"
    );
    assert!(
        dot.contains(
            "n1 [label=\"#1 leaf\\n[3, 2]\", shape=ellipse, style=filled, fillcolor=\"#c8e6c9\""
        ),
        "{dot}"
    );
    assert!(
        dot.contains("n2 [label=\"#2 matmul\\n[4, 2]\", shape=box, style=bold"),
        "{dot}"
    );
    for edge in ["n0 -> n2;", "n1 -> n2;", "n2 -> n3;", "n3 -> n4;"] {
        assert!(dot.contains(edge), "{edge} missing from {dot}");
    }
    assert!(dot.contains(&format!("tooltip=\"{}:", file!())), "{dot}");
    assert_eq!(dot.matches("->").count(), 4);
    let _ = loss;
}
