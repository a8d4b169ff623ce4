//! Data: the IDX (MNIST-format) reader, the bundled subset, datasets by name (their checksums,
//! where they are found, their download), input encoding onto the optical grid, and
//! deterministic shuffling.

pub mod catalog;
pub mod encoding;
pub mod fetch;
pub mod idx;
pub mod tasks;

pub use encoding::encode_batch;
pub use idx::{read_dir, Images, Split};

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The order of `n` examples in epoch `epoch` for a run seeded with `seed`: a fresh permutation
/// per epoch, derived only from `(seed, epoch)` so that a resumed run replays it exactly.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(epoch as u64 + 1)),
    );
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// Encodes examples `indices` of `split` as the network of `cfg` takes them, into `out`
/// (`indices.len()·cfg.input_len()` values): the image on the grid (field networks), the image
/// resampled to `size × size` amplitudes (dense networks), or a 2-D point scaled by
/// `√intensity` (generated tasks), followed by the bias amplitude when `input.bias` is set.
///
/// # Panics
/// If `out` has the wrong length.
pub fn encode(cfg: &crate::model::Config, split: &Split, indices: &[usize], out: &mut [f32]) {
    let per = cfg.input_len();
    assert_eq!(out.len(), indices.len() * per, "encode: output size");
    let bias = cfg.is_dense() && cfg.input.bias != 0.0;
    let n = per - usize::from(bias);
    if !split.points.is_empty() {
        let amp = cfg.input.intensity.sqrt() as f32;
        for (b, &i) in indices.iter().enumerate() {
            out[per * b] = split.points[i][0] * amp;
            out[per * b + 1] = split.points[i][1] * amp;
        }
    } else if cfg.is_dense() && !bias {
        let s = cfg.input.size;
        encode_batch(&split.images, indices, s, s, s, cfg.input.intensity, out);
    } else if cfg.is_dense() {
        // With a bias input the images are not contiguous: encode each, then place it.
        let s = cfg.input.size;
        let mut img = vec![0.0f32; n];
        for (b, &i) in indices.iter().enumerate() {
            encode_batch(&split.images, &[i], s, s, s, cfg.input.intensity, &mut img);
            out[per * b..per * b + n].copy_from_slice(&img);
        }
    } else {
        let o = &cfg.optics;
        encode_batch(
            &split.images,
            indices,
            o.nx,
            o.ny,
            cfg.input.size,
            cfg.input.intensity,
            out,
        );
    }
    if bias {
        for b in 0..indices.len() {
            out[per * b + n] = cfg.input.bias as f32;
        }
    }
}
