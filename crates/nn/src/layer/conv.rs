//! Convolution and pooling layers on NCHW images.

use tapegrad_autograd::ops::conv::Conv2dOptions;
use tapegrad_autograd::random::{RandomStream, SplitMix64};
use tapegrad_autograd::{Param, Real, Tensor, Var};

use crate::init::Init;
use crate::Module;

/// A 2-d convolution over `[N, C, H, W]` images: weight `[out_channels, in_channels, k, k]`
/// (PyTorch's layout) and a bias per output channel.
///
/// ```
/// use tapegrad_nn::autograd::{zeros, Tape};
/// use tapegrad_nn::layer::{Conv2d, MaxPool2d};
/// use tapegrad_nn::Module;
///
/// let conv = Conv2d::<f32>::new(1, 8, 3, 0).padding(1); // "same" 3x3
/// let pool = MaxPool2d::new(2);
/// let tape = Tape::new();
/// let x = tape.constant(zeros(&[2, 1, 28, 28]));
/// assert_eq!(pool.forward(conv.forward(x)).shape(), vec![2, 8, 14, 14]);
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d<T: Real = f32> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    options: Conv2dOptions,
}

impl<T: Real> Conv2d<T> {
    /// `out_channels` square `kernel x kernel` filters over `in_channels` channels, stride 1,
    /// no padding; Glorot-uniform weight (Keras' default) seeded with `seed`, zero bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize, seed: u64) -> Self {
        Self::with_init(
            in_channels,
            out_channels,
            (kernel, kernel),
            Init::GlorotUniform,
            Some(Init::Zeros),
            &mut SplitMix64::new(seed),
        )
    }

    /// A convolution with a `(rows, columns)` kernel and the given initialisers (`bias: None`
    /// for no bias), drawing the weight then the bias from `rng`.
    pub fn with_init(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        weight: Init,
        bias: Option<Init>,
        rng: &mut impl RandomStream,
    ) -> Self {
        let shape = [out_channels, in_channels, kernel.0, kernel.1];
        let w = weight.tensor(&shape, rng);
        let (fan_in, fan_out) = crate::init::fans(&shape);
        let b = bias.map(|init| {
            Param::new(
                "bias",
                init.tensor_with_fans(&[out_channels], fan_in, fan_out, rng),
            )
        });
        Conv2d {
            weight: Param::new("weight", w),
            bias: b,
            options: Conv2dOptions::default(),
        }
    }

    /// A convolution with the given weight `[out_channels, in_channels, kh, kw]` and optional
    /// bias `[out_channels]`, stride 1 and no padding (set them with
    /// [`stride`](Conv2d::stride) and [`padding`](Conv2d::padding)).
    ///
    /// ```
    /// use tapegrad_nn::autograd::{tensor, zeros, Tape};
    /// use tapegrad_nn::layer::Conv2d;
    /// use tapegrad_nn::Module;
    ///
    /// // One 2x2 filter summing its window, bias 0.5.
    /// let conv = Conv2d::from_tensors(
    ///     tensor(&[1, 1, 2, 2], vec![1.0f32; 4]),
    ///     Some(tensor(&[1], vec![0.5])),
    /// );
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 1, 2, 3], vec![1., 2., 3., 4., 5., 6.]));
    /// assert_eq!(conv.forward(x).value().as_slice().unwrap(), &[12.5, 16.5]);
    /// ```
    ///
    /// # Panics
    /// If the weight is not 4-D or the bias does not have one element per output channel.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        assert_eq!(
            weight.ndim(),
            4,
            "Conv2d::from_tensors: the weight must be [out_channels, in_channels, kh, kw], got \
             shape {:?}",
            weight.shape()
        );
        let out = weight.shape()[0];
        if let Some(b) = &bias {
            assert_eq!(
                b.shape(),
                &[out],
                "Conv2d::from_tensors: the bias must be [{out}] for a weight of shape {:?}, got \
                 {:?}",
                weight.shape(),
                b.shape()
            );
        }
        Conv2d {
            weight: Param::new("weight", weight),
            bias: bias.map(|b| Param::new("bias", b)),
            options: Conv2dOptions::default(),
        }
    }

    /// The same layer moving the kernel `s` pixels at a time.
    pub fn stride(mut self, s: usize) -> Self {
        self.options = self.options.stride(s);
        self
    }

    /// The same layer with `p` zeros added on every side (`k / 2` keeps the size).
    pub fn padding(mut self, p: usize) -> Self {
        self.options = self.options.padding(p);
        self
    }

    /// Stride and padding.
    pub fn options(&self) -> Conv2dOptions {
        self.options
    }

    /// The weight `[out, in, kh, kw]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

impl<T: Real> Module<T> for Conv2d<T> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        let w = tape.param(&self.weight);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        let in_c = self.weight.shape()[1];
        match x.try_conv2d(w, b, self.options) {
            Ok(y) => y,
            Err(e) => panic!(
                "{}: expected images [batch, {in_c}, height, width]; {e}",
                super::owner_name(self.weight.name(), &self.describe())
            ),
        }
    }
    fn params(&self) -> Vec<&Param<T>> {
        let mut v = vec![&self.weight];
        v.extend(self.bias.as_ref());
        v
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        let mut v = vec![&mut self.weight];
        v.extend(self.bias.as_mut());
        v
    }
    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "Conv2d({} -> {}, {}x{}, stride {}, padding {})",
            s[1], s[0], s[2], s[3], self.options.stride.0, self.options.padding.0
        )
    }
}

macro_rules! pool_layer {
    ($(#[$meta:meta])* $name:ident, $method:ident, $label:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            /// Window size (rows, columns).
            pub kernel: (usize, usize),
            /// Step between windows (rows, columns).
            pub stride: (usize, usize),
        }

        impl $name {
            /// Square `k x k` windows with stride `k` (non-overlapping, Keras' default).
            pub fn new(k: usize) -> Self {
                $name {
                    kernel: (k, k),
                    stride: (k, k),
                }
            }

            /// The same windows moved by `s`.
            pub fn stride(mut self, s: usize) -> Self {
                self.stride = (s, s);
                self
            }
        }

        impl<T: Real> Module<T> for $name {
            #[track_caller]
            fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
                match x.$method(self.kernel, self.stride) {
                    Ok(y) => y,
                    Err(e) => panic!(
                        "{}: expected images [batch, channels, height, width] at least {}x{}; {e}",
                        Module::<T>::describe(self),
                        self.kernel.0,
                        self.kernel.1
                    ),
                }
            }
            fn describe(&self) -> String {
                format!(
                    "{}({}x{}, stride {})",
                    $label, self.kernel.0, self.kernel.1, self.stride.0
                )
            }
        }
    };
}

pool_layer!(
    /// Max pooling over windows of `[N, C, H, W]` images.
    MaxPool2d,
    try_max_pool2d,
    "MaxPool2d"
);
pool_layer!(
    /// Average pooling over windows of `[N, C, H, W]` images.
    AvgPool2d,
    try_avg_pool2d,
    "AvgPool2d"
);
