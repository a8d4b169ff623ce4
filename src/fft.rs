//! What both backends name about Fourier transforms: the direction, and how the axes of a
//! free-space step are transformed ([`AxisFft`], [`FftSizes`]). The CPU's choice among them (its
//! cost model) lives in `cpu`; the GPU takes powers of two ([`power_of_two_len`]). Also a plain
//! f64 2-D transform for host-side precomputation ([`fft2_f64`]).

use num_complex::Complex;

/// Forward (`e^{−2πi·kn/N}`) or inverse (`e^{+2πi·kn/N}`) transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Forward transform.
    Forward,
    /// Inverse transform.
    Inverse,
}

/// Which FFT lengths a free-space step may be computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftSizes {
    /// The padded grid itself (`padded_len`): the textbook method, used as the reference.
    Padded,
    /// Whatever the cost model finds cheapest among the padded grid, the smallest power of two
    /// that holds the same operator and the smallest `2^a·3^b` between them, each whole or in
    /// halves (see `cpu::transform_axes`); the CPU's choice.
    Auto,
    /// Powers of two only (the GPU FFT): the padded grid when it is one, else the smallest power
    /// of two that holds the same operator.
    PowerOfTwo,
    /// These axes exactly (x, then y); for tests and experiments. Each length must be the padded
    /// one or at least `2n − 1`, and an axis in halves needs an even length at least `2n`.
    Exact(AxisFft, AxisFft),
}

/// How one axis of a free-space step is transformed.
///
/// With `halves`, a `len`-point transform whose input is zero past `m = len/2` (the light,
/// `n ≤ m` samples, sits at the start of the line) runs as two `m`-point transforms: the even
/// frequencies are `DFT_m(x)`, the odd ones `DFT_m(x·e^{−2πi·j/len})`; coming back, the first `n`
/// samples are `IDFT_m(even) + e^{+2πi·j/len}·IDFT_m(odd)`. It is the same operator, and it lets
/// a cheap `m` (rustfft's 54-point kernel, say) stand in for a dearer or longer `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisFft {
    /// The transform length (the grid the operator is computed on).
    pub len: usize,
    /// Whether it runs as two half-length transforms.
    pub halves: bool,
}

impl AxisFft {
    /// A whole `len`-point transform.
    pub fn whole(len: usize) -> Self {
        AxisFft { len, halves: false }
    }

    /// A `len`-point transform run as two `len/2`-point ones.
    pub fn halves(len: usize) -> Self {
        AxisFft { len, halves: true }
    }

    /// The length of the transforms actually run.
    pub fn run_len(&self) -> usize {
        if self.halves {
            self.len / 2
        } else {
            self.len
        }
    }

    /// Whether this axis can carry `n` samples of light for the padded length `p`.
    pub(crate) fn holds(&self, n: usize, p: usize) -> bool {
        (self.len == p || self.len + 1 >= 2 * n)
            && (!self.halves || self.len.is_multiple_of(2) && self.len >= 2 * n)
    }
}

/// The power-of-two transform length for `n` samples of light on an axis padded to `padded`:
/// `padded` itself when it is a power of two, else the smallest power of two `≥ 2n − 1`, which
/// holds the same operator ([`crate::optics::transfer_on_grid`]).
pub fn power_of_two_len(n: usize, padded: usize) -> usize {
    if padded.is_power_of_two() {
        padded
    } else {
        (2 * n).saturating_sub(1).max(2).next_power_of_two()
    }
}

/// `data ← scale·DFT(data)` (unnormalised kernel `e^{∓2πi·kn/N}` along each axis) for one
/// row-major `nx × ny` f64 array: the host-side transform of precomputed operators, never a hot
/// loop (the engines have their own).
///
/// # Panics
/// If `data` is not `nx·ny` long.
pub fn fft2_f64(data: &mut [Complex<f64>], nx: usize, ny: usize, dir: Direction, scale: f64) {
    assert_eq!(data.len(), nx * ny, "fft2_f64: data is not nx·ny long");
    let mut planner = rustfft::FftPlanner::<f64>::new();
    let plan = |n: usize, p: &mut rustfft::FftPlanner<f64>| match dir {
        Direction::Forward => p.plan_fft_forward(n),
        Direction::Inverse => p.plan_fft_inverse(n),
    };
    let rows = plan(nx, &mut planner);
    for row in data.chunks_exact_mut(nx) {
        rows.process(row);
    }
    let cols = plan(ny, &mut planner);
    let mut col = vec![Complex::new(0.0, 0.0); ny];
    for x in 0..nx {
        for (y, c) in col.iter_mut().enumerate() {
            *c = data[y * nx + x];
        }
        cols.process(&mut col);
        for (y, c) in col.iter().enumerate() {
            data[y * nx + x] = c * scale;
        }
    }
}
