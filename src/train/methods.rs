//! The training methods of `train.method` (issue 27) as the trainer runs them, on any backend:
//! one update of each, the hardware passes it costs, and the fidelity of its update to the
//! exact gradient.
//!
//! - `backprop`: the backend's own training step (pump and probe), bit for bit as before.
//! - `dfa`, `pepita`: the executor's update rule ([`crate::cpu::CpuDense::estimate`], dense
//!   networks on the CPU), then the optimiser.
//! - `spsa` (Spall, IEEE Trans. Autom. Control 37, 332 (1992)): for each of `n` samples, a
//!   perturbation `Δ` of independent ±1 signs on every parameter, the losses
//!   `L± = L(θ ± σΔ)` from two forward passes on the system trained, and
//!   `ĝ = (1/n)·Σ (L+ − L−)/(2σ)·Δ` (for ±1 signs `Δ⁻¹ = Δ`); the optimiser then steps with
//!   `ĝ`. Its expectation is the gradient up to `O(σ²)` terms, and its variance falls as `1/n`.
//!   The signs are drawn from the counter generator keyed by `train.seed` at the optimiser
//!   step, so a resumed run draws the same ones. The epoch's train loss and accuracy are the
//!   mean over its perturbed passes.
//!
//! **Hardware passes per image** (`metrics.csv`'s `forward_passes`, `probe_passes`: image
//! passes through the hardware in the epoch): backprop 1 + 1; DFA 1 forward and 1 backward pass
//! of the error through the feedback optics; SPSA `2n` forward; PEPITA 2 forward; whatever the
//! method, none for training in silico and 1 forward for physics-aware training.

use crate::backend::Backend;
use crate::error::Result;
use crate::loss::LossStats;
use crate::model::{Config, GradientMode, Hardware, Method, ReadoutMethod, Target};
use crate::network::{Network, State};
use crate::rng::{key_of, philox4x32_10, word1, Purpose};

/// SPSA's perturbation pairs per update when `train.spsa_samples` is absent.
pub const SPSA_SAMPLES: u32 = 4;
/// SPSA's perturbation size when `train.spsa_sigma` is absent.
pub const SPSA_SIGMA: f64 = 0.05;

/// Forward and probe passes through the hardware per image and update of `cfg`'s method and
/// target: training in silico (`train.target = model`) uses none, physics-aware training one
/// forward pass (its backward pass runs through the model); in situ, the method's.
pub fn passes_per_image(cfg: &Config) -> (u64, u64) {
    match cfg.train.target {
        Target::Model => return (0, 0),
        Target::PhysicsAware => return (1, 0),
        Target::Hardware => {}
    }
    match cfg.train.method {
        Method::Backprop | Method::Dfa => (1, 1),
        Method::Spsa => (2 * u64::from(spsa_samples(cfg)), 0),
        Method::Pepita => (2, 0),
    }
}

fn spsa_samples(cfg: &Config) -> u32 {
    cfg.train.spsa_samples.unwrap_or(SPSA_SAMPLES)
}

/// One training step of `cfg`'s method on `backend` at optimiser step `step` (the one this
/// update makes, counted from 0).
pub fn step(
    backend: &mut dyn Backend,
    cfg: &Config,
    input: &[f32],
    labels: &[u8],
    step: u64,
) -> Result<LossStats> {
    match cfg.train.method {
        Method::Backprop => backend.train_step(input, labels),
        Method::Dfa | Method::Pepita => {
            let (stats, g) = backend.estimate(cfg.train.method, input, labels)?;
            if stats.loss_sum.is_finite() {
                backend.apply_gradient(&g)?;
            }
            Ok(stats)
        }
        Method::Spsa => {
            let (stats, g) = spsa_estimate(backend, cfg, input, labels, step)?;
            if stats.loss_sum.is_finite() {
                backend.apply_gradient(&g)?;
            }
            Ok(stats)
        }
    }
}

/// The perturbation of SPSA sample `k` at `step`, shaped like `theta`: the sign of element `i`
/// of parameter vector `p` is bit `i mod 128` of the Philox block
/// `[step, word1(0, Spsa, k), p, i / 128]` (one block for 128 elements).
fn signs(key: [u32; 2], step: u64, k: u32, theta: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let w = word1(0, Purpose::Spsa, k);
    theta
        .iter()
        .enumerate()
        .map(|(p, t)| {
            let mut out = Vec::with_capacity(t.len());
            for block in 0..t.len().div_ceil(128) {
                let x = philox4x32_10([step as u32, w, p as u32, block as u32], key);
                let n = (t.len() - block * 128).min(128);
                out.extend((0..n).map(|j| {
                    if (x[j / 32] >> (j % 32)) & 1 == 1 {
                        1.0
                    } else {
                        -1.0
                    }
                }));
            }
            out
        })
        .collect()
}

/// SPSA's gradient estimate at the backend's parameters (module doc), leaving them as they
/// were; the statistics are the mean over the perturbed passes.
pub fn spsa_estimate(
    backend: &mut dyn Backend,
    cfg: &Config,
    input: &[f32],
    labels: &[u8],
    step: u64,
) -> Result<(LossStats, Vec<Vec<f32>>)> {
    let theta = backend.state()?.params;
    let n = spsa_samples(cfg);
    let sigma = cfg.train.spsa_sigma.unwrap_or(SPSA_SIGMA);
    let key = key_of(cfg.train.seed);
    let valid = labels.len().max(1) as f64;
    let mut g: Vec<Vec<f32>> = theta.iter().map(|p| vec![0.0; p.len()]).collect();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut moved = theta.clone();
    for k in 0..n {
        let delta = signs(key, step, k, &theta);
        let mut l = [0.0f64; 2];
        for (side, s) in [1.0f32, -1.0].into_iter().enumerate() {
            for ((m, t), d) in moved.iter_mut().zip(&theta).zip(&delta) {
                for ((m, &t), &d) in m.iter_mut().zip(t).zip(d) {
                    *m = t + s * sigma as f32 * d;
                }
            }
            backend.set_params(&moved)?;
            let st = backend.evaluate(input, labels)?;
            l[side] = st.loss_sum / valid;
            loss += st.loss_sum;
            correct += st.correct;
        }
        let c = ((l[0] - l[1]) / (2.0 * sigma * f64::from(n))) as f32;
        for (gp, d) in g.iter_mut().zip(&delta) {
            for (x, &d) in gp.iter_mut().zip(d) {
                *x += c * d;
            }
        }
    }
    backend.set_params(&theta)?;
    let passes = 2 * n as usize;
    Ok((
        LossStats {
            loss_sum: loss / passes as f64,
            correct: (correct + passes / 2) / passes,
        },
        g,
    ))
}

/// The imperfect system without its noise: what the exact gradient of the system trained
/// refers to (the deterministic imperfections kept).
fn noiseless(h: &Hardware) -> Hardware {
    Hardware {
        signal_error: 0.0,
        noise_error: 0.0,
        shot_noise: None,
        read_noise: 0.0,
        camera_bits: None,
        probe_power: 0.0,
        input_bits: None,
        readout: ReadoutMethod::Ideal,
        readout_steps: None,
        readout_shot_noise: None,
        readout_read_noise: 0.0,
        readout_bits: None,
        readout_binning: None,
        probe_ratio: None,
        ..h.clone()
    }
}

/// The cosine similarity of the method's update on `(input, labels)` at `state` to the exact
/// gradient of the system trained (noiseless, deterministic imperfections kept), both with the
/// CPU engine: 1 for the exact gradient, near 1 for a good optical one.
pub fn gradient_cosine(
    net: &Network,
    state: &State,
    input: &[f32],
    labels: &[u8],
    step: u64,
) -> Result<f64> {
    let cfg = net.config();
    let mut exact_cfg = cfg.clone();
    exact_cfg.train.gradient = GradientMode::Exact;
    exact_cfg.train.method = Method::Backprop;
    exact_cfg.train.spsa_samples = None;
    exact_cfg.train.spsa_sigma = None;
    exact_cfg.train.feedback_scale = None;
    exact_cfg.hardware = noiseless(&cfg.hardware);
    let exact_net = exact_cfg.resolve()?;
    let mut exact = crate::cpu::CpuBackend::new(&exact_net, state)?;
    let (_, e) = exact.estimate(Method::Backprop, input, labels)?;
    let mut own = crate::cpu::CpuBackend::new(net, state)?;
    let g = match cfg.train.method {
        Method::Spsa => spsa_estimate(&mut own, cfg, input, labels, step)?.1,
        m => own.estimate(m, input, labels)?.1,
    };
    let (mut dot, mut ng, mut ne) = (0.0f64, 0.0f64, 0.0f64);
    for (gv, ev) in g.iter().zip(&e) {
        for (&a, &b) in gv.iter().zip(ev) {
            dot += f64::from(a) * f64::from(b);
            ng += f64::from(a) * f64::from(a);
            ne += f64::from(b) * f64::from(b);
        }
    }
    Ok(if ng > 0.0 && ne > 0.0 {
        dot / (ng.sqrt() * ne.sqrt())
    } else {
        0.0
    })
}
