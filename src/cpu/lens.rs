//! The 2f lens on the CPU (mirrors `shaders/lens.wgsl`): the field in the back focal plane is the
//! centred, unitary 2-D Fourier transform of the field in the front focal plane, rescaled so that
//! power is conserved at the new pitch `λf/(N·dx)`.
//!
//! The centred DFT is `F_c = S·F·S` with `S` the half-length shift; for even `N` this equals
//! `(−1)^{N/2}·D·F·D` with `D = diag((−1)^m)`, so it is two checkerboard sign flips around a plain
//! FFT. It is symmetric (the probe pass re-uses it) and its adjoint is the inverse transform.
//! (The constant phase `−i` of a physical 2f system is dropped, like the free-space carrier.)

use num_complex::Complex;
use rayon::prelude::*;

use super::fft::{split_len, Fft2};
use crate::fft::Direction;
use crate::real::Real;

/// A planned 2f lens on `nx × ny` images (both even).
pub struct Lens2f<T: Real> {
    fft: Fft2<T>,
    /// Field scale `dx/dx_out` (power conserved at the new pitch).
    scale: f64,
    /// Output pitch `λf/(N·dx)` (uses `nx`; the grid is square for lens models).
    pitch_out: f64,
}

impl<T: Real> Lens2f<T> {
    /// Plans a 2f lens of focal length `focal_length` at `wavelength` on an `nx × ny` grid of pitch
    /// `dx`.
    ///
    /// # Panics
    /// If `nx` or `ny` is odd.
    pub fn new(nx: usize, ny: usize, dx: f64, wavelength: f64, focal_length: f64) -> Self {
        assert!(
            nx.is_multiple_of(2) && ny.is_multiple_of(2),
            "Lens2f: grid sides must be even, got {nx}×{ny}"
        );
        let pitch_out = crate::optics::lens::fourier_pitch(nx, dx, wavelength, focal_length);
        Lens2f {
            fft: Fft2::new(nx, ny),
            scale: dx / pitch_out,
            pitch_out,
        }
    }

    /// Pixel pitch in the back focal plane.
    pub fn pitch_out(&self) -> f64 {
        self.pitch_out
    }

    /// Pump and probe action (the operator is symmetric).
    pub fn apply(&mut self, data: &mut [Complex<T>]) {
        self.run(data, Direction::Forward, self.scale);
    }

    /// The adjoint `Mᴴ` (the inverse transform with the same real scale `dx/dx_out`; the exact
    /// inverse is this times `(dx_out/dx)²`).
    pub fn apply_adjoint(&mut self, data: &mut [Complex<T>]) {
        self.run(data, Direction::Inverse, self.scale);
    }

    fn run(&mut self, data: &mut [Complex<T>], dir: Direction, scale: f64) {
        let (nx, ny) = (self.fft.nx(), self.fft.ny());
        let sign = if (nx / 2 + ny / 2) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        checkerboard(data, nx, ny);
        let unit = 1.0 / ((nx * ny) as f64).sqrt();
        self.fft
            .process_scaled(data, dir, T::of(sign * scale * unit));
        checkerboard(data, nx, ny);
    }
}

/// Multiplies pixel `(x, y)` by `(−1)^{x+y}`.
fn checkerboard<T: Real>(data: &mut [Complex<T>], nx: usize, ny: usize) {
    data.par_chunks_mut(nx)
        .with_min_len(split_len(1))
        .enumerate()
        .for_each(|(i, row)| {
            let y = i % ny;
            for (x, v) in row.iter_mut().enumerate() {
                if (x + y) % 2 == 1 {
                    *v = -*v;
                }
            }
        });
}
