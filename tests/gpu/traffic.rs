//! The traffic model of `gpu::traffic`: a free-space step on the GPU moves exactly the floor's
//! three passes (so the model and the executor agree on what a pass touches), and a whole
//! training step is counted at or above its floor, with only the per-image loss and hit read
//! back.

use libtest_mimic::Failed;
use wavetrain::backend::Backend;
use wavetrain::gpu::{self, traffic, Field, GpuBackend};
use wavetrain::network::{Op, Plan};
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
