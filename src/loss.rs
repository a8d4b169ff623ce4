//! Electronic readout: losses on detector powers and their gradients `∂L/∂P_k`.
//!
//! Powers are normalised per image, `p_k = P_k/ΣP`, which makes the loss independent of the
//! overall transmission of the optics (and of the input intensity scale). The total is floored
//! at [`POWER_FLOOR`] (as `shaders/loss.wgsl` does), so that a dark output (an all-black input
//! image: every power exactly zero) has a defined loss (`ln K` for cross-entropy over `K`
//! classes) and a finite gradient, which the zero field at the detectors turns into a zero probe.

use crate::model::Loss;
use crate::real::Real;

/// The least total detector power the normalisation divides by (in the units of `Σ|E|²·dx²`);
/// far below any lit output (a white MNIST digit on the default network delivers about 1e-6).
pub const POWER_FLOOR: f64 = 1e-30;

/// Batch loss statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    /// Sum of per-image losses.
    pub loss_sum: f64,
    /// Images whose largest detector power is the label.
    pub correct: usize,
}

/// Index of the largest value (the first of equal ones): the predicted class.
pub fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    (0..v.len()).fold(0, |best, j| if v[j] > v[best] { j } else { best })
}

/// The electronic loss of one example on its readout values `y` (normalised powers, or output
/// amplitudes), the one core both kinds of network use. Adds the example's loss to `loss_sum`
/// (term by term for MSE), writes into `g` the gradient `∂L/∂y` times the returned divisor, and
/// returns that divisor: the temperature `τ` for cross-entropy, 1 for MSE.
///
/// Cross-entropy: `L = −log softmax(y/τ)_label`, `g = softmax(y/τ) − onehot`.
/// MSE: `L = Σ_k (y_k − onehot_k)²`, `g = 2(y − onehot)`.
pub fn example_loss(
    y: &[f64],
    label: usize,
    loss: Loss,
    temperature: f64,
    g: &mut [f64],
    loss_sum: &mut f64,
) -> f64 {
    let k = y.len();
    match loss {
        Loss::CrossEntropy => {
            let zmax = y.iter().fold(f64::MIN, |m, &v| m.max(v)) / temperature;
            let mut denom = 0.0;
            for j in 0..k {
                g[j] = (y[j] / temperature - zmax).exp();
                denom += g[j];
            }
            *loss_sum += -(y[label] / temperature - zmax - denom.ln());
            for (j, gj) in g.iter_mut().enumerate() {
                *gj = *gj / denom - if j == label { 1.0 } else { 0.0 };
            }
            temperature
        }
        Loss::Mse => {
            for j in 0..k {
                let e = y[j] - if j == label { 1.0 } else { 0.0 };
                *loss_sum += e * e;
                g[j] = 2.0 * e;
            }
            1.0
        }
    }
}

/// Loss (mean over the batch) and `∂L/∂P` for powers `[batch][k]`, written to `dl_dp`.
///
/// On the normalised powers `p_k = P_k/S`, `S = ΣP` ([`example_loss`] with gradient `g` and
/// divisor `d`): `∂L/∂P_j = (g_j − Σ_k g_k p_k)/(d·S)`.
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
        let s: f64 = pw.iter().map(|v| v.f64()).sum::<f64>().max(POWER_FLOOR);
        for j in 0..k {
            p[j] = pw[j].f64() / s;
        }
        if argmax(pw) == y {
            stats.correct += 1;
        }
        let scale = 1.0 / example_loss(&p, y, loss, temperature, &mut g, &mut stats.loss_sum);
        let gp: f64 = g.iter().zip(&p).map(|(a, b)| a * b).sum();
        for j in 0..k {
            dl_dp[b * k + j] = T::of(inv_b * scale * (g[j] - gp) / s);
        }
    }
    stats
}

/// Sum over the examples of the loss on readout values `[n][k]` (for evaluation): detector
/// powers normalised as in [`loss_and_grad`] when `normalise`, output amplitudes as they are
/// otherwise (dense networks).
pub fn loss_sum(
    values: &[f32],
    labels: &[u8],
    k: usize,
    loss: Loss,
    temperature: f64,
    normalise: bool,
) -> f64 {
    let mut sum = 0.0;
    let mut y = vec![0.0f64; k];
    let mut g = vec![0.0f64; k];
    for (row, &label) in values.chunks_exact(k).zip(labels) {
        let s = if normalise {
            row.iter().map(|&v| v as f64).sum::<f64>().max(POWER_FLOOR)
        } else {
            1.0
        };
        for (a, &v) in y.iter_mut().zip(row) {
            *a = v as f64 / s;
        }
        example_loss(&y, label as usize, loss, temperature, &mut g, &mut sum);
    }
    sum
}
