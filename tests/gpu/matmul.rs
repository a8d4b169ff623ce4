//! `MatMul` (shaders/matmul.wgsl): forward, transpose and weight-gradient products against
//! `cpu::matmul_forward`, `cpu::matmul_transpose` and `cpu::matmul_grad`.

use libtest_mimic::Failed;
use wavetrain::cpu;
use wavetrain::gpu::{GpuBuffer, GpuContext, MatMul};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

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
pub fn matmul_small(ctx: &Ctx) -> Result<(), Failed> {
    check_matmul(ctx, 10, 37, 5, 80)
}
pub fn matmul_large(ctx: &Ctx) -> Result<(), Failed> {
    check_matmul(ctx, 100, 784, 33, 81)
}
