//! The column half of a free-space step vectorised across columns, in AVX-512: for a strip of
//! [`LANES`] neighbouring spectrum columns of the row-transformed field (`[y][kx]`, row-major, as
//! the row FFTs leave it), the FFT along `y`, the product with the transfer function and the
//! inverse FFT, with no transpose.
//!
//! Each butterfly acts on one row of the strip at once: 16 columns share the twiddle factor, so
//! with the strip held as separate real and imaginary planes every stage is vertical vector
//! arithmetic (no shuffles); the only shuffles split the interleaved rows into planes on the way
//! in and join them on the way out. The forward transform is decimation in frequency (natural
//! order in, digit-reversed out: radix 4, after one radix-2 stage when the length is an odd power
//! of two) and the inverse undoes it stage by stage (digit-reversed in, natural out), with the
//! transfer function stored in the digit-reversed order, so no permutation is ever done (the
//! DIF/DIT pairing for convolution: Van Loan, *Computational Frameworks for the FFT*, 1992). The
//! last forward stage, the filter and the first inverse stage run as one pass, on four rows at a
//! time in registers.
//!
//! The step is a circular convolution along `y`, which commutes with shifts, so the field's `ny`
//! rows sit at `0..ny` of the strip. Since the length is at least `2·ny`, the upper half of the
//! input is zero: the first forward stage (fused with the load) reads only the rows that hold
//! light, and the last inverse stage (fused with the store) computes only the `ny` rows that are
//! kept.
//!
//! This path is taken for `f32` on processors with AVX-512F and power-of-two column lengths of at
//! least 8 (see [`ColumnPass::new`]); elsewhere the propagator runs rustfft's column transforms.

use num_complex::Complex;

use crate::real::Real;

/// Columns per strip: 16 `f32` lanes are one AVX-512 register.
pub(crate) const LANES: usize = 16;

/// The planned column pass of one free-space step: transforms of length `len` along `y`, and the
/// transfer function for spectra `width` columns wide.
pub(crate) struct ColumnPass {
    len: usize,
    width: usize,
    /// Forward stages in order: `(radix, span)`; only the first may have radix 2; the last has
    /// span 1.
    stages: Vec<(usize, usize)>,
    /// Per stage, per `j < span`, the twiddles `w^{r·j}` for `r = 1..radix` of
    /// `w = e^{−2πi/(radix·span)}`, as `(re, im)` pairs.
    tw: Vec<Vec<f32>>,
    /// Transfer function, real and imaginary planes, `[strip][position][lane]`, each position in
    /// the order the forward transform leaves the spectrum; zero beyond `width`.
    h_re: Vec<f32>,
    h_im: Vec<f32>,
}

impl ColumnPass {
    /// The pass for length `len` and spectra `width` columns wide, with `h(kx, ky)` the transfer
    /// function (scaled as the caller wants, both transforms being unnormalised); `None` unless
    /// the processor has AVX-512F and `len` is a power of two of at least 8.
    pub(crate) fn new(
        len: usize,
        width: usize,
        h: impl Fn(usize, usize) -> Complex<f64>,
    ) -> Option<Self> {
        if !(available() && len >= 8 && len.is_power_of_two()) {
            return None;
        }
        Some(Self::plan(len, width, h))
    }

    /// [`new`](Self::new) without the processor check (the plan itself is portable).
    fn plan(len: usize, width: usize, h: impl Fn(usize, usize) -> Complex<f64>) -> Self {
        let mut stages = Vec::new();
        let mut span = len;
        if len.trailing_zeros() % 2 == 1 {
            span /= 2;
            stages.push((2, span));
        }
        while span > 1 {
            span /= 4;
            stages.push((4, span));
        }
        let tw = stages
            .iter()
            .map(|&(r, s)| {
                let mut v = Vec::with_capacity(2 * (r - 1) * s);
                for j in 0..s {
                    for m in 1..r {
                        let a = -2.0 * std::f64::consts::PI * (m * j) as f64 / (r * s) as f64;
                        v.push(a.cos() as f32);
                        v.push(a.sin() as f32);
                    }
                }
                v
            })
            .collect();
        let freq: Vec<usize> = (0..len).map(|p| frequency(p, len, &stages)).collect();
        let strips = width.div_ceil(LANES);
        let mut h_re = vec![0.0; strips * len * LANES];
        let mut h_im = vec![0.0; strips * len * LANES];
        for kx in 0..width {
            let (s, l) = (kx / LANES, kx % LANES);
            for (p, &ky) in freq.iter().enumerate() {
                let v = h(kx, ky);
                h_re[(s * len + p) * LANES + l] = v.re as f32;
                h_im[(s * len + p) * LANES + l] = v.im as f32;
            }
        }
        ColumnPass {
            len,
            width,
            stages,
            tw,
            h_re,
            h_im,
        }
    }

    /// Working floats a strip needs ([`filter`](Self::filter)'s `buf`).
    pub(crate) fn buf_len(&self) -> usize {
        2 * self.len * LANES
    }

    /// [`filter`](Self::filter) for an engine of precision `T`, which must be `f32`.
    ///
    /// # Panics
    /// If `T` is not `f32`, or as [`filter`](Self::filter).
    pub(crate) fn filter_any<T: Real>(
        &self,
        rows: &mut [Complex<T>],
        ny: usize,
        conj: bool,
        buf: &mut [f32],
    ) {
        self.filter(as_f32(rows), ny, conj, buf)
    }

    /// Strips a spectrum `width` columns wide splits into.
    pub(crate) fn strips(&self) -> usize {
        self.width.div_ceil(LANES)
    }

    /// [`filter`](Self::filter) of strip `k` only (columns `16k..16k + 16`), through a pointer so
    /// that several threads may filter different strips of the same rows.
    ///
    /// # Safety
    /// `rows` must point to `ny` rows of `width` samples (`T` = `f32`) that no other thread
    /// reads or writes in this strip's columns meanwhile; `k <`
    /// [`strips`](Self::strips); otherwise as [`filter`](Self::filter).
    pub(crate) unsafe fn filter_strip<T: Real>(
        &self,
        rows: *mut Complex<T>,
        ny: usize,
        k: usize,
        conj: bool,
        buf: &mut [f32],
    ) {
        assert!(
            std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
                && k < self.strips()
                && 2 * ny <= self.len
                && buf.len() >= self.buf_len()
                && available(),
            "ColumnPass::filter_strip: strip {k} of {}, {ny} rows for {}-point columns, a buffer \
             of {} floats (needs {}), f32 and AVX-512F are all required",
            self.strips(),
            self.len,
            buf.len(),
            self.buf_len()
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the checks above and the caller's promise.
        unsafe {
            avx512::strip(self, rows as *mut f32, ny, LANES * k, conj, buf)
        };
    }

    /// Filters every column of `rows` (`[ny][width]` row spectra) in place: each column, zero
    /// padded to `len` below its `ny` rows, goes through `IFFT(H·FFT(·))` (unnormalised, `conj(H)`
    /// when `conj`) and is cropped back to its `ny` rows.
    ///
    /// # Panics
    /// If `rows` is not `ny` rows of `width` samples with `2·ny ≤ len`, or `buf` is shorter than
    /// [`buf_len`](Self::buf_len).
    pub(crate) fn filter(&self, rows: &mut [Complex<f32>], ny: usize, conj: bool, buf: &mut [f32]) {
        assert!(
            rows.len() == ny * self.width && 2 * ny <= self.len && buf.len() >= self.buf_len(),
            "ColumnPass: {} samples are not {ny} rows of {} (at most {} rows), or a buffer of {} \
             floats is under {}",
            rows.len(),
            self.width,
            self.len / 2,
            buf.len(),
            self.buf_len()
        );
        assert!(available(), "ColumnPass: the processor lacks AVX-512F");
        #[cfg(target_arch = "x86_64")]
        for k0 in (0..self.width).step_by(LANES) {
            // SAFETY: AVX-512F is present (checked above); `rows` holds `ny` rows of `width`
            // samples and the strip touches columns `k0..min(k0 + 16, width)` of them only;
            // `buf` holds the strip's two planes; `2·ny ≤ len`, which the pruned first and last
            // stages rely on.
            unsafe { avx512::strip(self, rows.as_mut_ptr() as *mut f32, ny, k0, conj, buf) };
        }
    }
}

/// The slice as `Complex<f32>`.
///
/// # Panics
/// If `T` is not `f32`.
fn as_f32<T: Real>(v: &mut [Complex<T>]) -> &mut [Complex<f32>] {
    assert!(
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>(),
        "ColumnPass: the column pass runs f32 fields only"
    );
    // SAFETY: `T` is `f32`, so the types are the same; the borrow is carried over.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut Complex<f32>, v.len()) }
}

/// Whether the processor can run the pass (AVX-512F), and `WAVETRAIN_NO_STRIPS` does not turn
/// it off (to compare the two column engines on one machine).
pub(crate) fn available() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let cpu = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let cpu = false;
        cpu && std::env::var_os("WAVETRAIN_NO_STRIPS").is_none()
    })
}

/// The frequency the forward transform leaves at position `p` of a length-`len` line: a stage of
/// radix `r` sends the frequencies `r·k + q` to its `q`-th sub-block, recursively.
fn frequency(p: usize, len: usize, stages: &[(usize, usize)]) -> usize {
    match stages.split_first() {
        None => 0,
        Some((&(r, _), rest)) => {
            let sub = len / r;
            p / sub + r * frequency(p % sub, sub, rest)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{ColumnPass, LANES};

    /// A complex value per lane: real and imaginary planes.
    #[derive(Clone, Copy)]
    struct C {
        r: __m512,
        i: __m512,
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn add(a: C, b: C) -> C {
        C {
            r: _mm512_add_ps(a.r, b.r),
            i: _mm512_add_ps(a.i, b.i),
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn sub(a: C, b: C) -> C {
        C {
            r: _mm512_sub_ps(a.r, b.r),
            i: _mm512_sub_ps(a.i, b.i),
        }
    }

    /// `a + i·b`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn add_i(a: C, b: C) -> C {
        C {
            r: _mm512_sub_ps(a.r, b.i),
            i: _mm512_add_ps(a.i, b.r),
        }
    }

    /// `a − i·b`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn sub_i(a: C, b: C) -> C {
        C {
            r: _mm512_add_ps(a.r, b.i),
            i: _mm512_sub_ps(a.i, b.r),
        }
    }

    /// `a·w` (`CONJ`: `a·conj(w)`), lane by lane.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn mul<const CONJ: bool>(a: C, wr: __m512, wi: __m512) -> C {
        if CONJ {
            C {
                r: _mm512_fmadd_ps(a.r, wr, _mm512_mul_ps(a.i, wi)),
                i: _mm512_fmsub_ps(a.i, wr, _mm512_mul_ps(a.r, wi)),
            }
        } else {
            C {
                r: _mm512_fmsub_ps(a.r, wr, _mm512_mul_ps(a.i, wi)),
                i: _mm512_fmadd_ps(a.r, wi, _mm512_mul_ps(a.i, wr)),
            }
        }
    }

    /// The strip's planes: position `p` at `re[16p..]` and `im[16p..]`.
    struct Planes {
        re: *mut f32,
        im: *mut f32,
    }

    impl Planes {
        /// # Safety
        /// Position `p` must lie in the strip.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn get(&self, p: usize) -> C {
            // SAFETY: the caller's promise.
            unsafe {
                C {
                    r: _mm512_loadu_ps(self.re.add(LANES * p)),
                    i: _mm512_loadu_ps(self.im.add(LANES * p)),
                }
            }
        }

        /// # Safety
        /// Position `p` must lie in the strip.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn set(&self, p: usize, v: C) {
            // SAFETY: the caller's promise.
            unsafe {
                _mm512_storeu_ps(self.re.add(LANES * p), v.r);
                _mm512_storeu_ps(self.im.add(LANES * p), v.i);
            }
        }
    }

    /// The strip's columns `k0..k0 + g` of the interleaved `[ny][width]` rows.
    struct Rows {
        base: *mut f32,
        /// Floats per row.
        stride: usize,
        /// Lane masks of the two registers a row of the strip spans.
        m0: __mmask16,
        m1: __mmask16,
        even: __m512i,
        odd: __m512i,
        lo: __m512i,
        hi: __m512i,
    }

    impl Rows {
        /// Row `y`, split into planes (lanes past the strip's width read as zero).
        ///
        /// # Safety
        /// Row `y` must exist.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn load(&self, y: usize) -> C {
            // SAFETY: the caller's promise; the masks keep the loads inside the strip's columns.
            unsafe {
                let p = self.base.add(y * self.stride);
                let a = _mm512_maskz_loadu_ps(self.m0, p);
                let b = _mm512_maskz_loadu_ps(self.m1, p.add(LANES));
                C {
                    r: _mm512_permutex2var_ps(a, self.even, b),
                    i: _mm512_permutex2var_ps(a, self.odd, b),
                }
            }
        }

        /// Writes `v` to row `y` (the strip's columns only).
        ///
        /// # Safety
        /// Row `y` must exist.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn store(&self, y: usize, v: C) {
            // SAFETY: the caller's promise; the masks keep the stores inside the strip's columns.
            unsafe {
                let p = self.base.add(y * self.stride);
                _mm512_mask_storeu_ps(p, self.m0, _mm512_permutex2var_ps(v.r, self.lo, v.i));
                _mm512_mask_storeu_ps(
                    p.add(LANES),
                    self.m1,
                    _mm512_permutex2var_ps(v.r, self.hi, v.i),
                );
            }
        }
    }

    /// Twiddle `m` (1-based) of butterfly `j` of a stage with `r − 1` per butterfly, broadcast.
    ///
    /// # Safety
    /// `tw` must hold butterfly `j`'s twiddles.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn twiddle(tw: *const f32, per: usize, j: usize, m: usize) -> (__m512, __m512) {
        // SAFETY: the caller's promise.
        unsafe {
            let p = tw.add(2 * (per * j + m - 1));
            (_mm512_set1_ps(*p), _mm512_set1_ps(*p.add(1)))
        }
    }

    /// One strip: load fused with the first forward stage, the middle forward stages, the last
    /// forward stage with the filter and the first inverse stage, the middle inverse stages, and
    /// the last inverse stage fused with the store.
    ///
    /// # Safety
    /// AVX-512F must be present; `rows` must point to `ny` rows of `f.width` interleaved complex
    /// samples; `k0 < f.width`; `buf` must hold [`ColumnPass::buf_len`] floats; `2·ny ≤ f.len`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn strip(
        f: &ColumnPass,
        rows: *mut f32,
        ny: usize,
        k0: usize,
        conj: bool,
        buf: &mut [f32],
    ) {
        let len = f.len;
        let g = LANES.min(f.width - k0);
        let floats = 2 * g;
        let mask = |n: usize| -> __mmask16 {
            if n >= 16 {
                0xffff
            } else {
                (1u16 << n) - 1
            }
        };
        let io = Rows {
            // SAFETY: `k0` is inside each row.
            base: unsafe { rows.add(2 * k0) },
            stride: 2 * f.width,
            m0: mask(floats),
            m1: mask(floats.saturating_sub(16)),
            even: _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
            odd: _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
            lo: _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
            hi: _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31),
        };
        let (re, im) = buf[..2 * len * LANES].split_at_mut(len * LANES);
        let st = Planes {
            re: re.as_mut_ptr(),
            im: im.as_mut_ptr(),
        };
        let h = k0 / LANES * len * LANES;
        // SAFETY: the transfer function holds `len` positions for every strip.
        let (hr, hi) = unsafe { (f.h_re.as_ptr().add(h), f.h_im.as_ptr().add(h)) };
        let n = f.stages.len();
        // SAFETY (for the stage calls below): every position a stage touches is below `len`,
        // every row it reads or writes below `ny`, every twiddle inside its stage's table.
        unsafe {
            first_forward(f, &io, &st, ny);
            for k in 1..n - 1 {
                middle_forward(f, &st, k);
            }
            if conj {
                filter::<true>(len, &st, hr, hi);
            } else {
                filter::<false>(len, &st, hr, hi);
            }
            for k in (1..n - 1).rev() {
                middle_inverse(f, &st, k);
            }
            last_inverse(f, &io, &st, ny);
        }
    }

    /// The first forward stage, reading the rows (the upper half of the input is zero).
    ///
    /// # Safety
    /// As [`strip`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn first_forward(f: &ColumnPass, io: &Rows, st: &Planes, ny: usize) {
        let (r, s) = f.stages[0];
        let tw = f.tw[0].as_ptr();
        let zero = C {
            r: _mm512_setzero_ps(),
            i: _mm512_setzero_ps(),
        };
        // SAFETY: positions `j + m·s < r·s = len`; rows `< ny`; twiddles `j < s`.
        unsafe {
            for j in 0..s {
                if j >= ny {
                    for m in 0..r {
                        st.set(j + m * s, zero);
                    }
                    continue;
                }
                let a = io.load(j);
                if r == 2 {
                    // The second input x[j + s] lies in the zero half: (a, a·w^j).
                    let (wr, wi) = twiddle(tw, 1, j, 1);
                    st.set(j, a);
                    st.set(j + s, mul::<false>(a, wr, wi));
                    continue;
                }
                // Radix 4 with x[j + 2s] = x[j + 3s] = 0.
                let (y0, y1, y2, y3) = if j + s < ny {
                    let b = io.load(j + s);
                    (add(a, b), sub_i(a, b), sub(a, b), add_i(a, b))
                } else {
                    (a, a, a, a)
                };
                st.set(j, y0);
                for (m, y) in [(1, y1), (2, y2), (3, y3)] {
                    let (wr, wi) = twiddle(tw, 3, j, m);
                    st.set(j + m * s, mul::<false>(y, wr, wi));
                }
            }
        }
    }

    /// Forward radix-4 stage `k` (not the first, not the last).
    ///
    /// # Safety
    /// As [`strip`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn middle_forward(f: &ColumnPass, st: &Planes, k: usize) {
        let (_, s) = f.stages[k];
        let tw = f.tw[k].as_ptr();
        // SAFETY: blocks of `4s` positions inside `len`; twiddles `j < s`.
        unsafe {
            for b in (0..f.len).step_by(4 * s) {
                for j in 0..s {
                    let p = b + j;
                    let (a, bb, c, d) = (
                        st.get(p),
                        st.get(p + s),
                        st.get(p + 2 * s),
                        st.get(p + 3 * s),
                    );
                    let (t0, t1, t2, t3) = (add(a, c), sub(a, c), add(bb, d), sub(bb, d));
                    st.set(p, add(t0, t2));
                    let (w1r, w1i) = twiddle(tw, 3, j, 1);
                    let (w2r, w2i) = twiddle(tw, 3, j, 2);
                    let (w3r, w3i) = twiddle(tw, 3, j, 3);
                    st.set(p + s, mul::<false>(sub_i(t1, t3), w1r, w1i));
                    st.set(p + 2 * s, mul::<false>(sub(t0, t2), w2r, w2i));
                    st.set(p + 3 * s, mul::<false>(add_i(t1, t3), w3r, w3i));
                }
            }
        }
    }

    /// Inverse of [`middle_forward`] (unnormalised): conjugate twiddles, then the inverse
    /// 4-point DFT.
    ///
    /// # Safety
    /// As [`strip`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn middle_inverse(f: &ColumnPass, st: &Planes, k: usize) {
        let (_, s) = f.stages[k];
        let tw = f.tw[k].as_ptr();
        // SAFETY: as in `middle_forward`.
        unsafe {
            for b in (0..f.len).step_by(4 * s) {
                for j in 0..s {
                    let p = b + j;
                    let (w1r, w1i) = twiddle(tw, 3, j, 1);
                    let (w2r, w2i) = twiddle(tw, 3, j, 2);
                    let (w3r, w3i) = twiddle(tw, 3, j, 3);
                    let u0 = st.get(p);
                    let u1 = mul::<true>(st.get(p + s), w1r, w1i);
                    let u2 = mul::<true>(st.get(p + 2 * s), w2r, w2i);
                    let u3 = mul::<true>(st.get(p + 3 * s), w3r, w3i);
                    let (e0, e1, f0, f1) = (add(u0, u2), sub(u0, u2), add(u1, u3), sub(u1, u3));
                    st.set(p, add(e0, f0));
                    st.set(p + s, add_i(e1, f1));
                    st.set(p + 2 * s, sub(e0, f0));
                    st.set(p + 3 * s, sub_i(e1, f1));
                }
            }
        }
    }

    /// The last forward stage (radix 4, span 1: no twiddles), the product with the transfer
    /// function (`CONJ`: its conjugate) and the first inverse stage, four positions at a time.
    ///
    /// # Safety
    /// As [`strip`]; `hr` and `hi` point to this strip's `len` positions.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn filter<const CONJ: bool>(len: usize, st: &Planes, hr: *const f32, hi: *const f32) {
        // SAFETY: positions `p..p + 4 ≤ len`, and the filter holds `len` positions.
        unsafe {
            for p in (0..len).step_by(4) {
                let (a, b, c, d) = (st.get(p), st.get(p + 1), st.get(p + 2), st.get(p + 3));
                let (t0, t1, t2, t3) = (add(a, c), sub(a, c), add(b, d), sub(b, d));
                let y = [add(t0, t2), sub_i(t1, t3), sub(t0, t2), add_i(t1, t3)];
                let mut z = y;
                for (m, v) in z.iter_mut().enumerate() {
                    let q = LANES * (p + m);
                    *v = mul::<CONJ>(*v, _mm512_loadu_ps(hr.add(q)), _mm512_loadu_ps(hi.add(q)));
                }
                let (e0, e1, f0, f1) = (
                    add(z[0], z[2]),
                    sub(z[0], z[2]),
                    add(z[1], z[3]),
                    sub(z[1], z[3]),
                );
                st.set(p, add(e0, f0));
                st.set(p + 1, add_i(e1, f1));
                st.set(p + 2, sub(e0, f0));
                st.set(p + 3, sub_i(e1, f1));
            }
        }
    }

    /// Inverse of [`first_forward`], writing only the `ny` rows that are kept.
    ///
    /// # Safety
    /// As [`strip`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn last_inverse(f: &ColumnPass, io: &Rows, st: &Planes, ny: usize) {
        let (r, s) = f.stages[0];
        let tw = f.tw[0].as_ptr();
        // SAFETY: positions `j + m·s < len`; rows written only below `ny`.
        unsafe {
            for j in 0..s.min(ny) {
                if r == 2 {
                    let (wr, wi) = twiddle(tw, 1, j, 1);
                    io.store(j, add(st.get(j), mul::<true>(st.get(j + s), wr, wi)));
                    continue;
                }
                let (w1r, w1i) = twiddle(tw, 3, j, 1);
                let (w2r, w2i) = twiddle(tw, 3, j, 2);
                let (w3r, w3i) = twiddle(tw, 3, j, 3);
                let u0 = st.get(j);
                let u1 = mul::<true>(st.get(j + s), w1r, w1i);
                let u2 = mul::<true>(st.get(j + 2 * s), w2r, w2i);
                let u3 = mul::<true>(st.get(j + 3 * s), w3r, w3i);
                let (e0, e1, f0, f1) = (add(u0, u2), sub(u0, u2), add(u1, u3), sub(u1, u3));
                io.store(j, add(e0, f0));
                if j + s < ny {
                    io.store(j + s, add_i(e1, f1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive DFT of a line (`sign` −1 forward, +1 inverse), unnormalised, in f64.
    fn dft(x: &[Complex<f64>], sign: f64) -> Vec<Complex<f64>> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(j, v)| {
                        let a = sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                        v * Complex::from_polar(1.0, a)
                    })
                    .sum()
            })
            .collect()
    }

    fn noise(seed: u64, n: usize) -> Vec<Complex<f64>> {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        (0..n).map(|_| Complex::new(next(), next())).collect()
    }

    #[test]
    fn positions_map_every_frequency_once() {
        for len in [8, 16, 32, 64, 128, 256, 512, 1024] {
            let p = ColumnPass::plan(len, 1, |_, _| Complex::new(1.0, 0.0));
            let mut seen = vec![false; len];
            for q in 0..len {
                let k = frequency(q, len, &p.stages);
                assert!(
                    k < len && !seen[k],
                    "len {len}: position {q} → {k} twice or out of range"
                );
                seen[k] = true;
            }
            assert_eq!(p.stages.last(), Some(&(4, 1)), "len {len}: last stage");
        }
    }

    /// Every column through the pass against pad → naive DFT → H → naive inverse → crop, for
    /// lengths with and without the radix-2 stage, strips full and partial, both signs of H.
    #[test]
    fn strips_match_the_padded_dft_filter() {
        if !available() {
            eprintln!("SKIPPED: this processor has no AVX-512F, so the column pass is never used");
            return;
        }
        for (len, width, ny) in [
            (8, 3, 4),
            (16, 16, 5),
            (32, 20, 16),
            (64, 40, 31),
            (128, 108, 50),
            (256, 37, 100),
            (512, 17, 256),
            // One row, one column, and a long column beyond the first-level cache.
            (16, 1, 1),
            (64, 33, 1),
            (2048, 5, 700),
        ] {
            let hv = noise(len as u64, len * width);
            let h = |kx: usize, ky: usize| hv[ky * width + kx];
            let pass = ColumnPass::new(len, width, h).expect("AVX-512F is present");
            let x = noise(7 + len as u64, ny * width);
            for conj in [false, true] {
                let mut rows: Vec<Complex<f32>> = x
                    .iter()
                    .map(|v| Complex::new(v.re as f32, v.im as f32))
                    .collect();
                let mut buf = vec![0.0; pass.buf_len()];
                pass.filter(&mut rows, ny, conj, &mut buf);
                let mut worst = 0.0f64;
                for kx in 0..width {
                    let mut col = vec![Complex::new(0.0, 0.0); len];
                    for y in 0..ny {
                        col[y] = x[y * width + kx];
                    }
                    let mut spec = dft(&col, -1.0);
                    for (ky, v) in spec.iter_mut().enumerate() {
                        *v *= if conj { h(kx, ky).conj() } else { h(kx, ky) };
                    }
                    let back = dft(&spec, 1.0);
                    let scale = back.iter().map(|v| v.norm()).fold(0.0, f64::max);
                    for y in 0..ny {
                        let got = rows[y * width + kx];
                        let e = (Complex::new(got.re as f64, got.im as f64) - back[y]).norm();
                        worst = worst.max(e / scale);
                    }
                }
                assert!(
                    worst < 2e-6 * (len as f64).log2(),
                    "len {len} width {width} ny {ny} conj {conj}: relative error {worst:.2e}"
                );
            }
        }
    }
}
