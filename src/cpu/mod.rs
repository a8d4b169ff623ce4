//! The CPU reference engine (rustfft + rayon), generic over `f32` and `f64`. One module per
//! shader, same names, same indexing.

pub mod absorber;
mod columns;
pub mod dense;
pub mod detect;
pub mod fft;
pub mod lens;
pub mod matmul;
pub mod modulate;
pub mod network;
pub mod optimizer;
pub mod propagate;
pub mod simd;

/// Columns per strip of the `f32` column pass vectorised across columns on this processor: 16
/// with AVX-512F, 8 with AVX2 and FMA, `None` without either (or with `WAVETRAIN_NO_STRIPS` set).
pub fn strip_lanes() -> Option<usize> {
    columns::lanes()
}

pub use absorber::{absorber_probe, absorber_probe_kept, absorber_pump, absorber_pump_keep};
pub use dense::DenseNetwork;
pub use detect::{detect, detect_probe, Region};
pub use fft::{Direction, Fft2};
pub use lens::Lens2f;
pub use matmul::{matmul_forward, matmul_grad, matmul_transpose};
pub use modulate::{
    amplitude_grad, amplitude_mask, mask_correlation, mask_correlation_into, modulate, phase_grad,
    phase_mask,
};
pub use network::{CpuNetwork, State};
pub use optimizer::{adam_step, sgd_step, AdamConfig};
pub use propagate::{PropScratch, Propagator};
