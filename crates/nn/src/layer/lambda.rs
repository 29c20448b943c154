//! A layer made from a closure.

use std::marker::PhantomData;

use tapegrad_autograd::{Real, Var};

use crate::Module;

/// A parameter-free layer that applies a function, for one-off steps inside a
/// [`Sequential`](crate::layer::Sequential).
///
/// ```
/// use tapegrad_nn::autograd::{tensor, Tape};
/// use tapegrad_nn::{layer::Lambda, Module};
/// let double = Lambda::new("double", |x| x * 2.0f32);
/// let tape = Tape::new();
/// let y = double.forward(tape.constant(tensor(&[2], vec![1.0f32, 2.0])));
/// assert_eq!(y.value().as_slice().unwrap(), &[2.0, 4.0]);
/// ```
pub struct Lambda<T, F> {
    name: String,
    f: F,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Real, F> Lambda<T, F>
where
    F: for<'t> Fn(Var<'t, T>) -> Var<'t, T> + Send + Sync,
{
    /// A layer named `name` computing `f(x)`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Lambda {
            name: name.into(),
            f,
            _t: PhantomData,
        }
    }
}

impl<T: Real, F> Module<T> for Lambda<T, F>
where
    F: for<'t> Fn(Var<'t, T>) -> Var<'t, T> + Send + Sync,
{
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        (self.f)(x)
    }
    fn describe(&self) -> String {
        format!("Lambda({})", self.name)
    }
}
