//! Looking at a recorded tape: what each node is, where it came from, what it holds.

use std::panic::Location;

use crate::tape::NodeKind;
use crate::{OpKind, Real, Tape};

/// A description of one recorded node, for listings and tools.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// Position on the tape.
    pub index: usize,
    /// The op's name (`"matmul"`), or `"leaf"` / `"constant"`.
    pub name: String,
    /// The built-in op, if it is one.
    pub kind: Option<OpKind>,
    /// The input nodes' positions.
    pub inputs: Vec<usize>,
    /// The value's shape.
    pub shape: Vec<usize>,
    /// Bytes held by the value.
    pub bytes: usize,
    /// Whether a gradient flows through this node.
    pub requires_grad: bool,
    /// Where in the user's code the node was recorded.
    pub location: &'static Location<'static>,
}

impl<T: Real> Tape<T> {
    /// A description of every node, in recording order.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes
            .borrow()
            .iter()
            .enumerate()
            .map(|(index, node)| NodeInfo {
                index,
                name: node.kind.name().to_owned(),
                kind: match node.kind {
                    NodeKind::Builtin(k) => Some(k),
                    _ => None,
                },
                inputs: node.inputs.iter().map(|&i| i as usize).collect(),
                shape: node.value.shape().to_vec(),
                bytes: node.value.len() * std::mem::size_of::<T>(),
                requires_grad: node.requires_grad,
                location: node.location,
            })
            .collect()
    }

    /// The recorded graph in Graphviz DOT: one box per op (name and output shape), one
    /// ellipse per leaf, an arrow from each input to the op that used it. Leaves that get a
    /// gradient (parameters) are filled green, constants (data, labels) grey, and ops that
    /// gradients flow through are drawn with a bold outline; hovering a node in an SVG shows
    /// the line that recorded it.
    ///
    /// Render it with the `dot` tool (Debian package `graphviz`):
    ///
    /// ```text
    /// std::fs::write("graph.dot", tape.to_dot())?;
    /// $ dot -Tpng graph.dot -o graph.png
    /// ```
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(tensor(&[4, 3], vec![0.0; 12]));
    /// let w = tape.var(tensor(&[3, 2], vec![0.0; 6]));
    /// let loss = x.matmul(w).relu().sum();
    /// let dot = tape.to_dot();
    /// assert!(dot.starts_with("digraph tape {"));
    /// assert!(dot.contains("matmul\\n[4, 2]"));
    /// assert!(dot.contains("n1 -> n2"));
    /// # let _ = loss;
    /// ```
    pub fn to_dot(&self) -> String {
        use std::fmt::Write;
        let nodes = self.nodes.borrow();
        let mut out = String::with_capacity(128 + 96 * nodes.len());
        out.push_str("digraph tape {\n");
        out.push_str("  rankdir=TB;\n");
        out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
        out.push_str("  edge [arrowsize=0.6];\n");
        for (i, node) in nodes.iter().enumerate() {
            let (shape, attrs) = match node.kind {
                NodeKind::Leaf if node.requires_grad => {
                    ("ellipse", "style=filled, fillcolor=\"#c8e6c9\"")
                }
                NodeKind::Leaf | NodeKind::Constant => {
                    ("ellipse", "style=filled, fillcolor=\"#eeeeee\"")
                }
                _ if node.requires_grad => ("box", "style=bold"),
                _ => ("box", "style=solid"),
            };
            let _ = writeln!(
                out,
                "  n{i} [label=\"#{i} {}\\n{:?}\", shape={shape}, {attrs}, tooltip=\"{}:{}\"];",
                escape(node.kind.name()),
                node.value.shape(),
                escape(node.location.file()),
                node.location.line()
            );
        }
        for (i, node) in nodes.iter().enumerate() {
            for &j in &node.inputs {
                let _ = writeln!(out, "  n{j} -> n{i};");
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Escapes a string for a double-quoted DOT label.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}
