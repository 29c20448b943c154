//! The IDX reader on crafted data: every element type, gzip or raw (detected by content),
//! and every kind of damaged header or payload giving an error, never a panic or a huge
//! allocation.

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use ndarray::{ArrayD, IxDyn};
use tapegrad_datasets::idx::{decode_idx, encode_idx, parse_idx, read_idx, read_idx_as, IdxData};
use tapegrad_datasets::{DatasetError, IdxError};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn samples() -> Vec<IdxData> {
    let shape = IxDyn(&[2, 3, 2]);
    let a = |v: Vec<f64>| v.into_iter();
    let base: Vec<f64> = vec![
        0.0, 1.0, -2.0, 3.5, 127.0, -128.0, 5.0, 6.0, -7.25, 8.0, 9.0, 10.0,
    ];
    vec![
        IdxData::U8(
            ArrayD::from_shape_vec(shape.clone(), (0..12).map(|v| v * 21).collect()).unwrap(),
        ),
        IdxData::I8(
            ArrayD::from_shape_vec(shape.clone(), a(base.clone()).map(|v| v as i8).collect())
                .unwrap(),
        ),
        IdxData::I16(
            ArrayD::from_shape_vec(
                shape.clone(),
                a(base.clone()).map(|v| (v * 300.0) as i16).collect(),
            )
            .unwrap(),
        ),
        IdxData::I32(
            ArrayD::from_shape_vec(
                shape.clone(),
                a(base.clone()).map(|v| (v * 1e6) as i32).collect(),
            )
            .unwrap(),
        ),
        IdxData::F32(
            ArrayD::from_shape_vec(
                shape.clone(),
                a(base.clone()).map(|v| v as f32 / 3.0).collect(),
            )
            .unwrap(),
        ),
        IdxData::F64(ArrayD::from_shape_vec(shape, a(base).map(|v| v / 3.0).collect()).unwrap()),
    ]
}

#[test]
fn every_element_type_round_trips_raw_and_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    for data in samples() {
        let raw = encode_idx(&data);
        assert_eq!(raw[2], data.idx_type().code());
        assert_eq!(raw[3], 3, "rank byte");
        assert_eq!(&raw[4..8], &[0, 0, 0, 2], "big-endian dimension");
        assert_eq!(parse_idx(&raw).unwrap(), data);
        assert_eq!(decode_idx(&raw[..]).unwrap(), data);
        let gz = gzip(&raw);
        assert_eq!(decode_idx(&gz[..]).unwrap(), data);
        // Detected by content, whatever the name says.
        let p = tmp.path().join("looks-raw.idx");
        std::fs::write(&p, &gz).unwrap();
        assert_eq!(read_idx(&p).unwrap(), data);
        let p = tmp.path().join("looks-compressed.gz");
        std::fs::write(&p, &raw).unwrap();
        assert_eq!(read_idx(&p).unwrap(), data);
    }
}

#[test]
fn big_endian_values_are_decoded() {
    // i16 -2 = ff fe, f32 1.5 = 3f c0 00 00
    let i16s = [0, 0, 0x0B, 1, 0, 0, 0, 1, 0xff, 0xfe];
    assert_eq!(
        parse_idx(&i16s).unwrap(),
        IdxData::I16(ArrayD::from_shape_vec(IxDyn(&[1]), vec![-2]).unwrap())
    );
    let f32s = [0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0];
    assert_eq!(
        parse_idx(&f32s).unwrap(),
        IdxData::F32(ArrayD::from_shape_vec(IxDyn(&[1]), vec![1.5]).unwrap())
    );
}

#[test]
fn typed_access_checks_the_element_type() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("f.idx");
    std::fs::write(&p, encode_idx(&samples()[4])).unwrap();
    assert_eq!(read_idx_as::<f32>(&p).unwrap().shape(), &[2, 3, 2]);
    let err = read_idx_as::<u8>(&p).unwrap_err();
    assert!(
        matches!(
            err,
            DatasetError::Idx {
                source: IdxError::WrongType {
                    expected: "u8",
                    found: "f32"
                },
                ..
            }
        ),
        "{err:?}"
    );
}

fn all_readers(bytes: &[u8]) -> Vec<Result<IdxData, String>> {
    let tmp = tempfile::tempdir().unwrap();
    let raw_file = tmp.path().join("raw");
    std::fs::write(&raw_file, bytes).unwrap();
    let gz_file = tmp.path().join("gz");
    std::fs::write(&gz_file, gzip(bytes)).unwrap();
    vec![
        parse_idx(bytes).map_err(|e| e.to_string()),
        decode_idx(bytes).map_err(|e| e.to_string()),
        decode_idx(&gzip(bytes)[..]).map_err(|e| e.to_string()),
        read_idx(&raw_file).map_err(|e| e.to_string()),
        read_idx(&gz_file).map_err(|e| e.to_string()),
    ]
}

#[track_caller]
fn assert_all_fail(bytes: &[u8], needle: &str) {
    for (k, r) in all_readers(bytes).into_iter().enumerate() {
        match r {
            Ok(d) => panic!("reader {k} accepted damaged data as {:?}", d.shape()),
            Err(e) => assert!(e.contains(needle), "reader {k}: {e}"),
        }
    }
}

#[test]
fn damaged_headers_are_errors() {
    assert_all_fail(&[], "too short");
    assert_all_fail(&[0, 0, 8], "too short");
    assert_all_fail(&[1, 2, 8, 1, 0, 0, 0, 0], "magic number");
    assert_all_fail(
        &[0, 0, 0x0A, 1, 0, 0, 0, 0],
        "unknown IDX element type 0x0a",
    );
    assert_all_fail(&[0, 0, 8, 0], "rank 0");
    assert_all_fail(&[0, 0, 8, 200, 0, 0, 0, 1], "rank 200");
    assert_all_fail(&[0, 0, 8, 2, 0, 0, 0, 1, 0, 0], "too short");
    // Product of dimensions overflows.
    let mut h = vec![0, 0, 0x0E, 4];
    for _ in 0..4 {
        h.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    assert_all_fail(&h, "overflows");
}

#[test]
fn payload_size_must_match_the_header() {
    let mut short = encode_idx(&samples()[3]);
    short.pop();
    assert_all_fail(&short, "only 47 bytes");
    let mut long = encode_idx(&samples()[3]);
    long.push(0);
    assert_all_fail(&long, "more");
}

#[test]
fn a_header_claiming_a_huge_size_allocates_nothing_big() {
    // u8 [2^32-1, 2^32-1]: about 2^64 bytes, beyond isize::MAX. Reserving it would abort the
    // process; reading it would take forever. Each reader must answer at once with an error.
    let mut h = vec![0, 0, 0x08, 2];
    h.extend_from_slice(&u32::MAX.to_be_bytes());
    h.extend_from_slice(&u32::MAX.to_be_bytes());
    h.extend_from_slice(&[1, 2, 3]);
    assert_all_fail(&h, "overflows what this machine can address");
    // f32 [2^20, 2^20, 2^20]: 2^62 bytes, a plausible-looking but impossible size.
    let mut h = vec![0, 0, 0x0D, 3];
    for _ in 0..3 {
        h.extend_from_slice(&(1u32 << 20).to_be_bytes());
    }
    h.extend_from_slice(&[0; 16]);
    assert_all_fail(&h, "only 16 bytes");
}

#[test]
fn corrupt_or_truncated_gzip_is_an_error() {
    let raw = encode_idx(&IdxData::U8(
        ArrayD::from_shape_vec(
            IxDyn(&[4000]),
            (0..4000).map(|i| (i * 7 % 251) as u8).collect(),
        )
        .unwrap(),
    ));
    let gz = gzip(&raw);
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x77;
    }
    assert!(decode_idx(&bad[..]).is_err());
    let truncated = &gz[..gz.len() - 10];
    assert!(decode_idx(truncated).is_err());
    // A damaged CRC in the trailer is caught too.
    let mut crc = gz.clone();
    let n = crc.len();
    crc[n - 6] ^= 1;
    let err = decode_idx(&crc[..]).unwrap_err();
    assert!(matches!(err, IdxError::Gzip(_)), "{err:?}");
    assert!(err.to_string().contains("download it again"), "{err}");
}
