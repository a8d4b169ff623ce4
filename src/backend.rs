//! The one interface every compute engine implements: a training step, a prediction and the
//! state, on encoded inputs. The CPU (`cpu::CpuBackend`) and GPU (`gpu::GpuBackend`) backends
//! build themselves from a resolved [`Network`](crate::network::Network); which one runs is
//! chosen in [`run`](crate::run).

use crate::error::Result;
use crate::loss::LossStats;
use crate::network::State;

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
    /// Camera frames and photo-electrons the hardware's gradient read-out
    /// (`hardware.readout`) took since the last call; zero where there is none. (A GPU
    /// reads its count of electrons back, which can fail.)
    fn take_readout_counts(&mut self) -> Result<(u64, f64)> {
        Ok((0, 0.0))
    }
}
