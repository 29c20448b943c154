//! Shape ops: reshape, flatten, broadcast_to, slice and narrow, index_select and gather,
//! concat, stack, pad.
//!
//! Where it can, an op's value is a view of its input's buffer rather than a copy: a reshape
//! of a contiguous value, a slice, and the gradients of concat, stack and pad (slices of the
//! incoming gradient).

use std::ops::{Bound, Range, RangeBounds};

use ndarray::{ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Slice, Zip};
use smallvec::SmallVec;

use super::adjoint::linear_backward_vars;
use super::{op_family, or_panic, resolve_axis};
use crate::gradcheck::registry::{sample, Case};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The shape ops.
    ShapeOp {
        /// The same elements in another shape (also `flatten`)
        Reshape => "reshape",
        /// Repeated along axes of length 1 and new leading axes, by numpy's rules
        BroadcastTo => "broadcast_to",
        /// A sub-range along some axes (`narrow`, `slice_axis`, `slice`), as a view
        Slice => "slice",
        /// Entries along an axis picked by index, repeats allowed
        IndexSelect => "index_select",
        /// One entry per position of the other axes, picked along an axis
        Gather => "gather",
        /// Values joined along an existing axis
        Concat => "concat",
        /// Values of one shape joined along a new axis
        Stack => "stack",
        /// Borders of a constant value added around each axis
        Pad => "pad",
    }
}

/// `x` in another shape with the same elements in row-major order; a view of the same buffer
/// when `x` is contiguous, a copy otherwise.
fn reshape_tensor<T: Real>(x: &Tensor<T>, shape: &IxDyn) -> Tensor<T> {
    if x.is_standard_layout() {
        x.clone()
            .into_shape_with_order(shape.clone())
            .expect("a contiguous array of the same size reshapes in place")
    } else {
        x.as_standard_layout()
            .into_owned()
            .into_shape_with_order(shape.clone())
            .expect("a fresh array of the same size reshapes in place")
            .into_shared()
    }
}

/// The same elements in another shape (row-major order); the gradient is reshaped back.
struct ReshapeOp {
    shape: IxDyn,
}

impl<T: Real> Op<T> for ReshapeOp {
    fn name(&self) -> &str {
        ShapeOp::Reshape.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        let n: usize = self.shape.slice().iter().product();
        if n != x.len() {
            return Err(OpError::new(
                "reshape",
                &[x.shape()],
                format!(
                    "cannot reshape {} elements into shape {:?} ({n} elements)",
                    x.len(),
                    self.shape.slice()
                ),
            ));
        }
        Ok(reshape_tensor(x, &self.shape))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let shape = IxDyn(ctx.input(0).shape());
        vec![Some(reshape_tensor(ctx.grad_output(), &shape))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(ctx.grad_output().reshape(&ctx.input(0).shape()))])
    }
}

/// `x` repeated to a larger shape by numpy's broadcasting rules. The gradient is the incoming
/// one, which the tape sums back over the repeated axes.
struct BroadcastToOp {
    shape: IxDyn,
}

impl<T: Real> Op<T> for BroadcastToOp {
    fn name(&self) -> &str {
        ShapeOp::BroadcastTo.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        if x.shape() == self.shape.slice() {
            return Ok(x.clone());
        }
        match x.broadcast(self.shape.clone()) {
            Some(view) => Ok(view.to_owned().into_shared()),
            None => Err(OpError::new(
                "broadcast_to",
                &[x.shape()],
                format!(
                    "cannot broadcast to {:?} (numpy rule: aligned from the last axis, each \
                     size of the input must equal the target's or be 1)",
                    self.shape.slice()
                ),
            )),
        }
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(ctx.grad_output().clone())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        Some(vec![Some(ctx.grad_output())])
    }
}

/// One axis of a slice, as the user gave it: an axis (negative from the end) and a range.
#[derive(Clone, Copy)]
struct AxisRange {
    axis: isize,
    start: Bound<usize>,
    end: Bound<usize>,
}

/// The sub-array `x[start..end]` along some axes, as a view of `x`'s buffer. The gradient is
/// zero outside the range and the incoming gradient inside it.
struct SliceOp {
    ranges: SmallVec<[AxisRange; 2]>,
    /// The resolved `(axis, start, end)` of each range, set by forward.
    resolved: SmallVec<[(usize, usize, usize); 2]>,
}

impl SliceOp {
    fn new(ranges: impl IntoIterator<Item = AxisRange>) -> Self {
        SliceOp {
            ranges: ranges.into_iter().collect(),
            resolved: SmallVec::new(),
        }
    }
}

fn range_text(start: Bound<usize>, end: Bound<usize>) -> String {
    let s = match start {
        Bound::Included(s) => s.to_string(),
        Bound::Excluded(s) => format!("{}", s + 1),
        Bound::Unbounded => String::new(),
    };
    let e = match end {
        Bound::Included(e) => format!("={e}"),
        Bound::Excluded(e) => e.to_string(),
        Bound::Unbounded => String::new(),
    };
    format!("{s}..{e}")
}

impl<T: Real> Op<T> for SliceOp {
    fn name(&self) -> &str {
        ShapeOp::Slice.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        let shape = x.shape();
        self.resolved.clear();
        for r in &self.ranges {
            let axis = resolve_axis("slice", r.axis, shape)?;
            let size = shape[axis];
            let start = match r.start {
                Bound::Included(s) => Some(s),
                Bound::Excluded(s) => s.checked_add(1),
                Bound::Unbounded => Some(0),
            };
            let end = match r.end {
                Bound::Included(e) => e.checked_add(1),
                Bound::Excluded(e) => Some(e),
                Bound::Unbounded => Some(size),
            };
            match (start, end) {
                (Some(s), Some(e)) if s <= e && e <= size => self.resolved.push((axis, s, e)),
                _ => {
                    return Err(OpError::new(
                        "slice",
                        &[shape],
                        format!(
                            "the range {} is out of bounds for axis {axis} of size {size}",
                            range_text(r.start, r.end)
                        ),
                    ))
                }
            }
        }
        let mut y = x.clone();
        for &(axis, s, e) in &self.resolved {
            y.slice_axis_inplace(Axis(axis), Slice::from(s..e));
        }
        Ok(y)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let mut dx = ArrayD::<T>::zeros(IxDyn(ctx.input(0).shape()));
        let mut inner = dx.view_mut();
        for &(axis, s, e) in &self.resolved {
            inner.slice_axis_inplace(Axis(axis), Slice::from(s..e));
        }
        inner.assign(ctx.grad_output());
        vec![Some(dx.into_shared())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let shape = ctx.input(0).shape();
        let mut pads: SmallVec<[(usize, usize); 4]> = shape.iter().map(|_| (0, 0)).collect();
        for &(axis, s, e) in &self.resolved {
            pads[axis] = (s, shape[axis] - e);
        }
        Some(vec![Some(ctx.grad_output().pad(&pads, T::zero()))])
    }
}

/// Entries along `axis` picked by index (repeats allowed): `y[.., j, ..] = x[.., idx[j], ..]`.
/// The gradient scatter-adds: `dx[.., i, ..] = sum over j with idx[j] = i of g[.., j, ..]`.
#[derive(Clone)]
struct IndexSelectOp {
    axis: isize,
    resolved: usize,
    indices: Vec<usize>,
}

impl<T: Real> Op<T> for IndexSelectOp {
    fn name(&self) -> &str {
        ShapeOp::IndexSelect.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        let axis = resolve_axis("index_select", self.axis, x.shape())?;
        let size = x.shape()[axis];
        if let Some((j, &i)) = self.indices.iter().enumerate().find(|(_, &i)| i >= size) {
            return Err(OpError::new(
                "index_select",
                &[x.shape()],
                format!(
                    "index {i} (at position {j}) is out of range for axis {axis} of size {size}"
                ),
            ));
        }
        self.resolved = axis;
        Ok(x.select(Axis(axis), &self.indices).into_shared())
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (x, g) = (ctx.input(0), ctx.grad_output());
        let axis = self.resolved;
        let mut dx = ArrayD::<T>::zeros(IxDyn(x.shape()));
        if let (0, Some(src)) = (axis, g.as_slice()) {
            // Rows of a contiguous gradient (an embedding lookup, a minibatch): add slices.
            let row = x.shape()[1..].iter().product::<usize>();
            let dst = dx.as_slice_mut().expect("a fresh array is contiguous");
            if row > 0 {
                for (&i, g_row) in self.indices.iter().zip(src.chunks_exact(row)) {
                    for (d, &s) in dst[i * row..(i + 1) * row].iter_mut().zip(g_row) {
                        *d += s;
                    }
                }
            }
        } else {
            for (j, &i) in self.indices.iter().enumerate() {
                Zip::from(dx.index_axis_mut(Axis(axis), i))
                    .and(g.index_axis(Axis(axis), j))
                    .for_each(|d, &s| *d += s);
            }
        }
        vec![Some(dx.into_shared())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        linear_backward_vars(self, ShapeOp::IndexSelect, ctx)
    }
}

/// `g` (a vector) added into a vector of `len` zeros at `indices` (`out[indices[j]] += g[j]`),
/// recorded as the adjoint of picking `indices`: the gradient of ops that route each output to
/// one input, such as max pooling.
pub(crate) fn scatter_add<'t, T: Real>(
    g: Var<'t, T>,
    indices: Vec<usize>,
    len: usize,
) -> Var<'t, T> {
    let pick = IndexSelectOp {
        axis: 0,
        resolved: 0,
        indices,
    };
    let g_value = g.value();
    super::adjoint::record_adjoint(
        pick,
        ShapeOp::IndexSelect.into(),
        crate::zeros(&[len]),
        g_value,
        g,
    )
}

/// One entry per lane along `axis`: with the other axes in row-major order numbering the
/// lanes, `y[lane] = x[lane][idx[lane]]` (for `[N, C]` and axis 1, `y[n] = x[n, idx[n]]`).
/// The gradient puts `g[lane]` at `[lane][idx[lane]]` and zero elsewhere.
#[derive(Clone)]
struct GatherOp {
    axis: isize,
    resolved: usize,
    indices: Vec<usize>,
}

impl<T: Real> Op<T> for GatherOp {
    fn name(&self) -> &str {
        ShapeOp::Gather.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        let shape = x.shape();
        let axis = resolve_axis("gather", self.axis, shape)?;
        let size = shape[axis];
        let mut out_shape = shape.to_vec();
        out_shape.remove(axis);
        let lanes: usize = out_shape.iter().product();
        if self.indices.len() != lanes {
            return Err(OpError::new(
                "gather",
                &[shape],
                format!(
                    "{} indices given for {lanes} positions along axis {axis}; give one index \
                     per position of the other axes (e.g. one label per row of [N, C] for axis 1)",
                    self.indices.len()
                ),
            ));
        }
        if let Some((j, &i)) = self.indices.iter().enumerate().find(|(_, &i)| i >= size) {
            return Err(OpError::new(
                "gather",
                &[shape],
                format!(
                    "index {i} (at position {j}) is out of range for axis {axis} of size {size}"
                ),
            ));
        }
        self.resolved = axis;
        let out: Vec<T> = match x.as_slice() {
            Some(data) if axis == shape.len() - 1 => self
                .indices
                .iter()
                .enumerate()
                .map(|(r, &i)| data[r * size + i])
                .collect(),
            _ => x
                .lanes(Axis(axis))
                .into_iter()
                .zip(&self.indices)
                .map(|(lane, &i)| lane[i])
                .collect(),
        };
        Ok(crate::tensor::tensor(&out_shape, out))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (x, g) = (ctx.input(0), ctx.grad_output());
        let axis = self.resolved;
        let mut dx = ArrayD::<T>::zeros(IxDyn(x.shape()));
        if axis == x.ndim() - 1 {
            let size = x.shape()[axis];
            let dst = dx.as_slice_mut().expect("a fresh array is contiguous");
            for ((r, &i), &gv) in self.indices.iter().enumerate().zip(g.iter()) {
                dst[r * size + i] += gv;
            }
        } else {
            for ((mut lane, &i), &gv) in dx
                .lanes_mut(Axis(axis))
                .into_iter()
                .zip(&self.indices)
                .zip(g.iter())
            {
                lane[i] += gv;
            }
        }
        vec![Some(dx.into_shared())]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        linear_backward_vars(self, ShapeOp::Gather, ctx)
    }
}

/// Joins `parts` (shapes that agree except along `axis`) along `axis` into a row-major array
/// of `out_shape`.
fn join<'a, T: Real>(
    parts: impl Iterator<Item = ArrayViewD<'a, T>> + Clone,
    out_shape: &[usize],
    axis: usize,
) -> Tensor<T> {
    let outer: usize = out_shape[..axis].iter().product();
    if outer > 0 && parts.clone().all(|p| p.is_standard_layout()) {
        // Row-major output: for each index of the axes before `axis`, each part's block in turn.
        let mut out = Vec::with_capacity(out_shape.iter().product());
        let slices: SmallVec<[&[T]; 4]> = parts
            .map(|p| p.to_slice().expect("standard layout"))
            .collect();
        for o in 0..outer {
            for s in &slices {
                let block = s.len() / outer;
                out.extend_from_slice(&s[o * block..(o + 1) * block]);
            }
        }
        return crate::tensor::tensor(out_shape, out);
    }
    let mut out = ArrayD::<T>::zeros(IxDyn(out_shape));
    let mut start = 0;
    for p in parts {
        let len = p.shape()[axis];
        out.slice_axis_mut(Axis(axis), Slice::from(start..start + len))
            .assign(&p);
        start += len;
    }
    out.into_shared()
}

/// Values joined along an existing axis; every other axis must agree. The gradient of each
/// input is its slice of the incoming gradient (a view).
struct ConcatOp {
    axis: isize,
    resolved: usize,
}

impl<T: Real> Op<T> for ConcatOp {
    fn name(&self) -> &str {
        ShapeOp::Concat.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let shapes: Vec<&[usize]> = x.iter().map(|t| t.shape()).collect();
        let first = shapes[0];
        if first.is_empty() {
            return Err(OpError::new(
                "concat",
                &shapes,
                "cannot concatenate rank-0 values (use stack to join them along a new axis)",
            ));
        }
        let axis = resolve_axis("concat", self.axis, first)?;
        let agree = |s: &[usize]| {
            s.len() == first.len()
                && s.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b)
        };
        if !shapes.iter().all(|s| agree(s)) {
            return Err(OpError::new(
                "concat",
                &shapes,
                format!(
                    "the inputs must have the same number of axes and the same sizes on every \
                     axis but axis {axis}"
                ),
            ));
        }
        self.resolved = axis;
        let mut out_shape = first.to_vec();
        out_shape[axis] = shapes.iter().map(|s| s[axis]).sum();
        Ok(join(x.iter().map(|t| t.view()), &out_shape, axis))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let axis = self.resolved;
        let mut start = 0;
        ctx.inputs()
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let len = x.shape()[axis];
                let range = start..start + len;
                start += len;
                ctx.needs_grad(i).then(|| {
                    let mut g = ctx.grad_output().clone();
                    g.slice_axis_inplace(Axis(axis), Slice::from(range));
                    g
                })
            })
            .collect()
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let axis = self.resolved;
        let mut start = 0;
        Some(
            ctx.inputs()
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let len = x.shape()[axis];
                    start += len;
                    ctx.grad_if(i, || {
                        ctx.grad_output().narrow(axis as isize, start - len, len)
                    })
                })
                .collect(),
        )
    }
}

/// Values of one shape joined along a new axis at position `axis` of the output. The gradient
/// of input `i` is the incoming gradient at index `i` of that axis (a view).
struct StackOp {
    axis: isize,
    resolved: usize,
}

impl<T: Real> Op<T> for StackOp {
    fn name(&self) -> &str {
        ShapeOp::Stack.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let shapes: Vec<&[usize]> = x.iter().map(|t| t.shape()).collect();
        let first = shapes[0];
        // The new axis is an axis of the output, which has one more.
        let mut out_shape = first.to_vec();
        out_shape.push(1);
        let axis = resolve_axis("stack", self.axis, &out_shape).map_err(|_| {
            OpError::new(
                "stack",
                &shapes,
                format!(
                    "axis {} is out of range for the output's {} dimensions",
                    self.axis,
                    first.len() + 1
                ),
            )
        })?;
        if !shapes.iter().all(|s| *s == first) {
            return Err(OpError::new(
                "stack",
                &shapes,
                "the inputs must all have the same shape",
            ));
        }
        self.resolved = axis;
        let mut out_shape = first.to_vec();
        out_shape.insert(axis, x.len());
        Ok(join(
            x.iter().map(|t| t.view().insert_axis(Axis(axis))),
            &out_shape,
            axis,
        ))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        (0..ctx.inputs().len())
            .map(|i| {
                ctx.needs_grad(i).then(|| {
                    ctx.grad_output()
                        .clone()
                        .index_axis_move(Axis(self.resolved), i)
                })
            })
            .collect()
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let axis = self.resolved as isize;
        Some(
            ctx.inputs()
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    ctx.grad_if(i, || {
                        ctx.grad_output().narrow(axis, i, 1).reshape(&x.shape())
                    })
                })
                .collect(),
        )
    }
}

/// `x` with `before` and `after` entries of `value` added on each side of each axis. The
/// gradient is the incoming gradient's inner part (a view).
struct PadOp<T> {
    pads: SmallVec<[(usize, usize); 4]>,
    value: T,
}

impl<T: Real> Op<T> for PadOp<T> {
    fn name(&self) -> &str {
        ShapeOp::Pad.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let x = x[0];
        if self.pads.len() != x.ndim() {
            return Err(OpError::new(
                "pad",
                &[x.shape()],
                format!(
                    "{} (before, after) pairs given for {} axes; give one pair per axis, (0, 0) \
                     for an axis to leave as it is",
                    self.pads.len(),
                    x.ndim()
                ),
            ));
        }
        let out_shape: SmallVec<[usize; 4]> = x
            .shape()
            .iter()
            .zip(&self.pads)
            .map(|(&n, &(lo, hi))| n + lo + hi)
            .collect();
        let mut out = ArrayD::from_elem(IxDyn(&out_shape), self.value);
        let mut inner = out.view_mut();
        for (d, (&n, &(lo, _))) in x.shape().iter().zip(&self.pads).enumerate() {
            inner.slice_axis_inplace(Axis(d), Slice::from(lo..lo + n));
        }
        inner.assign(x);
        Ok(out.into_shared())
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let mut g = ctx.grad_output().clone();
        for (d, (&n, &(lo, _))) in ctx.input(0).shape().iter().zip(&self.pads).enumerate() {
            g.slice_axis_inplace(Axis(d), Slice::from(lo..lo + n));
        }
        vec![Some(g)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let ranges: Vec<Range<usize>> = ctx
            .input(0)
            .shape()
            .iter()
            .zip(&self.pads)
            .map(|(&n, &(lo, _))| lo..lo + n)
            .collect();
        Some(vec![Some(ctx.grad_output().slice(&ranges))])
    }
}

fn no_inputs(op: &str) -> OpError {
    OpError::new(op, &[], "needs at least one input")
}

impl<'t, T: Real> Var<'t, T> {
    /// The same elements (in row-major order) in another shape of the same size.
    ///
    /// A contiguous value is reshaped in place: the result shares its buffer. A non-contiguous
    /// one (a transposed view, a slice) is copied.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let y = x.reshape(&[3, 2]);
    /// assert_eq!(y.value()[[2, 0]], 5.0);
    /// ```
    ///
    /// # Panics
    /// If the sizes differ; [`try_reshape`](Var::try_reshape) returns the error.
    #[track_caller]
    pub fn reshape(self, shape: &[usize]) -> Var<'t, T> {
        or_panic(self.try_reshape(shape))
    }

    /// Reshapes, or returns an error if `shape` holds a different number of elements.
    #[track_caller]
    pub fn try_reshape(self, shape: &[usize]) -> Result<Var<'t, T>, OpError> {
        self.record1(
            ShapeOp::Reshape,
            ReshapeOp {
                shape: IxDyn(shape),
            },
        )
    }

    /// `[N, ...] -> [N, product of the rest]`: one row per example, as before a dense layer
    /// (`[N] -> [N, 1]`). A reshape, so free for a contiguous value.
    ///
    /// ```
    /// use tapegrad_autograd::{zeros, Tape};
    /// let tape = Tape::<f32>::new();
    /// let images = tape.constant(zeros(&[16, 1, 28, 28]));
    /// assert_eq!(images.flatten().shape(), vec![16, 784]);
    /// ```
    ///
    /// # Panics
    /// For a rank-0 value.
    #[track_caller]
    pub fn flatten(self) -> Var<'t, T> {
        or_panic(self.try_flatten())
    }

    /// Flattens, or returns an error for a rank-0 value (which has no first axis to keep).
    #[track_caller]
    pub fn try_flatten(self) -> Result<Var<'t, T>, OpError> {
        let shape = self.shape();
        let Some((&n, rest)) = shape.split_first() else {
            return Err(OpError::new(
                "reshape",
                &[&shape],
                "flatten needs a first (batch) axis to keep; a rank-0 value has none",
            ));
        };
        self.try_reshape(&[n, rest.iter().product()])
    }

    /// The value repeated to `shape` by numpy's broadcasting rules (axes of length 1 repeat,
    /// new axes are added in front). The gradient sums over the repeats.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let b = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(b.broadcast_to(&[2, 3]).value()[[1, 2]], 3.0);
    /// ```
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Var<'t, T> {
        or_panic(self.try_broadcast_to(shape))
    }

    /// Broadcasts, or returns an error if the value does not broadcast to `shape`.
    #[track_caller]
    pub fn try_broadcast_to(self, shape: &[usize]) -> Result<Var<'t, T>, OpError> {
        self.record1(
            ShapeOp::BroadcastTo,
            BroadcastToOp {
                shape: IxDyn(shape),
            },
        )
    }

    /// The sum over the axes that broadcasting `shape` to this value's shape would repeat:
    /// the adjoint of [`broadcast_to`](Var::broadcast_to), which undoes a broadcast in a
    /// gradient.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let g = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// assert_eq!(g.sum_to(&[3]).value().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
    /// assert_eq!(g.sum_to(&[2, 1]).value().as_slice().unwrap(), &[6.0, 15.0]);
    /// ```
    #[track_caller]
    pub fn sum_to(self, shape: &[usize]) -> Var<'t, T> {
        or_panic(self.try_sum_to(shape))
    }

    /// Sums to `shape`, or returns an error if `shape` does not broadcast to this value's shape.
    #[track_caller]
    pub fn try_sum_to(self, shape: &[usize]) -> Result<Var<'t, T>, OpError> {
        let from = self.shape();
        if from == shape {
            return Ok(self);
        }
        if !crate::kernels::broadcast::broadcasts_to(shape, &from) {
            return Err(OpError::new(
                "sum_to",
                &[&from],
                format!("{shape:?} does not broadcast to the value's shape"),
            ));
        }
        let lead = from.len() - shape.len();
        let axes: Vec<isize> = (0..from.len())
            .filter(|&a| a < lead || (shape[a - lead] == 1 && from[a] != 1))
            .map(|a| a as isize)
            .collect();
        let summed = if axes.is_empty() {
            self
        } else {
            self.try_sum_axes(&axes, false)?
        };
        summed.try_reshape(shape)
    }

    /// `len` entries from `start` along `axis` (negative from the end), as a view.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(tensor(&[4, 2], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]));
    /// let batch = x.narrow(0, 1, 2); // rows 1 and 2
    /// assert_eq!(batch.shape(), vec![2, 2]);
    /// assert_eq!(batch.value()[[0, 0]], 2.0);
    /// ```
    #[track_caller]
    pub fn narrow(self, axis: isize, start: usize, len: usize) -> Var<'t, T> {
        or_panic(self.try_narrow(axis, start, len))
    }

    /// Narrows, or returns an error if the axis or the range is out of bounds.
    #[track_caller]
    pub fn try_narrow(self, axis: isize, start: usize, len: usize) -> Result<Var<'t, T>, OpError> {
        let end = start.checked_add(len).ok_or_else(|| {
            OpError::new(
                "slice",
                &[&self.shape()],
                format!("the range {start}..{start}+{len} overflows"),
            )
        })?;
        self.try_slice_axis(axis, start..end)
    }

    /// The entries of `range` along `axis` (negative from the end), as a view:
    /// `x.slice_axis(1, 2..5)`, `x.slice_axis(0, ..32)`, `x.slice_axis(-1, 1..)`.
    #[track_caller]
    pub fn slice_axis(self, axis: isize, range: impl RangeBounds<usize>) -> Var<'t, T> {
        or_panic(self.try_slice_axis(axis, range))
    }

    /// Slices one axis, or returns an error if the axis or the range is out of bounds.
    #[track_caller]
    pub fn try_slice_axis(
        self,
        axis: isize,
        range: impl RangeBounds<usize>,
    ) -> Result<Var<'t, T>, OpError> {
        let r = AxisRange {
            axis,
            start: range.start_bound().cloned(),
            end: range.end_bound().cloned(),
        };
        self.record1(ShapeOp::Slice, SliceOp::new([r]))
    }

    /// The sub-array with `ranges[d]` along each leading axis `d` (axes past the list are
    /// kept whole), as a view: `image.slice(&[0..1, 2..26, 2..26])`.
    ///
    /// ```
    /// use tapegrad_autograd::{zeros, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(zeros(&[3, 4, 5]));
    /// assert_eq!(x.slice(&[1..3, 0..2]).shape(), vec![2, 2, 5]);
    /// ```
    #[track_caller]
    pub fn slice(self, ranges: &[Range<usize>]) -> Var<'t, T> {
        or_panic(self.try_slice(ranges))
    }

    /// Slices leading axes, or returns an error if there are more ranges than axes or a range
    /// is out of bounds.
    #[track_caller]
    pub fn try_slice(self, ranges: &[Range<usize>]) -> Result<Var<'t, T>, OpError> {
        let ndim = self.ndim();
        if ranges.len() > ndim {
            return Err(OpError::new(
                "slice",
                &[&self.shape()],
                format!("{} ranges given for {ndim} axes", ranges.len()),
            ));
        }
        let op = SliceOp::new(ranges.iter().enumerate().map(|(d, r)| AxisRange {
            axis: d as isize,
            start: Bound::Included(r.start),
            end: Bound::Excluded(r.end),
        }));
        self.record1(ShapeOp::Slice, op)
    }

    /// The entries at `indices` along `axis` (negative from the end), in that order; indices
    /// may repeat. Selecting rows of an embedding matrix by word id is
    /// `embedding.index_select(0, &ids)`.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let w = tape.var(tensor(&[3, 2], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
    /// let rows = w.index_select(0, &[2, 0, 2]);
    /// assert_eq!(rows.value().as_slice().unwrap(), &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    /// ```
    #[track_caller]
    pub fn index_select(self, axis: isize, indices: &[usize]) -> Var<'t, T> {
        or_panic(self.try_index_select(axis, indices))
    }

    /// Selects by index, or returns an error if the axis or an index is out of range.
    #[track_caller]
    pub fn try_index_select(self, axis: isize, indices: &[usize]) -> Result<Var<'t, T>, OpError> {
        let op = IndexSelectOp {
            axis,
            resolved: 0,
            indices: indices.to_vec(),
        };
        self.record1(ShapeOp::IndexSelect, op)
    }

    /// One entry per position of the other axes, picked along `axis`: for `[N, C]` scores and
    /// `N` labels, `p.gather(1, &labels)` is `[p[0, labels[0]], p[1, labels[1]], ...]`. In
    /// general the output has the input's shape without `axis`, and `indices` holds one index
    /// per output element, in row-major order.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let p = tape.var(tensor(&[2, 3], vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2]));
    /// let picked = p.gather(1, &[1, 0]);
    /// assert_eq!(picked.value().as_slice().unwrap(), &[0.7, 0.5]);
    /// ```
    #[track_caller]
    pub fn gather(self, axis: isize, indices: &[usize]) -> Var<'t, T> {
        or_panic(self.try_gather(axis, indices))
    }

    /// Gathers, or returns an error if the axis is out of range, an index is out of range, or
    /// there is not exactly one index per output element.
    #[track_caller]
    pub fn try_gather(self, axis: isize, indices: &[usize]) -> Result<Var<'t, T>, OpError> {
        let op = GatherOp {
            axis,
            resolved: 0,
            indices: indices.to_vec(),
        };
        self.record1(ShapeOp::Gather, op)
    }

    /// The values joined along an existing `axis` (negative from the end); all other axes must
    /// agree. Each input's gradient is its part of the output's.
    ///
    /// ```
    /// use tapegrad_autograd::{zeros, Tape, Var};
    /// let tape = Tape::<f32>::new();
    /// let a = tape.var(zeros(&[2, 3]));
    /// let b = tape.var(zeros(&[2, 1]));
    /// assert_eq!(Var::concat(&[a, b, a], 1).shape(), vec![2, 7]);
    /// ```
    ///
    /// # Panics
    /// If `vars` is empty or the shapes do not fit; [`try_concat`](Var::try_concat) returns
    /// the error.
    #[track_caller]
    pub fn concat(vars: &[Var<'t, T>], axis: isize) -> Var<'t, T> {
        or_panic(Self::try_concat(vars, axis))
    }

    /// Concatenates, or returns an error naming every input shape.
    #[track_caller]
    pub fn try_concat(vars: &[Var<'t, T>], axis: isize) -> Result<Var<'t, T>, OpError> {
        let first = vars.first().ok_or_else(|| no_inputs("concat"))?;
        let op = ConcatOp { axis, resolved: 0 };
        first.tape.record(op, Some(ShapeOp::Concat.into()), vars)
    }

    /// Values of one shape joined along a new axis at position `axis` of the output (negative
    /// from the end: `-1` puts it last). Each input's gradient is its slice of the output's.
    ///
    /// ```
    /// use tapegrad_autograd::{zeros, Tape, Var};
    /// let tape = Tape::<f32>::new();
    /// let rows: Vec<_> = (0..4).map(|_| tape.var(zeros(&[3]))).collect();
    /// assert_eq!(Var::stack(&rows, 0).shape(), vec![4, 3]);
    /// assert_eq!(Var::stack(&rows, -1).shape(), vec![3, 4]);
    /// ```
    ///
    /// # Panics
    /// If `vars` is empty, the shapes differ, or the axis is out of range;
    /// [`try_stack`](Var::try_stack) returns the error.
    #[track_caller]
    pub fn stack(vars: &[Var<'t, T>], axis: isize) -> Var<'t, T> {
        or_panic(Self::try_stack(vars, axis))
    }

    /// Stacks, or returns an error naming every input shape.
    #[track_caller]
    pub fn try_stack(vars: &[Var<'t, T>], axis: isize) -> Result<Var<'t, T>, OpError> {
        let first = vars.first().ok_or_else(|| no_inputs("stack"))?;
        let op = StackOp { axis, resolved: 0 };
        first.tape.record(op, Some(ShapeOp::Stack.into()), vars)
    }

    /// The value with `pads[d] = (before, after)` entries of `value` added on each side of
    /// axis `d`; one pair per axis.
    ///
    /// ```
    /// use tapegrad_autograd::{ones, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(ones(&[1, 2, 2]));
    /// let y = x.pad(&[(0, 0), (1, 1), (1, 1)], 0.0); // a border of zeros around an image
    /// assert_eq!(y.shape(), vec![1, 4, 4]);
    /// assert_eq!(y.value()[[0, 0, 0]], 0.0);
    /// assert_eq!(y.value()[[0, 1, 1]], 1.0);
    /// ```
    #[track_caller]
    pub fn pad(self, pads: &[(usize, usize)], value: T) -> Var<'t, T> {
        or_panic(self.try_pad(pads, value))
    }

    /// Pads, or returns an error if there is not exactly one pair per axis.
    #[track_caller]
    pub fn try_pad(self, pads: &[(usize, usize)], value: T) -> Result<Var<'t, T>, OpError> {
        let op = PadOp {
            pads: pads.iter().copied().collect(),
            value,
        };
        self.record1(ShapeOp::Pad, op)
    }
}

/// Gradcheck cases for the shape ops.
pub(crate) fn gradcheck_cases(kind: ShapeOp) -> Vec<Case> {
    type Un = for<'t> fn(Var<'t, f64>) -> Var<'t, f64>;
    let single = |label: &str, shape: &[usize], seed: u64, f: Un| {
        Case::new(
            format!("{label} of {shape:?}"),
            vec![sample(shape, seed)],
            move |v| f(v[0]),
        )
    };
    type Many = for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>;
    let many = |label: &str, shapes: &[&[usize]], seed: u64, f: Many| {
        let inputs = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| sample(s, seed + i as u64))
            .collect();
        Case::new(format!("{label} of {shapes:?}"), inputs, f)
    };
    match kind {
        ShapeOp::Reshape => vec![
            single("reshape to [3, 2]", &[2, 3], 1, |a| a.reshape(&[3, 2])),
            single("reshape to [4, 6]", &[2, 3, 4], 2, |a| a.reshape(&[4, 6])),
            single("reshape to []", &[1], 3, |a| a.reshape(&[])),
            single("reshape of a transposed view", &[2, 3], 4, |a| {
                a.t().reshape(&[6])
            }),
            single("flatten", &[2, 3, 2], 5, |a| a.flatten()),
            many("reshape then a product", &[&[6], &[3, 2]], 6, |v| {
                v[0].reshape(&[2, 3]).matmul(v[1])
            }),
        ],
        ShapeOp::BroadcastTo => vec![
            single("broadcast_to [2, 3]", &[3], 11, |a| a.broadcast_to(&[2, 3])),
            single("broadcast_to [2, 4]", &[2, 1], 12, |a| {
                a.broadcast_to(&[2, 4])
            }),
            single("broadcast_to [3, 2]", &[], 13, |a| a.broadcast_to(&[3, 2])),
            single("broadcast_to [2, 2, 3]", &[1, 3], 14, |a| {
                a.broadcast_to(&[2, 2, 3])
            }),
            single("broadcast_to its own shape", &[2, 2], 15, |a| {
                a.broadcast_to(&[2, 2])
            }),
        ],
        ShapeOp::Slice => vec![
            single("narrow(1, 1, 2)", &[3, 4], 21, |a| a.narrow(1, 1, 2)),
            single("narrow(-1, 0, 1)", &[2, 3], 22, |a| a.narrow(-1, 0, 1)),
            single("slice_axis(0, 1..)", &[4, 2], 23, |a| a.slice_axis(0, 1..)),
            single("slice_axis(1, ..=1)", &[2, 3, 2], 24, |a| {
                a.slice_axis(1, ..=1)
            }),
            single("slice [0..2, 1..3]", &[3, 4, 2], 25, |a| {
                a.slice(&[0..2, 1..3])
            }),
            single("slice of a transposed view", &[3, 4], 26, |a| {
                a.t().slice(&[1..3, 0..2])
            }),
            many("slice then a product", &[&[4, 3], &[2, 2]], 27, |v| {
                v[0].slice(&[1..3, 0..2]).matmul(v[1])
            }),
        ],
        ShapeOp::IndexSelect => vec![
            single("index_select(0, [2, 0, 2, 3])", &[4, 3], 31, |a| {
                a.index_select(0, &[2, 0, 2, 3])
            }),
            single("index_select(1, [4, 4, 1])", &[2, 5, 3], 32, |a| {
                a.index_select(1, &[4, 4, 1])
            }),
            single("index_select(-1, [0, 0])", &[3, 2], 33, |a| {
                a.index_select(-1, &[0, 0])
            }),
            single("index_select of a transposed view", &[3, 4], 34, |a| {
                a.t().index_select(0, &[3, 1, 3])
            }),
        ],
        ShapeOp::Gather => vec![
            single("gather(1, labels)", &[4, 3], 41, |a| {
                a.gather(1, &[2, 0, 1, 2])
            }),
            single("gather(0, ..)", &[3, 4], 42, |a| a.gather(0, &[0, 2, 1, 1])),
            single("gather(1, ..)", &[2, 3, 4], 43, |a| {
                a.gather(1, &[0, 2, 1, 1, 2, 2, 0, 1])
            }),
            single("gather(-1, ..) of a transposed view", &[3, 2], 44, |a| {
                a.t().gather(-1, &[2, 0])
            }),
        ],
        ShapeOp::Concat => vec![
            many("concat axis 0", &[&[2, 3], &[1, 3], &[3, 3]], 51, |v| {
                Var::concat(v, 0)
            }),
            many("concat axis -1", &[&[2, 1], &[2, 3], &[2, 2]], 54, |v| {
                Var::concat(v, -1)
            }),
            many(
                "concat axis 1",
                &[&[2, 1, 2], &[2, 2, 2], &[2, 3, 2]],
                57,
                |v| Var::concat(v, 1),
            ),
            many("concat of one", &[&[3]], 60, |v| Var::concat(v, 0)),
            many("concat with a repeat", &[&[2], &[3]], 61, |v| {
                Var::concat(&[v[0], v[1], v[0]], 0)
            }),
        ],
        ShapeOp::Stack => vec![
            many("stack axis 0", &[&[2, 3], &[2, 3], &[2, 3]], 71, |v| {
                Var::stack(v, 0)
            }),
            many("stack axis 1", &[&[2, 3], &[2, 3], &[2, 3]], 74, |v| {
                Var::stack(v, 1)
            }),
            many("stack axis -1", &[&[2, 3], &[2, 3], &[2, 3]], 77, |v| {
                Var::stack(v, -1)
            }),
            many("stack of scalars", &[&[], &[]], 80, |v| Var::stack(v, 0)),
        ],
        ShapeOp::Pad => vec![
            single("pad [(1, 2), (0, 1)]", &[2, 3], 91, |a| {
                a.pad(&[(1, 2), (0, 1)], 0.0)
            }),
            single(
                "pad [(0, 0), (1, 1), (2, 0)] with 0.5",
                &[2, 2, 3],
                92,
                |a| a.pad(&[(0, 0), (1, 1), (2, 0)], 0.5),
            ),
            single("pad [(3, 1)]", &[2], 93, |a| a.pad(&[(3, 1)], -1.0)),
            single("pad then a product", &[2, 2], 94, |a| {
                a.pad(&[(1, 0), (0, 1)], 0.0)
                    .matmul(a.t().pad(&[(0, 1), (0, 0)], 0.0))
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::registry::sample;
    use crate::{tensor, zeros, Tape, Var};

    fn err_text<V: std::fmt::Debug>(r: Result<V, crate::OpError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn reshape_of_a_contiguous_value_shares_the_buffer() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let p = x.value().as_ptr();
        assert_eq!(x.reshape(&[3, 2]).value().as_ptr(), p);
        assert_eq!(x.reshape(&[6]).reshape(&[1, 6]).value().as_ptr(), p);
        assert_eq!(x.flatten().value().as_ptr(), p);
        // A transposed view is not in row-major order: reshaping it copies.
        let y = x.t().reshape(&[6]);
        assert_ne!(y.value().as_ptr(), p);
        assert_eq!(
            y.value().as_slice().unwrap(),
            &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        // Slices are views too.
        assert_eq!(x.narrow(1, 0, 2).value().as_ptr(), p);
        assert_eq!(x.slice_axis(0, 1..).value()[[0, 0]], 4.0);
    }

    #[test]
    fn gradients_of_views_are_views_of_the_incoming_gradient() {
        let tape = Tape::<f64>::new();
        let a = tape.var(sample(&[2, 3], 1));
        let b = tape.var(sample(&[1, 3], 2));
        let c = Var::concat(&[a, b], 0);
        let g = tape.backward((c * c).sum());
        let ga = g.get(a).unwrap();
        let expected = a.value().mapv(|x| 2.0 * x);
        assert_eq!(ga, &expected);
        let gb = g.get(b).unwrap();
        assert_eq!(gb, &b.value().mapv(|x| 2.0 * x));
    }

    #[test]
    fn index_select_and_gather_pick_and_scatter() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[3, 2], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        let rows = x.index_select(0, &[2, 2, 0]);
        assert_eq!(
            rows.value().as_slice().unwrap(),
            &[4.0, 5.0, 4.0, 5.0, 0.0, 1.0]
        );
        let g = tape.backward(rows.sum());
        assert_eq!(
            g.get(x).unwrap().as_slice().unwrap(),
            &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]
        );
        let cols = tape.var(tensor(&[3, 2], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        let picked = cols.gather(0, &[2, 1]);
        assert_eq!(picked.value().as_slice().unwrap(), &[4.0, 3.0]);
        let g = tape.backward(picked.sum());
        assert_eq!(
            g.get(cols).unwrap().as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
        );
        let labels = cols.gather(1, &[1, 0, 1]);
        assert_eq!(labels.value().as_slice().unwrap(), &[1.0, 2.0, 5.0]);
    }

    #[test]
    fn errors_name_the_op_and_the_shapes() {
        let tape = Tape::<f32>::new();
        let x = tape.var(zeros(&[2, 3]));
        let y = tape.var(zeros(&[4, 5]));
        let msg = err_text(x.try_reshape(&[4, 2]));
        assert!(
            msg.starts_with("reshape: cannot reshape 6 elements into shape [4, 2]"),
            "{msg}"
        );
        assert!(msg.ends_with("input shapes [2, 3]"), "{msg}");
        let msg = err_text(x.try_broadcast_to(&[4, 3, 2]));
        assert!(
            msg.starts_with("broadcast_to:") && msg.contains("[4, 3, 2]"),
            "{msg}"
        );
        let msg = err_text(x.try_narrow(1, 2, 2));
        assert!(
            msg.starts_with("slice: the range 2..4 is out of bounds for axis 1 of size 3"),
            "{msg}"
        );
        let msg = err_text(x.try_slice_axis(2, ..));
        assert!(msg.starts_with("slice: axis 2 is out of range"), "{msg}");
        let msg = err_text(x.try_index_select(0, &[0, 2]));
        assert!(msg.starts_with("index_select: index 2"), "{msg}");
        let msg = err_text(x.try_gather(1, &[0, 1, 2]));
        assert!(
            msg.starts_with("gather: 3 indices given for 2 positions"),
            "{msg}"
        );
        let msg = err_text(x.try_gather(1, &[0, 3]));
        assert!(msg.starts_with("gather: index 3"), "{msg}");
        let msg = err_text(Var::try_concat(&[x, y], 0));
        assert!(
            msg.starts_with("concat:") && msg.ends_with("input shapes [2, 3], [4, 5]"),
            "{msg}"
        );
        let msg = err_text(Var::try_stack(&[x, y], 0));
        assert!(
            msg.starts_with("stack:") && msg.ends_with("input shapes [2, 3], [4, 5]"),
            "{msg}"
        );
        let msg = err_text(Var::try_stack(&[x, x], 3));
        assert!(msg.starts_with("stack: axis 3 is out of range"), "{msg}");
        let msg = err_text(Var::<f32>::try_concat(&[], 0));
        assert!(msg.starts_with("concat: needs at least one input"), "{msg}");
        let msg = err_text(x.try_pad(&[(1, 1)], 0.0));
        assert!(
            msg.starts_with("pad: 1 (before, after) pairs given for 2 axes"),
            "{msg}"
        );
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.reshape(&[7]))).unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(
            text.starts_with("reshape:") && text.contains("[2, 3]"),
            "{text}"
        );
    }

    #[test]
    fn pad_and_stack_place_values() {
        let tape = Tape::<f64>::new();
        let x = tape.var(tensor(&[2], vec![1.0, 2.0]));
        let p = x.pad(&[(1, 2)], 9.0);
        assert_eq!(p.value().as_slice().unwrap(), &[9.0, 1.0, 2.0, 9.0, 9.0]);
        let s = Var::stack(&[x, x.mul_scalar(10.0)], 1);
        assert_eq!(s.value().as_slice().unwrap(), &[1.0, 10.0, 2.0, 20.0]);
        let c = Var::concat(&[s, x.reshape(&[2, 1])], 1);
        assert_eq!(
            c.value().as_slice().unwrap(),
            &[1.0, 10.0, 1.0, 2.0, 20.0, 2.0]
        );
        let g = tape.backward((p.sum() + s.sum()).sum());
        assert_eq!(g.get(x).unwrap().as_slice().unwrap(), &[12.0, 12.0]);
    }
}
