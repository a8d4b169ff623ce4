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
    if cfg.is_dense() && choice == BackendChoice::Auto && adapter.is_none() {
        // Dense networks of the papers' size (784-128-128-10: a training step is ~1 ms of GEMM
        // on 2 CPU cores) gain little from a GPU submission and readback per step, and `auto`
        // keeps their hardware-noise options available; `--backend gpu` (or naming an adapter)
        // runs them on the GPU executor. (Only lavapipe was measured: 29 ms a step there.)
        return Ok(Box::new(CpuBackend::new(cfg, state)?));
    }
    if cfg.is_dense() && choice == BackendChoice::Gpu {
        cfg.hardware.check_gpu()?;
    }
    match choice {
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::new(cfg, state)?)),
        #[cfg(feature = "gpu")]
        BackendChoice::Gpu => {
            let req = crate::gpu::AdapterRequest {
                name: adapter.map(String::from),
                allow_software: true,
            };
            if cfg.is_dense() {
                Ok(Box::new(crate::gpu::gpu_dense_network(&req, cfg, state)?))
            } else {
                Ok(Box::new(crate::gpu::gpu_network(&req, cfg, state)?))
            }
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
            let net: Result<Box<dyn Backend>> = if cfg.is_dense() {
                crate::gpu::gpu_dense_network(&req, cfg, state).map(|n| Box::new(n) as _)
            } else {
                crate::gpu::gpu_network(&req, cfg, state).map(|n| Box::new(n) as _)
            };
            match net {
                Ok(n) => Ok(n),
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
