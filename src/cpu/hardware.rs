//! The imperfect system's operators on the CPU (no shader yet: the GPU backend refuses field
//! imperfections): the lateral shift of a field by the Fourier shift theorem, integer parts as
//! exact rolls ([`Shift`], [`Shifter`]), and the saturable absorber with an optical-depth map
//! (pump, kept transmission, optical and exact probe). See `network::hardware` for the model.

use num_complex::Complex;

use super::fft::Fft2;
use crate::fft::Direction;
use crate::optics::{Absorber, AbsorberModel};
use crate::real::Real;

/// A lateral shift by `s` grid pixels: an exact roll by the nearest integer (within `1e-9`
/// pixels of it: only the roll) and, when a
/// fractional part remains, the phase ramps `e^{−2πi k f/n}` of that part (the Nyquist bin of
/// an even side gets the real `cos(π f)`, so that the shift by `−s` is the transpose).
#[derive(Clone, Debug)]
pub struct Shift<T: Real> {
    /// Integer part `[x, y]`.
    pub roll: [i64; 2],
    /// Ramps along x (`nx`) and y (`ny`) for the fractional part, `None` when it is zero.
    pub ramps: Option<Ramps<T>>,
}

/// The phase ramps of a fractional shift along x and y.
pub type Ramps<T> = (Vec<Complex<T>>, Vec<Complex<T>>);

fn ramp<T: Real>(n: usize, f: f64) -> Vec<Complex<T>> {
    (0..n)
        .map(|k| {
            if n.is_multiple_of(2) && k == n / 2 {
                Complex::new(T::of((std::f64::consts::PI * f).cos()), T::zero())
            } else {
                let kk = if k > n / 2 {
                    k as f64 - n as f64
                } else {
                    k as f64
                };
                let a = -std::f64::consts::TAU * kk * f / n as f64;
                Complex::new(T::of(a.cos()), T::of(a.sin()))
            }
        })
        .collect()
}

impl<T: Real> Shift<T> {
    /// The shift by `[sx, sy]` grid pixels on an `nx × ny` grid.
    pub fn new(s: [f64; 2], nx: usize, ny: usize) -> Self {
        let (ix, iy) = (s[0].round(), s[1].round());
        // A shift within 1e-9 pixels of an integer (metres divided by the pitch) is that
        // integer: an exact roll.
        let snap = |f: f64| if f.abs() < 1e-9 { 0.0 } else { f };
        let (fx, fy) = (snap(s[0] - ix), snap(s[1] - iy));
        Shift {
            roll: [ix as i64, iy as i64],
            ramps: (fx != 0.0 || fy != 0.0).then(|| (ramp(nx, fx), ramp(ny, fy))),
        }
    }
}

/// The working buffers of shifts: an FFT of the grid and a roll buffer.
pub struct Shifter<T: Real> {
    fft: Option<Fft2<T>>,
    tmp: Vec<Complex<T>>,
}

impl<T: Real> Default for Shifter<T> {
    fn default() -> Self {
        Shifter {
            fft: None,
            tmp: Vec::new(),
        }
    }
}

impl<T: Real> Shifter<T> {
    /// Moves every image of `data` (`[batch][ny][nx]`) by `+s` (`forward`) or `−s`:
    /// `out(x) = in(x − s)`, periodic.
    pub fn apply(
        &mut self,
        data: &mut [Complex<T>],
        nx: usize,
        ny: usize,
        s: &Shift<T>,
        forward: bool,
    ) {
        let sign = if forward { 1 } else { -1 };
        let (rx, ry) = (sign * s.roll[0], sign * s.roll[1]);
        if rx != 0 || ry != 0 {
            self.tmp.clear();
            self.tmp.extend_from_slice(data);
            let n = nx * ny;
            for (img, out) in data.chunks_mut(n).enumerate() {
                let src = &self.tmp[img * n..(img + 1) * n];
                for y in 0..ny {
                    let sy = (y as i64 - ry).rem_euclid(ny as i64) as usize;
                    for x in 0..nx {
                        let sx = (x as i64 - rx).rem_euclid(nx as i64) as usize;
                        out[y * nx + x] = src[sy * nx + sx];
                    }
                }
            }
        }
        if let Some((rxs, rys)) = &s.ramps {
            let fft = self.fft.get_or_insert_with(|| Fft2::new(nx, ny));
            fft.process(data, Direction::Forward);
            for img in data.chunks_mut(nx * ny) {
                for (y, row) in img.chunks_mut(nx).enumerate() {
                    let ry = if forward { rys[y] } else { rys[y].conj() };
                    for (v, rx) in row.iter_mut().zip(rxs) {
                        let rx = if forward { *rx } else { rx.conj() };
                        *v = *v * (rx * ry);
                    }
                }
            }
            fft.process(data, Direction::Inverse);
        }
    }
}

/// `t(s)` and `dt/ds` of the model at optical depth `od`.
#[inline]
fn t_and_slope<T: Real>(model: AbsorberModel, od: f64, s: T) -> (T, T) {
    let a = Absorber { od, model };
    match model {
        AbsorberModel::Thin => {
            let q = T::one() / (T::one() + s);
            let t = (T::of(-0.5 * od) * q).exp();
            (t, t * T::of(0.5 * od) * q * q)
        }
        AbsorberModel::BeerLambert => a.transmission_and_slope(s),
    }
}

/// Pump through an absorber whose optical depth varies across the grid (`od`, `ny × nx`):
/// `u = t_{α₀(x)}(|v|²)·v`; with `keep`, each sample's transmission is kept for the optical
/// probe.
pub fn absorber_pump_map<T: Real>(
    data: &mut [Complex<T>],
    model: AbsorberModel,
    od: &[f64],
    mut keep: Option<&mut Vec<T>>,
) {
    if let Some(k) = keep.as_deref_mut() {
        k.resize(data.len(), T::zero());
    }
    for (i, v) in data.iter_mut().enumerate() {
        let (t, _) = t_and_slope(model, od[i % od.len()], v.norm_sqr());
        *v = *v * t;
        if let Some(k) = keep.as_deref_mut() {
            k[i] = t;
        }
    }
}

/// The probe through an absorber with an optical-depth map, given the pump field `v` that
/// entered it: optical `b ← t·b`, exact `b ← t·b + 2·t'(s)·Re(b·v)·conj(v)`.
pub fn absorber_probe_map<T: Real>(
    probe: &mut [Complex<T>],
    pump_in: &[Complex<T>],
    model: AbsorberModel,
    od: &[f64],
    exact: bool,
) {
    let two = T::of(2.0);
    for (i, (b, v)) in probe.iter_mut().zip(pump_in).enumerate() {
        let (t, dt) = t_and_slope(model, od[i % od.len()], v.norm_sqr());
        if exact {
            let re = (*b * v).re;
            *b = *b * t + v.conj() * (two * dt * re);
        } else {
            *b = *b * t;
        }
    }
}
