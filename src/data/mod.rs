//! Data: the IDX (MNIST-format) reader, the bundled subset, input encoding onto the optical grid,
//! and deterministic shuffling.

pub mod encode;
pub mod idx;

pub use encode::encode_batch;
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
