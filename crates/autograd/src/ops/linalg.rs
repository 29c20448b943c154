//! Linear algebra: matrix products (2-D and batched), dot, outer, transpose and permute.
//!
//! Products run through [`matmul_into`] (GEMM, or direct loops for vector shapes), which take
//! strides: transposed operands (a value made by [`Var::t`], or the `B^T` of a backward pass)
//! are read in place, never copied.
//! Transposes and permutations are themselves free: their value is a view of their input's
//! buffer with the axes reordered.

use ndarray::{
    ArrayBase, ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix2, IxDyn, RawData,
};
use rayon::prelude::*;
use smallvec::SmallVec;

use super::{op_family, or_panic, resolve_axis};
use crate::gradcheck::registry::{sample, Case};
use crate::kernels::broadcast::broadcast_shape;
use crate::kernels::elementwise::map;
use crate::kernels::gemm::{matmul_into, product};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The linear-algebra ops.
    Linalg {
        /// `a @ b`: matrix product with numpy's `matmul` rules (batched, broadcast, 1-D operands)
        Matmul => "matmul",
        /// `a · b` of two vectors
        Dot => "dot",
        /// `a b^T` of two vectors
        Outer => "outer",
        /// Two axes swapped (`t()`, `transpose(i, j)`), as a view
        Transpose => "transpose",
        /// Axes reordered, as a view
        Permute => "permute",
    }
}

/// A product of at most this size (`m k + k n` elements read) runs on one thread inside the GEMM,
/// so a batch of them is better split over threads by batch item.
const SMALL_PRODUCT: usize = 1 << 15;

/// Batches with less work than this (multiply-adds in all) stay on one thread: waking threads
/// would cost more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 16;

/// `a` as a stack of matrices: a 1-D operand on the left is a single row `[1, k]`.
fn promote_lhs<T>(a: ArrayViewD<'_, T>) -> ArrayViewD<'_, T> {
    if a.ndim() == 1 {
        a.insert_axis(Axis(0))
    } else {
        a
    }
}

/// `b` as a stack of matrices: a 1-D operand on the right is a single column `[k, 1]`.
fn promote_rhs<T>(b: ArrayViewD<'_, T>) -> ArrayViewD<'_, T> {
    if b.ndim() == 1 {
        b.insert_axis(Axis(1))
    } else {
        b
    }
}

/// The output (or its gradient) with the axes that 1-D operands dropped put back as length 1,
/// so that it is `[batch..., m, n]`.
fn promote_out<T>(g: ArrayViewD<'_, T>, a_vec: bool, b_vec: bool) -> ArrayViewD<'_, T> {
    let mut g = g;
    if b_vec {
        let end = g.ndim();
        g = g.insert_axis(Axis(end));
    }
    if a_vec {
        let row = g.ndim() - 1;
        g = g.insert_axis(Axis(row));
    }
    g
}

/// The last two axes swapped: the transpose of every matrix of a stack, as a view.
fn transpose_last<T>(v: ArrayViewD<'_, T>) -> ArrayViewD<'_, T> {
    let mut v = v;
    let nd = v.ndim();
    v.swap_axes(nd - 2, nd - 1);
    v
}

/// A stack `[batch..., r, c]` as one matrix `[batch * r, c]`, when its layout allows that
/// without a copy.
fn merge_rows<T>(v: ArrayViewD<'_, T>) -> Option<ArrayView2<'_, T>> {
    if v.ndim() == 2 {
        return v.into_dimensionality::<Ix2>().ok();
    }
    let cols = v.shape()[v.ndim() - 1];
    let rows = v.shape()[..v.ndim() - 1].iter().product::<usize>();
    if !v.is_standard_layout() {
        return None;
    }
    v.into_shape_with_order((rows, cols)).ok()
}

/// Matrix `i` (row-major over `batch`) of the stack `v`, whose own batch axes broadcast to
/// `batch`: they align with its trailing axes, and a length-1 axis repeats.
fn batch_item<S: RawData>(v: ArrayBase<S, IxDyn>, batch: &[usize], i: usize) -> ArrayBase<S, Ix2> {
    let own = v.ndim() - 2;
    let skip = batch.len() - own;
    let mut v = v;
    let mut rest = i;
    // Remove batch axes from the back, so the positions of those not yet removed hold.
    for d in (0..batch.len()).rev() {
        let digit = rest % batch[d];
        rest /= batch[d];
        if d >= skip {
            let axis = d - skip;
            let index = if v.shape()[axis] == 1 { 0 } else { digit };
            v = v.index_axis_move(Axis(axis), index);
        }
    }
    v.into_dimensionality::<Ix2>()
        .expect("two axes remain after removing the batch axes")
}

/// `a @ b` over stacks of matrices into a fresh array of `out_shape` (`[batch_out..., m, n]`).
///
/// `a` and `b` have batch axes broadcasting to `batch`. When the output has all of `batch`, each
/// of its matrices is one product; when it has fewer (the gradient of an operand that was
/// broadcast), the products that fall on the same matrix are summed, in a fixed order.
///
/// Where several products fall on one matrix, products are accumulated (`beta = 1`) into
/// fresh zeros; otherwise each output matrix is written once by its product (`beta = 0`), and
/// its buffer is not cleared first.
fn batched_product<T: Real>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    batch: &[usize],
    out_shape: &[usize],
) -> ArrayD<T> {
    let nd = out_shape.len();
    let (m, n) = (out_shape[nd - 2], out_shape[nd - 1]);
    let k = a.shape()[a.ndim() - 1];
    let count: usize = batch.iter().product();
    let summed = out_shape[..nd - 2] != *batch;
    if !summed && b.ndim() == 2 {
        if let Some(a2) = merge_rows(a.view()) {
            // One matrix on the right (x @ W with x [batch, m, k]): one product on
            // [batch * m, k], written straight into a fresh buffer.
            let b2 = b.view().into_dimensionality::<Ix2>().expect("two axes");
            return ArrayD::from_shape_vec(IxDyn(out_shape), product(&a2, &b2))
                .expect("as many elements as the shape holds");
        }
    }
    let overwrite = !summed && m > 1 && n > 1 && k > 1;
    let len = out_shape.iter().product();
    let (buffer, beta) = if overwrite {
        (crate::kernels::pool::for_overwrite(len), T::zero())
    } else {
        (crate::kernels::pool::zeroed(len), T::one())
    };
    let mut out = ArrayD::from_shape_vec(IxDyn(out_shape), buffer)
        .expect("as many elements as the shape holds");
    if summed {
        for i in 0..count {
            let mut c = batch_item(out.view_mut(), batch, i);
            let (ai, bi) = (
                batch_item(a.view(), batch, i),
                batch_item(b.view(), batch, i),
            );
            matmul_into(&ai, &bi, T::one(), &mut c);
        }
        return out;
    }
    let mut c3 = out
        .view_mut()
        .into_shape_with_order((count, m, n))
        .expect("a fresh array is contiguous");
    let one = |i: usize, mut c: ArrayViewMut2<'_, T>| {
        let (ai, bi) = (
            batch_item(a.view(), batch, i),
            batch_item(b.view(), batch, i),
        );
        matmul_into(&ai, &bi, beta, &mut c);
    };
    let small = m * k + k * n < SMALL_PRODUCT;
    if count >= 2 && small && count * m * k * n >= PARALLEL_MIN_WORK {
        // Each output matrix is written by one task, so the result is the same on any number
        // of threads.
        c3.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, c)| one(i, c));
    } else {
        for (i, c) in c3.axis_iter_mut(Axis(0)).enumerate() {
            one(i, c);
        }
    }
    out
}

/// Reshapes a fresh (contiguous) array without copying.
fn reshaped<T: Real>(a: ArrayD<T>, shape: &[usize]) -> Tensor<T> {
    a.into_shape_with_order(IxDyn(shape))
        .expect("a fresh array is contiguous and has as many elements")
        .into_shared()
}

/// A shape held inline: recording a product allocates nothing but its output.
type Shape = SmallVec<[usize; 6]>;

/// The batch shape and output shape of `a @ b`, or why the shapes do not multiply.
fn matmul_shapes(a: &[usize], b: &[usize]) -> Result<(Shape, Shape), OpError> {
    let err = |msg: String| OpError::new("matmul", &[a, b], msg);
    if a.is_empty() || b.is_empty() {
        return Err(err(
            "both operands need at least one dimension (to scale by a scalar, use * instead)"
                .into(),
        ));
    }
    let (ka, kb) = (a[a.len() - 1], b[b.len().saturating_sub(2)]);
    if ka != kb {
        return Err(err(format!("the inner dimensions differ ({ka} vs {kb})")));
    }
    let a_batch = &a[..a.len().saturating_sub(2)];
    let b_batch = &b[..b.len().saturating_sub(2)];
    let batch: Shape = if a_batch.is_empty() || a_batch == b_batch {
        b_batch.into()
    } else if b_batch.is_empty() {
        a_batch.into()
    } else {
        broadcast_shape(a_batch, b_batch)
            .ok_or_else(|| {
                err(format!(
                    "the batch dimensions {a_batch:?} and {b_batch:?} do not broadcast (numpy \
                     rule: aligned from the last axis, each pair of sizes equal or one of them 1)"
                ))
            })?
            .into()
    };
    let mut out = batch.clone();
    if a.len() >= 2 {
        out.push(a[a.len() - 2]);
    }
    if b.len() >= 2 {
        out.push(b[b.len() - 1]);
    }
    Ok((batch, out))
}

/// `a @ b` with numpy's `matmul` rules: `[m, k] @ [k, n] = [m, n]`; stacks of matrices
/// `[..., m, k] @ [..., k, n]` multiply matrix by matrix, their batch axes broadcasting; a 1-D
/// left operand is a row (`[k] @ [k, n] = [n]`), a 1-D right operand a column
/// (`[m, k] @ [k] = [m]`).
///
/// Derivatives: `dA = G B^T`, `dB = A^T G`, matrix by matrix (summed over the batch items
/// where an operand was broadcast).
struct MatmulOp;

impl<T: Real> Op<T> for MatmulOp {
    fn name(&self) -> &str {
        Linalg::Matmul.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (a, b) = (x[0], x[1]);
        let (batch, out_shape) = matmul_shapes(a.shape(), b.shape())?;
        let (ap, bp) = (promote_lhs(a.view()), promote_rhs(b.view()));
        let mut full = batch.clone();
        full.push(ap.shape()[ap.ndim() - 2]);
        full.push(bp.shape()[bp.ndim() - 1]);
        Ok(reshaped(batched_product(ap, bp, &batch, &full), &out_shape))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let (a_vec, b_vec) = (a.ndim() == 1, b.ndim() == 1);
        let (ap, bp) = (promote_lhs(a.view()), promote_rhs(b.view()));
        let g = promote_out(ctx.grad_output().view(), a_vec, b_vec);
        let batch = &g.shape()[..g.ndim() - 2];
        let da = ctx.needs_grad(0).then(|| {
            let da = batched_product(g.view(), transpose_last(bp.view()), batch, ap.shape());
            reshaped(da, a.shape())
        });
        let db = ctx.needs_grad(1).then(|| {
            // Batched x times one matrix W: dW = sum_i x_i^T g_i is one GEMM over the merged rows.
            if bp.ndim() == 2 && ap.ndim() > 2 {
                if let (Some(a2), Some(g2)) = (merge_rows(ap.view()), merge_rows(g.view())) {
                    let db = ArrayD::from_shape_vec(IxDyn(bp.shape()), product(&a2.t(), &g2))
                        .expect("as many elements as the shape holds");
                    return reshaped(db, b.shape());
                }
            }
            let db = batched_product(transpose_last(ap.view()), g.view(), batch, bp.shape());
            reshaped(db, b.shape())
        });
        vec![da, db]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let (a_shape, b_shape) = (a.shape(), b.shape());
        let (a_vec, b_vec) = (a_shape.len() == 1, b_shape.len() == 1);
        // Vectors as a row and a column, and the gradient with their axes put back, so that
        // every case is a (batched) product of matrices.
        let a2 = if a_vec {
            a.reshape(&[1, a_shape[0]])
        } else {
            a
        };
        let b2 = if b_vec {
            b.reshape(&[b_shape[0], 1])
        } else {
            b
        };
        let mut g_shape = ctx.grad_output().shape();
        if a_vec {
            g_shape.insert(g_shape.len() - usize::from(!b_vec), 1);
        }
        if b_vec {
            g_shape.push(1);
        }
        let g = ctx.grad_output().reshape(&g_shape);
        Some(vec![
            ctx.grad_if(0, || {
                let da = g.matmul(b2.transpose(-2, -1));
                da.sum_to(&a2.shape()).reshape(&a_shape)
            }),
            ctx.grad_if(1, || {
                let db = a2.transpose(-2, -1).matmul(g);
                db.sum_to(&b2.shape()).reshape(&b_shape)
            }),
        ])
    }
}

/// `a · b = sum_i a_i b_i` of two vectors of the same length; `d/da = b`, `d/db = a`.
struct DotOp;

impl<T: Real> Op<T> for DotOp {
    fn name(&self) -> &str {
        Linalg::Dot.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (a, b) = (x[0], x[1]);
        if a.ndim() != 1 || b.ndim() != 1 || a.len() != b.len() {
            return Err(OpError::new(
                "dot",
                &[a.shape(), b.shape()],
                "expected two vectors of the same length (for matrices use matmul)",
            ));
        }
        let total = match (a.as_slice(), b.as_slice()) {
            (Some(x), Some(y)) => x.iter().zip(y).map(|(&p, &q)| p * q).sum(),
            _ => a.iter().zip(b.iter()).map(|(&p, &q)| p * q).sum(),
        };
        Ok(crate::tensor::scalar(total))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let g = ctx.grad_output()[[]];
        vec![
            ctx.needs_grad(0).then(|| map(ctx.input(1), |b| b * g)),
            ctx.needs_grad(1).then(|| map(ctx.input(0), |a| a * g)),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        Some(vec![
            ctx.grad_if(0, || ctx.input(1) * g),
            ctx.grad_if(1, || ctx.input(0) * g),
        ])
    }
}

/// `(a b^T)_ij = a_i b_j` of two vectors; `dA = G b`, `dB = G^T a`.
struct OuterOp;

impl<T: Real> Op<T> for OuterOp {
    fn name(&self) -> &str {
        Linalg::Outer.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (a, b) = (x[0], x[1]);
        if a.ndim() != 1 || b.ndim() != 1 {
            return Err(OpError::new(
                "outer",
                &[a.shape(), b.shape()],
                "expected two vectors",
            ));
        }
        let mut out = Vec::with_capacity(a.len() * b.len());
        match b.as_slice() {
            Some(row) => {
                for &p in a.iter() {
                    out.extend(row.iter().map(|&q| p * q));
                }
            }
            None => {
                for &p in a.iter() {
                    out.extend(b.iter().map(|&q| p * q));
                }
            }
        }
        Ok(crate::tensor::tensor(&[a.len(), b.len()], out))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let g = ctx
            .grad_output()
            .view()
            .into_dimensionality::<Ix2>()
            .expect("outer's output is 2-D");
        let times = |lhs: ArrayView2<'_, T>, v: &Tensor<T>, len: usize| {
            let mut out = ArrayD::<T>::zeros(IxDyn(&[len]));
            let mut c = out
                .view_mut()
                .insert_axis(Axis(1))
                .into_dimensionality::<Ix2>()
                .expect("a vector made a column");
            matmul_into(&lhs, &column(v.view()), T::one(), &mut c);
            out.into_shared()
        };
        vec![
            ctx.needs_grad(0).then(|| times(g.view(), b, a.len())),
            ctx.needs_grad(1).then(|| times(g.t(), a, b.len())),
        ]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        Some(vec![
            ctx.grad_if(0, || g.matmul(ctx.input(1))),
            ctx.grad_if(1, || g.t().matmul(ctx.input(0))),
        ])
    }
}

/// A vector `[n]` as a column `[n, 1]`, in place.
fn column<T>(v: ArrayViewD<'_, T>) -> ArrayView2<'_, T> {
    v.insert_axis(Axis(1))
        .into_dimensionality::<Ix2>()
        .expect("a vector made a column")
}

/// Axes `i` and `j` swapped, as a view of the input's buffer. The gradient swaps them back
/// (also a view): a swap is its own inverse.
struct TransposeOp {
    i: usize,
    j: usize,
}

impl<T: Real> Op<T> for TransposeOp {
    fn name(&self) -> &str {
        Linalg::Transpose.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let mut y = x[0].clone();
        y.swap_axes(self.i, self.j);
        Ok(y)
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let mut g = ctx.grad_output().clone();
        g.swap_axes(self.i, self.j);
        vec![Some(g)]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let g = ctx.grad_output();
        Some(vec![Some(g.transpose(self.i as isize, self.j as isize))])
    }
}

/// Axes reordered: output axis `d` is input axis `perm[d]`, as a view of the input's buffer.
/// The gradient applies the inverse permutation (also a view).
struct PermuteOp {
    perm: Vec<usize>,
}

impl<T: Real> Op<T> for PermuteOp {
    fn name(&self) -> &str {
        Linalg::Permute.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        Ok(x[0].clone().permuted_axes(IxDyn(&self.perm)))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        vec![Some(
            ctx.grad_output()
                .clone()
                .permuted_axes(IxDyn(&self.inverse())),
        )]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let inverse: Vec<isize> = self.inverse().iter().map(|&d| d as isize).collect();
        Some(vec![Some(ctx.grad_output().permute(&inverse))])
    }
}

impl PermuteOp {
    /// The permutation that undoes this one.
    fn inverse(&self) -> Vec<usize> {
        let mut inverse = vec![0; self.perm.len()];
        for (d, &p) in self.perm.iter().enumerate() {
            inverse[p] = d;
        }
        inverse
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The matrix product `self @ rhs`, with numpy's `matmul` rules:
    ///
    /// * `[m, k] @ [k, n] -> [m, n]`;
    /// * stacks of matrices, `[..., m, k] @ [..., k, n] -> [..., m, n]`, where the batch axes
    ///   (all but the last two) broadcast: `[8, m, k] @ [k, n]` multiplies each of the 8
    ///   matrices by the same `[k, n]`;
    /// * a 1-D left operand is a row and a 1-D right operand a column, and that axis is
    ///   dropped from the result: `[k] @ [k, n] -> [n]`, `[m, k] @ [k] -> [m]`,
    ///   `[k] @ [k] -> []`.
    ///
    /// Transposed operands (`w.t()`) are read in place, without a copy.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(tensor(&[1, 3], vec![1.0, 2.0, 3.0]));
    /// let w = tape.var(tensor(&[3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]));
    /// let y = x.matmul(w);
    /// assert_eq!(y.value().as_slice().unwrap(), &[4.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not multiply; [`try_matmul`](Var::try_matmul) returns the error.
    #[track_caller]
    pub fn matmul(self, rhs: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_matmul(rhs))
    }

    /// `self @ rhs` (see [`matmul`](Var::matmul)), or an error naming both shapes if the inner
    /// dimensions differ or the batch axes do not broadcast.
    #[track_caller]
    pub fn try_matmul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Linalg::Matmul, MatmulOp)
    }

    /// The dot product `sum_i self_i rhs_i` of two vectors of the same length, as a rank-0 value.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
    /// let b = tape.var(tensor(&[3], vec![4.0, 5.0, 6.0]));
    /// assert_eq!(a.dot(b).item(), 32.0);
    /// ```
    #[track_caller]
    pub fn dot(self, rhs: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_dot(rhs))
    }

    /// The dot product, or an error if the operands are not two vectors of the same length.
    #[track_caller]
    pub fn try_dot(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Linalg::Dot, DotOp)
    }

    /// The outer product of two vectors: `[m]` and `[n]` give `[m, n]` with entries
    /// `self_i rhs_j`.
    #[track_caller]
    pub fn outer(self, rhs: Var<'t, T>) -> Var<'t, T> {
        or_panic(self.try_outer(rhs))
    }

    /// The outer product, or an error if the operands are not two vectors.
    #[track_caller]
    pub fn try_outer(self, rhs: Var<'t, T>) -> Result<Var<'t, T>, OpError> {
        self.record2(rhs, Linalg::Outer, OuterOp)
    }

    /// The transpose of a matrix (`[m, n] -> [n, m]`); a vector is returned as it is.
    ///
    /// Costs nothing: the value is a view of the same buffer with its axes swapped, and
    /// [`matmul`](Var::matmul) reads it in place.
    ///
    /// ```
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let w = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let wt = w.t();
    /// assert_eq!(wt.shape(), vec![3, 2]);
    /// assert_eq!(wt.value()[[2, 0]], 3.0);
    /// ```
    ///
    /// A scalar or a vector is its own transpose (as in numpy): `t()` returns it unchanged.
    ///
    /// # Panics
    /// For more than two dimensions (use [`transpose`](Var::transpose) or
    /// [`permute`](Var::permute) to say which axes).
    #[track_caller]
    pub fn t(self) -> Var<'t, T> {
        or_panic(self.try_t())
    }

    /// The transpose of a matrix, or an error for more than two dimensions.
    #[track_caller]
    pub fn try_t(self) -> Result<Var<'t, T>, OpError> {
        let shape = self.shape();
        if shape.len() > 2 {
            return Err(OpError::new(
                "transpose",
                &[&shape],
                "t() transposes a matrix (0 to 2 dimensions); for more, say which axes with \
                 transpose(-2, -1) or permute",
            ));
        }
        if shape.len() < 2 {
            return Ok(self);
        }
        self.record1(Linalg::Transpose, TransposeOp { i: 0, j: 1 })
    }

    /// The value with axes `axis0` and `axis1` swapped (negative axes count from the end), as a
    /// view of the same buffer. `x.transpose(-2, -1)` transposes every matrix of a stack.
    #[track_caller]
    pub fn transpose(self, axis0: isize, axis1: isize) -> Var<'t, T> {
        or_panic(self.try_transpose(axis0, axis1))
    }

    /// Swaps two axes, or returns an error if an axis is out of range.
    #[track_caller]
    pub fn try_transpose(self, axis0: isize, axis1: isize) -> Result<Var<'t, T>, OpError> {
        let (i, j) = self.with_value(|v| {
            Ok::<_, OpError>((
                resolve_axis("transpose", axis0, v.shape())?,
                resolve_axis("transpose", axis1, v.shape())?,
            ))
        })?;
        self.record1(Linalg::Transpose, TransposeOp { i, j })
    }

    /// The value with its axes reordered: output axis `d` is input axis `axes[d]` (negative
    /// axes count from the end), as a view of the same buffer.
    ///
    /// ```
    /// use tapegrad_autograd::{zeros, Tape};
    /// let tape = Tape::<f32>::new();
    /// let images = tape.var(zeros(&[8, 28, 28, 3])); // N, H, W, C
    /// assert_eq!(images.permute(&[0, 3, 1, 2]).shape(), vec![8, 3, 28, 28]);
    /// ```
    #[track_caller]
    pub fn permute(self, axes: &[isize]) -> Var<'t, T> {
        or_panic(self.try_permute(axes))
    }

    /// Reorders the axes, or returns an error if `axes` is not a permutation of the axes.
    #[track_caller]
    pub fn try_permute(self, axes: &[isize]) -> Result<Var<'t, T>, OpError> {
        let perm = self.with_value(|v| {
            let shape = v.shape();
            let not_a_permutation = || {
                OpError::new(
                    "permute",
                    &[shape],
                    format!(
                        "axes {axes:?} are not a permutation of the {} axes (each axis exactly \
                         once)",
                        shape.len()
                    ),
                )
            };
            if axes.len() != shape.len() {
                return Err(not_a_permutation());
            }
            let perm = axes
                .iter()
                .map(|&a| resolve_axis("permute", a, shape))
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = vec![false; perm.len()];
            for &p in &perm {
                if std::mem::replace(&mut seen[p], true) {
                    return Err(not_a_permutation());
                }
            }
            Ok(perm)
        })?;
        self.record1(Linalg::Permute, PermuteOp { perm })
    }
}

/// Gradcheck cases for the linear-algebra ops.
pub(crate) fn gradcheck_cases(kind: Linalg) -> Vec<Case> {
    type Bin = for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>;
    let pair = |label: &str, a: &[usize], b: &[usize], seed: u64, f: Bin| {
        Case::new(
            format!("{label} {a:?} with {b:?}"),
            vec![sample(a, seed), sample(b, seed + 1)],
            move |v| f(v[0], v[1]),
        )
    };
    type Un = for<'t> fn(Var<'t, f64>) -> Var<'t, f64>;
    let single = |label: &str, a: &[usize], seed: u64, f: Un| {
        Case::new(
            format!("{label} of {a:?}"),
            vec![sample(a, seed)],
            move |v| f(v[0]),
        )
    };
    match kind {
        Linalg::Matmul => vec![
            pair("matmul", &[2, 3], &[3, 4], 1, |a, b| a.matmul(b)),
            pair("matmul (one row)", &[1, 5], &[5, 3], 3, |a, b| a.matmul(b)),
            pair("matmul (batched)", &[2, 3, 4], &[2, 4, 2], 5, |a, b| {
                a.matmul(b)
            }),
            pair(
                "matmul (broadcast batch axes)",
                &[2, 1, 3, 2],
                &[3, 2, 2],
                7,
                |a, b| a.matmul(b),
            ),
            pair(
                "matmul (batch times one matrix)",
                &[4, 3, 2],
                &[2, 5],
                9,
                |a, b| a.matmul(b),
            ),
            pair(
                "matmul (one matrix times a batch)",
                &[3, 4],
                &[2, 4, 3],
                11,
                |a, b| a.matmul(b),
            ),
            pair("matmul (vector @ matrix)", &[3], &[3, 4], 13, |a, b| {
                a.matmul(b)
            }),
            pair("matmul (matrix @ vector)", &[4, 3], &[3], 15, |a, b| {
                a.matmul(b)
            }),
            pair("matmul (vector @ vector)", &[5], &[5], 17, |a, b| {
                a.matmul(b)
            }),
            pair("matmul (batch @ vector)", &[2, 4, 3], &[3], 19, |a, b| {
                a.matmul(b)
            }),
            pair("matmul (vector @ batch)", &[3], &[2, 3, 4], 21, |a, b| {
                a.matmul(b)
            }),
            pair("matmul (a.t() @ b)", &[3, 2], &[3, 4], 23, |a, b| {
                a.t().matmul(b)
            }),
            pair("matmul (a @ b.t())", &[2, 3], &[4, 3], 25, |a, b| {
                a.matmul(b.t())
            }),
            pair(
                "matmul (transposed stack @ stack)",
                &[2, 4, 3],
                &[2, 4, 2],
                27,
                |a, b| a.transpose(-2, -1).matmul(b),
            ),
            pair(
                "matmul (batch times one matrix, output permuted)",
                &[4, 3, 2],
                &[2, 5],
                29,
                |a, b| a.matmul(b).permute(&[1, 0, 2]),
            ),
            pair(
                "matmul (output transposed, fed back into matmul)",
                &[2, 3],
                &[3, 3],
                31,
                |a, b| a.matmul(b).t().matmul(a),
            ),
        ],
        Linalg::Dot => vec![
            pair("dot", &[5], &[5], 41, |a, b| a.dot(b)),
            pair("dot", &[1], &[1], 43, |a, b| a.dot(b)),
            pair(
                "dot (of a product with itself)",
                &[3, 2],
                &[3],
                45,
                |a, b| {
                    let u = a.t().matmul(b);
                    u.dot(u)
                },
            ),
        ],
        Linalg::Outer => vec![
            pair("outer", &[3], &[4], 51, |a, b| a.outer(b)),
            pair("outer", &[1], &[2], 53, |a, b| a.outer(b)),
            pair("outer (then a product)", &[3], &[2], 55, |a, b| {
                a.outer(b).t().matmul(a)
            }),
        ],
        Linalg::Transpose => vec![
            single("t", &[2, 3], 61, |a| a.t()),
            single("transpose(0, -1) of a vector", &[4], 62, |a| {
                a.transpose(0, -1)
            }),
            single("transpose(0, 2)", &[2, 3, 4], 63, |a| a.transpose(0, 2)),
            single("transpose(-1, -2)", &[2, 2, 3], 64, |a| a.transpose(-1, -2)),
            pair("t then elementwise", &[2, 3], &[3, 2], 65, |a, b| a.t() * b),
        ],
        Linalg::Permute => vec![
            single("permute [2, 0, 1]", &[2, 3, 4], 71, |a| {
                a.permute(&[2, 0, 1])
            }),
            single("permute [1, 0]", &[3, 2], 72, |a| a.permute(&[1, 0])),
            single("permute [-1, 0, 1, 2]", &[2, 1, 3, 2], 73, |a| {
                a.permute(&[-1, 0, 1, 2])
            }),
            pair(
                "permute then elementwise",
                &[2, 3, 2],
                &[2, 2, 3],
                74,
                |a, b| a.permute(&[0, 2, 1]) * b,
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array3};

    use crate::gradcheck::registry::sample;
    use crate::{scalar, tensor, Tape};

    #[test]
    fn products_match_ndarray() {
        let a = sample(&[3, 4], 1);
        let b = sample(&[4, 2], 2);
        let tape = Tape::<f64>::new();
        let (x, y) = (tape.var(a.clone()), tape.var(b.clone()));
        let a2 = a.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        let b2 = b.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        let expected = a2.dot(&b2);
        let got = x.matmul(y).value();
        assert!(got
            .iter()
            .zip(expected.iter())
            .all(|(p, q)| (p - q).abs() < 1e-12));
        // Transposed views give the same numbers as transposed copies.
        let got_t = y.t().matmul(x.t()).value();
        let expected_t = expected.t();
        assert_eq!(got_t.shape(), &[2, 3]);
        assert!(got_t
            .iter()
            .zip(expected_t.iter())
            .all(|(p, q)| (p - q).abs() < 1e-12));
        // Vectors follow numpy: [4] @ [4, 2] -> [2], [3, 4] @ [4] -> [3], [4] @ [4] -> [].
        let v = tape.var(sample(&[4], 3));
        assert_eq!(v.matmul(y).shape(), vec![2]);
        assert_eq!(v.matmul(v).shape(), Vec::<usize>::new());
        assert_eq!(x.matmul(v).shape(), vec![3]);
    }

    #[test]
    fn transposes_and_permutations_share_the_buffer() {
        let tape = Tape::<f32>::new();
        let x = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let p = x.value().as_ptr();
        assert_eq!(x.t().value().as_ptr(), p);
        assert_eq!(x.transpose(-1, 0).value().as_ptr(), p);
        assert_eq!(x.permute(&[1, 0]).value().as_ptr(), p);
        assert_eq!(x.t().value()[[2, 1]], 6.0);
        // The gradient is the inverse permutation of the incoming one.
        let w = tape.constant(tensor(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let g = tape.backward((x.t() * w).sum());
        let gx = g.get(x).unwrap();
        assert_eq!(gx.shape(), &[2, 3]);
        assert_eq!(gx[[0, 1]], 3.0);
        assert_eq!(gx[[1, 2]], 6.0);
        // Leaf gradients come back in row-major order even when they flowed through a view.
        assert_eq!(gx.as_slice().unwrap(), &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn a_scalar_or_a_vector_is_its_own_transpose() {
        let tape = Tape::<f64>::new();
        let s = tape.var(scalar(2.0));
        let v = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
        assert_eq!(s.t(), s);
        assert_eq!(v.t(), v);
        let g = tape.backward((s.t() * v.t()).sum());
        assert_eq!(g.get(s).unwrap()[[]], 6.0);
        assert_eq!(g.get(v).unwrap().as_slice().unwrap(), &[2.0, 2.0, 2.0]);
    }

    #[test]
    fn errors_name_the_op_and_both_shapes() {
        let tape = Tape::<f32>::new();
        let a = tape.var(tensor(&[2, 3], vec![0.0; 6]));
        let b = tape.var(tensor(&[4, 5], vec![0.0; 20]));
        assert_eq!(
            a.try_matmul(b).unwrap_err().to_string(),
            "matmul: the inner dimensions differ (3 vs 4); input shapes [2, 3], [4, 5]"
        );
        let c = tape.var(tensor(&[2, 3, 4], vec![0.0; 24]));
        let d = tape.var(tensor(&[3, 4, 2], vec![0.0; 24]));
        let msg = c.try_matmul(d).unwrap_err().to_string();
        assert!(
            msg.starts_with("matmul: the batch dimensions [2] and [3] do not broadcast"),
            "{msg}"
        );
        assert!(msg.ends_with("input shapes [2, 3, 4], [3, 4, 2]"), "{msg}");
        let msg = a.try_dot(b).unwrap_err().to_string();
        assert!(
            msg.starts_with("dot:") && msg.contains("[2, 3], [4, 5]"),
            "{msg}"
        );
        let msg = c.try_t().unwrap_err().to_string();
        assert!(
            msg.starts_with("transpose:") && msg.contains("[2, 3, 4]"),
            "{msg}"
        );
        let msg = c.try_permute(&[0, 0, 1]).unwrap_err().to_string();
        assert!(
            msg.starts_with("permute:") && msg.contains("[2, 3, 4]"),
            "{msg}"
        );
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.matmul(b))).unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(
            text.starts_with("matmul: the inner dimensions differ"),
            "{text}"
        );
    }

    #[test]
    fn large_batches_of_small_products_agree_with_one_at_a_time() {
        // 512 products of 8 x 8 matrices: split over threads by batch item.
        let (batch, m) = (512, 8);
        let a = sample(&[batch, m, m], 5);
        let b = sample(&[batch, m, m], 6);
        let tape = Tape::<f64>::new();
        let y = tape.var(a.clone()).matmul(tape.var(b.clone())).value();
        let a3 = a.into_dimensionality::<ndarray::Ix3>().unwrap();
        let b3 = b.into_dimensionality::<ndarray::Ix3>().unwrap();
        let mut expected = Array3::<f64>::zeros((batch, m, m));
        for i in 0..batch {
            let mut c = Array2::<f64>::zeros((m, m));
            crate::kernels::gemm::gemm(
                1.0,
                &a3.index_axis(ndarray::Axis(0), i),
                &b3.index_axis(ndarray::Axis(0), i),
                0.0,
                &mut c.view_mut(),
            );
            expected.index_axis_mut(ndarray::Axis(0), i).assign(&c);
        }
        assert_eq!(y.as_slice().unwrap(), expected.as_slice().unwrap());
    }

    #[test]
    fn broadcast_operand_gradients_are_summed_over_the_batch() {
        let tape = Tape::<f64>::new();
        let x = tape.var(sample(&[3, 2, 4], 7));
        let w = tape.var(sample(&[4, 5], 8));
        let y = x.matmul(w).sum();
        let g = tape.backward(y);
        assert_eq!(g.get(w).unwrap().shape(), &[4, 5]);
        // d sum(x w) / d w_ij = sum over rows of x_.i
        let xs = x.value();
        let col0: f64 = xs.iter().step_by(4).sum();
        assert!((g.get(w).unwrap()[[0, 3]] - col0).abs() < 1e-12);
    }
}
