//! Gradients as variables: backward recorded on the tape, so that it can be differentiated
//! again (second derivatives, Hessian-vector products, gradient penalties, forward mode).
//!
//! [`Tape::backward`] walks the tape with tensors and returns plain values: the fast path of
//! training. [`Tape::grad`] walks it with each op's [`Op::backward_vars`](crate::Op::backward_vars),
//! whose every step is an op recorded on the same tape; the gradients it returns are
//! variables like any other, and `grad` of a `grad` is a second derivative.

use smallvec::SmallVec;

use crate::op::VarContext;
use crate::tape::Inputs;
use crate::{BackwardError, Real, Tape, Var};

impl<T: Real> Tape<T> {
    /// The gradient of `output` (one element, such as a loss) with respect to each of `wrt`,
    /// as variables recorded on this tape: they can be used in further computation and
    /// differentiated again, to any order.
    ///
    /// Each gradient has its variable's shape; it is zero where `output` does not depend on
    /// the variable (or the variable is a constant).
    ///
    /// ```
    /// use tapegrad_autograd::{scalar, Tape};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(scalar(3.0));
    /// let y = x * x * x; // y = x^3
    /// let dy = tape.grad(y, &[x])[0]; // 3x^2 = 27
    /// let d2y = tape.grad(dy, &[x])[0]; // 6x = 18
    /// let d3y = tape.grad(d2y, &[x])[0]; // 6
    /// assert_eq!((dy.item(), d2y.item(), d3y.item()), (27.0, 18.0, 6.0));
    /// ```
    ///
    /// Recorded inside [`no_grad`](Tape::no_grad), the gradients are plain values that cannot
    /// be differentiated further.
    ///
    /// # Panics
    /// If `output` has more than one element (see [`grad_with`](Tape::grad_with)), or an op on
    /// the way has no [`backward_vars`](crate::Op::backward_vars); [`try_grad`](Tape::try_grad)
    /// returns these as errors.
    #[track_caller]
    pub fn grad<'t>(&'t self, output: Var<'t, T>, wrt: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        match self.try_grad(output, wrt) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`grad`](Tape::grad), returning an error instead of panicking.
    #[track_caller]
    pub fn try_grad<'t>(
        &'t self,
        output: Var<'t, T>,
        wrt: &[Var<'t, T>],
    ) -> Result<Vec<Var<'t, T>>, BackwardError> {
        self.check_owns(output);
        let shape = output.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(BackwardError::NotScalar { shape });
        }
        let seed = self.constant(crate::full(&shape, T::one()));
        self.try_grad_with(output, seed, wrt)
    }

    /// The vector-Jacobian product `seed^T J` of `output` with respect to each of `wrt`, as
    /// variables: [`grad`](Tape::grad) for an output of any shape. `seed` has `output`'s shape
    /// and may itself be a variable that the result is differentiated by (forward mode is
    /// built that way, see [`jvp`](crate::functional::jvp)).
    ///
    /// # Panics
    /// As [`grad`](Tape::grad), and if `seed`'s shape differs from `output`'s.
    #[track_caller]
    pub fn grad_with<'t>(
        &'t self,
        output: Var<'t, T>,
        seed: Var<'t, T>,
        wrt: &[Var<'t, T>],
    ) -> Vec<Var<'t, T>> {
        match self.try_grad_with(output, seed, wrt) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`grad_with`](Tape::grad_with), returning an error instead of panicking.
    #[track_caller]
    pub fn try_grad_with<'t>(
        &'t self,
        output: Var<'t, T>,
        seed: Var<'t, T>,
        wrt: &[Var<'t, T>],
    ) -> Result<Vec<Var<'t, T>>, BackwardError> {
        self.check_owns(output);
        self.check_owns(seed);
        for &w in wrt {
            self.check_owns(w);
        }
        let shape = output.shape();
        if seed.shape() != shape {
            return Err(BackwardError::SeedShape {
                seed: seed.shape(),
                output: shape,
            });
        }
        let root = output.index as usize;
        let lowest = wrt.iter().map(|w| w.index as usize).min().unwrap_or(root);
        let mut grads: Vec<Option<Var<'t, T>>> = vec![None; root + 1];
        if output.requires_grad() {
            grads[root] = Some(seed);
        }
        for i in (lowest..=root).rev() {
            let Some(grad) = grads[i] else { continue };
            let Some((inputs, needs)) = self.differentiable_inputs(i) else {
                continue;
            };
            let input_vars: SmallVec<[Var<'t, T>; 4]> =
                inputs.iter().map(|&j| Var::new(self, j)).collect();
            let ctx = VarContext {
                inputs: &input_vars,
                output: Var::new(self, i as u32),
                grad_output: grad,
                needs_grad: &needs,
            };
            let input_grads = self
                .with_op_taken(i, |op| op.backward_vars(&ctx))
                .ok_or_else(|| BackwardError::NotTwiceDifferentiable {
                    op: self.nodes.borrow()[i].kind.name().to_string(),
                })?;
            assert_eq!(
                input_grads.len(),
                inputs.len(),
                "{}: backward_vars returned {} gradients for {} inputs",
                self.nodes.borrow()[i].kind.name(),
                input_grads.len(),
                inputs.len()
            );
            for (k, g) in input_grads.into_iter().enumerate() {
                let (Some(g), true) = (g, needs[k]) else {
                    continue;
                };
                let j = inputs[k] as usize;
                let g = self.summed_to_input(i, k, g, &input_vars[k].shape());
                grads[j] = Some(match grads[j] {
                    Some(acc) => acc + g,
                    None => g,
                });
            }
        }
        Ok(wrt
            .iter()
            .map(|&w| {
                let i = w.index as usize;
                grads
                    .get(i)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| self.constant(crate::zeros(&w.shape())))
            })
            .collect())
    }

    /// The inputs of node `i` and which of them need a gradient, if it is an op output that
    /// gradients flow through.
    fn differentiable_inputs(&self, i: usize) -> Option<(Inputs, SmallVec<[bool; 4]>)> {
        let nodes = self.nodes.borrow();
        let node = &nodes[i];
        node.op.as_ref()?;
        let needs = node
            .inputs
            .iter()
            .map(|&j| nodes[j as usize].requires_grad)
            .collect();
        Some((node.inputs.clone(), needs))
    }

    /// Runs `f` on node `i`'s op with the op taken out of the tape, so that `f` can record
    /// new nodes; the op is put back afterwards, even if `f` panics.
    fn with_op_taken<R>(&self, i: usize, f: impl FnOnce(&dyn crate::Op<T>) -> R) -> R {
        struct PutBack<'a, T: Real> {
            tape: &'a Tape<T>,
            i: usize,
            op: Option<Box<dyn crate::Op<T>>>,
        }
        impl<T: Real> Drop for PutBack<'_, T> {
            fn drop(&mut self) {
                self.tape.nodes.borrow_mut()[self.i].op = self.op.take();
            }
        }
        let op = self.nodes.borrow_mut()[i].op.take();
        let guard = PutBack { tape: self, i, op };
        f(guard.op.as_deref().expect("a node with an op"))
    }

    /// A gradient of the output's broadcast shape summed back to input `k`'s shape.
    #[track_caller]
    fn summed_to_input<'t>(
        &'t self,
        node: usize,
        k: usize,
        g: Var<'t, T>,
        target: &[usize],
    ) -> Var<'t, T> {
        let shape = g.shape();
        if shape == target {
            return g;
        }
        g.try_sum_to(target).unwrap_or_else(|_| {
            panic!(
                "{}: backward_vars returned a gradient of shape {shape:?} for input {k} of \
                 shape {target:?}; a gradient must have the input's shape or a shape that \
                 broadcasts from it",
                self.nodes.borrow()[node].kind.name()
            )
        })
    }
}
