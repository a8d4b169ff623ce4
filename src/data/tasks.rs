//! Generated 2-D classification tasks (two classes) for small dense networks: a disc inside a
//! ring, two interleaved half-moons, two interleaved spirals. Points lie roughly in `[−1, 1]²`;
//! each split is balanced and seeded, so a run is reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::idx::{Images, Split};
use crate::model::Task;

/// `n` labelled points of `task` with Gaussian jitter `jitter`, drawn from `seed`.
pub fn generate(task: Task, n: usize, jitter: f64, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x2d7a_5c31);
    let mut points = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as u8;
        let u: f64 = rng.random();
        let (x, y) = match task {
            Task::Rings => {
                let ang = std::f64::consts::TAU * u;
                let r = if class == 0 {
                    0.35 * rng.random::<f64>().sqrt()
                } else {
                    0.65 + 0.25 * rng.random::<f64>()
                };
                (r * ang.cos(), r * ang.sin())
            }
            Task::Moons => {
                let ang = std::f64::consts::PI * u;
                if class == 0 {
                    (ang.cos() * 0.6 - 0.3, ang.sin() * 0.6 - 0.15)
                } else {
                    (0.3 - ang.cos() * 0.6, 0.15 - ang.sin() * 0.6)
                }
            }
            Task::Spirals => {
                // Archimedean arms r = θ/(3π)·0.9, the second rotated by π.
                let th = 0.25 * std::f64::consts::PI + u * 2.75 * std::f64::consts::PI;
                let r = 0.9 * th / (3.0 * std::f64::consts::PI);
                let sign = if class == 0 { 1.0 } else { -1.0 };
                (sign * r * th.cos(), sign * r * th.sin())
            }
        };
        let (ex, ey): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
        points.push([(x + jitter * ex) as f32, (y + jitter * ey) as f32]);
        labels.push(class);
    }
    Split {
        images: Images {
            count: n,
            rows: 0,
            cols: 0,
            pixels: Vec::new(),
        },
        labels,
        points,
    }
}

/// Train and test splits of a task: `n` training points and `n/2` test points, from different
/// seeds.
pub fn splits(task: Task, n: usize, jitter: f64, seed: u64) -> (Split, Split) {
    (
        generate(task, n, jitter, seed),
        generate(task, (n / 2).max(2), jitter, seed ^ 0x7e57),
    )
}
