//! The saturable absorber's physics (DESIGN §3), shared by both backends.
//!
//! Intensities are in units of the saturation intensity: `s = |E|²/I_sat`. The field transmission
//! `t(s)` depends on the optical depth `α₀` (intensity OD on resonance) and the model:
//! - thin (the papers' closed form, Guo et al. 2021 eq. 2): `t(s) = exp(−(α₀/2)/(1 + s))`;
//! - Beer–Lambert (the absorber integrated along its length): `s_out = W₀(s·e^{s−α₀})`,
//!   `t = √(s_out/s)`, from `d s/d ℓ = −α s/(1+s)` integrated over the cell.
//!
//! A weak probe sees the pump-saturated absorber: its field transmission is `t(s)` of the pump.

use serde::{Deserialize, Serialize};

use crate::real::Real;

/// Which absorber model to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AbsorberModel {
    /// `t(s) = exp(−(α₀/2)/(1+s))`.
    #[default]
    Thin,
    /// Beer–Lambert along the cell, through the Lambert W function.
    BeerLambert,
}

impl std::str::FromStr for AbsorberModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "thin" => Ok(AbsorberModel::Thin),
            "beer-lambert" | "beer_lambert" => Ok(AbsorberModel::BeerLambert),
            _ => Err(format!(
                "unknown absorber model '{s}': use 'thin' or 'beer-lambert'"
            )),
        }
    }
}

/// A saturable absorber: optical depth and model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Absorber {
    /// Intensity optical depth on resonance, `α₀ ≥ 0`.
    pub od: f64,
    /// Thin or Beer–Lambert.
    pub model: AbsorberModel,
}

/// Natural log of the Beer–Lambert output intensity, `w = ln s_out`, given
/// `c = ln s + s − α₀`: the root of `w + e^w = c` (equivalently `s_out = W₀(e^c)`).
///
/// Newton's method on the convex, increasing `w + e^w − c` converges from any start; the start
/// below is within a few percent, so a handful of steps reach machine precision. Working in log
/// space avoids the overflow of `s·e^s` for bright pixels.
#[inline]
pub fn beer_lambert_log_out<T: Real>(c: T) -> T {
    let one = T::one();
    let mut w = if c < one {
        // s_out ≈ e^c when small: w ≈ c − e^c.
        c - c.exp()
    } else {
        // s_out ≈ c − ln c when large.
        (c - c.ln()).ln()
    };
    let iters = if T::NAME == "f32" { 4 } else { 8 };
    for _ in 0..iters {
        let ew = w.exp();
        w = w - (w + ew - c) / (one + ew);
    }
    w
}

/// The principal branch `W₀(x)` of the Lambert W function for `x ≥ 0` (f64).
pub fn lambert_w0(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    beer_lambert_log_out(x.ln()).exp()
}

impl Absorber {
    /// An absorber with optical depth `od` and the given model.
    pub fn new(od: f64, model: AbsorberModel) -> Self {
        Absorber { od, model }
    }

    /// Field transmission `t(s)` at input intensity `s = |v|²` (units of `I_sat`).
    #[inline]
    pub fn transmission<T: Real>(&self, s: T) -> T {
        self.transmission_and_slope(s).0
    }

    /// `(t(s), dt/ds)`.
    #[inline]
    pub fn transmission_and_slope<T: Real>(&self, s: T) -> (T, T) {
        let half = T::of(0.5);
        let od = T::of(self.od);
        let one = T::one();
        match self.model {
            AbsorberModel::Thin => {
                let q = one / (one + s);
                let t = (-half * od * q).exp();
                (t, t * half * od * q * q)
            }
            AbsorberModel::BeerLambert => {
                let t0 = (-half * od).exp();
                // Below this the cell is linear to machine precision: s_out = s·e^{−α₀}.
                if s <= T::of(1e-30) {
                    return (t0, t0 * half * (one - t0 * t0));
                }
                let ln_s = s.ln();
                let w = beer_lambert_log_out(ln_s + s - od);
                let s_out = w.exp();
                let t = (half * (w - ln_s)).exp();
                // t' = t (s − s_out) / (2 s (1 + s_out)), from ds_out/ds = s_out(1+s)/(s(1+s_out)).
                (t, t * (s - s_out) / (T::of(2.0) * s * (one + s_out)))
            }
        }
    }

    /// Response of a real signed field amplitude `z` (`z² = I/I_sat`): `(g, t, g')` with
    /// `g = z·t(z²)` the output field, `t` the weak probe's transmission and
    /// `g' = t + 2z²·t'(z²)` the exact derivative.
    pub fn response(&self, z: f64) -> (f64, f64, f64) {
        let s = z * z;
        let (t, dt) = self.transmission_and_slope(s);
        (z * t, t, t + 2.0 * s * dt)
    }
}
