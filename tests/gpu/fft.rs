//! `gpu::Fft2` (shaders/fft.wgsl) against `cpu::Fft2`.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::fft::Direction;
use wavetrain::gpu::{self, Field, GpuContext};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

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

pub fn fft_16x16(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 16, 16, 3, 1, BOTH)
}
pub fn fft_64x32(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 64, 32, 2, 2, BOTH)
}
pub fn fft_32x128(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 32, 128, 2, 3, BOTH)
}
pub fn fft_1024x1024(ctx: &Ctx) -> Result<(), Failed> {
    check_fft(ctx, 1024, 1024, 2, 4, BOTH)
}
/// Every power of two from 16 to 4096 on each axis (the other axis small).
pub fn fft_every_size(ctx: &Ctx) -> Result<(), Failed> {
    for k in 4..=12 {
        let n = 1 << k;
        check_fft(ctx, n, 16, 1, 10 + k, &[Direction::Forward])?;
        check_fft(ctx, 16, n, 1, 30 + k, &[Direction::Inverse])?;
    }
    Ok(())
}
/// Lines too long for the (here artificially capped) workgroup memory use the global passes.
pub fn fft_global_memory_path(_: &Ctx) -> Result<(), Failed> {
    let mut ctx = own_ctx()?;
    ctx.limit_fft_shared_memory(4096);
    check_fft(&ctx, 64, 32, 2, 5, BOTH)?;
    check_fft(&ctx, 16, 512, 1, 6, BOTH)?;
    Ok(())
}
pub fn fft_refuses_non_power_of_two(ctx: &Ctx) -> Result<(), Failed> {
    let f = Field::new(ctx, "x", 48, 32, 1)?;
    let e = gpu::Fft2::new(ctx, &f, Direction::Forward)
        .err()
        .ok_or("48×32 accepted")?;
    assert!(e.to_string().contains("use 32 or 64"), "{e}");
    Ok(())
}
