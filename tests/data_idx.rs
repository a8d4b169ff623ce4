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

/// The copy compiled into the binary is the checkout's data, and it serves when the checkout's
/// folder is gone (a moved or deleted clone, an installed package): unpacked into the cache,
/// repaired when a file there is damaged, the same splits as the checkout's.
#[test]
fn the_compiled_copy_serves_without_the_checkout() {
    use wavetrain::data::idx::{bundled_dir_from, unpack_bundled, BUNDLED_FILES};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for (name, bytes) in BUNDLED_FILES {
        assert_eq!(std::fs::read(src.join(name)).unwrap(), bytes, "{name}");
    }
    let tmp = std::env::temp_dir().join(format!("wt-bundled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    // The checkout's folder when it holds the files.
    assert_eq!(bundled_dir_from(&src, &tmp), src);
    // Else the cache, unpacked.
    let gone = tmp.join("moved-clone").join("data");
    let dir = bundled_dir_from(&gone, &tmp.join("cache"));
    assert!(
        dir.starts_with(tmp.join("cache").join("wavetrain")),
        "{}",
        dir.display()
    );
    let (a, b) = (read_dir(&dir, 10).unwrap(), read_dir(&src, 10).unwrap());
    assert_eq!(a.0.labels, b.0.labels);
    assert_eq!(a.1.images.pixels, b.1.images.pixels);
    // A damaged or missing file is written again; intact ones are left as they are.
    let (n0, _) = BUNDLED_FILES[0];
    std::fs::write(dir.join(n0), b"truncated").unwrap();
    std::fs::remove_file(dir.join(BUNDLED_FILES[3].0)).unwrap();
    assert_eq!(bundled_dir_from(&gone, &tmp.join("cache")), dir);
    assert!(read_dir(&dir, 10).is_ok());
    // Two unpackers at once into one folder both succeed and leave whole files.
    let fresh = tmp.join("race");
    std::thread::scope(|s| {
        let h: Vec<_> = (0..2).map(|_| s.spawn(|| unpack_bundled(&fresh))).collect();
        for t in h {
            t.join().unwrap().unwrap();
        }
    });
    for (name, bytes) in BUNDLED_FILES {
        assert_eq!(std::fs::read(fresh.join(name)).unwrap(), bytes, "{name}");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
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

/// Input encoding against oracles: at the image's own size the bilinear taps are the identity;
/// a constant image stays constant; a horizontal ramp upsampled 2× stays a ramp between the
/// clamped edges (bilinear interpolation reproduces linear functions); everything outside the
/// centred window is dark; images are encoded independently of their batch position.
#[test]
fn encoding_places_and_resamples_images() {
    use wavetrain::data::encode_batch;
    use wavetrain::data::idx::Images;
    let (r, c) = (4usize, 6usize);
    let ramp: Vec<u8> = (0..r * c).map(|i| (i % c) as u8 * 40).collect();
    let noise: Vec<u8> = (0..r * c).map(|i| ((i * 73 + 11) % 256) as u8).collect();
    let constant = vec![200u8; r * c];
    let images = Images {
        count: 3,
        rows: r,
        cols: c,
        pixels: [noise.clone(), constant, ramp].concat(),
    };
    let amp = (9.0f64).sqrt() / 255.0;
    // A 6×6 window on a 10×9 grid: the 6 columns map one to one, the 4 rows are resampled to 6.
    let (nx, ny, size) = (10usize, 9usize, 6usize);
    let mut out = vec![f32::NAN; 3 * nx * ny];
    encode_batch(&images, &[0, 1, 2], nx, ny, size, 9.0, &mut out);
    let (ox, oy) = ((nx - size) / 2, (ny - size) / 2);
    for b in 0..3 {
        let img = &out[b * nx * ny..(b + 1) * nx * ny];
        for y in 0..ny {
            for x in 0..nx {
                let v = img[y * nx + x] as f64;
                let inside = (ox..ox + size).contains(&x) && (oy..oy + size).contains(&y);
                if !inside {
                    assert_eq!(v, 0.0, "image {b} ({x}, {y}) outside the window");
                    continue;
                }
                let (wx, wy) = (x - ox, y - oy);
                // Source row coordinate of this pixel centre (rows 4 → 6), clamped.
                let sy =
                    ((wy as f64 + 0.5) * r as f64 / size as f64 - 0.5).clamp(0.0, (r - 1) as f64);
                let want = match b {
                    // Columns 6 → 6: identity along x; linear along y between two rows.
                    0 => {
                        let (y0, f) = (sy.floor() as usize, sy - sy.floor());
                        let y1 = (y0 + 1).min(r - 1);
                        (1.0 - f) * noise[y0 * c + wx] as f64 + f * noise[y1 * c + wx] as f64
                    }
                    1 => 200.0,
                    // The ramp depends on x only, and x is the identity: 40·x.
                    _ => 40.0 * wx as f64,
                };
                assert!(
                    (v - want * amp).abs() < 1e-5,
                    "image {b} ({x}, {y}): {v} vs {}",
                    want * amp
                );
            }
        }
    }
    // Batch position does not matter: image 2 alone equals image 2 in the batch.
    let mut single = vec![f32::NAN; nx * ny];
    encode_batch(&images, &[2], nx, ny, size, 9.0, &mut single);
    assert_eq!(&single[..], &out[2 * nx * ny..]);
    // Upsampling the ramp 6 → 12 along x: interior pixel centres land at x_s = (i + ½)/2 − ½,
    // and the value is 40·x_s (clamped to [0, 5]).
    let (nx, ny, size) = (12usize, 12usize, 12usize);
    let mut up = vec![f32::NAN; nx * ny];
    encode_batch(&images, &[2], nx, ny, size, 9.0, &mut up);
    for i in 0..12 {
        let xs = ((i as f64 + 0.5) / 2.0 - 0.5).clamp(0.0, 5.0);
        let v = up[5 * nx + i] as f64;
        assert!(
            (v - 40.0 * xs * amp).abs() < 1e-5,
            "upsampled ramp at {i}: {v}"
        );
    }
}
