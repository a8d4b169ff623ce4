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
            let want = naive_dft2(&img, nx, ny, dir == Direction::Inverse);
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
