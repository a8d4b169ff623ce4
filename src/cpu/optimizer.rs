//! Parameter updates on the CPU (mirrors `shaders/optimizer.wgsl`): SGD and Adam, in place.

use serde::{Deserialize, Serialize};

use crate::real::Real;

/// Adam hyper-parameters (Kingma & Ba 2015), as the WGSL uniform `AdamParams` gets them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator floor.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// `p ← p − lr·g`.
pub fn sgd_step<T: Real>(params: &mut [T], grads: &[T], lr: f64) {
    let lr = T::of(lr);
    for (p, g) in params.iter_mut().zip(grads) {
        *p = *p - lr * *g;
    }
}

/// One Adam step at 1-based step number `t`, updating `params`, `m` and `v` in place.
///
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
pub fn adam_step<T: Real>(
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    t: u64,
    cfg: &AdamConfig,
) {
    let (b1, b2) = (T::of(cfg.beta1), T::of(cfg.beta2));
    let one = T::one();
    let c1 = T::of(1.0 / (1.0 - cfg.beta1.powf(t as f64)));
    let c2 = T::of(1.0 / (1.0 - cfg.beta2.powf(t as f64)));
    let (lr, eps) = (T::of(cfg.lr), T::of(cfg.eps));
    for i in 0..params.len() {
        let g = grads[i];
        m[i] = b1 * m[i] + (one - b1) * g;
        v[i] = b2 * v[i] + (one - b2) * g * g;
        params[i] = params[i] - lr * (m[i] * c1) / ((v[i] * c2).sqrt() + eps);
    }
}
