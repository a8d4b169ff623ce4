//! The CPU backend (f32): the field or dense executor of a network behind the
//! [`Backend`] trait.

use super::{CpuDense, CpuField};
use crate::backend::Backend;
use crate::error::Result;
use crate::loss::LossStats;
use crate::model::Method;
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
    fn set_params(&mut self, params: &[Vec<f32>]) -> Result<()> {
        let n = match self {
            CpuBackend::Field(n) => n.params.len(),
            CpuBackend::Dense(n) => n.params.len(),
        };
        if params.len() != n {
            return Err(crate::Error::config(
                "params",
                format!("{} parameter vectors for a network of {n}", params.len()),
            ));
        }
        match self {
            CpuBackend::Field(n) => {
                n.params = params.to_vec();
                n.refresh_masks();
            }
            CpuBackend::Dense(n) => {
                n.params = params.to_vec();
                n.refresh_weights();
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        Ok(match self {
            CpuBackend::Field(n) => {
                n.forward(input, None);
                n.loss(labels)
            }
            CpuBackend::Dense(n) => {
                n.forward(input);
                n.loss(labels)
            }
        })
    }
    fn apply_gradient(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        match self {
            CpuBackend::Field(n) => {
                n.grads = grads.to_vec();
                n.update();
                n.reset_passes();
            }
            CpuBackend::Dense(n) => {
                n.grads = grads.to_vec();
                n.update();
            }
        }
        Ok(())
    }
    fn estimate(
        &mut self,
        method: Method,
        input: &[f32],
        labels: &[u8],
    ) -> Result<(LossStats, Vec<Vec<f32>>)> {
        match (self, method) {
            (CpuBackend::Dense(n), Method::Backprop | Method::Dfa | Method::Pepita) => {
                let stats = n.estimate(method, input, labels);
                Ok((stats, n.grads.clone()))
            }
            (CpuBackend::Field(n), Method::Backprop) => {
                n.reset_passes();
                n.forward(input, None);
                let stats = n.loss(labels);
                if stats.loss_sum.is_finite() {
                    n.backward(None);
                }
                Ok((stats, n.grads.clone()))
            }
            (_, m) => Err(crate::Error::config(
                "train.method",
                format!(
                    "\"{}\" has no per-layer rule for this network (SPSA runs on any backend through forward passes; DFA and PEPITA need a dense network)",
                    m.name()
                ),
            )),
        }
    }
}
