//! The assignment's answers about the splits: the course's three splits, how many images they
//! share (exactly, and nearly: the same letter rendered a little differently), and the splits
//! with those removed ("sanitised"). Problem 5 of Udacity's notMNIST assignment.

use std::collections::HashMap;

use tapegrad_autograd::random::RandomStream;

use super::{merge_datasets, NotMnist, Split, IMAGE_SIZE, PIXELS};
use crate::error::Result;

/// Train, validation and test splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// Training split.
    pub train: Split,
    /// Validation split.
    pub valid: Split,
    /// Test split.
    pub test: Split,
}

impl Splits {
    /// The course's splits: `train_size` + `valid_size` from `train_source` (notMNIST_large),
    /// `test_size` from `test_source` (notMNIST_small), each merged with equal classes and
    /// then shuffled, in the course's order of random draws.
    pub fn udacity<R: RandomStream + ?Sized>(
        train_source: &NotMnist,
        test_source: &NotMnist,
        train_size: usize,
        valid_size: usize,
        test_size: usize,
        rng: &mut R,
    ) -> Result<Splits> {
        let (valid, train) = merge_datasets(train_source, train_size, valid_size, rng)?;
        let (_, test) = merge_datasets(test_source, test_size, 0, rng)?;
        let train = train.randomize(rng);
        let test = test.randomize(rng);
        let valid = valid.randomize(rng);
        Ok(Splits { train, valid, test })
    }

    /// Overlaps between and within the splits.
    pub fn overlaps(&self, tolerance: Option<f64>) -> OverlapReport {
        let pair = |a: &Split, b: &Split| Overlap {
            exact: exact_overlap(a, b),
            near: tolerance.map(|t| near_overlap(a, b, t)),
        };
        let within = |a: &Split| Overlap {
            exact: duplicates_within(a),
            near: tolerance.map(|t| near_duplicates_within(a, t)),
        };
        OverlapReport {
            train_valid: pair(&self.train, &self.valid),
            train_test: pair(&self.train, &self.test),
            valid_test: pair(&self.valid, &self.test),
            within_train: within(&self.train),
            within_valid: within(&self.valid),
            within_test: within(&self.test),
        }
    }

    /// Sanitised splits: duplicates removed within each split (first kept), then every
    /// validation image also in train removed, then every test image also in train or
    /// validation removed. With a `tolerance`, near duplicates count too.
    pub fn sanitized(&self, tolerance: Option<f64>) -> Splits {
        let train = sanitize(&self.train, &[], tolerance);
        let valid = sanitize(&self.valid, &[&train], tolerance);
        let test = sanitize(&self.test, &[&train, &valid], tolerance);
        Splits { train, valid, test }
    }
}

/// Overlap counts for one pair of splits (or one split with itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// Between splits: distinct images present in both (numpy `intersect1d` of content
    /// hashes). Within a split: images that repeat an earlier one (`len - distinct`).
    pub exact: usize,
    /// Images of the first split with a near twin (see [`near_overlap`]); `None` when no
    /// tolerance was given.
    pub near: Option<usize>,
}

/// Overlaps between and within train, validation and test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverlapReport {
    /// Train vs validation.
    pub train_valid: Overlap,
    /// Train vs test.
    pub train_test: Overlap,
    /// Validation vs test.
    pub valid_test: Overlap,
    /// Within train.
    pub within_train: Overlap,
    /// Within validation.
    pub within_valid: Overlap,
    /// Within test.
    pub within_test: Overlap,
}

fn image_rows(s: &Split) -> Vec<&[u8]> {
    s.images
        .as_slice()
        .map(|a| a.chunks_exact(PIXELS).collect())
        .unwrap_or_else(|| panic!("split images are always contiguous"))
}

/// Distinct images present in both splits (exact content match), like the course's
/// `np.intersect1d` of md5 hashes.
pub fn exact_overlap(a: &Split, b: &Split) -> usize {
    let in_b: std::collections::HashSet<&[u8]> = image_rows(b).into_iter().collect();
    let in_a: std::collections::HashSet<&[u8]> = image_rows(a).into_iter().collect();
    in_a.iter().filter(|img| in_b.contains(*img)).count()
}

/// Images that repeat an earlier image of the same split (`len - distinct`).
pub fn duplicates_within(a: &Split) -> usize {
    let distinct: std::collections::HashSet<&[u8]> = image_rows(a).into_iter().collect();
    a.len() - distinct.len()
}

/// Sums of 4x4 blocks of 7x7 pixels. For any partition of the pixels, the summed block
/// differences bound the pixel L1 distance from below, so they filter candidates cheaply.
struct Signature {
    blocks: [u16; 16],
}

impl Signature {
    fn of(img: &[u8]) -> Self {
        let mut blocks = [0u16; 16];
        for (i, &p) in img.iter().enumerate() {
            let (y, x) = (i / IMAGE_SIZE, i % IMAGE_SIZE);
            blocks[(y / 7) * 4 + x / 7] += u16::from(p);
        }
        Signature { blocks }
    }

    /// Sums of the four 14x14 quadrants.
    fn quadrants(&self) -> [u32; 4] {
        let b = |r: usize, c: usize| u32::from(self.blocks[r * 4 + c]);
        std::array::from_fn(|q| {
            let (r, c) = ((q / 2) * 2, (q % 2) * 2);
            b(r, c) + b(r, c + 1) + b(r + 1, c) + b(r + 1, c + 1)
        })
    }

    fn distance(&self, other: &Signature) -> u32 {
        self.blocks
            .iter()
            .zip(other.blocks.iter())
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum()
    }
}

/// Sum of absolute differences in byte units, stopping once it exceeds `budget`.
fn l1_within(a: &[u8], b: &[u8], budget: u32) -> bool {
    let mut sum = 0u32;
    for (ca, cb) in a.chunks(112).zip(b.chunks(112)) {
        sum += ca
            .iter()
            .zip(cb)
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum::<u32>();
        if sum > budget {
            return false;
        }
    }
    true
}

/// A cheap hasher for the small integer keys of [`NearIndex`] (no untrusted input).
#[derive(Default)]
struct CellHasher(u64);

impl std::hash::Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

type Cells = HashMap<[u32; 4], Vec<usize>, std::hash::BuildHasherDefault<CellHasher>>;

/// Finds images within an L1 budget of a query among indexed images.
///
/// Images within the budget differ by at most the budget in each quadrant sum, so bucketing
/// quadrant sums on a grid of that pitch leaves only the 3^4 neighbouring cells to search;
/// block sums then discard most candidates before the pixels are compared.
struct NearIndex<'a> {
    budget: u32,
    pitch: u32,
    cells: Cells,
    rows: Vec<&'a [u8]>,
    sigs: Vec<Signature>,
    quads: Vec<[u32; 4]>,
}

impl<'a> NearIndex<'a> {
    fn new(tolerance: f64) -> Self {
        let budget = (tolerance.max(0.0) * 255.0 * PIXELS as f64).floor() as u32;
        NearIndex {
            budget,
            pitch: budget.max(1),
            cells: Cells::default(),
            rows: Vec::new(),
            sigs: Vec::new(),
            quads: Vec::new(),
        }
    }

    fn insert(&mut self, img: &'a [u8]) {
        let sig = Signature::of(img);
        let quads = sig.quadrants();
        self.cells
            .entry(quads.map(|q| q / self.pitch))
            .or_default()
            .push(self.rows.len());
        self.rows.push(img);
        self.sigs.push(sig);
        self.quads.push(quads);
    }

    /// Whether an indexed image other than `skip` is within the budget of `img`.
    fn has_near(&self, img: &[u8], skip: Option<usize>) -> bool {
        let sig = Signature::of(img);
        let quads = sig.quadrants();
        let key = quads.map(|q| q / self.pitch);
        let quad_distance = |j: usize| -> u32 {
            quads
                .iter()
                .zip(self.quads[j].iter())
                .map(|(&x, &y)| x.abs_diff(y))
                .sum()
        };
        (0..81usize).any(|n| {
            let mut cell = key;
            let mut code = n;
            for c in cell.iter_mut() {
                let step = code % 3;
                code /= 3;
                match step {
                    0 if *c == 0 => return false,
                    0 => *c -= 1,
                    2 => *c += 1,
                    _ => {}
                }
            }
            self.cells.get(&cell).is_some_and(|list| {
                list.iter().any(|&j| {
                    Some(j) != skip
                        && quad_distance(j) <= self.budget
                        && sig.distance(&self.sigs[j]) <= self.budget
                        && l1_within(img, self.rows[j], self.budget)
                })
            })
        })
    }
}

/// For each image of `a`, whether some image of `b` is within `tolerance` (mean absolute
/// difference of pixels scaled to [0, 1]); with `same`, an image never matches itself.
fn near_flags(a: &Split, b: &Split, tolerance: f64, same: bool) -> Vec<bool> {
    let mut index = NearIndex::new(tolerance);
    for r in image_rows(b) {
        index.insert(r);
    }
    image_rows(a)
        .iter()
        .enumerate()
        .map(|(i, img)| index.has_near(img, same.then_some(i)))
        .collect()
}

/// Images of `a` that have a near twin in `b`: mean absolute pixel difference (pixels scaled
/// to [0, 1]) at most `tolerance`. Exact duplicates count (difference 0).
pub fn near_overlap(a: &Split, b: &Split, tolerance: f64) -> usize {
    near_flags(a, b, tolerance, false)
        .into_iter()
        .filter(|&x| x)
        .count()
}

/// Images of `a` with a near twin elsewhere in `a` (see [`near_overlap`]).
pub fn near_duplicates_within(a: &Split, tolerance: f64) -> usize {
    near_flags(a, a, tolerance, true)
        .into_iter()
        .filter(|&x| x)
        .count()
}

/// `target` without the images that also appear in any of `others` (exactly, or within
/// `tolerance` when given) and without repeats inside `target` (the first is kept).
pub fn sanitize(target: &Split, others: &[&Split], tolerance: Option<f64>) -> Split {
    let rows = image_rows(target);
    let mut keep = vec![true; rows.len()];
    // Within the split: exact repeats, then (optionally) near twins of an earlier kept image.
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if seen.insert(r, i).is_some() {
            keep[i] = false;
        }
    }
    for other in others {
        match tolerance {
            Some(t) => {
                for (k, hit) in keep.iter_mut().zip(near_flags(target, other, t, false)) {
                    *k &= !hit;
                }
            }
            None => {
                let set: std::collections::HashSet<&[u8]> = image_rows(other).into_iter().collect();
                for (k, r) in keep.iter_mut().zip(&rows) {
                    *k &= !set.contains(r);
                }
            }
        }
    }
    if let Some(t) = tolerance {
        // Greedy, in order: an image goes only if it is near one already kept.
        let mut index = NearIndex::new(t);
        for (i, r) in rows.iter().enumerate() {
            if keep[i] {
                if index.has_near(r, None) {
                    keep[i] = false;
                } else {
                    index.insert(r);
                }
            }
        }
    }
    let kept: Vec<usize> = (0..rows.len()).filter(|&i| keep[i]).collect();
    target.select(&kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array3};

    fn split(images: Vec<[u8; PIXELS]>) -> Split {
        let n = images.len();
        Split {
            images: Array3::from_shape_vec((n, IMAGE_SIZE, IMAGE_SIZE), images.concat()).unwrap(),
            labels: Array1::zeros(n),
        }
    }

    fn pattern(seed: u8) -> [u8; PIXELS] {
        std::array::from_fn(|i| ((i as u32 * 31 + seed as u32 * 97) % 256) as u8)
    }

    #[test]
    fn exact_and_near_overlaps() {
        let (p, q, r) = (pattern(1), pattern(2), pattern(3));
        let mut p_near = p;
        p_near[100] = p_near[100].wrapping_add(40); // mean |diff| = 40 / 255 / 784 ~ 0.0002
        let a = split(vec![p, q, q, r]);
        let b = split(vec![p_near, q]);
        assert_eq!(exact_overlap(&a, &b), 1, "q, counted once");
        assert_eq!(duplicates_within(&a), 1);
        assert_eq!(near_overlap(&a, &b, 0.001), 3, "p (near), q and its repeat");
        assert_eq!(
            near_overlap(&a, &b, 0.0001),
            2,
            "p_near too far at this tolerance"
        );
        assert_eq!(near_duplicates_within(&a, 0.001), 2);
        let clean = sanitize(&a, &[&b], None);
        assert_eq!(clean, split(vec![p, r]));
        let clean = sanitize(&a, &[&b], Some(0.001));
        assert_eq!(clean, split(vec![r]));
        let within = sanitize(&split(vec![p, p_near, q]), &[], Some(0.001));
        assert_eq!(within, split(vec![p, q]), "the first of near twins is kept");
    }
}
