//! SLM masks (shaders/modulate.wgsl): `BuildMask` and `Modulate` against `cpu::phase_mask`,
//! `cpu::amplitude_mask` and `cpu::modulate` (a thin lens included, as a fixed phase mask), and
//! `SlmGrad` against `cpu::mask_correlation` with `cpu::phase_grad` / `cpu::amplitude_grad`.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{BuildMask, Field, GpuBuffer, GpuContext, MaskKind, Modulate, SlmGrad};
use wavetrain::Grid;

use crate::common::*;
use crate::support::*;
use crate::Ctx;

fn check_modulate(
    ctx: &GpuContext,
    kind: MaskKind,
    nx: usize,
    ny: usize,
    k: usize,
    batch: usize,
    seed: u64,
) -> Result<(), Failed> {
    let x: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let m = (nx / k) * (ny / k);
    let params: Vec<f32> = match kind {
        MaskKind::Phase => random_real(m, -20.0, 20.0, seed + 1),
        MaskKind::Amplitude => random_real(m, -1.0, 1.0, seed + 1),
    };
    let p = GpuBuffer::from_slice(ctx, "params", &params)?;
    let mask = GpuBuffer::from_slice(ctx, "mask", &vec![NAN; m])?;
    let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
    let build = BuildMask::new(ctx, kind, &p, &mask)?;
    let op = Modulate::new(ctx, &f, &mask, k)?;
    run(ctx, |e| {
        build.encode(e);
        op.encode(e);
    })?;
    let cpu_mask = match kind {
        MaskKind::Phase => cpu::phase_mask(&params),
        MaskKind::Amplitude => cpu::amplitude_mask(&params),
    };
    assert_close(&mask.read(ctx)?, &cpu_mask, 2e-6, 1e-6, "mask");
    let mut want = x.clone();
    cpu::modulate(&mut want, nx, ny, &cpu_mask, k);
    assert_close(
        &f.read(ctx)?,
        &want,
        4e-6,
        1e-6,
        &format!("modulate {kind:?} k={k}"),
    );
    Ok(())
}
pub fn modulate_phase_64x32_k1(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Phase, 64, 32, 1, 2, 40)
}
pub fn modulate_phase_16x16_k4(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Phase, 16, 16, 4, 3, 41)
}
pub fn modulate_amplitude_64x32_k2(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Amplitude, 64, 32, 2, 2, 42)
}
/// A thin lens is a fixed phase mask; its phase (f64 on the host) reaches tens of radians.
pub fn thin_lens_64x64(ctx: &Ctx) -> Result<(), Failed> {
    let grid = Grid::new(64, 64, 8e-6)?;
    let phase64 = wavetrain::optics::lens::thin_lens_phase(&grid, LAMBDA, 0.01);
    let x: Vec<Complex32> = random_field(grid.len() * 2, 43);
    let p = GpuBuffer::from_slice(
        ctx,
        "phase",
        &phase64.iter().map(|&v| v as f32).collect::<Vec<_>>(),
    )?;
    let mask = GpuBuffer::from_slice(ctx, "mask", &vec![NAN; grid.len()])?;
    let f = Field::from_slice(ctx, "x", 64, 64, 2, &x)?;
    let build = BuildMask::new(ctx, MaskKind::Phase, &p, &mask)?;
    let op = Modulate::new(ctx, &f, &mask, 1)?;
    run(ctx, |e| {
        build.encode(e);
        op.encode(e);
    })?;
    let mut want = to_f64(&x);
    cpu::modulate(&mut want, 64, 64, &cpu::phase_mask(&phase64), 1);
    // The f32 rounding of a phase of ~50 rad is ~2e-6 rad.
    assert_close(&f.read(ctx)?, &want, 1e-5, 1e-5, "thin lens");
    Ok(())
}

fn check_slm_grad(
    ctx: &GpuContext,
    kind: MaskKind,
    nx: usize,
    ny: usize,
    k: usize,
    batch: usize,
    seed: u64,
) -> Result<(), Failed> {
    let v: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let b: Vec<Complex32> = random_field(nx * ny * batch, seed + 1);
    let m = (nx / k) * (ny / k);
    let params: Vec<f32> = random_real(m, -4.0, 4.0, seed + 2);
    let gv = Field::from_slice(ctx, "v", nx, ny, batch, &v)?;
    let gb = Field::from_slice(ctx, "b", nx, ny, batch, &b)?;
    let p = GpuBuffer::from_slice(ctx, "params", &params)?;
    let g = nan_buf(ctx, "grad", m)?;
    let op = SlmGrad::new(ctx, kind, &gv, &gb, &p, &g, k)?;
    run(ctx, |e| op.encode(e))?;
    let c = cpu::mask_correlation(&v, &b, nx, ny, k);
    let want = match kind {
        MaskKind::Phase => cpu::phase_grad(&params, &c),
        MaskKind::Amplitude => cpu::amplitude_grad(&c),
    };
    // A sum of batch·k² products: rounding grows with the number of terms.
    let tol = 2e-6 * ((batch * k * k) as f64).sqrt().max(1.0);
    real_close(
        &g.read(ctx)?,
        &want,
        tol,
        tol,
        &format!("slm grad {kind:?} k={k}"),
    );
    Ok(())
}
pub fn slm_phase_grad_64x32_k2(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Phase, 64, 32, 2, 3, 50)
}
pub fn slm_amplitude_grad_16x16_k1(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Amplitude, 16, 16, 1, 2, 51)
}
pub fn slm_phase_grad_1024x1024_k8(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Phase, 1024, 1024, 8, 2, 52)
}
