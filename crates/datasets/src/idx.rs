//! The IDX file format (MNIST, Fashion-MNIST, EMNIST, ...): reader and writer.
//!
//! An IDX file is a 4-byte magic number `00 00 TT RR` (element type `TT`, rank `RR`), then `RR`
//! big-endian `u32` dimensions, then the elements in row-major order, big-endian.
//!
//! | `TT` | element |
//! |------|---------|
//! | 0x08 | `u8`    |
//! | 0x09 | `i8`    |
//! | 0x0B | `i16`   |
//! | 0x0C | `i32`   |
//! | 0x0D | `f32`   |
//! | 0x0E | `f64`   |
//!
//! Files may be gzip-compressed; the reader tells by content (the gzip magic `1f 8b`), not by
//! the file name. Reads are bounded: the declared size is checked against the data that is
//! really there, so a damaged or hostile header claiming terabytes makes no large allocation,
//! only an [`IdxError::SizeMismatch`].
//!
//! ```
//! use tapegrad_datasets::idx::{decode_idx, encode_idx, IdxData};
//! use ndarray::{ArrayD, IxDyn};
//!
//! let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1i16, -2, 3, -4, 5, -6]).unwrap();
//! let bytes = encode_idx(&IdxData::I16(a.clone()));
//! assert_eq!(&bytes[..4], &[0, 0, 0x0B, 2]);
//! let back = decode_idx(&bytes[..]).unwrap();
//! assert_eq!(back, IdxData::I16(a));
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use ndarray::{ArrayD, IxDyn};
use sha2::{Digest, Sha256};

use crate::error::{DatasetError, IdxError};

/// The largest rank accepted. IDX allows 255, but no real file comes close; a bigger value
/// means a damaged header.
pub const MAX_RANK: u8 = 16;

/// Bytes reserved up front when the size of the data cannot be known in advance: beyond this
/// the buffer grows only as real data arrives.
const UNHINTED_RESERVE: u64 = 1 << 20;

/// The largest expansion of deflate: 1032 output bytes per input byte at best.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The element type of an IDX file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxType {
    /// 0x08, unsigned byte.
    U8,
    /// 0x09, signed byte.
    I8,
    /// 0x0B, 16-bit signed integer.
    I16,
    /// 0x0C, 32-bit signed integer.
    I32,
    /// 0x0D, 32-bit float.
    F32,
    /// 0x0E, 64-bit float.
    F64,
}

impl IdxType {
    /// The type for a magic-number type byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// The magic-number type byte.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// The Rust name of the element type.
    pub fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "u8",
            IdxType::I8 => "i8",
            IdxType::I16 => "i16",
            IdxType::I32 => "i32",
            IdxType::F32 => "f32",
            IdxType::F64 => "f64",
        }
    }
}

/// The contents of an IDX file: an n-d array of one of the six element types.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Unsigned bytes (MNIST images and labels).
    U8(ArrayD<u8>),
    /// Signed bytes.
    I8(ArrayD<i8>),
    /// 16-bit integers.
    I16(ArrayD<i16>),
    /// 32-bit integers.
    I32(ArrayD<i32>),
    /// 32-bit floats.
    F32(ArrayD<f32>),
    /// 64-bit floats.
    F64(ArrayD<f64>),
}

impl IdxData {
    /// The element type.
    pub fn idx_type(&self) -> IdxType {
        match self {
            IdxData::U8(_) => IdxType::U8,
            IdxData::I8(_) => IdxType::I8,
            IdxData::I16(_) => IdxType::I16,
            IdxData::I32(_) => IdxType::I32,
            IdxData::F32(_) => IdxType::F32,
            IdxData::F64(_) => IdxType::F64,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            IdxData::U8(a) => a.shape(),
            IdxData::I8(a) => a.shape(),
            IdxData::I16(a) => a.shape(),
            IdxData::I32(a) => a.shape(),
            IdxData::F32(a) => a.shape(),
            IdxData::F64(a) => a.shape(),
        }
    }

    /// The array, if its elements are `T`; otherwise [`IdxError::WrongType`].
    pub fn into_array<T: IdxElement>(self) -> Result<ArrayD<T>, IdxError> {
        let found = self.idx_type().name();
        T::take(self).ok_or(IdxError::WrongType {
            expected: T::TYPE.name(),
            found,
        })
    }
}

/// A Rust type that IDX can store.
pub trait IdxElement: Copy + Sized {
    /// Its IDX type.
    const TYPE: IdxType;
    /// Extracts the array if `data` holds this type.
    fn take(data: IdxData) -> Option<ArrayD<Self>>;
    /// Wraps an array.
    fn wrap(a: ArrayD<Self>) -> IdxData;
}

macro_rules! idx_element {
    ($t:ty, $variant:ident) => {
        impl IdxElement for $t {
            const TYPE: IdxType = IdxType::$variant;
            fn take(data: IdxData) -> Option<ArrayD<Self>> {
                match data {
                    IdxData::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn wrap(a: ArrayD<Self>) -> IdxData {
                IdxData::$variant(a)
            }
        }
    };
}
idx_element!(u8, U8);
idx_element!(i8, I8);
idx_element!(i16, I16);
idx_element!(i32, I32);
idx_element!(f32, F32);
idx_element!(f64, F64);

/// A parsed IDX header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxHeader {
    /// Element type.
    pub idx_type: IdxType,
    /// Dimensions, outermost first.
    pub dims: Vec<u32>,
}

impl IdxHeader {
    /// Header length in bytes.
    pub fn len(&self) -> usize {
        4 + 4 * self.dims.len()
    }

    /// Always false: a header has at least the magic number.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of payload bytes the header declares (checked for overflow).
    pub fn payload_bytes(&self) -> Result<u64, IdxError> {
        let overflow = || IdxError::SizeOverflow {
            dims: self.dims.clone(),
        };
        let mut n: u64 = self.idx_type.size() as u64;
        // Arrays need the product of the non-zero dimensions to fit too, even when a zero
        // dimension makes the payload empty: [0, 2^32 - 1, 2^32 - 1, 2^32 - 1] is no array.
        let mut nonzero: u64 = self.idx_type.size() as u64;
        for &d in &self.dims {
            n = n.checked_mul(u64::from(d)).ok_or_else(overflow)?;
            nonzero = nonzero
                .checked_mul(u64::from(d.max(1)))
                .ok_or_else(overflow)?;
        }
        // The payload must also be addressable on this machine.
        if nonzero > isize::MAX as u64 {
            return Err(overflow());
        }
        usize::try_from(n).map_err(|_| overflow())?;
        Ok(n)
    }
}

/// Reads and checks the magic number and dimensions.
fn read_header<R: Read>(r: &mut R) -> Result<IdxHeader, IdxError> {
    let mut magic = [0u8; 4];
    let got = read_full(r, &mut magic).map_err(classify_io)?;
    if got < 4 {
        return Err(IdxError::TruncatedHeader {
            len: got,
            needed: 4,
        });
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxError::BadMagic { found: magic });
    }
    let idx_type = IdxType::from_code(magic[2]).ok_or(IdxError::UnknownType { code: magic[2] })?;
    let rank = magic[3];
    if rank == 0 || rank > MAX_RANK {
        return Err(IdxError::BadRank {
            rank,
            max: MAX_RANK,
        });
    }
    let mut dims_bytes = vec![0u8; 4 * rank as usize];
    let got = read_full(r, &mut dims_bytes).map_err(classify_io)?;
    if got < dims_bytes.len() {
        return Err(IdxError::TruncatedHeader {
            len: 4 + got,
            needed: 4 + dims_bytes.len(),
        });
    }
    let dims = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(IdxHeader { idx_type, dims })
}

/// Reads until `buf` is full or the data ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// flate2 reports damaged streams as `InvalidInput`/`InvalidData`/`UnexpectedEof`.
fn classify_io(e: std::io::Error) -> IdxError {
    use std::io::ErrorKind::*;
    match e.kind() {
        InvalidInput | InvalidData | UnexpectedEof => IdxError::Gzip(e),
        _ => IdxError::Io(e),
    }
}

/// Reads exactly the declared payload, growing the buffer only as data arrives.
///
/// `available` is what is known about the real payload length: exact for an uncompressed
/// file, a hint for gzip. Nothing larger than `min(declared, available)` is reserved up front.
fn read_payload<R: Read>(
    r: &mut R,
    header: &IdxHeader,
    available: Option<u64>,
) -> Result<Vec<u8>, IdxError> {
    let declared = header.payload_bytes()?;
    let reserve = declared.min(available.unwrap_or(UNHINTED_RESERVE));
    let mut buf = Vec::with_capacity(reserve as usize);
    // One byte past the declared size tells "too long" from "exact".
    r.take(declared + 1)
        .read_to_end(&mut buf)
        .map_err(classify_io)?;
    let actual = buf.len() as u64;
    if actual != declared {
        return Err(IdxError::SizeMismatch {
            dims: header.dims.clone(),
            declared,
            actual,
            longer: actual > declared,
        });
    }
    Ok(buf)
}

fn convert(header: &IdxHeader, bytes: &[u8]) -> IdxData {
    let shape: Vec<usize> = header.dims.iter().map(|&d| d as usize).collect();
    macro_rules! build {
        ($t:ty, $variant:ident, $n:literal) => {{
            let v: Vec<$t> = bytes
                .chunks_exact($n)
                .map(|c| <$t>::from_be_bytes(c.try_into().expect("chunk size")))
                .collect();
            IdxData::$variant(ArrayD::from_shape_vec(IxDyn(&shape), v).expect("size checked"))
        }};
    }
    match header.idx_type {
        IdxType::U8 => IdxData::U8(
            ArrayD::from_shape_vec(IxDyn(&shape), bytes.to_vec()).expect("size checked"),
        ),
        IdxType::I8 => build!(i8, I8, 1),
        IdxType::I16 => build!(i16, I16, 2),
        IdxType::I32 => build!(i32, I32, 4),
        IdxType::F32 => build!(f32, F32, 4),
        IdxType::F64 => build!(f64, F64, 8),
    }
}

fn into_data(header: &IdxHeader, bytes: Vec<u8>) -> IdxData {
    if header.idx_type == IdxType::U8 {
        let shape: Vec<usize> = header.dims.iter().map(|&d| d as usize).collect();
        return IdxData::U8(ArrayD::from_shape_vec(IxDyn(&shape), bytes).expect("size checked"));
    }
    convert(header, &bytes)
}

/// Is this the start of a gzip stream?
pub fn is_gzip(prefix: &[u8]) -> bool {
    prefix.len() >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b
}

/// Parses IDX data from a reader, gzip-compressed or not (told apart by content).
///
/// Without a size hint, the buffer grows with the data actually read, so a header that lies
/// about its size costs at most the real data's size in memory.
pub fn decode_idx<R: Read>(reader: R) -> Result<IdxData, IdxError> {
    decode_with_hint(BufReader::new(reader), Known::Nothing, None)
}

/// What is known about the data's length before reading it.
#[derive(Clone, Copy)]
enum Known {
    Nothing,
    /// Exact length of an uncompressed file.
    RawLen(u64),
    /// The gzip trailer's ISIZE: a hint only (mod 2^32, last member).
    GzipHint(u64),
}

/// Passes reads through, feeding every byte to a hasher.
struct HashRead<'h, R> {
    inner: R,
    hasher: Option<&'h mut Sha256>,
}

impl<R: Read> Read for HashRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_deref_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn decode_with_hint<R: BufRead>(
    mut reader: R,
    known: Known,
    hasher: Option<&mut Sha256>,
) -> Result<IdxData, IdxError> {
    let prefix = reader.fill_buf().map_err(IdxError::Io)?;
    if is_gzip(prefix) {
        let mut gz = HashRead {
            inner: MultiGzDecoder::new(reader),
            hasher,
        };
        let header = read_header(&mut gz)?;
        let hint = match known {
            Known::GzipHint(h) => Some(h.saturating_sub(header.len() as u64)),
            _ => None,
        };
        let bytes = read_payload(&mut gz, &header, hint)?;
        Ok(into_data(&header, bytes))
    } else {
        let mut reader = HashRead {
            inner: reader,
            hasher,
        };
        let header = read_header(&mut reader)?;
        let mut hint = None;
        if let Known::RawLen(len) = known {
            let actual = len.saturating_sub(header.len() as u64);
            let declared = header.payload_bytes()?;
            if actual != declared {
                return Err(IdxError::SizeMismatch {
                    dims: header.dims.clone(),
                    declared,
                    actual,
                    longer: actual > declared,
                });
            }
            hint = Some(actual);
        }
        let bytes = read_payload(&mut reader, &header, hint)?;
        Ok(into_data(&header, bytes))
    }
}

/// Parses an uncompressed IDX file held in memory. The declared size is checked against
/// `bytes.len()` before anything is allocated.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxData, IdxError> {
    let mut r = bytes;
    let header = read_header(&mut r)?;
    let declared = header.payload_bytes()?;
    if r.len() as u64 != declared {
        return Err(IdxError::SizeMismatch {
            dims: header.dims.clone(),
            declared,
            actual: r.len() as u64,
            longer: r.len() as u64 > declared,
        });
    }
    Ok(convert(&header, r))
}

/// Reads an IDX file, gzip-compressed or not (told apart by content, not by name).
///
/// For an uncompressed file the declared size is checked against the file's length before
/// any allocation; for a gzip file the size recorded in the gzip trailer bounds what is
/// reserved, and the buffer then grows only with real data.
pub fn read_idx(path: &Path) -> Result<IdxData, DatasetError> {
    read_idx_hashing(path, None)
}

/// [`read_idx`], also returning the SHA-256 (hex) of the decompressed bytes.
pub fn read_idx_with_sha256(path: &Path) -> Result<(IdxData, String), DatasetError> {
    let mut h = Sha256::new();
    let data = read_idx_hashing(path, Some(&mut h))?;
    Ok((data, crate::cache::hex(&h.finalize())))
}

fn read_idx_hashing(path: &Path, hasher: Option<&mut Sha256>) -> Result<IdxData, DatasetError> {
    let wrap = |source| DatasetError::Idx {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let len = file
        .metadata()
        .map_err(|e| DatasetError::io(path, e))?
        .len();
    let mut prefix = [0u8; 2];
    let got = read_full(&mut file, &mut prefix).map_err(|e| DatasetError::io(path, e))?;
    let known = if is_gzip(&prefix[..got]) && len >= 18 {
        // ISIZE: the uncompressed length mod 2^32 of the last member; a hint only.
        let mut isize = [0u8; 4];
        file.seek(SeekFrom::End(-4))
            .and_then(|_| file.read_exact(&mut isize))
            .map_err(|e| DatasetError::io(path, e))?;
        // The trailer is just four bytes anyone can write: never trust it beyond what deflate
        // can expand this file to (at most 1032:1), so a tiny file cannot reserve gigabytes.
        let most = len.saturating_mul(MAX_DEFLATE_RATIO);
        Known::GzipHint(u64::from(u32::from_le_bytes(isize)).min(most))
    } else {
        Known::RawLen(len)
    };
    file.seek(SeekFrom::Start(0))
        .map_err(|e| DatasetError::io(path, e))?;
    decode_with_hint(BufReader::with_capacity(1 << 16, file), known, hasher).map_err(wrap)
}

/// Reads an IDX file whose elements must be `T`.
pub fn read_idx_as<T: IdxElement>(path: &Path) -> Result<ArrayD<T>, DatasetError> {
    read_idx(path)?
        .into_array::<T>()
        .map_err(|source| DatasetError::Idx {
            path: path.to_path_buf(),
            source,
        })
}

/// Serialises an array as uncompressed IDX (big-endian).
///
/// # Panics
/// If a dimension exceeds `u32::MAX` or the rank exceeds [`MAX_RANK`].
pub fn encode_idx(data: &IdxData) -> Vec<u8> {
    let shape = data.shape();
    assert!(
        !shape.is_empty() && shape.len() <= MAX_RANK as usize,
        "encode_idx: rank must be 1..={MAX_RANK}, got {}",
        shape.len()
    );
    let t = data.idx_type();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(4 + 4 * shape.len() + n * t.size());
    out.extend_from_slice(&[0, 0, t.code(), shape.len() as u8]);
    for &d in shape {
        let d = u32::try_from(d).expect("encode_idx: dimension exceeds u32::MAX");
        out.extend_from_slice(&d.to_be_bytes());
    }
    macro_rules! put {
        ($a:expr) => {
            for x in $a.iter() {
                out.extend_from_slice(&x.to_be_bytes());
            }
        };
    }
    match data {
        IdxData::U8(a) => out.extend(a.iter().copied()),
        IdxData::I8(a) => put!(a),
        IdxData::I16(a) => put!(a),
        IdxData::I32(a) => put!(a),
        IdxData::F32(a) => put!(a),
        IdxData::F64(a) => put!(a),
    }
    out
}
