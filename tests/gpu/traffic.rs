//! The traffic model of `gpu::traffic`: a free-space step on the GPU moves exactly the floor's
//! three passes (so the model and the executor agree on what a pass touches), and a whole
//! training step is counted at or above its floor, with only the per-image loss and hit read
//! back; an SLM in front of free space costs no pass of its own (its mask is multiplied in by the
//! free-space step's first pass), and neither does the pump's thin absorber right after free
//! space (that step's last pass applies it and keeps its input), which the counted step shows.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::backend::Backend;
use wavetrain::gpu::{self, traffic, Field, GpuBackend};
use wavetrain::network::{FieldPlan, Op, Plan};
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

use crate::common::*;
use crate::support::*;
use crate::Ctx;

/// A padded free-space step is three line passes (rows; columns · H · inverse columns; inverse
/// rows), and its counted bytes are the floor's: `8·b·[(nx·ny + sx·ny) + 2·sx·ny + (sx·ny +
/// nx·ny)]` plus one read of the transfer function and each pass's twiddles.
pub fn traffic_propagate_is_at_the_floor(ctx: &Ctx) -> Result<(), Failed> {
    for (nx, ny, batch) in [(64usize, 64usize, 3usize), (32, 16, 2)] {
        let grid = Grid::new(nx, ny, 8e-6)?;
        let tf = gpu::TransferFunction::new(ctx, &grid, LAMBDA, 2e-3, 2.0, true)?;
        let (sx, sy) = tf.transform();
        let x = random_field(nx * ny * batch, 7);
        let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
        let op = gpu::Propagate::new(ctx, &f, &tf, false)?;
        let ((), t) = traffic::count(|| {
            let mut enc = ctx.encoder("traffic");
            op.encode(&mut enc);
            drop(enc);
        });
        let fft = t.by_kernel.get("fft_shared").copied().unwrap_or_default();
        if t.dispatches != 3 || fft.0 != 3 {
            return Err(format!(
                "{nx}×{ny}: a free-space step should be 3 line passes, counted {} dispatches ({:?})",
                t.dispatches, t.by_kernel
            )
            .into());
        }
        let b = batch;
        let samples = b * ((nx * ny + sx * ny) + 2 * sx * ny + (sx * ny + nx * ny));
        // Twiddles: one line's worth per pass (rows of sx twice, columns of sy once).
        let twiddles = 2 * sx + sy;
        let want = 8 * (samples + twiddles) as u64 + 8 * (sx * sy) as u64;
        if fft.1 != want {
            return Err(format!(
                "{nx}×{ny} b {b} on {sx}×{sy}: counted {} bytes, the floor's formula gives {want}",
                fft.1
            )
            .into());
        }
    }
    Ok(())
}

/// A whole training step of a field network (d2nn-mnist scaled to 32×32) and of a dense one
/// (paper-mlp): counted at or above the floor, every free-space step three passes, the input
/// uploaded, and at most the per-image loss and hit read back.
pub fn traffic_train_step_is_counted(_: &Ctx) -> Result<(), Failed> {
    let mut cfg = wavetrain::presets::preset("d2nn-mnist")?;
    cfg.optics.nx = 32;
    cfg.optics.ny = 32;
    cfg.input.size = 20;
    cfg.readout.detector_size = 3;
    cfg.train.batch = 2;
    let net = cfg.resolve()?;
    let state = net.initial_state();
    let mut gpu_net = GpuBackend::new(&request(), &net, &state)?;
    let per = cfg.input_len();
    let x: Vec<f32> = (0..2 * per)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let labels = [3u8, 7];
    gpu_net.train_step(&x, &labels)?;
    let (r, t) = traffic::count(|| gpu_net.train_step(&x, &labels));
    r?;
    let Plan::Field(plan) = net.plan() else {
        return Err("d2nn-mnist should be a field network".into());
    };
    let props = plan
        .pump
        .iter()
        .map(|s| s.op)
        .chain(plan.probe.iter().map(|s| s.op))
        .filter(|op| matches!(op, Op::Propagate { .. }))
        .count() as u64;
    let fft = t.by_kernel.get("fft_shared").copied().unwrap_or_default();
    if fft.0 != 3 * props {
        return Err(format!(
            "{props} free-space steps should be {} line passes, counted {}",
            3 * props,
            fft.0
        )
        .into());
    }
    let o = &cfg.optics;
    let sides = plan
        .propagators
        .iter()
        .map(|p| {
            gpu::TransferFunction::new(
                gpu_net.context(),
                &Grid::new(o.nx, o.ny, p.dx)?,
                o.wavelength,
                p.distance,
                o.padding,
                o.band_limit,
            )
            .map(|tf| tf.transform())
        })
        .collect::<wavetrain::Result<Vec<_>>>()?;
    let floor = traffic::minimum_field_step(plan, o.nx, o.ny, &sides, 2);
    if t.device_bytes() < floor {
        return Err(format!(
            "counted {} device bytes, below the floor {floor}: the model or the floor is wrong",
            t.device_bytes()
        )
        .into());
    }
    if t.upload_bytes < (8 * per * 2) as u64 {
        return Err(format!(
            "uploaded {} bytes, less than the input ({} bytes)",
            t.upload_bytes,
            8 * per * 2
        )
        .into());
    }
    if t.readback_bytes == 0 || t.readback_bytes > 16 * 2 {
        return Err(format!(
            "read back {} bytes; a step should read back only the loss and hit of 2 images",
            t.readback_bytes
        )
        .into());
    }
    // Outside a count nothing accumulates.
    gpu_net.train_step(&x, &labels)?;
    let ((), none) = traffic::count(|| {});
    if none.dispatches != 0 {
        return Err("a count that records nothing should count nothing".into());
    }
    Ok(())
}

/// A mask multiplied in by the first pass of free space (`Propagate::with_scratch_masked`) costs
/// what the separate modulation costs less its read and write of the field: one dispatch fewer,
/// and the counted bytes of modulate + propagate less the modulate's, plus one read of the mask
/// (on the shared-memory path and the global-memory path alike).
pub fn traffic_masked_propagate_saves_the_modulate(ctx: &Ctx) -> Result<(), Failed> {
    let mut global = own_ctx()?;
    global.limit_fft_shared_memory(4096);
    let (nx, ny, batch, k) = (64usize, 64usize, 3usize, 2usize);
    for (path, c) in [("shared", &**ctx), ("global", &global)] {
        let grid = Grid::new(nx, ny, 8e-6)?;
        let tf = gpu::TransferFunction::new(c, &grid, LAMBDA, 2e-3, 2.0, true)?;
        let scratch = gpu::PropagateScratch::new(c, &tf, batch)?;
        let x: Vec<Complex32> = random_field(nx * ny * batch, 8);
        let f = Field::from_slice(c, "x", nx, ny, batch, &x)?;
        let m: Vec<Complex32> = random_field((nx / k) * (ny / k), 9);
        let mask = gpu::GpuBuffer::from_slice(c, "mask", &m)?;
        let modulate = gpu::Modulate::new(c, &f, &mask, k)?;
        let prop = gpu::Propagate::with_scratch(c, &f, &tf, false, &scratch)?;
        let fused = gpu::Propagate::with_scratch_masked(c, &f, &tf, false, &scratch, &mask, k)?;
        let count = |record: &dyn Fn(&mut wgpu::CommandEncoder)| {
            traffic::count(|| {
                let mut enc = c.encoder("traffic");
                record(&mut enc);
                drop(enc);
            })
            .1
        };
        let m_only = count(&|e| modulate.encode(e));
        let separate = count(&|e| {
            modulate.encode(e);
            prop.encode(e);
        });
        let together = count(&|e| fused.encode(e));
        let field_bytes = (8 * nx * ny * batch) as u64;
        let mask_bytes = (8 * m.len()) as u64;
        // The modulation reads the mask and reads and writes the field.
        if m_only.dispatches != 1 || m_only.kernel_bytes != 2 * field_bytes + mask_bytes {
            return Err(format!(
                "{path}: a modulation should be one dispatch of {} bytes, counted {:?}",
                2 * field_bytes + mask_bytes,
                m_only
            )
            .into());
        }
        if together.dispatches + 1 != separate.dispatches
            || together.kernel_bytes + m_only.kernel_bytes != separate.kernel_bytes + mask_bytes
            || together.by_kernel.contains_key("modulate")
        {
            return Err(format!(
                "{path}: fused {} dispatches / {} bytes, separate {} / {} (modulate {} bytes, mask {mask_bytes})",
                together.dispatches,
                together.kernel_bytes,
                separate.dispatches,
                separate.kernel_bytes,
                m_only.kernel_bytes
            )
            .into());
        }
    }
    Ok(())
}

/// A thin absorber applied by the last pass of free space (`Propagate::with_scratch_absorbed`)
/// costs what the separate pump costs less its reads and writes of the field, plus one write of
/// its slot: one dispatch fewer, and the counted bytes of propagate + pump less the pump's, plus
/// the slot write (nothing without a slot), on the shared-memory path and the global-memory path
/// alike, with and without a mask in front.
pub fn traffic_absorbed_propagate_saves_the_pump(ctx: &Ctx) -> Result<(), Failed> {
    let mut global = own_ctx()?;
    global.limit_fft_shared_memory(4096);
    let (nx, ny, batch, k) = (64usize, 64usize, 3usize, 2usize);
    let ab = Absorber::new(1.3, AbsorberModel::Thin);
    for (path, c) in [("shared", &**ctx), ("global", &global)] {
        let grid = Grid::new(nx, ny, 8e-6)?;
        let tf = gpu::TransferFunction::new(c, &grid, LAMBDA, 2e-3, 2.0, true)?;
        let scratch = gpu::PropagateScratch::new(c, &tf, batch)?;
        let x: Vec<Complex32> = random_field(nx * ny * batch, 10);
        let f = Field::from_slice(c, "x", nx, ny, batch, &x)?;
        let slot = Field::from_slice(c, "slot", nx, ny, batch, &x)?;
        let m: Vec<Complex32> = random_field((nx / k) * (ny / k), 11);
        let mask = gpu::GpuBuffer::from_slice(c, "mask", &m)?;
        let count = |record: &dyn Fn(&mut wgpu::CommandEncoder)| {
            traffic::count(|| {
                let mut enc = c.encoder("traffic");
                record(&mut enc);
                drop(enc);
            })
            .1
        };
        let field_bytes = (8 * nx * ny * batch) as u64;
        for masked in [false, true] {
            for keep in [true, false] {
                let save = keep.then_some(&slot);
                let pump = gpu::AbsorberPump::new(c, &f, &ab, save)?;
                let premask = masked.then_some((&mask, k));
                let prop = match premask {
                    Some((m, k)) => {
                        gpu::Propagate::with_scratch_masked(c, &f, &tf, false, &scratch, m, k)?
                    }
                    None => gpu::Propagate::with_scratch(c, &f, &tf, false, &scratch)?,
                };
                let fused = gpu::Propagate::with_scratch_absorbed(
                    c, &f, &tf, false, &scratch, premask, &ab, save,
                )?;
                let p_only = count(&|e| pump.encode(e));
                let separate = count(&|e| {
                    prop.encode(e);
                    pump.encode(e);
                });
                let together = count(&|e| fused.encode(e));
                let slot_write = if keep { field_bytes } else { 0 };
                let what = format!("{path}, mask {masked}, slot {keep}");
                if p_only.dispatches != 1 || p_only.kernel_bytes < 2 * field_bytes + slot_write {
                    return Err(format!(
                        "{what}: an absorber pump should be one dispatch reading and writing the field, counted {p_only:?}"
                    )
                    .into());
                }
                if together.dispatches + 1 != separate.dispatches
                    || together.kernel_bytes + p_only.kernel_bytes
                        != separate.kernel_bytes + slot_write
                    || together.by_kernel.keys().any(|k| k.starts_with("absorber"))
                {
                    return Err(format!(
                        "{what}: fused {} dispatches / {} bytes, separate {} / {} (pump {} bytes, slot write {slot_write})",
                        together.dispatches,
                        together.kernel_bytes,
                        separate.dispatches,
                        separate.kernel_bytes,
                        p_only.kernel_bytes
                    )
                    .into());
                }
            }
        }
    }
    Ok(())
}

/// The steps of a schedule whose mask (an SLM that passes light on, or a thin lens) is fused
/// into the free space right after it, and those that stay a modulation of their own.
fn masks_fused(ops: &[(Op, bool)]) -> (u64, u64) {
    let (mut fused, mut alone) = (0, 0);
    for (i, &(op, pass)) in ops.iter().enumerate() {
        if !pass || !matches!(op, Op::Mask { .. } | Op::Lens { .. }) {
            continue;
        }
        if matches!(ops.get(i + 1), Some((Op::Propagate { .. }, _))) {
            fused += 1;
        } else {
            alone += 1;
        }
    }
    (fused, alone)
}

fn pump_ops(plan: &FieldPlan) -> Vec<(Op, bool)> {
    plan.pump.iter().map(|s| (s.op, true)).collect()
}

fn probe_ops(plan: &FieldPlan) -> Vec<(Op, bool)> {
    plan.probe.iter().map(|s| (s.op, s.pass)).collect()
}

/// The pump's absorbers applied by the free space before them (thin, no optical-depth map, right
/// after free space), and how many of those keep their input in a slot.
fn absorbers_fused(plan: &FieldPlan) -> (u64, u64) {
    let (mut fused, mut kept) = (0, 0);
    for (i, s) in plan.pump.iter().enumerate() {
        let Op::Absorber { absorber } = s.op else {
            continue;
        };
        let after_free_space = i > 0 && matches!(plan.pump[i - 1].op, Op::Propagate { .. });
        if after_free_space && plan.absorbers[absorber].model == AbsorberModel::Thin {
            fused += 1;
            kept += s.save.is_some() as u64;
        }
    }
    (fused, kept)
}

/// d2nn-mnist at 64² and batch 4 (the bench's case): its pump, where every SLM is followed by
/// free space and every (thin) absorber follows free space, records no modulation and no
/// absorber pump at all; a training step records one modulation per probe SLM that is followed
/// by an absorber and none other; every free-space step is still three passes, those after an
/// SLM reading its mask once more, those before an absorber writing its slot once more; and the
/// step's counted bytes are the unfused step's less one read and one write of the field per fused
/// SLM and less each fused absorber pump's bytes beyond its slot write, which lowers the counted /
/// floor ratio by that much.
pub fn traffic_fused_masks_lower_the_step(_: &Ctx) -> Result<(), Failed> {
    let mut cfg = wavetrain::presets::preset("d2nn-mnist")?;
    let batch = 4;
    cfg.train.batch = batch;
    let net = cfg.resolve()?;
    let Plan::Field(plan) = net.plan() else {
        return Err("d2nn-mnist should be a field network".into());
    };
    let o = &cfg.optics;
    let (nx, ny) = (o.nx, o.ny);
    let mut gpu_net = GpuBackend::new(&request(), &net, &net.initial_state())?;
    let per = cfg.input_len();
    let x: Vec<f32> = (0..batch * per)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let labels = [3u8, 7, 1, 0];
    gpu_net.train_step(&x, &labels)?;
    let (r, pump) = traffic::count(|| gpu_net.predict(&x));
    r?;
    let (r, t) = traffic::count(|| gpu_net.train_step(&x, &labels));
    r?;
    let (pump_fused, pump_alone) = masks_fused(&pump_ops(plan));
    let (probe_fused, probe_alone) = masks_fused(&probe_ops(plan));
    if pump_fused != plan.params.len() as u64 || pump_alone != 0 {
        return Err(format!(
            "d2nn-mnist: every SLM of the pump should precede free space ({pump_fused} of {})",
            plan.params.len()
        )
        .into());
    }
    let modulations =
        |t: &traffic::Traffic| t.by_kernel.get("modulate").copied().unwrap_or_default();
    if modulations(&pump).0 != 0 {
        return Err(format!(
            "the pump of d2nn-mnist records modulations: {:?}",
            pump.by_kernel
        )
        .into());
    }
    let (abs_fused, abs_kept) = absorbers_fused(plan);
    let pump_absorbers = plan
        .pump
        .iter()
        .filter(|s| matches!(s.op, Op::Absorber { .. }))
        .count() as u64;
    if abs_fused == 0 || abs_fused != pump_absorbers {
        return Err(format!(
            "d2nn-mnist: every absorber of the pump should be thin and follow free space ({abs_fused} of {pump_absorbers})"
        )
        .into());
    }
    let pumps = |t: &traffic::Traffic| {
        t.by_kernel
            .iter()
            .filter(|(k, _)| k.starts_with("absorber_pump"))
            .map(|(_, &(n, _))| n)
            .sum::<u64>()
    };
    if pumps(&pump) != 0 || pumps(&t) != 0 {
        return Err(format!("d2nn-mnist records absorber pumps: {:?}", t.by_kernel).into());
    }
    let field = (8 * nx * ny * batch) as u64;
    let mask_bytes: Vec<u64> = plan.params.iter().map(|p| (8 * p.len()) as u64).collect();
    // Every mask is an SLM of nx·ny pixels here (k = 1).
    let mask = mask_bytes[0];
    if mask_bytes.iter().any(|&m| m != mask) {
        return Err("d2nn-mnist's SLMs should all be the same size".into());
    }
    let got = modulations(&t);
    if got != (probe_alone, probe_alone * (2 * field + mask)) {
        return Err(format!(
            "a training step should record {probe_alone} modulations of {} bytes, counted {got:?}",
            2 * field + mask
        )
        .into());
    }
    // Each free-space step: the three passes at the floor (as traffic_propagate_is_at_the_floor),
    // plus the mask read by those that take an SLM on load.
    let sides = plan
        .propagators
        .iter()
        .map(|p| {
            gpu::TransferFunction::new(
                gpu_net.context(),
                &Grid::new(nx, ny, p.dx)?,
                o.wavelength,
                p.distance,
                o.padding,
                o.band_limit,
            )
            .map(|tf| tf.transform())
        })
        .collect::<wavetrain::Result<Vec<_>>>()?;
    let step_bytes = |op: Op| -> u64 {
        let Op::Propagate { prop } = op else {
            return 0;
        };
        let (sx, sy) = sides[prop];
        let samples = batch * ((nx * ny + sx * ny) + 2 * sx * ny + (sx * ny + nx * ny));
        8 * (samples + 2 * sx + sy) as u64 + 8 * (sx * sy) as u64
    };
    let props: Vec<Op> = plan
        .pump
        .iter()
        .map(|s| s.op)
        .chain(plan.probe.iter().map(|s| s.op))
        .collect();
    let want_fft = props.iter().map(|&op| step_bytes(op)).sum::<u64>()
        + (pump_fused + probe_fused) * mask
        + abs_kept * field;
    let n_props = props
        .iter()
        .filter(|op| matches!(op, Op::Propagate { .. }))
        .count() as u64;
    let fft = t.by_kernel.get("fft_shared").copied().unwrap_or_default();
    if fft != (3 * n_props, want_fft) {
        return Err(format!(
            "{n_props} free-space steps, {} with a mask on load: want {} passes of {want_fft} bytes, counted {fft:?}",
            pump_fused + probe_fused,
            3 * n_props
        )
        .into());
    }
    // What the separate modulations cost beyond their mask read: one read and one write of the
    // field each (traffic_masked_propagate_saves_the_modulate).
    let saved_masks = (pump_fused + probe_fused) * 2 * field;
    // What each separate absorber pump (with its slot) costs beyond the slot write the fused
    // pass makes (traffic_absorbed_propagate_saves_the_pump), counted on a pump of that shape.
    let ctx = gpu_net.context();
    let mut saved_abs = 0;
    for (i, s) in plan.pump.iter().enumerate() {
        let Op::Absorber { absorber } = s.op else {
            continue;
        };
        let zeros = vec![Complex32::new(0.0, 0.0); nx * ny * batch];
        let f = Field::from_slice(ctx, "f", nx, ny, batch, &zeros)?;
        let slot = Field::from_slice(ctx, "slot", nx, ny, batch, &zeros)?;
        let save = s.save.map(|_| &slot);
        let op = gpu::AbsorberPump::new(ctx, &f, &plan.absorbers[absorber], save)?;
        let ((), alone) = traffic::count(|| {
            let mut enc = ctx.encoder("traffic");
            op.encode(&mut enc);
            drop(enc);
        });
        if i == 0 || !matches!(plan.pump[i - 1].op, Op::Propagate { .. }) {
            return Err("d2nn-mnist: an absorber of the pump not after free space".into());
        }
        saved_abs += alone.kernel_bytes - if save.is_some() { field } else { 0 };
    }
    let floor = traffic::minimum_field_step(plan, nx, ny, &sides, batch);
    let counted = t.device_bytes();
    let ratio = |bytes: u64| bytes as f64 / floor as f64;
    let (now, masks_only, before) = (
        ratio(counted),
        ratio(counted + saved_abs),
        ratio(counted + saved_abs + saved_masks),
    );
    eprintln!(
        "d2nn-mnist 64² b{batch}: {} dispatches, counted {counted} bytes, floor {floor}: {now:.3}× (masks fused only {masks_only:.3}×, unfused {before:.3}×)",
        t.dispatches
    );
    if counted < floor || now >= masks_only || masks_only >= before {
        return Err(format!(
            "counted {counted} bytes against the floor {floor} ({now:.3}×; masks fused only {masks_only:.3}×, unfused {before:.3}×)"
        )
        .into());
    }
    Ok(())
}
