//! The GPU executor of a [`FieldPlan`] (mirrors `src/cpu/field.rs`): every op is built once, bound
//! to buffers that stay on the GPU; a training step (mask build, pump pass, detectors, loss,
//! injected probe, probe pass with the SLM gradients, optimiser update) is recorded into ONE
//! command submission, and only the per-image loss and hit (2 floats an image) are read back.

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{encode_pass, read, u32_of, uniform, write, Dispatch};
use super::resident::{predict_batches, read_state, valid_examples, LossIo};
use super::uniforms::LossParams;
use super::{
    AbsorberProbe, AbsorberPump, BuildMask, Detect, DetectProbe, Lens2f, MaskKind, Modulate,
    Propagate, PropagateScratch, Regions, SlmGrad, TransferFunction, Update,
};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{GradientMode, Loss};
use crate::network::{FieldPlan, Network, Op, ParamKind, State};
use crate::optics::lens::thin_lens_phase;
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
            Step::Copy { from, to, bytes } => super::traffic::copy(enc, from, to, *bytes),
            Step::Modulate(o) => o.encode(enc),
            Step::Propagate(o) => o.encode(enc),
            Step::Fourier(o) => o.encode(enc),
            Step::AbsorberPump(o) => o.encode(enc),
            Step::AbsorberProbe(o) => o.encode(enc),
            Step::Grad(o) => o.encode(enc),
        }
    }
}

/// A network resident on the GPU, with a fixed batch size (shorter batches are zero-padded and
/// masked out of the loss).
pub struct GpuField {
    ctx: GpuContext,
    batch: usize,
    per: usize,
    classes: usize,
    field: Field,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    io: LossIo,
    powers: GpuBuffer<f32>,
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

impl GpuField {
    /// Builds every buffer and op of a field network at its batch size, starting from `state`.
    pub fn new(ctx: GpuContext, net: &Network, state: &State) -> Result<Self> {
        let plan: &FieldPlan = net.field("the GPU field executor")?;
        net.check_state(state)?;
        let cfg = net.config();
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
        let regions = Regions::new(&ctx, net.regions(), nx, ny)?;
        let powers = GpuBuffer::<f32>::new(&ctx, "powers", batch * classes)?;
        let dl_dp = GpuBuffer::<f32>::new(&ctx, "dl_dp", batch * classes)?;
        let io = LossIo::new(&ctx, "", batch)?;
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
        let loss_uniform = ctx.uniform("wavetrain.loss.params", &base)?;
        let dispatch = Dispatch::new(
            &ctx,
            "loss",
            "loss",
            &[],
            &[
                uniform(0, &loss_uniform),
                read(1, powers.buffer()),
                read(2, io.labels.buffer()),
                write(3, dl_dp.buffer()),
                write(4, io.stats.buffer()),
            ],
            (batch.div_ceil(64) as u32, 1, 1),
        )?;
        let loss = LossKernel {
            dispatch,
            uniform: loss_uniform,
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
        let rule = net.update_rule();
        let update = (0..params.len())
            .map(|i| Update::new(&ctx, &rule, &params[i], &grads[i], &m[i], &v[i]))
            .collect::<Result<Vec<_>>>()?;
        ctx.check()?;
        Ok(GpuField {
            batch,
            per: nx * ny,
            classes,
            field,
            params,
            m,
            v,
            io,
            powers,
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

    fn upload_input(&mut self, input: &[f32]) -> Result<usize> {
        let valid = valid_examples(input.len(), self.per, self.batch)?;
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

impl GpuField {
    /// One training step: pump, loss, injected probe, probe pass with the SLM gradients and the
    /// update, in one submission; only the per-image loss and hit come back.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.upload_input(input)?;
        self.io.upload_labels(&self.ctx, labels);
        let lp = LossParams {
            valid: valid as u32,
            inv_valid: 1.0 / valid as f32,
            ..self.loss.base
        };
        self.ctx.upload(&self.loss.uniform, 0, &[lp]);
        self.step += 1;
        for u in &self.update {
            u.set_step(&self.ctx, self.step);
        }
        let mut enc = self.ctx.encoder("train_step");
        self.encode_pump(&mut enc);
        encode_pass(&mut enc, "loss", std::slice::from_ref(&self.loss.dispatch));
        self.inject.encode(&mut enc);
        for s in &self.probe {
            s.encode(&mut enc);
        }
        for u in &self.update {
            u.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        self.io.read(&self.ctx, valid)
    }

    /// Detector powers `[images][classes]` of any number of encoded images.
    pub fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let (per, batch, classes) = (self.per, self.batch, self.classes);
        predict_batches(input, per, batch, classes, |chunk| {
            let valid = self.upload_input(chunk)?;
            let mut enc = self.ctx.encoder("predict");
            self.encode_pump(&mut enc);
            self.ctx.submit(enc)?;
            Ok((valid, self.powers.read(&self.ctx)?))
        })
    }

    /// Parameters and optimiser state, read back.
    pub fn state(&self) -> Result<State> {
        read_state(&self.ctx, &self.params, &self.m, &self.v, self.step)
    }
}
