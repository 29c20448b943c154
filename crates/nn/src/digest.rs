//! SHA-256 digests that safetensors files written here carry in their `__metadata__`, so
//! that a loader can tell a file whose bytes changed after it was written from a good one.
//!
//! * `tapegrad.sha256.<tensor name>`: the digest of that tensor's data bytes, exactly as they
//!   are stored (any reader can check it: `sha256(file[data_start + begin .. data_start + end])`);
//! * `tapegrad.header_sha256`: the digest of the rest of the header: every other metadata
//!   entry, and every tensor's name, element type and shape.
//!
//! Both are plain metadata strings, so other readers load the files as usual. A file that
//! carries no digest (written by another tool) is not checked here; its tensors are still
//! checked against the model by name, type and shape.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::WeightsError;

/// The metadata key prefix of the tensors' digests.
const TENSOR_PREFIX: &str = "tapegrad.sha256.";
/// The metadata key of the header's digest.
const HEADER_KEY: &str = "tapegrad.header_sha256";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of the header: `metadata` (but the header digest itself) and each tensor's
/// name, type and shape, every string length-prefixed so that no two headers read the same.
fn header_digest<'a>(
    metadata: &HashMap<String, String>,
    tensors: impl Iterator<Item = (&'a str, Dtype, &'a [usize])>,
) -> String {
    let mut text = String::new();
    let mut field = |s: &str| text.push_str(&format!("{}:{s};", s.len()));
    let mut entries: Vec<(&String, &String)> =
        metadata.iter().filter(|(k, _)| *k != HEADER_KEY).collect();
    entries.sort();
    for (k, v) in entries {
        field(k);
        field(v);
    }
    let mut infos: Vec<(&str, Dtype, &[usize])> = tensors.collect();
    infos.sort_by(|a, b| a.0.cmp(b.0));
    for (name, dtype, shape) in infos {
        field(name);
        field(&format!("{dtype:?}"));
        field(&format!("{shape:?}"));
    }
    sha256_hex(text.as_bytes())
}

/// Adds the digests of `tensors` (name, type, shape, data bytes as stored) and of the header
/// to `metadata`.
pub(crate) fn add_digests(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    metadata: &mut HashMap<String, String>,
) {
    for (name, _, _, data) in tensors {
        metadata.insert(format!("{TENSOR_PREFIX}{name}"), sha256_hex(data));
    }
    let header = header_digest(
        metadata,
        tensors
            .iter()
            .map(|(n, dtype, shape, _)| (n.as_str(), *dtype, shape.as_slice())),
    );
    metadata.insert(HEADER_KEY.to_string(), header);
}

/// Checks the digests a file carries against its header and its tensors' bytes; a file that
/// carries none passes. `path` names the file in the error.
pub(crate) fn verify(
    path: &Path,
    st: &SafeTensors<'_>,
    metadata: &HashMap<String, String>,
) -> Result<(), WeightsError> {
    let damaged = |tensor: Option<&str>| WeightsError::Damaged {
        path: path.to_path_buf(),
        tensor: tensor.map(str::to_string),
    };
    let carries_digests = metadata.keys().any(|k| k.starts_with("tapegrad."));
    if !carries_digests {
        return Ok(());
    }
    if let Some(saved) = metadata.get(HEADER_KEY) {
        let views = st.tensors();
        let actual = header_digest(
            metadata,
            views
                .iter()
                .map(|(n, v)| (n.as_str(), v.dtype(), v.shape())),
        );
        if *saved != actual {
            return Err(damaged(None));
        }
    }
    for (name, view) in st.iter() {
        match metadata.get(&format!("{TENSOR_PREFIX}{name}")) {
            Some(saved) if *saved == sha256_hex(view.data()) => {}
            _ => return Err(damaged(Some(name))),
        }
    }
    Ok(())
}
