//! Parameter updates on the GPU, in place (mirrors `src/cpu/optimizer.rs`, runs
//! `shaders/optimizer.wgsl`): SGD and Adam.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, u32_of, Dispatch, Slot};
use super::uniforms::OptimizerParams;
use crate::cpu::AdamConfig;
use crate::error::Result;

/// `p ← p − lr·g` (mirrors [`crate::cpu::sgd_step`]).
pub struct Sgd {
    dispatch: Dispatch,
    uniform: wgpu::Buffer,
    len: u32,
}

impl Sgd {
    /// Plans SGD on `params` with gradients `grads`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn new(
        ctx: &GpuContext,
        params: &GpuBuffer<f32>,
        grads: &GpuBuffer<f32>,
        lr: f64,
    ) -> Result<Self> {
        if params.len() != grads.len() {
            bad_len(params.len(), grads.len());
        }
        let len = u32_of("parameters", params.len())?;
        let uniform = ctx.uniform(
            "wavetrain.sgd.params",
            &OptimizerParams {
                len,
                lr: lr as f32,
                ..Default::default()
            },
        )?;
        let k = ctx.kernel(
            "optimizer",
            "sgd_step",
            &[(0, Slot::Uniform), (1, Slot::ReadWrite), (2, Slot::Read)],
            &[],
        )?;
        let dispatch = Dispatch::new(
            ctx,
            k,
            &[(0, &uniform), (1, params.buffer()), (2, grads.buffer())],
            groups_for(ctx, params.len())?,
        )?;
        Ok(Sgd {
            dispatch,
            uniform,
            len,
        })
    }

    /// Changes the learning rate (from the next submission on).
    pub fn set_lr(&self, ctx: &GpuContext, lr: f64) {
        let p = OptimizerParams {
            len: self.len,
            lr: lr as f32,
            ..Default::default()
        };
        ctx.upload(&self.uniform, 0, &[p]);
    }

    /// Records the update.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "sgd", std::slice::from_ref(&self.dispatch));
    }
}

/// One Adam step (mirrors [`crate::cpu::adam_step`]); the step number and its bias corrections
/// are set with [`Adam::set_step`] before each submission.
pub struct Adam {
    dispatch: Dispatch,
    uniform: wgpu::Buffer,
    len: u32,
    cfg: AdamConfig,
}

impl Adam {
    /// Plans Adam on `params` with gradients `grads` and moment buffers `m`, `v` (zero them
    /// before the first step), at step 1.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn new(
        ctx: &GpuContext,
        params: &GpuBuffer<f32>,
        grads: &GpuBuffer<f32>,
        m: &GpuBuffer<f32>,
        v: &GpuBuffer<f32>,
        cfg: &AdamConfig,
    ) -> Result<Self> {
        let n = params.len();
        if grads.len() != n || m.len() != n || v.len() != n {
            bad_len(n, grads.len().min(m.len()).min(v.len()));
        }
        let len = u32_of("parameters", n)?;
        let uniform = ctx.uniform("wavetrain.adam.params", &Self::params(len, cfg, 1))?;
        let k = ctx.kernel(
            "optimizer",
            "adam_step",
            &[
                (0, Slot::Uniform),
                (1, Slot::ReadWrite),
                (2, Slot::Read),
                (3, Slot::ReadWrite),
                (4, Slot::ReadWrite),
            ],
            &[],
        )?;
        let dispatch = Dispatch::new(
            ctx,
            k,
            &[
                (0, &uniform),
                (1, params.buffer()),
                (2, grads.buffer()),
                (3, m.buffer()),
                (4, v.buffer()),
            ],
            groups_for(ctx, n)?,
        )?;
        Ok(Adam {
            dispatch,
            uniform,
            len,
            cfg: *cfg,
        })
    }

    fn params(len: u32, cfg: &AdamConfig, t: u64) -> OptimizerParams {
        OptimizerParams {
            len,
            lr: cfg.lr as f32,
            beta1: cfg.beta1 as f32,
            beta2: cfg.beta2 as f32,
            eps: cfg.eps as f32,
            // Bias corrections in f64, as the CPU computes them.
            c1: (1.0 / (1.0 - cfg.beta1.powf(t as f64))) as f32,
            c2: (1.0 / (1.0 - cfg.beta2.powf(t as f64))) as f32,
            ..Default::default()
        }
    }

    /// Sets the 1-based step number `t` (and the learning rate of `cfg` at construction) for the
    /// next submission.
    pub fn set_step(&self, ctx: &GpuContext, t: u64) {
        ctx.upload(&self.uniform, 0, &[Self::params(self.len, &self.cfg, t)]);
    }

    /// Changes the hyper-parameters, effective with the next [`Adam::set_step`].
    pub fn set_config(&mut self, cfg: &AdamConfig) {
        self.cfg = *cfg;
    }

    /// Records the update.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "adam", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(a: usize, b: usize) -> ! {
    panic!("optimizer: parameter and gradient/moment buffers differ in length ({a} vs {b})")
}
