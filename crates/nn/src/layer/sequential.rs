//! A stack of layers applied in order.

use std::fmt;

use tapegrad_autograd::random::SplitMix64;
use tapegrad_autograd::{Param, Real, Var};

use crate::Module;

/// Layers applied one after the other (Keras' `Sequential`, PyTorch's `nn.Sequential`).
///
/// Adding a layer prefixes its parameters' names with its position, PyTorch-style with a
/// `layer` stem: the weight of the first layer is `layer0.weight`. Saved files use these names.
///
/// ```
/// use tapegrad_nn::layer::{Linear, Relu, Sequential, Softmax};
/// use tapegrad_nn::Module;
///
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(784, 512, 0))
///     .add(Relu)
///     .add(Linear::new(512, 10, 1))
///     .add(Softmax);
/// let names: Vec<_> = model.named_shapes().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["layer0.weight", "layer0.bias", "layer2.weight", "layer2.bias"]);
/// assert_eq!(model.num_params(), 784 * 512 + 512 + 512 * 10 + 10);
/// println!("{model}"); // a summary table
/// ```
pub struct Sequential<T: Real = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Real> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Sequential<T> {
    /// An empty stack (the identity function).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer and returns the stack (builder style; Keras' `model.add`).
    #[allow(clippy::should_implement_trait)] // the name Keras users know
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a layer, naming its parameters `layer{i}.{name}`.
    pub fn push(&mut self, layer: impl Module<T> + 'static) {
        self.push_boxed(Box::new(layer));
    }

    /// Appends a boxed layer, naming its parameters `layer{i}.{name}`.
    pub fn push_boxed(&mut self, mut layer: Box<dyn Module<T>>) {
        let i = self.layers.len();
        for p in layer.params_mut() {
            let name = format!("layer{i}.{}", p.name());
            p.set_name(name);
        }
        self.layers.push(layer);
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// Layer `i`, for inspecting or changing (freezing) it.
    ///
    /// # Panics
    /// If there is no layer `i`.
    #[track_caller]
    pub fn layer_mut(&mut self, i: usize) -> &mut dyn Module<T> {
        let n = self.layers.len();
        match self.layers.get_mut(i) {
            Some(l) => l.as_mut(),
            None => panic!("Sequential::layer_mut: there is no layer {i}; the model has {n}"),
        }
    }

    /// A table of the layers with their parameters and counts (what `Display` prints).
    pub fn summary(&self) -> String {
        self.to_string()
    }
}

impl<T: Real> Module<T> for Sequential<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }
    fn unfreeze(&mut self) {
        // Each layer decides: batch normalisation keeps its running averages frozen.
        for l in &mut self.layers {
            l.unfreeze();
        }
    }
    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }
    fn random_states(&self) -> Vec<u64> {
        self.layers.iter().flat_map(|l| l.random_states()).collect()
    }
    fn random_streams_mut(&mut self) -> Vec<&mut SplitMix64> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.random_streams_mut())
            .collect()
    }
    fn describe(&self) -> String {
        format!("Sequential({} layers)", self.layers.len())
    }
}

impl<T: Real> fmt::Display for Sequential<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:<28} {:<30} {:>12}",
            "layer", "type", "parameters", "count"
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            let params: Vec<String> = l
                .params()
                .iter()
                .map(|p| {
                    let short = p.name().rsplit('.').next().unwrap_or(p.name());
                    let frozen = if p.is_trainable() { "" } else { " (frozen)" };
                    format!("{short} {:?}{frozen}", p.shape())
                })
                .collect();
            writeln!(
                f,
                "{:<8} {:<28} {:<30} {:>12}",
                format!("layer{i}"),
                l.describe(),
                params.join(", "),
                group_thousands(l.num_params())
            )?;
        }
        write!(
            f,
            "total {} parameters ({} trainable)",
            group_thousands(self.num_params()),
            group_thousands(self.num_trainable_params())
        )
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn group_thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(407050), "407,050");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }
}
