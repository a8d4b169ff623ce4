//! Electronic readout: losses on detector powers and their gradients `∂L/∂P_k`.
//!
//! Powers are normalised per image, `p_k = P_k/ΣP`, which makes the loss independent of the
//! overall transmission of the optics (and of the input intensity scale).

use crate::model::Loss;
use crate::real::Real;

/// Batch loss statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    /// Sum of per-image losses.
    pub loss_sum: f64,
    /// Images whose largest detector power is the label.
    pub correct: usize,
}

/// Loss (mean over the batch) and `∂L/∂P` for powers `[batch][k]`, written to `dl_dp`.
///
/// Cross-entropy: `z_k = p_k/τ`, `L = −log softmax(z)_y`,
/// `∂L/∂P_j = (g_j − Σ_k g_k p_k)/(τ·S)` with `g = softmax(z) − onehot(y)` and `S = ΣP`.
/// MSE: `L = Σ_k (p_k − onehot_k)²`, `∂L/∂P_j = (e_j − Σ_k e_k p_k)/S` with `e = 2(p − onehot)`.
pub fn loss_and_grad<T: Real>(
    powers: &[T],
    labels: &[u8],
    k: usize,
    loss: Loss,
    temperature: f64,
    dl_dp: &mut [T],
) -> LossStats {
    let batch = labels.len();
    let mut stats = LossStats::default();
    let inv_b = 1.0 / batch as f64;
    let mut p = vec![0.0f64; k];
    let mut g = vec![0.0f64; k];
    for b in 0..batch {
        let pw = &powers[b * k..(b + 1) * k];
        let y = labels[b] as usize;
        let s: f64 = pw.iter().map(|v| v.f64()).sum::<f64>().max(1e-300);
        for j in 0..k {
            p[j] = pw[j].f64() / s;
        }
        let arg = (0..k).fold(0, |best, j| if pw[j] > pw[best] { j } else { best });
        if arg == y {
            stats.correct += 1;
        }
        let scale = match loss {
            Loss::CrossEntropy => {
                let zmax = p.iter().fold(f64::MIN, |m, &v| m.max(v)) / temperature;
                let mut denom = 0.0;
                for j in 0..k {
                    g[j] = (p[j] / temperature - zmax).exp();
                    denom += g[j];
                }
                stats.loss_sum += -(p[y] / temperature - zmax - denom.ln());
                for (j, gj) in g.iter_mut().enumerate() {
                    *gj = *gj / denom - if j == y { 1.0 } else { 0.0 };
                }
                1.0 / temperature
            }
            Loss::Mse => {
                for j in 0..k {
                    let e = p[j] - if j == y { 1.0 } else { 0.0 };
                    stats.loss_sum += e * e;
                    g[j] = 2.0 * e;
                }
                1.0
            }
        };
        let gp: f64 = g.iter().zip(&p).map(|(a, b)| a * b).sum();
        for j in 0..k {
            dl_dp[b * k + j] = T::of(inv_b * scale * (g[j] - gp) / s);
        }
    }
    stats
}
