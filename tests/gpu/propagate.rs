//! `gpu::Propagate` (shaders/propagate.wgsl, angular-spectrum free space) against
//! `cpu::Propagator`, forward and adjoint; with a mask multiplied in on load, and with a thin
//! absorber applied on store against `cpu::absorber_pump` after it.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{self, Field, GpuContext};
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

use crate::common::*;
use crate::support::*;
use crate::Ctx;

#[allow(clippy::too_many_arguments)]
fn check_propagate(
    ctx: &GpuContext,
    nx: usize,
    ny: usize,
    batch: usize,
    dx: f64,
    z: f64,
    band_limit: bool,
    seed: u64,
) -> Result<(), Failed> {
    let grid = Grid::new(nx, ny, dx)?;
    let x: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let tf = gpu::TransferFunction::new(ctx, &grid, LAMBDA, z, 2.0, band_limit)?;
    let mut cpu_p = cpu::Propagator::<f32>::new(&grid, LAMBDA, z, 2.0, band_limit);
    assert_eq!(tf.padded(), cpu_p.padded());
    let scratch = gpu::PropagateScratch::new(ctx, &tf, batch)?;
    for adjoint in [false, true] {
        let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
        let (a, b) = scratch.buffers();
        a.upload(ctx, &vec![NAN; a.len()]);
        b.upload(ctx, &vec![NAN; b.len()]);
        let op = gpu::Propagate::with_scratch(ctx, &f, &tf, adjoint, &scratch)?;
        run(ctx, |e| op.encode(e))?;
        let got = f.read(ctx)?;
        let mut want = x.clone();
        if adjoint {
            cpu_p.apply_adjoint(&mut want);
        } else {
            cpu_p.apply(&mut want);
        }
        let (px, py) = tf.padded();
        let tol = 4e-6 * log2(px * py);
        assert_close(
            &got,
            &want,
            tol,
            tol,
            &format!("propagate {nx}×{ny}×{batch} adjoint={adjoint}"),
        );
    }
    Ok(())
}

pub fn propagate_16x16(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 16, 16, 3, 8e-6, 2e-3, true, 20)
}
pub fn propagate_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 64, 32, 2, 8e-6, 5e-3, true, 21)?;
    check_propagate(ctx, 64, 32, 2, 4e-6, 1e-3, false, 22)
}
pub fn propagate_1024x1024(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 1024, 1024, 2, 8e-6, 0.05, true, 23)
}
pub fn propagate_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = own_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_propagate(&ctx, 64, 32, 2, 8e-6, 5e-3, true, 24)
}
/// The GPU's band-limited transfer function for `z` at padding `pad` and the CPU's textbook step
/// on the same padded grid (the reference of the fused and non-power-of-two checks).
fn padded_pair(
    ctx: &GpuContext,
    grid: &Grid,
    z: f64,
    pad: f64,
) -> Result<(gpu::TransferFunction, cpu::Propagator<f32>), Failed> {
    let tf = gpu::TransferFunction::new(ctx, grid, LAMBDA, z, pad, true)?;
    let cpu_p = cpu::Propagator::<f32>::with_sizes(
        grid,
        LAMBDA,
        z,
        pad,
        true,
        wavetrain::fft::FftSizes::Padded,
    );
    assert_eq!(tf.padded(), cpu_p.padded());
    Ok((tf, cpu_p))
}

pub fn propagate_non_power_of_two_padding_matches_cpu(ctx: &Ctx) -> Result<(), Failed> {
    // Padded sides of 96 and 100 run on 128-point transforms that hold the padded grid's
    // operator; the reference is the CPU's textbook step on the padded grid itself.
    for (nx, ny, pad, seed) in [(48, 64, 2.0, 25), (50, 50, 2.0, 26), (30, 20, 1.5, 27)] {
        let grid = Grid::new(nx, ny, 4e-6)?;
        let x: Vec<Complex32> = random_field(nx * ny * 2, seed);
        let (tf, mut cpu_p) = padded_pair(ctx, &grid, 1e-3, pad)?;
        let (lx, ly) = tf.transform();
        if !(lx.is_power_of_two() && ly.is_power_of_two()) || tf.transform() == tf.padded() {
            return Err(format!("{nx}×{ny} pad {pad}: transforms {lx}×{ly}").into());
        }
        for adjoint in [false, true] {
            let f = Field::from_slice(ctx, "x", nx, ny, 2, &x)?;
            let op = gpu::Propagate::new(ctx, &f, &tf, adjoint)?;
            run(ctx, |e| op.encode(e))?;
            let got = f.read(ctx)?;
            let mut want = x.clone();
            if adjoint {
                cpu_p.apply_adjoint(&mut want);
            } else {
                cpu_p.apply(&mut want);
            }
            let tol = 4e-6 * log2(lx * ly);
            assert_close(
                &got,
                &want,
                tol,
                tol,
                &format!("propagate {nx}×{ny} pad {pad} on {lx}×{ly} adjoint={adjoint}"),
            );
        }
    }
    Ok(())
}

/// A mask multiplied in as the first row pass loads the field
/// (`Propagate::with_scratch_masked`) is the CPU's modulation followed by its free-space step:
/// padded and non-power-of-two transforms, macro-pixels, forward and adjoint, scratch poisoned.
#[allow(clippy::too_many_arguments)]
fn check_masked(
    ctx: &GpuContext,
    nx: usize,
    ny: usize,
    k: usize,
    pad: f64,
    dx: f64,
    z: f64,
    seed: u64,
) -> Result<(), Failed> {
    let batch = 2;
    let grid = Grid::new(nx, ny, dx)?;
    let x: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let m: Vec<Complex32> = random_field((nx / k) * (ny / k), seed + 100);
    let (tf, mut cpu_p) = padded_pair(ctx, &grid, z, pad)?;
    let scratch = gpu::PropagateScratch::new(ctx, &tf, batch)?;
    let mask = gpu::GpuBuffer::from_slice(ctx, "mask", &m)?;
    for adjoint in [false, true] {
        let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
        let (a, b) = scratch.buffers();
        a.upload(ctx, &vec![NAN; a.len()]);
        b.upload(ctx, &vec![NAN; b.len()]);
        let op = gpu::Propagate::with_scratch_masked(ctx, &f, &tf, adjoint, &scratch, &mask, k)?;
        run(ctx, |e| op.encode(e))?;
        let got = f.read(ctx)?;
        let mut want = x.clone();
        cpu::modulate(&mut want, nx, ny, &m, k);
        if adjoint {
            cpu_p.apply_adjoint(&mut want);
        } else {
            cpu_p.apply(&mut want);
        }
        let (lx, ly) = tf.transform();
        let tol = 4e-6 * log2(lx * ly);
        assert_close(
            &got,
            &want,
            tol,
            tol,
            &format!("masked propagate {nx}×{ny} k {k} pad {pad} on {lx}×{ly} adjoint={adjoint}"),
        );
    }
    Ok(())
}

pub fn propagate_masked_matches_cpu(ctx: &Ctx) -> Result<(), Failed> {
    // Power-of-two padding; 96×128 and 75×50 padded grids on 128-point transforms.
    check_masked(ctx, 64, 32, 2, 2.0, 8e-6, 5e-3, 30)?;
    check_masked(ctx, 32, 32, 1, 2.0, 8e-6, 2e-3, 31)?;
    check_masked(ctx, 48, 64, 4, 2.0, 4e-6, 1e-3, 32)?;
    check_masked(ctx, 30, 20, 5, 1.5, 4e-6, 1e-3, 33)
}

pub fn propagate_masked_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = own_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_masked(&ctx, 64, 32, 2, 2.0, 8e-6, 5e-3, 34)?;
    check_masked(&ctx, 48, 64, 4, 2.0, 4e-6, 1e-3, 35)
}

/// A thin absorber applied as the last row pass stores the field
/// (`Propagate::with_scratch_absorbed`) is the CPU's free-space step followed by its absorber
/// pump, and the slot holds the field that entered the absorber (the propagated field): padded,
/// unpadded and non-power-of-two transforms, with and without a mask in front and a slot, forward
/// and adjoint, scratch and slot poisoned.
#[allow(clippy::too_many_arguments)]
fn check_absorbed(
    ctx: &GpuContext,
    nx: usize,
    ny: usize,
    k: Option<usize>,
    pad: f64,
    dx: f64,
    z: f64,
    seed: u64,
) -> Result<(), Failed> {
    let batch = 2;
    let grid = Grid::new(nx, ny, dx)?;
    // Intensities from ~0 to ~18 I_sat, around the absorber's knee at s = 1.
    let x: Vec<Complex32> = random_field::<f32>(nx * ny * batch, seed)
        .iter()
        .map(|v| v * 3.0)
        .collect();
    let ab = Absorber::new(1.7, AbsorberModel::Thin);
    let (tf, mut cpu_p) = padded_pair(ctx, &grid, z, pad)?;
    let scratch = gpu::PropagateScratch::new(ctx, &tf, batch)?;
    let m: Vec<Complex32> = match k {
        Some(k) => random_field((nx / k) * (ny / k), seed + 100),
        None => Vec::new(),
    };
    let mask = match k {
        Some(_) => Some(gpu::GpuBuffer::from_slice(ctx, "mask", &m)?),
        None => None,
    };
    let (lx, ly) = tf.transform();
    let tol = 8e-6 * log2(lx * ly);
    for adjoint in [false, true] {
        for keep in [true, false] {
            let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
            let slot = Field::from_slice(ctx, "slot", nx, ny, batch, &vec![NAN; x.len()])?;
            let (a, b) = scratch.buffers();
            a.upload(ctx, &vec![NAN; a.len()]);
            b.upload(ctx, &vec![NAN; b.len()]);
            let op = gpu::Propagate::with_scratch_absorbed(
                ctx,
                &f,
                &tf,
                adjoint,
                &scratch,
                mask.as_ref().zip(k),
                &ab,
                keep.then_some(&slot),
            )?;
            run(ctx, |e| op.encode(e))?;
            let mut entering = x.clone();
            if let Some(k) = k {
                cpu::modulate(&mut entering, nx, ny, &m, k);
            }
            if adjoint {
                cpu_p.apply_adjoint(&mut entering);
            } else {
                cpu_p.apply(&mut entering);
            }
            let mut want = entering.clone();
            cpu::absorber_pump(&mut want, &ab);
            let what = format!(
                "absorbed propagate {nx}×{ny} mask {k:?} pad {pad} on {lx}×{ly} adjoint={adjoint} slot={keep}"
            );
            assert_close(&f.read(ctx)?, &want, tol, tol, &what);
            let kept = slot.read(ctx)?;
            if keep {
                assert_close(&kept, &entering, tol, tol, &format!("{what}: slot"));
            } else if kept.iter().any(|v| !v.re.is_nan() || !v.im.is_nan()) {
                return Err(format!("{what}: the slot was written without one").into());
            }
        }
    }
    Ok(())
}

pub fn propagate_absorbed_matches_cpu(ctx: &Ctx) -> Result<(), Failed> {
    // Padded powers of two, unpadded, and a 75×50 padded grid on 128-point transforms.
    check_absorbed(ctx, 64, 32, None, 2.0, 8e-6, 5e-3, 40)?;
    check_absorbed(ctx, 64, 32, Some(2), 2.0, 8e-6, 5e-3, 41)?;
    check_absorbed(ctx, 32, 32, None, 1.0, 8e-6, 2e-3, 42)?;
    check_absorbed(ctx, 30, 20, Some(5), 1.5, 4e-6, 1e-3, 43)
}

pub fn propagate_absorbed_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = own_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_absorbed(&ctx, 64, 32, Some(2), 2.0, 8e-6, 5e-3, 44)?;
    check_absorbed(&ctx, 48, 64, None, 2.0, 4e-6, 1e-3, 45)
}
