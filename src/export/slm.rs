//! Phase → grey level of an SLM and back: the linear map of a `B`-bit panel, or the inverse of
//! the device's measured lookup table (`level,phase[,amplitude]`, the `phase_lut` CSV the
//! simulation reads, [`crate::optics::Lut`]).
//!
//! **Linear.** `ℓ = round(w/2π · 2^B) mod 2^B` with `w = mod(φ, 2π)`; the level shows
//! `2π·ℓ/2^B`, within half a step (`π/2^B`) of `w` on the circle, and exporting the shown
//! phase again gives the same level (the round trip is exact).
//!
//! **Lookup table.** Every whole level `ℓ_0 ≤ ℓ ≤ ℓ_last` of the table is a candidate, showing
//! the table's phase interpolated linearly in level (as the simulation reads the table); a
//! target phase gets the level whose phase is nearest to it **on the circle** (the table may be
//! non-monotonic and need not span a turn), the lower level on a tie. Where the table spans a
//! turn, the error is at most half the largest phase step between neighbouring levels (the
//! table's resolution); a phase outside a shorter span gets the nearest end.

use std::f64::consts::{PI, TAU};

use crate::optics::Lut;

/// `φ` wrapped to `[0, 2π)`.
pub fn wrap(phi: f64) -> f64 {
    let w = phi.rem_euclid(TAU);
    if w >= TAU {
        0.0
    } else {
        w
    }
}

/// The distance of two phases on the circle, in `[0, π]`.
pub fn circle_distance(a: f64, b: f64) -> f64 {
    let d = wrap(a - b);
    d.min(TAU - d)
}

/// The level of a linear `bits`-bit panel showing the phase nearest to `phi`.
pub fn linear_level(phi: f64, bits: u32) -> u32 {
    let l = (1u64 << bits) as f64;
    ((wrap(phi) / TAU * l).round() % l) as u32
}

/// The phase a linear `bits`-bit panel shows at `level`.
pub fn linear_phase(level: u32, bits: u32) -> f64 {
    TAU * level as f64 / (1u64 << bits) as f64
}

/// The phase (wrapped to `[0, 2π)`) and amplitude the table shows at level `l` (linear
/// interpolation in level; `l` within the table's levels).
pub fn lut_at(lut: &Lut, l: f64) -> (f64, f64) {
    let n = lut.level.len();
    let i = match lut.level.partition_point(|&x| x <= l) {
        0 => 0,
        j => (j - 1).min(n - 2),
    };
    let t = (l - lut.level[i]) / (lut.level[i + 1] - lut.level[i]);
    (
        wrap(lut.phase[i] + t * (lut.phase[i + 1] - lut.phase[i])),
        lut.amplitude[i] + t * (lut.amplitude[i + 1] - lut.amplitude[i]),
    )
}

/// The inverse of a lookup table: the whole levels it covers sorted by the phase they show,
/// for nearest-phase queries on the circle.
#[derive(Clone, Debug)]
pub struct InverseLut {
    /// `(wrapped phase, level)`, sorted by phase then level.
    sorted: Vec<(f64, u32)>,
}

impl InverseLut {
    /// The inverse of `lut` over its whole levels (`⌈ℓ_0⌉ ..= ⌊ℓ_last⌋`); `None` when the table
    /// covers no whole level.
    pub fn new(lut: &Lut) -> Option<InverseLut> {
        let (a, b) = (lut.level[0].ceil(), lut.level[lut.level.len() - 1].floor());
        if !(a <= b && a >= 0.0 && b <= u32::MAX as f64) {
            return None;
        }
        let mut sorted: Vec<(f64, u32)> = (a as u32..=b as u32)
            .map(|l| (lut_at(lut, l as f64).0, l))
            .collect();
        sorted.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        Some(InverseLut { sorted })
    }

    /// The level showing the phase nearest to `phi` on the circle (the lower level on a tie).
    pub fn level(&self, phi: f64) -> u32 {
        let w = wrap(phi);
        let n = self.sorted.len();
        let at = self.sorted.partition_point(|&(p, _)| p < w);
        // The nearest phase is the first at or above w (lowest level first among equal
        // phases) or the last below it, both on the circle; of a run of equal phases below,
        // take its first (lowest) level.
        let above = self.sorted[at % n];
        let below_p = self.sorted[(at + n - 1) % n].0;
        let below = self.sorted[self.sorted.partition_point(|&(p, _)| p < below_p)];
        let (da, db) = (circle_distance(above.0, w), circle_distance(below.0, w));
        if da < db || (da == db && above.1 <= below.1) {
            above.1
        } else {
            below.1
        }
    }

    /// The largest phase step between neighbouring shown phases on the circle: the table's
    /// resolution (twice the worst error of [`level`](Self::level) when it spans a turn).
    pub fn resolution(&self) -> f64 {
        let n = self.sorted.len();
        let mut gap: f64 = TAU - self.sorted[n - 1].0 + self.sorted[0].0;
        for w in self.sorted.windows(2) {
            gap = gap.max(w[1].0 - w[0].0);
        }
        gap.min(TAU)
    }
}

/// Half a linear step of a `bits`-bit panel: the worst phase error of [`linear_level`].
pub fn linear_half_step(bits: u32) -> f64 {
    PI / (1u64 << bits) as f64
}
