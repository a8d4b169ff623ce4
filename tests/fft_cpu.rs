//! The CPU 2-D FFT against a naive DFT, both precisions, square and non-square, batched, with a
//! dirty work buffer.
mod common;
use common::*;
use num_complex::Complex;
use wavetrain::cpu::Fft2;
use wavetrain::fft::Direction;
use wavetrain::Real;

#[test]
fn naive_dft_reference_is_right() {
    // A single frequency: the DFT of e^{2πi(3x/8 + 1y/4)} is √N at (3, 1) and zero elsewhere.
    let (nx, ny) = (8, 4);
    let x: Vec<Complex<f64>> = (0..nx * ny)
        .map(|i| {
            let (xx, y) = ((i % nx) as f64, (i / nx) as f64);
            Complex::from_polar(1.0, 2.0 * std::f64::consts::PI * (3.0 * xx / 8.0 + y / 4.0))
        })
        .collect();
    let f = naive_dft2(&x, nx, ny, false);
    for (i, v) in f.iter().enumerate() {
        let want = if i == nx + 3 { (32f64).sqrt() } else { 0.0 };
        assert!((v - Complex::new(want, 0.0)).norm() < 1e-9, "bin {i}: {v}");
    }
}

fn check_fft<T: Real>(nx: usize, ny: usize, batch: usize, rel: f64) {
    check_fft_with::<T>(nx, ny, batch, rel, naive_dft2)
}

type Reference = fn(&[Complex<f64>], usize, usize, bool) -> Vec<Complex<f64>>;

/// Forward and inverse transforms of a batch against `reference`, then the round trip, with the
/// plan's buffers dirtied by another transform first.
fn check_fft_with<T: Real>(nx: usize, ny: usize, batch: usize, rel: f64, reference: Reference) {
    let x: Vec<Complex<T>> = random_field(nx * ny * batch, (nx * 31 + ny) as u64);
    let mut plan = Fft2::<T>::new(nx, ny);
    // Dirty the work buffer with a transform of something else first.
    let mut junk: Vec<Complex<T>> = random_field(nx * ny * batch, 99);
    plan.process(&mut junk, Direction::Inverse);
    for dir in [Direction::Forward, Direction::Inverse] {
        let mut y = x.clone();
        plan.process(&mut y, dir);
        for b in 0..batch {
            let img = to_f64(&x[b * nx * ny..(b + 1) * nx * ny]);
            let want = reference(&img, nx, ny, dir == Direction::Inverse);
            let tol = rel * ((nx * ny) as f64).log2();
            assert_close(
                &y[b * nx * ny..(b + 1) * nx * ny],
                &want,
                tol,
                tol,
                &format!("{}×{} {:?} {}", nx, ny, dir, T::NAME),
            );
        }
    }
    // Round trip.
    let mut y = x.clone();
    plan.process(&mut y, Direction::Forward);
    plan.process(&mut y, Direction::Inverse);
    assert_close(&y, &x, rel * 20.0, rel * 20.0, "round trip");
}

#[test]
fn fft_matches_naive_dft_f64() {
    for (nx, ny, b) in [(16, 16, 1), (32, 8, 3), (12, 20, 2), (64, 64, 2), (2, 2, 1)] {
        check_fft::<f64>(nx, ny, b, 1e-13);
    }
}

#[test]
fn fft_matches_naive_dft_f32() {
    for (nx, ny, b) in [(16, 16, 1), (32, 8, 3), (12, 20, 2), (64, 32, 2)] {
        check_fft::<f32>(nx, ny, b, 2e-7);
    }
}

#[test]
fn fft_is_unitary() {
    let (nx, ny) = (64, 48);
    let x: Vec<Complex<f64>> = random_field(nx * ny * 2, 5);
    let mut y = x.clone();
    Fft2::<f64>::new(nx, ny).process(&mut y, Direction::Forward);
    assert!((power(&x) - power(&y)).abs() < 1e-10 * power(&x));
}

/// Naive unitary 2-D DFT in f64, one axis at a time (`O(nx·ny·(nx + ny))`, so that columns of
/// 2048 points stay affordable): rows, then columns, each a direct sum.
fn naive_dft2_by_axes(
    x: &[Complex<f64>],
    nx: usize,
    ny: usize,
    inverse: bool,
) -> Vec<Complex<f64>> {
    let sgn = if inverse { 1.0 } else { -1.0 };
    let line = |n: usize, get: &dyn Fn(usize) -> Complex<f64>| -> Vec<Complex<f64>> {
        (0..n)
            .map(|k| {
                (0..n)
                    .map(|j| {
                        let ph = sgn * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                        get(j) * Complex::from_polar(1.0, ph)
                    })
                    .sum()
            })
            .collect()
    };
    let mut rows = vec![Complex::new(0.0, 0.0); nx * ny];
    for y in 0..ny {
        let r = line(nx, &|j| x[y * nx + j]);
        rows[y * nx..(y + 1) * nx].copy_from_slice(&r);
    }
    let mut out = vec![Complex::new(0.0, 0.0); nx * ny];
    let norm = ((nx * ny) as f64).sqrt();
    for kx in 0..nx {
        let c = line(ny, &|j| rows[j * nx + kx]);
        for (ky, v) in c.into_iter().enumerate() {
            out[ky * nx + kx] = v / norm;
        }
    }
    out
}

#[test]
fn axis_by_axis_reference_matches_the_direct_one() {
    let (nx, ny) = (6, 8);
    let x: Vec<Complex<f64>> = random_field(nx * ny, 3);
    for inverse in [false, true] {
        let a = naive_dft2(&x, nx, ny, inverse);
        let b = naive_dft2_by_axes(&x, nx, ny, inverse);
        assert_close(&b, &a, 1e-12, 1e-12, "axis by axis");
    }
}

/// `f32` images whose columns are powers of two of 8 to 2048 points: on processors with AVX-512F
/// or AVX2 and FMA the columns run across vector lanes (strips of 16 or 8, the last one partial
/// when the width is not a multiple); small transforms on the calling thread (under 2¹⁵
/// samples), larger ones pass by pass across the cores (batch 1 of 200×256 and 256×256) or image
/// by image (batch 9); forward, inverse, a custom scale and the round trip, against the naive DFT.
#[test]
fn f32_power_of_two_columns_match_naive_dft() {
    match wavetrain::cpu::strip_lanes() {
        Some(l) => eprintln!("columns across {l} lanes"),
        None => eprintln!("no strips on this processor: rustfft's columns are tested"),
    }
    for (nx, ny) in [
        (3, 8),
        (16, 16),
        (20, 32),
        (33, 64),
        (100, 128),
        (128, 128),
        (17, 256),
        (200, 256),
        (256, 256),
        (40, 512),
        (5, 1024),
        (9, 2048),
    ] {
        for batch in [1, 9] {
            if (ny >= 1024 || nx >= 200) && batch > 1 {
                continue;
            }
            check_fft_with::<f32>(nx, ny, batch, 2e-7, naive_dft2_by_axes);
        }
    }
}

/// `f64` of the same shapes (always rustfft): the path the strips replace in `f32`; on the
/// calling thread, pass by pass (130×256, over 2¹⁵ samples) and image by image (batch 9).
#[test]
fn f64_power_of_two_columns_match_naive_dft() {
    for (nx, ny, batch) in [
        (3, 8, 1),
        (20, 32, 9),
        (17, 256, 2),
        (130, 256, 1),
        (9, 2048, 1),
    ] {
        check_fft_with::<f64>(nx, ny, batch, 1e-13, naive_dft2_by_axes);
    }
}

/// `process_scaled` folds its scale into the transform: the unnormalised forward transform times
/// 0.5 is `0.5·√(nx·ny)` times the unitary one.
#[test]
fn scaled_transform_is_the_unitary_one_rescaled() {
    for (nx, ny) in [(24, 64), (7, 32)] {
        let x: Vec<Complex<f32>> = random_field(nx * ny * 3, 11);
        let mut plan = Fft2::<f32>::new(nx, ny);
        for dir in [Direction::Forward, Direction::Inverse] {
            let mut a = x.clone();
            plan.process(&mut a, dir);
            let mut b = x.clone();
            plan.process_scaled(&mut b, dir, 0.5);
            let k = 0.5 * ((nx * ny) as f64).sqrt();
            let want: Vec<Complex<f64>> = to_f64(&a).iter().map(|v| v * k).collect();
            assert_close(&b, &want, 1e-6, 1e-6, &format!("{nx}×{ny} {dir:?} scaled"));
        }
    }
}
