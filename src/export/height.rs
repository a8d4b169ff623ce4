//! Phase → thickness of a fabricated (3D-printed or lithographic) layer and back.
//!
//! A layer of refractive index `n` in air delays light of wavelength `λ` by `φ = 2π(n−1)h/λ`,
//! so the phase `w = mod(φ, 2π)` needs the height `h = w·λ/(2π(n−1))` (Lin et al., Science 361,
//! 1004 (2018), the 3D-printed diffractive layers), wrapped below one full-turn height
//! `h_2π = λ/(n−1)`. A printer of step `S` makes `q·S` with `q = round(h/S)`, or `0` (the same
//! phase as a full turn) when the full turn is nearer to `h` than `q·S` is, so every height is
//! within half a step of its phase's height on the circle of one turn (also when `h_2π` is not
//! a multiple of `S`).

use std::f64::consts::TAU;

use super::slm::wrap;

/// The height settings: index, wavelength, printer step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeightMap {
    /// Refractive index of the material at `wavelength` (> 1).
    pub index: f64,
    /// The design wavelength, metres.
    pub wavelength: f64,
    /// The printer's height step, metres (`None`: continuous).
    pub step: Option<f64>,
}

impl HeightMap {
    /// The height of a full turn, `λ/(n−1)`.
    pub fn turn(&self) -> f64 {
        self.wavelength / (self.index - 1.0)
    }

    /// The number of printer steps of the height that shows `phi` (see the module doc), or
    /// `None` without a step.
    pub fn steps(&self, phi: f64) -> Option<u32> {
        let s = self.step?;
        let h = wrap(phi) / TAU * self.turn();
        let q = (h / s).round();
        let (err_q, err_turn) = ((h - q * s).abs(), self.turn() - h);
        Some(if err_turn <= err_q { 0 } else { q as u32 })
    }

    /// The height in metres that shows `phi` (quantised to the step when there is one).
    pub fn height(&self, phi: f64) -> f64 {
        match (self.steps(phi), self.step) {
            (Some(q), Some(s)) => q as f64 * s,
            _ => wrap(phi) / TAU * self.turn(),
        }
    }

    /// The phase a height shows, wrapped to `[0, 2π)`.
    pub fn phase(&self, h: f64) -> f64 {
        wrap(TAU * (self.index - 1.0) * h / self.wavelength)
    }
}
