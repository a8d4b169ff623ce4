//! The floating-point types the CPU engine runs in: `f32` (what the GPU uses) and `f64` (what
//! gradient checks use).

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
    /// `v[i] ← e^{v[i]}` (`f32`: the vectorised [`crate::cpu::simd::exp_f32`]).
    #[inline(always)]
    fn exp_in_place(v: &mut [Self]) {
        for x in v.iter_mut() {
            *x = x.exp();
        }
    }
    /// `cols[j·py + oy + y] = rows[y·px + k0 + j]` for `j < g`, `y < ny`: a group of columns of
    /// `[ny][px]` rows transposed into padded lines (`f32`: 4×4 register blocks).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn gather_columns(
        rows: &[Complex<Self>],
        px: usize,
        ny: usize,
        k0: usize,
        g: usize,
        cols: &mut [Complex<Self>],
        py: usize,
        oy: usize,
    ) {
        crate::cpu::simd::gather_scalar(rows, px, ny, k0, g, cols, py, oy)
    }
    /// The inverse of [`gather_columns`](Real::gather_columns).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn scatter_columns(
        cols: &[Complex<Self>],
        py: usize,
        oy: usize,
        ny: usize,
        rows: &mut [Complex<Self>],
        px: usize,
        k0: usize,
        g: usize,
    ) {
        crate::cpu::simd::scatter_scalar(cols, py, oy, ny, rows, px, k0, g)
    }
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
    #[inline(always)]
    fn exp_in_place(v: &mut [Self]) {
        crate::cpu::simd::exp_f32(v)
    }
    #[inline(always)]
    fn gather_columns(
        rows: &[Complex<Self>],
        px: usize,
        ny: usize,
        k0: usize,
        g: usize,
        cols: &mut [Complex<Self>],
        py: usize,
        oy: usize,
    ) {
        crate::cpu::simd::gather_f32(rows, px, ny, k0, g, cols, py, oy)
    }
    #[inline(always)]
    fn scatter_columns(
        cols: &[Complex<Self>],
        py: usize,
        oy: usize,
        ny: usize,
        rows: &mut [Complex<Self>],
        px: usize,
        k0: usize,
        g: usize,
    ) {
        crate::cpu::simd::scatter_f32(cols, py, oy, ny, rows, px, k0, g)
    }
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

/// A complex sample of a field.
pub type C<T> = Complex<T>;

/// Converts a complex `f64` to the engine's precision.
#[inline(always)]
pub fn c_of<T: Real>(z: Complex<f64>) -> Complex<T> {
    Complex::new(T::of(z.re), T::of(z.im))
}
