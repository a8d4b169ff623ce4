//! Input encoding: an image becomes a real field amplitude on the first plane, resampled
//! (bilinear) to `size × size` pixels in the centre of the grid, scaled so that a white pixel has
//! intensity `intensity` (units of `I_sat`): `E = √intensity · pixel/255`.

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
    out.fill(0.0);
    for (b, &idx) in indices.iter().enumerate() {
        let img = images.image(idx);
        let dst = &mut out[b * nx * ny..(b + 1) * nx * ny];
        for y in 0..size {
            // Pixel centres map onto each other: source coordinate of destination pixel centre.
            let sy = ((y as f64 + 0.5) * r as f64 / size as f64 - 0.5).clamp(0.0, (r - 1) as f64);
            let (y0, fy) = (sy.floor() as usize, sy - sy.floor());
            let y1 = (y0 + 1).min(r - 1);
            for x in 0..size {
                let sx =
                    ((x as f64 + 0.5) * c as f64 / size as f64 - 0.5).clamp(0.0, (c - 1) as f64);
                let (x0, fx) = (sx.floor() as usize, sx - sx.floor());
                let x1 = (x0 + 1).min(c - 1);
                let p = |yy: usize, xx: usize| img[yy * c + xx] as f64;
                let v = (1.0 - fy) * ((1.0 - fx) * p(y0, x0) + fx * p(y0, x1))
                    + fy * ((1.0 - fx) * p(y1, x0) + fx * p(y1, x1));
                dst[(oy + y) * nx + ox + x] = (v * amp) as f32;
            }
        }
    }
}
