//! The saturable absorber on the CPU (mirrors `shaders/absorber.wgsl`): pump action, the optical
//! probe action, and the exact transpose for comparison (DESIGN §3–4).

use num_complex::Complex;
use rayon::prelude::*;

use super::fft::split_len;
use crate::optics::Absorber;
use crate::real::Real;

const CHUNK: usize = 4096;

/// Pump: `u = t(|v|²)·v`, in place.
pub fn absorber_pump<T: Real>(data: &mut [Complex<T>], absorber: &Absorber) {
    data.par_chunks_mut(CHUNK)
        .with_min_len(split_len(1))
        .for_each(|c| {
            for v in c.iter_mut() {
                *v = *v * absorber.transmission(v.norm_sqr());
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
        .for_each(|(c, tc)| {
            for (v, tv) in c.iter_mut().zip(tc.iter_mut()) {
                *tv = absorber.transmission(v.norm_sqr());
                *v = *v * *tv;
            }
        });
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
    probe
        .par_chunks_mut(CHUNK)
        .zip(pump_in.par_chunks(CHUNK))
        .with_min_len(split_len(1))
        .for_each(|(bc, vc)| {
            for (b, v) in bc.iter_mut().zip(vc) {
                let (t, dt) = absorber.transmission_and_slope(v.norm_sqr());
                if exact {
                    let re = (*b * v).re;
                    *b = *b * t + v.conj() * (two * dt * re);
                } else {
                    *b = *b * t;
                }
            }
        });
}
