//! Inputs a researcher can trust: a gzipped IDX file is checked against its header while it is
//! streamed (a huge declared size or a zero-padded tail is refused without decompressing it into
//! memory), a duplicate TOML key is named, `--set` errors name the `--set KEY=VALUE` the user gave
//! (never a line of the TOML it builds internally), and `sampling --distance` must be positive.
use std::io::Write;

use wavetrain::data::idx::read_split;
mod common;
use common::{stderr_of, wavetrain_bin};

fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// Gzip of `head` followed by `zeros` zero bytes, compressed chunk by chunk (small memory).
fn gzip_padded(head: &[u8], zeros: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(head).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        gz.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    gz.finish().unwrap()
}

/// The peak resident memory of this process so far, bytes (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

const PAD: usize = 256 << 20; // 256 MiB of zeros: about 250 KiB compressed
const MEMORY_BOUND: u64 = 64 << 20;

#[test]
fn gzipped_idx_is_checked_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels");
    std::fs::write(&labels, [idx_header(&[10]), vec![0; 10]].concat()).unwrap();

    // A header that claims 2^31 images of 28×28 (far over the 4 GiB limit), then zeros.
    let huge = dir.path().join("huge-images.gz");
    std::fs::write(&huge, gzip_padded(&idx_header(&[1 << 31, 28, 28]), PAD)).unwrap();
    // A valid header for 10 images of 1×1, their 10 bytes, then 256 MiB of zero padding.
    let padded = dir.path().join("padded-images.gz");
    std::fs::write(
        &padded,
        gzip_padded(&[idx_header(&[10, 1, 1]), vec![3; 10]].concat(), PAD),
    )
    .unwrap();

    let before = peak_rss();
    let t = std::time::Instant::now();
    let huge_err = read_split(&huge, &labels, 10).unwrap_err().to_string();
    let huge_secs = t.elapsed().as_secs_f64();
    let padded_err = read_split(&padded, &labels, 10).unwrap_err().to_string();
    let grew = peak_rss().saturating_sub(before);
    assert!(
        grew < MEMORY_BOUND,
        "reading the two files raised the peak memory by {} MiB: the padding was decompressed into memory",
        grew >> 20
    );
    assert!(
        huge_secs < 0.5,
        "refusing a header over the limit took {huge_secs:.2} s: it must not decompress the rest"
    );
    assert!(
        huge_err.contains("huge-images.gz") && huge_err.contains("limit"),
        "header over the limit: {huge_err}"
    );
    assert!(
        padded_err.contains("padded-images.gz") && padded_err.contains("more data than"),
        "zero-padded file: {padded_err}"
    );
}

#[test]
fn raw_and_gzipped_idx_tails_and_short_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels");
    std::fs::write(&labels, [idx_header(&[2]), vec![0, 1]].concat()).unwrap();
    let im = dir.path().join("images");
    // Trailing bytes after the declared data (raw).
    std::fs::write(
        &im,
        [idx_header(&[2, 2, 2]), vec![1; 8], vec![0; 5]].concat(),
    )
    .unwrap();
    let e = read_split(&im, &labels, 10).unwrap_err().to_string();
    assert!(e.contains("images") && e.contains("more data than"), "{e}");
    // Short (raw and gzipped).
    std::fs::write(&im, [idx_header(&[2, 2, 2]), vec![1; 7]].concat()).unwrap();
    let e = read_split(&im, &labels, 10).unwrap_err().to_string();
    assert!(e.contains("images") && e.contains("truncated"), "{e}");
    let gz = dir.path().join("short.gz");
    std::fs::write(
        &gz,
        gzip_padded(&[idx_header(&[2, 2, 2]), vec![1; 7]].concat(), 0),
    )
    .unwrap();
    let e = read_split(&gz, &labels, 10).unwrap_err().to_string();
    assert!(e.contains("short.gz") && e.contains("truncated"), "{e}");
    // Exact (gzipped) still reads.
    std::fs::write(
        &gz,
        gzip_padded(&[idx_header(&[2, 2, 2]), vec![9; 8]].concat(), 0),
    )
    .unwrap();
    let ok = read_split(&gz, &labels, 10).unwrap();
    assert_eq!(ok.images.image(1), &[9, 9, 9, 9]);
}

#[test]
fn duplicate_toml_key_is_named_with_its_line() {
    let mut text = wavetrain::presets::preset_text("paper-mlp").to_string();
    let at = text.find("epochs = 20").expect("the preset sets epochs");
    text.insert_str(at, "epochs = 3\n");
    let line = text[..at].lines().count() + 2; // the second `epochs` line
    let e = wavetrain::model::Config::from_toml(&text, "my.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("my.toml") && e.contains(&format!("line {line}")),
        "{e}"
    );
    assert!(e.contains("duplicate") && e.contains("`epochs`"), "{e}");
}

#[test]
fn set_errors_name_the_set_not_internal_lines() {
    let cfg = wavetrain::presets::preset("paper-mlp").unwrap();
    for (key, value) in [
        ("lr", "abc"),
        ("train.no_such_key", "1"),
        ("epochs", "-3"),
        ("od", "-1"),
    ] {
        let e = cfg.set(key, value).unwrap_err().to_string();
        assert!(
            e.contains(&format!("--set {key}={value}")),
            "{key}={value}: {e}"
        );
        assert!(!e.contains("line "), "{key}={value}: {e}");
    }
    // Through the CLI, with exit code 2.
    let o = wavetrain_bin(&["train", "--preset", "paper-mlp", "--set", "lr=abc"]);
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--set lr=abc") && !err.contains("line "),
        "{err}"
    );
}

#[test]
fn sampling_refuses_a_distance_that_is_not_positive() {
    for d in ["-1", "0", "-0.001"] {
        let o = wavetrain_bin(&["sampling", "--distance", d]);
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(2), "--distance {d}: {err}");
        assert!(
            err.contains("--distance") && err.contains("positive"),
            "{err}"
        );
        assert!(o.stdout.is_empty(), "--distance {d} printed a report");
    }
    let o = wavetrain_bin(&["sampling", "--distance=-1e-3"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("--distance"));
    let o = wavetrain_bin(&["sampling", "--distance", "1e-3"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
}

/// A reader that counts the bytes handed out.
struct Counting<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

#[test]
fn the_stream_is_read_no_further_than_the_header_says() {
    use std::io::Read;
    use wavetrain::data::idx::read_idx;
    let p = std::path::Path::new("stream.idx");
    let count = std::rc::Rc::new(std::cell::Cell::new(0u64));
    // A header over the limit followed by an endless stream of zeros: only the header is read.
    let endless = std::io::Cursor::new(idx_header(&[1 << 31, 28, 28])).chain(std::io::repeat(0));
    let r = Counting {
        inner: endless,
        read: count.clone(),
    };
    let e = read_idx(p, r, 3).unwrap_err().to_string();
    assert!(e.contains("stream.idx") && e.contains("limit"), "{e}");
    assert_eq!(count.get(), 16, "read past the header");
    // A valid header, its data, then an endless tail: the data and one byte more.
    count.set(0);
    let tail = std::io::Cursor::new([idx_header(&[3, 2, 2]), vec![5; 12]].concat())
        .chain(std::io::repeat(0));
    let r = Counting {
        inner: tail,
        read: count.clone(),
    };
    let e = read_idx(p, r, 3).unwrap_err().to_string();
    assert!(e.contains("more data than"), "{e}");
    assert!(count.get() <= 16 + 12 + 8192, "read {} bytes", count.get());
    // The exact stream reads.
    let (dims, data) = read_idx(p, &[idx_header(&[3]), vec![1, 2, 3]].concat()[..], 1).unwrap();
    assert_eq!((dims, data), (vec![3], vec![1, 2, 3]));
    // Image sides are checked from the header too.
    let e = read_idx(p, &idx_header(&[1, 0, 5])[..], 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not supported"), "{e}");
}
