//! `gpu::Lens2f` (shaders/lens.wgsl, the 2f Fourier lens) against `cpu::Lens2f`, forward and
//! adjoint.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{self, Field, GpuContext};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

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
pub fn lens2f_64x64(ctx: &Ctx) -> Result<(), Failed> {
    check_lens(ctx, 64, 64, 2, 30)
}
pub fn lens2f_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_lens(ctx, 64, 32, 3, 31)
}
