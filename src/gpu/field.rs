//! The GPU executor of a [`FieldPlan`] (mirrors `src/cpu/field.rs`): every op is built once, bound
//! to buffers that stay on the GPU; a training step (mask build, pump pass, detectors, loss,
//! injected probe, probe pass with the SLM gradients, optimiser update) is recorded into ONE
//! command submission, and only the per-image loss and hit (2 floats an image) are read back.
//!
//! An ideal SLM (no lateral shift, no device model) or a thin lens directly followed by free
//! space is not a pass of its own: the free-space step's first row pass multiplies its mask in
//! as it loads the field ([`Propagate::with_scratch_masked`]), in the pump and in the probe.
//! Likewise, in the pump, a thin absorber (without an optical-depth map) directly after free
//! space is applied by that step's last pass as it stores the field, which also keeps the
//! absorber's input for the probe ([`Propagate::with_scratch_absorbed`]).

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{encode_pass, read, u32_of, uniform, write, Dispatch};
use super::readout::{ProbeScale, Readout, ReadoutBuffers, ReadoutOut};
use super::resident::{predict_batches, read_state, valid_examples, LossIo};
use super::uniforms::LossParams;
use super::{
    shift_spectrum, AbsorberProbe, AbsorberPump, BuildMask, Detect, DetectNoise, DetectProbe,
    Lens2f, MaskKind, Modulate, Propagate, PropagateScratch, Regions, SlmDevice, SlmDeviceGrad,
    SlmGrad, TransferFunction, Update,
};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{GradientMode, Loss};
use crate::network::{FieldHardware, FieldPlan, Network, Op, ParamKind, State, System};
use crate::optics::lens::thin_lens_phase;
use crate::optics::{Absorber, AbsorberModel};
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
    DeviceGrad(SlmDeviceGrad),
    Readout(Readout),
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
            Step::DeviceGrad(o) => o.encode(enc),
            Step::Readout(o) => o.encode(enc),
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
    /// The device models of the imperfect system's SLMs (their shown masks, rebuilt with the
    /// ideal ones before each pump pass).
    devices: Vec<SlmDevice>,
    pump: Vec<Step>,
    detect: Detect,
    loss: LossKernel,
    inject: DetectProbe,
    probe: Vec<Step>,
    update: Vec<Update>,
    step: u64,
    staging: Vec<Complex32>,
    /// The imperfect system's detector noise, when the pump runs on it and one is on.
    noise: Option<DetectNoise>,
    /// The input SLM's bit depth and a white pixel's amplitude (`hardware.input_bits`), when
    /// the pump runs on the imperfect system.
    input_bits: Option<(u32, f64)>,
    /// Pump passes since the last step (the detector noise's random counter, as the CPU's).
    evals: u64,
    /// The hardware's read-out of the SLM gradients, when the probe runs on the hardware and
    /// one is on.
    readout: Option<GpuReadout>,
    /// The SLM gradients (uploaded by [`GpuField::apply_gradient`]).
    grads: Vec<GpuBuffer<f32>>,
    /// `∂L/∂P` per image and detector: written by the loss, or uploaded by [`GpuField::vjp`].
    dl_dp: GpuBuffer<f32>,
}

/// The read-out's state in a [`GpuField`]: the shared buffers, the probe's scale, and the
/// camera frames taken since they were last counted.
struct GpuReadout {
    bufs: ReadoutBuffers,
    scale: Option<ProbeScale>,
    /// Frames per image of one step (frames per measurement × SLMs), 0 without a camera.
    frames_per_image: u64,
    frames: u64,
}

/// What the probe schedule needs of the read-out: the camera (if any), its key, binning and
/// buffers, and whether the probe saturates the absorbers.
struct ReadoutPlan<'a> {
    camera: Option<crate::optics::interferometry::Camera>,
    seed: u64,
    binning: usize,
    bufs: &'a ReadoutBuffers,
    /// The device models' correlation on the grid, measured.
    grid: &'a GpuBuffer<Complex32>,
    saturating: bool,
}

/// The per-SLM buffers of a field network: parameters and Adam moments (from the state),
/// gradients and complex masks.
struct ParamBuffers {
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    grads: Vec<GpuBuffer<f32>>,
    masks: Vec<GpuBuffer<Complex32>>,
}

impl ParamBuffers {
    fn new(ctx: &GpuContext, plan: &FieldPlan, state: &State) -> Result<Self> {
        let mk = |label: &str, v: &[f32]| GpuBuffer::from_slice(ctx, label, v);
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
            .map(|(i, p)| GpuBuffer::<f32>::new(ctx, &format!("grad{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let masks = plan
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| GpuBuffer::<Complex32>::new(ctx, &format!("mask{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        Ok(ParamBuffers {
            params,
            m,
            v,
            grads,
            masks,
        })
    }
}

/// The thin lenses' phase masks.
fn lens_masks(
    ctx: &GpuContext,
    plan: &FieldPlan,
    o: &crate::model::Optics,
) -> Result<Vec<GpuBuffer<Complex32>>> {
    let (nx, ny) = (o.nx, o.ny);
    plan.lenses
        .iter()
        .map(|l| {
            let g = Grid::new(nx, ny, l.dx)?;
            let m: Vec<Complex32> = thin_lens_phase(&g, o.wavelength, l.focal_length)
                .iter()
                .map(|&p| Complex32::from_polar(1.0, p as f32))
                .collect();
            GpuBuffer::from_slice(ctx, "lens", &m)
        })
        .collect()
}

/// Free space at the imperfect system's actual distances (equal ones share a transfer
/// function); empty without one.
fn hardware_transfers(
    ctx: &GpuContext,
    plan: &FieldPlan,
    hw: Option<&FieldHardware>,
    tfs: &[TransferFunction],
    o: &crate::model::Optics,
) -> Result<Vec<TransferFunction>> {
    let (nx, ny) = (o.nx, o.ny);
    let mut hw_tfs: Vec<TransferFunction> = Vec::new();
    if let Some(h) = hw {
        for (i, p) in plan.propagators.iter().enumerate() {
            let d = h.distances[i];
            let same = (0..plan.propagators.len())
                .find(|&j| plan.propagators[j].distance == d && plan.propagators[j].dx == p.dx)
                .map(|j| tfs[j].clone())
                .or_else(|| {
                    (0..i)
                        .find(|&j| h.distances[j] == d && plan.propagators[j].dx == p.dx)
                        .map(|j| hw_tfs[j].clone())
                });
            hw_tfs.push(match same {
                Some(tf) => tf,
                None => TransferFunction::new(
                    ctx,
                    &Grid::new(nx, ny, p.dx)?,
                    o.wavelength,
                    d,
                    o.padding,
                    o.band_limit,
                )?,
            });
        }
    }
    Ok(hw_tfs)
}

/// Per SLM: its lateral shift (a periodic operator on the grid) and its device model, when the
/// imperfect system has them.
#[allow(clippy::type_complexity)]
fn slm_models(
    ctx: &GpuContext,
    net: &Network,
    plan: &FieldPlan,
    hw: Option<&FieldHardware>,
    params: &[GpuBuffer<f32>],
    batch: usize,
) -> Result<(Vec<Option<TransferFunction>>, Vec<Option<SlmDevice>>)> {
    let (nx, ny) = (net.config().optics.nx, net.config().optics.ny);
    let mut shifts: Vec<Option<TransferFunction>> = Vec::new();
    let mut devices: Vec<Option<SlmDevice>> = Vec::new();
    for (i, spec) in plan.params.iter().enumerate() {
        let slm = hw.map(|h| &h.slms[i]);
        shifts.push(match slm {
            Some(s) if s.shift_px != [0.0, 0.0] => Some(TransferFunction::periodic(
                ctx,
                nx,
                ny,
                &shift_spectrum(s.shift_px, nx, ny),
                "hardware.shifts / shift_std on the GPU (an SLM shift is a Fourier shift on the grid)",
            )?),
            _ => None,
        });
        devices.push(match slm {
            Some(s) if !s.model.is_ideal() => Some(SlmDevice::new(
                ctx,
                &s.model,
                &params[i],
                (spec.sx, spec.sy, spec.k),
                batch,
                net.element_name(spec.element).unwrap_or("an SLM"),
            )?),
            _ => None,
        });
    }
    Ok((shifts, devices))
}

/// Per absorber: its optical-depth map on the imperfect system (`None`: uniform).
fn od_maps(
    ctx: &GpuContext,
    plan: &FieldPlan,
    hw: Option<&FieldHardware>,
) -> Result<Vec<Option<GpuBuffer<f32>>>> {
    Ok(match hw {
        Some(h) => h
            .od_maps
            .iter()
            .map(|m| {
                m.as_ref()
                    .map(|m| {
                        let v: Vec<f32> = m.iter().map(|&x| x as f32).collect();
                        GpuBuffer::from_slice(ctx, "absorber.od_map", &v)
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![None; plan.absorbers.len()],
    })
}

impl LossKernel {
    /// The loss over `powers` with the labels of `io`, writing `dl_dp` and the per-image stats.
    fn new(
        ctx: &GpuContext,
        cfg: &crate::model::Config,
        powers: &GpuBuffer<f32>,
        io: &LossIo,
        dl_dp: &GpuBuffer<f32>,
    ) -> Result<Self> {
        let (batch, classes) = (cfg.train.batch, cfg.readout.classes);
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
            ctx,
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
        Ok(LossKernel {
            dispatch,
            uniform: loss_uniform,
            base,
        })
    }
}

/// What the pump and probe schedules are recorded from: the kept slots, the masks, the
/// transfer functions and the imperfect system's models.
struct Schedule<'a> {
    ctx: &'a GpuContext,
    plan: &'a FieldPlan,
    wavelength: f64,
    slots: &'a [Field],
    masks: &'a [GpuBuffer<Complex32>],
    lenses: &'a [GpuBuffer<Complex32>],
    tfs: &'a [TransferFunction],
    hw_tfs: &'a [TransferFunction],
    shifts: &'a [Option<TransferFunction>],
    devices: &'a [Option<SlmDevice>],
    od_maps: &'a [Option<GpuBuffer<f32>>],
    scratch: Option<&'a PropagateScratch>,
    /// The pump runs on the imperfect system.
    hw: bool,
    /// The probe runs on it too.
    probe_hw: bool,
    /// Physics-aware training: the pump on the imperfect system, the probe on the ideal model.
    physics_aware: bool,
    /// The hardware's gradient read-out (in-situ training only).
    readout: Option<ReadoutPlan<'a>>,
}

/// A mask (and its macro-pixel) carried to the free space that follows it, to be multiplied in
/// on load.
type Premask<'b> = Option<(&'b GpuBuffer<Complex32>, usize)>;

/// The copy of one field into another.
fn copy(from: &Field, to: &Field) -> Step {
    Step::Copy {
        from: from.buffer().clone(),
        to: to.buffer().clone(),
        bytes: (from.len() * 8) as u64,
    }
}

/// A mask fused into the free space that follows it (`fuse`: the next step of the schedule is
/// free space) is carried to that step in `premask`; any other step finds none.
fn unfused(premask: &Premask) -> Result<()> {
    match premask {
        Some(_) => Err(Error::Gpu(
            "internal: a mask kept for free space that does not follow".into(),
        )),
        None => Ok(()),
    }
}

impl Schedule<'_> {
    /// The propagation of `f` by `tf` (or its adjoint).
    fn run(&self, f: &Field, tf: &TransferFunction, adjoint: bool) -> Result<Step> {
        let s = self
            .scratch
            .ok_or_else(|| Error::Gpu("internal: no propagation scratch".into()))?;
        Ok(Step::Propagate(Propagate::with_scratch(
            self.ctx, f, tf, adjoint, s,
        )?))
    }

    /// Free space `i` (on the hardware's distances when `on_hw`), with the mask in front of it
    /// multiplied in on load when `mask` is `(mask, k)`, and the thin absorber after it
    /// applied on store (its input kept in the slot given) when `post` is `(absorber, slot)`.
    fn prop(
        &self,
        f: &Field,
        i: usize,
        on_hw: bool,
        mask: Premask,
        post: Option<(&Absorber, Option<&Field>)>,
    ) -> Result<Step> {
        let tf = if on_hw { &self.hw_tfs[i] } else { &self.tfs[i] };
        if mask.is_none() && post.is_none() {
            return self.run(f, tf, false);
        }
        let s = self
            .scratch
            .ok_or_else(|| Error::Gpu("internal: no propagation scratch".into()))?;
        Ok(Step::Propagate(Propagate::with_scratch_fused(
            self.ctx, f, tf, false, s, mask, post,
        )?))
    }

    /// The pump's absorber after step `n` of the pump when it is fused into that step's
    /// free space: a thin absorber without an optical-depth map, and its slot.
    fn absorbed(&self, n: usize) -> Option<(&Absorber, Option<&Field>)> {
        let plan = self.plan;
        let next = plan.pump.get(n + 1)?;
        match next.op {
            Op::Absorber { absorber }
                if plan.absorbers[absorber].model == AbsorberModel::Thin
                    && self.od_maps[absorber].is_none() =>
            {
                Some((&plan.absorbers[absorber], next.save.map(|k| &self.slots[k])))
            }
            _ => None,
        }
    }

    /// The pump pass over `field`, step by step.
    fn pump(&self, field: &Field) -> Result<Vec<Step>> {
        let (ctx, plan, wavelength) = (self.ctx, self.plan, self.wavelength);
        let (slots, masks, lenses) = (self.slots, self.masks, self.lenses);
        let (shifts, devices, od_maps) = (self.shifts, self.devices, self.od_maps);
        let (probe_hw, physics_aware) = (self.probe_hw, self.physics_aware);
        let mut pump = Vec::new();
        let mut premask: Premask = None;
        // The free-space step just recorded applied the absorber that follows it.
        let mut postfused = false;
        for (n, s) in plan.pump.iter().enumerate() {
            let save = s.save.map(|k| &slots[k]);
            let fuse = matches!(
                plan.pump.get(n + 1).map(|s| s.op),
                Some(Op::Propagate { .. })
            );
            if !matches!(s.op, Op::Propagate { .. }) {
                unfused(&premask)?;
            }
            match s.op {
                Op::Mask { param } => {
                    // As the CPU's `Worker::mask`: `u ← T_s(M·T_{−s} u)`, the SLM input saved in
                    // the SLM's own frame on the hardware, in the lab frame otherwise (the
                    // physics-aware probe runs through the ideal, unshifted SLM).
                    let shift = shifts[param].as_ref();
                    if let (Some(slot), true) = (save, !self.hw || physics_aware) {
                        pump.push(copy(field, slot));
                    }
                    if let Some(tf) = shift {
                        pump.push(self.run(field, tf, true)?);
                    }
                    if let (Some(slot), true) = (save, probe_hw) {
                        pump.push(copy(field, slot));
                    }
                    let k = plan.params[param].k;
                    match &devices[param] {
                        Some(d) => {
                            pump.push(Step::Modulate(Modulate::new(ctx, field, d.mask(), 1)?))
                        }
                        // Exactly Modulate(field, mask, k) then free space: fused.
                        None if shift.is_none() && fuse => premask = Some((&masks[param], k)),
                        None => {
                            pump.push(Step::Modulate(Modulate::new(ctx, field, &masks[param], k)?))
                        }
                    }
                    if let Some(tf) = shift {
                        pump.push(self.run(field, tf, false)?);
                    }
                }
                Op::Lens { lens } if fuse => premask = Some((&lenses[lens], 1)),
                Op::Lens { lens } => {
                    pump.push(Step::Modulate(Modulate::new(ctx, field, &lenses[lens], 1)?))
                }
                Op::Propagate { prop: i } => {
                    let post = self.absorbed(n);
                    postfused = post.is_some();
                    pump.push(self.prop(field, i, self.hw, premask.take(), post)?);
                    continue;
                }
                Op::Fourier { lens } => {
                    let l = &plan.fouriers[lens];
                    pump.push(Step::Fourier(Lens2f::new(
                        ctx,
                        field,
                        l.dx,
                        wavelength,
                        l.focal_length,
                        false,
                    )?));
                }
                // Applied (and its input saved) by the free space before it.
                Op::Absorber { .. } if postfused => {}
                Op::Absorber { absorber } => pump.push(Step::AbsorberPump(AbsorberPump::with_map(
                    ctx,
                    field,
                    &plan.absorbers[absorber],
                    od_maps[absorber].as_ref(),
                    save,
                )?)),
            }
            postfused = false;
        }
        unfused(&premask)?;
        Ok(pump)
    }

    /// The probe pass over `probe`, with the SLM gradients into `grads`.
    fn probe(
        &self,
        probe: &Field,
        params: &[GpuBuffer<f32>],
        grads: &[GpuBuffer<f32>],
        exact: bool,
    ) -> Result<Vec<Step>> {
        let (ctx, plan, wavelength) = (self.ctx, self.plan, self.wavelength);
        let (slots, masks, lenses) = (self.slots, self.masks, self.lenses);
        let (shifts, devices, od_maps) = (self.shifts, self.devices, self.od_maps);
        let probe_hw = self.probe_hw;
        let mut premask: Premask = None;
        let mut probe_steps = Vec::new();
        for (n, s) in plan.probe.iter().enumerate() {
            let fuse = matches!(
                plan.probe.get(n + 1).map(|s| s.op),
                Some(Op::Propagate { .. })
            );
            if !matches!(s.op, Op::Propagate { .. }) {
                unfused(&premask)?;
            }
            match s.op {
                Op::Mask { param } => {
                    let spec = &plan.params[param];
                    let slot = &slots[s
                        .slot
                        .ok_or_else(|| Error::Gpu("internal: SLM input not kept".into()))?];
                    // On the hardware the probe enters the SLM's frame, meets the saved pump
                    // there and the shown mask, and leaves; physics-aware: the ideal SLM.
                    let shift = shifts[param].as_ref().filter(|_| probe_hw);
                    let device = devices[param].as_ref().filter(|_| probe_hw);
                    if let Some(tf) = shift {
                        probe_steps.push(self.run(probe, tf, true)?);
                    }
                    probe_steps
                        .extend(self.slm_gradient(param, slot, probe, device, params, grads)?);
                    if s.pass {
                        match device {
                            Some(d) => probe_steps.push(Step::Modulate(Modulate::new(
                                ctx,
                                probe,
                                d.mask(),
                                1,
                            )?)),
                            // Exactly Modulate(probe, mask, k) then free space: fused.
                            None if shift.is_none() && fuse => {
                                premask = Some((&masks[param], spec.k))
                            }
                            None => probe_steps.push(Step::Modulate(Modulate::new(
                                ctx,
                                probe,
                                &masks[param],
                                spec.k,
                            )?)),
                        }
                        if let Some(tf) = shift {
                            probe_steps.push(self.run(probe, tf, false)?);
                        }
                    }
                }
                Op::Lens { lens } if fuse => premask = Some((&lenses[lens], 1)),
                Op::Lens { lens } => {
                    probe_steps.push(Step::Modulate(Modulate::new(ctx, probe, &lenses[lens], 1)?))
                }
                Op::Propagate { prop: i } => {
                    probe_steps.push(self.prop(probe, i, probe_hw, premask.take(), None)?)
                }
                Op::Fourier { lens } => {
                    let l = &plan.fouriers[lens];
                    probe_steps.push(Step::Fourier(Lens2f::new(
                        ctx,
                        probe,
                        l.dx,
                        wavelength,
                        l.focal_length,
                        false,
                    )?));
                }
                Op::Absorber { absorber } => {
                    let slot = &slots[s
                        .slot
                        .ok_or_else(|| Error::Gpu("internal: absorber input not kept".into()))?];
                    let a = &plan.absorbers[absorber];
                    let od = od_maps[absorber].as_ref().filter(|_| probe_hw);
                    probe_steps.push(Step::AbsorberProbe(match &self.readout {
                        // A probe of finite strength saturates the absorber with the pump.
                        Some(r) if r.saturating => {
                            AbsorberProbe::saturating(ctx, probe, slot, a, od, r.bufs.scales())?
                        }
                        _ => AbsorberProbe::with_map(ctx, probe, slot, a, od, exact)?,
                    }));
                }
            }
        }
        unfused(&premask)?;
        Ok(probe_steps)
    }
}

impl Schedule<'_> {
    /// The gradient of SLM `param` from the pump saved at it (`slot`) and the probe arriving at
    /// it: computed exactly, or, with the hardware's camera, measured ([`Readout`]); through
    /// its device model when it has one.
    fn slm_gradient(
        &self,
        param: usize,
        slot: &Field,
        probe: &Field,
        device: Option<&SlmDevice>,
        params: &[GpuBuffer<f32>],
        grads: &[GpuBuffer<f32>],
    ) -> Result<Vec<Step>> {
        let ctx = self.ctx;
        let k = self.plan.params[param].k;
        let camera = self
            .readout
            .as_ref()
            .and_then(|r| Some((r, r.camera.as_ref()?)));
        Ok(match (camera, device) {
            (None, Some(d)) => vec![Step::DeviceGrad(d.grad(ctx, slot, probe, &grads[param])?)],
            (None, None) => vec![Step::Grad(SlmGrad::new(
                ctx,
                MaskKind::Phase,
                slot,
                probe,
                &params[param],
                &grads[param],
                k,
            )?)],
            (Some((r, cam)), Some(d)) => vec![
                Step::Readout(Readout::new(
                    ctx,
                    cam,
                    r.seed,
                    param,
                    r.binning,
                    slot,
                    probe,
                    r.bufs,
                    ReadoutOut::Grid { k, corr: r.grid },
                )?),
                Step::DeviceGrad(d.grad_measured(ctx, r.grid, &grads[param])?),
            ],
            (Some((r, cam)), None) => vec![Step::Readout(Readout::new(
                ctx,
                cam,
                r.seed,
                param,
                r.binning,
                slot,
                probe,
                r.bufs,
                ReadoutOut::Phase {
                    k,
                    mask: &self.masks[param],
                    params: &params[param],
                    grad: &grads[param],
                },
            )?)],
        })
    }
}

/// The read-out's parts while a [`GpuField`] is built: the camera, the binning, the shared
/// buffers (when the read-out is on) and the grid correlation of device-model SLMs.
struct ReadoutSetup {
    camera: Option<crate::optics::interferometry::Camera>,
    binning: usize,
    slms: usize,
    bufs: Option<ReadoutBuffers>,
    grid: GpuBuffer<Complex32>,
}

impl ReadoutSetup {
    /// The read-out of `net` at `batch` images: on only for in-situ training (as the CPU's).
    fn new(ctx: &GpuContext, net: &Network, batch: usize) -> Result<Self> {
        let cfg = net.config();
        let (h, o) = (&cfg.hardware, &cfg.optics);
        let on = net.system() == System::Hardware && h.readout_on();
        let camera = h.camera().filter(|_| on);
        let binning = h.readout_binning.unwrap_or(1) as usize;
        let slms = net.field("the GPU read-out")?.params.len();
        let bufs = on
            .then(|| {
                let pixels = (o.nx / binning).max(1) * (o.ny / binning).max(1);
                ReadoutBuffers::new(ctx, camera.as_ref(), batch, pixels, slms)
            })
            .transpose()?;
        Ok(ReadoutSetup {
            camera,
            binning,
            slms,
            bufs,
            grid: GpuBuffer::<Complex32>::new(ctx, "readout.grid", o.nx * o.ny)?,
        })
    }

    /// What the probe schedule needs, when the read-out is on.
    fn plan(&self, cfg: &crate::model::Config) -> Option<ReadoutPlan<'_>> {
        let h = &cfg.hardware;
        self.bufs.as_ref().map(|bufs| ReadoutPlan {
            camera: self.camera.clone(),
            seed: h.seed,
            binning: self.binning,
            bufs,
            grid: &self.grid,
            saturating: cfg.train.gradient == GradientMode::Optical && h.probe_ratio.is_some(),
        })
    }

    /// The executor's read-out state: the buffers, the probe's scale from the pump `field` at
    /// the detectors and the injected `probe`, the frames counted per image.
    fn into_state(
        self,
        ctx: &GpuContext,
        field: &Field,
        probe: &Field,
        cfg: &crate::model::Config,
    ) -> Result<Option<GpuReadout>> {
        let Some(bufs) = self.bufs else {
            return Ok(None);
        };
        Ok(Some(GpuReadout {
            scale: cfg
                .hardware
                .probe_ratio
                .map(|r| ProbeScale::new(ctx, field, probe, r, &bufs))
                .transpose()?,
            frames_per_image: self
                .camera
                .as_ref()
                .map_or(0, |c| (c.steps * self.slms) as u64),
            frames: 0,
            bufs,
        }))
    }
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
        let ParamBuffers {
            params,
            m,
            v,
            grads,
            masks,
        } = ParamBuffers::new(&ctx, plan, state)?;
        let build = params
            .iter()
            .zip(&masks)
            .map(|(p, mk)| BuildMask::new(&ctx, MaskKind::Phase, p, mk))
            .collect::<Result<Vec<_>>>()?;
        let lenses = lens_masks(&ctx, plan, o)?;
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
        // The imperfect system, when the pump runs on it (`probe_hw`: the probe too; else
        // physics-aware training, whose probe runs through the ideal model).
        let sys = net.system();
        let hw = plan.hardware.as_deref().filter(|_| sys.pump_on_hardware());
        let probe_hw = hw.is_some() && sys == System::Hardware;
        let hw_tfs = hardware_transfers(&ctx, plan, hw, &tfs, o)?;
        let (shifts, devices) = slm_models(&ctx, net, plan, hw, &params, batch)?;
        let od_maps = od_maps(&ctx, plan, hw)?;
        // One scratch for every propagation and shift, sized for the widest transform.
        let widest = tfs
            .iter()
            .chain(&hw_tfs)
            .chain(shifts.iter().flatten())
            .max_by_key(|tf| tf.transform().0);
        let scratch = match widest {
            Some(tf) => Some(PropagateScratch::new(&ctx, tf, batch)?),
            None => None,
        };
        // The hardware's read-out of the SLM gradients (in-situ training only, as the CPU's).
        let ro = ReadoutSetup::new(&ctx, net, batch)?;
        let schedule = Schedule {
            ctx: &ctx,
            plan,
            wavelength: o.wavelength,
            slots: &slots,
            masks: &masks,
            lenses: &lenses,
            tfs: &tfs,
            hw_tfs: &hw_tfs,
            shifts: &shifts,
            devices: &devices,
            od_maps: &od_maps,
            scratch: scratch.as_ref(),
            hw: hw.is_some(),
            probe_hw,
            physics_aware: hw.is_some() && !probe_hw,
            readout: ro.plan(cfg),
        };
        let pump = schedule.pump(&field)?;
        let regions = Regions::new(&ctx, net.regions(), nx, ny)?;
        let powers = GpuBuffer::<f32>::new(&ctx, "powers", batch * classes)?;
        let dl_dp = GpuBuffer::<f32>::new(&ctx, "dl_dp", batch * classes)?;
        let io = LossIo::new(&ctx, "", batch)?;
        let detect = Detect::new(&ctx, &field, &regions, plan.out_dx, &powers)?;
        let h = &cfg.hardware;
        let on_hw = net.system().pump_on_hardware();
        let noise = (on_hw
            && (h.shot_noise.is_some() || h.read_noise != 0.0 || h.camera_bits.is_some()))
        .then(|| DetectNoise::new(&ctx, &powers, batch, classes, h))
        .transpose()?;
        let input_bits = h
            .input_bits
            .filter(|_| on_hw)
            .map(|b| (b, cfg.input.intensity.sqrt()));
        let inject = DetectProbe::new(&ctx, &field, &regions, plan.out_dx, &dl_dp, &probe)?;
        let loss = LossKernel::new(&ctx, cfg, &powers, &io, &dl_dp)?;
        let exact = cfg.train.gradient == GradientMode::Exact;
        let probe_steps = schedule.probe(&probe, &params, &grads, exact)?;
        let readout = ro.into_state(&ctx, &field, &probe, cfg)?;
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
            devices: devices.into_iter().flatten().collect(),
            pump,
            detect,
            loss,
            inject,
            probe: probe_steps,
            update,
            step: state.step,
            staging: vec![Complex32::new(0.0, 0.0); nx * ny * batch],
            noise,
            input_bits,
            evals: 0,
            readout,
            grads,
            dl_dp,
            ctx,
        })
    }

    /// The GPU context the network runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn upload_input(&mut self, input: &[f32]) -> Result<usize> {
        let valid = valid_examples(input.len(), self.per, self.batch)?;
        match self.input_bits {
            // The input SLM/DMD shows 2^b − 1 steps between dark and a white pixel (as
            // `CpuField::forward`, in the same f64 arithmetic).
            Some((b, w)) => {
                let q = ((1u64 << b) - 1) as f64;
                for (d, &a) in self.staging.iter_mut().zip(input) {
                    let x = ((a as f64 / w).clamp(0.0, 1.0) * q).round() / q * w;
                    *d = Complex32::new(x as f32, 0.0);
                }
            }
            None => {
                for (d, &a) in self.staging.iter_mut().zip(input) {
                    *d = Complex32::new(a, 0.0);
                }
            }
        }
        self.staging[input.len()..].fill(Complex32::new(0.0, 0.0));
        self.field.upload(&self.ctx, &self.staging);
        Ok(valid)
    }

    /// Uploads a batch's inputs and labels and the loss's count of real images; returns it.
    fn load_batch(&mut self, input: &[f32], labels: &[u8]) -> Result<usize> {
        let valid = self.upload_input(input)?;
        self.io.upload_labels(&self.ctx, labels);
        let lp = LossParams {
            valid: valid as u32,
            inv_valid: 1.0 / valid as f32,
            ..self.loss.base
        };
        self.ctx.upload(&self.loss.uniform, 0, &[lp]);
        Ok(valid)
    }

    fn encode_pump(&self, enc: &mut wgpu::CommandEncoder) {
        for b in &self.build {
            b.encode(enc);
        }
        for d in &self.devices {
            d.encode_show(enc);
        }
        for s in &self.pump {
            s.encode(enc);
        }
        self.detect.encode(enc);
        if let Some(n) = &self.noise {
            n.encode(enc);
        }
    }
}

impl GpuField {
    /// One training step: pump, loss, injected probe, probe pass with the SLM gradients and the
    /// update, in one submission; only the per-image loss and hit come back.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.load_batch(input, labels)?;
        self.step += 1;
        for u in &self.update {
            u.set_step(&self.ctx, self.step);
        }
        // The step's pump pass draws at the step count before it (the CPU's optimiser step).
        self.evals = 1;
        if let Some(n) = &self.noise {
            n.set_counter(&self.ctx, self.step - 1, 1);
        }
        if let Some(r) = &mut self.readout {
            // The read-out draws at the optimiser step before the update (the CPU's).
            for s in &self.probe {
                if let Step::Readout(o) = s {
                    o.set_step(&self.ctx, self.step - 1);
                }
            }
            r.frames += r.frames_per_image * valid as u64;
        }
        let mut enc = self.ctx.encoder("train_step");
        self.encode_pump(&mut enc);
        encode_pass(&mut enc, "loss", std::slice::from_ref(&self.loss.dispatch));
        self.inject.encode(&mut enc);
        if let Some(s) = self.readout.as_ref().and_then(|r| r.scale.as_ref()) {
            s.encode(&mut enc);
        }
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
            self.evals += 1;
            if let Some(n) = &self.noise {
                n.set_counter(&self.ctx, self.step, self.evals);
            }
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

    /// Sets the SLM parameters (the state's shapes), keeping the optimiser's state; the masks
    /// are rebuilt by the next pump pass.
    pub fn set_params(&mut self, params: &[Vec<f32>]) -> Result<()> {
        super::dense::upload_all(&self.ctx, &self.params, params, "SLM parameter")
    }

    /// Forward pass and loss of one batch, without an update (a pass of SPSA); the detector
    /// noise is drawn as the CPU's evaluation passes draw it.
    pub fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.load_batch(input, labels)?;
        self.evals += 1;
        if let Some(n) = &self.noise {
            n.set_counter(&self.ctx, self.step, self.evals);
        }
        let mut enc = self.ctx.encoder("evaluate");
        self.encode_pump(&mut enc);
        encode_pass(&mut enc, "loss", std::slice::from_ref(&self.loss.dispatch));
        self.ctx.submit(enc)?;
        self.io.read(&self.ctx, valid)
    }

    /// One optimiser step with the gradients given.
    pub fn apply_gradient(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        super::dense::upload_all(&self.ctx, &self.grads, grads, "gradient")?;
        self.step += 1;
        let mut enc = self.ctx.encoder("apply_gradient");
        for u in &self.update {
            u.set_step(&self.ctx, self.step);
            u.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        self.evals = 0;
        Ok(())
    }

    /// The vector–Jacobian product with respect to the SLM parameters: the gradient of
    /// `Σ upstream·P` (`upstream` per image and detector, `P` the detector powers in I_sat·m²)
    /// summed over the images, by the step's own pump and probe passes with `upstream` injected
    /// in place of the loss's `∂L/∂P`; nothing is updated. As the CPU's
    /// [`crate::diagnose::vjp`] (its parameter part) in single precision.
    pub fn vjp(&mut self, input: &[f32], upstream: &[f32]) -> Result<Vec<Vec<f32>>> {
        let (per, batch, classes) = (self.per, self.batch, self.classes);
        let images = input.len() / per.max(1);
        if input.len() != images * per || upstream.len() != images * classes || images == 0 {
            return Err(crate::Error::config(
                "upstream",
                format!(
                    "{} input values and {} upstream values: give whole images of {per} values and {classes} upstream values each",
                    input.len(),
                    upstream.len()
                ),
            ));
        }
        let mut total: Vec<Vec<f32>> = Vec::new();
        for (chunk, up) in input
            .chunks(batch * per)
            .zip(upstream.chunks(batch * classes))
        {
            let valid = self.upload_input(chunk)?;
            let mut dl = vec![0.0f32; batch * classes];
            dl[..up.len()].copy_from_slice(up);
            self.dl_dp.upload(&self.ctx, &dl);
            // The pump draws its detector noise as an evaluation pass does.
            self.evals += 1;
            if let Some(n) = &self.noise {
                n.set_counter(&self.ctx, self.step, self.evals);
            }
            if let Some(r) = &mut self.readout {
                for s in &self.probe {
                    if let Step::Readout(o) = s {
                        o.set_step(&self.ctx, self.step);
                    }
                }
                r.frames += r.frames_per_image * valid as u64;
            }
            let mut enc = self.ctx.encoder("vjp");
            self.encode_pump(&mut enc);
            self.inject.encode(&mut enc);
            if let Some(s) = self.readout.as_ref().and_then(|r| r.scale.as_ref()) {
                s.encode(&mut enc);
            }
            for s in &self.probe {
                s.encode(&mut enc);
            }
            self.ctx.submit(enc)?;
            let g = self
                .grads
                .iter()
                .map(|b| b.read(&self.ctx))
                .collect::<Result<Vec<_>>>()?;
            if total.is_empty() {
                total = g;
            } else {
                for (t, g) in total.iter_mut().zip(&g) {
                    for (a, b) in t.iter_mut().zip(g) {
                        *a += b;
                    }
                }
            }
        }
        Ok(total)
    }

    /// Camera frames and photo-electrons the gradient read-out took since the last call (as
    /// [`crate::cpu::CpuField::take_readout_counts`]; the electrons are read back).
    pub fn take_readout_counts(&mut self) -> Result<(u64, f64)> {
        match &mut self.readout {
            Some(r) => {
                let frames = std::mem::take(&mut r.frames);
                Ok((frames, r.bufs.take_electrons(&self.ctx)?))
            }
            None => Ok((0, 0.0)),
        }
    }
}
