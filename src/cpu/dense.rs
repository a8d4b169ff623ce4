//! Dense (matrix–vector) optical networks on the CPU: fully connected optical layers with
//! saturable-absorber activations on signed real field amplitudes, the papers' networks
//! (Guo et al., Photonics Research 9, B71 (2021); Spall et al., Adv. Photon. 7, 016004 (2025)).
//!
//! Pump: `z = gain·diag(r)·W·C·a` per layer (`C = I`, `r = 1` unless the layer is simulated at
//! `wave` fidelity, see [`crate::optics::Multiplier`]), then `g(z) = z·t(z²)` at each absorber.
//! Probe: the error `b` enters at the output and runs backwards: `t(z²)·b` through an absorber
//! (optical) or `g'(z)·b` (exact), `Cᵀ·Wᵀ·(gain·r∘b)` through a layer; the weight gradient is
//! `δ·ãᵀ`, the product of the probe and pump beams measured at the weight SLM.
//!
//! Hardware non-idealities ([`Hardware`]) enter where the hardware makes them: errors on every
//! matrix–vector output (both directions), camera noise and bit depth on the two measured beams,
//! SLM quantisation of the shown weights, and a probe that is not weak.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::optimizer::{adam_step, sgd_step, AdamConfig};
use super::State;
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{Config, Element, Fidelity, GradientMode, Hardware, Loss, Optimizer};
use crate::optics::{Absorber, Multiplier};
use crate::real::Real;

/// One fully connected layer.
#[derive(Clone, Debug)]
struct Layer<T> {
    n_in: usize,
    n_out: usize,
    fidelity: Fidelity,
    /// `C` (`n_in × n_in`, row-major) when the layer has column cross-talk.
    coupling: Option<Vec<T>>,
    /// `gain·r_i`, one per output row.
    row_gain: Vec<T>,
}

/// One stage of a dense network, in pump order.
#[derive(Clone, Debug)]
pub enum DenseStage {
    /// The dense layer of this index.
    Dense(usize),
    /// A saturable absorber on the real amplitudes.
    Absorber(Absorber),
    /// A digital ReLU.
    Relu,
}

/// What a dense layer does to light, shared by the CPU and GPU executors.
#[derive(Clone, Debug)]
pub struct DenseLayerSpec {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// How the layer is simulated.
    pub fidelity: Fidelity,
    /// `C` (`n_in × n_in`, row-major) when the layer has column cross-talk (wave fidelity with a
    /// finite aperture).
    pub coupling: Option<Vec<f64>>,
    /// `gain·r_i`, one per output row.
    pub row_gain: Vec<f64>,
}

/// The stages of a dense `cfg` (each with its config index) and its layers. `cfg` must be a
/// validated dense network.
pub fn dense_stages(cfg: &Config) -> (Vec<(usize, DenseStage)>, Vec<DenseLayerSpec>) {
    let dims = cfg.dense_dims();
    let mut stages = Vec::new();
    let mut layers = Vec::new();
    for (i, e) in cfg.elements.iter().enumerate() {
        match *e {
            Element::Dense {
                fidelity,
                gain,
                fill_factor,
                na,
                fanout_focal_length,
                samples,
                ..
            } => {
                let (n_in, n_out) = dims[layers.len()];
                let (coupling, rows) = if fidelity == Fidelity::Wave {
                    let mul = Multiplier {
                        wavelength: cfg.optics.wavelength,
                        pitch: cfg.optics.pitch,
                        fill_factor,
                        na,
                        fanout_focal_length,
                        samples,
                    };
                    let c = na.map(|_| mul.coupling_matrix(n_in));
                    (c, mul.row_gains(n_out))
                } else {
                    (None, vec![1.0; n_out])
                };
                stages.push((i, DenseStage::Dense(layers.len())));
                layers.push(DenseLayerSpec {
                    n_in,
                    n_out,
                    fidelity,
                    coupling,
                    row_gain: rows.iter().map(|r| r * gain).collect(),
                });
            }
            Element::Absorber { od, model } => {
                stages.push((i, DenseStage::Absorber(Absorber::new(od, model))))
            }
            Element::Relu => stages.push((i, DenseStage::Relu)),
            _ => unreachable!("validated dense network"),
        }
    }
    (stages, layers)
}

/// Initial state of a dense network: weights `N(0, init_std²)` (default `1/√in`), clipped to
/// `[−1, 1]` for optical layers, drawn from `seed`.
pub fn init_state(cfg: &Config) -> State {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.train.seed);
    let dims = cfg.dense_dims();
    let mut params = Vec::new();
    let mut li = 0;
    for e in &cfg.elements {
        if let Element::Dense {
            init_std, fidelity, ..
        } = *e
        {
            let (n_in, n_out) = dims[li];
            li += 1;
            let std = init_std.unwrap_or(1.0 / (n_in as f64).sqrt());
            let bound = if fidelity == Fidelity::Digital {
                f64::INFINITY
            } else {
                1.0
            };
            params.push(
                (0..n_in * n_out)
                    .map(|_| {
                        let x: f64 = rng.sample(StandardNormal);
                        (x * std).clamp(-bound, bound) as f32
                    })
                    .collect::<Vec<f32>>(),
            );
        }
    }
    State::fresh(params)
}

/// Checks that `cfg` is a valid dense network and that `state` holds one `[out][in]` matrix per
/// dense layer.
pub fn check_dense(cfg: &Config, state: &State) -> Result<()> {
    cfg.validate()?;
    if !cfg.is_dense() {
        return Err(Error::config(
            "elements",
            "not a dense network: it has no 'dense' layer",
        ));
    }
    let dims = cfg.dense_dims();
    if state.params.len() != dims.len()
        || state
            .params
            .iter()
            .zip(&dims)
            .any(|(p, (i, o))| p.len() != i * o)
    {
        return Err(Error::config(
            "state",
            format!(
                "the parameters ({} tensors) do not fit this network's {} dense layers of (in, out) {:?}",
                state.params.len(),
                dims.len(),
                dims
            ),
        ));
    }
    Ok(())
}

/// A dense network on the CPU in precision `T`.
pub struct DenseNetwork<T: Real> {
    stages: Vec<(usize, DenseStage)>,
    layers: Vec<Layer<T>>,
    classes: usize,
    loss: Loss,
    temperature: f64,
    gradient: GradientMode,
    optimizer: Optimizer,
    lr: f64,
    hw: Hardware,
    seed: u64,
    /// Full-precision weights, one `[out][in]` matrix per layer.
    pub params: Vec<Vec<T>>,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
    step: u64,
    /// The weights as the SLMs show them (bounded, quantised).
    shown: Vec<Vec<T>>,
    /// `acts[i]`: the vector entering stage `i`; the last is the output.
    acts: Vec<Vec<T>>,
    /// Per layer: `C·a`, the pump at the weight SLM.
    coupled: Vec<Vec<T>>,
    /// Gradients of the last backward pass, one per layer.
    pub grads: Vec<Vec<T>>,
    batch: usize,
    dl_dy: Vec<T>,
    /// Evaluation passes since the last step (seeds inference noise).
    evals: u64,
    /// Probe-pass working vectors.
    probe_bufs: [Vec<T>; 3],
}

/// `C = A·Bᵀ·alpha` (or `A·B` when `bt` is false) on row-major slices.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Real>(
    alpha: T,
    a: &[T],
    (ar, ac): (usize, usize),
    b: &[T],
    (br, bc): (usize, usize),
    transpose_a: bool,
    transpose_b: bool,
    c: &mut [T],
) {
    let av = ArrayView2::from_shape((ar, ac), a).expect("gemm: A shape");
    let bv = ArrayView2::from_shape((br, bc), b).expect("gemm: B shape");
    let av = if transpose_a { av.reversed_axes() } else { av };
    let bv = if transpose_b { bv.reversed_axes() } else { bv };
    let mut cv = ArrayViewMut2::from_shape((av.nrows(), bv.ncols()), c).expect("gemm: C shape");
    general_mat_mul(alpha, &av, &bv, T::zero(), &mut cv);
}

impl<T: Real> DenseNetwork<T> {
    /// Builds the network of a dense `cfg` from `state`.
    pub fn new(cfg: &Config, state: &State) -> Result<Self> {
        check_dense(cfg, state)?;
        let (stages, specs) = dense_stages(cfg);
        let layers: Vec<Layer<T>> = specs
            .into_iter()
            .map(|l| Layer {
                n_in: l.n_in,
                n_out: l.n_out,
                fidelity: l.fidelity,
                coupling: l.coupling.map(|c| c.into_iter().map(T::of).collect()),
                row_gain: l.row_gain.into_iter().map(T::of).collect(),
            })
            .collect();
        let cvt = |v: &Vec<Vec<f32>>| State::to_engine::<T>(v);
        let params = cvt(&state.params);
        let zeros: Vec<Vec<T>> = params.iter().map(|p| vec![T::zero(); p.len()]).collect();
        let mut net = DenseNetwork {
            classes: cfg.readout.classes,
            loss: cfg.readout.loss,
            temperature: cfg.readout.temperature,
            gradient: cfg.train.gradient,
            optimizer: cfg.train.optimizer,
            lr: cfg.train.lr,
            hw: cfg.hardware.clone(),
            seed: cfg.train.seed,
            m: if state.m.len() == params.len() {
                cvt(&state.m)
            } else {
                zeros.clone()
            },
            v: if state.v.len() == params.len() {
                cvt(&state.v)
            } else {
                zeros.clone()
            },
            step: state.step,
            shown: params.clone(),
            grads: zeros,
            params,
            acts: vec![Vec::new(); stages.len() + 1],
            coupled: vec![Vec::new(); layers.len()],
            stages,
            layers,
            batch: 0,
            dl_dy: Vec::new(),
            evals: 0,
            probe_bufs: Default::default(),
        };
        net.refresh_weights();
        Ok(net)
    }

    /// Names of the elements for messages (`"elements[2] dense"`), in config order.
    pub fn element_names(cfg: &Config) -> Vec<String> {
        cfg.elements
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let kind = match e {
                    Element::Dense { .. } => "dense",
                    Element::Absorber { .. } => "absorber",
                    Element::Relu => "relu",
                    _ => "element",
                };
                format!("elements[{i}] {kind}")
            })
            .collect()
    }

    /// Recomputes the shown weights from the full-precision copy: bounded to `[−1, 1]` and
    /// quantised to the SLM's bit depth for optical layers.
    pub fn refresh_weights(&mut self) {
        let levels = self.hw.slm_bits.map(|b| ((1u64 << b) - 1) as f64);
        for (l, layer) in self.layers.iter().enumerate() {
            let optical = layer.fidelity != Fidelity::Digital;
            for (s, &p) in self.shown[l].iter_mut().zip(&self.params[l]) {
                let mut w = p.f64();
                if optical {
                    w = w.clamp(-1.0, 1.0);
                    if let Some(q) = levels {
                        w = ((w + 1.0) * 0.5 * q).round() / q * 2.0 - 1.0;
                    }
                }
                *s = T::of(w);
            }
        }
    }

    fn rng(&self, salt: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            self.seed
                ^ self.step.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ salt.wrapping_mul(0xbf58_476d_1ce4_e5b9),
        )
    }

    /// Adds the matrix–vector errors of [`Hardware`] to one multiplier output.
    fn mvm_errors(hw: &Hardware, z: &mut [T], rng: &mut ChaCha8Rng) {
        if hw.signal_error == 0.0 && hw.noise_error == 0.0 {
            return;
        }
        let full = z.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
        for v in z.iter_mut() {
            let (e1, e2): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            let x = v.f64();
            *v = T::of(x * (1.0 + hw.signal_error * e1) + hw.noise_error * full * e2);
        }
    }

    /// What a camera reports for a beam (signed amplitudes, coherent detection): shot noise,
    /// read noise and bit depth on the intensity, full scale at the batch's brightest pixel.
    fn measure(hw: &Hardware, x: &[T], rng: &mut ChaCha8Rng) -> Option<Vec<T>> {
        if hw.shot_noise.is_none() && hw.read_noise == 0.0 && hw.camera_bits.is_none() {
            return None;
        }
        let full = x.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
        if full == 0.0 {
            return Some(x.to_vec());
        }
        let levels = hw.camera_bits.map(|b| ((1u64 << b) - 1) as f64);
        Some(
            x.iter()
                .map(|v| {
                    let a = v.f64() / full;
                    let mut i = a * a;
                    if let Some(n) = hw.shot_noise {
                        let e: f64 = rng.sample(StandardNormal);
                        i += (i / n).sqrt() * e;
                    }
                    if hw.read_noise > 0.0 {
                        let e: f64 = rng.sample(StandardNormal);
                        i += hw.read_noise * e;
                    }
                    i = i.clamp(0.0, 1.0);
                    if let Some(q) = levels {
                        i = (i * q).round() / q;
                    }
                    T::of(a.signum() * i.sqrt() * full)
                })
                .collect(),
        )
    }

    /// Pump pass on inputs `[batch][in]`; returns the outputs `[batch][classes]`.
    pub fn forward(&mut self, x: &[T]) -> &[T] {
        let n0 = self.layers.first().map(|l| l.n_in).unwrap_or(1);
        self.batch = x.len() / n0;
        let batch = self.batch;
        self.evals += 1;
        let mut rng = self.rng(0x5eed ^ self.evals);
        self.acts[0].clear();
        self.acts[0].extend_from_slice(x);
        for si in 0..self.stages.len() {
            let (before, after) = self.acts.split_at_mut(si + 1);
            let a = &before[si];
            let out = &mut after[0];
            match &self.stages[si].1 {
                DenseStage::Dense(l) => {
                    let layer = &self.layers[*l];
                    let coupled = &mut self.coupled[*l];
                    coupled.resize(batch * layer.n_in, T::zero());
                    match &layer.coupling {
                        Some(c) => gemm(
                            T::one(),
                            a,
                            (batch, layer.n_in),
                            c,
                            (layer.n_in, layer.n_in),
                            false,
                            true,
                            coupled,
                        ),
                        None => coupled.copy_from_slice(a),
                    }
                    out.resize(batch * layer.n_out, T::zero());
                    gemm(
                        T::one(),
                        coupled,
                        (batch, layer.n_in),
                        &self.shown[*l],
                        (layer.n_out, layer.n_in),
                        false,
                        true,
                        out,
                    );
                    for row in out.chunks_mut(layer.n_out) {
                        for (v, &g) in row.iter_mut().zip(&layer.row_gain) {
                            *v = *v * g;
                        }
                    }
                    if layer.fidelity != Fidelity::Digital {
                        Self::mvm_errors(&self.hw, out, &mut rng);
                    }
                }
                DenseStage::Absorber(ab) => {
                    out.clear();
                    out.extend(a.iter().map(|&z| z * ab.transmission(z * z)));
                }
                DenseStage::Relu => {
                    out.clear();
                    out.extend(a.iter().map(|&z| z.max(T::zero())));
                }
            }
        }
        &self.acts[self.stages.len()]
    }

    /// Loss of the last forward pass against `labels`; stores `∂L/∂y` for [`Self::backward`].
    ///
    /// MSE: `L = Σ_k (y_k − onehot_k)²` on the output amplitudes (the optically obtainable loss);
    /// cross-entropy: `−log softmax(y/τ)_label`. Mean over the batch.
    pub fn loss(&mut self, labels: &[u8]) -> LossStats {
        let k = self.classes;
        let y = &self.acts[self.stages.len()];
        let batch = labels.len();
        self.dl_dy.resize(batch * k, T::zero());
        let inv_b = 1.0 / batch as f64;
        let mut stats = LossStats::default();
        let mut g = vec![0.0f64; k];
        for b in 0..batch {
            let yb = &y[b * k..(b + 1) * k];
            let lab = labels[b] as usize;
            let arg = (0..k).fold(0, |best, j| if yb[j] > yb[best] { j } else { best });
            if arg == lab {
                stats.correct += 1;
            }
            match self.loss {
                Loss::Mse => {
                    for j in 0..k {
                        let e = yb[j].f64() - if j == lab { 1.0 } else { 0.0 };
                        stats.loss_sum += e * e;
                        g[j] = 2.0 * e;
                    }
                }
                Loss::CrossEntropy => {
                    let tau = self.temperature;
                    let zmax = yb.iter().fold(f64::MIN, |m, v| m.max(v.f64())) / tau;
                    let mut denom = 0.0;
                    for j in 0..k {
                        g[j] = (yb[j].f64() / tau - zmax).exp();
                        denom += g[j];
                    }
                    stats.loss_sum += -(yb[lab].f64() / tau - zmax - denom.ln());
                    for (j, gj) in g.iter_mut().enumerate() {
                        *gj = (*gj / denom - if j == lab { 1.0 } else { 0.0 }) / tau;
                    }
                }
            }
            for (d, gj) in self.dl_dy[b * k..(b + 1) * k].iter_mut().zip(&g) {
                *d = T::of(gj * inv_b);
            }
        }
        stats
    }

    /// Probe pass from the stored `∂L/∂y`: fills [`Self::grads`].
    pub fn backward(&mut self) {
        let batch = self.batch;
        let mut rng = self.rng(0xb0b);
        // The probe and two working vectors, reused from step to step.
        let [mut b, mut back, mut tmp] = std::mem::take(&mut self.probe_bufs);
        b.clear();
        b.extend_from_slice(&self.dl_dy);
        let first_dense = self
            .stages
            .iter()
            .position(|(_, s)| matches!(s, DenseStage::Dense(_)))
            .unwrap_or(0);
        for si in (0..self.stages.len()).rev() {
            let a = &self.acts[si];
            match &self.stages[si].1 {
                DenseStage::Absorber(ab) => {
                    let probe_scale = if self.hw.probe_power > 0.0 {
                        let peak = b.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
                        if peak > 0.0 {
                            Some(T::of(self.hw.probe_power.sqrt() / peak))
                        } else {
                            None
                        }
                    } else {
                        None
                    };
                    for (bv, &z) in b.iter_mut().zip(a) {
                        let s = z * z;
                        let f = match self.gradient {
                            GradientMode::Optical => match probe_scale {
                                Some(c) => {
                                    let p = *bv * c;
                                    ab.transmission(s + p * p)
                                }
                                None => ab.transmission(s),
                            },
                            GradientMode::Exact => {
                                let (t, dt) = ab.transmission_and_slope(s);
                                t + T::of(2.0) * s * dt
                            }
                        };
                        *bv = *bv * f;
                    }
                }
                DenseStage::Relu => {
                    for (bv, &z) in b.iter_mut().zip(a) {
                        if z <= T::zero() {
                            *bv = T::zero();
                        }
                    }
                }
                DenseStage::Dense(l) => {
                    let layer = &self.layers[*l];
                    let (n_in, n_out) = (layer.n_in, layer.n_out);
                    // The probe reaching the weight SLM: the summing lens spreads b_i over row i
                    // with the row's gain.
                    for row in b.chunks_mut(n_out) {
                        for (v, &g) in row.iter_mut().zip(&layer.row_gain) {
                            *v = *v * g;
                        }
                    }
                    let optical = layer.fidelity != Fidelity::Digital;
                    let pump = &self.coupled[*l];
                    let (mp, mb) = if optical {
                        (
                            Self::measure(&self.hw, pump, &mut rng),
                            Self::measure(&self.hw, &b, &mut rng),
                        )
                    } else {
                        (None, None)
                    };
                    let grad = &mut self.grads[*l];
                    grad.resize(n_out * n_in, T::zero());
                    gemm(
                        T::one(),
                        mb.as_deref().unwrap_or(&b),
                        (batch, n_out),
                        mp.as_deref().unwrap_or(pump),
                        (batch, n_in),
                        true,
                        false,
                        grad,
                    );
                    if si > first_dense {
                        back.resize(batch * n_in, T::zero());
                        gemm(
                            T::one(),
                            &b,
                            (batch, n_out),
                            &self.shown[*l],
                            (n_out, n_in),
                            false,
                            false,
                            &mut back,
                        );
                        if let Some(c) = &layer.coupling {
                            tmp.resize(batch * n_in, T::zero());
                            gemm(
                                T::one(),
                                &back,
                                (batch, n_in),
                                c,
                                (n_in, n_in),
                                false,
                                false,
                                &mut tmp,
                            );
                            std::mem::swap(&mut back, &mut tmp);
                        }
                        if optical {
                            Self::mvm_errors(&self.hw, &mut back, &mut rng);
                        }
                        std::mem::swap(&mut b, &mut back);
                    } else {
                        break;
                    }
                }
            }
        }
        self.probe_bufs = [b, back, tmp];
    }

    /// Applies the optimiser to the last gradients.
    pub fn update(&mut self) {
        self.step += 1;
        for l in 0..self.params.len() {
            match self.optimizer {
                Optimizer::Sgd => sgd_step(&mut self.params[l], &self.grads[l], self.lr),
                Optimizer::Adam => adam_step(
                    &mut self.params[l],
                    &self.grads[l],
                    &mut self.m[l],
                    &mut self.v[l],
                    self.step,
                    &AdamConfig {
                        lr: self.lr,
                        ..Default::default()
                    },
                ),
            }
            if self.layers[l].fidelity != Fidelity::Digital {
                for p in self.params[l].iter_mut() {
                    *p = p.max(-T::one()).min(T::one());
                }
            }
        }
        self.refresh_weights();
        self.evals = 0;
    }

    /// Forward, loss, backward and update on one batch.
    pub fn train_step(&mut self, x: &[T], labels: &[u8]) -> LossStats {
        self.evals = 0;
        self.forward(x);
        let stats = self.loss(labels);
        if stats.loss_sum.is_finite() {
            self.backward();
            self.update();
        }
        stats
    }

    /// Parameters and optimiser state in f32.
    pub fn state(&self) -> State {
        State::from_engine(&self.params, &self.m, &self.v, self.step)
    }

    /// Mean `s = z²` entering each absorber for inputs `x`.
    pub fn absorber_intensity(&mut self, x: &[T]) -> Vec<f64> {
        self.forward(x);
        self.stages
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| matches!(s, DenseStage::Absorber(_)))
            .map(|(si, _)| {
                let a = &self.acts[si];
                a.iter().map(|z| z.f64() * z.f64()).sum::<f64>() / a.len().max(1) as f64
            })
            .collect()
    }

    /// Config index of the first element whose output is non-finite for inputs `x`.
    pub fn locate_fault(&mut self, x: &[T]) -> Option<usize> {
        self.forward(x);
        (0..self.stages.len())
            .find(|&si| self.acts[si + 1].iter().any(|v| !v.is_finite()))
            .map(|si| self.stages[si].0)
    }

    /// Number of dense layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }
}
