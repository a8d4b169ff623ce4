//! The CPU reference engine (rustfft + rayon), generic over `f32` and `f64`: the field and dense
//! executors of a [`Network`](crate::network::Network), the backend over them, and one module
//! per shader, same names, same indexing; the FFT planner, its cost model
//! ([`transform_axes_for`]) and the SIMD kernels.

pub mod absorber;
pub mod backend;
mod columns;
pub mod dense;
pub mod detect;
pub mod fft;
pub mod field;
pub mod hardware;
mod lengths;
pub mod lens;
pub mod matmul;
pub mod modulate;
pub mod optimizer;
pub mod propagate;
pub mod simd;

/// Columns per strip of the `f32` column pass vectorised across columns on this processor: 16
/// with AVX-512F, 8 with AVX2 and FMA, `None` without either (or with `WAVETRAIN_NO_STRIPS` set).
pub fn strip_lanes() -> Option<usize> {
    columns::lanes()
}

pub use absorber::{absorber_probe, absorber_probe_kept, absorber_pump, absorber_pump_keep};
pub use backend::CpuBackend;
pub use dense::CpuDense;
pub use detect::{detect, detect_intensity, detect_probe};
pub use fft::Fft2;
pub use field::{CpuField, PlaneFn};
pub use lengths::{
    transform_axes, transform_axes_for, transform_size, transform_size_for, ColumnEngine,
};
pub use lens::Lens2f;
pub use matmul::{matmul_forward, matmul_grad, matmul_transpose};
pub use modulate::{
    amplitude_grad, amplitude_mask, mask_correlation, mask_correlation_into, modulate, phase_grad,
    phase_mask,
};
pub use optimizer::{adam_step, sgd_step};
pub use propagate::{PropScratch, Propagator};
