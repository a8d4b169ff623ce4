//! Backend selection: `auto` (a hardware GPU if present, else the CPU), `gpu`, `cpu`.

use crate::cpu::State;
use crate::error::{Error, Result};
use crate::model::Config;
use crate::train::{Backend, CpuBackend};

/// What `--backend` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// A hardware GPU if one exists, else the CPU.
    Auto,
    /// A GPU adapter (software adapters such as lavapipe accepted).
    Gpu,
    /// The CPU engine.
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => Err(format!("unknown backend '{s}': use auto, gpu or cpu")),
        }
    }
}

/// Builds the backend for `cfg` starting from `state`.
pub fn make(
    choice: BackendChoice,
    adapter: Option<&str>,
    cfg: &Config,
    state: &State,
) -> Result<Box<dyn Backend>> {
    let _ = adapter;
    match choice {
        BackendChoice::Cpu | BackendChoice::Auto => Ok(Box::new(CpuBackend::new(cfg, state)?)),
        BackendChoice::Gpu => Err(Error::Gpu(
            "GPU training is not available in this build: use --backend cpu".into(),
        )),
    }
}
