//! The GPU backend: the field or dense executor of a network on one adapter, behind the
//! [`Backend`] trait.

use super::context::{AdapterRequest, GpuContext};
use super::{GpuDense, GpuField};
use crate::backend::Backend;
use crate::error::Result;
use crate::loss::LossStats;
use crate::network::{Network, State};

/// The GPU backend: one resident executor.
pub enum GpuBackend {
    /// A field on a grid (diffractive network).
    Field(Box<GpuField>),
    /// Dense (matrix–vector) layers.
    Dense(Box<GpuDense>),
}

impl GpuBackend {
    /// Opens the adapter of `req` and builds the executor of `net` on it, from `state`.
    pub fn new(req: &AdapterRequest, net: &Network, state: &State) -> Result<Self> {
        Self::on(GpuContext::new(req)?, net, state)
    }

    /// Builds the executor of `net` on an open context.
    pub fn on(ctx: GpuContext, net: &Network, state: &State) -> Result<Self> {
        net.check_gpu()?;
        let net = &net.executable()?;
        Ok(if net.is_dense() {
            GpuBackend::Dense(Box::new(GpuDense::new(ctx, net, state)?))
        } else {
            GpuBackend::Field(Box::new(GpuField::new(ctx, net, state)?))
        })
    }

    /// The vector–Jacobian product with respect to the parameters ([`GpuField::vjp`]): the
    /// gradient of `Σ upstream·P` over the detector powers `P` of `input`, by the executor's
    /// own pump and probe passes, summed over the images; field networks.
    pub fn vjp(&mut self, input: &[f32], upstream: &[f32]) -> Result<Vec<Vec<f32>>> {
        match self {
            GpuBackend::Field(n) => n.vjp(input, upstream),
            GpuBackend::Dense(_) => Err(crate::Error::config(
                "backend",
                "the GPU's vector–Jacobian product covers field networks; a dense network's runs on the CPU: use backend=\"cpu\"",
            )),
        }
    }

    /// The context the executor runs on.
    pub fn context(&self) -> &GpuContext {
        match self {
            GpuBackend::Field(n) => n.context(),
            GpuBackend::Dense(n) => n.context(),
        }
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        let a = self.context().adapter();
        format!("gpu ({}, {})", a.name, a.backend)
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        match self {
            GpuBackend::Field(n) => n.train_step(input, labels),
            GpuBackend::Dense(n) => n.train_step(input, labels),
        }
    }
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        match self {
            GpuBackend::Field(n) => n.predict(input),
            GpuBackend::Dense(n) => n.predict(input),
        }
    }
    fn state(&mut self) -> Result<State> {
        match self {
            GpuBackend::Field(n) => n.state(),
            GpuBackend::Dense(n) => n.state(),
        }
    }
    fn take_readout_counts(&mut self) -> Result<(u64, f64)> {
        match self {
            GpuBackend::Field(n) => n.take_readout_counts(),
            GpuBackend::Dense(_) => Ok((0, 0.0)),
        }
    }
    fn set_params(&mut self, params: &[Vec<f32>]) -> Result<()> {
        match self {
            GpuBackend::Field(n) => n.set_params(params),
            GpuBackend::Dense(n) => n.set_params(params),
        }
    }
    fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        match self {
            GpuBackend::Field(n) => n.evaluate(input, labels),
            GpuBackend::Dense(n) => n.evaluate(input, labels),
        }
    }
    fn apply_gradient(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        match self {
            GpuBackend::Field(n) => n.apply_gradient(grads),
            GpuBackend::Dense(n) => n.apply_gradient(grads),
        }
    }
    fn skips_faulty_updates(&self) -> bool {
        // The update is recorded in the step's one submission, before the loss is read back.
        false
    }
}
