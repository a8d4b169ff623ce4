//! Free-space propagation by the band-limited angular spectrum method (Matsushima & Shimobaba,
//! Opt. Express 17, 19662 (2009)), and the sampling diagnostics that go with it.
//!
//! `H(f) = exp(i·2πz·(√(1/λ² − f²) − 1/λ))` on propagating frequencies (the global carrier
//! `e^{ikz}` is dropped), `exp(−2π|z|·√(f² − 1/λ²))` on evanescent ones. The phase reaches millions
//! of radians, so `H` is computed here in f64 and rounded once by the backends.

use num_complex::Complex;
use serde::Serialize;

use crate::grid::fft_freq;

/// The transfer function on an `nx × ny` (padded) grid of pitch `dx`, row-major `[ky][kx]` in
/// unshifted FFT order, with the band limit applied when `band_limit` is true.
pub fn transfer_function(
    nx: usize,
    ny: usize,
    dx: f64,
    wavelength: f64,
    z: f64,
    band_limit: bool,
) -> Vec<Complex<f64>> {
    let inv_l2 = 1.0 / (wavelength * wavelength);
    let (lim_x, lim_y) = band_limits(nx, ny, dx, wavelength, z);
    let mut h = Vec::with_capacity(nx * ny);
    for ky in 0..ny {
        let fy = fft_freq(ky, ny, dx);
        for kx in 0..nx {
            let fx = fft_freq(kx, nx, dx);
            if band_limit && (fx.abs() > lim_x || fy.abs() > lim_y) {
                h.push(Complex::new(0.0, 0.0));
                continue;
            }
            let f2 = fx * fx + fy * fy;
            if f2 < inv_l2 {
                // √(1/λ² − f²) − 1/λ written without cancellation.
                let kz = -f2 / ((inv_l2 - f2).sqrt() + 1.0 / wavelength);
                let phase = 2.0 * std::f64::consts::PI * z * kz;
                h.push(Complex::from_polar(1.0, phase));
            } else {
                let decay = (-2.0 * std::f64::consts::PI * z.abs() * (f2 - inv_l2).sqrt()).exp();
                h.push(Complex::new(decay, 0.0));
            }
        }
    }
    h
}

/// Band-limit frequencies `(f_x, f_y)` of Matsushima & Shimobaba for a padded grid:
/// `|f| ≤ 1/(λ·√((2·Δf·z)² + 1))` with `Δf = 1/(N·dx)`.
pub fn band_limits(nx: usize, ny: usize, dx: f64, wavelength: f64, z: f64) -> (f64, f64) {
    let lim = |n: usize| {
        let df = 1.0 / (n as f64 * dx);
        1.0 / (wavelength * ((2.0 * df * z).powi(2) + 1.0).sqrt())
    };
    (lim(nx), lim(ny))
}

/// What a propagation step's sampling can and cannot represent.
#[derive(Clone, Debug, Serialize)]
pub struct SamplingReport {
    /// Propagation distance in metres.
    pub distance: f64,
    /// Band-limit cut-off along x and y (cycles/m).
    pub cutoff: (f64, f64),
    /// Nyquist frequency of the grid, `1/(2·dx)` (cycles/m).
    pub nyquist: f64,
    /// Fraction of the padded grid's frequencies the band limit keeps.
    pub kept_fraction: f64,
    /// Fraction of the grid's frequencies that are evanescent (`f > 1/λ`).
    pub evanescent_fraction: f64,
    /// How far (m) the steepest represented ray moves sideways over the distance.
    pub lateral_spread: f64,
    /// The zero-padding margin on each side (m); light spreading further wraps around.
    pub margin: f64,
    /// Light is likely to wrap around the padded window.
    pub wraparound_likely: bool,
    /// The band limit removes most of the spectrum: the grid cannot represent the propagation.
    pub aliasing_likely: bool,
}

impl SamplingReport {
    /// Human-readable warnings; empty when the sampling is sound.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let mm = self.distance * 1e3;
        if self.aliasing_likely {
            w.push(format!(
                "free space {mm:.3} mm: the band limit keeps only {:.0}% of the spectrum (cut-off {:.3} of Nyquist); the grid cannot represent this propagation: shorten the distance, enlarge the padding, or use a finer pitch",
                100.0 * self.kept_fraction,
                self.cutoff.0.min(self.cutoff.1) / self.nyquist
            ));
        }
        if self.wraparound_likely {
            w.push(format!(
                "free space {mm:.3} mm: light can spread {:.3} mm sideways but the padding margin is {:.3} mm: expect wrap-around; increase the padding factor or shorten the distance",
                self.lateral_spread * 1e3,
                self.margin * 1e3
            ));
        }
        w
    }
}

/// Sampling diagnostics for propagating `distance` metres on an `nx × ny` grid of pitch `dx`
/// padded by the factor `pad`.
pub fn sampling_report(
    nx: usize,
    ny: usize,
    dx: f64,
    pad: f64,
    wavelength: f64,
    distance: f64,
) -> SamplingReport {
    let px = crate::grid::padded_len(nx, pad);
    let py = crate::grid::padded_len(ny, pad);
    let (lx, ly) = band_limits(px, py, dx, wavelength, distance);
    let nyquist = 0.5 / dx;
    let inv_l = 1.0 / wavelength;
    let mut kept = 0usize;
    let mut evanescent = 0usize;
    for ky in 0..py {
        let fy = fft_freq(ky, py, dx);
        for kx in 0..px {
            let fx = fft_freq(kx, px, dx);
            if fx.abs() <= lx && fy.abs() <= ly {
                kept += 1;
            }
            if fx * fx + fy * fy > inv_l * inv_l {
                evanescent += 1;
            }
        }
    }
    let total = (px * py) as f64;
    // Steepest ray the sampling keeps: sin θ = λ·f for the largest kept frequency.
    let fmax = nyquist.min(lx.min(ly));
    let sin_t = (wavelength * fmax).min(1.0);
    let lateral_spread = if sin_t >= 1.0 {
        f64::INFINITY
    } else {
        distance.abs() * sin_t / (1.0 - sin_t * sin_t).sqrt()
    };
    let margin = ((px - nx).min(py - ny) as f64 / 2.0) * dx;
    let kept_fraction = kept as f64 / total;
    SamplingReport {
        distance,
        cutoff: (lx, ly),
        nyquist,
        kept_fraction,
        evanescent_fraction: evanescent as f64 / total,
        lateral_spread,
        margin,
        wraparound_likely: lateral_spread > margin,
        aliasing_likely: kept_fraction < 0.5,
    }
}

/// Which FFT lengths a free-space step may be computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftSizes {
    /// The padded grid itself (`padded_len`): the textbook method, used as the reference.
    Padded,
    /// Whatever the cost model finds cheapest among the padded grid, the smallest power of two
    /// that holds the same operator and the smallest `2^a·3^b` between them, each whole or in
    /// halves (see [`transform_axes`]); the CPU's choice.
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

    /// Whether the column pass vectorised across columns (`f32`, AVX-512 or AVX2) can run this axis for
    /// `n` samples of light: a whole power-of-two transform of at least 8 points and `2n`.
    pub fn suits_strips(&self, n: usize) -> bool {
        !self.halves && self.len.is_power_of_two() && self.len >= 8 && 2 * n <= self.len
    }

    /// Whether this axis can carry `n` samples of light for the padded length `p`.
    fn holds(&self, n: usize, p: usize) -> bool {
        (self.len == p || self.len + 1 >= 2 * n)
            && (!self.halves || self.len.is_multiple_of(2) && self.len >= 2 * n)
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
        match crate::cpu::strip_lanes() {
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
/// there ([`transfer_on_grid`]); and an even `l ≥ 2n` can run as two `l/2`-point transforms
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
            FftSizes::PowerOfTwo if p.is_power_of_two() => vec![AxisFft::whole(p)],
            FftSizes::PowerOfTwo => vec![AxisFft::whole(pow2(n))],
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

/// Moves a transfer function `h` of the `px × py` padded grid (row-major `[ky][kx]`, unshifted)
/// to an `lx × ly` grid, so that for any `nx × ny` field `x`
/// `crop(F_l⁻¹(G·F_l(pad_l x))) = crop(F_p⁻¹(H·F_p(pad_p x)))` exactly (unitary-scaled inverse
/// transforms; the field may sit anywhere in either window). Each length must equal the padded
/// one or be at least `2n − 1` ([`transform_size`]). Computed in f64.
///
/// # Panics
/// If `h` is not `px·py` long or a length breaks that rule.
#[allow(clippy::too_many_arguments)]
pub fn transfer_on_grid(
    h: &[Complex<f64>],
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    lx: usize,
    ly: usize,
) -> Vec<Complex<f64>> {
    assert_eq!(h.len(), px * py, "transfer_on_grid: h is not px·py long");
    assert!(
        (lx == px || lx + 1 >= 2 * nx) && (ly == py || ly + 1 >= 2 * ny),
        "transfer_on_grid: {lx}×{ly} cannot hold the {nx}×{ny} kernel of the {px}×{py} grid"
    );
    if (lx, ly) == (px, py) {
        return h.to_vec();
    }
    use crate::cpu::{Direction, Fft2};
    // The kernel g = F_p⁻¹H with the inverse normalised by 1/(px·py): Fft2 is unitary.
    let mut g = h.to_vec();
    Fft2::<f64>::new(px, py).process_scaled(&mut g, Direction::Inverse, 1.0 / (px * py) as f64);
    // The offsets each axis uses: every residue when the length is kept, else |d| ≤ n − 1.
    let offsets = |n: usize, p: usize, l: usize| -> Vec<(usize, usize)> {
        if l == p {
            (0..p).map(|i| (i, i)).collect()
        } else {
            (-(n as i64 - 1)..=(n as i64 - 1))
                .map(|d| {
                    (
                        d.rem_euclid(p as i64) as usize,
                        d.rem_euclid(l as i64) as usize,
                    )
                })
                .collect()
        }
    };
    let mut gl = vec![Complex::new(0.0, 0.0); lx * ly];
    for &(sy, dy) in &offsets(ny, py, ly) {
        for &(sx, dx) in &offsets(nx, px, lx) {
            gl[dy * lx + dx] = g[sy * px + sx];
        }
    }
    Fft2::<f64>::new(lx, ly).process_scaled(&mut gl, Direction::Forward, 1.0);
    gl
}
