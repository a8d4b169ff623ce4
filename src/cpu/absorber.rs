//! The saturable absorber on the CPU (mirrors `shaders/absorber.wgsl`): pump action, the optical
//! probe action, and the exact transpose for comparison (DESIGN §3–4).

use num_complex::Complex;
use rayon::prelude::*;

use super::fft::split_len;
use crate::optics::{Absorber, AbsorberModel};
use crate::real::Real;

const CHUNK: usize = 4096;

/// Pump: `u = t(|v|²)·v`, in place.
pub fn absorber_pump<T: Real>(data: &mut [Complex<T>], absorber: &Absorber) {
    data.par_chunks_mut(CHUNK)
        .with_min_len(split_len(1))
        .for_each(|c| {
            let mut t = [T::zero(); 256];
            for c in c.chunks_mut(t.len()) {
                pump_into(c, &mut t[..c.len()], absorber);
            }
        });
}

/// [`absorber_pump`] that also keeps each sample's transmission `t(|v|²)` in `t` (resized to
/// the field), for [`absorber_probe_kept`]: the optical probe sees exactly the transmission the
/// pump set, so the probe pass need not evaluate the absorber again.
pub fn absorber_pump_keep<T: Real>(data: &mut [Complex<T>], absorber: &Absorber, t: &mut Vec<T>) {
    t.resize(data.len(), T::zero());
    data.par_chunks_mut(CHUNK)
        .zip(t.par_chunks_mut(CHUNK))
        .with_min_len(split_len(1))
        .for_each(|(c, tc)| pump_into(c, tc, absorber));
}

/// `t ← t(|v|²)`, `v ← t·v`.
fn pump_into<T: Real>(v: &mut [Complex<T>], t: &mut [T], absorber: &Absorber) {
    transmissions(v, t, absorber);
    for (x, &tv) in v.iter_mut().zip(t.iter()) {
        *x = *x * tv;
    }
}

/// `t[i] ← t(|v[i]|²)` for `i < min(len)`, the one evaluation of the transmission every CPU
/// absorber action uses (so pump, kept and recomputed probes agree to the bit). The thin model's
/// `t = e^{−α₀/2/(1+s)}` in two vectorised passes (argument, `simd::exp_in_place`);
/// Beer–Lambert per sample.
fn transmissions<T: Real>(v: &[Complex<T>], t: &mut [T], absorber: &Absorber) {
    let n = v.len().min(t.len());
    let (v, t) = (&v[..n], &mut t[..n]);
    match absorber.model {
        AbsorberModel::Thin => {
            let k = T::of(-0.5 * absorber.od);
            for (tv, x) in t.iter_mut().zip(v) {
                *tv = k / (T::one() + x.norm_sqr());
            }
            super::simd::exp_in_place(t);
        }
        AbsorberModel::BeerLambert => {
            for (tv, x) in t.iter_mut().zip(v) {
                *tv = absorber.transmission(x.norm_sqr());
            }
        }
    }
}

/// The optical probe (`b_v = t·b_u`) from the transmissions [`absorber_pump_keep`] kept.
///
/// # Panics
/// If `probe` and `t` differ in length.
pub fn absorber_probe_kept<T: Real>(probe: &mut [Complex<T>], t: &[T]) {
    assert_eq!(
        probe.len(),
        t.len(),
        "absorber_probe_kept: probe and kept transmissions differ in size"
    );
    probe
        .par_chunks_mut(CHUNK)
        .zip(t.par_chunks(CHUNK))
        .with_min_len(split_len(1))
        .for_each(|(bc, tc)| {
            for (b, &tv) in bc.iter_mut().zip(tc) {
                *b = *b * tv;
            }
        });
}

/// The optical probe of finite strength (`hardware.probe_ratio`), given the pump field `v` that
/// entered the absorber: `b ← t(|v|² + σ²|b|²)·b`, with `σ` the scale of each image's physical
/// probe (`scales`, one per image). The counter-propagating pump and probe saturate the
/// absorber together: their intensities add, the standing-wave fringes of the two beams
/// averaged over the cell (they are much finer than a pixel). The dense networks'
/// `hardware.probe_power` saturates their absorbers the same way. `od`: an optical-depth map
/// (`ny × nx`) instead of the absorber's one value.
///
/// # Panics
/// If `probe` and `pump_in` differ in length or `scales` does not divide them into images.
pub fn absorber_probe_saturating<T: Real>(
    probe: &mut [Complex<T>],
    pump_in: &[Complex<T>],
    absorber: &Absorber,
    od: Option<&[f64]>,
    scales: &[f64],
) {
    assert!(
        probe.len() == pump_in.len()
            && !scales.is_empty()
            && probe.len().is_multiple_of(scales.len()),
        "absorber_probe_saturating: probe {}, pump {}, {} images",
        probe.len(),
        pump_in.len(),
        scales.len()
    );
    let per = probe.len() / scales.len();
    probe
        .par_chunks_mut(per)
        .zip(pump_in.par_chunks(per))
        .zip(scales.par_iter())
        .for_each(|((bi, vi), &sigma)| {
            let s2 = sigma * sigma;
            for (i, (b, v)) in bi.iter_mut().zip(vi).enumerate() {
                let s = v.norm_sqr().f64() + s2 * b.norm_sqr().f64();
                let t = match od {
                    Some(m) => Absorber::new(m[i % m.len()], absorber.model).transmission(s),
                    None => absorber.transmission(s),
                };
                *b = *b * T::of(t);
            }
        });
}

/// Probe in place, given the pump field `v` that entered the absorber.
///
/// Optical (`exact = false`): `b_v = t(s)·b_u`, what a weak counter-propagating beam picks up.
/// Exact: `b_v = t·b_u + 2·t'(s)·Re(b_u·v)·conj(v)`, the transpose of the pump's Jacobian.
///
/// # Panics
/// If `probe` and `pump_in` differ in length.
pub fn absorber_probe<T: Real>(
    probe: &mut [Complex<T>],
    pump_in: &[Complex<T>],
    absorber: &Absorber,
    exact: bool,
) {
    assert_eq!(
        probe.len(),
        pump_in.len(),
        "absorber_probe: probe and pump differ in size"
    );
    let two = T::of(2.0);
    let half_od = T::of(0.5 * absorber.od);
    probe
        .par_chunks_mut(CHUNK)
        .zip(pump_in.par_chunks(CHUNK))
        .with_min_len(split_len(1))
        .for_each(|(bc, vc)| {
            let mut t = [T::zero(); 256];
            for (bc, vc) in bc.chunks_mut(t.len()).zip(vc.chunks(t.len())) {
                transmissions(vc, &mut t, absorber);
                for ((b, v), &t) in bc.iter_mut().zip(vc).zip(t.iter()) {
                    if exact {
                        let s = v.norm_sqr();
                        let dt = match absorber.model {
                            // t' = t·(α₀/2)/(1+s)²
                            AbsorberModel::Thin => {
                                let q = T::one() / (T::one() + s);
                                t * half_od * q * q
                            }
                            AbsorberModel::BeerLambert => absorber.transmission_and_slope(s).1,
                        };
                        let re = (*b * v).re;
                        *b = *b * t + v.conj() * (two * dt * re);
                    } else {
                        *b = *b * t;
                    }
                }
            }
        });
}
