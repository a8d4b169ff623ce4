//! Lenses: the thin-lens phase and the 2f (Fourier-plane) geometry.

use crate::grid::Grid;

/// Thin-lens phase `φ(x, y) = −π(x² + y²)/(λf)` on the grid, row-major `[y][x]`.
pub fn thin_lens_phase(grid: &Grid, wavelength: f64, focal_length: f64) -> Vec<f64> {
    let k = -std::f64::consts::PI / (wavelength * focal_length);
    let mut p = Vec::with_capacity(grid.len());
    for n in 0..grid.ny {
        let y = grid.y(n);
        for m in 0..grid.nx {
            let x = grid.x(m);
            p.push(k * (x * x + y * y));
        }
    }
    p
}

/// Pixel pitch in the back focal plane of a 2f system: `λf/(N·dx)`.
pub fn fourier_pitch(n: usize, dx: f64, wavelength: f64, focal_length: f64) -> f64 {
    wavelength * focal_length / (n as f64 * dx)
}
