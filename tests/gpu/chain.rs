//! Several kernels in one submission: a whole pump pass and probe pass through SLM, free space,
//! absorber and detector, against the same chain on the CPU.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{
    self, AbsorberProbe, AbsorberPump, BuildMask, Detect, DetectProbe, Field, GpuBuffer, MaskKind,
    Modulate, Regions, SlmGrad,
};
use wavetrain::model::Region;
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

use crate::common::*;
use crate::support::*;
use crate::Ctx;

/// SLM → free space → absorber → free space → detector: the pump pass, then the probe pass back
/// to the SLM and its phase gradient, recorded as ONE submission; equal to the CPU engine.
pub fn chain_pump_and_probe(ctx: &Ctx) -> Result<(), Failed> {
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
