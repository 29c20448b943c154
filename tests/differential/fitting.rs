//! The generator's ops that need operands of fitting shapes or values: broadcasting
//! partners, domains, axes, matrix products, slices, joins, images and losses.

use tapegrad::autograd::{Conv2dOptions, Reduce};

use super::Gen;
use crate::program::{Binary, OpSpec, ReduceKind, ScalarKind, UnaryKind};
use crate::values::{apart, partner_shape, unique_extremes, unique_window_maxima, Fill};

const SCALARS: [f64; 9] = [-2.5, -1.0, -0.5, 0.3, 0.5, 1.0, 1.7, 2.0, 3.0];
const EXPONENTS: [f64; 10] = [2.0, 3.0, 0.5, -1.0, 1.0, 1.5, -0.5, 2.5, 0.0, -2.0];

impl Gen<'_, '_> {
    pub(super) fn reduction(&mut self) -> Reduce {
        self.rng.pick(&[Reduce::Mean, Reduce::Sum])
    }

    /// A random shape of `n` elements, of rank 0 to 4.
    pub(super) fn factor(&mut self, n: usize) -> Vec<usize> {
        let rank = self.rng.range(if n == 1 { 0 } else { 1 }, 4);
        let mut shape = vec![1; rank];
        let mut rest = n;
        let mut p = 2;
        while rest > 1 {
            if rest.is_multiple_of(p) {
                let slot = self.rng.below(rank);
                shape[slot] *= p;
                rest /= p;
            } else {
                p += 1;
            }
        }
        shape
    }

    pub(super) fn binary(&mut self, k: Binary) -> Option<usize> {
        match k {
            Binary::Matmul => return self.matmul(),
            Binary::Dot | Binary::Outer => {
                let a = self.ranked_operand(1, 1);
                let n = self.shape(a)[0];
                let b = if self.rng.chance(0.25) {
                    a
                } else if k == Binary::Dot {
                    self.operand(|s| s == [n], |_| vec![n])
                } else {
                    self.ranked_operand(1, 1)
                };
                return self.push(OpSpec::Binary(k), &[a, b]);
            }
            _ => {}
        }
        let mut a = self.any_operand();
        let tie_prone = matches!(k, Binary::Maximum | Binary::Minimum) && self.exact[a];
        let mut b = self.partner(a, tie_prone.then_some(Fill::Grid));
        match k {
            Binary::Div => b = self.nonzero(b)?,
            Binary::Pow => {
                a = self.positive(a, 0.1)?;
                if self.value(b).iter().any(|x| x.abs() > 3.0) {
                    b = self.push(OpSpec::Unary(UnaryKind::Tanh), &[b])?;
                }
            }
            Binary::Maximum | Binary::Minimum => {
                let exact = self.exact[a] && self.exact[b];
                (exact || apart(&self.value(a), &self.value(b))).then_some(())?;
            }
            _ => {}
        }
        if self.rng.chance(0.3) && k != Binary::Pow {
            std::mem::swap(&mut a, &mut b);
        }
        self.push(OpSpec::Binary(k), &[a, b])
    }

    pub(super) fn scalar(&mut self, k: ScalarKind) -> Option<usize> {
        let mut a = self.any_operand();
        let c = match k {
            ScalarKind::Pow => {
                let c = self.rng.pick(&EXPONENTS);
                if c.fract() != 0.0 {
                    a = self.positive(a, 0.1)?;
                } else if c <= 0.0 {
                    a = self.nonzero(a)?;
                }
                c
            }
            ScalarKind::RDiv => {
                a = self.nonzero(a)?;
                self.rng.pick(&SCALARS)
            }
            _ => self.rng.pick(&SCALARS),
        };
        self.push(OpSpec::Scalar(k, c), &[a])
    }

    pub(super) fn unary(&mut self, k: UnaryKind) -> Option<usize> {
        let a = match k {
            UnaryKind::T => self.ranked_operand(0, 2),
            UnaryKind::Flatten => self.ranked_operand(1, 4),
            _ => self.any_operand(),
        };
        let a = match k {
            UnaryKind::Ln | UnaryKind::Sqrt => self.positive(a, 0.05)?,
            UnaryKind::Exp if self.value(a).iter().any(|&x| x > 60.0) => return None,
            UnaryKind::Abs | UnaryKind::Relu => {
                self.kink_ok(a, &[0.0]).then_some(())?;
                a
            }
            _ => a,
        };
        self.push(OpSpec::Unary(k), &[a])
    }

    /// A random set of axes of an `n`-dimensional value (possibly empty), in random order
    /// and forms.
    pub(super) fn axes(&mut self, n: usize) -> (Vec<isize>, Vec<usize>) {
        let mut resolved: Vec<usize> = (0..n).filter(|_| self.rng.chance(0.5)).collect();
        if resolved.is_empty() && n > 0 && self.rng.chance(0.8) {
            resolved.push(self.rng.below(n));
        }
        let order = self.rng.permutation(resolved.len());
        let written = order
            .iter()
            .map(|&i| self.rng.axis_form(resolved[i], n))
            .collect();
        resolved.sort_unstable();
        (written, resolved)
    }

    pub(super) fn reduce(&mut self, kind: ReduceKind, with_axes: bool) -> Option<usize> {
        let a = self.any_operand();
        let n = self.shape(a).len();
        let (axes, resolved) = if with_axes {
            let (w, r) = self.axes(n);
            (Some(w), r)
        } else {
            (None, (0..n).collect())
        };
        if matches!(kind, ReduceKind::Max | ReduceKind::Min) && !self.exact[a] {
            let max = kind == ReduceKind::Max;
            unique_extremes(&self.value(a), &resolved, max).then_some(())?;
        }
        let keepdims = with_axes && self.rng.chance(0.5);
        self.push(
            OpSpec::Reduce {
                kind,
                axes,
                keepdims,
            },
            &[a],
        )
    }

    pub(super) fn matmul(&mut self) -> Option<usize> {
        let a = self.ranked_operand(1, 4);
        let sa = self.shape(a);
        let k = *sa.last().expect("rank at least 1");
        let n = self.rng.range(1, 4);
        let sb: Vec<usize> = if sa.len() == 1 {
            match self.rng.below(3) {
                0 => vec![k],
                1 => vec![k, n],
                _ => vec![self.rng.range(1, 3), k, n],
            }
        } else if self.rng.chance(0.25) {
            vec![k]
        } else {
            let batch = partner_shape(self.rng, &sa[..sa.len() - 2], false);
            [batch, vec![k, n]].concat()
        };
        let b = if sb.len() == 2 && self.rng.chance(0.3) {
            // A transposed operand, which the product reads in place.
            let leaf = self.new_leaf(&[sb[1], sb[0]], None);
            self.push(OpSpec::Unary(UnaryKind::T), &[leaf])?
        } else {
            self.operand(|s| s == sb.as_slice(), |_| sb.clone())
        };
        self.push(OpSpec::Binary(Binary::Matmul), &[a, b])
    }

    pub(super) fn slice(&mut self) -> Option<usize> {
        let a = self.ranked_operand(1, 4);
        let shape = self.shape(a);
        let axis = self.rng.below(shape.len());
        let len = shape[axis];
        let start = self.rng.below(len);
        let end = self.rng.range(start + 1, len);
        let axis_form = self.rng.axis_form(axis, shape.len());
        let op = match self.rng.below(3) {
            0 => OpSpec::Narrow {
                axis: axis_form,
                start,
                len: end - start,
            },
            1 => {
                let inclusive = self.rng.chance(0.3);
                OpSpec::SliceAxis {
                    axis: axis_form,
                    start: (start > 0 || self.rng.chance(0.5)).then_some(start),
                    end: (end < len || self.rng.chance(0.5)).then_some(if inclusive {
                        end - 1
                    } else {
                        end
                    }),
                    inclusive,
                }
            }
            _ => {
                let k = self.rng.range(1, shape.len());
                let ranges = shape[..k]
                    .iter()
                    .map(|&d| {
                        let s = self.rng.below(d);
                        s..self.rng.range(s + 1, d)
                    })
                    .collect();
                OpSpec::Slice(ranges)
            }
        };
        self.push(op, &[a])
    }

    /// Concatenation or stacking of two or three parts, the first value among them again at
    /// times (its gradient is then the sum of its parts').
    pub(super) fn join(&mut self, stack: bool) -> Option<usize> {
        let a = self.ranked_operand(if stack { 0 } else { 1 }, 4);
        let shape = self.shape(a);
        let rank = shape.len();
        let axis = self.rng.below(if stack { rank + 1 } else { rank });
        let mut parts = vec![a];
        for _ in 0..self.rng.range(1, 2) {
            let part = if self.rng.chance(0.3) {
                a
            } else if stack {
                self.operand(|s| s == shape.as_slice(), |_| shape.clone())
            } else {
                let mut s = shape.clone();
                s[axis] = self.rng.range(1, 3);
                self.new_leaf(&s, None)
            };
            parts.push(part);
        }
        let axis = self
            .rng
            .axis_form(axis, if stack { rank + 1 } else { rank });
        let op = if stack {
            OpSpec::Stack(axis)
        } else {
            OpSpec::Concat(axis)
        };
        self.push(op, &parts)
    }

    pub(super) fn image(&mut self) -> usize {
        self.operand(
            |s| s.len() == 4 && s[2] >= 2 && s[3] >= 2 && s.iter().product::<usize>() <= 200,
            |r| vec![r.range(1, 2), r.range(1, 3), r.range(2, 6), r.range(2, 6)],
        )
    }

    pub(super) fn conv2d(&mut self) -> Option<usize> {
        let x = self.image();
        let s = self.shape(x);
        let padding = (self.rng.range(0, 2), self.rng.range(0, 2));
        let kh = self.rng.range(1, 3.min(s[2] + 2 * padding.0));
        let kw = self.rng.range(1, 3.min(s[3] + 2 * padding.1));
        let out = self.rng.range(1, 3);
        let w = self.new_leaf(&[out, s[1], kh, kw], None);
        let mut args = vec![x, w];
        if self.rng.chance(0.5) {
            args.push(self.new_leaf(&[out], None));
        }
        let options = Conv2dOptions {
            stride: (self.rng.range(1, 2), self.rng.range(1, 2)),
            padding,
        };
        self.push(OpSpec::Conv2d(options), &args)
    }

    /// The input gradient of a convolution whose output is an image of the program: the
    /// convolution's input shape is one its geometry maps to that image's size.
    pub(super) fn conv2d_input_grad(&mut self) -> Option<usize> {
        let g = self.image();
        let s = self.shape(g);
        let stride = (self.rng.range(1, 2), self.rng.range(1, 2));
        let (kh, kw) = (self.rng.range(1, 3), self.rng.range(1, 3));
        let mut size = |out: usize, k: usize, stride: usize| {
            let padding = self.rng.range(0, 1).min(k - 1);
            let unused = self.rng.range(0, stride - 1);
            ((out - 1) * stride + k + unused - 2 * padding, padding)
        };
        let (h, ph) = size(s[2], kh, stride.0);
        let (w, pw) = size(s[3], kw, stride.1);
        let channels = self.rng.range(1, 2);
        let weight = self.new_leaf(&[s[1], channels, kh, kw], None);
        let options = Conv2dOptions {
            stride,
            padding: (ph, pw),
        };
        let input = [s[0], channels, h, w];
        self.push(OpSpec::Conv2dInputGrad(options, input), &[g, weight])
    }

    /// The weight gradient of a convolution of an image of the program.
    pub(super) fn conv2d_weight_grad(&mut self) -> Option<usize> {
        let x = self.image();
        let s = self.shape(x);
        let padding = (self.rng.range(0, 1), self.rng.range(0, 1));
        let kh = self.rng.range(1, 3.min(s[2] + 2 * padding.0));
        let kw = self.rng.range(1, 3.min(s[3] + 2 * padding.1));
        let stride = (self.rng.range(1, 2), self.rng.range(1, 2));
        let out = self.rng.range(1, 2);
        let size = |n: usize, p: usize, k: usize, s: usize| (n + 2 * p - k) / s + 1;
        let grad_shape = [
            s[0],
            out,
            size(s[2], padding.0, kh, stride.0),
            size(s[3], padding.1, kw, stride.1),
        ];
        let grad = self.new_leaf(&grad_shape, None);
        let options = Conv2dOptions { stride, padding };
        let weight = [out, s[1], kh, kw];
        self.push(OpSpec::Conv2dWeightGrad(options, weight), &[x, grad])
    }

    pub(super) fn pool(&mut self, max: bool) -> Option<usize> {
        let x = self.image();
        let s = self.shape(x);
        let kernel = (
            self.rng.range(1, 3.min(s[2])),
            self.rng.range(1, 3.min(s[3])),
        );
        let stride = (self.rng.range(1, 3), self.rng.range(1, 3));
        if max {
            (self.exact[x] || unique_window_maxima(&self.value(x), kernel, stride)).then_some(())?;
            self.push(OpSpec::MaxPool2d(kernel, stride), &[x])
        } else {
            self.push(OpSpec::AvgPool2d(kernel, stride), &[x])
        }
    }

    pub(super) fn cross_entropy(&mut self, labels: bool) -> Option<usize> {
        let z = self.ranked_operand(1, 2);
        let shape = self.shape(z);
        let classes = *shape.last().expect("rank at least 1");
        let r = self.reduction();
        if labels {
            let n = if shape.len() == 2 { shape[0] } else { 1 };
            let y = (0..n).map(|_| self.rng.below(classes)).collect();
            return self.push(OpSpec::SoftmaxCrossEntropyLabels(y, r), &[z]);
        }
        let t = if self.rng.chance(0.3) {
            // Computed targets, which get a gradient too.
            let u = self.operand(|s| s == shape.as_slice(), |_| shape.clone());
            self.push(OpSpec::Softmax(-1), &[u])?
        } else {
            self.new_leaf(&shape, Some(Fill::Distribution))
        };
        self.push(OpSpec::SoftmaxCrossEntropy(r), &[z, t])
    }
}
