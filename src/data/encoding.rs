//! Input encoding: an image becomes a real field amplitude on the first plane, resampled
//! (bilinear) to `size × size` pixels in the centre of the grid, scaled so that a white pixel has
//! intensity `intensity` (units of `I_sat`): `E = √intensity · pixel/255`.
//!
//! The conventions, exactly (an independent reimplementation needs them):
//! - **Pixel-centre alignment.** Destination pixel `i` of `size` (along one axis) samples the
//!   source at `s = (i + ½)·src/size − ½`, so the centres of the first and last pixels of both
//!   images line up with the image edges scaled (not the corners); for `src = 28`, `size = 40`:
//!   `s = 0.7·i − 0.15`.
//! - **Clamped edges.** `s` is clamped to `[0, src − 1]`, and the upper tap to `src − 1`: the
//!   border pixels are repeated, never blended with zeros.
//! - **Bilinear weights.** With `i₀ = ⌊s⌋`, `i₁ = min(i₀ + 1, src − 1)` and `f = s − i₀` along
//!   each axis, `v = (1 − f_y)·((1 − f_x)·p(y₀,x₀) + f_x·p(y₀,x₁)) + f_y·((1 − f_x)·p(y₁,x₀) +
//!   f_x·p(y₁,x₁))`, in f64, then scaled by `√intensity/255` and rounded once to f32.
//! - **Placement.** The `size × size` block starts at column `⌊(nx − size)/2⌋` and row
//!   `⌊(ny − size)/2⌋` (for 40 on 64: pixels 12–51, centred on 31.5); every other sample is 0.

use rayon::prelude::*;

use super::idx::Images;

/// Encodes images `indices` of `images` into `out` (`[batch][ny][nx]` real amplitudes).
///
/// # Panics
/// If `out` does not hold `indices.len()·nx·ny` values or `size` exceeds the grid.
pub fn encode_batch(
    images: &Images,
    indices: &[usize],
    nx: usize,
    ny: usize,
    size: usize,
    intensity: f64,
    out: &mut [f32],
) {
    assert!(
        size <= nx && size <= ny && size > 0,
        "encode_batch: image size {size} exceeds the {nx}×{ny} grid"
    );
    assert_eq!(
        out.len(),
        indices.len() * nx * ny,
        "encode_batch: output size"
    );
    let amp = intensity.sqrt() / 255.0;
    let (ox, oy) = ((nx - size) / 2, (ny - size) / 2);
    let (r, c) = (images.rows, images.cols);
    // Bilinear taps of each destination pixel centre along one axis: source coordinate
    // `(i + ½)·src/size − ½`, clamped to the image; `(lower, upper, weight of upper)`.
    let taps = |src: usize| -> Vec<(usize, usize, f64)> {
        (0..size)
            .map(|i| {
                let s = ((i as f64 + 0.5) * src as f64 / size as f64 - 0.5)
                    .clamp(0.0, (src - 1) as f64);
                let i0 = s.floor() as usize;
                (i0, (i0 + 1).min(src - 1), s - s.floor())
            })
            .collect()
    };
    let (ty, tx) = (taps(r), taps(c));
    out.par_chunks_mut(nx * ny)
        .zip(indices.par_iter())
        .for_each(|(dst, &idx)| {
            dst.fill(0.0);
            let img = images.image(idx);
            let p = |yy: usize, xx: usize| img[yy * c + xx] as f64;
            for (y, &(y0, y1, fy)) in ty.iter().enumerate() {
                let row = &mut dst[(oy + y) * nx + ox..(oy + y) * nx + ox + size];
                for (v, &(x0, x1, fx)) in row.iter_mut().zip(&tx) {
                    let a = (1.0 - fy) * ((1.0 - fx) * p(y0, x0) + fx * p(y0, x1))
                        + fy * ((1.0 - fx) * p(y1, x0) + fx * p(y1, x1));
                    *v = (a * amp) as f32;
                }
            }
        });
}
