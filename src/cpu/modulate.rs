//! Diagonal masks on the CPU (mirrors `shaders/modulate.wgsl`): phase and signed-amplitude SLMs
//! with macro-pixels, and the thin lens.
//!
//! Every mask is diagonal, hence its own transpose: the probe pass applies the same mask. An SLM of
//! `sx × sy` pixels each spanning `k × k` grid pixels covers an `sx·k × sy·k` grid.
//!
//! Gradients (DESIGN §4) with `v` the pump entering the mask, `m` the mask value and `b` the probe
//! arriving at it: `c = Σ_{batch, macro-pixel} b·v`; phase `∂L/∂φ = −2·Im(m·c)`, amplitude
//! `∂L/∂w = 2·Re(c)`.

use num_complex::Complex;
use rayon::prelude::*;

use super::fft::{split_len, MIN_ROWS_PER_TASK};
use super::simd::{mul_add, mul_elementwise};
use crate::real::Real;

/// `e^{iφ}` for each SLM pixel.
pub fn phase_mask<T: Real>(phase: &[T]) -> Vec<Complex<T>> {
    phase
        .iter()
        .map(|&p| Complex::from_polar(T::one(), p))
        .collect()
}

/// Signed amplitudes as a complex mask.
pub fn amplitude_mask<T: Real>(w: &[T]) -> Vec<Complex<T>> {
    w.iter().map(|&w| Complex::new(w, T::zero())).collect()
}

/// Multiplies every image of `data` (`[batch][ny][nx]`) by `mask` (`[ny/k][nx/k]`, each value
/// spanning `k × k` pixels). Pump and probe action of every diagonal element.
///
/// # Panics
/// If the sizes do not fit: `nx` and `ny` multiples of `k`, `mask.len() = (nx/k)·(ny/k)`.
pub fn modulate<T: Real>(
    data: &mut [Complex<T>],
    nx: usize,
    ny: usize,
    mask: &[Complex<T>],
    k: usize,
) {
    check(data.len(), nx, ny, mask.len(), k);
    let sx = nx / k;
    data.par_chunks_mut(nx)
        .with_min_len(MIN_ROWS_PER_TASK)
        .enumerate()
        .for_each(|(i, row)| {
            let y = i % ny;
            let mrow = &mask[(y / k) * sx..(y / k + 1) * sx];
            if k == 1 {
                mul_elementwise(row, mrow, false);
            } else {
                for (x, v) in row.iter_mut().enumerate() {
                    *v = *v * mrow[x / k];
                }
            }
        });
}

/// `c[p] = Σ_batch Σ_{pixels of macro-pixel p} b·v` (complex), the interference of the pump `v`
/// entering a mask with the probe `b` arriving at it, reduced per SLM pixel.
///
/// # Panics
/// If the sizes do not fit (see [`modulate`]) or `v` and `b` differ in length.
pub fn mask_correlation<T: Real>(
    v: &[Complex<T>],
    b: &[Complex<T>],
    nx: usize,
    ny: usize,
    k: usize,
) -> Vec<Complex<T>> {
    let mut out = Vec::new();
    mask_correlation_into(v, b, nx, ny, k, &mut out);
    out
}

/// [`mask_correlation`] into `out` (resized to the SLM's pixels), reusing its allocation.
///
/// # Panics
/// As [`mask_correlation`].
pub fn mask_correlation_into<T: Real>(
    v: &[Complex<T>],
    b: &[Complex<T>],
    nx: usize,
    ny: usize,
    k: usize,
    out: &mut Vec<Complex<T>>,
) {
    let (sx, sy) = (nx / k, ny / k);
    check(v.len(), nx, ny, sx * sy, k);
    assert_eq!(
        v.len(),
        b.len(),
        "mask_correlation: pump and probe differ in size"
    );
    let batch = v.len() / (nx * ny);
    out.clear();
    out.resize(sx * sy, Complex::new(T::zero(), T::zero()));
    out.par_chunks_mut(sx)
        .with_min_len(split_len(1))
        .enumerate()
        .for_each(|(py, orow)| {
            for img in 0..batch {
                for y in py * k..(py + 1) * k {
                    let off = (img * ny + y) * nx;
                    let (vr, br) = (&v[off..off + nx], &b[off..off + nx]);
                    if k == 1 {
                        mul_add(orow, br, vr, false);
                    } else {
                        for x in 0..nx {
                            orow[x / k] = orow[x / k] + br[x] * vr[x];
                        }
                    }
                }
            }
        });
}

/// Phase gradient `∂L/∂φ = −2·Im(e^{iφ}·c)` from the correlation `c` of [`mask_correlation`].
pub fn phase_grad<T: Real>(phase: &[T], c: &[Complex<T>]) -> Vec<T> {
    let two = T::of(2.0);
    phase
        .iter()
        .zip(c)
        .map(|(&p, c)| -two * (Complex::from_polar(T::one(), p) * c).im)
        .collect()
}

/// Amplitude gradient `∂L/∂w = 2·Re(c)`.
pub fn amplitude_grad<T: Real>(c: &[Complex<T>]) -> Vec<T> {
    let two = T::of(2.0);
    c.iter().map(|c| two * c.re).collect()
}

fn check(len: usize, nx: usize, ny: usize, mlen: usize, k: usize) {
    if k == 0
        || !nx.is_multiple_of(k)
        || !ny.is_multiple_of(k)
        || mlen != (nx / k) * (ny / k)
        || !len.is_multiple_of(nx * ny)
    {
        bad_sizes(len, nx, ny, mlen, k);
    }
}

#[cold]
#[inline(never)]
fn bad_sizes(len: usize, nx: usize, ny: usize, mlen: usize, k: usize) -> ! {
    panic!(
        "modulate: field of {len} samples on a {nx}×{ny} grid does not fit a mask of {mlen} values with {k}×{k} macro-pixels (expected {} values)",
        nx.checked_div(k).unwrap_or(0) * ny.checked_div(k).unwrap_or(0)
    )
}
