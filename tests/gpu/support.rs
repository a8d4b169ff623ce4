//! Helpers shared by the GPU test modules: the adapter request, one-submission runs, NaN-poisoned
//! buffers and real-valued tolerances.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::gpu::{AdapterRequest, GpuBuffer, GpuContext};

use crate::common::assert_close;

/// A complex NaN: GPU outputs are poisoned with it before each run.
pub const NAN: Complex32 = Complex32::new(f32::NAN, f32::NAN);

/// Wavelength of every optical check (m).
pub const LAMBDA: f64 = 780e-9;

/// The adapter every GPU test opens: `WAVETRAIN_ADAPTER` if set, software adapters allowed.
pub fn request() -> AdapterRequest {
    AdapterRequest {
        name: std::env::var("WAVETRAIN_ADAPTER").ok(),
        allow_software: true,
    }
}

/// A context of its own (not the shared one), e.g. to cap its FFT workgroup memory.
pub fn own_ctx() -> Result<GpuContext, Failed> {
    Ok(GpuContext::new(&request())?)
}

/// `log2(n)`, at least 1: FFT rounding grows with the number of butterfly stages.
pub fn log2(n: usize) -> f64 {
    (n as f64).log2().max(1.0)
}

/// Records `f` into one encoder, submits it and waits.
pub fn run(ctx: &GpuContext, f: impl FnOnce(&mut wgpu::CommandEncoder)) -> Result<(), Failed> {
    let mut enc = ctx.encoder("test");
    f(&mut enc);
    ctx.run(enc)?;
    Ok(())
}

fn cplx(x: &[f32]) -> Vec<Complex32> {
    x.iter().map(|&v| Complex32::new(v, 0.0)).collect()
}

/// [`assert_close`] on real values.
pub fn real_close(got: &[f32], want: &[f32], r: f64, a: f64, what: &str) {
    assert_close(&cplx(got), &cplx(want), r, a, what);
}

/// A buffer of `n` NaNs.
pub fn nan_buf(ctx: &GpuContext, label: &str, n: usize) -> Result<GpuBuffer<f32>, Failed> {
    Ok(GpuBuffer::from_slice(ctx, label, &vec![f32::NAN; n])?)
}
