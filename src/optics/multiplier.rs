//! The optical matrix–vector multiplier of a dense layer, simulated with wave optics.
//!
//! Layout (Spall et al., Adv. Photon. 7, 016004 (2025), after the multiplier of Spall et al.,
//! Opt. Lett. 45, 5752 (2020)): the input vector `a` is shown on one row of an input SLM; along
//! `y` a cylindrical lens fans each input pixel out over the `m` rows of the weight SLM, along `x`
//! the input row is imaged onto the weight SLM's columns; the weight SLM multiplies pixel by pixel;
//! a second cylindrical lens Fourier-transforms every row along `x`, and a detector at zero
//! frequency reads the row sum `z_i = Σ_j W_ij a_j`.
//!
//! The physics is linear and separable in `x` and `y`, so the whole field simulation reduces
//! exactly to `z = diag(r) · W · C · a`:
//! - `C` (column coupling): the field of input column `j'` imaged through the pupil (numerical
//!   aperture `NA`: spatial frequencies `|f| ≤ NA/λ`) and integrated over the active area of weight
//!   column `j`, divided by what a perfect imaging gives. Translation invariant: `C_jj' = h[j−j']`.
//! - `r` (row gains): the fan-out field `sinc(h·y/(λ f))` of an input pixel of active height `h`
//!   behind a cylindrical lens of focal length `f`, averaged over the active area of row `i`.
//!
//! At ideal settings (fill factor 1, unlimited aperture, uniform fan-out) `C = I` and `r = 1`.
//! [`Multiplier::simulate`] runs the field simulation itself (1-D FFTs along `x` on the sampled
//! grid) and is what the factorisation is tested against.

use num_complex::Complex64;
use rustfft::FftPlanner;

/// Geometry of one multiplier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Multiplier {
    /// Wavelength in metres.
    pub wavelength: f64,
    /// SLM pixel pitch in metres (input and weight SLMs).
    pub pitch: f64,
    /// Fraction of each pixel's side that modulates, `(0, 1]`.
    pub fill_factor: f64,
    /// Numerical aperture of the input-to-weight imaging along `x` (`None`: unlimited).
    pub na: Option<f64>,
    /// Focal length of the fan-out lens (`None`: uniform fan-out).
    pub fanout_focal_length: Option<f64>,
    /// Grid samples per SLM pixel.
    pub samples: usize,
}

/// `sin(πx)/(πx)`.
fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let p = std::f64::consts::PI * x;
        p.sin() / p
    }
}

impl Multiplier {
    /// Weight of each of the `samples` cells of one pixel: the overlap of the cell with the
    /// pixel's centred active interval, as a fraction of the cell.
    pub fn aperture(&self) -> Vec<f64> {
        let k = self.samples.max(1);
        let lo = 0.5 - 0.5 * self.fill_factor;
        let hi = 0.5 + 0.5 * self.fill_factor;
        (0..k)
            .map(|s| {
                let (a, b) = (s as f64 / k as f64, (s + 1) as f64 / k as f64);
                ((b.min(hi) - a.max(lo)).max(0.0)) * k as f64
            })
            .collect()
    }

    fn padded_len(&self, n: usize) -> usize {
        (2 * n * self.samples.max(1)).next_power_of_two().max(2)
    }

    /// Images a sampled row through the pupil (in place): FFT, keep `|f| ≤ NA/λ`, inverse FFT.
    fn image_row(&self, row: &mut [Complex64], planner: &mut FftPlanner<f64>) {
        let Some(na) = self.na else { return };
        let n = row.len();
        let dxs = self.pitch / self.samples.max(1) as f64;
        let cut = na / self.wavelength;
        planner.plan_fft_forward(n).process(row);
        for (q, v) in row.iter_mut().enumerate() {
            let qq = if q <= n / 2 {
                q as f64
            } else {
                q as f64 - n as f64
            };
            if (qq / (n as f64 * dxs)).abs() > cut {
                *v = Complex64::new(0.0, 0.0);
            }
        }
        planner.plan_fft_inverse(n).process(row);
        let inv = 1.0 / n as f64;
        row.iter_mut().for_each(|v| *v *= inv);
    }

    /// Column coupling kernel `h[d]`, `d = −(n−1)..=n−1`, stored at index `d + n − 1`.
    pub fn column_kernel(&self, n: usize) -> Vec<f64> {
        let k = self.samples.max(1);
        let ap = self.aperture();
        let s2: f64 = ap.iter().map(|v| v * v).sum();
        let len = self.padded_len(n);
        let mut row = vec![Complex64::new(0.0, 0.0); len];
        for (s, &w) in ap.iter().enumerate() {
            row[s] = Complex64::new(w, 0.0);
        }
        let mut planner = FftPlanner::new();
        self.image_row(&mut row, &mut planner);
        let mut h = vec![0.0; 2 * n - 1];
        for d in -(n as isize - 1)..=(n as isize - 1) {
            let mut acc = 0.0;
            for (s, &w) in ap.iter().enumerate() {
                let x = (d * k as isize + s as isize).rem_euclid(len as isize) as usize;
                acc += w * row[x].re;
            }
            h[(d + n as isize - 1) as usize] = acc / s2;
        }
        h
    }

    /// The `n × n` coupling matrix `C` (row-major), `C[j][j'] = h[j − j']`.
    pub fn coupling_matrix(&self, n: usize) -> Vec<f64> {
        let h = self.column_kernel(n);
        let mut c = vec![0.0; n * n];
        for j in 0..n {
            for jp in 0..n {
                c[j * n + jp] = h[j + n - 1 - jp];
            }
        }
        c
    }

    /// Fan-out field at height `y` (metres) from the centre, relative to the centre.
    fn fanout(&self, y: f64) -> f64 {
        match self.fanout_focal_length {
            None => 1.0,
            Some(f) => sinc(self.fill_factor * self.pitch * y / (self.wavelength * f)),
        }
    }

    /// Row gains `r_i` for `m` rows centred on the optical axis.
    pub fn row_gains(&self, m: usize) -> Vec<f64> {
        let k = self.samples.max(1);
        let ap = self.aperture();
        let s1: f64 = ap.iter().sum();
        (0..m)
            .map(|i| {
                let mut acc = 0.0;
                for (s, &w) in ap.iter().enumerate() {
                    acc += w * self.fanout(self.sample_y(i, s, m, k));
                }
                acc / s1
            })
            .collect()
    }

    fn sample_y(&self, i: usize, s: usize, m: usize, k: usize) -> f64 {
        (i as f64 - 0.5 * (m as f64 - 1.0)) * self.pitch
            + ((s as f64 + 0.5) / k as f64 - 0.5) * self.pitch
    }

    /// Largest off-diagonal coupling relative to the diagonal, and the spread of the row gains
    /// `1 − min r / max r`: the cross-talk and non-uniformity this geometry gives.
    pub fn crosstalk(&self, n: usize, m: usize) -> (f64, f64) {
        let h = self.column_kernel(n);
        let centre = h[n - 1];
        let off = h
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != n - 1)
            .fold(0.0f64, |acc, (_, v)| acc.max(v.abs()));
        let r = self.row_gains(m);
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        (off / centre.abs().max(1e-300), 1.0 - lo / hi)
    }

    /// Full field simulation of `z = M(W) a` for one input vector: the input row sampled on the
    /// grid, imaged along `x` through the pupil, fanned out along `y`, multiplied by the sampled
    /// weight SLM (dead zones opaque), Fourier-transformed along `x` by the summing lens and read
    /// at zero frequency, each detector integrating its row. `w` is row-major `[m][n]`.
    pub fn simulate(&self, w: &[f64], a: &[f64], m: usize, n: usize) -> Vec<f64> {
        assert_eq!(w.len(), m * n, "simulate: W is not m×n");
        assert_eq!(a.len(), n, "simulate: a is not n long");
        let k = self.samples.max(1);
        let ap = self.aperture();
        let (s1, s2): (f64, f64) = (ap.iter().sum(), ap.iter().map(|v| v * v).sum());
        let len = self.padded_len(n);
        let mut planner = FftPlanner::new();
        // Input row on the grid, imaged onto the weight SLM along x.
        let mut ax = vec![Complex64::new(0.0, 0.0); len];
        for (j, &aj) in a.iter().enumerate() {
            for (s, &wt) in ap.iter().enumerate() {
                ax[j * k + s] = Complex64::new(aj * wt, 0.0);
            }
        }
        self.image_row(&mut ax, &mut planner);
        let fft = planner.plan_fft_forward(len);
        let mut field = vec![Complex64::new(0.0, 0.0); len];
        let mut z = vec![0.0; m];
        for (i, zi) in z.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (sy, &wy) in ap.iter().enumerate() {
                let fan = self.fanout(self.sample_y(i, sy, m, k));
                field.iter_mut().for_each(|v| *v = Complex64::new(0.0, 0.0));
                for j in 0..n {
                    for (sx, &wx) in ap.iter().enumerate() {
                        let x = j * k + sx;
                        field[x] = ax[x] * (fan * w[i * n + j] * wx * wy);
                    }
                }
                // The summing lens: a DFT along x, read at zero frequency (rustfft's forward
                // transform is unnormalised, so bin 0 is the row's integrated field).
                fft.process(&mut field);
                acc += field[0].re;
            }
            *zi = acc / (s1 * s2);
        }
        z
    }
}
