//! # wavetrain
//!
//! Wave-optics simulation of optical neural networks, trained with end-to-end **optical
//! backpropagation** (Spall, Guo & Lvovsky, Adv. Photon. 7, 016004 (2025); Guo et al., Photonics
//! Research 9, B71 (2021)): a strong **pump** runs forward through spatial light modulators,
//! free space, lenses and saturable absorbers; a weak **probe** carrying the error runs backwards
//! through the same optics and, seeing the pump-saturated absorbers, picks up an approximation of
//! each activation's derivative.
//!
//! ## Conventions
//! - SI units (metres, seconds). Wavelength `λ`, square pixels of pitch `dx`, grid `nx × ny`.
//! - Fields are complex, stored row-major `[batch][y][x]`; `f32` on the GPU, `f32` or `f64` on the
//!   CPU ([`real::Real`]).
//! - Coordinates are centred, `x_m = (m − nx/2)·dx`; spatial frequencies are in **unshifted FFT
//!   order**, `f_k = k/(nx·dx)` for `k < nx/2` and `(k − nx)/(nx·dx)` otherwise.
//! - FFTs are **unitary** (`1/√N` each way): Parseval holds, and the inverse is the adjoint.
//! - Intensity is in units of the absorber's saturation intensity: `s = |E|² = I/I_sat`.
//! - Power at a detector is `Σ|E|²·dx²` over its pixels.
//! - The probe is the time-reversed Wirtinger adjoint `b = conj(∂L/∂u*)`; for every passive element
//!   here the probe sees the transpose `Mᵀ = M` of the forward operator, so the probe pass re-uses
//!   the forward kernels in reverse order. Gradients: phase `∂L/∂φ = −2·Im(b·u)`, amplitude
//!   `∂L/∂w = 2·Re(b·v)`.
//!
//! ## Layers
//! The crate is layered, and a module imports only from layers below it (`ARCHITECTURE.md`
//! holds the map; `tests/layers.rs` enforces it):
//! 1. [`error`], [`real`], [`rng`], [`grid`], [`io`], [`fft`]: errors, scalars, the
//!    counter-based random generator both engines draw noise from, grids, files, transform
//!    types;
//! 2. [`optics`]: f64 physics of each element;
//! 3. [`model`]: the TOML [`model::Config`], its validation and editing;
//! 4. [`network`], [`loss`]: [`model::Config::resolve`] checks a config once and builds a
//!    [`network::Network`] (a field plan or a dense plan); the electronic loss;
//! 5. [`backend`]: the [`backend::Backend`] trait;
//! 6. [`cpu`], `gpu`: the two engines, which never import each other;
//! 7. [`diagnose`]: absorber operating points, fault location and plane fields on the CPU
//!    reference engine;
//! 8. [`train`], [`checkpoint`], [`rundir`], [`provenance`], [`data`], [`plot`], [`presets`]: the trainer and the
//!    records; [`export`] and [`capture`]: masks to SLMs and fabrication, simulated camera
//!    captures;
//! 9. [`run`], [`sweep`], [`bench`](mod@bench), and the `wavetrain` binary.
//!
//! ## Two kinds of network
//! - **Field networks** (diffractive): a complex field on a grid through SLMs, free space, lenses
//!   and absorbers ([`network::FieldPlan`], [`cpu::CpuField`], `gpu::GpuField`). The CPU
//!   executor splits a batch into chunks that each run a whole pass as one task.
//! - **Dense networks**: optical matrix–vector layers on signed real amplitudes with absorbers
//!   between them, the papers' 784-128-128-10 and two-layer networks ([`network::DensePlan`],
//!   [`cpu::CpuDense`], `gpu::GpuDense`; the multiplier's wave optics in
//!   [`optics::Multiplier`]; hardware non-idealities in [`model::Hardware`], the noisy ones
//!   CPU-only).

pub mod backend;
pub mod bench;
pub mod calibrate;
pub mod capture;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod diagnose;
pub mod error;
pub mod export;
pub mod fft;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod grid;
pub mod io;
pub mod launch;
pub mod loss;
pub mod model;
pub mod network;
pub mod optics;
pub mod plot;
pub mod presets;
pub mod provenance;
pub mod real;
pub mod rng;
pub mod run;
pub mod rundir;
pub mod sweep;
pub mod train;

pub use error::{Error, Result};
pub use grid::Grid;
pub use real::Real;
