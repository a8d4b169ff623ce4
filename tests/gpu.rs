//! GPU kernels against the CPU engine (f32), on seeded random non-zero inputs, with GPU outputs
//! poisoned with NaN before each run.
//!
//! Custom harness (libtest-mimic): when no GPU adapter can be opened every GPU trial is reported
//! *ignored*, never passed, unless `WAVETRAIN_REQUIRE_GPU=1`, in which case each fails saying why.
//! Software adapters (Mesa lavapipe) are allowed here; `WAVETRAIN_ADAPTER` picks one by name.
mod common;

use std::sync::Arc;

use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::fft::Direction;
use wavetrain::gpu::{
    self, AbsorberProbe, AbsorberPump, AdapterRequest, BuildMask, Detect, DetectProbe, Field,
    GpuBuffer, GpuContext, MaskKind, MatMul, Modulate, Regions, SlmGrad,
};
use wavetrain::gpu::{Adam, Sgd};
use wavetrain::model::Region;
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

type Ctx = Arc<GpuContext>;
type TestFn = fn(&Ctx) -> Result<(), Failed>;

const NAN: Complex32 = Complex32::new(f32::NAN, f32::NAN);

fn log2(n: usize) -> f64 {
    (n as f64).log2().max(1.0)
}

fn run(ctx: &GpuContext, f: impl FnOnce(&mut wgpu::CommandEncoder)) -> Result<(), Failed> {
    let mut enc = ctx.encoder("test");
    f(&mut enc);
    ctx.run(enc)?;
    Ok(())
}

fn cplx(x: &[f32]) -> Vec<Complex32> {
    x.iter().map(|&v| Complex32::new(v, 0.0)).collect()
}

fn real_close(got: &[f32], want: &[f32], r: f64, a: f64, what: &str) {
    assert_close(&cplx(got), &cplx(want), r, a, what);
}

fn nan_buf(ctx: &GpuContext, label: &str, n: usize) -> Result<GpuBuffer<f32>, Failed> {
    Ok(GpuBuffer::from_slice(ctx, label, &vec![f32::NAN; n])?)
}

// ---------------------------------------------------------------- FFT

fn check_fft(
    ctx: &GpuContext,
    nx: usize,
    ny: usize,
    batch: usize,
    seed: u64,
    dirs: &[Direction],
) -> Result<(), Failed> {
    let x: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let mut cpu_fft = cpu::Fft2::<f32>::new(nx, ny);
    for &dir in dirs {
        let f = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
        let op = gpu::Fft2::new(ctx, &f, dir)?;
        run(ctx, |e| op.encode(e))?;
        let got = f.read(ctx)?;
        let mut want = x.clone();
        cpu_fft.process(&mut want, dir);
        let tol = 2e-6 * log2(nx * ny);
        assert_close(
            &got,
            &want,
            tol,
            tol,
            &format!("fft {nx}×{ny}×{batch} {dir:?}"),
        );
    }
    Ok(())
}

const BOTH: &[Direction] = &[Direction::Forward, Direction::Inverse];

fn fft_16x16(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 16, 16, 3, 1, BOTH)
}
fn fft_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 64, 32, 2, 2, BOTH)
}
fn fft_32x128(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 32, 128, 2, 3, BOTH)
}
fn fft_1024x1024(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 1024, 1024, 2, 4, BOTH)
}
/// Every power of two from 16 to 4096 on each axis (the other axis small).
fn fft_every_size(ctx: &Ctx) -> Result<(), Failed> {
    for k in 4..=12 {
        let n = 1 << k;
        check_fft(ctx, n, 16, 1, 10 + k, &[Direction::Forward])?;
        check_fft(ctx, 16, n, 1, 30 + k, &[Direction::Inverse])?;
    }
    Ok(())
}
/// Lines too long for the (here artificially capped) workgroup memory use the global passes.
fn fft_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = small_shared_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_fft(&ctx, 64, 32, 2, 5, BOTH)?;
    check_fft(&ctx, 16, 512, 1, 6, BOTH)?;
    Ok(())
}
fn small_shared_ctx() -> Result<GpuContext, Failed> {
    Ok(GpuContext::new(&request())?)
}
fn fft_refuses_non_power_of_two(ctx: &Ctx) -> Result<(), Failed> {
    let f = Field::new(ctx, "x", 48, 32, 1)?;
    let e = gpu::Fft2::new(ctx, &f, Direction::Forward)
        .err()
        .ok_or("48×32 accepted")?;
    assert!(e.to_string().contains("use 32 or 64"), "{e}");
    Ok(())
}

// ---------------------------------------------------------------- propagation

const LAMBDA: f64 = 780e-9;

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

fn propagate_16x16(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 16, 16, 3, 8e-6, 2e-3, true, 20)
}
fn propagate_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 64, 32, 2, 8e-6, 5e-3, true, 21)?;
    check_propagate(ctx, 64, 32, 2, 4e-6, 1e-3, false, 22)
}
fn propagate_1024x1024(ctx: &Ctx) -> Result<(), Failed> {
    check_propagate(ctx, 1024, 1024, 2, 8e-6, 0.05, true, 23)
}
fn propagate_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = small_shared_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_propagate(&ctx, 64, 32, 2, 8e-6, 5e-3, true, 24)
}
fn propagate_non_power_of_two_padding_matches_cpu(ctx: &Ctx) -> Result<(), Failed> {
    // Padded sides of 96 and 100 run on 128-point transforms that hold the padded grid's
    // operator; the reference is the CPU's textbook step on the padded grid itself.
    for (nx, ny, pad, seed) in [(48, 64, 2.0, 25), (50, 50, 2.0, 26), (30, 20, 1.5, 27)] {
        let grid = Grid::new(nx, ny, 4e-6)?;
        let x: Vec<Complex32> = random_field(nx * ny * 2, seed);
        let tf = gpu::TransferFunction::new(ctx, &grid, LAMBDA, 1e-3, pad, true)?;
        let mut cpu_p = cpu::Propagator::<f32>::with_sizes(
            &grid,
            LAMBDA,
            1e-3,
            pad,
            true,
            wavetrain::fft::FftSizes::Padded,
        );
        assert_eq!(tf.padded(), cpu_p.padded());
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

// ---------------------------------------------------------------- lens

fn check_lens(
    ctx: &GpuContext,
    nx: usize,
    ny: usize,
    batch: usize,
    seed: u64,
) -> Result<(), Failed> {
    let x: Vec<Complex32> = random_field(nx * ny * batch, seed);
    let (dx, f) = (8e-6, 0.1);
    let mut cpu_l = cpu::Lens2f::<f32>::new(nx, ny, dx, LAMBDA, f);
    for adjoint in [false, true] {
        let g = Field::from_slice(ctx, "x", nx, ny, batch, &x)?;
        let op = gpu::Lens2f::new(ctx, &g, dx, LAMBDA, f, adjoint)?;
        assert!((op.pitch_out() - cpu_l.pitch_out()).abs() < 1e-15);
        run(ctx, |e| op.encode(e))?;
        let mut want = x.clone();
        if adjoint {
            cpu_l.apply_adjoint(&mut want);
        } else {
            cpu_l.apply(&mut want);
        }
        let tol = 2e-6 * log2(nx * ny);
        assert_close(
            &g.read(ctx)?,
            &want,
            tol,
            tol,
            &format!("lens {nx}×{ny} adjoint={adjoint}"),
        );
    }
    Ok(())
}
fn lens2f_64x64(ctx: &Ctx) -> Result<(), Failed> {
    check_lens(ctx, 64, 64, 2, 30)
}
fn lens2f_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_lens(ctx, 64, 32, 3, 31)
}

// ---------------------------------------------------------------- masks

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
fn modulate_phase_64x32_k1(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Phase, 64, 32, 1, 2, 40)
}
fn modulate_phase_16x16_k4(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Phase, 16, 16, 4, 3, 41)
}
fn modulate_amplitude_64x32_k2(ctx: &Ctx) -> Result<(), Failed> {
    check_modulate(ctx, MaskKind::Amplitude, 64, 32, 2, 2, 42)
}
/// A thin lens is a fixed phase mask; its phase (f64 on the host) reaches tens of radians.
fn thin_lens_64x64(ctx: &Ctx) -> Result<(), Failed> {
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
fn slm_phase_grad_64x32_k2(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Phase, 64, 32, 2, 3, 50)
}
fn slm_amplitude_grad_16x16_k1(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Amplitude, 16, 16, 1, 2, 51)
}
fn slm_phase_grad_1024x1024_k8(ctx: &Ctx) -> Result<(), Failed> {
    check_slm_grad(ctx, MaskKind::Phase, 1024, 1024, 8, 2, 52)
}

// ---------------------------------------------------------------- absorber

fn check_absorber(
    ctx: &GpuContext,
    model: AbsorberModel,
    od: f64,
    seed: u64,
) -> Result<(), Failed> {
    let (nx, ny, batch) = (64, 32, 2);
    // Intensities from ~0 to ~18 I_sat, around the knee at s = 1.
    let v: Vec<Complex32> = random_field::<f32>(nx * ny * batch, seed)
        .iter()
        .map(|z| z * 3.0)
        .collect();
    let b: Vec<Complex32> = random_field(nx * ny * batch, seed + 1);
    let ab = Absorber::new(od, model);
    let f = Field::from_slice(ctx, "v", nx, ny, batch, &v)?;
    let saved = Field::from_slice(ctx, "saved", nx, ny, batch, &vec![NAN; v.len()])?;
    let pump = AbsorberPump::new(ctx, &f, &ab, Some(&saved))?;
    run(ctx, |e| pump.encode(e))?;
    let mut want = v.clone();
    cpu::absorber_pump(&mut want, &ab);
    assert_close(
        &f.read(ctx)?,
        &want,
        1e-5,
        1e-6,
        &format!("absorber pump {model:?}"),
    );
    assert_eq!(saved.read(ctx)?, v, "saved pump input");
    let plain = Field::from_slice(ctx, "v2", nx, ny, batch, &v)?;
    let op = AbsorberPump::new(ctx, &plain, &ab, None)?;
    run(ctx, |e| op.encode(e))?;
    assert_close(
        &plain.read(ctx)?,
        &want,
        1e-5,
        1e-6,
        "absorber pump without save",
    );
    for exact in [false, true] {
        let probe = Field::from_slice(ctx, "b", nx, ny, batch, &b)?;
        let op = AbsorberProbe::new(ctx, &probe, &saved, &ab, exact)?;
        run(ctx, |e| op.encode(e))?;
        let mut want = b.clone();
        cpu::absorber_probe(&mut want, &v, &ab, exact);
        assert_close(
            &probe.read(ctx)?,
            &want,
            2e-5,
            1e-6,
            &format!("absorber probe {model:?} exact={exact}"),
        );
    }
    Ok(())
}
fn absorber_thin(ctx: &Ctx) -> Result<(), Failed> {
    check_absorber(ctx, AbsorberModel::Thin, 10.0, 60)
}
fn absorber_beer_lambert(ctx: &Ctx) -> Result<(), Failed> {
    check_absorber(ctx, AbsorberModel::BeerLambert, 4.0, 61)?;
    check_absorber(ctx, AbsorberModel::BeerLambert, 10.0, 62)
}

// ---------------------------------------------------------------- detector

fn regions() -> Vec<Region> {
    vec![
        Region {
            x0: 2,
            y0: 3,
            w: 10,
            h: 5,
        },
        Region {
            x0: 30,
            y0: 0,
            w: 34,
            h: 32,
        },
        Region {
            x0: 0,
            y0: 20,
            w: 1,
            h: 1,
        },
        Region {
            x0: 8,
            y0: 4,
            w: 20,
            h: 20,
        }, // overlaps the first
    ]
}
fn detect_and_probe_64x32(ctx: &Ctx) -> Result<(), Failed> {
    let (nx, ny, batch, dx) = (64, 32, 3, 8e-6);
    let u: Vec<Complex32> = random_field(nx * ny * batch, 70);
    let regs = regions();
    let r = Regions::new(ctx, &regs, nx, ny)?;
    let f = Field::from_slice(ctx, "u", nx, ny, batch, &u)?;
    let powers = nan_buf(ctx, "powers", batch * regs.len())?;
    let det = Detect::new(ctx, &f, &r, dx, &powers)?;
    let dl: Vec<f32> = random_real(batch * regs.len(), -1.0, 1.0, 71);
    let dl_dp = GpuBuffer::from_slice(ctx, "dl_dp", &dl)?;
    let probe = Field::from_slice(ctx, "probe", nx, ny, batch, &vec![NAN; u.len()])?;
    let inj = DetectProbe::new(ctx, &f, &r, dx, &dl_dp, &probe)?;
    run(ctx, |e| {
        det.encode(e);
        inj.encode(e);
    })?;
    let want = cpu::detect(&u, nx, ny, &regs, dx);
    real_close(&powers.read(ctx)?, &want, 1e-5, 1e-6, "detect");
    let mut want = vec![Complex32::new(0.0, 0.0); u.len()];
    cpu::detect_probe(&u, nx, ny, &regs, dx, &dl, &mut want);
    assert_close(&probe.read(ctx)?, &want, 1e-6, 1e-7, "detect probe");
    assert!(Regions::new(
        ctx,
        &[Region {
            x0: 60,
            y0: 0,
            w: 5,
            h: 1
        }],
        nx,
        ny
    )
    .is_err());
    Ok(())
}

// ---------------------------------------------------------------- matmul, optimizers, copy

fn check_matmul(
    ctx: &GpuContext,
    out_dim: usize,
    in_dim: usize,
    batch: usize,
    seed: u64,
) -> Result<(), Failed> {
    let w: Vec<f32> = random_real(out_dim * in_dim, -1.0, 1.0, seed);
    let a: Vec<f32> = random_real(batch * in_dim, -1.0, 1.0, seed + 1);
    let bz: Vec<f32> = random_real(batch * out_dim, -1.0, 1.0, seed + 2);
    let (gw, ga, gb) = (
        GpuBuffer::from_slice(ctx, "w", &w)?,
        GpuBuffer::from_slice(ctx, "a", &a)?,
        GpuBuffer::from_slice(ctx, "bz", &bz)?,
    );
    let z = nan_buf(ctx, "z", batch * out_dim)?;
    let ba = nan_buf(ctx, "ba", batch * in_dim)?;
    let dw = nan_buf(ctx, "dw", out_dim * in_dim)?;
    let ops = [
        MatMul::forward(ctx, &gw, &ga, &z, out_dim, in_dim)?,
        MatMul::transpose(ctx, &gw, &gb, &ba, out_dim, in_dim)?,
        MatMul::grad(ctx, &gb, &ga, &dw, out_dim, in_dim)?,
    ];
    run(ctx, |e| ops.iter().for_each(|o| o.encode(e)))?;
    let tol = 1e-6 * (in_dim.max(out_dim).max(batch) as f64).sqrt();
    let what = format!("{out_dim}×{in_dim}×{batch}");
    real_close(
        &z.read(ctx)?,
        &cpu::matmul_forward(&w, &a, out_dim, in_dim),
        tol,
        tol,
        &format!("matmul forward {what}"),
    );
    real_close(
        &ba.read(ctx)?,
        &cpu::matmul_transpose(&w, &bz, out_dim, in_dim),
        tol,
        tol,
        &format!("matmul transpose {what}"),
    );
    real_close(
        &dw.read(ctx)?,
        &cpu::matmul_grad(&bz, &a, out_dim, in_dim),
        tol,
        tol,
        &format!("matmul grad {what}"),
    );
    Ok(())
}
fn matmul_small(ctx: &Ctx) -> Result<(), Failed> {
    check_matmul(ctx, 10, 37, 5, 80)
}
fn matmul_large(ctx: &Ctx) -> Result<(), Failed> {
    check_matmul(ctx, 100, 784, 33, 81)
}

fn optimizers(ctx: &Ctx) -> Result<(), Failed> {
    let n = 1000;
    let p0: Vec<f32> = random_real(n, -3.0, 3.0, 90);
    let p = GpuBuffer::from_slice(ctx, "p", &p0)?;
    let g = GpuBuffer::from_slice(ctx, "g", &vec![0.0f32; n])?;
    let sgd = Sgd::new(ctx, &p, &g, 0.05)?;
    let mut want = p0.clone();
    let grads: Vec<f32> = random_real(n, -1.0, 1.0, 91);
    g.upload(ctx, &grads);
    run(ctx, |e| sgd.encode(e))?;
    cpu::sgd_step(&mut want, &grads, 0.05);
    real_close(&p.read(ctx)?, &want, 1e-7, 1e-7, "sgd");

    let cfg = wavetrain::network::AdamConfig::default();
    let (m, v) = (
        GpuBuffer::from_slice(ctx, "m", &vec![0.0f32; n])?,
        GpuBuffer::from_slice(ctx, "v", &vec![0.0f32; n])?,
    );
    p.upload(ctx, &p0);
    let adam = Adam::new(ctx, &p, &g, &m, &v, &cfg)?;
    let (mut wp, mut wm, mut wv) = (p0.clone(), vec![0.0f32; n], vec![0.0f32; n]);
    for t in 1..=4u64 {
        let grads: Vec<f32> = random_real(n, -1.0, 1.0, 100 + t);
        g.upload(ctx, &grads);
        adam.set_step(ctx, t);
        run(ctx, |e| adam.encode(e))?;
        cpu::adam_step(&mut wp, &grads, &mut wm, &mut wv, t, &cfg);
    }
    real_close(&p.read(ctx)?, &wp, 1e-6, 1e-6, "adam params");
    real_close(&m.read(ctx)?, &wm, 1e-6, 1e-7, "adam m");
    real_close(&v.read(ctx)?, &wv, 1e-6, 1e-7, "adam v");
    Ok(())
}

fn copy_kernel(ctx: &Ctx) -> Result<(), Failed> {
    let x: Vec<Complex32> = random_field(100_003, 95);
    let src = GpuBuffer::from_slice(ctx, "src", &x)?;
    let dst = GpuBuffer::from_slice(ctx, "dst", &vec![NAN; x.len()])?;
    let op = gpu::CopyField::new(ctx, &src, &dst)?;
    run(ctx, |e| op.encode(e))?;
    assert_eq!(dst.read(ctx)?, x);
    Ok(())
}

// ---------------------------------------------------------------- chain

/// SLM → free space → absorber → free space → detector: the pump pass, then the probe pass back
/// to the SLM and its phase gradient, recorded as ONE submission; equal to the CPU engine.
fn chain_pump_and_probe(ctx: &Ctx) -> Result<(), Failed> {
    let (nx, ny, batch, k, dx) = (64, 64, 3, 2, 8e-6);
    let grid = Grid::new(nx, ny, dx)?;
    let (z1, z2) = (3e-3, 4e-3);
    let ab = Absorber::new(6.0, AbsorberModel::Thin);
    let x: Vec<Complex32> = random_field::<f32>(nx * ny * batch, 110)
        .iter()
        .map(|v| v * 1.5)
        .collect();
    let phase: Vec<f32> = random_real((nx / k) * (ny / k), -3.0, 3.0, 111);
    let regs = vec![
        Region {
            x0: 10,
            y0: 10,
            w: 12,
            h: 12,
        },
        Region {
            x0: 40,
            y0: 12,
            w: 12,
            h: 12,
        },
        Region {
            x0: 24,
            y0: 40,
            w: 16,
            h: 10,
        },
    ];
    let dl: Vec<f32> = random_real(batch * regs.len(), -1.0, 1.0, 112);

    // GPU: buffers and ops, built once.
    let input = Field::from_slice(ctx, "input", nx, ny, batch, &x)?;
    let u = Field::from_slice(ctx, "u", nx, ny, batch, &vec![NAN; x.len()])?;
    let absorbed_in = Field::from_slice(ctx, "absorber_in", nx, ny, batch, &vec![NAN; x.len()])?;
    let probe = Field::from_slice(ctx, "probe", nx, ny, batch, &vec![NAN; x.len()])?;
    let gphase = GpuBuffer::from_slice(ctx, "phase", &phase)?;
    let mask = GpuBuffer::from_slice(ctx, "mask", &vec![NAN; phase.len()])?;
    let grad = nan_buf(ctx, "grad", phase.len())?;
    let powers = nan_buf(ctx, "powers", batch * regs.len())?;
    let dl_dp = GpuBuffer::from_slice(ctx, "dl_dp", &dl)?;
    let tf1 = gpu::TransferFunction::new(ctx, &grid, LAMBDA, z1, 2.0, true)?;
    let tf2 = gpu::TransferFunction::new(ctx, &grid, LAMBDA, z2, 2.0, true)?;
    let scratch = gpu::PropagateScratch::new(ctx, &tf1, batch)?;
    let r = Regions::new(ctx, &regs, nx, ny)?;
    let copy = gpu::CopyField::new(ctx, input.data(), u.data())?;
    let build = BuildMask::new(ctx, MaskKind::Phase, &gphase, &mask)?;
    let slm = Modulate::new(ctx, &u, &mask, k)?;
    let p1 = gpu::Propagate::with_scratch(ctx, &u, &tf1, false, &scratch)?;
    let sa = AbsorberPump::new(ctx, &u, &ab, Some(&absorbed_in))?;
    let p2 = gpu::Propagate::with_scratch(ctx, &u, &tf2, false, &scratch)?;
    let det = Detect::new(ctx, &u, &r, dx, &powers)?;
    let inject = DetectProbe::new(ctx, &u, &r, dx, &dl_dp, &probe)?;
    let q2 = gpu::Propagate::with_scratch(ctx, &probe, &tf2, false, &scratch)?;
    let sa_probe = AbsorberProbe::new(ctx, &probe, &absorbed_in, &ab, false)?;
    let q1 = gpu::Propagate::with_scratch(ctx, &probe, &tf1, false, &scratch)?;
    // The probe arriving at the SLM passes it too; the gradient needs it before that.
    let slm_grad = SlmGrad::new(ctx, MaskKind::Phase, &input, &probe, &gphase, &grad, k)?;
    run(ctx, |e| {
        copy.encode(e);
        build.encode(e);
        slm.encode(e);
        p1.encode(e);
        sa.encode(e);
        p2.encode(e);
        det.encode(e);
        inject.encode(e);
        q2.encode(e);
        sa_probe.encode(e);
        q1.encode(e);
        slm_grad.encode(e);
    })?;

    // CPU, f32.
    let mask_c = cpu::phase_mask(&phase);
    let mut v = x.clone();
    cpu::modulate(&mut v, nx, ny, &mask_c, k);
    let mut c1 = cpu::Propagator::<f32>::new(&grid, LAMBDA, z1, 2.0, true);
    let mut c2 = cpu::Propagator::<f32>::new(&grid, LAMBDA, z2, 2.0, true);
    c1.apply(&mut v);
    let sa_in = v.clone();
    cpu::absorber_pump(&mut v, &ab);
    c2.apply(&mut v);
    let want_p = cpu::detect(&v, nx, ny, &regs, dx);
    let mut b = vec![Complex32::new(0.0, 0.0); v.len()];
    cpu::detect_probe(&v, nx, ny, &regs, dx, &dl, &mut b);
    c2.apply(&mut b);
    cpu::absorber_probe(&mut b, &sa_in, &ab, false);
    c1.apply(&mut b);
    let want_g = cpu::phase_grad(&phase, &cpu::mask_correlation(&x, &b, nx, ny, k));

    let tol = 4e-6 * log2(nx * ny);
    assert_close(&u.read(ctx)?, &v, tol, tol, "chain: field at the detector");
    real_close(
        &powers.read(ctx)?,
        &want_p,
        tol,
        tol,
        "chain: detector powers",
    );
    assert_close(&probe.read(ctx)?, &b, tol, tol, "chain: probe at the SLM");
    real_close(
        &grad.read(ctx)?,
        &want_g,
        tol,
        tol,
        "chain: SLM phase gradient",
    );
    Ok(())
}

// ---------------------------------------------------------------- context and limits

fn adapters_and_limits(ctx: &Ctx) -> Result<(), Failed> {
    let all = gpu::list_adapters();
    assert!(all.iter().any(|a| a.name == ctx.adapter().name), "{all:?}");
    let json = serde_json::to_string(&all)?;
    assert!(json.contains("max_storage_buffer_binding_size"), "{json}");
    match gpu::auto_adapter() {
        Some(a) => assert!(!a.software, "auto picked a software adapter: {a:?}"),
        None => {
            assert!(
                all.iter().all(|a| a.software),
                "hardware adapter present but auto picked none"
            );
            let e = GpuContext::new(&AdapterRequest::default())
                .err()
                .ok_or("software adapter opened without allow_software")?;
            assert!(e.to_string().contains("software"), "{e}");
        }
    }
    let e = GpuContext::new(&AdapterRequest {
        name: Some("no-such-adapter-xyz".into()),
        allow_software: true,
    })
    .err()
    .ok_or("unknown adapter name accepted")?;
    assert!(e.to_string().contains("no-such-adapter-xyz"), "{e}");
    let l = &ctx.adapter().limits;
    assert_eq!(
        l.max_storage_buffer_binding_size,
        ctx.limits().max_storage_buffer_binding_size
    );
    Ok(())
}

fn batch_too_large_is_refused(ctx: &Ctx) -> Result<(), Failed> {
    let per = (1024 * 1024 * 8) as u64;
    let max = ctx.max_batch(per);
    let e = Field::new(ctx, "big", 1024, 1024, max + 1)
        .err()
        .ok_or("oversized batch accepted")?;
    assert!(e.to_string().contains(&format!("at most {max}")), "{e}");
    let grid = Grid::new(1024, 1024, 8e-6)?;
    let tf = gpu::TransferFunction::new(ctx, &grid, LAMBDA, 1e-2, 2.0, true)?;
    let m = tf.max_batch(ctx);
    let e = gpu::PropagateScratch::new(ctx, &tf, m + 1)
        .err()
        .ok_or("oversized propagation batch accepted")?;
    assert!(e.to_string().contains(&format!("at most {m}")), "{e}");
    Ok(())
}

/// A validation error inside wgpu (an invalid buffer usage) comes back as `Error::Gpu` naming
/// what was being done and the size, through the error scopes, not as a crash; the context stays
/// usable afterwards.
fn validation_error_is_a_clear_error(ctx: &Ctx) -> Result<(), Failed> {
    let usage = gpu::wgpu::BufferUsages::MAP_READ | gpu::wgpu::BufferUsages::STORAGE;
    let e = ctx
        .create_buffer("invalid-usage", 256, usage)
        .err()
        .ok_or("an invalid buffer usage was accepted")?;
    let msg = e.to_string();
    assert!(matches!(e, wavetrain::Error::Gpu(_)), "{msg}");
    assert!(
        msg.contains("allocating invalid-usage (256 bytes)"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 6);
    // The shared context still works.
    let f = Field::from_slice(ctx, "after", 4, 4, 1, &[Complex32::new(1.0, 0.0); 16])?;
    assert_eq!(f.data().read(ctx)?.len(), 16);
    Ok(())
}

/// A lost device (here destroyed on purpose) is reported by the device-lost callback: the next
/// operation and the next training step fail with a message saying the device was lost.
fn device_lost_is_a_clear_error(_ctx: &Ctx) -> Result<(), Failed> {
    let own = GpuContext::new(&request())?;
    own.device().destroy();
    let e = own
        .wait()
        .err()
        .ok_or("a destroyed device still waits fine")?;
    assert!(e.to_string().contains("device lost"), "{e}");
    let e = own
        .create_buffer("late", 64, gpu::wgpu::BufferUsages::STORAGE)
        .err()
        .ok_or("a destroyed device still allocates")?;
    assert!(e.to_string().contains("device lost"), "{e}");

    let cfg = step_config("optical");
    let network = cfg.resolve()?;
    let state = network.initial_state();
    let mut net = gpu::GpuField::new(GpuContext::new(&request())?, &network, &state)?;
    net.context().device().destroy();
    let x = vec![0.5f32; cfg.train.batch * cfg.optics.nx * cfg.optics.ny];
    let labels = vec![1u8; cfg.train.batch];
    let e = net
        .train_step(&x, &labels)
        .err()
        .ok_or("a training step on a lost device succeeded")?;
    assert!(e.to_string().contains("device lost"), "{e}");
    assert_eq!(e.exit_code(), 6);
    Ok(())
}

fn step_config(gradient: &str) -> wavetrain::model::Config {
    let text = format!(
        r#"
name = "gpu-step"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 32
ny = 16
[input]
intensity = 20.0
size = 14
[[elements]]
type = "phase"
macro_pixel = 2
[[elements]]
type = "free-space"
distance = 1e-3
[[elements]]
type = "absorber"
od = 4.0
[[elements]]
type = "phase"
[[elements]]
type = "free-space"
distance = 0.8e-3
[[elements]]
type = "absorber"
od = 2.0
model = "beer-lambert"
[[elements]]
type = "lens"
focal_length = 20e-3
[[elements]]
type = "phase"
macro_pixel = 4
[[elements]]
type = "free-space"
distance = 1e-3
[readout]
classes = 4
detector_size = 3
temperature = 0.2
[train]
optimizer = "sgd"
lr = 1.0
batch = 8
gradient = "{gradient}"
"#
    );
    wavetrain::model::Config::from_toml(&text, "gpu-step").expect("valid test config")
}

/// One whole training step (pump, loss, probe, update) on the GPU network against the CPU
/// network: same loss, same hits, same gradients (SGD with lr 1 from zero phases: the new
/// parameters are minus the gradients). The last batch is short (5 of 8 images) to check the
/// padding is masked out.
fn train_step_matches_cpu(_: &Ctx) -> Result<(), Failed> {
    for gradient in ["optical", "exact"] {
        let cfg = step_config(gradient);
        let net = cfg.resolve()?;
        let state = net.field("test")?.initial_state(1);
        for valid in [8usize, 5] {
            let input: Vec<f32> = random_real(valid * 32 * 16, 0.0, 1.0, 70 + valid as u64);
            let labels: Vec<u8> = (0..valid).map(|i| (i * 7 % 4) as u8).collect();
            let mut c = cpu::CpuField::<f32>::new(&net, &state)?;
            let want = c.train_step(&input, &labels);
            let mut g = gpu::GpuField::new(GpuContext::new(&request())?, &net, &state)?;
            let got = g.train_step(&input, &labels)?;
            let what = format!("{gradient}, {valid} images");
            if (got.loss_sum - want.loss_sum).abs() > 1e-4 * want.loss_sum.abs().max(1.0) {
                return Err(
                    format!("{what}: loss {} vs CPU {}", got.loss_sum, want.loss_sum).into(),
                );
            }
            if got.correct != want.correct {
                return Err(format!("{what}: {} hits vs CPU {}", got.correct, want.correct).into());
            }
            let (gs, cs) = (g.state()?, c.state());
            for (i, (a, b)) in gs.params.iter().zip(&cs.params).enumerate() {
                real_close(a, b, 2e-4, 2e-4, &format!("{what}: gradient of SLM {i}"));
            }
            let p = g.predict(&input)?;
            let q = c.forward(&input, None).to_vec();
            real_close(
                &p,
                &q,
                1e-4,
                1e-5,
                &format!("{what}: powers after the update"),
            );
        }
    }
    Ok(())
}

/// A small dense network with every kind of stage: an ideal layer, a wave layer with cross-talk,
/// thin and Beer–Lambert absorbers, a ReLU and a digital layer.
fn dense_step_config(
    gradient: &str,
    loss: &str,
    optimizer: &str,
    extra: &str,
) -> wavetrain::model::Config {
    let text = format!(
        r#"
name = "gpu-dense-step"
[optics]
wavelength = 780e-9
pitch = 8e-6
[input]
intensity = 1.0
size = 6
[[elements]]
type = "dense"
out = 24
gain = 2.0
[[elements]]
type = "absorber"
od = 4.0
[[elements]]
type = "dense"
out = 20
gain = 1.5
fidelity = "wave"
fill_factor = 0.8
na = 0.08
fanout_focal_length = 0.05
samples = 4
[[elements]]
type = "absorber"
od = 2.0
model = "beer-lambert"
[[elements]]
type = "dense"
out = 16
[[elements]]
type = "relu"
[[elements]]
type = "dense"
out = 4
fidelity = "digital"
[readout]
classes = 4
loss = "{loss}"
temperature = 0.5
[train]
optimizer = "{optimizer}"
lr = 0.1
batch = 8
gradient = "{gradient}"
{extra}
"#
    );
    wavetrain::model::Config::from_toml(&text, "gpu-dense-step").expect("valid test config")
}

/// One training step of a dense network on the GPU executor against the CPU executor: same loss,
/// hits and weight gradients (read from the SGD update), same outputs afterwards; optical and
/// exact gradients, both losses, a short last batch, and SLM quantisation with Adam.
fn dense_train_step_matches_cpu(_: &Ctx) -> Result<(), Failed> {
    let cases = [
        ("optical", "mse", "sgd", ""),
        ("exact", "cross-entropy", "sgd", ""),
        (
            "optical",
            "cross-entropy",
            "adam",
            "[hardware]\nslm_bits = 6",
        ),
    ];
    for (gradient, loss, optimizer, extra) in cases {
        let cfg = dense_step_config(gradient, loss, optimizer, extra);
        let net = cfg.resolve()?;
        let state = net.initial_state();
        for valid in [8usize, 5] {
            let input: Vec<f32> = random_real(valid * 36, -1.0, 1.0, 90 + valid as u64);
            let labels: Vec<u8> = (0..valid).map(|i| (i * 3 % 4) as u8).collect();
            let mut c = cpu::CpuDense::<f32>::new(&net, &state)?;
            let want = c.train_step(&input, &labels);
            let mut g = gpu::GpuDense::new(GpuContext::new(&request())?, &net, &state)?;
            let got = g.train_step(&input, &labels)?;
            let what = format!("{gradient}, {loss}, {valid} images {extra}");
            if (got.loss_sum - want.loss_sum).abs() > 1e-4 * want.loss_sum.abs().max(1.0) {
                return Err(
                    format!("{what}: loss {} vs CPU {}", got.loss_sum, want.loss_sum).into(),
                );
            }
            if got.correct != want.correct {
                return Err(format!("{what}: {} hits vs CPU {}", got.correct, want.correct).into());
            }
            let (gs, cs) = (g.state()?, c.state());
            for (i, (a, b)) in gs.params.iter().zip(&cs.params).enumerate() {
                if extra.is_empty() {
                    // SGD: the step is −lr·gradient; compare the gradients themselves.
                    let ga: Vec<f32> = a
                        .iter()
                        .zip(&state.params[i])
                        .map(|(n, o)| (o - n) / 0.1)
                        .collect();
                    let gb: Vec<f32> = b
                        .iter()
                        .zip(&state.params[i])
                        .map(|(n, o)| (o - n) / 0.1)
                        .collect();
                    let gmax = gb.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                    if gmax < 1e-4 {
                        return Err(format!("{what}: layer {i} has no gradient ({gmax})").into());
                    }
                    real_close(
                        &ga,
                        &gb,
                        1e-3,
                        1e-4 * gmax as f64,
                        &format!("{what}: gradient of layer {i}"),
                    );
                } else {
                    real_close(
                        a,
                        b,
                        1e-5,
                        1e-5,
                        &format!("{what}: weights of layer {i} after Adam"),
                    );
                }
            }
            for (i, (a, b)) in gs.m.iter().zip(&cs.m).enumerate() {
                if !extra.is_empty() {
                    let mmax = b.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                    real_close(
                        a,
                        b,
                        1e-3,
                        1e-4 * mmax as f64,
                        &format!("{what}: Adam m of layer {i}"),
                    );
                }
            }
            let p = g.predict(&input)?;
            let q = c.forward(&input).to_vec();
            real_close(
                &p,
                &q,
                1e-4,
                1e-5,
                &format!("{what}: outputs after the update"),
            );
        }
    }
    Ok(())
}

/// The GPU executor refuses hardware options it cannot run, saying what to do.
fn dense_refuses_noise_options(ctx: &Ctx) -> Result<(), Failed> {
    let cfg = dense_step_config("optical", "mse", "sgd", "[hardware]\nsignal_error = 0.05");
    let net = cfg.resolve()?;
    let state = net.initial_state();
    let _ = ctx;
    match gpu::GpuDense::new(GpuContext::new(&request())?, &net, &state) {
        Ok(_) => Err("a dense network with signal_error was accepted by the GPU executor".into()),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("signal_error") && msg.contains("--backend cpu") {
                Ok(())
            } else {
                Err(format!("unclear refusal: {msg}").into())
            }
        }
    }
}

/// `wavetrain train --backend gpu` trains a dense preset end to end (training, evaluation, the
/// decision-boundary picture) and reaches the CPU's accuracy.
fn dense_cli_training_matches_cpu(_: &Ctx) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("wavetrain-gpu-dense-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut acc = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = dir.join(backend);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_wavetrain"))
            .args(["train", "--preset", "paper-2layer", "--set", "task=moons"])
            .args(["--set", "epochs=10", "--backend", backend, "--out"])
            .arg(&out)
            .output()?;
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        if !o.status.success() {
            return Err(format!(
                "{backend}: exit {:?}: {text}{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            )
            .into());
        }
        let a: f64 = text
            .split("test accuracy ")
            .nth(1)
            .and_then(|r| r.split('%').next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{backend}: no accuracy in: {text}"))?;
        if backend == "gpu" && !text.contains("on gpu (") {
            return Err(format!("the run did not use the GPU: {text}").into());
        }
        if !out.join("decision_boundary.png").is_file() {
            return Err(format!("{backend}: no decision_boundary.png").into());
        }
        acc.push(a);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if acc[0] < 90.0 || (acc[0] - acc[1]).abs() > 1.0 {
        return Err(format!("GPU {}% vs CPU {}% after 10 epochs", acc[0], acc[1]).into());
    }
    Ok(())
}

/// GPU timestamps: where the adapter has them, a copy timed on the GPU clock takes a positive,
/// finite time shorter than the wall-clock submit-and-wait around it; without them the context
/// says so and returns `None`.
fn timestamps_time_a_copy(ctx: &Ctx) -> Result<(), Failed> {
    let n = 1 << 20;
    let src = GpuBuffer::from_slice(ctx, "ts.src", &vec![Complex32::new(1.0, 2.0); n])?;
    let dst = GpuBuffer::<Complex32>::new(ctx, "ts.dst", n)?;
    let copy = gpu::CopyField::new(ctx, &src, &dst)?;
    let wall = std::time::Instant::now();
    let t = ctx.time_on_gpu(&|e| copy.encode(e))?;
    let wall = wall.elapsed().as_secs_f64();
    match (ctx.has_timestamps(), t) {
        (true, Some(t)) if t.is_finite() && t > 0.0 && t <= wall => {}
        (false, None) => {}
        (has, t) => return Err(format!("timestamps {has}, GPU time {t:?}, wall {wall} s").into()),
    }
    if dst.read(ctx)?[n - 1] != Complex32::new(1.0, 2.0) {
        return Err("the timed copy did not run".into());
    }
    Ok(())
}

fn request() -> AdapterRequest {
    AdapterRequest {
        name: std::env::var("WAVETRAIN_ADAPTER").ok(),
        allow_software: true,
    }
}

fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        ("fft_16x16", fft_16x16),
        ("fft_64x32", fft_64x32),
        ("fft_32x128", fft_32x128),
        ("fft_1024x1024", fft_1024x1024),
        ("fft_every_size", fft_every_size),
        ("fft_global_memory_path", fft_global_memory_path),
        ("fft_refuses_non_power_of_two", fft_refuses_non_power_of_two),
        ("propagate_16x16", propagate_16x16),
        ("propagate_64x32", propagate_64x32),
        ("propagate_1024x1024", propagate_1024x1024),
        ("propagate_global_memory_path", propagate_global_memory_path),
        (
            "propagate_non_power_of_two_padding_matches_cpu",
            propagate_non_power_of_two_padding_matches_cpu,
        ),
        ("lens2f_64x64", lens2f_64x64),
        ("lens2f_64x32", lens2f_64x32),
        ("modulate_phase_64x32_k1", modulate_phase_64x32_k1),
        ("modulate_phase_16x16_k4", modulate_phase_16x16_k4),
        ("modulate_amplitude_64x32_k2", modulate_amplitude_64x32_k2),
        ("thin_lens_64x64", thin_lens_64x64),
        ("slm_phase_grad_64x32_k2", slm_phase_grad_64x32_k2),
        ("slm_amplitude_grad_16x16_k1", slm_amplitude_grad_16x16_k1),
        ("slm_phase_grad_1024x1024_k8", slm_phase_grad_1024x1024_k8),
        ("absorber_thin", absorber_thin),
        ("absorber_beer_lambert", absorber_beer_lambert),
        ("detect_and_probe_64x32", detect_and_probe_64x32),
        ("matmul_small", matmul_small),
        ("matmul_large", matmul_large),
        ("optimizers", optimizers),
        ("copy_kernel", copy_kernel),
        ("timestamps_time_a_copy", timestamps_time_a_copy),
        ("chain_pump_and_probe", chain_pump_and_probe),
        ("train_step_matches_cpu", train_step_matches_cpu),
        ("dense_train_step_matches_cpu", dense_train_step_matches_cpu),
        ("dense_refuses_noise_options", dense_refuses_noise_options),
        (
            "dense_cli_training_matches_cpu",
            dense_cli_training_matches_cpu,
        ),
        ("adapters_and_limits", adapters_and_limits),
        ("batch_too_large_is_refused", batch_too_large_is_refused),
        (
            "validation_error_is_a_clear_error",
            validation_error_is_a_clear_error,
        ),
        ("device_lost_is_a_clear_error", device_lost_is_a_clear_error),
    ]
}

/// What to do with GPU trials given whether a context could be opened.
#[derive(Debug, PartialEq)]
enum Plan {
    Run,
    Ignore,
    Fail(String),
}

fn plan(ctx: &Result<Ctx, String>, require: bool) -> Plan {
    match (ctx, require) {
        (Ok(_), _) => Plan::Run,
        (Err(_), false) => Plan::Ignore,
        (Err(e), true) => Plan::Fail(format!(
            "WAVETRAIN_REQUIRE_GPU=1 but no GPU adapter could be opened: {e}"
        )),
    }
}

fn main() {
    let args = Arguments::from_args();
    let require = std::env::var("WAVETRAIN_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let req = request();
    let ctx: Result<Ctx, String> = GpuContext::new(&req)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    if let Ok(c) = &ctx {
        eprintln!(
            "GPU tests on '{}' ({})",
            c.adapter().name,
            c.adapter().backend
        );
    }
    let p = plan(&ctx, require);
    let mut trials: Vec<Trial> = tests()
        .into_iter()
        .map(|(name, f)| {
            let ctx = ctx.clone();
            let fail = match &p {
                Plan::Fail(m) => Some(m.clone()),
                _ => None,
            };
            Trial::test(name, move || match (&ctx, fail) {
                (_, Some(m)) => Err(m.into()),
                (Ok(c), None) => f(c),
                (Err(e), None) => Err(format!("no GPU adapter: {e}").into()),
            })
            .with_ignored_flag(p == Plan::Ignore)
        })
        .collect();
    trials.extend(harness_trials());
    libtest_mimic::run(&args, trials).exit();
}

/// Trials of the harness itself; they need no GPU. The subprocess trials re-run this binary on
/// one GPU trial with an adapter name that matches nothing, i.e. a machine without a usable GPU.
fn harness_trials() -> Vec<Trial> {
    vec![
        Trial::test("harness::plan", || {
            assert_eq!(plan(&Err("none".into()), false), Plan::Ignore);
            assert!(
                matches!(plan(&Err("none".into()), true), Plan::Fail(m) if m.contains("WAVETRAIN_REQUIRE_GPU=1") && m.contains("none"))
            );
            Ok(())
        }),
        Trial::test("harness::no_adapter_is_ignored", || {
            let (ok, out) = run_self(false)?;
            assert!(ok, "exit status: failure\n{out}");
            assert!(
                out.contains("fft_16x16 ... ignored") && out.contains("1 ignored"),
                "{out}"
            );
            Ok(())
        }),
        Trial::test("harness::no_adapter_fails_when_required", || {
            let (ok, out) = run_self(true)?;
            assert!(!ok, "exit status: success\n{out}");
            assert!(
                out.contains("fft_16x16 ... FAILED") && out.contains("WAVETRAIN_REQUIRE_GPU=1"),
                "{out}"
            );
            Ok(())
        }),
    ]
}

fn run_self(require: bool) -> Result<(bool, String), Failed> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["fft_16x16", "--exact", "--test-threads", "1"])
        .env("WAVETRAIN_ADAPTER", "no-such-adapter-for-the-harness-test");
    if require {
        cmd.env("WAVETRAIN_REQUIRE_GPU", "1");
    } else {
        cmd.env_remove("WAVETRAIN_REQUIRE_GPU");
    }
    let out = cmd.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}
