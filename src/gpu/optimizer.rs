//! Parameter updates on the GPU, in place (mirrors `src/cpu/optimizer.rs`, runs
//! `shaders/optimizer.wgsl`): SGD and Adam.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{self, encode_pass, groups_for, read, u32_of, write, Dispatch};
use super::uniforms::OptimizerParams;
use crate::error::Result;
use crate::model::Optimizer;
use crate::network::{AdamConfig, UpdateRule};

/// `p ← p − lr·g` (mirrors [`crate::cpu::sgd_step`]).
pub struct Sgd {
    dispatch: Dispatch,
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
        let dispatch = Dispatch::new(
            ctx,
            "optimizer",
            "sgd_step",
            &[],
            &[
                kernel::uniform(0, &uniform),
                write(1, params.buffer()),
                read(2, grads.buffer()),
            ],
            groups_for(ctx, params.len())?,
        )?;
        Ok(Sgd { dispatch })
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
        let dispatch = Dispatch::new(
            ctx,
            "optimizer",
            "adam_step",
            &[],
            &[
                kernel::uniform(0, &uniform),
                write(1, params.buffer()),
                read(2, grads.buffer()),
                write(3, m.buffer()),
                write(4, v.buffer()),
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

    /// Records the update.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "adam", std::slice::from_ref(&self.dispatch));
    }
}

/// The update of one trainable tensor under a network's [`UpdateRule`], shared by the field and
/// dense executors.
pub enum Update {
    /// Adam.
    Adam(Adam),
    /// Plain SGD.
    Sgd(Sgd),
}

impl Update {
    /// Plans the rule's update of `params` (Adam keeps its moments in `m` and `v`).
    pub fn new(
        ctx: &GpuContext,
        rule: &UpdateRule,
        params: &GpuBuffer<f32>,
        grads: &GpuBuffer<f32>,
        m: &GpuBuffer<f32>,
        v: &GpuBuffer<f32>,
    ) -> Result<Self> {
        Ok(match rule.optimizer {
            Optimizer::Adam => Update::Adam(Adam::new(ctx, params, grads, m, v, &rule.adam)?),
            Optimizer::Sgd => Update::Sgd(Sgd::new(ctx, params, grads, rule.lr)?),
        })
    }

    /// Sets the 1-based step number for the next submission (Adam's bias corrections).
    pub fn set_step(&self, ctx: &GpuContext, t: u64) {
        if let Update::Adam(a) = self {
            a.set_step(ctx, t);
        }
    }

    /// Records the update.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        match self {
            Update::Adam(a) => a.encode(enc),
            Update::Sgd(s) => s.encode(enc),
        }
    }
}

#[cold]
#[inline(never)]
fn bad_len(a: usize, b: usize) -> ! {
    panic!("optimizer: parameter and gradient/moment buffers differ in length ({a} vs {b})")
}
