//! Detectors on the CPU (mirrors `shaders/detect.wgsl`): power in rectangular regions, and the
//! probe field a detector-region loss injects.

use num_complex::Complex;
use rayon::prelude::*;

use super::fft::split_len;
use crate::model::Region;
use crate::real::Real;

/// Powers `P[b][k] = Σ_{region k} |u|²·dx²`, row-major `[batch][regions]`.
///
/// # Panics
/// If a region does not fit the grid or `data` is not a whole batch.
pub fn detect<T: Real>(
    data: &[Complex<T>],
    nx: usize,
    ny: usize,
    regions: &[Region],
    dx: f64,
) -> Vec<T> {
    integrate(data, nx, ny, regions, dx, |v| v.norm_sqr())
}

/// Powers `P[b][k] = Σ_{region k} I·dx²` of intensity frames `I` (`[batch][ny][nx]`, in units
/// of `I_sat`, e.g. a camera's frames of the detector plane), row-major `[batch][regions]`:
/// the same sums as [`detect`] on a field with `|u|² = I`.
///
/// # Panics
/// If a region does not fit the grid or `frames` is not a whole batch.
pub fn detect_intensity<T: Real>(
    frames: &[T],
    nx: usize,
    ny: usize,
    regions: &[Region],
    dx: f64,
) -> Vec<T> {
    integrate(frames, nx, ny, regions, dx, |&v| v)
}

/// `Σ_{region k} intensity(v)·dx²` over each image of `data` (`[batch][ny][nx]`).
fn integrate<X: Sync, T: Real>(
    data: &[X],
    nx: usize,
    ny: usize,
    regions: &[Region],
    dx: f64,
    intensity: impl Fn(&X) -> T + Sync,
) -> Vec<T> {
    check(data.len(), nx, ny, regions);
    let area = T::of(dx * dx);
    let mut out = vec![T::zero(); data.len() / (nx * ny) * regions.len()];
    out.par_chunks_mut(regions.len().max(1))
        .zip(data.par_chunks(nx * ny))
        .with_min_len(split_len(1))
        .for_each(|(p, img)| {
            for (pk, r) in p.iter_mut().zip(regions) {
                let mut acc = T::zero();
                for y in r.y0..r.y0 + r.h {
                    for v in &img[y * nx + r.x0..y * nx + r.x0 + r.w] {
                        acc = acc + intensity(v);
                    }
                }
                *pk = acc * area;
            }
        });
    out
}

/// The probe a detector loss injects: `b = conj(Σ_k ∂L/∂P_k · u · dx² · 1_k)`, written into
/// `probe` (zero outside the regions). `dl_dp` is `[batch][regions]`.
///
/// # Panics
/// If sizes disagree or a region does not fit.
pub fn detect_probe<T: Real>(
    u: &[Complex<T>],
    nx: usize,
    ny: usize,
    regions: &[Region],
    dx: f64,
    dl_dp: &[T],
    probe: &mut [Complex<T>],
) {
    check(u.len(), nx, ny, regions);
    assert_eq!(u.len(), probe.len(), "detect_probe: probe buffer size");
    assert_eq!(
        dl_dp.len(),
        u.len() / (nx * ny) * regions.len(),
        "detect_probe: one dL/dP per image and region"
    );
    let area = T::of(dx * dx);
    probe
        .par_chunks_mut(nx * ny)
        .zip(u.par_chunks(nx * ny))
        .zip(dl_dp.par_chunks(regions.len().max(1)))
        .with_min_len(split_len(1))
        .for_each(|((b, img), g)| {
            b.fill(Complex::new(T::zero(), T::zero()));
            for (r, &gk) in regions.iter().zip(g) {
                for y in r.y0..r.y0 + r.h {
                    for x in r.x0..r.x0 + r.w {
                        let i = y * nx + x;
                        b[i] = b[i] + img[i].conj() * (gk * area);
                    }
                }
            }
        });
}

fn check(len: usize, nx: usize, ny: usize, regions: &[Region]) {
    if !len.is_multiple_of(nx * ny) || regions.iter().any(|r| !r.fits(nx, ny)) {
        bad(len, nx, ny, regions);
    }
}

#[cold]
#[inline(never)]
fn bad(len: usize, nx: usize, ny: usize, regions: &[Region]) -> ! {
    panic!("detect: {len} samples, {nx}×{ny} grid, regions {regions:?} do not fit")
}
