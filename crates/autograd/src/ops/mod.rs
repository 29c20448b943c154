//! The built-in ops, one family per file.
//!
//! Each family file holds, for each op: the [`Op`](crate::Op) implementation (the formula
//! and its derivative in the doc comment), the [`Var`] methods that record it, and
//! its gradcheck cases. The [`OpKind`] enum names every built-in op; the gradcheck registry
//! matches on it exhaustively, so an op cannot be added without cases to check it.

use crate::gradcheck::registry::Case;
use crate::{OpError, Real, Var};

pub mod activation;
mod adjoint;
pub mod arithmetic;
pub mod conv;
mod conv_grad;
pub mod dropout;
pub mod linalg;
pub mod loss;
mod pool;
pub mod reduction;
pub mod shape;
pub mod smooth;
pub mod strided;
pub mod unary;

pub use activation::Activation;
pub use arithmetic::Arithmetic;
pub use conv::Conv;
pub use dropout::Regularization;
pub use linalg::Linalg;
pub use loss::Loss;
pub use reduction::Reduction;
pub use shape::ShapeOp;
pub use smooth::SmoothActivation;
pub use strided::Strided;
pub use unary::Unary;

/// Defines a family enum of op kinds together with its list of all members and their names,
/// from one list, so that the three can never disagree.
macro_rules! op_family {
    ($(#[$meta:meta])* $family:ident { $($(#[$vmeta:meta])* $variant:ident => $name:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $family {
            $($(#[$vmeta])* $variant),*
        }

        impl $family {
            /// Every op of this family.
            pub const ALL: &'static [$family] = &[$($family::$variant),*];

            /// The op's name, as recorded on the tape.
            pub fn name(self) -> &'static str {
                match self {
                    $($family::$variant => $name),*
                }
            }
        }
    };
}
pub(crate) use op_family;

/// Every built-in op, by family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `+ - * /`, negation, scalar forms, powers, maximum and minimum.
    Arithmetic(Arithmetic),
    /// Elementwise functions: exp, ln, sqrt, abs, square, clamp.
    Unary(Unary),
    /// Activations: relu, leaky relu, sigmoid, tanh, softplus, softmax, log-softmax.
    Activation(Activation),
    /// Smooth activations: erf, GELU (exact and tanh), ELU, SiLU.
    SmoothActivation(SmoothActivation),
    /// Sums, means, maxima, minima, logsumexp.
    Reduction(Reduction),
    /// Matrix products and axis permutations.
    Linalg(Linalg),
    /// Reshapes, broadcasts, slices, gathers, concatenation, padding.
    Shape(ShapeOp),
    /// Slices with a step.
    Strided(Strided),
    /// Convolution and pooling.
    Conv(Conv),
    /// Fused losses.
    Loss(Loss),
    /// Dropout.
    Regularization(Regularization),
}

impl OpKind {
    /// The op's name, as recorded on the tape.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Arithmetic(k) => k.name(),
            OpKind::Unary(k) => k.name(),
            OpKind::Activation(k) => k.name(),
            OpKind::SmoothActivation(k) => k.name(),
            OpKind::Reduction(k) => k.name(),
            OpKind::Linalg(k) => k.name(),
            OpKind::Shape(k) => k.name(),
            OpKind::Strided(k) => k.name(),
            OpKind::Conv(k) => k.name(),
            OpKind::Loss(k) => k.name(),
            OpKind::Regularization(k) => k.name(),
        }
    }

    /// Every built-in op.
    pub fn all() -> Vec<OpKind> {
        let mut all = Vec::new();
        all.extend(Arithmetic::ALL.iter().map(|&k| OpKind::Arithmetic(k)));
        all.extend(Unary::ALL.iter().map(|&k| OpKind::Unary(k)));
        all.extend(Activation::ALL.iter().map(|&k| OpKind::Activation(k)));
        all.extend(
            SmoothActivation::ALL
                .iter()
                .map(|&k| OpKind::SmoothActivation(k)),
        );
        all.extend(Reduction::ALL.iter().map(|&k| OpKind::Reduction(k)));
        all.extend(Linalg::ALL.iter().map(|&k| OpKind::Linalg(k)));
        all.extend(ShapeOp::ALL.iter().map(|&k| OpKind::Shape(k)));
        all.extend(Strided::ALL.iter().map(|&k| OpKind::Strided(k)));
        all.extend(Conv::ALL.iter().map(|&k| OpKind::Conv(k)));
        all.extend(Loss::ALL.iter().map(|&k| OpKind::Loss(k)));
        all.extend(
            Regularization::ALL
                .iter()
                .map(|&k| OpKind::Regularization(k)),
        );
        all
    }

    /// The gradcheck cases of this op: sample inputs and how to apply the op to them.
    pub fn gradcheck_cases(self) -> Vec<Case> {
        match self {
            OpKind::Arithmetic(k) => arithmetic::gradcheck_cases(k),
            OpKind::Unary(k) => unary::gradcheck_cases(k),
            OpKind::Activation(k) => activation::gradcheck_cases(k),
            OpKind::SmoothActivation(k) => smooth::gradcheck_cases(k),
            OpKind::Reduction(k) => reduction::gradcheck_cases(k),
            OpKind::Linalg(k) => linalg::gradcheck_cases(k),
            OpKind::Shape(k) => shape::gradcheck_cases(k),
            OpKind::Strided(k) => strided::gradcheck_cases(k),
            OpKind::Conv(k) => conv::gradcheck_cases(k),
            OpKind::Loss(k) => loss::gradcheck_cases(k),
            OpKind::Regularization(k) => dropout::gradcheck_cases(k),
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// 1 where `keep` holds for an element of `x`, 0 elsewhere: the masks that the
/// `backward_vars` of piecewise ops multiply by, as constants.
pub(crate) fn indicator<T: Real>(
    x: &crate::Tensor<T>,
    keep: impl Fn(T) -> bool + Sync,
) -> crate::Tensor<T> {
    crate::kernels::elementwise::map(x, |v| if keep(v) { T::one() } else { T::zero() })
}

/// Unwraps an op's result, panicking with its message at the caller's line.
#[track_caller]
pub(crate) fn or_panic<V>(r: Result<V, OpError>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Records the built-in op `op` of kind `kind` with this variable as its only input.
    #[track_caller]
    pub(crate) fn record1(
        self,
        kind: impl Into<OpKind>,
        op: impl crate::Op<T>,
    ) -> Result<Var<'t, T>, OpError> {
        self.tape.record(op, Some(kind.into()), &[self])
    }

    /// Records the built-in op `op` of kind `kind` with inputs `self` and `other`.
    #[track_caller]
    pub(crate) fn record2(
        self,
        other: Var<'t, T>,
        kind: impl Into<OpKind>,
        op: impl crate::Op<T>,
    ) -> Result<Var<'t, T>, OpError> {
        self.tape.record(op, Some(kind.into()), &[self, other])
    }
}

macro_rules! into_op_kind {
    ($($family:ident => $variant:ident),*) => {
        $(impl From<$family> for OpKind {
            fn from(k: $family) -> Self {
                OpKind::$variant(k)
            }
        })*
    };
}
into_op_kind!(
    Arithmetic => Arithmetic,
    Unary => Unary,
    Activation => Activation,
    SmoothActivation => SmoothActivation,
    Reduction => Reduction,
    Linalg => Linalg,
    ShapeOp => Shape,
    Strided => Strided,
    Conv => Conv,
    Loss => Loss,
    Regularization => Regularization
);

/// Resolves an axis argument for an array of `ndim` dimensions: `0..ndim` as is, negative
/// values counting from the end (`-1` is the last axis), like numpy.
pub(crate) fn resolve_axis(op: &str, axis: isize, shape: &[usize]) -> Result<usize, OpError> {
    let ndim = shape.len() as isize;
    let resolved = if axis < 0 { axis + ndim } else { axis };
    if (0..ndim).contains(&resolved) {
        Ok(resolved as usize)
    } else {
        Err(OpError::new(
            op,
            &[shape],
            format!("axis {axis} is out of range for {ndim} dimensions"),
        ))
    }
}

/// Resolves several axes (see [`resolve_axis`]), sorted, rejecting repeats.
pub(crate) fn resolve_axes(
    op: &str,
    axes: &[isize],
    shape: &[usize],
) -> Result<Vec<usize>, OpError> {
    let mut out = axes
        .iter()
        .map(|&a| resolve_axis(op, a, shape))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(OpError::new(
            op,
            &[shape],
            format!("axes {axes:?} name the same axis twice"),
        ));
    }
    Ok(out)
}
