//! The one interface every compute engine implements: a training step, a prediction and the
//! state, on encoded inputs. The CPU (`cpu::CpuBackend`) and GPU (`gpu::GpuBackend`) backends
//! build themselves from a resolved [`Network`](crate::network::Network); which one runs is
//! chosen in [`run`](crate::run).

use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::Method;
use crate::network::State;

/// What a run records of the external lab it trained against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabInfo {
    /// The lab's name (its own, or its Python class's).
    pub name: String,
    /// Whether it measures gradients in situ (`probe`) as well as readouts (`forward`).
    pub probe: bool,
}

/// A compute engine that runs a network's plan.
pub trait Backend {
    /// Human-readable name, e.g. `"cpu (2 threads)"` or the GPU adapter.
    fn name(&self) -> String;
    /// One training step on encoded inputs `[batch][input_len]` (the network's
    /// [`input_len`](crate::network::Network::input_len) values an example).
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats>;
    /// Readout values `[batch][classes]` (detector powers, or output amplitudes of a dense
    /// network) for encoded inputs.
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>>;
    /// Parameters and optimiser state.
    fn state(&mut self) -> Result<State>;
    /// Whether a step whose loss is not finite leaves the parameters as they were (the CPU
    /// executors), rather than updating them in the same submission (the GPU): fault messages
    /// say which parameters may be suspect.
    fn skips_faulty_updates(&self) -> bool {
        true
    }
    /// The external lab this backend trains against (`train::lab::LabBackend`), or `None` for
    /// a simulation: the trainer records it and evaluates the model beside it.
    fn lab(&self) -> Option<LabInfo> {
        None
    }
    /// Camera frames and photo-electrons the hardware's gradient read-out
    /// (`hardware.readout`) took since the last call; zero where there is none. (A GPU
    /// reads its count of electrons back, which can fail.)
    fn take_readout_counts(&mut self) -> Result<(u64, f64)> {
        Ok((0, 0.0))
    }

    // The other training methods (`train.method`, `train::methods`) drive a backend through
    // these: SPSA through the first three on any backend, DFA and PEPITA through `estimate`.

    /// Sets the parameters (one vector per SLM or layer, the state's shapes), keeping the
    /// optimiser's moments and step.
    fn set_params(&mut self, _params: &[Vec<f32>]) -> Result<()> {
        Err(unsupported(&self.name(), "setting the parameters"))
    }
    /// Forward pass and loss on the system trained, without an update (a pass of SPSA).
    fn evaluate(&mut self, _input: &[f32], _labels: &[u8]) -> Result<LossStats> {
        Err(unsupported(&self.name(), "a forward pass with its loss"))
    }
    /// One optimiser step with the gradients given (the update of another method).
    fn apply_gradient(&mut self, _grads: &[Vec<f32>]) -> Result<()> {
        Err(unsupported(&self.name(), "applying a given gradient"))
    }
    /// The update direction of `method` on one batch without applying it, and the batch
    /// statistics (backpropagation's gradient, DFA's or PEPITA's updates).
    fn estimate(
        &mut self,
        method: Method,
        _input: &[f32],
        _labels: &[u8],
    ) -> Result<(LossStats, Vec<Vec<f32>>)> {
        Err(unsupported(
            &self.name(),
            &format!("train.method = \"{}\"", method.name()),
        ))
    }
}

fn unsupported(backend: &str, what: &str) -> Error {
    Error::config(
        "train.method",
        format!("{backend} does not run {what}: use --backend cpu"),
    )
}
