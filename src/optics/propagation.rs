//! Free-space propagation by the band-limited angular spectrum method (Matsushima & Shimobaba,
//! Opt. Express 17, 19662 (2009)), and the sampling diagnostics that go with it.
//!
//! `H(f) = exp(i·2πz·(√(1/λ² − f²) − 1/λ))` on propagating frequencies (the global carrier
//! `e^{ikz}` is dropped), `exp(−2π|z|·√(f² − 1/λ²))` on evanescent ones. The phase reaches millions
//! of radians, so `H` is computed here in f64 and rounded once by the backends.

use num_complex::Complex;
use serde::Serialize;

use crate::grid::fft_freq;

/// The transfer function on an `nx × ny` (padded) grid of pitch `dx`, row-major `[ky][kx]` in
/// unshifted FFT order, with the band limit applied when `band_limit` is true.
pub fn transfer_function(
    nx: usize,
    ny: usize,
    dx: f64,
    wavelength: f64,
    z: f64,
    band_limit: bool,
) -> Vec<Complex<f64>> {
    let inv_l2 = 1.0 / (wavelength * wavelength);
    let (lim_x, lim_y) = band_limits(nx, ny, dx, wavelength, z);
    let mut h = Vec::with_capacity(nx * ny);
    for ky in 0..ny {
        let fy = fft_freq(ky, ny, dx);
        for kx in 0..nx {
            let fx = fft_freq(kx, nx, dx);
            if band_limit && (fx.abs() > lim_x || fy.abs() > lim_y) {
                h.push(Complex::new(0.0, 0.0));
                continue;
            }
            let f2 = fx * fx + fy * fy;
            if f2 < inv_l2 {
                // √(1/λ² − f²) − 1/λ written without cancellation.
                let kz = -f2 / ((inv_l2 - f2).sqrt() + 1.0 / wavelength);
                let phase = 2.0 * std::f64::consts::PI * z * kz;
                h.push(Complex::from_polar(1.0, phase));
            } else {
                let decay = (-2.0 * std::f64::consts::PI * z.abs() * (f2 - inv_l2).sqrt()).exp();
                h.push(Complex::new(decay, 0.0));
            }
        }
    }
    h
}

/// Band-limit frequencies `(f_x, f_y)` of Matsushima & Shimobaba for a padded grid:
/// `|f| ≤ 1/(λ·√((2·Δf·z)² + 1))` with `Δf = 1/(N·dx)`.
pub fn band_limits(nx: usize, ny: usize, dx: f64, wavelength: f64, z: f64) -> (f64, f64) {
    let lim = |n: usize| {
        let df = 1.0 / (n as f64 * dx);
        1.0 / (wavelength * ((2.0 * df * z).powi(2) + 1.0).sqrt())
    };
    (lim(nx), lim(ny))
}

/// What a propagation step's sampling can and cannot represent.
#[derive(Clone, Debug, Serialize)]
pub struct SamplingReport {
    /// Propagation distance in metres.
    pub distance: f64,
    /// Band-limit cut-off along x and y (cycles/m).
    pub cutoff: (f64, f64),
    /// Nyquist frequency of the grid, `1/(2·dx)` (cycles/m).
    pub nyquist: f64,
    /// Fraction of the padded grid's frequencies the band limit keeps.
    pub kept_fraction: f64,
    /// Fraction of the grid's frequencies that are evanescent (`f > 1/λ`).
    pub evanescent_fraction: f64,
    /// How far (m) the steepest represented ray moves sideways over the distance.
    pub lateral_spread: f64,
    /// The zero-padding margin on each side (m); light spreading further wraps around.
    pub margin: f64,
    /// Light is likely to wrap around the padded window.
    pub wraparound_likely: bool,
    /// The band limit removes most of the spectrum: the grid cannot represent the propagation.
    pub aliasing_likely: bool,
}

impl SamplingReport {
    /// Human-readable warnings; empty when the sampling is sound.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let mm = self.distance * 1e3;
        if self.aliasing_likely {
            w.push(format!(
                "free space {mm:.3} mm: the band limit keeps only {:.0}% of the spectrum (cut-off {:.3} of Nyquist); the grid cannot represent this propagation: shorten the distance, enlarge the padding, or use a finer pitch",
                100.0 * self.kept_fraction,
                self.cutoff.0.min(self.cutoff.1) / self.nyquist
            ));
        }
        if self.wraparound_likely {
            w.push(format!(
                "free space {mm:.3} mm: light can spread {:.3} mm sideways but the padding margin is {:.3} mm: expect wrap-around; increase the padding factor or shorten the distance",
                self.lateral_spread * 1e3,
                self.margin * 1e3
            ));
        }
        w
    }
}

/// Sampling diagnostics for propagating `distance` metres on an `nx × ny` grid of pitch `dx`
/// padded by the factor `pad`.
pub fn sampling_report(
    nx: usize,
    ny: usize,
    dx: f64,
    pad: f64,
    wavelength: f64,
    distance: f64,
) -> SamplingReport {
    let px = crate::grid::padded_len(nx, pad);
    let py = crate::grid::padded_len(ny, pad);
    let (lx, ly) = band_limits(px, py, dx, wavelength, distance);
    let nyquist = 0.5 / dx;
    let inv_l = 1.0 / wavelength;
    let mut kept = 0usize;
    let mut evanescent = 0usize;
    for ky in 0..py {
        let fy = fft_freq(ky, py, dx);
        for kx in 0..px {
            let fx = fft_freq(kx, px, dx);
            if fx.abs() <= lx && fy.abs() <= ly {
                kept += 1;
            }
            if fx * fx + fy * fy > inv_l * inv_l {
                evanescent += 1;
            }
        }
    }
    let total = (px * py) as f64;
    // Steepest ray the sampling keeps: sin θ = λ·f for the largest kept frequency.
    let fmax = nyquist.min(lx.min(ly));
    let sin_t = (wavelength * fmax).min(1.0);
    let lateral_spread = if sin_t >= 1.0 {
        f64::INFINITY
    } else {
        distance.abs() * sin_t / (1.0 - sin_t * sin_t).sqrt()
    };
    let margin = ((px - nx).min(py - ny) as f64 / 2.0) * dx;
    let kept_fraction = kept as f64 / total;
    SamplingReport {
        distance,
        cutoff: (lx, ly),
        nyquist,
        kept_fraction,
        evanescent_fraction: evanescent as f64 / total,
        lateral_spread,
        margin,
        wraparound_likely: lateral_spread > margin,
        aliasing_likely: kept_fraction < 0.5,
    }
}

/// Moves a transfer function `h` of the `px × py` padded grid (row-major `[ky][kx]`, unshifted)
/// to an `lx × ly` grid, so that for any `nx × ny` field `x`
/// `crop(F_l⁻¹(G·F_l(pad_l x))) = crop(F_p⁻¹(H·F_p(pad_p x)))` exactly (unitary-scaled inverse
/// transforms; the field may sit anywhere in either window). Each length must equal the padded
/// one or be at least `2n − 1` ([`crate::fft::AxisFft`]). Computed in f64.
///
/// # Panics
/// If `h` is not `px·py` long or a length breaks that rule.
#[allow(clippy::too_many_arguments)]
pub fn transfer_on_grid(
    h: &[Complex<f64>],
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    lx: usize,
    ly: usize,
) -> Vec<Complex<f64>> {
    assert_eq!(h.len(), px * py, "transfer_on_grid: h is not px·py long");
    assert!(
        (lx == px || lx + 1 >= 2 * nx) && (ly == py || ly + 1 >= 2 * ny),
        "transfer_on_grid: {lx}×{ly} cannot hold the {nx}×{ny} kernel of the {px}×{py} grid"
    );
    if (lx, ly) == (px, py) {
        return h.to_vec();
    }
    use crate::fft::{fft2_f64, Direction};
    // The kernel g = F_p⁻¹H (the inverse normalised by 1/(px·py)).
    let mut g = h.to_vec();
    fft2_f64(&mut g, px, py, Direction::Inverse, 1.0 / (px * py) as f64);
    // The offsets each axis uses: every residue when the length is kept, else |d| ≤ n − 1.
    let offsets = |n: usize, p: usize, l: usize| -> Vec<(usize, usize)> {
        if l == p {
            (0..p).map(|i| (i, i)).collect()
        } else {
            (-(n as i64 - 1)..=(n as i64 - 1))
                .map(|d| {
                    (
                        d.rem_euclid(p as i64) as usize,
                        d.rem_euclid(l as i64) as usize,
                    )
                })
                .collect()
        }
    };
    let mut gl = vec![Complex::new(0.0, 0.0); lx * ly];
    for &(sy, dy) in &offsets(ny, py, ly) {
        for &(sx, dx) in &offsets(nx, px, lx) {
            gl[dy * lx + dx] = g[sy * px + sx];
        }
    }
    fft2_f64(&mut gl, lx, ly, Direction::Forward, 1.0);
    gl
}
