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
}
