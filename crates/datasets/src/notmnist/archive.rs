//! Reading the notMNIST archives: the PNGs of each class folder, straight from the gzipped tar,
//! and the structural checks that stand in for a published digest.

use super::*;

/// Decodes one notMNIST PNG: 8-bit (or expandable) grayscale, 28x28.
pub fn decode_png(bytes: &[u8]) -> std::result::Result<[u8; PIXELS], String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("not a valid PNG ({e})"))?;
    let (w, h) = (reader.info().width, reader.info().height);
    if (w, h) != (IMAGE_SIZE as u32, IMAGE_SIZE as u32) {
        return Err(format!("image is {w}x{h}, expected 28x28"));
    }
    let size = reader
        .output_buffer_size()
        .ok_or("image too large to decode")?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("damaged PNG data ({e})"))?;
    let mut out = [0u8; PIXELS];
    match info.color_type {
        png::ColorType::Grayscale => {
            for (y, row) in out.chunks_exact_mut(IMAGE_SIZE).enumerate() {
                let line = &buf[y * info.line_size..y * info.line_size + IMAGE_SIZE];
                row.copy_from_slice(line);
            }
        }
        other => return Err(format!("color type {other:?}, expected grayscale")),
    }
    Ok(out)
}

/// The class of an archive member `.../X/name.png`, if it is one.
pub(super) fn class_of(path: &str) -> Option<(usize, &str)> {
    let mut parts = path.rsplit('/');
    let file = parts.next()?;
    let folder = parts.next()?;
    if !file.ends_with(".png") || file.starts_with("._") {
        return None;
    }
    let mut chars = folder.chars();
    let letter = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    LETTERS.iter().position(|&l| l == letter).map(|c| (c, file))
}

/// Walks the PNG members of an archive (gzip detected by content).
pub(super) fn for_each_png(
    path: &Path,
    f: impl FnMut(usize, &str, &[u8]),
) -> std::result::Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    for_each_png_in(BufReader::with_capacity(1 << 16, file), f)
}

/// Walks the PNG members of an archive read from `r` (gzip detected by content).
pub(super) fn for_each_png_in<R: std::io::BufRead>(
    mut r: R,
    mut f: impl FnMut(usize, &str, &[u8]),
) -> std::result::Result<(), String> {
    let gz = {
        let prefix = std::io::BufRead::fill_buf(&mut r).map_err(|e| format!("cannot read: {e}"))?;
        crate::idx::is_gzip(prefix)
    };
    let reader: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(r))
    } else {
        Box::new(r)
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive ({e})"))?;
    let mut buf = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("damaged archive ({e})"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("bad member name ({e})"))?
            .to_string_lossy()
            .into_owned();
        let Some((class, _)) = class_of(&name) else {
            continue;
        };
        buf.clear();
        // notMNIST PNGs are well under a kilobyte; a huge member is not one of them.
        (&mut entry)
            .take(MAX_PNG_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("damaged archive ({e})"))?;
        // Drain the rest of an oversized member so the tar stream stays aligned.
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| format!("damaged archive ({e})"))?;
        f(class, &name, &buf);
    }
    Ok(())
}

pub(super) const MAX_PNG_BYTES: u64 = 1 << 20;

pub(super) fn parse_archive(path: &Path) -> Result<NotMnist> {
    let file = File::open(path).map_err(|e| DatasetError::Archive {
        path: path.to_path_buf(),
        what: format!("cannot open: {e}"),
    })?;
    parse_archive_from(BufReader::with_capacity(1 << 16, file), path)
}

/// Parses the archive read from `r`; `path` names it in messages.
pub(super) fn parse_archive_from<R: std::io::BufRead>(r: R, path: &Path) -> Result<NotMnist> {
    let started = Instant::now();
    let mut items: Vec<(usize, String, [u8; PIXELS])> = Vec::new();
    let mut skipped = Vec::new();
    for_each_png_in(r, |class, name, bytes| {
        let decoded = if bytes.len() as u64 > MAX_PNG_BYTES {
            Err("larger than 1 MiB, not a notMNIST image".to_string())
        } else {
            decode_png(bytes)
        };
        match decoded {
            Ok(px) => items.push((class, name.to_string(), px)),
            Err(reason) => {
                eprintln!("warning: notMNIST: skipping unreadable {name}: {reason}");
                skipped.push(SkippedFile {
                    path: name.to_string(),
                    reason,
                });
            }
        }
    })
    .map_err(|what| DatasetError::Archive {
        path: path.to_path_buf(),
        what,
    })?;
    // Archive order is arbitrary; the course sorts file names within each class.
    items.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let n = items.len();
    let mut images = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (c, _, px) in &items {
        images.extend_from_slice(px);
        labels.push(*c as u8);
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: notMNIST: {} unreadable file(s) skipped in {} ({} images read in {:.1?})",
            skipped.len(),
            path.display(),
            n,
            started.elapsed()
        );
    }
    Ok(NotMnist {
        images: Array3::from_shape_vec((n, IMAGE_SIZE, IMAGE_SIZE), images).expect("sizes agree"),
        labels: Array1::from_vec(labels),
        skipped,
    })
}

/// Non-empty PNG members per class: the structural fingerprint used to verify archives.
pub fn archive_file_counts(path: &Path) -> std::result::Result<[usize; 10], String> {
    let mut counts = [0usize; 10];
    for_each_png(path, |class, _, bytes| {
        if !bytes.is_empty() {
            counts[class] += 1;
        }
    })?;
    Ok(counts)
}

pub(super) fn verify_small_archive(path: &Path) -> std::result::Result<(), String> {
    let counts = archive_file_counts(path)?;
    if counts != SMALL_CLASS_COUNTS {
        return Err(format!(
            "non-empty PNGs per class A-J are {counts:?}, expected {SMALL_CLASS_COUNTS:?}"
        ));
    }
    Ok(())
}

pub(super) fn verify_large_archive(path: &Path) -> std::result::Result<(), String> {
    let counts = archive_file_counts(path)?;
    if let Some(c) = counts.iter().position(|&n| n < LARGE_MIN_PER_CLASS) {
        return Err(format!(
            "class {} has {} non-empty PNGs, expected at least {LARGE_MIN_PER_CLASS}",
            LETTERS[c], counts[c]
        ));
    }
    Ok(())
}

/// Checks a notMNIST archive that is already present (same checks as after a download).
pub fn verify_archive(path: &Path, large: bool) -> Result<()> {
    let check = if large {
        NOTMNIST_LARGE.check
    } else {
        NOTMNIST_SMALL.check
    };
    verify_present(path, &check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_member_names() {
        assert_eq!(
            class_of("notMNIST_small/A/MDEtMDEtMDAudHRm.png"),
            Some((0, "MDEtMDEtMDAudHRm.png"))
        );
        assert_eq!(class_of("notMNIST_large/J/x.png"), Some((9, "x.png")));
        assert_eq!(class_of("notMNIST_small/K/x.png"), None);
        assert_eq!(class_of("notMNIST_small/A/._x.png"), None);
        assert_eq!(class_of("notMNIST_small/A/readme.txt"), None);
        assert_eq!(class_of("x.png"), None);
    }
}
