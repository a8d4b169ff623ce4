//! Real matrix products for fully connected optical layers on the GPU (mirrors
//! `src/cpu/matmul.rs`, runs `shaders/matmul.wgsl`): pump `z = W a`, probe `b_a = Wᵀ b_z`,
//! gradient `dW = δ aᵀ` over the batch. `W` is `[out][in]`, activations `[batch][in]`.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{encode_pass, read, u32_of, uniform, write, Dispatch};
use super::uniforms::MatMulParams;
use crate::error::{Error, Result};

/// One bound matrix product (any of the three).
pub struct MatMul {
    dispatch: Dispatch,
}

impl MatMul {
    /// Pump `z[b][i] = Σ_j W[i][j]·a[b][j]` into `z` (`[batch][out]`, overwritten).
    ///
    /// # Panics
    /// If the buffer lengths do not fit an `out_dim × in_dim` layer and one batch.
    pub fn forward(
        ctx: &GpuContext,
        w: &GpuBuffer<f32>,
        a: &GpuBuffer<f32>,
        z: &GpuBuffer<f32>,
        out_dim: usize,
        in_dim: usize,
    ) -> Result<Self> {
        let batch = a.len() / in_dim.max(1);
        check(
            w.len() == out_dim * in_dim && a.len() == batch * in_dim && z.len() == batch * out_dim,
            "forward",
            out_dim,
            in_dim,
        );
        let p = [batch, out_dim, in_dim, in_dim, 1, 1, in_dim];
        Self::build(ctx, "forward", p, a, w, z)
    }

    /// Probe `b_a[b][j] = Σ_i W[i][j]·b_z[b][i]` into `b_a` (`[batch][in]`, overwritten).
    ///
    /// # Panics
    /// If the buffer lengths do not fit an `out_dim × in_dim` layer and one batch.
    pub fn transpose(
        ctx: &GpuContext,
        w: &GpuBuffer<f32>,
        b_z: &GpuBuffer<f32>,
        b_a: &GpuBuffer<f32>,
        out_dim: usize,
        in_dim: usize,
    ) -> Result<Self> {
        let batch = b_z.len() / out_dim.max(1);
        check(
            w.len() == out_dim * in_dim
                && b_z.len() == batch * out_dim
                && b_a.len() == batch * in_dim,
            "transpose",
            out_dim,
            in_dim,
        );
        let p = [batch, in_dim, out_dim, out_dim, 1, in_dim, 1];
        Self::build(ctx, "transpose", p, b_z, w, b_a)
    }

    /// Gradient `dW[i][j] = Σ_b δ[b][i]·a[b][j]` into `dw` (`[out][in]`, overwritten).
    ///
    /// # Panics
    /// If the buffer lengths do not fit an `out_dim × in_dim` layer and one batch.
    pub fn grad(
        ctx: &GpuContext,
        delta: &GpuBuffer<f32>,
        a: &GpuBuffer<f32>,
        dw: &GpuBuffer<f32>,
        out_dim: usize,
        in_dim: usize,
    ) -> Result<Self> {
        let batch = a.len() / in_dim.max(1);
        check(
            dw.len() == out_dim * in_dim
                && a.len() == batch * in_dim
                && delta.len() == batch * out_dim,
            "grad",
            out_dim,
            in_dim,
        );
        let p = [out_dim, in_dim, batch, 1, out_dim, in_dim, 1];
        Self::build(ctx, "grad", p, delta, a, dw)
    }

    /// `[m, n, k, a_row, a_col, b_row, b_col]`: `C[m][n] = Σ_k A(m,k)·B(k,n)`.
    fn build(
        ctx: &GpuContext,
        what: &str,
        d: [usize; 7],
        a: &GpuBuffer<f32>,
        b: &GpuBuffer<f32>,
        c: &GpuBuffer<f32>,
    ) -> Result<Self> {
        let p = MatMulParams {
            m: u32_of("matmul rows", d[0])?,
            n: u32_of("matmul columns", d[1])?,
            k: u32_of("matmul inner size", d[2])?,
            a_row: d[3] as u32,
            a_col: d[4] as u32,
            b_row: d[5] as u32,
            b_col: d[6] as u32,
            ..Default::default()
        };
        let (gx, gy) = (d[1].div_ceil(16) as u64, d[0].div_ceil(16) as u64);
        let max = ctx.limits().max_compute_workgroups_per_dimension as u64;
        if gx > max || gy > max {
            return Err(Error::Gpu(format!(
                "matmul {what}: a {}×{} result needs {gy}×{gx} workgroups, more than the adapter's {max} per dimension: use a smaller batch or layer",
                d[0], d[1]
            )));
        }
        let u = ctx.uniform(&format!("wavetrain.matmul.{what}"), &p)?;
        let dispatch = Dispatch::new(
            ctx,
            "matmul",
            "matmul",
            &[],
            &[
                uniform(0, &u),
                read(1, a.buffer()),
                read(2, b.buffer()),
                write(3, c.buffer()),
            ],
            (gx.max(1) as u32, gy.max(1) as u32, 1),
        )?;
        Ok(MatMul { dispatch })
    }

    /// Records the product.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "matmul", std::slice::from_ref(&self.dispatch));
    }
}

fn check(ok: bool, what: &str, out_dim: usize, in_dim: usize) {
    if !ok || out_dim == 0 || in_dim == 0 {
        bad_sizes(what, out_dim, in_dim);
    }
}

#[cold]
#[inline(never)]
fn bad_sizes(what: &str, out_dim: usize, in_dim: usize) -> ! {
    panic!("MatMul::{what}: buffer lengths do not fit a {out_dim}×{in_dim} layer and a whole batch")
}
