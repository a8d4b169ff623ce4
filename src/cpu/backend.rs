//! The CPU backend (f32): the field or dense executor of a network behind the
//! [`Backend`] trait.

use super::{CpuDense, CpuField};
use crate::backend::Backend;
use crate::error::Result;
use crate::loss::LossStats;
use crate::network::{Network, State};

/// The CPU backend: one executor, in `f32`.
pub enum CpuBackend {
    /// A field on a grid (diffractive network).
    Field(Box<CpuField<f32>>),
    /// Dense (matrix–vector) layers.
    Dense(Box<CpuDense<f32>>),
}

impl CpuBackend {
    /// The backend of `net` starting from `state`.
    pub fn new(net: &Network, state: &State) -> Result<Self> {
        Ok(if net.is_dense() {
            CpuBackend::Dense(Box::new(CpuDense::new(net, state)?))
        } else {
            CpuBackend::Field(Box::new(CpuField::new(net, state)?))
        })
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        Ok(match self {
            CpuBackend::Field(n) => n.train_step(input, labels),
            CpuBackend::Dense(n) => n.train_step(input, labels),
        })
    }
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        Ok(match self {
            CpuBackend::Field(n) => n.forward(input, None).to_vec(),
            CpuBackend::Dense(n) => n.forward(input).to_vec(),
        })
    }
    fn state(&mut self) -> Result<State> {
        Ok(match self {
            CpuBackend::Field(n) => n.state(),
            CpuBackend::Dense(n) => n.state(),
        })
    }
    fn take_readout_counts(&mut self) -> Result<(u64, f64)> {
        Ok(match self {
            CpuBackend::Field(n) => n.take_readout_counts(),
            CpuBackend::Dense(_) => (0, 0.0),
        })
    }
}
