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
//! ## Two kinds of network
//! - **Field networks** (diffractive): a complex field on a grid through SLMs, free space, lenses
//!   and absorbers ([`plan::Plan`], [`cpu::CpuNetwork`], the GPU executor in `gpu`). The CPU
//!   executor splits a batch into chunks that each run a whole pass as one task.
//! - **Dense networks**: optical matrix–vector layers on signed real amplitudes with absorbers
//!   between them, the papers' 784-128-128-10 and two-layer networks ([`cpu::DenseNetwork`], and
//!   on the GPU `gpu::GpuDenseNetwork`; the multiplier's wave optics in [`optics::Multiplier`];
//!   hardware non-idealities in [`model::Hardware`], the noisy ones CPU-only).
//!
//! [`train`] runs either on a backend; [`sweep`] trains a grid of configs; [`bench`](mod@bench) times the
//! engine against the machine's measured ceilings.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod error;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod grid;
pub mod io;
pub mod loss;
pub mod model;
pub mod optics;
pub mod plan;
pub mod plot;
pub mod presets;
pub mod real;
pub mod sweep;
pub mod train;

pub use error::{Error, Result};
pub use grid::Grid;
pub use real::Real;
