//! Element-wise complex products for the free-space filter, the twiddles of axes run in halves,
//! the SLM modulation and correlation, with AVX-512 and AVX2/FMA paths for `f32` chosen at run
//! time (`fmaddsub`: four or eight products in about seven instructions, against about fourteen
//! for four in the compiler's own vectorisation of the interleaved layout); the column
//! transposes of the per-image free-space step, which move 4×4 blocks of `Complex<f32>` through
//! AVX registers straight into the padded FFT lines and back; and a vectorised `f32` exponential
//! for the saturable absorbers.

use multiversion::multiversion;
use num_complex::Complex;

use crate::real::Real;

/// `v[i] ← v[i]·h[i]` (or `v[i]·conj(h[i])`) for `i < min(len)`: the widest vector kernel the
/// processor has for `f32` (`products`), the rest (and `f64`) by `mul_scalar`.
#[inline]
pub fn mul_elementwise<T: Real>(v: &mut [Complex<T>], h: &[Complex<T>], conj: bool) {
    let n = v.len().min(h.len());
    let done = vector_products(&mut v[..n], None, &h[..n], false, conj);
    mul_scalar(&mut v[done..n], &h[done..n], conj);
}

/// The portable loop (every precision; the reference for the vector paths).
#[inline(always)]
pub(crate) fn mul_scalar<T: Real>(v: &mut [Complex<T>], h: &[Complex<T>], conj: bool) {
    if conj {
        for (a, b) in v.iter_mut().zip(h) {
            *a = *a * b.conj();
        }
    } else {
        for (a, b) in v.iter_mut().zip(h) {
            *a = *a * b;
        }
    }
}

/// The AVX2 loop of the complex products: for `q < quads`,
/// `out[q] = acc[q] + a[q]·b[q]` (`acc` absent: `a[q]·b[q]`), four samples (8 floats) a step,
/// `conj` conjugating `b`.
///
/// # Safety
/// `out`, `a`, `b` (and `acc`) must point to `8·quads` floats each; `out` may equal `a` or
/// `acc` but must not otherwise overlap them; the processor must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn products_avx2(
    out: *mut f32,
    a: *const f32,
    b: *const f32,
    acc: Option<*const f32>,
    quads: usize,
    conj: bool,
) {
    use std::arch::x86_64::*;
    let sign = _mm256_set1_ps(if conj { -1.0 } else { 1.0 });
    for q in 0..quads {
        // SAFETY: `q < quads`, so the eight floats at `8q` lie inside every buffer (a
        // `Complex<f32>` is two `f32`s, `#[repr(C)]`); unaligned loads and stores.
        unsafe {
            let x = _mm256_loadu_ps(a.add(8 * q));
            let y = _mm256_loadu_ps(b.add(8 * q));
            let yr = _mm256_moveldup_ps(y);
            let yi = _mm256_mul_ps(_mm256_movehdup_ps(y), sign);
            let swapped = _mm256_permute_ps::<0b1011_0001>(x);
            let mut r = _mm256_fmaddsub_ps(x, yr, _mm256_mul_ps(swapped, yi));
            if let Some(c) = acc {
                r = _mm256_add_ps(r, _mm256_loadu_ps(c.add(8 * q)));
            }
            _mm256_storeu_ps(out.add(8 * q), r);
        }
    }
}

/// The complex products of [`products_avx2`] over the first `n/4·4` of `n` samples with the
/// widest kernel the processor has (AVX-512F, else AVX2 and FMA); returns how many samples it
/// did (0 when it has neither, leaving them all to the caller).
///
/// # Safety
/// As [`products_avx2`] for `n` samples.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn products(
    out: *mut f32,
    a: *const f32,
    b: *const f32,
    acc: Option<*const f32>,
    n: usize,
    conj: bool,
) -> usize {
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the caller's promise, and the feature was detected just above.
        unsafe { products_avx512(out, a, b, acc, n / 4 * 4, conj) };
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: as above.
        unsafe { products_avx2(out, a, b, acc, n / 4, conj) };
    } else {
        return 0;
    }
    n / 4 * 4
}

/// The AVX-512 twin of [`products_avx2`]: eight samples (16 floats) a step, the rest left to it.
///
/// # Safety
/// As [`products_avx2`] for `n` samples; the processor must support AVX-512F as well.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn products_avx512(
    out: *mut f32,
    a: *const f32,
    b: *const f32,
    acc: Option<*const f32>,
    n: usize,
    conj: bool,
) {
    use std::arch::x86_64::*;
    let sign = _mm512_set1_ps(if conj { -1.0 } else { 1.0 });
    let octs = n / 8;
    for q in 0..octs {
        // SAFETY: `q < n/8`, so the 16 floats at `16q` lie inside every buffer.
        unsafe {
            let x = _mm512_loadu_ps(a.add(16 * q));
            let y = _mm512_loadu_ps(b.add(16 * q));
            let yr = _mm512_moveldup_ps(y);
            let yi = _mm512_mul_ps(_mm512_movehdup_ps(y), sign);
            let swapped = _mm512_permute_ps::<0b1011_0001>(x);
            let mut r = _mm512_fmaddsub_ps(x, yr, _mm512_mul_ps(swapped, yi));
            if let Some(c) = acc {
                r = _mm512_add_ps(r, _mm512_loadu_ps(c.add(16 * q)));
            }
            _mm512_storeu_ps(out.add(16 * q), r);
        }
    }
    let d = 16 * octs;
    // SAFETY: the remaining `n − 8·octs` samples lie inside every buffer.
    unsafe {
        products_avx2(
            out.add(d),
            a.add(d),
            b.add(d),
            acc.map(|c| c.add(d)),
            (n - 8 * octs) / 4,
            conj,
        )
    };
}

/// `dst[i] = a[i]·t[i]` for `i < dst.len()` (the twiddles of an axis in halves).
///
/// # Panics
/// If `a` or `t` is shorter than `dst`.
#[inline]
pub(crate) fn mul_to<T: Real>(dst: &mut [Complex<T>], a: &[Complex<T>], t: &[Complex<T>]) {
    let n = dst.len();
    let (a, t) = (&a[..n], &t[..n]);
    let done = vector_products(dst, Some(a), t, false, false);
    for ((d, a), t) in dst[done..].iter_mut().zip(&a[done..]).zip(&t[done..]) {
        *d = *a * *t;
    }
}

/// `acc[i] += b[i]·t[i]` (`conj`: `b[i]·conj(t[i])`) for `i < acc.len()`: joining the halves of
/// an axis, and the SLM correlations.
///
/// # Panics
/// If `b` or `t` is shorter than `acc`.
#[inline]
pub(crate) fn mul_add<T: Real>(
    acc: &mut [Complex<T>],
    b: &[Complex<T>],
    t: &[Complex<T>],
    conj: bool,
) {
    let n = acc.len();
    let (b, t) = (&b[..n], &t[..n]);
    let done = vector_products(acc, Some(b), t, true, conj);
    for ((c, b), t) in acc[done..].iter_mut().zip(&b[done..]).zip(&t[done..]) {
        *c = *c + *b * if conj { t.conj() } else { *t };
    }
}

/// `out[i] = (accumulate ? out[i] : 0) + a[i]·t[i]` (`t` conjugated with `conj`; `a` absent:
/// `out` itself, in place) by [`products`] when `T` is `f32`; returns how many leading samples it
/// did (0 for `f64`).
#[inline]
fn vector_products<T: Real>(
    out: &mut [Complex<T>],
    a: Option<&[Complex<T>]>,
    t: &[Complex<T>],
    accumulate: bool,
    conj: bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let (Some(o), Some(t)) = (as_f32_mut(out), as_f32(t)) {
        let op = o.as_mut_ptr() as *mut f32;
        let (ap, n) = match a.and_then(as_f32) {
            Some(a) => (a.as_ptr() as *const f32, o.len().min(a.len())),
            None => (op as *const f32, o.len()),
        };
        let n = n.min(t.len());
        let acc = accumulate.then_some(op as *const f32);
        // SAFETY: the buffers hold `n` samples and `out` is exclusive; it is read only as the
        // accumulator or as the in-place input, each step loading before it stores.
        return unsafe { products(op, ap, t.as_ptr() as _, acc, n, conj) };
    }
    0
}

/// The slice as `Complex<f32>` when `T` is `f32`.
fn as_f32<T: Real>(v: &[Complex<T>]) -> Option<&[Complex<f32>]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: `T` is `f32`, so the types are the same.
        .then(|| unsafe { std::slice::from_raw_parts(v.as_ptr() as *const Complex<f32>, v.len()) })
}

/// [`as_f32`] for a mutable slice.
pub(crate) fn as_f32_mut<T: Real>(v: &mut [Complex<T>]) -> Option<&mut [Complex<f32>]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`, so the types are the same; the borrow is carried over.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut Complex<f32>, v.len()) }
    })
}

/// The real slice as `f32` when `T` is `f32`.
fn as_f32_reals_mut<T: Real>(v: &mut [T]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`, so the types are the same; the borrow is carried over.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut f32, v.len()) }
    })
}

/// `v[i] ← e^{v[i]}`: the vectorised [`exp_f32`] for `f32`, the standard library's `exp`
/// otherwise.
#[inline]
pub(crate) fn exp_in_place<T: Real>(v: &mut [T]) {
    if let Some(f) = as_f32_reals_mut(v) {
        return exp_f32(f);
    }
    for x in v.iter_mut() {
        *x = x.exp();
    }
}

/// `cols[j·py + oy + y] = rows[y·px + k0 + j]` for `j < g`, `y < ny`: a group of columns of
/// `[ny][px]` rows transposed into padded lines; [`gather_f32`] (4×4 register blocks) for `f32`,
/// [`gather_scalar`] otherwise.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn gather_columns<T: Real>(
    rows: &[Complex<T>],
    px: usize,
    ny: usize,
    k0: usize,
    g: usize,
    cols: &mut [Complex<T>],
    py: usize,
    oy: usize,
) {
    match (as_f32(rows), as_f32_mut(cols)) {
        (Some(r), Some(c)) => gather_f32(r, px, ny, k0, g, c, py, oy),
        _ => gather_scalar(rows, px, ny, k0, g, cols, py, oy),
    }
}

/// The inverse of [`gather_columns`].
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn scatter_columns<T: Real>(
    cols: &[Complex<T>],
    py: usize,
    oy: usize,
    ny: usize,
    rows: &mut [Complex<T>],
    px: usize,
    k0: usize,
    g: usize,
) {
    match (as_f32(cols), as_f32_mut(rows)) {
        (Some(c), Some(r)) => scatter_f32(c, py, oy, ny, r, px, k0, g),
        _ => scatter_scalar(cols, py, oy, ny, rows, px, k0, g),
    }
}

/// `cols[j·py + oy + y] = rows[y·px + k0 + j]` for `j < g`, `y < ny`: columns `k0..k0 + g` of
/// the `[ny][px]` rows, transposed into `g` lines of `py` samples at offset `oy` (the rest of each
/// line is left as it is). The portable loop.
///
/// # Panics
/// If a slice is too short for the indices above.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn gather_scalar<T: Copy>(
    rows: &[Complex<T>],
    px: usize,
    ny: usize,
    k0: usize,
    g: usize,
    cols: &mut [Complex<T>],
    py: usize,
    oy: usize,
) {
    for j in 0..g {
        let line = &mut cols[j * py + oy..j * py + oy + ny];
        for (y, v) in line.iter_mut().enumerate() {
            *v = rows[y * px + k0 + j];
        }
    }
}

/// The inverse of [`gather_scalar`]: `rows[y·px + k0 + j] = cols[j·py + oy + y]`.
///
/// # Panics
/// If a slice is too short for those indices.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn scatter_scalar<T: Copy>(
    cols: &[Complex<T>],
    py: usize,
    oy: usize,
    ny: usize,
    rows: &mut [Complex<T>],
    px: usize,
    k0: usize,
    g: usize,
) {
    for j in 0..g {
        let line = &cols[j * py + oy..j * py + oy + ny];
        for (y, &v) in line.iter().enumerate() {
            rows[y * px + k0 + j] = v;
        }
    }
}

/// [`gather_scalar`] for `f32`: 4×4 blocks of samples transposed in AVX registers when the
/// processor has AVX and `g = 8`, else the portable loop.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn gather_f32(
    rows: &[Complex<f32>],
    px: usize,
    ny: usize,
    k0: usize,
    g: usize,
    cols: &mut [Complex<f32>],
    py: usize,
    oy: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if avx_block_fits(rows.len(), px, ny, k0, g, cols.len(), py, oy) {
        // SAFETY: `avx_block_fits` detected AVX and checked every bound `transpose_avx` relies on.
        unsafe {
            transpose_avx(
                rows.as_ptr().add(k0),
                px,
                1,
                cols.as_mut_ptr().add(oy),
                1,
                py,
                ny,
            )
        };
        return;
    }
    gather_scalar(rows, px, ny, k0, g, cols, py, oy)
}

/// [`scatter_scalar`] for `f32`, AVX as [`gather_f32`].
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn scatter_f32(
    cols: &[Complex<f32>],
    py: usize,
    oy: usize,
    ny: usize,
    rows: &mut [Complex<f32>],
    px: usize,
    k0: usize,
    g: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if avx_block_fits(rows.len(), px, ny, k0, g, cols.len(), py, oy) {
        // SAFETY: as in `gather_f32` (the same block, the other way round).
        unsafe {
            transpose_avx(
                cols.as_ptr().add(oy),
                1,
                py,
                rows.as_mut_ptr().add(k0),
                px,
                1,
                ny,
            )
        };
        return;
    }
    scatter_scalar(cols, py, oy, ny, rows, px, k0, g)
}

/// Whether the register-transpose path may move the `ny × g` block between `[ny][px]` rows (of
/// `rows_len` samples) and `g` lines of `py` samples at offset `oy` (of `cols_len` samples):
/// AVX is present, the group is a full 8 columns, and every index lies inside both slices.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[inline]
fn avx_block_fits(
    rows_len: usize,
    px: usize,
    ny: usize,
    k0: usize,
    g: usize,
    cols_len: usize,
    py: usize,
    oy: usize,
) -> bool {
    g == 8
        && k0 + 8 <= px
        && rows_len >= ny * px
        && oy + ny <= py
        && cols_len >= 8 * py
        && std::arch::is_x86_feature_detected!("avx")
}

/// Copies an `ny × 8` block, `dst[y·dy + j·dj] = src[y·sy + j·sj]` for `y < ny`, `j < 8`, where
/// the source has unit stride along one axis and the destination along the other: `(sy, sj, dy,
/// dj) = (px, 1, 1, py)` gathers rows into column lines, `(1, py, px, 1)` scatters them back.
/// Full 4×4 blocks go through registers (a `Complex<f32>` is one 64-bit lane): four loads along
/// the source's unit-stride axis, a register transpose, four stores along the destination's;
/// the last `ny mod 4` rows one sample at a time.
///
/// # Safety
/// AVX must be present; `sj == 1` or `sy == 1`, `dj == 1` or `dy == 1` (the other way round from
/// the source); every index above must lie inside the allocations behind `src` and `dst`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_avx(
    src: *const Complex<f32>,
    sy: usize,
    sj: usize,
    dst: *mut Complex<f32>,
    dy: usize,
    dj: usize,
    ny: usize,
) {
    use std::arch::x86_64::*;
    let (src, dst) = (src as *const f64, dst as *mut f64);
    // The step between the four loads (across the source's unit-stride axis) and between the
    // four stores (across the destination's).
    let (ls, ss) = (if sj == 1 { sy } else { sj }, if dj == 1 { dy } else { dj });
    let full = ny / 4 * 4;
    for y in (0..full).step_by(4) {
        for q in (0..8).step_by(4) {
            // SAFETY: every address is `y'·sy + j'·sj` (source) or `y'·dy + j'·dj`
            // (destination) for some y' < y + 4 ≤ ny and j' < q + 4 ≤ 8, which the caller
            // vouches for; unaligned loads and stores.
            unsafe {
                let s0 = src.add(y * sy + q * sj);
                let r0 = _mm256_loadu_pd(s0);
                let r1 = _mm256_loadu_pd(s0.add(ls));
                let r2 = _mm256_loadu_pd(s0.add(2 * ls));
                let r3 = _mm256_loadu_pd(s0.add(3 * ls));
                let t0 = _mm256_unpacklo_pd(r0, r1);
                let t1 = _mm256_unpackhi_pd(r0, r1);
                let t2 = _mm256_unpacklo_pd(r2, r3);
                let t3 = _mm256_unpackhi_pd(r2, r3);
                let d0 = dst.add(y * dy + q * dj);
                _mm256_storeu_pd(d0, _mm256_permute2f128_pd::<0x20>(t0, t2));
                _mm256_storeu_pd(d0.add(ss), _mm256_permute2f128_pd::<0x20>(t1, t3));
                _mm256_storeu_pd(d0.add(2 * ss), _mm256_permute2f128_pd::<0x31>(t0, t2));
                _mm256_storeu_pd(d0.add(3 * ss), _mm256_permute2f128_pd::<0x31>(t1, t3));
            }
        }
    }
    for y in full..ny {
        for j in 0..8 {
            // SAFETY: y < ny and j < 8.
            unsafe { *dst.add(y * dy + j * dj) = *src.add(y * sy + j * sj) };
        }
    }
}

/// `x[i] ← e^{x[i]}` in `f32`, to within 2 ulp, vectorised (libm's `expf` is a call per
/// element): `e^x = 2^n·e^r` with `n = round(x/ln 2)` and `|r| ≤ ln 2 / 2`, `e^r` by its Taylor
/// polynomial of degree 7 (truncation `|r|⁸/8! < 6·10⁻⁹`), `2^n` built in the exponent bits.
/// Below `−87.34` the result is 0 (it would be subnormal), above `88.72` infinity, NaN stays NaN.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub fn exp_f32(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = exp1(*v);
    }
}

#[inline(always)]
fn exp1(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2¹⁰.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    const C: [f32; 8] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let xc = x.clamp(-88.0, 89.0);
    let t = xc * LOG2_E + ROUND;
    let n = t - ROUND;
    // The same integer from the bits (no float-to-int conversion, which would not vectorise).
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let mut p = C[7];
    for &c in C[..7].iter().rev() {
        p = p * r + c;
    }
    // 2ⁿ as two normal factors (n reaches 128 just below the overflow threshold).
    let (n1, n2) = (ni >> 1, ni - (ni >> 1));
    let pow2 = |k: i32| f32::from_bits((k.wrapping_add(127) as u32) << 23);
    let y = p * pow2(n1) * pow2(n2);
    if x < -87.336_55 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiddle_products_match_the_definition() {
        // Lengths around the 4-sample steps (the AVX2 loop and its tail), in f32 and f64.
        let z = |i: usize, s: f64| Complex::new((i as f64 * s).sin(), (i as f64 * 0.7 * s).cos());
        for n in [0, 1, 3, 4, 5, 8, 50, 54] {
            let a: Vec<Complex<f64>> = (0..n).map(|i| z(i, 1.3)).collect();
            let t: Vec<Complex<f64>> = (0..n + 2).map(|i| z(i, 0.4)).collect();
            let c0: Vec<Complex<f64>> = (0..n).map(|i| z(i, 2.1)).collect();
            let f = |v: &[Complex<f64>]| -> Vec<Complex<f32>> {
                v.iter()
                    .map(|c| Complex::new(c.re as f32, c.im as f32))
                    .collect()
            };
            let (a32, t32) = (f(&a), f(&t));
            let mut prod = vec![Complex::new(0.0f32, 0.0); n];
            mul_to(&mut prod, &a32, &t32);
            let mut acc = f(&c0);
            mul_add(&mut acc, &a32, &t32, true);
            let mut acc64 = c0.clone();
            mul_add(&mut acc64, &a, &t, true);
            let mut plain = f(&c0);
            mul_add(&mut plain, &a32, &t32, false);
            for i in 0..n {
                let (p, q) = (a[i] * t[i], c0[i] + a[i] * t[i].conj());
                assert!((acc64[i] - q).norm() < 1e-15, "f64 n {n} i {i}");
                let err = |x: Complex<f32>, y: Complex<f64>| {
                    (Complex::new(x.re as f64, x.im as f64) - y).norm()
                };
                assert!(
                    err(prod[i], p) < 1e-6,
                    "mul_to n {n} i {i}: {} vs {p}",
                    prod[i]
                );
                assert!(
                    err(acc[i], q) < 1e-6,
                    "mul_add conj n {n} i {i}: {} vs {q}",
                    acc[i]
                );
                let r = c0[i] + p;
                assert!(
                    err(plain[i], r) < 1e-6,
                    "mul_add n {n} i {i}: {} vs {r}",
                    plain[i]
                );
            }
        }
    }

    #[test]
    fn column_gather_and_scatter_transpose_exactly() {
        // Row counts around the 4-row blocks, a block at the left, middle and right edge, a
        // ragged group (portable path) and a padded line offset.
        for (px, ny, py, oy) in [
            (16, 9, 20, 3),
            (24, 4, 4, 0),
            (8, 1, 5, 2),
            (40, 50, 128, 39),
        ] {
            let rows: Vec<Complex<f32>> = (0..ny * px)
                .map(|i| Complex::new(i as f32, -(i as f32) - 0.5))
                .collect();
            for (k0, g) in [(0, 8), (px - 8, 8), (px / 2 / 8 * 8, 8), (px - 3, 3)] {
                let fill = Complex::new(7.0f32, 7.0);
                let mut cols = vec![fill; 8 * py];
                gather_f32(&rows, px, ny, k0, g, &mut cols, py, oy);
                for j in 0..8 {
                    for y in 0..py {
                        let want = if j < g && y >= oy && y < oy + ny {
                            rows[(y - oy) * px + k0 + j]
                        } else {
                            fill
                        };
                        assert_eq!(
                            cols[j * py + y],
                            want,
                            "gather px {px} ny {ny} k0 {k0} j {j} y {y}"
                        );
                    }
                }
                let mut back = vec![fill; ny * px];
                scatter_f32(&cols, py, oy, ny, &mut back, px, k0, g);
                for y in 0..ny {
                    for x in 0..px {
                        let want = if x >= k0 && x < k0 + g {
                            rows[y * px + x]
                        } else {
                            fill
                        };
                        assert_eq!(
                            back[y * px + x],
                            want,
                            "scatter px {px} ny {ny} k0 {k0} y {y} x {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fast_exp_is_within_two_ulp() {
        // A dense sweep of the whole finite range, the absorber's range in particular.
        let mut xs: Vec<f32> = (0..=400_000)
            .map(|i| -90.0 + 180.0 * i as f32 / 400_000.0)
            .collect();
        xs.extend([0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, -87.3, 88.7]);
        let mut got = xs.clone();
        exp_f32(&mut got);
        for (&x, &y) in xs.iter().zip(&got) {
            let want = (x as f64).exp();
            if want < f32::MIN_POSITIVE as f64 {
                assert!(
                    y == 0.0 || (y as f64 - want).abs() <= f32::MIN_POSITIVE as f64,
                    "x {x}: {y}"
                );
            } else if want > f32::MAX as f64 {
                assert_eq!(y, f32::INFINITY, "x {x}");
            } else {
                let ulp = f32::EPSILON as f64 * want;
                assert!(
                    (y as f64 - want).abs() <= 2.0 * ulp,
                    "x {x}: {y} vs {want} ({} ulp)",
                    (y as f64 - want).abs() / ulp
                );
            }
        }
        let mut special = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -1000.0, 1000.0];
        exp_f32(&mut special);
        assert!(special[0].is_nan());
        assert_eq!(&special[1..], &[0.0, f32::INFINITY, 0.0, f32::INFINITY]);
    }

    #[test]
    fn simd_products_match_the_portable_loop() {
        // Lengths around the 4-wide step, both directions, values of mixed sign and scale.
        for n in [0usize, 1, 3, 4, 5, 8, 127, 128, 130] {
            let v: Vec<Complex<f32>> = (0..n)
                .map(|i| Complex::new((i as f32 * 0.37).sin() * 3.0, (i as f32 * 1.3).cos()))
                .collect();
            let h: Vec<Complex<f32>> = (0..n)
                .map(|i| Complex::new((i as f32 * 0.11).cos(), -(i as f32 * 0.7).sin() * 2.0))
                .collect();
            for conj in [false, true] {
                let (mut a, mut b) = (v.clone(), v.clone());
                mul_elementwise(&mut a, &h, conj);
                mul_scalar(&mut b, &h, conj);
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    let tol = 1e-6 * (1.0 + y.norm());
                    assert!(
                        (x - y).norm() <= tol,
                        "n {n} conj {conj} at {i}: {x} vs {y}"
                    );
                }
                // And against the definition in f64.
                for (i, x) in a.iter().enumerate() {
                    let hv = if conj { h[i].conj() } else { h[i] };
                    let want = Complex::new(v[i].re as f64, v[i].im as f64)
                        * Complex::new(hv.re as f64, hv.im as f64);
                    let d = Complex::new(x.re as f64, x.im as f64) - want;
                    assert!(d.norm() <= 1e-6 * (1.0 + want.norm()), "n {n} at {i}");
                }
            }
        }
    }
}
