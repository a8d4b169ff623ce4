//! The GPU executor of a dense (matrix–vector) optical network (mirrors `src/cpu/dense.rs`):
//! the products run in `shaders/matmul.wgsl`, everything element-wise (row gains, absorber or
//! ReLU and their probe factors, the amplitude loss, the SLM's view of the weights) in
//! `shaders/dense.wgsl`, and the update in `shaders/optimizer.wgsl`. A training step (pump, loss,
//! probe, weight gradients, update, clamp and re-quantisation of the shown weights) is ONE
//! command submission; only the per-image loss and hit come back. Like the field executor, the
//! update is recorded before the loss is known: a non-finite loss stops training (the trainer
//! checks it) but the weights of that step are already updated.
//!
//! The noisy hardware options (matrix–vector errors, the beams' camera noise and bits, a probe
//! that saturates the absorbers) run here too, in `shaders/dense_noise.wgsl`, drawing the CPU's
//! numbers from the counter generator ([`crate::rng`]); their batch-wide maxima are one-workgroup
//! reductions in the same submission. SLM bit depth is supported. The fixed miscalibration
//! (weight and gain errors, cross-talk) and physics-aware training of an imperfect network run
//! on the CPU only.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{self, encode_pass, read, u32_of, write, Bind, Dispatch};
use super::resident::{predict_batches, read_state, valid_examples, LossIo};
use super::uniforms::{DenseNoiseParams, DenseParams};
use super::{MatMul, Update};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{Fidelity, GradientMode, Hardware, Loss};
use crate::network::{DensePlan, DenseStage, Network, State};
use crate::optics::AbsorberModel;
use crate::rng::{key_of, word1, Purpose};

enum Step {
    MatMul(MatMul),
    Kernel(Dispatch),
    Noise(Noise),
}

impl Step {
    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        match self {
            Step::MatMul(m) => m.encode(enc),
            Step::Kernel(d) => encode_pass(enc, "dense", std::slice::from_ref(d)),
            Step::Noise(n) => encode_pass(enc, "dense_noise", &n.dispatches),
        }
    }

    /// Sets a noisy step's random counter and the batch's real images.
    fn set_noise(&self, ctx: &GpuContext, step: u64, pass: u64, valid: usize) {
        if let Step::Noise(n) = self {
            n.set(ctx, step, pass, valid);
        }
    }
}

/// One noisy measurement (`shaders/dense_noise.wgsl`): the batch's largest `|x|` into `peak`,
/// then (unless only the peak is wanted) the matrix–vector errors on `x` in place or the camera's
/// view of `x` into another buffer. Mirrors `mvm_errors` and `measure` of `src/cpu/dense.rs`,
/// with the same counter (`Draws`: step, pass, purpose, sub, element).
struct Noise {
    dispatches: Vec<Dispatch>,
    uniform: wgpu::Buffer,
    base: DenseNoiseParams,
    /// Elements per image.
    per_image: usize,
    /// The pump's multiplier output (its pass counted) rather than the probe's measurements.
    counts_passes: bool,
    purpose: Purpose,
    sub: usize,
}

/// What a [`Noise`] step does after finding the peak.
enum NoiseKind<'a> {
    /// Only the peak (the probe power's scale).
    Peak,
    /// Matrix–vector errors in place.
    Mvm,
    /// The camera's view into `out`.
    Beam(&'a GpuBuffer<f32>),
}

impl Noise {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &GpuContext,
        x: &GpuBuffer<f32>,
        peak: &GpuBuffer<f32>,
        per_image: usize,
        kind: NoiseKind,
        hw: &Hardware,
        seed: u64,
        (purpose, sub, counts_passes): (Purpose, usize, bool),
    ) -> Result<Self> {
        let key = key_of(seed);
        let (a, b, c) = match kind {
            NoiseKind::Peak => (0.0, 0.0, 0.0),
            NoiseKind::Mvm => (hw.signal_error as f32, hw.noise_error as f32, 0.0),
            NoiseKind::Beam(_) => (
                hw.shot_noise.unwrap_or(0.0) as f32,
                hw.read_noise as f32,
                hw.camera_bits.map_or(0.0, |b| ((1u64 << b) - 1) as f32),
            ),
        };
        let base = DenseNoiseParams {
            len: u32_of("noisy elements", x.len())?,
            key0: key[0],
            key1: key[1],
            a,
            b,
            c,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.dense_noise.params", &base)?;
        let common = [
            kernel::uniform(0, &u),
            write(1, x.buffer()),
            write(2, peak.buffer()),
        ];
        let mut dispatches = vec![Dispatch::new(
            ctx,
            "dense_noise",
            "max_abs",
            &[],
            &common,
            (1, 1, 1),
        )?];
        match kind {
            NoiseKind::Peak => {}
            NoiseKind::Mvm => dispatches.push(Dispatch::new(
                ctx,
                "dense_noise",
                "mvm_errors",
                &[],
                &common,
                kernel::groups_for(ctx, x.len())?,
            )?),
            NoiseKind::Beam(out) => dispatches.push(Dispatch::new(
                ctx,
                "dense_noise",
                "measure_beam",
                &[],
                &[&common[..], &[write(3, out.buffer())]].concat(),
                kernel::groups_for(ctx, out.len())?,
            )?),
        }
        Ok(Noise {
            dispatches,
            uniform: u,
            base,
            per_image,
            counts_passes,
            purpose,
            sub,
        })
    }

    fn set(&self, ctx: &GpuContext, step: u64, pass: u64, valid: usize) {
        let pass = if self.counts_passes { pass & 0xff } else { 0 };
        let p = DenseNoiseParams {
            len: (valid * self.per_image) as u32,
            step: step as u32,
            word1: word1(pass as u32, self.purpose, self.sub as u32),
            ..self.base
        };
        ctx.upload(&self.uniform, 0, &[p]);
    }
}

/// A dense network resident on the GPU, with a fixed batch (shorter batches are zero-padded and
/// masked out of the loss).
pub struct GpuDense {
    ctx: GpuContext,
    batch: usize,
    n_in: usize,
    classes: usize,
    /// `acts[i]`: the vector entering stage `i`; the last is the output.
    acts: Vec<GpuBuffer<f32>>,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    io: LossIo,
    pump: Vec<Step>,
    loss: Dispatch,
    loss_uniform: wgpu::Buffer,
    loss_base: DenseParams,
    probe: Vec<Step>,
    update: Vec<Update>,
    /// Buffers only the recorded dispatches use: the batch maxima of the noisy steps and the
    /// camera's view of the beams.
    _noise_buffers: Vec<GpuBuffer<f32>>,
    /// Pump passes since the last step (the noise's random counter, as the CPU's `evals`).
    evals: u64,
    show: Vec<Step>,
    step: u64,
    staging: Vec<f32>,
    /// The weight gradients (uploaded by [`GpuDense::apply_gradient`]).
    grads: Vec<GpuBuffer<f32>>,
}

/// A uniform for one `dense.wgsl` dispatch.
fn uniform(ctx: &GpuContext, what: &str, p: &DenseParams) -> Result<wgpu::Buffer> {
    ctx.uniform(&format!("wavetrain.dense.{what}"), p)
}

/// One `dense.wgsl` element-wise dispatch over `p.len` elements, its uniform at binding 0.
fn kernel(
    ctx: &GpuContext,
    entry: &'static str,
    p: DenseParams,
    buffers: &[Bind],
) -> Result<Dispatch> {
    let u = uniform(ctx, entry, &p)?;
    let groups = kernel::groups_for(ctx, p.len as usize)?;
    Dispatch::new(
        ctx,
        "dense",
        entry,
        &[],
        &[&[kernel::uniform(0, &u)][..], buffers].concat(),
        groups,
    )
}

fn activation_kind(stage: &DenseStage) -> (u32, f32) {
    match stage {
        DenseStage::Absorber(a) => (
            match a.model {
                AbsorberModel::Thin => 0,
                AbsorberModel::BeerLambert => 1,
            },
            a.od as f32,
        ),
        _ => (2, 0.0),
    }
}

/// Vector sizes at each stage boundary of a dense network taking `n_in` inputs.
fn stage_dims(plan: &DensePlan, n_in: usize) -> Vec<usize> {
    let (stages, layers) = (&plan.stages, &plan.layers);
    let mut dims = vec![n_in];
    for (_, s) in stages.iter() {
        let last = *dims.last().unwrap_or(&n_in);
        dims.push(match s {
            DenseStage::Dense(l) => layers[*l].n_out,
            _ => last,
        });
    }
    dims
}

/// The buffers of a dense network: activations and probes at each stage boundary, weights and
/// Adam moments (from the state), shown weights, gradients, row gains, cross-talk couplings
/// and the coupled pump.
struct DenseBuffers {
    acts: Vec<GpuBuffer<f32>>,
    probes: Vec<GpuBuffer<f32>>,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    shown: Vec<GpuBuffer<f32>>,
    grads: Vec<GpuBuffer<f32>>,
    gains: Vec<GpuBuffer<f32>>,
    couplings: Vec<Option<GpuBuffer<f32>>>,
    coupled: Vec<Option<GpuBuffer<f32>>>,
    /// Per layer, the imperfect system's fixed miscalibration factor of each weight
    /// (`weight_error`, `gain_error`), when the pump runs on it.
    miscal: Vec<Option<GpuBuffer<f32>>>,
    /// The weight SLMs' pixel cross-talk `c` and a scratch matrix as large as the largest
    /// layer's, when the pump runs on the imperfect system and it has one.
    crosstalk: Option<(f32, GpuBuffer<f32>)>,
}

impl DenseBuffers {
    fn new(
        ctx: &GpuContext,
        plan: &DensePlan,
        dims: &[usize],
        batch: usize,
        state: &State,
        pump_hw: bool,
    ) -> Result<Self> {
        let layers = &plan.layers;
        let mk = |label: &str, v: &[f32]| GpuBuffer::from_slice(ctx, label, v);
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(ctx, label, n);
        let acts = dims
            .iter()
            .enumerate()
            .map(|(i, d)| buf(&format!("dense.act{i}"), batch * d))
            .collect::<Result<Vec<_>>>()?;
        let probes = dims
            .iter()
            .enumerate()
            .map(|(i, d)| buf(&format!("dense.probe{i}"), batch * d))
            .collect::<Result<Vec<_>>>()?;
        let params = state
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| mk(&format!("dense.param{i}"), p))
            .collect::<Result<Vec<_>>>()?;
        let moments = |v: &Vec<Vec<f32>>, what: &str| {
            params
                .iter()
                .enumerate()
                .map(|(i, p)| match v.get(i) {
                    Some(x) if x.len() == p.len() => mk(&format!("dense.{what}{i}"), x),
                    _ => buf(&format!("dense.{what}{i}"), p.len()),
                })
                .collect::<Result<Vec<_>>>()
        };
        let m = moments(&state.m, "adam_m")?;
        let v = moments(&state.v, "adam_v")?;
        let shown = params
            .iter()
            .enumerate()
            .map(|(i, p)| buf(&format!("dense.shown{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let grads = params
            .iter()
            .enumerate()
            .map(|(i, p)| buf(&format!("dense.grad{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let gains = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let g: Vec<f32> = l.row_gain.iter().map(|&x| x as f32).collect();
                mk(&format!("dense.row_gain{i}"), &g)
            })
            .collect::<Result<Vec<_>>>()?;
        let couplings = layers
            .iter()
            .enumerate()
            .map(|(i, l)| match &l.coupling {
                Some(c) => {
                    let c: Vec<f32> = c.iter().map(|&x| x as f32).collect();
                    mk(&format!("dense.coupling{i}"), &c).map(Some)
                }
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        // The pump at each weight SLM (C·a) when the layer has cross-talk.
        let coupled = layers
            .iter()
            .enumerate()
            .map(|(i, l)| match l.coupling {
                Some(_) => buf(&format!("dense.coupled{i}"), batch * l.n_in).map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let miscal = match plan.miscalibration.as_ref().filter(|_| pump_hw) {
            Some(m) => m
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    f.as_ref()
                        .map(|f| {
                            let f: Vec<f32> = f.iter().map(|&x| x as f32).collect();
                            mk(&format!("dense.miscalibration{i}"), &f)
                        })
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?,
            None => vec![None; layers.len()],
        };
        let crosstalk = if pump_hw && plan.crosstalk != 0.0 {
            let largest = params.iter().map(|p| p.len()).max().unwrap_or(1);
            Some((plan.crosstalk as f32, buf("dense.crosstalk", largest)?))
        } else {
            None
        };
        Ok(DenseBuffers {
            acts,
            probes,
            params,
            m,
            v,
            shown,
            grads,
            gains,
            couplings,
            coupled,
            miscal,
            crosstalk,
        })
    }
}

/// The matrix–vector product's noise is on (`signal_error`, `noise_error`).
fn mvm_noisy(h: &Hardware) -> bool {
    h.signal_error != 0.0 || h.noise_error != 0.0
}

/// The camera that measures the beams is noisy (shot or read noise, finite bits).
fn beam_noisy(h: &Hardware) -> bool {
    h.shot_noise.is_some() || h.read_noise != 0.0 || h.camera_bits.is_some()
}

/// What the pump and probe passes of a dense network are recorded from.
struct DenseSchedule<'a> {
    ctx: &'a GpuContext,
    plan: &'a DensePlan,
    bufs: &'a DenseBuffers,
    hardware: &'a Hardware,
    /// The imperfect system, when the pump runs on it.
    pump_hw: Option<&'a Hardware>,
    /// The imperfect system, when the probe runs on it.
    probe_hw: Option<&'a Hardware>,
    seed: u64,
    batch: usize,
    /// The exact gradient of the imperfect system: the SLM-side gradient mapped back through
    /// the cross-talk and the miscalibration (CPU `exact_miscal`).
    exact_miscal: bool,
    /// Physics-aware training: the probe runs back through the ideal model's weights (bounded,
    /// neither quantised nor miscalibrated: the full-precision copy, which `show_weights`
    /// keeps in [−1, 1]).
    ideal_probe: bool,
}

impl DenseSchedule<'_> {
    /// The pump pass, stage by stage; the noisy steps' peak buffers go into `peaks`.
    fn pump(&self, peaks: &mut Vec<GpuBuffer<f32>>) -> Result<Vec<Step>> {
        let (ctx, hardware, pump_hw, seed) = (self.ctx, self.hardware, self.pump_hw, self.seed);
        let (stages, layers) = (&self.plan.stages, &self.plan.layers);
        let DenseBuffers {
            acts,
            shown,
            gains,
            couplings,
            coupled,
            ..
        } = self.bufs;
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(ctx, label, n);
        let mut pump = Vec::new();
        for (si, (_, s)) in stages.iter().enumerate() {
            let (a, out) = (&acts[si], &acts[si + 1]);
            match s {
                DenseStage::Dense(l) => {
                    let layer = &layers[*l];
                    let at_slm = match (&couplings[*l], &coupled[*l]) {
                        (Some(c), Some(ca)) => {
                            pump.push(Step::MatMul(MatMul::forward(
                                ctx, c, a, ca, layer.n_in, layer.n_in,
                            )?));
                            ca
                        }
                        _ => a,
                    };
                    pump.push(Step::MatMul(MatMul::forward(
                        ctx,
                        &shown[*l],
                        at_slm,
                        out,
                        layer.n_out,
                        layer.n_in,
                    )?));
                    let d = kernel(
                        ctx,
                        "scale_rows",
                        DenseParams {
                            len: u32_of("activations", out.len())?,
                            n: u32_of("layer outputs", layer.n_out)?,
                            ..Default::default()
                        },
                        &[read(2, gains[*l].buffer()), write(3, out.buffer())],
                    )?;
                    pump.push(Step::Kernel(d));
                    if pump_hw.is_some_and(mvm_noisy) && layer.fidelity != Fidelity::Digital {
                        let peak = buf(&format!("dense.peak.pump{l}"), 1)?;
                        pump.push(Step::Noise(Noise::new(
                            ctx,
                            out,
                            &peak,
                            layer.n_out,
                            NoiseKind::Mvm,
                            hardware,
                            seed,
                            (Purpose::DenseOutput, 2 * l, true),
                        )?));
                        peaks.push(peak);
                    }
                }
                _ => {
                    let (kind, od) = activation_kind(s);
                    let d = kernel(
                        ctx,
                        "activate",
                        DenseParams {
                            len: u32_of("activations", out.len())?,
                            kind,
                            od,
                            ..Default::default()
                        },
                        &[read(1, a.buffer()), write(3, out.buffer())],
                    )?;
                    pump.push(Step::Kernel(d));
                }
            }
        }
        Ok(pump)
    }

    /// The probe pass, from the last stage back to the first dense layer (`probes[i]` is the
    /// probe at the position of `acts[i]`), with the weight gradients; the noisy steps' peak
    /// buffers go into `peaks`.
    fn probe(&self, exact: bool, peaks: &mut Vec<GpuBuffer<f32>>) -> Result<Vec<Step>> {
        let stages = &self.plan.stages;
        let mut probe = Vec::new();
        for si in (self.plan.first_dense()..stages.len()).rev() {
            match &stages[si].1 {
                DenseStage::Dense(l) => self.probe_layer(si, *l, &mut probe, peaks)?,
                _ => self.probe_activation(si, exact, &mut probe, peaks)?,
            }
        }
        Ok(probe)
    }

    /// The probe through dense stage `si` (layer `l`), appended to `probe`: the row gains, the
    /// weight gradient (from the camera's view of both beams when it is noisy) and, unless it
    /// is the first dense layer, the transposed product back to the layer's input.
    fn probe_layer(
        &self,
        si: usize,
        l: usize,
        probe: &mut Vec<Step>,
        peaks: &mut Vec<GpuBuffer<f32>>,
    ) -> Result<()> {
        let (ctx, probe_hw, seed) = (self.ctx, self.probe_hw, self.seed);
        let layers = &self.plan.layers;
        let DenseBuffers {
            acts,
            probes,
            shown,
            grads,
            gains,
            couplings,
            coupled,
            ..
        } = self.bufs;
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(ctx, label, n);
        let first_dense = self.plan.first_dense();
        let (b_out, b_in) = (&probes[si + 1], &probes[si]);
        let layer = &layers[l];
        let d = kernel(
            ctx,
            "scale_rows",
            DenseParams {
                len: u32_of("activations", b_out.len())?,
                n: u32_of("layer outputs", layer.n_out)?,
                ..Default::default()
            },
            &[read(2, gains[l].buffer()), write(3, b_out.buffer())],
        )?;
        probe.push(Step::Kernel(d));
        let at_slm = coupled[l].as_ref().unwrap_or(&acts[si]);
        let optical = layer.fidelity != Fidelity::Digital;
        // The camera's view of both beams, when it is noisy (the gradient is
        // their product: CPU `measure`).
        let measured = match probe_hw.filter(|h| optical && beam_noisy(h)) {
            Some(h) => {
                let mp = buf(&format!("dense.measured_pump{l}"), at_slm.len())?;
                let mb = buf(&format!("dense.measured_probe{l}"), b_out.len())?;
                for (x, out, per, sub) in [
                    (at_slm, &mp, layer.n_in, 2 * l),
                    (b_out, &mb, layer.n_out, 2 * l + 1),
                ] {
                    let peak = buf(&format!("dense.peak.beam{sub}"), 1)?;
                    probe.push(Step::Noise(Noise::new(
                        ctx,
                        x,
                        &peak,
                        per,
                        NoiseKind::Beam(out),
                        h,
                        seed,
                        (Purpose::DenseBeam, sub, false),
                    )?));
                    peaks.push(peak);
                }
                Some((mp, mb))
            }
            None => None,
        };
        let (gp, gb) = match &measured {
            Some((mp, mb)) => (mp, mb),
            None => (at_slm, b_out),
        };
        probe.push(Step::MatMul(MatMul::grad(
            ctx,
            gb,
            gp,
            &grads[l],
            layer.n_out,
            layer.n_in,
        )?));
        if let Some((mp, mb)) = measured {
            peaks.extend([mp, mb]);
        }
        if self.exact_miscal {
            // ∂L/∂w = f∘(K_out·G·K_in), G = ∂L/∂w_shown (K is symmetric): CPU `backward`.
            if let (Some((c, tmp)), true) = (&self.bufs.crosstalk, optical) {
                probe.extend(crosstalk_weights(ctx, &grads[l], layer.n_in, (*c, tmp))?);
            }
            if let Some(f) = &self.bufs.miscal[l] {
                probe.push(scale_weights(ctx, &grads[l], f)?);
            }
        }
        let weights = if self.ideal_probe {
            &self.bufs.params[l]
        } else {
            &shown[l]
        };
        if si > first_dense {
            match &couplings[l] {
                Some(c) => {
                    // Wᵀ·b lands in the coupled buffer (free in the probe pass),
                    // then Cᵀ carries it back to the layer's input.
                    let tmp = coupled[l].as_ref().unwrap_or(&acts[si]);
                    probe.push(Step::MatMul(MatMul::transpose(
                        ctx,
                        weights,
                        b_out,
                        tmp,
                        layer.n_out,
                        layer.n_in,
                    )?));
                    probe.push(Step::MatMul(MatMul::transpose(
                        ctx, c, tmp, b_in, layer.n_in, layer.n_in,
                    )?));
                }
                None => probe.push(Step::MatMul(MatMul::transpose(
                    ctx,
                    weights,
                    b_out,
                    b_in,
                    layer.n_out,
                    layer.n_in,
                )?)),
            }
            if let Some(h) = probe_hw.filter(|h| optical && mvm_noisy(h)) {
                let peak = buf(&format!("dense.peak.probe{l}"), 1)?;
                probe.push(Step::Noise(Noise::new(
                    ctx,
                    b_in,
                    &peak,
                    layer.n_in,
                    NoiseKind::Mvm,
                    h,
                    seed,
                    (Purpose::DenseOutput, 2 * l + 1, false),
                )?));
                peaks.push(peak);
            }
        }
        Ok(())
    }

    /// The probe through activation stage `si` (an absorber or a digital activation),
    /// appended to `probe`.
    fn probe_activation(
        &self,
        si: usize,
        exact: bool,
        probe: &mut Vec<Step>,
        peaks: &mut Vec<GpuBuffer<f32>>,
    ) -> Result<()> {
        let (ctx, hardware, probe_hw) = (self.ctx, self.hardware, self.probe_hw);
        let (seed, batch) = (self.seed, self.batch);
        let DenseBuffers { acts, probes, .. } = self.bufs;
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(ctx, label, n);
        let s = &self.plan.stages[si].1;
        let (b_out, b_in) = (&probes[si + 1], &probes[si]);
        let (kind, od) = activation_kind(s);
        // A probe that is not weak: its batch-wide peak sets its power.
        let power = probe_hw.map_or(0.0, |h| h.probe_power);
        let peak = buf(&format!("dense.peak.absorber{si}"), 1)?;
        if power > 0.0 && matches!(s, DenseStage::Absorber(_)) && !exact {
            let per = b_out.len() / batch.max(1);
            probe.push(Step::Noise(Noise::new(
                ctx,
                b_out,
                &peak,
                per,
                NoiseKind::Peak,
                hardware,
                seed,
                (Purpose::DenseOutput, 0, false),
            )?));
        }
        let d = kernel(
            ctx,
            "activate_probe",
            DenseParams {
                len: u32_of("activations", b_out.len())?,
                kind,
                flag: exact as u32,
                od,
                probe_power: power as f32,
                ..Default::default()
            },
            &[
                read(1, b_out.buffer()),
                read(2, acts[si].buffer()),
                write(3, b_in.buffer()),
                write(4, peak.buffer()),
            ],
        )?;
        probe.push(Step::Kernel(d));
        peaks.push(peak);
        Ok(())
    }
}

/// The loss kernel over the last activations (`dense_loss`), writing the last probe and the
/// per-image stats; with its uniform and the uniform's base values.
fn dense_loss(
    ctx: &GpuContext,
    cfg: &crate::model::Config,
    bufs: &DenseBuffers,
    io: &LossIo,
) -> Result<(Dispatch, wgpu::Buffer, DenseParams)> {
    let (batch, classes) = (cfg.train.batch, cfg.readout.classes);
    let (acts, probes) = (&bufs.acts, &bufs.probes);
    let last = acts.len() - 1;
    let loss_base = DenseParams {
        len: u32_of("outputs", batch * classes)?,
        n: u32_of("classes", classes)?,
        kind: match cfg.readout.loss {
            Loss::CrossEntropy => 0,
            Loss::Mse => 1,
        },
        valid: u32_of("batch", batch)?,
        scale: (1.0 / cfg.readout.temperature) as f32,
        inv_valid: 1.0 / batch as f32,
        ..Default::default()
    };
    let loss_uniform = uniform(ctx, "loss", &loss_base)?;
    let loss = Dispatch::new(
        ctx,
        "dense",
        "dense_loss",
        &[],
        &[
            kernel::uniform(0, &loss_uniform),
            read(1, acts[last].buffer()),
            write(3, probes[last].buffer()),
            write(4, io.stats.buffer()),
            read(5, io.labels.buffer()),
        ],
        (batch.div_ceil(64) as u32, 1, 1),
    )?;
    Ok((loss, loss_uniform, loss_base))
}

/// `w ← w ∘ f` element by element (the miscalibration factor of each weight).
fn scale_weights(ctx: &GpuContext, w: &GpuBuffer<f32>, f: &GpuBuffer<f32>) -> Result<Step> {
    let len = u32_of("weights", w.len())?;
    Ok(Step::Kernel(kernel(
        ctx,
        "scale_rows",
        DenseParams {
            len,
            n: len,
            ..Default::default()
        },
        &[read(2, f.buffer()), write(3, w.buffer())],
    )?))
}

/// `w ← K_out·w·K_inᵀ` for an `n_out × n_in` matrix (the weight SLM's pixel cross-talk `c`,
/// [`crate::network::dense::weight_crosstalk`]), through the scratch `tmp`.
fn crosstalk_weights(
    ctx: &GpuContext,
    w: &GpuBuffer<f32>,
    n_in: usize,
    (c, tmp): (f32, &GpuBuffer<f32>),
) -> Result<Vec<Step>> {
    let p = DenseParams {
        len: u32_of("weights", w.len())?,
        n: u32_of("layer inputs", n_in)?,
        od: c,
        ..Default::default()
    };
    let binds = [write(3, w.buffer()), write(4, tmp.buffer())];
    Ok(vec![
        Step::Kernel(kernel(ctx, "crosstalk_rows", p, &binds)?),
        Step::Kernel(kernel(ctx, "crosstalk_cols", p, &binds)?),
    ])
}

/// The dispatches that show each layer's weights on its SLM (quantised to `hardware.slm_bits`
/// levels on optical layers; on the imperfect system, times the miscalibration and smoothed by
/// the pixel cross-talk).
fn show_weights(
    ctx: &GpuContext,
    cfg: &crate::model::Config,
    plan: &DensePlan,
    bufs: &DenseBuffers,
) -> Result<Vec<Step>> {
    let (params, shown) = (&bufs.params, &bufs.shown);
    let layers = &plan.layers;
    let levels = cfg
        .hardware
        .slm_bits
        .map_or(0.0, |b| ((1u64 << b) - 1) as f32);
    let mut show = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        let d = kernel(
            ctx,
            "show_weights",
            DenseParams {
                len: u32_of("weights", params[l].len())?,
                flag: (layer.fidelity != Fidelity::Digital) as u32,
                scale: levels,
                ..Default::default()
            },
            &[write(3, params[l].buffer()), write(4, shown[l].buffer())],
        )?;
        show.push(Step::Kernel(d));
        // The imperfect system's SLM shows K_out·(f∘Q(W))·K_inᵀ (CPU `refresh_weights`).
        if let Some(f) = &bufs.miscal[l] {
            show.push(scale_weights(ctx, &shown[l], f)?);
        }
        if let (Some((c, tmp)), true) = (&bufs.crosstalk, layer.fidelity != Fidelity::Digital) {
            show.extend(crosstalk_weights(ctx, &shown[l], layer.n_in, (*c, tmp))?);
        }
    }
    Ok(show)
}

impl GpuDense {
    /// Builds every buffer and op of a dense network at its batch size, starting from `state`.
    pub fn new(ctx: GpuContext, net: &Network, state: &State) -> Result<Self> {
        let plan = net.dense("the GPU dense executor")?;
        net.check_state(state)?;
        let cfg = net.config();
        let batch = cfg.train.batch;
        let classes = cfg.readout.classes;
        let n_in = cfg.input_len();
        let dims = stage_dims(plan, n_in);
        let system = net.system();
        let bufs = DenseBuffers::new(&ctx, plan, &dims, batch, state, system.pump_on_hardware())?;
        // The noisy options of the imperfect system, where the pass runs on it (the CPU
        // executor's `hw` and `hw_probe`).
        let exact = cfg.train.gradient == GradientMode::Exact;
        let schedule = DenseSchedule {
            ctx: &ctx,
            plan,
            bufs: &bufs,
            hardware: &cfg.hardware,
            pump_hw: system.pump_on_hardware().then_some(&cfg.hardware),
            probe_hw: system.probe_on_hardware().then_some(&cfg.hardware),
            seed: cfg.train.seed,
            batch,
            exact_miscal: system.probe_on_hardware() && exact,
            ideal_probe: system == crate::network::System::PhysicsAware,
        };
        // The one-value buffers of the noisy steps' batch maxima.
        let mut peaks = Vec::new();
        let pump = schedule.pump(&mut peaks)?;
        let out_dim = *dims.last().unwrap_or(&0);
        if out_dim != classes {
            return Err(Error::config(
                "readout.classes",
                format!("the network has {out_dim} outputs but readout.classes is {classes}: make the last dense layer's 'out' equal the number of classes"),
            ));
        }
        let io = LossIo::new(&ctx, "dense.", batch)?;
        let (loss, loss_uniform, loss_base) = dense_loss(&ctx, cfg, &bufs, &io)?;
        let probe = schedule.probe(exact, &mut peaks)?;
        let show = show_weights(&ctx, cfg, plan, &bufs)?;
        let DenseBuffers {
            acts,
            params,
            m,
            v,
            grads,
            ..
        } = bufs;
        let rule = net.update_rule();
        let update = (0..params.len())
            .map(|i| Update::new(&ctx, &rule, &params[i], &grads[i], &m[i], &v[i]))
            .collect::<Result<Vec<_>>>()?;
        let mut enc = ctx.encoder("dense.show_weights");
        for s in &show {
            s.encode(&mut enc);
        }
        ctx.run(enc)?;
        ctx.check()?;
        Ok(GpuDense {
            batch,
            n_in,
            classes,
            acts,
            params,
            m,
            v,
            io,
            pump,
            loss,
            loss_uniform,
            loss_base,
            probe,
            update,
            show,
            step: state.step,
            staging: vec![0.0; batch * n_in],
            grads,
            _noise_buffers: peaks,
            evals: 0,
            ctx,
        })
    }

    /// The GPU context the network runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn upload_input(&mut self, input: &[f32]) -> Result<usize> {
        let valid = valid_examples(input.len(), self.n_in, self.batch)?;
        self.staging[..input.len()].copy_from_slice(input);
        self.staging[input.len()..].fill(0.0);
        self.acts[0].upload(&self.ctx, &self.staging);
        Ok(valid)
    }

    /// Uploads a batch's inputs and labels and the loss's count of real images; returns it.
    fn load_batch(&mut self, input: &[f32], labels: &[u8]) -> Result<usize> {
        let valid = self.upload_input(input)?;
        self.io.upload_labels(&self.ctx, labels);
        let lp = DenseParams {
            valid: valid as u32,
            inv_valid: 1.0 / valid as f32,
            ..self.loss_base
        };
        self.ctx.upload(&self.loss_uniform, 0, &[lp]);
        Ok(valid)
    }

    /// One training step (pump, loss, probe, weight gradients, update, the shown weights) in one
    /// submission; only the per-image loss and hit come back.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.load_batch(input, labels)?;
        // The step's own pump pass is pass 1 at the step count before it (the CPU's).
        self.evals = 1;
        for s in self.pump.iter().chain(&self.probe) {
            s.set_noise(&self.ctx, self.step, 1, valid);
        }
        self.step += 1;
        let mut enc = self.ctx.encoder("dense.train_step");
        for s in &self.pump {
            s.encode(&mut enc);
        }
        encode_pass(&mut enc, "dense_loss", std::slice::from_ref(&self.loss));
        for s in &self.probe {
            s.encode(&mut enc);
        }
        for u in &self.update {
            u.set_step(&self.ctx, self.step);
            u.encode(&mut enc);
        }
        for s in &self.show {
            s.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        // The CPU's update starts the evaluation passes afresh.
        self.evals = 0;
        self.io.read(&self.ctx, valid)
    }

    /// Output amplitudes `[inputs][classes]` of any number of encoded inputs.
    pub fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let (per, batch, classes) = (self.n_in, self.batch, self.classes);
        predict_batches(input, per, batch, classes, |chunk| {
            let valid = self.upload_input(chunk)?;
            self.evals += 1;
            for s in &self.pump {
                s.set_noise(&self.ctx, self.step, self.evals, valid);
            }
            let mut enc = self.ctx.encoder("dense.predict");
            for s in &self.pump {
                s.encode(&mut enc);
            }
            self.ctx.submit(enc)?;
            Ok((valid, self.acts[self.acts.len() - 1].read(&self.ctx)?))
        })
    }

    /// Sets the weights (the state's shapes) and shows them, keeping the optimiser's state.
    pub fn set_params(&mut self, params: &[Vec<f32>]) -> Result<()> {
        upload_all(&self.ctx, &self.params, params, "weights")?;
        let mut enc = self.ctx.encoder("dense.set_params");
        for s in &self.show {
            s.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        Ok(())
    }

    /// Forward pass and loss of one batch, without an update (a pass of SPSA); its noise is
    /// drawn as the CPU's `evaluate` draws it (the next pass since the step).
    pub fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.load_batch(input, labels)?;
        self.evals += 1;
        for s in &self.pump {
            s.set_noise(&self.ctx, self.step, self.evals, valid);
        }
        let mut enc = self.ctx.encoder("dense.evaluate");
        for s in &self.pump {
            s.encode(&mut enc);
        }
        encode_pass(&mut enc, "dense_loss", std::slice::from_ref(&self.loss));
        self.ctx.submit(enc)?;
        self.io.read(&self.ctx, valid)
    }

    /// One optimiser step with the gradients given, then the new weights shown.
    pub fn apply_gradient(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        upload_all(&self.ctx, &self.grads, grads, "gradients")?;
        self.step += 1;
        let mut enc = self.ctx.encoder("dense.apply_gradient");
        for u in &self.update {
            u.set_step(&self.ctx, self.step);
            u.encode(&mut enc);
        }
        for s in &self.show {
            s.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        self.evals = 0;
        Ok(())
    }

    /// Parameters and optimiser state, read back.
    pub fn state(&self) -> Result<State> {
        read_state(&self.ctx, &self.params, &self.m, &self.v, self.step)
    }
}

/// Uploads one host vector into each buffer, refusing a count or length that differs.
pub(crate) fn upload_all(
    ctx: &GpuContext,
    bufs: &[GpuBuffer<f32>],
    host: &[Vec<f32>],
    what: &str,
) -> Result<()> {
    if bufs.len() != host.len() || bufs.iter().zip(host).any(|(b, h)| b.len() != h.len()) {
        return Err(Error::config(
            "params",
            format!(
                "{} {what} vectors of lengths {:?} for a network of {:?}",
                host.len(),
                host.iter().map(Vec::len).collect::<Vec<_>>(),
                bufs.iter().map(GpuBuffer::len).collect::<Vec<_>>()
            ),
        ));
    }
    for (b, h) in bufs.iter().zip(host) {
        b.upload(ctx, h);
    }
    Ok(())
}
