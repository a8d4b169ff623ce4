//! The CPU's choice of transform lengths for a free-space step: a cost model of rustfft and of
//! the column pass across columns, measured on this project's machine, picking among the
//! [`AxisFft`] candidates that hold the padded operator exactly.

use crate::fft::{power_of_two_len, AxisFft, FftSizes};

impl AxisFft {
    /// Whether the column pass vectorised across columns (`f32`, AVX-512 or AVX2) can run this axis for
    /// `n` samples of light: a whole power-of-two transform of at least 8 points and `2n`.
    pub fn suits_strips(&self, n: usize) -> bool {
        !self.halves && self.len.is_power_of_two() && self.len >= 8 && 2 * n <= self.len
    }
}

/// Relative cost of a length-`n` rustfft transform: `n·log₂n` weighted by how well its factors
/// suit the library. Measured with rustfft 6.4 (AVX, f32) on this project's 2-core Xeon, in units
/// of a power of two's time per `n·log₂n`, 16 lines a call: lengths `2^a·3^b` with `2^a ≥ 8` took
/// 1.2–1.35× (weight 1.3; e.g. 216 points 213–228 ns against 196–211 ns for 256; 96, 144 and 192
/// points 1.28, 1.33 and 1.19), the library's hand-written AVX kernels of
/// other lengths (36 and 54 points) 1.2–1.3× (weight 1.2; 54 points 41–50 ns, 64 points
/// 42–48 ns), other lengths with at least 8 in their power of two 1.1–2.2× (weight 2; 200 points
/// 302 ns), the rest 1.7–5× (weight 4; 50 points 156 ns, 100 points 248 ns, 128 points 96 ns).
fn fft_cost(n: usize) -> f64 {
    let weight = if n.is_power_of_two() {
        1.0
    } else if two_three_smooth(n) {
        1.3
    } else if fast_len(n) {
        1.2
    } else if twos(n) >= 8 {
        2.0
    } else {
        4.0
    };
    weight * n as f64 * (n.max(2) as f64).log2()
}

/// Cost, in the units of [`fft_cost`], of the work a free-space step does per sample besides its
/// transforms: the filter product per spectrum sample, a column transpose (one way) per sample of
/// light, and a twiddle product (axes in halves) per sample of light. Measured on the same Xeon
/// (the filter product of a 50-pixel step on 128² points took 4.5–5.2 µs: 0.3 ns a sample,
/// against 0.107 ns per `n·log₂n` of a power-of-two transform). The twiddle weight is set so that
/// halving pays only where it measured faster: two 54-point halves for 50 samples (35.0 against
/// 36.0 µs a 50-pixel step with 108-point columns whole), not two 128-point ones for 100 samples
/// (175 against 167 µs a 100-pixel step with 256-point columns whole).
const FILTER_COST: f64 = 2.5;
/// Cost of one column of the column pass vectorised across columns ([`ColumnEngine::Strips`]),
/// forward transform, filter and inverse together, per `len·log₂len`, counted over the columns
/// rounded up to whole strips; strips of 16 (AVX-512). Measured in-process on the same Xeon:
/// 20.2 µs a 50-pixel step on 108h × 128 (about 11 µs of it the 112 strip columns of 128 points,
/// about 1.0 per `len·log₂len`) and 100–107 µs a 100-pixel step on 216 × 256 (about 60 µs the 224
/// strip columns of 256 points, about 1.3).
const STRIP_COST: f64 = 1.2;
/// [`STRIP_COST`] for strips of 8 columns (AVX2), measured the same way with the AVX2 kernel on
/// the same Xeon: 22.7 µs a 50-pixel step on 108h × 128 against 20.2 µs with AVX-512 (about 1.25
/// per `len·log₂len` for the columns against 1.0).
const STRIP_COST_8: f64 = 1.5;
const TRANSPOSE_COST: f64 = 2.6;
const TWIDDLE_COST: f64 = 3.0;

/// The largest power of two dividing `n` (1 for `n = 0`).
fn twos(n: usize) -> usize {
    if n == 0 {
        1
    } else {
        1 << n.trailing_zeros()
    }
}

/// Whether rustfft runs length `n` about as fast as a power of two (weight ≤ 1.2 in
/// [`fft_cost`]).
fn fast_len(n: usize) -> bool {
    n.is_power_of_two() || two_three_smooth(n) || matches!(n, 36 | 54)
}

/// Whether `n = 2^a·3^b` with `2^a ≥ 8`: the lengths rustfft runs almost as fast as powers of two.
fn two_three_smooth(n: usize) -> bool {
    let mut m = n / twos(n);
    while m.is_multiple_of(3) && m > 0 {
        m /= 3;
    }
    twos(n) >= 8 && m == 1
}

/// What runs the column transforms of a CPU free-space step, which changes which lengths are
/// cheapest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnEngine {
    /// rustfft, a group of transposed columns at a time (every precision and processor).
    Lines,
    /// The column pass vectorised across columns, in strips of `lanes` columns (16 with
    /// AVX-512F, 8 with AVX2 and FMA), for axes that [suit it](AxisFft::suits_strips) (`f32`);
    /// rustfft for the others.
    Strips {
        /// Columns per strip.
        lanes: usize,
    },
}

impl ColumnEngine {
    /// The engine the CPU propagator uses for precision `T` on this processor.
    pub fn for_precision<T: 'static>() -> Self {
        let f32 = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        match super::strip_lanes() {
            Some(lanes) if f32 => ColumnEngine::Strips { lanes },
            _ => ColumnEngine::Lines,
        }
    }
}

/// FFT lengths `(lx, ly)` for a free-space step of an `nx × ny` field padded to `px × py`: the
/// lengths of [`transform_axes`].
pub fn transform_size(
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    sizes: FftSizes,
) -> (usize, usize) {
    transform_size_for(nx, ny, px, py, sizes, ColumnEngine::Lines)
}

/// [`transform_size`] for a column engine ([`transform_axes_for`]).
pub fn transform_size_for(
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    sizes: FftSizes,
    columns: ColumnEngine,
) -> (usize, usize) {
    let (x, y) = transform_axes_for(nx, ny, px, py, sizes, columns);
    (x.len, y.len)
}

/// How each axis of a free-space step of an `nx × ny` field padded to `px × py` is transformed.
///
/// The padded-grid operator `crop·F⁻¹·H·F·pad` is a convolution of the field with the kernel
/// `g = F⁻¹H`, and only the offsets `|d| ≤ n − 1` of that kernel ever meet the field. Any length
/// `l ≥ 2n − 1` holds those offsets without overlap, so the same operator — exactly, wrap-around
/// of a small padding included — can be computed on an `l`-point grid with the kernel moved
/// there ([`transfer_on_grid`](crate::optics::transfer_on_grid)); and an even `l ≥ 2n` can run as two `l/2`-point transforms
/// ([`AxisFft`]). With [`FftSizes::Auto`] the candidates per axis are the padded length, the
/// smallest power of two `≥ 2n − 1` and the smallest `2^a·3^b` (`2^a ≥ 8`) between the two, each
/// whole and, where its half is a length rustfft runs fast (`fast_len`), in halves, and twice the
/// smallest fast length `≥ n` in halves (108 as two 54-point transforms for `n = 50`); the
/// cost model counts the pruned step's row and column transforms (`fft_cost`), its filter
/// product, transposes and twiddles, and the cheapest pair wins. [`FftSizes::PowerOfTwo`] keeps
/// the padded length only when it is a power of two, and never halves.
///
/// # Panics
/// With [`FftSizes::Exact`] axes that cannot hold the field (see there).
pub fn transform_axes(
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    sizes: FftSizes,
) -> (AxisFft, AxisFft) {
    transform_axes_for(nx, ny, px, py, sizes, ColumnEngine::Lines)
}

/// [`transform_axes`] for a column engine: with [`ColumnEngine::Strips`] an axis that suits the
/// column pass across columns costs that pass (`STRIP_COST`), with no filter or transposes apart.
pub fn transform_axes_for(
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    sizes: FftSizes,
    columns: ColumnEngine,
) -> (AxisFft, AxisFft) {
    let pow2 = |n: usize| (2 * n).saturating_sub(1).max(2).next_power_of_two();
    // The smallest 2^a·3^b (2^a ≥ 8) that holds the kernel, when below the power of two.
    let smooth =
        |n: usize| ((2 * n).saturating_sub(1).max(2)..pow2(n)).find(|&l| two_three_smooth(l));
    // The smallest cheap half length m ≥ n of each kind.
    let halves = |n: usize| (n.max(1)..).find(|&m| fast_len(m));
    let cands = |n: usize, p: usize| -> Vec<AxisFft> {
        match sizes {
            FftSizes::Padded => vec![AxisFft::whole(p)],
            FftSizes::Auto => {
                let mut lens = vec![p, pow2(n)];
                lens.extend(smooth(n));
                let mut c: Vec<AxisFft> = lens.iter().map(|&l| AxisFft::whole(l)).collect();
                // Halves only where the half length is one rustfft runs fast.
                let ms = lens.iter().map(|&l| l / 2).chain(halves(n));
                c.extend(ms.filter(|&m| fast_len(m)).map(|m| AxisFft::halves(2 * m)));
                c.retain(|a| a.holds(n, p));
                c.sort_unstable_by_key(|a| (a.len, a.halves));
                c.dedup();
                c
            }
            FftSizes::PowerOfTwo => vec![AxisFft::whole(power_of_two_len(n, p))],
            FftSizes::Exact(..) => unreachable!("exact axes are not searched"),
        }
    };
    if let FftSizes::Exact(x, y) = sizes {
        assert!(
            x.holds(nx, px) && y.holds(ny, py),
            "transform_axes: {x:?} × {y:?} cannot hold the {nx}×{ny} field of the {px}×{py} grid"
        );
        return (x, y);
    }
    // One line of an axis: its transform(s) and, in halves, the twiddles of its light.
    let line = |a: AxisFft, n: usize| {
        if a.halves {
            2.0 * fft_cost(a.len / 2) + TWIDDLE_COST * n as f64
        } else {
            fft_cost(a.len)
        }
    };
    // The pruned step: `ny` row lines of x forward and back, `lx` column lines of y forward and
    // back, the filter on `lx × ly` points, and `lx` columns of `ny` samples transposed each way.
    let cost = |x: AxisFft, y: AxisFft| {
        let (lx, ly) = (x.len as f64, y.len as f64);
        if let (ColumnEngine::Strips { lanes }, true) = (columns, y.suits_strips(ny)) {
            let weight = if lanes >= 16 {
                STRIP_COST
            } else {
                STRIP_COST_8
            };
            let cols = x.len.div_ceil(lanes.max(1)) * lanes.max(1);
            return 2.0 * ny as f64 * line(x, nx) + weight * cols as f64 * ly * ly.log2();
        }
        2.0 * ny as f64 * line(x, nx)
            + 2.0 * lx * line(y, ny)
            + FILTER_COST * lx * ly
            + 2.0 * TRANSPOSE_COST * lx * ny as f64
    };
    let mut best = (AxisFft::whole(px), AxisFft::whole(py), f64::INFINITY);
    for &x in &cands(nx, px) {
        for &y in &cands(ny, py) {
            let c = cost(x, y);
            if c < best.2 {
                best = (x, y, c);
            }
        }
    }
    (best.0, best.1)
}
