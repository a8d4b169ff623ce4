//! The SLM of a real device (f64, shared by the backends): its phase response (a phase range
//! below 2π, a bit depth, a measured lookup table), pixel cross-talk (fringing) and fill factor,
//! as the map from the trained parameters to the complex transmission the device shows on the
//! grid, with that map's gradient (chain rule, DESIGN §4 conventions).
//!
//! **The map.** For each SLM pixel `p` holding the commanded phase `φ_p` (phase SLMs):
//! 1. `w = mod(φ_p, 2π)`;
//! 2. `phase_bits = b`: `w ← (2π/L)·(round(w·L/2π) mod L)`, `L = 2^b` levels over one turn;
//! 3. the response: `phase_range = R`: shown phase `ψ = w·R/2π`, amplitude `a = 1`; a lookup
//!    table `(level ℓ_i, phase ψ_i, amplitude a_i)`: the controller drives the level
//!    `λ = ℓ_0 + (w/2π)·(ℓ_last − ℓ_0)` (a controller calibrated for an ideal device), and `ψ`,
//!    `a` are the table's, interpolated linearly in level (so a linear table
//!    `ψ_i = 2π(ℓ_i − ℓ_0)/(ℓ_last − ℓ_0)` is the ideal SLM);
//! 4. on the grid (each SLM pixel `k × k` samples) the shown phase is smoothed by a normalised
//!    Gaussian of standard deviation `fringing·k` samples, edges replicated (a uniform phase
//!    stays uniform; a 2π wrap becomes a ramp through every phase, as LCoS fringing fields do);
//! 5. fill factor `f`: each sample is covered by the pixel's centred active square of side
//!    `√f` pixels by a fraction `c ∈ [0, 1]` (the exact area overlap), and the transmission is
//!    `m = c·a·e^{iψ} + (1 − c)·d`, the dead zone `d = 1` (unmodulated) for a phase SLM.
//!
//! Amplitude SLMs skip steps 1–3 (their weight is shown as it is), smooth the weight in step 4
//! and have a dead zone `d = 0` (blocked).
//!
//! **The gradient.** With `c_g = Σ b·v` the correlation of probe and pump on the grid (the
//! existing convention `∂L/∂θ = 2·Re(Σ ∂m/∂θ · c_g)`), `g = c·c_g`, then
//! `∂L/∂ψ_g = −2·Im(a·e^{iψ}·g)`, `∂L/∂a_g = 2·Re(e^{iψ}·g)`, back through the smoothing's
//! transpose and summed over each pixel's samples, and
//! `∂L/∂φ_p = ψ'(φ_p)·∂L/∂ψ_p + a'(φ_p)·∂L/∂a_p`. Quantisation (step 2) is passed
//! straight through (its derivative taken as 1, the convention of quantisation-aware training);
//! `ψ'` is `R/2π` for a range and the table's slope (times `(ℓ_last − ℓ_0)/2π`) for a table.

use num_complex::Complex;
use std::f64::consts::TAU;

use crate::error::{Error, Result};

/// A measured SLM lookup table: drive level → phase (radians) and amplitude.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Lut {
    /// Drive levels, strictly increasing.
    pub level: Vec<f64>,
    /// Phase shown at each level, radians.
    pub phase: Vec<f64>,
    /// Amplitude at each level (1 when the table has no amplitude column).
    pub amplitude: Vec<f64>,
}

impl Lut {
    /// Parses CSV text `level,phase[,amplitude]` (a header line of those names is optional);
    /// `key` names the option in errors.
    pub fn parse(text: &str, key: &str) -> Result<Lut> {
        let bad = |line: usize, m: String| Error::config(key, format!("line {line}: {m}"));
        let mut lut = Lut {
            level: Vec::new(),
            phase: Vec::new(),
            amplitude: Vec::new(),
        };
        let mut cols = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if lut.level.is_empty() && cols.is_none() && fields[0].parse::<f64>().is_err() {
                let names: Vec<String> = fields.iter().map(|f| f.to_lowercase()).collect();
                let ok = names == ["level", "phase"] || names == ["level", "phase", "amplitude"];
                if !ok {
                    return Err(bad(i + 1, format!("the header {line:?} is not `level,phase` or `level,phase,amplitude`: give those columns in that order")));
                }
                cols = Some(names.len());
                continue;
            }
            let n = *cols.get_or_insert(fields.len());
            if fields.len() != n || !(2..=3).contains(&n) {
                return Err(bad(
                    i + 1,
                    format!(
                        "{} columns where {} were expected: give `level,phase` or `level,phase,amplitude` on every line",
                        fields.len(),
                        if (2..=3).contains(&n) { n } else { 2 }
                    ),
                ));
            }
            let mut v = [0.0, 0.0, 1.0];
            for (j, f) in fields.iter().enumerate() {
                v[j] = f
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(i + 1, format!("{f:?} is not a finite number")))?;
            }
            if let Some(&last) = lut.level.last() {
                if v[0] <= last {
                    return Err(bad(i + 1, format!("level {} does not follow level {last}: the levels must increase strictly (sort the table by level)", v[0])));
                }
            }
            if !(0.0..=1e3).contains(&v[2]) {
                return Err(bad(
                    i + 1,
                    format!("amplitude {} is not in [0, 1000]", v[2]),
                ));
            }
            lut.level.push(v[0]);
            lut.phase.push(v[1]);
            lut.amplitude.push(v[2]);
        }
        if lut.level.len() < 2 {
            return Err(Error::config(
                key,
                "the table has fewer than two levels: give at least two `level,phase` rows",
            ));
        }
        Ok(lut)
    }

    /// Reads and parses a lookup-table file.
    pub fn read(path: &str, key: &str) -> Result<Lut> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                key,
                format!("cannot read the lookup table {path:?}: {e} (the path is relative to the working directory)"),
            )
        })?;
        Self::parse(&text, key)
    }

    /// A linear table of `n` levels over one turn (the ideal SLM), for tests.
    pub fn linear(n: usize) -> Lut {
        let l = (n - 1) as f64;
        Lut {
            level: (0..n).map(|i| i as f64).collect(),
            phase: (0..n).map(|i| TAU * i as f64 / l).collect(),
            amplitude: vec![1.0; n],
        }
    }

    /// `(ψ, a, dψ/dw, da/dw)` at the wrapped commanded phase `w ∈ [0, 2π)`.
    fn at(&self, w: f64) -> (f64, f64, f64, f64) {
        let (l0, l1) = (self.level[0], self.level[self.level.len() - 1]);
        let span = l1 - l0;
        let lam = l0 + w / TAU * span;
        // The segment holding λ (the last one for λ = ℓ_last).
        let i = match self.level.partition_point(|&l| l <= lam) {
            0 => 0,
            j => (j - 1).min(self.level.len() - 2),
        };
        let (la, lb) = (self.level[i], self.level[i + 1]);
        let t = (lam - la) / (lb - la);
        let dpsi = (self.phase[i + 1] - self.phase[i]) / (lb - la) * span / TAU;
        let damp = (self.amplitude[i + 1] - self.amplitude[i]) / (lb - la) * span / TAU;
        (
            self.phase[i] + t * (self.phase[i + 1] - self.phase[i]),
            self.amplitude[i] + t * (self.amplitude[i + 1] - self.amplitude[i]),
            dpsi,
            damp,
        )
    }
}

/// The phase response of an SLM (steps 1–3 of the module doc).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Response {
    /// Phase reached for a commanded full turn (2π: ideal).
    pub range: f64,
    /// Bit depth (absent: continuous).
    pub bits: Option<u32>,
    /// A measured lookup table (replaces `range`).
    pub lut: Option<Lut>,
}

impl Default for Response {
    fn default() -> Self {
        Response {
            range: TAU,
            bits: None,
            lut: None,
        }
    }
}

impl Response {
    /// True for the ideal response (a full, continuous turn).
    pub fn is_ideal(&self) -> bool {
        *self == Response::default()
    }

    /// `(ψ, a, dψ/dφ, da/dφ)` for the commanded phase `φ` (quantisation passed straight through).
    pub fn eval(&self, phi: f64) -> (f64, f64, f64, f64) {
        let mut w = phi.rem_euclid(TAU);
        if w >= TAU {
            w = 0.0;
        }
        if let Some(b) = self.bits {
            let l = (1u64 << b) as f64;
            w = TAU / l * ((w * l / TAU).round() % l);
        }
        match &self.lut {
            Some(t) => t.at(w),
            None => (w * self.range / TAU, 1.0, self.range / TAU, 0.0),
        }
    }
}

/// A normalised Gaussian kernel of standard deviation `sigma` samples, radius `⌈3σ⌉` (`[1]`
/// for `σ = 0`).
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 {
        return vec![1.0];
    }
    let r = (3.0 * sigma).ceil() as i64;
    let w: Vec<f64> = (-r..=r)
        .map(|j| (-0.5 * (j as f64 / sigma).powi(2)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

/// Separable convolution of `x` (`ny × nx`, row-major) with the centred kernel `w`, edges
/// replicated; `transpose` applies the adjoint (for gradients).
pub fn smooth(x: &[f64], nx: usize, ny: usize, w: &[f64], transpose: bool) -> Vec<f64> {
    if w.len() == 1 {
        return x.to_vec();
    }
    let r = (w.len() / 2) as i64;
    let pass = |src: &[f64], len: usize, stride: usize, lines: usize, lstride: usize| {
        let mut out = vec![0.0; src.len()];
        for line in 0..lines {
            let base = line * lstride;
            for i in 0..len as i64 {
                for (j, &wj) in w.iter().enumerate() {
                    let src_i = (i + j as i64 - r).clamp(0, len as i64 - 1) as usize;
                    let (a, b) = (base + i as usize * stride, base + src_i * stride);
                    if transpose {
                        out[b] += wj * src[a];
                    } else {
                        out[a] += wj * src[b];
                    }
                }
            }
        }
        out
    };
    let rows = pass(x, nx, 1, ny, nx);
    pass(&rows, ny, nx, nx, 1)
}

/// Fraction of each of the `k × k` samples of an SLM pixel covered by its centred active square
/// of area fraction `f` (row-major, `k²` values; all `f` for `k = 1`).
pub fn coverage(k: usize, f: f64) -> Vec<f64> {
    let side = f.sqrt() * k as f64;
    let (a, b) = ((k as f64 - side) / 2.0, (k as f64 + side) / 2.0);
    let one: Vec<f64> = (0..k)
        .map(|j| ((j + 1) as f64).min(b) - (j as f64).max(a))
        .map(|o| o.clamp(0.0, 1.0))
        .collect();
    let mut c = Vec::with_capacity(k * k);
    for y in 0..k {
        for x in 0..k {
            c.push(one[y] * one[x]);
        }
    }
    c
}

/// The device model of one SLM (response, cross-talk, fill factor).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SlmModel {
    /// A phase SLM (else signed amplitude).
    pub phase: bool,
    /// Phase response (phase SLMs).
    pub response: Response,
    /// Fringing: Gaussian standard deviation in SLM pixels.
    pub fringing: f64,
    /// Fill factor (area fraction).
    pub fill_factor: f64,
}

/// The transmission an SLM shows, with what its gradient needs.
#[derive(Clone, Debug)]
pub struct Shown {
    /// Transmission on the grid, `ny × nx`.
    pub mask: Vec<Complex<f64>>,
    /// Phase SLM: `a·e^{iψ}` on the grid (before the fill factor); amplitude SLM: the smoothed
    /// weight.
    active: Vec<Complex<f64>>,
    /// Phase SLM: the shown phase `ψ` on the grid.
    psi: Vec<f64>,
    /// `dψ/dφ` and `da/dφ` per SLM pixel (phase SLMs).
    slope: Vec<(f64, f64)>,
}

impl SlmModel {
    /// True when the device shows its parameters as the ideal SLM does.
    pub fn is_ideal(&self) -> bool {
        (!self.phase || self.response.is_ideal()) && self.fringing == 0.0 && self.fill_factor == 1.0
    }

    fn dims(sx: usize, sy: usize, k: usize) -> (usize, usize) {
        (sx * k, sy * k)
    }

    /// The transmission on the `sx·k × sy·k` grid of the parameters `p` (`sy × sx`).
    pub fn show(&self, p: &[f64], sx: usize, sy: usize, k: usize) -> Shown {
        let (nx, ny) = Self::dims(sx, sy, k);
        let up = |v: &[f64]| -> Vec<f64> {
            let mut g = Vec::with_capacity(nx * ny);
            for y in 0..ny {
                for x in 0..nx {
                    g.push(v[(y / k) * sx + x / k]);
                }
            }
            g
        };
        let kern = gaussian_kernel(self.fringing * k as f64);
        let cov = coverage(k, self.fill_factor);
        let c_at = |y: usize, x: usize| cov[(y % k) * k + x % k];
        let (active, slope, psi_grid) = if self.phase {
            let r: Vec<(f64, f64, f64, f64)> = p.iter().map(|&f| self.response.eval(f)).collect();
            let psi = smooth(
                &up(&r.iter().map(|t| t.0).collect::<Vec<_>>()),
                nx,
                ny,
                &kern,
                false,
            );
            let amp = up(&r.iter().map(|t| t.1).collect::<Vec<_>>());
            let act: Vec<Complex<f64>> = psi
                .iter()
                .zip(&amp)
                .map(|(&s, &a)| Complex::from_polar(a, s))
                .collect();
            (act, r.iter().map(|t| (t.2, t.3)).collect(), psi)
        } else {
            let s = smooth(&up(p), nx, ny, &kern, false);
            (
                s.iter().map(|&v| Complex::new(v, 0.0)).collect(),
                Vec::new(),
                Vec::new(),
            )
        };
        let dead = if self.phase { 1.0 } else { 0.0 };
        let mut mask = Vec::with_capacity(nx * ny);
        for y in 0..ny {
            for x in 0..nx {
                let c = c_at(y, x);
                mask.push(active[y * nx + x] * c + Complex::new((1.0 - c) * dead, 0.0));
            }
        }
        Shown {
            mask,
            active,
            psi: psi_grid,
            slope,
        }
    }

    /// `∂L/∂p` (`sy × sx`) from the grid correlation `corr` (`Σ b·v`, `ny × nx`).
    pub fn grad(
        &self,
        shown: &Shown,
        corr: &[Complex<f64>],
        sx: usize,
        sy: usize,
        k: usize,
    ) -> Vec<f64> {
        let (nx, ny) = Self::dims(sx, sy, k);
        let kern = gaussian_kernel(self.fringing * k as f64);
        let cov = coverage(k, self.fill_factor);
        let g: Vec<Complex<f64>> = (0..nx * ny)
            .map(|i| corr[i] * cov[((i / nx) % k) * k + (i % nx) % k])
            .collect();
        let down = |v: &[f64]| -> Vec<f64> {
            let mut out = vec![0.0; sx * sy];
            for y in 0..ny {
                for x in 0..nx {
                    out[(y / k) * sx + x / k] += v[y * nx + x];
                }
            }
            out
        };
        if self.phase {
            let dpsi: Vec<f64> = g
                .iter()
                .zip(&shown.active)
                .map(|(g, m)| -2.0 * (m * g).im)
                .collect();
            let da: Vec<f64> = g
                .iter()
                .zip(&shown.psi)
                .map(|(g, &s)| 2.0 * (Complex::from_polar(1.0, s) * g).re)
                .collect();
            let dpsi = down(&smooth(&dpsi, nx, ny, &kern, true));
            let da = down(&da);
            dpsi.iter()
                .zip(&da)
                .zip(&shown.slope)
                .map(|((&dp, &da), &(sp, sa))| sp * dp + sa * da)
                .collect()
        } else {
            let dm: Vec<f64> = g.iter().map(|g| 2.0 * g.re).collect();
            down(&smooth(&dm, nx, ny, &kern, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_sums_to_the_fill_factor() {
        for (k, f) in [(1, 0.7), (4, 0.5), (5, 0.81), (8, 1.0)] {
            let c = coverage(k, f);
            let s: f64 = c.iter().sum::<f64>() / (k * k) as f64;
            assert!((s - f).abs() < 1e-12, "k {k} f {f}: {s}");
        }
    }

    #[test]
    fn smooth_transpose_is_the_adjoint() {
        let (nx, ny) = (7, 5);
        let w = gaussian_kernel(1.3);
        let x: Vec<f64> = (0..nx * ny).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let y: Vec<f64> = (0..nx * ny).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
        let ax = smooth(&x, nx, ny, &w, false);
        let aty = smooth(&y, nx, ny, &w, true);
        let l: f64 = ax.iter().zip(&y).map(|(a, b)| a * b).sum();
        let r: f64 = x.iter().zip(&aty).map(|(a, b)| a * b).sum();
        assert!((l - r).abs() < 1e-9 * l.abs().max(1.0), "{l} vs {r}");
    }
}
