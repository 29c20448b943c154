//! Saving and loading weights as safetensors files, with PyTorch-readable names.
//!
//! A file written by [`save_weights`] holds one tensor per parameter under the parameter's
//! name (`layer0.weight`, `layer0.bias`, ...), in the model's element type (`F32` or `F64`),
//! row-major, little-endian: Python reads it with `safetensors.torch.load_file`. (A
//! [`Linear`](crate::layer::Linear) weight is stored `[in, out]`; PyTorch's `nn.Linear` keeps
//! `[out, in]`, so transpose it there.)
//!
//! Files are written atomically: to a temporary file in the same directory, flushed to disk,
//! read back and checked, then renamed over the target. A crash mid-save leaves the old file
//! (or none), never a torn one.
//!
//! Loaded files are verified, not trusted. Every file written here carries, in its
//! `__metadata__`, the SHA-256 of each tensor's data bytes (`tapegrad.sha256.<name>`) and of
//! the rest of its header (`tapegrad.header_sha256`); other readers ignore these strings.
//! Loading recomputes them, and a file whose bytes changed since it was written is a
//! [`WeightsError::Damaged`] naming the file and the tensor, never a model with wrong weights.
//! A file without digests (written by PyTorch or the `safetensors` crate) loads with every
//! tensor's name, element type and shape checked against the model. Whatever fails, the model
//! is left unchanged.
//!
//! ```
//! use tapegrad_nn::io::{load_weights, save_weights};
//! use tapegrad_nn::layer::{Linear, Sequential};
//!
//! let dir = std::env::temp_dir().join(format!("tapegrad-doc-io-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.safetensors");
//! let model = Sequential::<f32>::new().add(Linear::new(4, 3, 0));
//! save_weights(&model, &path).unwrap();
//!
//! let mut fresh = Sequential::<f32>::new().add(Linear::new(4, 3, 99));
//! load_weights(&mut fresh, &path).unwrap();
//!
//! // A model of another shape is refused with a message that says what differs.
//! let mut other = Sequential::<f32>::new().add(Linear::new(4, 5, 0));
//! let err = load_weights(&mut other, &path).unwrap_err();
//! assert!(err.to_string().contains("'layer0.weight' has shape [4, 3] in the file but [4, 5]"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use tapegrad_autograd::{Real, Tensor};

use crate::digest;
use crate::error::{ShapeMismatch, WeightsError};
use crate::Module;

/// Saves every parameter of `module` to a safetensors file at `path`, atomically.
pub fn save_weights<T: Real, M: Module<T> + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let tensors = module.state_dict();
    check_unique(&tensors)?;
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    write_tensors(path.as_ref(), &tensors, metadata)
}

/// Loads a file written by [`save_weights`] (or by PyTorch's `safetensors.torch.save_file`
/// with matching names and shapes) into `module`.
///
/// The file's digests are checked first (a damaged file is [`WeightsError::Damaged`]). Every
/// parameter must be in the file with its shape and the file must hold nothing else;
/// otherwise nothing is changed and the error lists every difference. `F32` and `F64` tensors
/// load into either element type (converted, as PyTorch's `load_state_dict` does); other
/// element types are refused.
pub fn load_weights<T: Real, M: Module<T> + ?Sized>(
    module: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let (tensors, _) = read_tensors::<T>(path)?;
    assign(module, path, tensors, true).map(|_| ())
}

/// What [`load_weights_partial`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialLoad {
    /// Parameters loaded from the file.
    pub loaded: Vec<String>,
    /// Parameters the file lacks (left as they were).
    pub missing: Vec<String>,
    /// File tensors not used (no parameter of that name, or another shape).
    pub unused: Vec<String>,
}

/// Loads the tensors of the file whose names and shapes match parameters of `module`, and
/// reports what was loaded and what was not (PyTorch's `strict=False`).
pub fn load_weights_partial<T: Real, M: Module<T> + ?Sized>(
    module: &mut M,
    path: impl AsRef<Path>,
) -> Result<PartialLoad, WeightsError> {
    let path = path.as_ref();
    let (tensors, _) = read_tensors::<T>(path)?;
    assign(module, path, tensors, false)
}

fn check_unique<T: Real>(tensors: &[(String, Tensor<T>)]) -> Result<(), WeightsError> {
    let mut names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(WeightsError::DuplicateName {
            name: w[0].to_string(),
        }),
        None => Ok(()),
    }
}

/// Puts `tensors` into the module's parameters by name: all or nothing when `strict`.
pub(crate) fn assign<T: Real, M: Module<T> + ?Sized>(
    module: &mut M,
    path: &Path,
    tensors: Vec<(String, Result<Tensor<T>, String>)>,
    strict: bool,
) -> Result<PartialLoad, WeightsError> {
    let (plan, report) = plan_assign(module, path, tensors, strict)?;
    apply_assign(module, plan);
    Ok(report)
}

/// Which parameter gets which tensor, checked without changing anything.
pub(crate) struct AssignPlan<T: Real> {
    moves: Vec<(usize, Tensor<T>)>,
}

/// Matches `tensors` to the module's parameters by name and shape; with `strict`, any
/// difference is an error listing all of them.
pub(crate) fn plan_assign<T: Real, M: Module<T> + ?Sized>(
    module: &M,
    path: &Path,
    tensors: Vec<(String, Result<Tensor<T>, String>)>,
    strict: bool,
) -> Result<(AssignPlan<T>, PartialLoad), WeightsError> {
    let mut by_name: HashMap<String, Result<Tensor<T>, String>> = tensors.into_iter().collect();
    let mut report = PartialLoad::default();
    let mut shapes = Vec::new();
    let mut dtypes = Vec::new();
    let mut moves: Vec<(usize, Tensor<T>)> = Vec::new();
    let params = module.params();
    let mut seen = std::collections::HashSet::new();
    for p in &params {
        if !seen.insert(p.name()) {
            return Err(WeightsError::DuplicateName {
                name: p.name().to_string(),
            });
        }
    }
    for (i, p) in params.iter().enumerate() {
        match by_name.remove(p.name()) {
            None => report.missing.push(p.name().to_string()),
            Some(Err(dtype)) => {
                dtypes.push((p.name().to_string(), dtype));
                report.unused.push(p.name().to_string());
            }
            Some(Ok(t)) if t.shape() != p.shape() => {
                shapes.push(ShapeMismatch {
                    name: p.name().to_string(),
                    expected: p.shape().to_vec(),
                    found: t.shape().to_vec(),
                });
                report.unused.push(p.name().to_string());
            }
            Some(Ok(t)) => {
                report.loaded.push(p.name().to_string());
                moves.push((i, t));
            }
        }
    }
    let mut unexpected: Vec<String> = by_name.into_keys().collect();
    unexpected.sort();
    report.unused.extend(unexpected.iter().cloned());
    if strict
        && !(report.missing.is_empty()
            && unexpected.is_empty()
            && shapes.is_empty()
            && dtypes.is_empty())
    {
        return Err(WeightsError::Mismatch {
            path: path.to_path_buf(),
            missing: report.missing,
            unexpected,
            shapes,
            dtypes,
        });
    }
    Ok((AssignPlan { moves }, report))
}

/// Carries out a plan made by [`plan_assign`] on the same module.
pub(crate) fn apply_assign<T: Real, M: Module<T> + ?Sized>(module: &mut M, plan: AssignPlan<T>) {
    let mut params = module.params_mut();
    for (i, t) in plan.moves {
        params[i].set_value(t);
    }
}

fn dtype_of<T: Real>() -> Dtype {
    match T::DTYPE {
        "f64" => Dtype::F64,
        _ => Dtype::F32,
    }
}

/// The little-endian bytes of a tensor in its own element type, row-major.
pub(crate) fn tensor_bytes<T: Real>(t: &Tensor<T>) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.len() * std::mem::size_of::<T>());
    match dtype_of::<T>() {
        Dtype::F64 => {
            for x in t.iter() {
                out.extend_from_slice(&x.to_f64().unwrap_or(f64::NAN).to_le_bytes());
            }
        }
        _ => {
            for x in t.iter() {
                out.extend_from_slice(&x.to_f32().unwrap_or(f32::NAN).to_le_bytes());
            }
        }
    }
    out
}

/// A tensor from a safetensors view, converting `F32`/`F64` to `T`; other types give their
/// name as the error.
pub(crate) fn tensor_from_view<T: Real>(view: &TensorView<'_>) -> Result<Tensor<T>, String> {
    let data = view.data();
    let values: Vec<T> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| T::from_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(T::nan()))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                T::from_f64(f64::from_le_bytes(a)).unwrap_or(T::nan())
            })
            .collect(),
        other => return Err(format!("{other:?}")),
    };
    Ok(tapegrad_autograd::tensor(view.shape(), values))
}

/// Encodes named tensors and metadata as safetensors bytes, adding the digests.
pub(crate) fn encode<T: Real>(
    path: &Path,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, WeightsError> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                dtype_of::<T>(),
                t.shape().to_vec(),
                tensor_bytes(t),
            )
        })
        .collect();
    let mut metadata = metadata;
    digest::add_digests(&bytes, &mut metadata);
    let encode_err = |e: safetensors::SafeTensorError| WeightsError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let views = bytes
        .iter()
        .map(|(n, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data).map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_err)?;
    safetensors::serialize(views, Some(metadata)).map_err(encode_err)
}

/// Writes named tensors (in `T`) and string metadata to a safetensors file, atomically, with
/// the digests of its tensors and header added to the metadata.
pub fn write_tensors<T: Real>(
    path: &Path,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<(), WeightsError> {
    let bytes = encode(path, tensors, metadata)?;
    write_atomic(path, &bytes, |written| {
        SafeTensors::deserialize(written)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .map_err(|e| match e {
        AtomicError::Io {
            action,
            path,
            source,
        } => WeightsError::Io {
            action,
            path,
            source,
        },
        AtomicError::Verify { path, message } => WeightsError::Format { path, message },
    })
}

/// Reads every tensor of a safetensors file as `T` (or the name of its unsupported element
/// type), in the file's order, with the file's metadata, after checking the digests the file
/// carries (if any).
#[allow(clippy::type_complexity)]
pub fn read_tensors<T: Real>(
    path: &Path,
) -> Result<
    (
        Vec<(String, Result<Tensor<T>, String>)>,
        HashMap<String, String>,
    ),
    WeightsError,
> {
    let bytes = fs::read(path).map_err(|source| WeightsError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    decode(path, &bytes)
}

/// Decodes the bytes of a safetensors file like [`read_tensors`]; `path` only names it in
/// error messages.
#[allow(clippy::type_complexity)]
pub fn decode<T: Real>(
    path: &Path,
    bytes: &[u8],
) -> Result<
    (
        Vec<(String, Result<Tensor<T>, String>)>,
        HashMap<String, String>,
    ),
    WeightsError,
> {
    let format_err = |e: safetensors::SafeTensorError| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let st = SafeTensors::deserialize(bytes).map_err(format_err)?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(format_err)?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    digest::verify(path, &st, &metadata)?;
    // A shape with a zero in it holds no data whatever its other sizes, so the format accepts
    // `[0, 2^40, 2^40]`; no array can take such a shape, so it is refused here as malformed.
    for (name, view) in st.iter() {
        let fits = view
            .shape()
            .iter()
            .filter(|&&n| n != 0)
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .is_some_and(|n| n <= isize::MAX as usize);
        if !fits {
            return Err(WeightsError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "tensor '{name}' has shape {:?}, whose sizes multiply past what memory can \
                     address",
                    view.shape()
                ),
            });
        }
    }
    let tensors = st
        .iter()
        .map(|(name, view)| (name.to_string(), tensor_from_view::<T>(&view)))
        .collect();
    Ok((tensors, metadata))
}

/// Why an atomic write failed.
#[derive(Debug)]
pub(crate) enum AtomicError {
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    Verify {
        path: PathBuf,
        message: String,
    },
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` so that `path` always holds either its old content or all of the
/// new: write a temporary file in the same directory, flush it to disk, read it back and
/// `verify` it, rename it over `path`, then flush the directory entry.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    verify: impl FnOnce(&[u8]) -> Result<(), String>,
) -> Result<(), AtomicError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "weights".to_string());
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| AtomicError::Io {
            action,
            path: p,
            source,
        }
    };
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io("create", path))?;
        f.write_all(bytes).map_err(io("write", path))?;
        f.sync_all().map_err(io("flush to disk", path))?;
        drop(f);
        let back = fs::read(&tmp).map_err(io("read back", path))?;
        if back != bytes {
            return Err(AtomicError::Verify {
                path: tmp.clone(),
                message: format!(
                    "{} bytes read back differ from the {} written",
                    back.len(),
                    bytes.len()
                ),
            });
        }
        verify(&back).map_err(|message| AtomicError::Verify {
            path: tmp.clone(),
            message,
        })?;
        fs::rename(&tmp, path).map_err(io("rename into place", path))?;
        // Make the rename itself durable; some platforms cannot open directories, which is fine.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
