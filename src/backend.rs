//! Backend selection: `auto` (a hardware GPU if present, else the CPU), `gpu`, `cpu`.

use crate::cpu::State;
use crate::error::Result;
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
///
/// `auto` opens a hardware GPU when one exists and falls back to the CPU (saying why on stderr
/// when a GPU exists but cannot run this network); `gpu` fails with a clear error instead.
pub fn make(
    choice: BackendChoice,
    adapter: Option<&str>,
    cfg: &Config,
    state: &State,
) -> Result<Box<dyn Backend>> {
    if cfg.is_dense() {
        // Dense (matrix–vector) networks run on the CPU executor: their matrices are small
        // enough that the CPU's GEMM is the fast path, and the GPU executor runs field plans.
        return match choice {
            BackendChoice::Gpu => Err(crate::error::Error::Gpu(
                "dense (matrix–vector) networks run on the CPU backend in this version: use --backend cpu or auto".into(),
            )),
            _ => {
                let _ = adapter;
                Ok(Box::new(CpuBackend::new(cfg, state)?))
            }
        };
    }
    match choice {
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::new(cfg, state)?)),
        #[cfg(feature = "gpu")]
        BackendChoice::Gpu => {
            let req = crate::gpu::AdapterRequest {
                name: adapter.map(String::from),
                allow_software: true,
            };
            Ok(Box::new(crate::gpu::gpu_network(&req, cfg, state)?))
        }
        #[cfg(feature = "gpu")]
        BackendChoice::Auto => {
            if adapter.is_none() && crate::gpu::auto_adapter().is_none() {
                return Ok(Box::new(CpuBackend::new(cfg, state)?));
            }
            let req = crate::gpu::AdapterRequest {
                name: adapter.map(String::from),
                allow_software: adapter.is_some(),
            };
            match crate::gpu::gpu_network(&req, cfg, state) {
                Ok(n) => Ok(Box::new(n)),
                Err(e) => {
                    eprintln!("warning: GPU unavailable ({e}); using the CPU");
                    Ok(Box::new(CpuBackend::new(cfg, state)?))
                }
            }
        }
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Gpu => {
            let _ = adapter;
            Err(crate::error::Error::Gpu("this build has no GPU support (feature `gpu` is off): rebuild with default features or use --backend cpu".into()))
        }
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Auto => Ok(Box::new(CpuBackend::new(cfg, state)?)),
    }
}
