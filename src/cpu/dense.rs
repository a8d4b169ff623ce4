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
//! SLM quantisation of the shown weights, a probe that is not weak, and the fixed imperfections
//! of the weight SLM: the shown matrix is `K_out·(f∘Q(W))·K_inᵀ` (quantisation `Q`,
//! miscalibration `f`, pixel cross-talk `K`, [`weight_crosstalk`]), which pump and probe both see
//! on the hardware.

mod methods;

use crate::rng::{key_of, normals, word1, Purpose};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::optimizer::OptimizerState;
use crate::error::Result;
use crate::loss::{argmax, example_loss, LossStats};
use crate::model::{Fidelity, GradientMode, Hardware, Loss};
use crate::network::dense::weight_crosstalk;
use crate::network::{DenseStage, Network, State};
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

/// A dense network on the CPU in precision `T`.
pub struct CpuDense<T: Real> {
    stages: Vec<(usize, DenseStage)>,
    layers: Vec<Layer<T>>,
    first_dense: usize,
    classes: usize,
    loss: Loss,
    temperature: f64,
    gradient: GradientMode,
    /// The hardware options of the pump (forward) pass.
    hw: Hardware,
    /// The hardware options of the probe (backward) pass: the pump's on the hardware, none
    /// through the ideal model (physics-aware training).
    hw_probe: Hardware,
    /// The fixed weight factors of the imperfect system (pump on the hardware only).
    miscal: Option<Vec<Option<Vec<T>>>>,
    /// The weight SLMs' pixel cross-talk `c` of the imperfect system (pump on the hardware only).
    crosstalk: Option<T>,
    /// Scratch row of [`weight_crosstalk`].
    crosstalk_row: Vec<T>,
    /// Physics-aware: the weights of the ideal model the probe runs through.
    shown_probe: Option<Vec<Vec<T>>>,
    /// The exact gradient of the imperfect system includes its weight factors and cross-talk.
    exact_miscal: bool,
    seed: u64,
    /// Full-precision weights, one `[out][in]` matrix per layer.
    pub params: Vec<Vec<T>>,
    opt: OptimizerState<T>,
    /// The weights as the SLMs show them (bounded, quantised).
    shown: Vec<Vec<T>>,
    /// `acts[i]`: the vector entering stage `i`; the last is the output.
    acts: Vec<Vec<T>>,
    /// Per layer with column cross-talk: `C·a`, the pump at the weight SLM (without, the pump
    /// is the layer's input, `acts`).
    coupled: Vec<Vec<T>>,
    /// Per absorber stage: the transmission `t(z²)` the pump set, which the weak probe sees.
    trans: Vec<Vec<T>>,
    /// Gradients of the last backward pass, one per layer.
    pub grads: Vec<Vec<T>>,
    batch: usize,
    dl_dy: Vec<T>,
    /// Evaluation passes since the last step (seeds inference noise).
    evals: u64,
    /// Probe-pass working vectors.
    probe_bufs: [Vec<T>; 3],
    /// The fixed random matrices of DFA or PEPITA (`train.method`; `methods`), per layer.
    feedback: Vec<Option<Vec<T>>>,
    /// When asked for ([`request_input_gradient`](Self::request_input_gradient)): the probe
    /// pass continues to the input and leaves `∂L/∂x` here (batch × inputs).
    pub input_grad: Option<Vec<T>>,
}

/// `C = op(A)·op(B)` on row-major slices, `op` the transpose where asked.
///
/// The product runs on matrixmultiply's packed kernels (through ndarray), split across the
/// rayon threads by [`par_mat_mul`]. The result does not depend on the number of threads.
fn gemm<T: Real>(
    a: &[T],
    (ar, ac): (usize, usize),
    b: &[T],
    (br, bc): (usize, usize),
    (transpose_a, transpose_b): (bool, bool),
    c: &mut [T],
) {
    let av = ArrayView2::from_shape((ar, ac), a).expect("gemm: A shape");
    let bv = ArrayView2::from_shape((br, bc), b).expect("gemm: B shape");
    let av = if transpose_a { av.reversed_axes() } else { av };
    let bv = if transpose_b { bv.reversed_axes() } else { bv };
    let cv = ArrayViewMut2::from_shape((av.nrows(), bv.ncols()), c).expect("gemm: C shape");
    par_mat_mul(av, bv, cv, rayon::current_num_threads());
}

/// Products smaller than this many multiply-adds run on one thread (splitting costs more).
const PAR_GEMM_MIN: usize = 1 << 17;

/// `C = A·B` with `C` cut into `parts` blocks of rows or columns (whichever it has more of),
/// each block one matrixmultiply call on its own rayon task. Every element of `C` is the same
/// sum over the same `k` blocks in the same order whichever block it falls in (alpha is 1 and
/// beta 0), so the result is bit-identical to one call on one thread.
fn par_mat_mul<T: Real>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    mut c: ArrayViewMut2<'_, T>,
    parts: usize,
) {
    let (m, n) = c.dim();
    if parts <= 1 || m * n * a.ncols() < PAR_GEMM_MIN || m.max(n) < 16 {
        general_mat_mul(T::one(), &a, &b, T::zero(), &mut c);
        return;
    }
    let left = parts / 2;
    // Cut at a multiple of 8 (whole register tiles) in proportion to the parts.
    let cut = |len: usize| (((len * left / parts) + 4) / 8 * 8).clamp(8, len - 8);
    if m >= n {
        let at = cut(m);
        let (a0, a1) = a.split_at(Axis(0), at);
        let (c0, c1) = c.split_at(Axis(0), at);
        rayon::join(
            || par_mat_mul(a0, b, c0, left),
            || par_mat_mul(a1, b, c1, parts - left),
        );
    } else {
        let at = cut(n);
        let (b0, b1) = b.split_at(Axis(1), at);
        let (c0, c1) = c.split_at(Axis(1), at);
        rayon::join(
            || par_mat_mul(a, b0, c0, left),
            || par_mat_mul(a, b1, c1, parts - left),
        );
    }
}

impl<T: Real> CpuDense<T> {
    /// Builds the executor of a dense network from `state`.
    pub fn new(net: &Network, state: &State) -> Result<Self> {
        let plan = net.dense("the dense executor")?;
        net.check_state(state)?;
        let cfg = net.config();
        let layers: Vec<Layer<T>> = plan
            .layers
            .iter()
            .map(|l| Layer {
                n_in: l.n_in,
                n_out: l.n_out,
                fidelity: l.fidelity,
                coupling: l
                    .coupling
                    .as_ref()
                    .map(|c| c.iter().map(|&x| T::of(x)).collect()),
                row_gain: l.row_gain.iter().map(|&x| T::of(x)).collect(),
            })
            .collect();
        let params = State::to_engine::<T>(&state.params);
        let zeros: Vec<Vec<T>> = params.iter().map(|p| vec![T::zero(); p.len()]).collect();
        let system = net.system();
        let on_hw = |on: bool| {
            if on {
                cfg.hardware.clone()
            } else {
                Hardware::default()
            }
        };
        let miscal = plan
            .miscalibration
            .as_ref()
            .filter(|_| system.pump_on_hardware())
            .map(|m| {
                m.iter()
                    .map(|l| l.as_ref().map(|f| f.iter().map(|&x| T::of(x)).collect()))
                    .collect()
            });
        let mut net = CpuDense {
            classes: cfg.readout.classes,
            loss: cfg.readout.loss,
            temperature: cfg.readout.temperature,
            gradient: cfg.train.gradient,
            hw: on_hw(system.pump_on_hardware()),
            hw_probe: on_hw(system.probe_on_hardware()),
            exact_miscal: system.probe_on_hardware() && cfg.train.gradient == GradientMode::Exact,
            shown_probe: (system == crate::network::System::PhysicsAware).then(Vec::new),
            miscal,
            crosstalk: (plan.crosstalk != 0.0 && system.pump_on_hardware())
                .then(|| T::of(plan.crosstalk)),
            crosstalk_row: Vec::new(),
            seed: cfg.train.seed,
            opt: OptimizerState::new(net.update_rule(), state, &params),
            shown: params.clone(),
            grads: zeros,
            params,
            acts: vec![Vec::new(); plan.stages.len() + 1],
            coupled: vec![Vec::new(); layers.len()],
            trans: vec![Vec::new(); plan.stages.len()],
            stages: plan.stages.clone(),
            first_dense: plan.first_dense(),
            layers,
            batch: 0,
            dl_dy: Vec::new(),
            evals: 0,
            probe_bufs: Default::default(),
            feedback: Vec::new(),
            input_grad: None,
        };
        let t = &cfg.train;
        net.feedback = net.draw_feedback(t.method, t.seed, t.feedback_scale.unwrap_or(1.0));
        net.refresh_weights();
        Ok(net)
    }

    /// Recomputes the shown weights from the full-precision copy: bounded to `[−1, 1]` and
    /// quantised to the SLM's bit depth for optical layers.
    pub fn refresh_weights(&mut self) {
        let levels = self.hw.slm_bits.map(|b| ((1u64 << b) - 1) as f64);
        for (l, layer) in self.layers.iter().enumerate() {
            let optical = layer.fidelity != Fidelity::Digital;
            let shown = &mut self.shown[l];
            match (optical, levels) {
                (true, Some(q)) => {
                    for (s, &p) in shown.iter_mut().zip(&self.params[l]) {
                        let w = p.f64().clamp(-1.0, 1.0);
                        *s = T::of(((w + 1.0) * 0.5 * q).round() / q * 2.0 - 1.0);
                    }
                }
                (true, None) => {
                    // The clamp in T is the clamp in f64 (the bounds are exact; NaN stays NaN).
                    let (lo, hi) = (-T::one(), T::one());
                    for (s, &p) in shown.iter_mut().zip(&self.params[l]) {
                        *s = if p < lo {
                            lo
                        } else if p > hi {
                            hi
                        } else {
                            p
                        };
                    }
                }
                (false, _) => shown.copy_from_slice(&self.params[l]),
            }
            if let Some(f) = self.miscal.as_ref().and_then(|m| m[l].as_ref()) {
                for (s, &f) in self.shown[l].iter_mut().zip(f) {
                    *s = *s * f;
                }
            }
            if let (Some(c), true) = (self.crosstalk, optical) {
                // The SLM's fringing mixes what each pixel shows, miscalibration included.
                weight_crosstalk(
                    c,
                    &mut self.shown[l],
                    layer.n_out,
                    layer.n_in,
                    &mut self.crosstalk_row,
                );
            }
        }
        if let Some(sp) = &mut self.shown_probe {
            // The ideal model: bounded weights, no quantisation, no miscalibration.
            *sp = self
                .params
                .iter()
                .zip(&self.layers)
                .map(|(p, layer)| {
                    p.iter()
                        .map(|&w| {
                            if layer.fidelity != Fidelity::Digital {
                                w.max(-T::one()).min(T::one())
                            } else {
                                w
                            }
                        })
                        .collect()
                })
                .collect();
        }
    }

    /// Adds the matrix–vector errors of [`Hardware`] to one multiplier output, the batch's
    /// largest `|z|` the noise error's scale (`shaders/dense_noise.wgsl` `mvm_errors`).
    fn mvm_errors(hw: &Hardware, z: &mut [T], d: Draws) {
        if hw.signal_error == 0.0 && hw.noise_error == 0.0 {
            return;
        }
        let full = z.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
        for (i, v) in z.iter_mut().enumerate() {
            let e = d.normals(i);
            let x = v.f64();
            *v = T::of(
                x * (1.0 + hw.signal_error * f64::from(e[0]))
                    + hw.noise_error * full * f64::from(e[1]),
            );
        }
    }

    /// What a camera reports for a beam (signed amplitudes, coherent detection): shot noise,
    /// read noise and bit depth on the intensity, full scale at the batch's brightest pixel
    /// (`shaders/dense_noise.wgsl` `measure_beam`).
    fn measure(hw: &Hardware, x: &[T], d: Draws) -> Option<Vec<T>> {
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
                .enumerate()
                .map(|(j, v)| {
                    let e = d.normals(j);
                    let a = v.f64() / full;
                    let mut i = a * a;
                    if let Some(n) = hw.shot_noise {
                        i += (i / n).sqrt() * f64::from(e[0]);
                    }
                    if hw.read_noise > 0.0 {
                        i += hw.read_noise * f64::from(e[1]);
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
        let (pass, seed, step) = (self.evals, self.seed, self.opt.step());
        self.acts[0].clear();
        self.acts[0].extend_from_slice(x);
        for si in 0..self.stages.len() {
            let (before, after) = self.acts.split_at_mut(si + 1);
            let a = &before[si];
            let out = &mut after[0];
            match &self.stages[si].1 {
                DenseStage::Dense(l) => {
                    let layer = &self.layers[*l];
                    let pump: &[T] = match &layer.coupling {
                        Some(c) => {
                            let coupled = &mut self.coupled[*l];
                            coupled.resize(batch * layer.n_in, T::zero());
                            gemm(
                                a,
                                (batch, layer.n_in),
                                c,
                                (layer.n_in, layer.n_in),
                                (false, true),
                                coupled,
                            );
                            coupled
                        }
                        None => a,
                    };
                    out.resize(batch * layer.n_out, T::zero());
                    gemm(
                        pump,
                        (batch, layer.n_in),
                        &self.shown[*l],
                        (layer.n_out, layer.n_in),
                        (false, true),
                        out,
                    );
                    for row in out.chunks_mut(layer.n_out) {
                        for (v, &g) in row.iter_mut().zip(&layer.row_gain) {
                            *v = *v * g;
                        }
                    }
                    if layer.fidelity != Fidelity::Digital {
                        let d = Draws::new(seed, step, pass, Purpose::DenseOutput, 2 * l);
                        Self::mvm_errors(&self.hw, out, d);
                    }
                }
                DenseStage::Absorber(ab) => {
                    // g(z) = z·t(z²), keeping t for the probe; in blocks across the threads.
                    let t = &mut self.trans[si];
                    out.resize(a.len(), T::zero());
                    t.resize(a.len(), T::zero());
                    let block = a.len().div_ceil(rayon::current_num_threads()).max(4096);
                    out.par_chunks_mut(block)
                        .zip(t.par_chunks_mut(block))
                        .zip(a.par_chunks(block))
                        .for_each(|((o, t), a)| {
                            for ((o, t), &z) in o.iter_mut().zip(t).zip(a) {
                                *t = ab.transmission(z * z);
                                *o = z * *t;
                            }
                        });
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
        let mut yf = vec![0.0f64; k];
        for b in 0..batch {
            let yb = &y[b * k..(b + 1) * k];
            let lab = labels[b] as usize;
            if argmax(yb) == lab {
                stats.correct += 1;
            }
            for (f, v) in yf.iter_mut().zip(yb) {
                *f = v.f64();
            }
            let div = example_loss(
                &yf,
                lab,
                self.loss,
                self.temperature,
                &mut g,
                &mut stats.loss_sum,
            );
            for (d, gj) in self.dl_dy[b * k..(b + 1) * k].iter_mut().zip(&g) {
                *d = T::of(gj / div * inv_b);
            }
        }
        stats
    }

    /// Probe pass from the stored `∂L/∂y`: fills [`Self::grads`].
    pub fn backward(&mut self) {
        let batch = self.batch;
        let (seed, step) = (self.seed, self.opt.step());
        // The probe and two working vectors, reused from step to step.
        let [mut b, mut back, mut tmp] = std::mem::take(&mut self.probe_bufs);
        b.clear();
        b.extend_from_slice(&self.dl_dy);
        let first_dense = self.first_dense;
        for si in (0..self.stages.len()).rev() {
            let a = &self.acts[si];
            match &self.stages[si].1 {
                DenseStage::Absorber(ab) => {
                    let probe_scale = if self.hw_probe.probe_power > 0.0 {
                        let peak = b.iter().fold(0.0f64, |m, v| m.max(v.f64().abs()));
                        if peak > 0.0 {
                            Some(T::of(self.hw_probe.probe_power.sqrt() / peak))
                        } else {
                            None
                        }
                    } else {
                        None
                    };
                    if self.gradient == GradientMode::Optical && probe_scale.is_none() {
                        // A weak probe sees the transmission the pump set.
                        for (bv, &t) in b.iter_mut().zip(&self.trans[si]) {
                            *bv = *bv * t;
                        }
                        continue;
                    }
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
                    let pump: &[T] = if layer.coupling.is_some() {
                        &self.coupled[*l]
                    } else {
                        a
                    };
                    let (mp, mb) = if optical {
                        (
                            Self::measure(
                                &self.hw_probe,
                                pump,
                                Draws::new(seed, step, 0, Purpose::DenseBeam, 2 * l),
                            ),
                            Self::measure(
                                &self.hw_probe,
                                &b,
                                Draws::new(seed, step, 0, Purpose::DenseBeam, 2 * l + 1),
                            ),
                        )
                    } else {
                        (None, None)
                    };
                    let grad = &mut self.grads[*l];
                    grad.resize(n_out * n_in, T::zero());
                    gemm(
                        mb.as_deref().unwrap_or(&b),
                        (batch, n_out),
                        mp.as_deref().unwrap_or(pump),
                        (batch, n_in),
                        (true, false),
                        grad,
                    );
                    if self.exact_miscal {
                        // The exact gradient of the imperfect system, whose SLM shows
                        // K_out·(f∘w)·K_inᵀ: ∂L/∂w = f∘(K_out·G·K_in), G = ∂L/∂w_shown (K is
                        // symmetric, so the smoothing maps G back). The optical gradient is G
                        // itself: what probe and pump measure at the SLM.
                        if let (Some(c), true) = (self.crosstalk, optical) {
                            weight_crosstalk(c, grad, n_out, n_in, &mut self.crosstalk_row);
                        }
                        if let Some(f) = self.miscal.as_ref().and_then(|m| m[*l].as_ref()) {
                            for (g, &f) in grad.iter_mut().zip(f) {
                                *g = *g * f;
                            }
                        }
                    }
                    if si > first_dense || self.input_grad.is_some() {
                        back.resize(batch * n_in, T::zero());
                        gemm(
                            &b,
                            (batch, n_out),
                            match &self.shown_probe {
                                Some(sp) => &sp[*l],
                                None => &self.shown[*l],
                            },
                            (n_out, n_in),
                            (false, false),
                            &mut back,
                        );
                        if let Some(c) = &layer.coupling {
                            tmp.resize(batch * n_in, T::zero());
                            gemm(
                                &back,
                                (batch, n_in),
                                c,
                                (n_in, n_in),
                                (false, false),
                                &mut tmp,
                            );
                            std::mem::swap(&mut back, &mut tmp);
                        }
                        if optical {
                            let d = Draws::new(seed, step, 0, Purpose::DenseOutput, 2 * l + 1);
                            Self::mvm_errors(&self.hw_probe, &mut back, d);
                        }
                        std::mem::swap(&mut b, &mut back);
                    } else {
                        break;
                    }
                }
            }
        }
        if let Some(g) = self.input_grad.as_mut() {
            g.clone_from(&b);
        }
        self.probe_bufs = [b, back, tmp];
    }

    /// Makes every later [`backward`](Self::backward) continue to the input and leave `∂L/∂x`
    /// in [`input_grad`](Self::input_grad).
    pub fn request_input_gradient(&mut self) {
        self.input_grad.get_or_insert_with(Vec::new);
    }

    /// Sets `∂L/∂y` (batch × outputs, the last forward's batch) for the next
    /// [`backward`](Self::backward) instead of [`loss`](Self::loss): a vector–Jacobian product
    /// with an upstream gradient on the output amplitudes.
    pub fn set_output_gradient(&mut self, dl_dy: &[T]) {
        self.dl_dy.clear();
        self.dl_dy.extend_from_slice(dl_dy);
        self.dl_dy.resize(self.batch * self.classes, T::zero());
    }

    /// Applies the optimiser to the last gradients.
    pub fn update(&mut self) {
        let layers = &self.layers;
        self.opt.apply(&mut self.params, &self.grads, |l| {
            layers[l].fidelity != Fidelity::Digital
        });
        self.refresh_weights();
        self.evals = 0;
    }

    /// Forward, loss, backward and update on one batch.
    pub fn train_step(&mut self, x: &[T], labels: &[u8]) -> LossStats {
        if rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none() {
            // The whole step on a worker of the pool: its products and absorber blocks then
            // split by work stealing instead of one hand-over from outside the pool each.
            return rayon::scope(|_| self.train_step(x, labels));
        }
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
        self.opt.state(&self.params)
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
}

/// The key and counter words of one noisy measurement; element `i` draws
/// `normals(key, [step, word1, 0, i])`.
#[derive(Clone, Copy)]
struct Draws {
    key: [u32; 2],
    step: u64,
    word1: u32,
}

impl Draws {
    /// Key `seed` (`train.seed`), counter `[step, word1(pass, purpose, sub), 0, element]`
    /// ([`crate::rng`]): `sub` is `2·layer` for the pump's multiplier output and beam,
    /// `2·layer + 1` for the probe's.
    fn new(seed: u64, step: u64, pass: u64, purpose: Purpose, sub: usize) -> Self {
        Draws {
            key: key_of(seed),
            step,
            word1: word1((pass & 0xff) as u32, purpose, sub as u32),
        }
    }

    fn normals(&self, i: usize) -> [f32; 4] {
        normals(self.key, [self.step as u32, self.word1, 0, i as u32])
    }
}
