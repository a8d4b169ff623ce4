//! The GPU engine (wgpu/WGSL): the only module that touches wgpu.
//!
//! Fields live on the GPU as batched complex `f32` (`array<vec2<f32>>`, row-major
//! `[batch][ny][nx]`, exactly like the CPU engine). Each op mirrors a CPU function of
//! [`crate::cpu`] and runs the shader of the same name. An op is built once, bound to its
//! buffers, with its pipelines (compiled once per context), bind groups and uniform buffers;
//! afterwards it only records dispatches with `encode(&self, &mut wgpu::CommandEncoder)`, so a
//! whole training step (pump pass, probe pass, update) can be one command submission.
//! [`GpuContext::read`] is the one readback path, [`GpuContext::upload`] the upload path.
//!
//! Numerics: WGSL has no f64 and its `sin`/`cos` are only accurate near `[−π, π]`, so transfer
//! functions and FFT twiddles are computed on the host in f64 and uploaded once as f32, and
//! phases are reduced to `[−π, π]` before trigonometry.
//!
//! Sizes: FFT sides must be powers of two (free space whose padded side is not one runs its exact
//! operator on power-of-two transforms, [`TransferFunction`]); a batch that does not
//! fit the adapter's `max_storage_buffer_binding_size` is refused up front with the largest batch
//! that does ([`GpuContext::max_batch`], [`TransferFunction::max_batch`]). Device errors
//! (validation, out of memory, device lost) become [`crate::Error::Gpu`], never panics.

pub mod absorber;
pub mod backend;
pub mod buffer;
pub mod context;
pub mod copy;
pub mod dense;
pub mod detect;
pub mod fft;
pub mod field;
pub mod hardware;
pub(crate) mod kernel;
pub mod lens;
pub mod matmul;
pub mod modulate;
pub mod optimizer;
pub mod propagate;
pub mod readout;
mod resident;
pub mod rng;
pub mod shaders;
pub mod traffic;
pub mod uniforms;

pub use absorber::{AbsorberProbe, AbsorberPump};
pub use backend::GpuBackend;
pub use buffer::{Field, GpuBuffer};
pub use context::{
    auto_adapter, list_adapters, AdapterRequest, AdapterSummary, GpuContext, LimitsSummary,
};
pub use copy::CopyField;
pub use dense::GpuDense;
pub use detect::{Detect, DetectNoise, DetectProbe, Regions};
pub use fft::{check_fft_len, Fft2, MAX_FFT_LEN};
pub use field::GpuField;
pub use hardware::{shift_spectrum, SlmDevice, SlmDeviceGrad};
pub use lens::Lens2f;
pub use matmul::MatMul;
pub use modulate::{BuildMask, MaskKind, Modulate, SlmGrad};
pub use optimizer::{Adam, Sgd, Update};
pub use propagate::{Propagate, PropagateScratch, TransferFunction};
pub use readout::{ProbeScale, Readout, ReadoutBuffers, ReadoutOut};
pub use rng::RngDraw;
pub use traffic::Traffic;
/// The wgpu version this engine is built on (for `wgpu::CommandEncoder` and friends).
pub use wgpu;
