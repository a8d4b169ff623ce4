//! The floating-point types the CPU engine runs in: `f32` (what the GPU uses) and `f64` (what
//! gradient checks use). Conversions only: the vector kernels that specialise `f32` live in
//! `cpu::simd`.

use num_complex::Complex;

/// A real scalar the CPU engine is generic over: `f32` or `f64`.
pub trait Real:
    rustfft::FftNum
    + num_traits::Float
    + num_traits::FloatConst
    + Default
    + std::iter::Sum
    + std::fmt::Display
    + ndarray::LinalgScalar
    + 'static
{
    /// Converts from `f64`, rounding for `f32`.
    fn of(x: f64) -> Self;
    /// Widens to `f64`.
    fn f64(self) -> f64;
    /// The name used in logs and checkpoints (`"f32"` or `"f64"`).
    const NAME: &'static str;
}

impl Real for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    const NAME: &'static str = "f32";
}

impl Real for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    const NAME: &'static str = "f64";
}

/// Converts a complex `f64` to the engine's precision.
#[inline(always)]
pub fn c_of<T: Real>(z: Complex<f64>) -> Complex<T> {
    Complex::new(T::of(z.re), T::of(z.im))
}
