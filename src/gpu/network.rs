//! The GPU executor of a [`Plan`] (mirrors `src/cpu/network.rs`): every op is built once, bound
//! to buffers that stay on the GPU; a training step (mask build, pump pass, detectors, loss,
//! injected probe, probe pass with the SLM gradients, optimiser update) is recorded into ONE
//! command submission, and only the per-image loss and hit (2 floats an image) are read back.

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::{AdapterRequest, GpuContext};
use super::kernel::{encode_pass, u32_of, Dispatch, Slot};
use super::uniforms::LossParams;
use super::{
    AbsorberProbe, AbsorberPump, Adam, BuildMask, Detect, DetectProbe, Lens2f, MaskKind, Modulate,
    Propagate, PropagateScratch, Regions, Sgd, SlmGrad, TransferFunction,
};
use crate::cpu::{AdamConfig, CpuNetwork, State};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{Config, GradientMode, Loss, Optimizer};
use crate::optics::lens::thin_lens_phase;
use crate::plan::{Op, ParamKind, Plan};
use crate::train::Backend;
use crate::Grid;

/// The loss kernel bound to its buffers (`shaders/loss.wgsl`).
struct LossKernel {
    dispatch: Dispatch,
    uniform: wgpu::Buffer,
    base: LossParams,
}

enum Step {
    Copy {
        from: wgpu::Buffer,
        to: wgpu::Buffer,
        bytes: u64,
    },
    Modulate(Modulate),
    Propagate(Propagate),
    Fourier(Lens2f),
    AbsorberPump(AbsorberPump),
    AbsorberProbe(AbsorberProbe),
    Grad(SlmGrad),
}

impl Step {
    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        match self {
            Step::Copy { from, to, bytes } => enc.copy_buffer_to_buffer(from, 0, to, 0, *bytes),
            Step::Modulate(o) => o.encode(enc),
            Step::Propagate(o) => o.encode(enc),
            Step::Fourier(o) => o.encode(enc),
            Step::AbsorberPump(o) => o.encode(enc),
            Step::AbsorberProbe(o) => o.encode(enc),
            Step::Grad(o) => o.encode(enc),
        }
    }
}

enum Update {
    Adam(Adam),
    Sgd(Sgd),
}

/// A network resident on the GPU, with a fixed batch size (shorter batches are zero-padded and
/// masked out of the loss).
pub struct GpuNetwork {
    ctx: GpuContext,
    cfg: Config,
    batch: usize,
    classes: usize,
    field: Field,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    labels: GpuBuffer<u32>,
    powers: GpuBuffer<f32>,
    stats: GpuBuffer<f32>,
    build: Vec<BuildMask>,
    pump: Vec<Step>,
    detect: Detect,
    loss: LossKernel,
    inject: DetectProbe,
    probe: Vec<Step>,
    update: Vec<Update>,
    step: u64,
    staging: Vec<Complex32>,
}

impl GpuNetwork {
    /// Builds every buffer and op for `cfg` at its batch size, starting from `state`.
    pub fn new(ctx: GpuContext, cfg: &Config, state: &State) -> Result<Self> {
        let plan = Plan::new(cfg)?;
        let o = &cfg.optics;
        let (nx, ny, batch) = (o.nx, o.ny, cfg.train.batch);
        let classes = cfg.readout.classes;
        if plan.params.iter().any(|p| p.kind == ParamKind::Amplitude) {
            return Err(Error::config(
                "backend",
                "amplitude SLMs are not yet supported by the GPU backend: use --backend cpu",
            ));
        }
        let field = Field::new(&ctx, "field", nx, ny, batch)?;
        let probe = Field::new(&ctx, "probe", nx, ny, batch)?;
        let slots = (0..plan.slots)
            .map(|i| Field::new(&ctx, &format!("slot{i}"), nx, ny, batch))
            .collect::<Result<Vec<_>>>()?;
        let mk = |label: &str, v: &[f32]| GpuBuffer::from_slice(&ctx, label, v);
        let params = state
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| mk(&format!("param{i}"), p))
            .collect::<Result<Vec<_>>>()?;
        let m = state
            .m
            .iter()
            .enumerate()
            .map(|(i, p)| mk(&format!("adam_m{i}"), p))
            .collect::<Result<Vec<_>>>()?;
        let v = state
            .v
            .iter()
            .enumerate()
            .map(|(i, p)| mk(&format!("adam_v{i}"), p))
            .collect::<Result<Vec<_>>>()?;
        let grads = plan
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| GpuBuffer::<f32>::new(&ctx, &format!("grad{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let masks = plan
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| GpuBuffer::<Complex32>::new(&ctx, &format!("mask{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let build = params
            .iter()
            .zip(&masks)
            .map(|(p, mk)| BuildMask::new(&ctx, MaskKind::Phase, p, mk))
            .collect::<Result<Vec<_>>>()?;
        let lenses = plan
            .lenses
            .iter()
            .map(|l| {
                let g = Grid::new(nx, ny, l.dx)?;
                let m: Vec<Complex32> = thin_lens_phase(&g, o.wavelength, l.focal_length)
                    .iter()
                    .map(|&p| Complex32::from_polar(1.0, p as f32))
                    .collect();
                GpuBuffer::from_slice(&ctx, "lens", &m)
            })
            .collect::<Result<Vec<_>>>()?;
        let tfs = plan
            .propagators
            .iter()
            .map(|p| {
                TransferFunction::new(
                    &ctx,
                    &Grid::new(nx, ny, p.dx)?,
                    o.wavelength,
                    p.distance,
                    o.padding,
                    o.band_limit,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let scratch = match tfs.first() {
            Some(tf) => Some(PropagateScratch::new(&ctx, tf, batch)?),
            None => None,
        };
        let prop = |f: &Field, i: usize| -> Result<Step> {
            let s = scratch
                .as_ref()
                .ok_or_else(|| Error::Gpu("internal: no propagation scratch".into()))?;
            Ok(Step::Propagate(Propagate::with_scratch(
                &ctx, f, &tfs[i], false, s,
            )?))
        };
        let mut pump = Vec::new();
        for s in &plan.pump {
            let save = s.save.map(|k| &slots[k]);
            match s.op {
                Op::Mask { param } => {
                    if let Some(slot) = save {
                        pump.push(Step::Copy {
                            from: field.buffer().clone(),
                            to: slot.buffer().clone(),
                            bytes: (field.len() * 8) as u64,
                        });
                    }
                    pump.push(Step::Modulate(Modulate::new(
                        &ctx,
                        &field,
                        &masks[param],
                        plan.params[param].k,
                    )?));
                }
                Op::Lens { lens } => pump.push(Step::Modulate(Modulate::new(
                    &ctx,
                    &field,
                    &lenses[lens],
                    1,
                )?)),
                Op::Propagate { prop: i } => pump.push(prop(&field, i)?),
                Op::Fourier { lens } => {
                    let l = &plan.fouriers[lens];
                    pump.push(Step::Fourier(Lens2f::new(
                        &ctx,
                        &field,
                        l.dx,
                        o.wavelength,
                        l.focal_length,
                        false,
                    )?));
                }
                Op::Absorber { absorber } => pump.push(Step::AbsorberPump(AbsorberPump::new(
                    &ctx,
                    &field,
                    &plan.absorbers[absorber],
                    save,
                )?)),
            }
        }
        let regions = Regions::new(&ctx, &cfg.regions()?, nx, ny)?;
        let powers = GpuBuffer::<f32>::new(&ctx, "powers", batch * classes)?;
        let dl_dp = GpuBuffer::<f32>::new(&ctx, "dl_dp", batch * classes)?;
        let labels = GpuBuffer::<u32>::new(&ctx, "labels", batch)?;
        let stats = GpuBuffer::<f32>::new(&ctx, "loss_stats", batch * 2)?;
        let detect = Detect::new(&ctx, &field, &regions, plan.out_dx, &powers)?;
        let inject = DetectProbe::new(&ctx, &field, &regions, plan.out_dx, &dl_dp, &probe)?;
        let base = LossParams {
            batch: u32_of("batch", batch)?,
            classes: u32_of("classes", classes)?,
            valid: u32_of("batch", batch)?,
            kind: if cfg.readout.loss == Loss::CrossEntropy {
                0
            } else {
                1
            },
            inv_temp: (1.0 / cfg.readout.temperature) as f32,
            inv_valid: 1.0 / batch as f32,
            ..Default::default()
        };
        let uniform = ctx.uniform("wavetrain.loss.params", &base)?;
        let kern = ctx.kernel(
            "loss",
            "loss",
            &[
                (0, Slot::Uniform),
                (1, Slot::Read),
                (2, Slot::Read),
                (3, Slot::ReadWrite),
                (4, Slot::ReadWrite),
            ],
            &[],
        )?;
        let dispatch = Dispatch::new(
            &ctx,
            kern,
            &[
                (0, &uniform),
                (1, powers.buffer()),
                (2, labels.buffer()),
                (3, dl_dp.buffer()),
                (4, stats.buffer()),
            ],
            (batch.div_ceil(64) as u32, 1, 1),
        )?;
        let loss = LossKernel {
            dispatch,
            uniform,
            base,
        };
        let exact = cfg.train.gradient == GradientMode::Exact;
        let mut probe_steps = Vec::new();
        for s in &plan.probe {
            match s.op {
                Op::Mask { param } => {
                    let spec = &plan.params[param];
                    let slot = &slots[s
                        .slot
                        .ok_or_else(|| Error::Gpu("internal: SLM input not kept".into()))?];
                    probe_steps.push(Step::Grad(SlmGrad::new(
                        &ctx,
                        MaskKind::Phase,
                        slot,
                        &probe,
                        &params[param],
                        &grads[param],
                        spec.k,
                    )?));
                    if s.pass {
                        probe_steps.push(Step::Modulate(Modulate::new(
                            &ctx,
                            &probe,
                            &masks[param],
                            spec.k,
                        )?));
                    }
                }
                Op::Lens { lens } => probe_steps.push(Step::Modulate(Modulate::new(
                    &ctx,
                    &probe,
                    &lenses[lens],
                    1,
                )?)),
                Op::Propagate { prop: i } => probe_steps.push(prop(&probe, i)?),
                Op::Fourier { lens } => {
                    let l = &plan.fouriers[lens];
                    probe_steps.push(Step::Fourier(Lens2f::new(
                        &ctx,
                        &probe,
                        l.dx,
                        o.wavelength,
                        l.focal_length,
                        false,
                    )?));
                }
                Op::Absorber { absorber } => {
                    let slot = &slots[s
                        .slot
                        .ok_or_else(|| Error::Gpu("internal: absorber input not kept".into()))?];
                    probe_steps.push(Step::AbsorberProbe(AbsorberProbe::new(
                        &ctx,
                        &probe,
                        slot,
                        &plan.absorbers[absorber],
                        exact,
                    )?));
                }
            }
        }
        let acfg = AdamConfig {
            lr: cfg.train.lr,
            ..Default::default()
        };
        let update = (0..params.len())
            .map(|i| {
                Ok(match cfg.train.optimizer {
                    Optimizer::Adam => {
                        Update::Adam(Adam::new(&ctx, &params[i], &grads[i], &m[i], &v[i], &acfg)?)
                    }
                    Optimizer::Sgd => {
                        Update::Sgd(Sgd::new(&ctx, &params[i], &grads[i], cfg.train.lr)?)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        ctx.check()?;
        Ok(GpuNetwork {
            cfg: cfg.clone(),
            batch,
            classes,
            field,
            params,
            m,
            v,
            labels,
            powers,
            stats,
            build,
            pump,
            detect,
            loss,
            inject,
            probe: probe_steps,
            update,
            step: state.step,
            staging: vec![Complex32::new(0.0, 0.0); nx * ny * batch],
            ctx,
        })
    }

    /// The GPU context the network runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The adapter's name.
    pub fn adapter_name(&self) -> String {
        self.ctx.adapter().name.clone()
    }

    fn upload_input(&mut self, input: &[f32]) -> Result<usize> {
        let n = self.cfg.optics.nx * self.cfg.optics.ny;
        let valid = input.len() / n;
        if valid == 0 || valid > self.batch || !input.len().is_multiple_of(n) {
            return Err(Error::config(
                "batch",
                format!("{valid} images do not fit the GPU batch of {}", self.batch),
            ));
        }
        for (d, &a) in self.staging.iter_mut().zip(input) {
            *d = Complex32::new(a, 0.0);
        }
        self.staging[input.len()..].fill(Complex32::new(0.0, 0.0));
        self.field.upload(&self.ctx, &self.staging);
        Ok(valid)
    }

    fn encode_pump(&self, enc: &mut wgpu::CommandEncoder) {
        for b in &self.build {
            b.encode(enc);
        }
        for s in &self.pump {
            s.encode(enc);
        }
        self.detect.encode(enc);
    }
}

impl Backend for GpuNetwork {
    fn name(&self) -> String {
        format!(
            "gpu ({}, {})",
            self.ctx.adapter().name,
            self.ctx.adapter().backend
        )
    }

    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.upload_input(input)?;
        let mut lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        lab.resize(self.batch, 0);
        self.labels.upload(&self.ctx, &lab);
        let lp = LossParams {
            valid: valid as u32,
            inv_valid: 1.0 / valid as f32,
            ..self.loss.base
        };
        self.ctx.upload(&self.loss.uniform, 0, &[lp]);
        self.step += 1;
        for u in &self.update {
            if let Update::Adam(a) = u {
                a.set_step(&self.ctx, self.step);
            }
        }
        let mut enc = self.ctx.encoder("train_step");
        self.encode_pump(&mut enc);
        encode_pass(&mut enc, "loss", std::slice::from_ref(&self.loss.dispatch));
        self.inject.encode(&mut enc);
        for s in &self.probe {
            s.encode(&mut enc);
        }
        for u in &self.update {
            match u {
                Update::Adam(a) => a.encode(&mut enc),
                Update::Sgd(s) => s.encode(&mut enc),
            }
        }
        self.ctx.submit(enc)?;
        let st = self.stats.read(&self.ctx)?;
        self.ctx.check()?;
        let mut out = LossStats::default();
        for b in 0..valid {
            out.loss_sum += st[2 * b] as f64;
            out.correct += (st[2 * b + 1] > 0.5) as usize;
        }
        Ok(out)
    }

    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        // Any number of images, a GPU batch at a time.
        let n = (self.cfg.optics.nx * self.cfg.optics.ny).max(1);
        let mut out = Vec::with_capacity(input.len() / n * self.classes);
        for chunk in input.chunks(self.batch * n) {
            let valid = self.upload_input(chunk)?;
            let mut enc = self.ctx.encoder("predict");
            self.encode_pump(&mut enc);
            self.ctx.submit(enc)?;
            let p = self.powers.read(&self.ctx)?;
            out.extend_from_slice(&p[..valid * self.classes]);
        }
        if out.is_empty() {
            self.upload_input(input)?;
        }
        Ok(out)
    }

    fn state(&mut self) -> Result<State> {
        read_state(&self.ctx, &self.params, &self.m, &self.v, self.step)
    }

    fn absorber_intensity(&mut self, input: &[f32]) -> Result<Vec<f64>> {
        let state = self.state()?;
        Ok(CpuNetwork::<f32>::new(&self.cfg, &state)?.absorber_intensity(input))
    }

    fn locate_fault(&mut self, input: &[f32]) -> Result<Option<String>> {
        let state = self.state()?;
        let at = CpuNetwork::<f32>::new(&self.cfg, &state)?.locate_fault(input);
        let names = Plan::new(&self.cfg)?.names;
        Ok(at.and_then(|i| names.get(i).cloned()))
    }
}

/// Reads parameters and Adam moments back from the GPU into a [`State`] at optimiser step `step`.
pub(crate) fn read_state(
    ctx: &GpuContext,
    params: &[GpuBuffer<f32>],
    m: &[GpuBuffer<f32>],
    v: &[GpuBuffer<f32>],
    step: u64,
) -> Result<State> {
    let read = |v: &[GpuBuffer<f32>]| v.iter().map(|b| b.read(ctx)).collect::<Result<Vec<_>>>();
    Ok(State {
        params: read(params)?,
        m: read(m)?,
        v: read(v)?,
        step,
    })
}

/// Opens the adapter of `req` and builds the network on it.
pub fn gpu_network(req: &AdapterRequest, cfg: &Config, state: &State) -> Result<GpuNetwork> {
    let ctx = GpuContext::new(req)?;
    GpuNetwork::new(ctx, cfg, state)
}
