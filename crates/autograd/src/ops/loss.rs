//! Fused losses: softmax cross-entropy from logits (with probability targets or integer
//! labels), binary cross-entropy with logits, mean squared error.
//!
//! Each is one op rather than a chain of exp, log and sums: one pass forward, one backward,
//! and the numerically stable forms throughout (`log_softmax` through the row's logsumexp,
//! BCE as `max(z, 0) - z t + ln(1 + exp(-|z|))`), so no finite input gives NaN or infinity.
//! Each returns a rank-0 loss and takes a [`Reduce`] saying how terms are combined.

use rayon::prelude::*;

use super::{op_family, or_panic};
use crate::gradcheck::registry::{sample, sample_in, Case};
use crate::kernels::elementwise::{zip_with, PARALLEL_MIN_LEN};
use crate::kernels::reduce::{logsumexp, pairwise_sum};
use crate::tensor::{scalar, tensor};
use crate::{BackwardContext, Op, OpError, Real, Tensor, Var, VarContext};

op_family! {
    /// The fused losses.
    Loss {
        /// Softmax cross-entropy of logits against probability (or one-hot) targets.
        SoftmaxCrossEntropy => "softmax_cross_entropy",
        /// Softmax cross-entropy of logits against integer class labels.
        SoftmaxCrossEntropyLabels => "softmax_cross_entropy_with_labels",
        /// Binary cross-entropy of logits against targets in `[0, 1]`.
        BceWithLogits => "bce_with_logits",
        /// Squared error.
        Mse => "mse",
    }
}

/// How a loss combines its terms into one number.
///
/// `Mean` is what Keras and PyTorch use by default, and what makes a learning rate independent
/// of the batch size; `Sum` is what several books write (Nielsen's and Grokking Deep
/// Learning's per-example updates add gradients up).
///
/// What a `Mean` divides by depends on the loss, as in Keras and PyTorch:
/// * the softmax cross-entropies divide by the number of samples `N`, the first axis of
///   `[N, C]` logits (each sample's term already sums over its `C` classes);
/// * [`bce_with_logits`](crate::Var::bce_with_logits) and [`mse`](crate::Var::mse) divide by
///   the number of elements (`N` times the outputs per sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduce {
    /// The average: over samples for the cross-entropies, over elements for BCE and MSE.
    Mean,
    /// The total over every term.
    Sum,
}

impl Reduce {
    /// The factor that turns the sum of terms into the loss: `1/count` or `1`.
    fn scale<T: Real>(self, count: usize) -> T {
        match self {
            Reduce::Mean => T::one() / T::from_usize_lossy(count),
            Reduce::Sum => T::one(),
        }
    }

    fn apply<T: Real>(self, total: T, count: usize) -> T {
        match self {
            // A true division, so a mean agrees with numpy's `.mean()` bit for bit.
            Reduce::Mean => total / T::from_usize_lossy(count),
            Reduce::Sum => total,
        }
    }
}

/// Rows `[N, C]` of logits of rank 1 (one sample) or 2, or an explanation.
fn rows_of(op: &str, shapes: &[&[usize]]) -> Result<(usize, usize), OpError> {
    let z = shapes[0];
    match *z {
        [c] if c > 0 => Ok((1, c)),
        [n, c] if c > 0 => Ok((n, c)),
        _ => Err(OpError::new(
            op,
            shapes,
            "expected logits of shape [N, C] (N samples, C > 0 classes) or [C] for one sample; \
             reshape other layouts to [N, C]",
        )),
    }
}

/// Fills an `n x c` buffer row by row, on several threads when it is large.
fn by_rows<T: Real>(n: usize, c: usize, body: impl Fn(usize, &mut [T]) + Sync) -> Vec<T> {
    let mut out = vec![T::zero(); n * c];
    if n * c >= PARALLEL_MIN_LEN {
        out.par_chunks_mut(c)
            .enumerate()
            .with_min_len((4096 / c).max(1))
            .for_each(|(i, row)| body(i, row));
    } else {
        out.chunks_mut(c)
            .enumerate()
            .for_each(|(i, row)| body(i, row));
    }
    out
}

fn contiguous<T: Real>(t: &Tensor<T>) -> std::borrow::Cow<'_, [T]> {
    match t.as_slice() {
        Some(s) => s.into(),
        None => t.iter().copied().collect::<Vec<_>>().into(),
    }
}

/// Each row's `ln(sum(exp(z)))`, for logits `[N, C]` or `[C]`.
fn row_logsumexp<T: Real>(z: &Tensor<T>) -> Vec<T> {
    let last = z.ndim() - 1;
    let lse = logsumexp(z, &[last], false);
    contiguous(&lse).into_owned()
}

/// Softmax cross-entropy from logits `z` against targets `t`, both `[N, C]`:
/// `L = -sum_i sum_j t_ij log_softmax(z_i)_j`, with `log_softmax(z_i)_j = z_ij - lse_i` and
/// `lse_i = ln(sum_j exp(z_ij))` (divided by `N` for [`Reduce::Mean`]).
///
/// `dL/dz_ij = (sum_k t_ik) p_ij - t_ij` with `p = softmax(z)`, which is `p - t` for targets
/// that sum to one per row; `dL/dt_ij = -log_softmax(z_i)_j` (both times `1/N` for `Mean`).
struct SoftmaxCrossEntropyOp<T> {
    reduce: Reduce,
    rows: usize,
    lse: Vec<T>,
}

impl<T: Real> Op<T> for SoftmaxCrossEntropyOp<T> {
    fn name(&self) -> &str {
        Loss::SoftmaxCrossEntropy.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let name = Loss::SoftmaxCrossEntropy.name();
        let (z, t) = (x[0], x[1]);
        let (n, c) = rows_of(name, &[z.shape(), t.shape()])?;
        if t.shape() != z.shape() {
            return Err(OpError::new(
                name,
                &[z.shape(), t.shape()],
                "the targets must have the logits' shape, one probability (or one-hot) row per \
                 sample; for integer class labels use softmax_cross_entropy_with_labels",
            ));
        }
        self.rows = n;
        self.lse = row_logsumexp(z);
        let (zs, ts) = (contiguous(z), contiguous(t));
        let terms: Vec<T> = zs
            .chunks(c)
            .zip(ts.chunks(c))
            .zip(&self.lse)
            .map(|((zr, tr), &lse)| {
                let mut acc = T::zero();
                for (&z, &t) in zr.iter().zip(tr) {
                    // Skipping zero targets keeps a masked logit (-inf) from giving 0 * inf.
                    if t != T::zero() {
                        acc -= t * (z - lse);
                    }
                }
                acc
            })
            .collect();
        Ok(scalar(self.reduce.apply(pairwise_sum(&terms), n)))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (z, t) = (ctx.input(0), ctx.input(1));
        let c = *z.shape().last().expect("logits have a class axis");
        let g = ctx.grad_output()[[]] * self.reduce.scale::<T>(self.rows);
        let (zs, ts) = (contiguous(z), contiguous(t));
        let dz = ctx.needs_grad(0).then(|| {
            let data = by_rows(self.rows, c, |i, out: &mut [T]| {
                let (zr, tr) = (&zs[i * c..][..c], &ts[i * c..][..c]);
                let total: T = tr.iter().copied().sum();
                let lse = self.lse[i];
                for ((o, &z), &t) in out.iter_mut().zip(zr).zip(tr) {
                    *o = g * (total * (z - lse).exp() - t);
                }
            });
            tensor(z.shape(), data)
        });
        let dt = ctx.needs_grad(1).then(|| {
            let data = by_rows(self.rows, c, |i, out: &mut [T]| {
                let lse = self.lse[i];
                for (o, &z) in out.iter_mut().zip(&zs[i * c..][..c]) {
                    *o = g * (lse - z);
                }
            });
            tensor(z.shape(), data)
        });
        vec![dz, dt]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (z, t) = (ctx.input(0), ctx.input(1));
        let g = ctx
            .grad_output()
            .mul_scalar(self.reduce.scale::<T>(self.rows));
        Some(vec![
            ctx.grad_if(0, || {
                let total = t.sum_axes(&[-1], true);
                g * (total * z.softmax(-1) - t)
            }),
            ctx.grad_if(1, || -(g * z.log_softmax(-1))),
        ])
    }
}

/// Softmax cross-entropy from logits `z` `[N, C]` against integer labels `y` (`N` of them):
/// `L = sum_i (lse_i - z_i,y_i)`, the negative log-probability of each sample's class
/// (divided by `N` for [`Reduce::Mean`]); `dL/dz_ij = p_ij - [j = y_i]` (times `1/N` for
/// `Mean`).
struct SoftmaxCrossEntropyLabelsOp<T> {
    reduce: Reduce,
    labels: Vec<usize>,
    lse: Vec<T>,
}

impl<T: Real> Op<T> for SoftmaxCrossEntropyLabelsOp<T> {
    fn name(&self) -> &str {
        Loss::SoftmaxCrossEntropyLabels.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let name = Loss::SoftmaxCrossEntropyLabels.name();
        let z = x[0];
        let (n, c) = rows_of(name, &[z.shape()])?;
        if self.labels.len() != n {
            return Err(OpError::new(
                name,
                &[z.shape()],
                format!(
                    "got {} labels for {n} samples; give one class index per row of the logits",
                    self.labels.len()
                ),
            ));
        }
        if let Some((i, &y)) = self.labels.iter().enumerate().find(|(_, &y)| y >= c) {
            return Err(OpError::new(
                name,
                &[z.shape()],
                format!(
                    "label {y} (sample {i}) is not a class index: the logits have {c} classes, \
                     so labels must be in 0..{c}"
                ),
            ));
        }
        self.lse = row_logsumexp(z);
        let zs = contiguous(z);
        let terms: Vec<T> = self
            .labels
            .iter()
            .zip(&self.lse)
            .enumerate()
            .map(|(i, (&y, &lse))| lse - zs[i * c + y])
            .collect();
        Ok(scalar(self.reduce.apply(pairwise_sum(&terms), n)))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let z = ctx.input(0);
        let c = *z.shape().last().expect("logits have a class axis");
        let n = self.labels.len();
        let g = ctx.grad_output()[[]] * self.reduce.scale::<T>(n);
        let zs = contiguous(z);
        let data = by_rows(n, c, |i, out: &mut [T]| {
            let lse = self.lse[i];
            for (o, &z) in out.iter_mut().zip(&zs[i * c..][..c]) {
                *o = g * (z - lse).exp();
            }
            out[self.labels[i]] -= g;
        });
        vec![Some(tensor(z.shape(), data))]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let z = ctx.input(0);
        let shape = z.shape();
        let c = *shape.last().expect("logits have a class axis");
        let mut one_hot = vec![T::zero(); self.labels.len() * c];
        for (i, &y) in self.labels.iter().enumerate() {
            one_hot[i * c + y] = T::one();
        }
        let one_hot = ctx.constant(tensor(&shape, one_hot));
        let g = ctx
            .grad_output()
            .mul_scalar(self.reduce.scale::<T>(self.labels.len()));
        Some(vec![Some(g * (z.softmax(-1) - one_hot))])
    }
}

fn same_shape(op: &str, a: &Tensor<impl Real>, b: &Tensor<impl Real>) -> Result<(), OpError> {
    if a.shape() == b.shape() {
        return Ok(());
    }
    Err(OpError::new(
        op,
        &[a.shape(), b.shape()],
        "the prediction and the target must have the same shape (broadcasting is not done \
         here: a [N, 1] prediction against a [N] target would silently compare every pair); \
         reshape one of them",
    ))
}

/// `1 / (1 + exp(-z))`, without overflow for large `|z|`.
#[inline]
fn sigmoid<T: Real>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

/// Binary cross-entropy from logits `z` against targets `t` in `[0, 1]`, elementwise:
/// `l = -(t ln sigmoid(z) + (1 - t) ln(1 - sigmoid(z)))`, computed as
/// `max(z, 0) - z t + ln(1 + exp(-|z|))`, which is finite for every finite `z`. The loss is
/// the sum of `l` (divided by the number of elements for [`Reduce::Mean`]).
///
/// `dl/dz = sigmoid(z) - t`, `dl/dt = -z`.
struct BceWithLogitsOp {
    reduce: Reduce,
}

impl<T: Real> Op<T> for BceWithLogitsOp {
    fn name(&self) -> &str {
        Loss::BceWithLogits.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (z, t) = (x[0], x[1]);
        same_shape(Loss::BceWithLogits.name(), z, t)?;
        let terms = zip_with(z, t, |z, t| {
            z.max(T::zero()) - z * t + (-z.abs()).exp().ln_1p()
        })
        .expect("same shapes");
        let total = pairwise_sum(&contiguous(&terms));
        Ok(scalar(self.reduce.apply(total, z.len())))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (z, t) = (ctx.input(0), ctx.input(1));
        let g = ctx.grad_output()[[]] * self.reduce.scale::<T>(z.len());
        let dz = ctx
            .needs_grad(0)
            .then(|| zip_with(z, t, |z, t| g * (sigmoid(z) - t)).expect("same shapes"));
        let dt = ctx
            .needs_grad(1)
            .then(|| crate::kernels::elementwise::map(z, |z| -g * z));
        vec![dz, dt]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (z, t) = (ctx.input(0), ctx.input(1));
        let g = ctx
            .grad_output()
            .mul_scalar(self.reduce.scale::<T>(z.len()));
        Some(vec![
            ctx.grad_if(0, || g * (z.sigmoid() - t)),
            ctx.grad_if(1, || -(g * z)),
        ])
    }
}

/// Squared error between a prediction `p` and a target `t` of the same shape:
/// `L = sum (p - t)^2`, divided by the number of elements for [`Reduce::Mean`].
///
/// `dL/dp = 2 (p - t)`, `dL/dt = -2 (p - t)` (divided likewise).
struct MseOp {
    reduce: Reduce,
}

impl<T: Real> Op<T> for MseOp {
    fn name(&self) -> &str {
        Loss::Mse.name()
    }
    fn forward(&mut self, x: &[&Tensor<T>]) -> Result<Tensor<T>, OpError> {
        let (p, t) = (x[0], x[1]);
        same_shape(Loss::Mse.name(), p, t)?;
        let sq = zip_with(p, t, |p, t| (p - t) * (p - t)).expect("same shapes");
        let total = pairwise_sum(&contiguous(&sq));
        Ok(scalar(self.reduce.apply(total, p.len())))
    }
    fn backward(&self, ctx: &BackwardContext<'_, T>) -> Vec<Option<Tensor<T>>> {
        let (p, t) = (ctx.input(0), ctx.input(1));
        let g2 = T::lit(2.0) * ctx.grad_output()[[]] * self.reduce.scale::<T>(p.len());
        let dp = zip_with(p, t, |p, t| g2 * (p - t)).expect("same shapes");
        let dt = ctx
            .needs_grad(1)
            .then(|| crate::kernels::elementwise::map(&dp, |d| -d));
        vec![ctx.needs_grad(0).then_some(dp), dt]
    }
    fn backward_vars<'t>(&self, ctx: &VarContext<'_, 't, T>) -> Option<Vec<Option<Var<'t, T>>>> {
        let (p, t) = (ctx.input(0), ctx.input(1));
        let g2 = ctx
            .grad_output()
            .mul_scalar(T::lit(2.0) * self.reduce.scale::<T>(p.len()));
        let dp = g2 * (p - t);
        Some(vec![ctx.grad_if(0, || dp), ctx.grad_if(1, || -dp)])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Softmax cross-entropy of these logits `[N, C]` against probability targets `[N, C]`
    /// (one-hot rows, or any distribution): `-sum(targets * log_softmax(logits))`, divided by
    /// `N` for [`Reduce::Mean`]. `[C]` logits are one sample.
    ///
    /// Fused and stable: the gradient with respect to the logits is `softmax(logits) -
    /// targets` (over `N` for `Mean`), and huge logits give a finite loss. The targets get a
    /// gradient too (`-log_softmax(logits)`), should they be computed.
    ///
    /// ```
    /// use tapegrad_autograd::ops::loss::Reduce;
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(tensor(&[1, 3], vec![1000.0, 0.0, -1000.0]));
    /// let onehot = tape.constant(tensor(&[1, 3], vec![0.0, 1.0, 0.0]));
    /// let loss = z.softmax_cross_entropy(onehot, Reduce::Mean);
    /// assert_eq!(loss.item(), 1000.0);
    /// ```
    ///
    /// # Panics
    /// If the logits are not `[N, C]` or `[C]`, or the targets' shape differs; see
    /// [`try_softmax_cross_entropy`](Self::try_softmax_cross_entropy).
    #[track_caller]
    pub fn softmax_cross_entropy(self, targets: Var<'t, T>, reduction: Reduce) -> Var<'t, T> {
        or_panic(self.try_softmax_cross_entropy(targets, reduction))
    }

    /// [`softmax_cross_entropy`](Self::softmax_cross_entropy), or an error for logits that are
    /// not `[N, C]` / `[C]` or targets of another shape.
    #[track_caller]
    pub fn try_softmax_cross_entropy(
        self,
        targets: Var<'t, T>,
        reduction: Reduce,
    ) -> Result<Var<'t, T>, OpError> {
        let op = SoftmaxCrossEntropyOp {
            reduce: reduction,
            rows: 0,
            lse: Vec::new(),
        };
        self.record2(targets, Loss::SoftmaxCrossEntropy, op)
    }

    /// Softmax cross-entropy of these logits `[N, C]` against integer class labels (one per
    /// sample, each in `0..C`): the mean (or sum) over samples of `-log softmax(logits_i)[y_i]`.
    /// PyTorch's `cross_entropy(logits, labels)`, Keras's
    /// `sparse_categorical_crossentropy(from_logits=True)`.
    ///
    /// The gradient with respect to the logits is `softmax(logits) - onehot(labels)` (over `N`
    /// for `Mean`). The labels are saved in the op; they are not a variable.
    ///
    /// ```
    /// use tapegrad_autograd::ops::loss::Reduce;
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(tensor(&[2, 2], vec![0.0, 0.0, 3.0, 1.0]));
    /// let loss = z.softmax_cross_entropy_with_labels(&[1, 0], Reduce::Sum);
    /// let g = tape.backward(loss);
    /// assert_eq!(g.get(z).unwrap()[[0, 1]], -0.5); // p - 1 for the right class
    /// ```
    ///
    /// # Panics
    /// If the logits are not `[N, C]` or `[C]`, there are not `N` labels, or a label is not
    /// below `C`; see
    /// [`try_softmax_cross_entropy_with_labels`](Self::try_softmax_cross_entropy_with_labels).
    #[track_caller]
    pub fn softmax_cross_entropy_with_labels(
        self,
        labels: &[usize],
        reduction: Reduce,
    ) -> Var<'t, T> {
        or_panic(self.try_softmax_cross_entropy_with_labels(labels, reduction))
    }

    /// [`softmax_cross_entropy_with_labels`](Self::softmax_cross_entropy_with_labels), or an
    /// error for logits that are not `[N, C]` / `[C]`, a label count other than `N`, or a
    /// label not below `C`.
    #[track_caller]
    pub fn try_softmax_cross_entropy_with_labels(
        self,
        labels: &[usize],
        reduction: Reduce,
    ) -> Result<Var<'t, T>, OpError> {
        let op = SoftmaxCrossEntropyLabelsOp {
            reduce: reduction,
            labels: labels.to_vec(),
            lse: Vec::new(),
        };
        self.record1(Loss::SoftmaxCrossEntropyLabels, op)
    }

    /// Binary cross-entropy of these logits against targets in `[0, 1]` of the same shape:
    /// `-(t ln sigmoid(z) + (1 - t) ln(1 - sigmoid(z)))` per element, summed, and for
    /// [`Reduce::Mean`] divided by the number of elements (PyTorch's
    /// `binary_cross_entropy_with_logits`, Keras's `binary_crossentropy(from_logits=True)`).
    ///
    /// Computed as `max(z, 0) - z t + ln(1 + exp(-|z|))`, finite for any finite logit; the
    /// gradient with respect to the logits is `sigmoid(z) - t`.
    ///
    /// ```
    /// use tapegrad_autograd::ops::loss::Reduce;
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f32>::new();
    /// let z = tape.var(tensor(&[2], vec![1000.0, -1000.0]));
    /// let t = tape.constant(tensor(&[2], vec![0.0, 1.0]));
    /// assert_eq!(z.bce_with_logits(t, Reduce::Mean).item(), 1000.0);
    /// ```
    ///
    /// # Panics
    /// If the shapes differ; see [`try_bce_with_logits`](Self::try_bce_with_logits).
    #[track_caller]
    pub fn bce_with_logits(self, targets: Var<'t, T>, reduction: Reduce) -> Var<'t, T> {
        or_panic(self.try_bce_with_logits(targets, reduction))
    }

    /// [`bce_with_logits`](Self::bce_with_logits), or an error if the shapes differ.
    #[track_caller]
    pub fn try_bce_with_logits(
        self,
        targets: Var<'t, T>,
        reduction: Reduce,
    ) -> Result<Var<'t, T>, OpError> {
        let op = BceWithLogitsOp { reduce: reduction };
        self.record2(targets, Loss::BceWithLogits, op)
    }

    /// Squared error between this prediction and a target of the same shape: the mean of
    /// `(p - t)^2` over all elements for [`Reduce::Mean`] (numpy's
    /// `np.mean((p - t) ** 2)`, Keras's `mse`), their sum for [`Reduce::Sum`].
    ///
    /// ```
    /// use tapegrad_autograd::ops::loss::Reduce;
    /// use tapegrad_autograd::{tensor, Tape};
    /// let tape = Tape::<f64>::new();
    /// let p = tape.var(tensor(&[2], vec![1.0, 3.0]));
    /// let t = tape.constant(tensor(&[2], vec![0.0, 1.0]));
    /// assert_eq!(p.mse(t, Reduce::Mean).item(), 2.5);
    /// assert_eq!(p.mse(t, Reduce::Sum).item(), 5.0);
    /// ```
    ///
    /// # Panics
    /// If the shapes differ; see [`try_mse`](Self::try_mse).
    #[track_caller]
    pub fn mse(self, target: Var<'t, T>, reduction: Reduce) -> Var<'t, T> {
        or_panic(self.try_mse(target, reduction))
    }

    /// [`mse`](Self::mse), or an error if the shapes differ.
    #[track_caller]
    pub fn try_mse(self, target: Var<'t, T>, reduction: Reduce) -> Result<Var<'t, T>, OpError> {
        self.record2(target, Loss::Mse, MseOp { reduce: reduction })
    }
}

/// Probability targets: a softmax of sample values along the last axis.
fn prob_targets(shape: &[usize], seed: u64) -> Tensor<f64> {
    let raw = sample_in(shape, seed, 0.0, 2.0, true);
    let c = *shape.last().expect("a class axis");
    let mut data = raw.iter().copied().collect::<Vec<f64>>();
    for row in data.chunks_mut(c) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.iter_mut().for_each(|v| *v = (*v - m).exp());
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    tensor(shape, data)
}

fn one_hot(classes: usize, labels: &[usize]) -> Tensor<f64> {
    let mut data = vec![0.0; labels.len() * classes];
    for (i, &y) in labels.iter().enumerate() {
        data[i * classes + y] = 1.0;
    }
    tensor(&[labels.len(), classes], data)
}

type LossFn = for<'t> fn(Var<'t, f64>, Var<'t, f64>, Reduce) -> Var<'t, f64>;

/// A case function applying a two-input loss with a fixed reduction.
fn binary(
    reduce: Reduce,
    f: LossFn,
) -> impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64> + Copy + 'static {
    move |v| f(v[0], v[1], reduce)
}

/// Gradcheck cases for the losses: `[4, 3]` logits and others, valid targets, both reductions.
pub(crate) fn gradcheck_cases(kind: Loss) -> Vec<Case> {
    let mut cases = Vec::new();
    for reduce in [Reduce::Mean, Reduce::Sum] {
        let r = format!("{reduce:?}");
        match kind {
            Loss::SoftmaxCrossEntropy => {
                let f = binary(reduce, |z, t, r| z.softmax_cross_entropy(t, r));
                cases.push(Case::new(
                    format!("softmax_cross_entropy [4, 3] probability targets {r}"),
                    vec![sample(&[4, 3], 1), prob_targets(&[4, 3], 2)],
                    f,
                ));
                cases.push(Case::new(
                    format!("softmax_cross_entropy [4, 3] one-hot targets {r}"),
                    vec![sample(&[4, 3], 3), one_hot(3, &[0, 2, 1, 2])],
                    f,
                ));
                cases.push(Case::new(
                    format!("softmax_cross_entropy [2, 5] large logits {r}"),
                    vec![
                        sample_in(&[2, 5], 4, 1.0, 6.0, true),
                        prob_targets(&[2, 5], 5),
                    ],
                    f,
                ));
                cases.push(Case::new(
                    format!("softmax_cross_entropy [4] one sample {r}"),
                    vec![sample(&[4], 6), prob_targets(&[4], 7)],
                    f,
                ));
            }
            Loss::SoftmaxCrossEntropyLabels => {
                for (shape, labels, seed) in [
                    (vec![4, 3], vec![0, 2, 1, 2], 11),
                    (vec![6, 5], vec![4, 0, 0, 3, 1, 2], 12),
                    (vec![3], vec![1], 13),
                ] {
                    let label = format!(
                        "softmax_cross_entropy_with_labels {shape:?} labels {labels:?} {r}"
                    );
                    cases.push(Case::new(label, vec![sample(&shape, seed)], move |v| {
                        v[0].softmax_cross_entropy_with_labels(&labels, reduce)
                    }));
                }
            }
            Loss::BceWithLogits => {
                let f = binary(reduce, |z, t, r| z.bce_with_logits(t, r));
                cases.push(Case::new(
                    format!("bce_with_logits [4, 3] soft targets {r}"),
                    vec![
                        sample_in(&[4, 3], 21, 0.2, 3.0, true),
                        sample_in(&[4, 3], 22, 0.1, 0.9, false),
                    ],
                    f,
                ));
                cases.push(Case::new(
                    format!("bce_with_logits [5] 0/1 targets {r}"),
                    vec![
                        sample(&[5], 23),
                        tensor(&[5], vec![0.0, 1.0, 1.0, 0.0, 1.0]),
                    ],
                    f,
                ));
            }
            Loss::Mse => {
                let f = binary(reduce, |p, t, r| p.mse(t, r));
                for (shape, seed) in [(vec![4, 3], 31), (vec![5], 32), (vec![2, 1], 33)] {
                    cases.push(Case::new(
                        format!("mse {shape:?} {r}"),
                        vec![sample(&shape, seed), sample(&shape, seed + 10)],
                        f,
                    ));
                }
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::Reduce;
    use crate::{tensor, Tape};

    fn softmax(row: &[f64]) -> Vec<f64> {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    #[test]
    fn cross_entropy_gradient_is_p_minus_onehot() {
        let z = vec![
            0.5, -1.0, 2.0, 0.1, 0.2, 0.3, -2.0, 1.5, 0.0, 3.0, 1.0, -1.0,
        ];
        let labels = [2usize, 0, 1, 0];
        let mut onehot = vec![0.0; 12];
        for (i, &y) in labels.iter().enumerate() {
            onehot[i * 3 + y] = 1.0;
        }
        let p: Vec<f64> = z.chunks(3).flat_map(softmax).collect();
        for (reduce, n) in [(Reduce::Mean, 4.0), (Reduce::Sum, 1.0)] {
            let tape = Tape::<f64>::new();
            let logits = tape.var(tensor(&[4, 3], z.clone()));
            let targets = tape.constant(tensor(&[4, 3], onehot.clone()));
            let a = logits.softmax_cross_entropy(targets, reduce);
            let b = logits.softmax_cross_entropy_with_labels(&labels, reduce);
            let expected: f64 = labels
                .iter()
                .enumerate()
                .map(|(i, &y)| -p[i * 3 + y].ln())
                .sum::<f64>()
                / n;
            assert!((a.item() - expected).abs() < 1e-12);
            assert!((b.item() - expected).abs() < 1e-12);
            for loss in [a, b] {
                let g = tape.backward(loss);
                let g = g.get(logits).unwrap();
                for (k, &gv) in g.iter().enumerate() {
                    assert!(
                        (gv - (p[k] - onehot[k]) / n).abs() < 1e-12,
                        "{reduce:?} {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn huge_logits_give_finite_losses_and_gradients() {
        let tape = Tape::<f32>::new();
        let z = tape.var(tensor(
            &[2, 3],
            vec![1000.0, -1000.0, 0.0, 1e30, 0.0, -1e30],
        ));
        let t = tape.constant(tensor(&[2, 3], vec![0.0, 1.0, 0.0, 0.5, 0.5, 0.0]));
        let loss = z.softmax_cross_entropy(t, Reduce::Sum);
        assert_eq!(loss.item(), 2000.0 + 0.5e30);
        let g = tape.backward(loss);
        assert!(g.get(z).unwrap().iter().all(|v| v.is_finite()));
        let labels = z.softmax_cross_entropy_with_labels(&[0, 0], Reduce::Mean);
        assert_eq!(labels.item(), 0.0);

        let z = tape.var(tensor(&[4], vec![1000.0, -1000.0, 1000.0, -1000.0]));
        let t = tape.constant(tensor(&[4], vec![1.0, 0.0, 0.0, 1.0]));
        let bce = z.bce_with_logits(t, Reduce::Mean);
        assert_eq!(bce.item(), 500.0); // two right (0), two wrong (1000 each), over 4
        let g = tape.backward(bce);
        assert_eq!(
            g.get(z).unwrap().as_slice().unwrap(),
            &[0.0, 0.0, 0.25, -0.25]
        );
    }

    #[test]
    fn bce_and_mse_match_their_formulas() {
        let tape = Tape::<f64>::new();
        let z = tape.var(tensor(&[2, 2], vec![0.3, -1.2, 2.0, 0.0]));
        let t = tape.var(tensor(&[2, 2], vec![1.0, 0.0, 0.25, 0.5]));
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let zs = [0.3, -1.2, 2.0, 0.0];
        let ts = [1.0, 0.0, 0.25, 0.5];
        let naive: f64 = zs
            .iter()
            .zip(&ts)
            .map(|(&z, &t)| -(t * sig(z).ln() + (1.0 - t) * (1.0 - sig(z)).ln()))
            .sum();
        let bce = z.bce_with_logits(t, Reduce::Sum);
        assert!((bce.item() - naive).abs() < 1e-12);
        let g = tape.backward(bce);
        let gz = g.get(z).unwrap();
        for k in 0..4 {
            assert!((gz.as_slice().unwrap()[k] - (sig(zs[k]) - ts[k])).abs() < 1e-12);
        }
        let mse = z.mse(t, Reduce::Mean);
        let expected: f64 = zs
            .iter()
            .zip(&ts)
            .map(|(z, t)| (z - t).powi(2))
            .sum::<f64>()
            / 4.0;
        assert!((mse.item() - expected).abs() < 1e-15);
        let g = tape.backward(mse);
        assert_eq!(g.get(t).unwrap()[[0, 0]], -2.0 * (0.3 - 1.0) / 4.0);
    }

    #[test]
    fn bad_targets_are_explained() {
        let tape = Tape::<f32>::new();
        let z = tape.var(tensor(&[4, 3], vec![0.0; 12]));
        let e = z
            .try_softmax_cross_entropy_with_labels(&[0, 1, 3, 0], Reduce::Mean)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("label 3 (sample 2)") && e.contains("0..3"),
            "{e}"
        );
        let e = z
            .try_softmax_cross_entropy_with_labels(&[0, 1], Reduce::Mean)
            .unwrap_err()
            .to_string();
        assert!(e.contains("got 2 labels for 4 samples"), "{e}");
        let t = tape.constant(tensor(&[4], vec![0.0; 4]));
        let e = z
            .try_softmax_cross_entropy(t, Reduce::Sum)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("with_labels") && e.contains("[4, 3], [4]"),
            "{e}"
        );
        let p = tape.var(tensor(&[4, 1], vec![0.0; 4]));
        let e = p.try_mse(t, Reduce::Mean).unwrap_err().to_string();
        assert!(e.starts_with("mse:") && e.contains("same shape"), "{e}");
        assert!(p.try_bce_with_logits(t, Reduce::Mean).is_err());
        let cube = tape.var(tensor(&[2, 2, 2], vec![0.0; 8]));
        let e = cube
            .try_softmax_cross_entropy_with_labels(&[0, 1], Reduce::Sum)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[N, C]"), "{e}");
    }
}
