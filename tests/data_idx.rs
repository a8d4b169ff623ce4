//! The IDX reader: the bundled data, and every malformed input named with its file.
use std::io::Write;
use wavetrain::data::idx::{parse_images, parse_labels, read_dir, read_split};
use wavetrain::Error;

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn bundled_subset_reads() {
    let (train, test) = read_dir(&wavetrain::data::idx::bundled_dir(), 10).unwrap();
    assert_eq!((train.len(), test.len()), (4000, 500));
    assert_eq!((train.images.rows, train.images.cols), (28, 28));
    for c in 0..10u8 {
        assert_eq!(train.labels.iter().filter(|&&l| l == c).count(), 400);
        assert_eq!(test.labels.iter().filter(|&&l| l == c).count(), 50);
    }
}

#[test]
fn malformed_files_are_clear_errors() {
    let p = std::path::Path::new("x.idx");
    let msg = |e: Error| e.to_string();
    assert!(msg(parse_images(p, &[0, 0]).unwrap_err()).contains("too short"));
    assert!(msg(parse_images(p, &idx(&[1, 2, 2], &[0; 4])[..])
        .map(|_| ())
        .and(parse_images(p, &[1, 2, 8, 3, 0, 0, 0, 0]).map(|_| ()))
        .unwrap_err())
    .contains("magic"));
    assert!(msg(parse_images(p, &idx(&[2, 2], &[0; 4])).unwrap_err()).contains("dimensions"));
    // Declared sizes beyond the data: truncated, and never allocated.
    let e = msg(parse_images(p, &idx(&[u32::MAX, 4096, 4096], &[0; 16])).unwrap_err());
    assert!(e.contains("truncated") && e.contains("x.idx"), "{e}");
    assert!(msg(parse_images(p, &idx(&[2, 2, 2], &[0; 7])).unwrap_err()).contains("truncated"));
    assert!(
        msg(parse_labels(p, &idx(&[3], &[1, 12, 2]), 10).unwrap_err())
            .contains("label 12 at index 1")
    );
    let mut bad_type = idx(&[1], &[0]);
    bad_type[2] = 0x0d;
    assert!(msg(parse_labels(p, &bad_type, 10).unwrap_err()).contains("unsigned bytes"));
}

#[test]
fn corrupt_gzip_and_mismatched_pairs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let im = dir.path().join("train-images-idx3-ubyte.gz");
    let lb = dir.path().join("train-labels-idx1-ubyte");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&idx(&[2, 2, 2], &[7; 8])).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&im, &bytes[..bytes.len() - 6]).unwrap(); // truncated gzip
    std::fs::write(&lb, idx(&[2], &[0, 1])).unwrap();
    let e = read_split(&im, &lb, 10).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
    std::fs::write(&im, &bytes).unwrap();
    let ok = read_split(&im, &lb, 10).unwrap();
    assert_eq!(ok.images.image(1), &[7, 7, 7, 7]);
    std::fs::write(&lb, idx(&[3], &[0, 1, 2])).unwrap();
    assert!(read_split(&im, &lb, 10)
        .unwrap_err()
        .to_string()
        .contains("do not belong together"));
    let e = read_dir(dir.path(), 10).unwrap_err().to_string();
    assert!(e.contains("t10k-images-idx3-ubyte"), "{e}");
}
