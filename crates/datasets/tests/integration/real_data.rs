//! Tests on the real MNIST and notMNIST files (from `TAPEGRAD_DATA_DIR`). They fail, never
//! skip, when the data is missing.

use crate::common;

use std::sync::OnceLock;
use std::time::Instant;

use tapegrad_autograd::random::SplitMix64;
use tapegrad_datasets::mnist::{label_histogram, MNIST_FILES};
use tapegrad_datasets::notmnist::{
    duplicates_within, exact_overlap, merge_datasets, near_overlap, NotMnist, Splits,
    SMALL_CLASS_COUNTS,
};
use tapegrad_datasets::{DataSource, Mnist};

fn small() -> &'static NotMnist {
    static DATA: OnceLock<NotMnist> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = common::require("notmnist/notMNIST_small.tar.gz");
        NotMnist::from_archive(&path, 1800).expect("notMNIST_small parses")
    })
}

#[test]
fn mnist_sizes_label_histograms_and_digests() {
    let dir = common::require("mnist/train-images-idx3-ubyte.gz");
    let dir = dir.parent().unwrap().parent().unwrap().to_path_buf();
    let mnist = Mnist::load_with(&DataSource::new(&dir).offline()).expect("MNIST loads");
    assert_eq!(mnist.train_images.shape(), &[60_000, 28, 28]);
    assert_eq!(mnist.test_images.shape(), &[10_000, 28, 28]);
    assert_eq!(
        label_histogram(&mnist.train_labels),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        label_histogram(&mnist.test_labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(mnist.train_labels[0], 5);

    // The embedded digests are the ones of SHA256SUMS.uncompressed, and the files match them.
    let sums = std::fs::read_to_string(dir.join("mnist/SHA256SUMS.uncompressed"))
        .expect("mnist/SHA256SUMS.uncompressed is part of the data dir");
    for f in &MNIST_FILES {
        let raw_name = f.name.trim_end_matches(".gz");
        let listed = sums
            .lines()
            .find_map(|l| l.strip_suffix(raw_name).map(|h| h.trim().to_string()))
            .unwrap_or_else(|| panic!("{raw_name} not listed in SHA256SUMS.uncompressed"));
        let tapegrad_datasets::download::Check::Sha256Decompressed(embedded) = f.check else {
            panic!("MNIST is verified by SHA-256 of the content")
        };
        assert_eq!(embedded, listed, "{raw_name}");
        let (_, actual) =
            tapegrad_datasets::idx::read_idx_with_sha256(&dir.join("mnist").join(f.name)).unwrap();
        assert_eq!(actual, listed, "{raw_name}");
    }

    let train = mnist.train();
    assert_eq!(train.x.shape(), &[60_000, 784]);
    assert_eq!(train.y.shape(), &[60_000, 10]);
    assert_eq!(train.y.sum(), 60_000.0);
    assert_eq!(train.y[[0, 5]], 1.0);
    assert!(train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(train.x.iter().cloned().fold(0.0f32, f32::max), 1.0);
}

#[test]
fn notmnist_small_counts_balance_and_class_statistics() {
    let data = small();
    assert_eq!(data.len(), 18_724);
    assert_eq!(data.class_counts(), SMALL_CLASS_COUNTS);
    assert_eq!(
        data.class_counts(),
        [1872, 1873, 1873, 1873, 1873, 1872, 1872, 1872, 1872, 1872]
    );
    assert!(data.skipped.is_empty(), "this copy has no unreadable files");
    let balance = data.balance();
    assert!(balance.is_balanced(0.01), "{balance:?}");
    // The course's printed statistics, to 6 decimals, for every class.
    let expected = [
        ("-0.132626", "0.445128"),
        ("0.005356", "0.457115"),
        ("-0.141521", "0.442690"),
        ("-0.049217", "0.459759"),
        ("-0.059915", "0.457350"),
        ("-0.118185", "0.452279"),
        ("-0.092550", "0.449006"),
        ("-0.058689", "0.458759"),
        ("0.052645", "0.471893"),
        ("-0.151689", "0.448014"),
    ];
    for (s, (m, d)) in data.class_stats().iter().zip(expected) {
        assert_eq!(
            format!("{:.6}", s.mean as f64),
            m,
            "class {} mean",
            s.letter
        );
        assert_eq!(format!("{:.6}", s.std as f64), d, "class {} std", s.letter);
    }
    // Class I's std is float32 0.4718935 (prints 0.471893), as numpy computes it.
    assert_eq!(data.class_stats()[8].std, 0.471_893_5_f32);
}

#[test]
fn notmnist_merge_overlaps_and_sanitising() {
    let data = small();
    // The reference program's steps (merge_datasets(letters, 12700, 5000); randomize(train);
    // randomize(test)); the reference's own counts, drawn from numpy's stream, are the Udacity
    // chapter test's.
    let mut rng = SplitMix64::new(133);
    let (test, train) = merge_datasets(data, 12_700, 5_000, &mut rng).unwrap();
    assert_eq!((train.len(), test.len()), (12_700, 5_000));
    assert_eq!(train.class_counts(), [1270; 10]);
    assert_eq!(test.class_counts(), [500; 10]);
    let train = train.randomize(&mut rng);
    let test = test.randomize(&mut rng);
    // The small set repeats some letters, so any split of it has repeats across and within.
    let exact = exact_overlap(&train, &test);
    let within = duplicates_within(&train);
    assert!(exact > 0 && within > 0, "{exact} {within}");

    // Near duplicates include the exact ones.
    let near = near_overlap(&test, &train, 0.02);
    assert!(near >= exact, "near overlap {near}, exact {exact}");

    let splits = Splits {
        train: train.clone(),
        valid: test.range(0, 2_500),
        test: test.range(2_500, 5_000),
    };
    let report = splits.overlaps(Some(0.02));
    assert!(report.train_test.exact > 0 && report.within_train.exact == within);
    let clean = splits.sanitized(Some(0.02));
    let after = clean.overlaps(Some(0.02));
    for o in [
        after.train_valid,
        after.train_test,
        after.valid_test,
        after.within_train,
        after.within_valid,
        after.within_test,
    ] {
        assert_eq!(o.exact, 0, "{after:?}");
    }
    assert_eq!(after.train_valid.near, Some(0));
    assert_eq!(after.train_test.near, Some(0));
    assert_eq!(after.within_train.near, Some(0));
    assert!(clean.train.len() < train.len() && clean.train.len() > 11_000);

    // The course's three-way split (large for train/valid, small for test), here with small
    // standing in for both: equal classes everywhere.
    let mut rng = SplitMix64::new(133);
    let three = Splits::udacity(data, data, 10_000, 2_000, 3_000, &mut rng).unwrap();
    assert_eq!(three.train.class_counts(), [1000; 10]);
    assert_eq!(three.valid.class_counts(), [200; 10]);
    assert_eq!(three.test.class_counts(), [300; 10]);
    assert!(merge_datasets(data, 18_000, 1_000, &mut rng).is_err());
    // The normalised dataset view: [N, 784] in [-0.5, 0.5], one-hot labels.
    let ds = clean.valid.to_dataset::<f32>();
    assert_eq!(ds.x.shape(), &[clean.valid.len(), 784]);
    assert!(ds.x.iter().all(|v| (-0.5..=0.5).contains(v)));
}

#[test]
fn notmnist_cache_makes_the_second_load_fast_and_survives_damage() {
    let path = common::require("notmnist/notMNIST_small.tar.gz");
    let data_dir = path.parent().unwrap().parent().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let source = DataSource::new(data_dir)
        .offline()
        .with_cache_dir(cache.path());
    let listing = || {
        let mut v: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let before = listing();
    let first = NotMnist::load_small_with(&source).unwrap();
    let file = cache.path().join("notmnist/notMNIST_small.tar.gz.bin");
    assert!(file.is_file());
    assert_eq!(listing(), before, "nothing written into the data dir");
    let t = Instant::now();
    let second = NotMnist::load_small_with(&source).unwrap();
    let took = t.elapsed();
    assert!(took.as_secs_f64() < 1.0, "cached load took {took:?}");
    assert_eq!(first.images, second.images);
    assert_eq!(first.labels, second.labels);
    assert_eq!(first.images, small().images);

    // A damaged cache is detected by its checksum and rebuilt.
    let mut bytes = std::fs::read(&file).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let third = NotMnist::from_archive_cached(&path, cache.path(), 1800).unwrap();
    assert_eq!(third.images, first.images);
    assert_ne!(std::fs::read(&file).unwrap(), bytes, "cache rewritten");
}

#[test]
fn notmnist_unreadable_zero_byte_files_are_skipped_and_counted() {
    use flate2::{read::GzDecoder, write::GzEncoder, Compression};
    let path = common::require("notmnist/notMNIST_small.tar.gz");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("notMNIST_small.tar.gz");
    {
        let out = std::fs::File::create(&copy).unwrap();
        let mut builder = tar::Builder::new(GzEncoder::new(out, Compression::fast()));
        let mut src = tar::Archive::new(GzDecoder::new(std::fs::File::open(&path).unwrap()));
        for entry in src.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut header = entry.header().clone();
            let name = entry.path().unwrap().into_owned();
            builder.append_data(&mut header, name, &mut entry).unwrap();
        }
        for name in [
            "notMNIST_small/A/RGVtb2NyYXRpY2FCb2xkT2xkc3R5bGUgQm9sZC50dGY=.png",
            "notMNIST_small/F/Q3Jvc3NvdmVyIEJvbGRPYmxpcXVlLnR0Zg==.png",
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder
                .append_data(&mut header, name, std::io::empty())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }
    let data = NotMnist::from_archive(&copy, 1800).unwrap();
    assert_eq!(data.skipped.len(), 2, "{:?}", data.skipped);
    assert!(data.skipped[0]
        .path
        .ends_with("A/RGVtb2NyYXRpY2FCb2xkT2xkc3R5bGUgQm9sZC50dGY=.png"));
    assert!(data.skipped[1]
        .path
        .ends_with("F/Q3Jvc3NvdmVyIEJvbGRPYmxpcXVlLnR0Zg==.png"));
    assert!(data.skipped.iter().all(|s| s.reason.contains("empty")));
    assert_eq!(data.class_counts(), SMALL_CLASS_COUNTS);
    assert_eq!(data.images, small().images);
    // The structural verification of a download accepts this layout (the original's).
    tapegrad_datasets::notmnist::verify_archive(&copy, false).unwrap();
}
