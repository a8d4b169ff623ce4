//! The column half of a free-space step vectorised across columns: for a strip of 16 (AVX-512)
//! or 8 (AVX2) neighbouring spectrum columns of the row-transformed field (`[y][kx]`, row-major,
//! as the row FFTs leave it), the FFT along `y`, the product with the transfer function and the
//! inverse FFT, with no transpose.
//!
//! Each butterfly acts on one row of the strip at once: the strip's columns share the twiddle
//! factor, so with the strip held as separate real and imaginary planes every stage is vertical
//! vector arithmetic (no shuffles); the only shuffles split the interleaved rows into planes on
//! the way in and join them on the way out. The forward transform is decimation in frequency
//! (natural order in, digit-reversed out: radix 4, after one radix-2 stage when the length is an
//! odd power of two) and the inverse undoes it stage by stage (digit-reversed in, natural out),
//! with the transfer function stored in the digit-reversed order, so no permutation is ever done
//! (the DIF/DIT pairing for convolution: Van Loan, *Computational Frameworks for the FFT*, 1992).
//! The last forward stage, the filter and the first inverse stage run as one pass, on four rows
//! at a time in registers.
//!
//! The step is a circular convolution along `y`, which commutes with shifts, so the field's `ny`
//! rows sit at `0..ny` of the strip. Since the length is at least `2·ny`, the upper half of the
//! input is zero: the first forward stage (fused with the load) reads only the rows that hold
//! light, and the last inverse stage (fused with the store) computes only the `ny` rows that are
//! kept.
//!
//! The stages are written once (`strip_kernel!`) over a handful of primitives that the `avx512`
//! and `avx2` modules define for their register width. This path is taken for `f32` on x86-64
//! processors with AVX-512F or AVX2 and FMA, for power-of-two column lengths of at least 8 and
//! twice the light (see [`ColumnPass::new`]); elsewhere the propagator runs rustfft's column
//! transforms.
//!
//! The same stages also run the plain column transforms of a 2-D FFT ([`ColumnFft`], used by
//! `Fft2`): full-length input, the last stage fused with a store in natural order, the inverse
//! by swapping the real and imaginary planes.

use num_complex::Complex;

use crate::real::Real;

/// The planned column pass of one free-space step: transforms of length `len` along `y`, and the
/// transfer function for spectra `width` columns wide, in strips of `lanes` columns.
pub(crate) struct ColumnPass {
    plan: Stages,
    width: usize,
    /// Columns per strip: 16 (AVX-512F) or 8 (AVX2 and FMA).
    lanes: usize,
    /// Transfer function, real and imaginary planes, `[strip][position][lane]`, each position in
    /// the order the forward transform leaves the spectrum; zero beyond `width`.
    h_re: Vec<f32>,
    h_im: Vec<f32>,
}

impl ColumnPass {
    /// The pass for length `len` and spectra `width` columns wide, with `h(kx, ky)` the transfer
    /// function (scaled as the caller wants, both transforms being unnormalised), in the widest
    /// strips this processor runs ([`lanes`]); `None` when it runs none or `len` is not a power
    /// of two of at least 8.
    pub(crate) fn new(
        len: usize,
        width: usize,
        h: impl Fn(usize, usize) -> Complex<f64>,
    ) -> Option<Self> {
        let lanes = lanes()?;
        (len >= 8 && len.is_power_of_two()).then(|| Self::plan(len, width, lanes, h))
    }

    /// [`new`](Self::new) in strips of `lanes` (16 or 8) columns, without the processor check.
    fn plan(
        len: usize,
        width: usize,
        lanes: usize,
        h: impl Fn(usize, usize) -> Complex<f64>,
    ) -> Self {
        assert!(
            len >= 8 && len.is_power_of_two() && matches!(lanes, 8 | 16),
            "ColumnPass: {len}-point columns in strips of {lanes}"
        );
        let plan = Stages::new(len);
        let freq: Vec<usize> = (0..len).map(|p| frequency(p, len, &plan.stages)).collect();
        let strips = width.div_ceil(lanes);
        let mut h_re = vec![0.0; strips * len * lanes];
        let mut h_im = vec![0.0; strips * len * lanes];
        for kx in 0..width {
            let (s, l) = (kx / lanes, kx % lanes);
            for (p, &ky) in freq.iter().enumerate() {
                let v = h(kx, ky);
                h_re[(s * len + p) * lanes + l] = v.re as f32;
                h_im[(s * len + p) * lanes + l] = v.im as f32;
            }
        }
        ColumnPass {
            plan,
            width,
            lanes,
            h_re,
            h_im,
        }
    }

    /// Columns per strip.
    pub(crate) fn lanes(&self) -> usize {
        self.lanes
    }

    /// Working floats a strip needs ([`filter`](Self::filter)'s `buf`).
    pub(crate) fn buf_len(&self) -> usize {
        2 * self.plan.len * self.lanes
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
        let rows = super::simd::as_f32_mut(rows)
            .expect("ColumnPass: the column pass runs f32 fields only");
        self.filter(rows, ny, conj, buf)
    }

    /// Strips a spectrum `width` columns wide splits into.
    pub(crate) fn strips(&self) -> usize {
        self.width.div_ceil(self.lanes)
    }

    /// [`filter`](Self::filter) of strip `k` only, through a pointer so that several threads
    /// may filter different strips of the same rows.
    ///
    /// # Safety
    /// `rows` must point to `ny` rows of `width` samples (`T` = `f32`) that no other thread
    /// reads or writes in this strip's columns meanwhile; otherwise as [`filter`](Self::filter).
    ///
    /// # Panics
    /// If `T` is not `f32`, `k` is not below [`strips`](Self::strips), or as
    /// [`filter`](Self::filter).
    pub(crate) unsafe fn filter_strip<T: Real>(
        &self,
        rows: *mut Complex<T>,
        ny: usize,
        k: usize,
        conj: bool,
        buf: &mut [f32],
    ) {
        assert!(
            std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && k < self.strips(),
            "ColumnPass::filter_strip: strip {k} of {} in {}",
            self.strips(),
            std::any::type_name::<T>()
        );
        self.check(ny, buf);
        // SAFETY: `check` vouched for the processor, the rows and the buffer; the caller for
        // the rows' extent and exclusive use of this strip.
        unsafe { self.strip(rows as *mut f32, ny, self.lanes * k, conj, buf) };
    }

    /// Filters every column of `rows` (`[ny][width]` row spectra) in place: each column, zero
    /// padded to `len` below its `ny` rows, goes through `IFFT(H·FFT(·))` (unnormalised, `conj(H)`
    /// when `conj`) and is cropped back to its `ny` rows.
    ///
    /// # Panics
    /// If `rows` is not `ny` rows of `width` samples with `2·ny ≤ len`, `buf` is shorter than
    /// [`buf_len`](Self::buf_len), or the processor lacks the strips' instructions.
    pub(crate) fn filter(&self, rows: &mut [Complex<f32>], ny: usize, conj: bool, buf: &mut [f32]) {
        assert!(
            rows.len() == ny * self.width,
            "ColumnPass: {} samples are not {ny} rows of {}",
            rows.len(),
            self.width
        );
        self.check(ny, buf);
        for k0 in (0..self.width).step_by(self.lanes) {
            // SAFETY: `check` vouched for the processor, `ny` and the buffer; `rows` holds `ny`
            // rows of `width` samples and the strip touches columns `k0..k0 + lanes` (masked
            // to `width`) of them only.
            unsafe { self.strip(rows.as_mut_ptr() as *mut f32, ny, k0, conj, buf) };
        }
    }

    /// Panics unless `2·ny ≤ len`, `buf` holds a strip and the processor runs these strips.
    fn check(&self, ny: usize, buf: &[f32]) {
        assert!(
            2 * ny <= self.plan.len && buf.len() >= self.buf_len(),
            "ColumnPass: {ny} rows do not fit half of {}-point columns, or a buffer of {} floats \
             is under {}",
            self.plan.len,
            buf.len(),
            self.buf_len()
        );
        assert!(
            supports(self.lanes),
            "ColumnPass: this processor cannot run strips of {} columns",
            self.lanes
        );
    }

    /// One strip through the kernel of its width.
    ///
    /// # Safety
    /// As the kernels' `strip`: `rows` points to `ny` rows of `width` interleaved complex
    /// samples, `k0 < width`, and [`check`](Self::check) passed.
    unsafe fn strip(&self, rows: *mut f32, ny: usize, k0: usize, conj: bool, buf: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promise; `check` confirmed the width's instructions.
        unsafe {
            if self.lanes == avx512::W {
                avx512::strip(self, rows, ny, k0, conj, buf)
            } else {
                avx2::strip(self, rows, ny, k0, conj, buf)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "ColumnPass: no strips on this architecture ({rows:?} {ny} {k0} {conj} {})",
            buf.len()
        );
    }
}

/// A plain (unfiltered) transform of length `len` along `y` of every column of `[len][width]`
/// images (row-major), in strips of `lanes` columns across vector lanes, in place and in natural
/// order: the columns half of a 2-D FFT ([`Fft2`](super::fft::Fft2)) with no transposes.
///
/// The forward transform is the decimation in frequency of [`ColumnPass`] (the load fused with
/// the first stage); its last stage (radix 4, no twiddles) is fused with the store, which writes
/// each position to the row of its frequency, so the digit-reversal permutation costs nothing
/// beyond scattered (whole-strip) row stores. The inverse is the same transform with the real
/// and imaginary planes swapped on the way in and out (`swap(DFT(swap(x)))` is the unnormalised
/// inverse DFT), which costs nothing either.
pub(crate) struct ColumnFft {
    plan: Stages,
    width: usize,
    /// Columns per strip: 16 (AVX-512F) or 8 (AVX2 and FMA).
    lanes: usize,
    /// The frequency at position `4·b` of the forward transform's output, for `b < len/4`;
    /// positions `4·b + m` hold frequency `rows[b] + m·len/4`.
    rows: Vec<usize>,
}

impl ColumnFft {
    /// The transform for columns of `len` points in images `width` columns wide, in the widest
    /// strips this processor runs ([`lanes`]); `None` when it runs none or `len` is not a power
    /// of two of at least 8.
    pub(crate) fn new(len: usize, width: usize) -> Option<Self> {
        let lanes = lanes()?;
        (len >= 8 && len.is_power_of_two() && width > 0).then(|| Self::plan(len, width, lanes))
    }

    /// [`new`](Self::new) in strips of `lanes` (16 or 8) columns, without the processor check.
    fn plan(len: usize, width: usize, lanes: usize) -> Self {
        assert!(
            matches!(lanes, 8 | 16) && width > 0,
            "ColumnFft: strips of {lanes} over {width} columns"
        );
        let plan = Stages::new(len);
        let rows = (0..len / 4)
            .map(|b| frequency(4 * b, len, &plan.stages))
            .collect();
        ColumnFft {
            plan,
            width,
            lanes,
            rows,
        }
    }

    /// Working floats a strip needs (the `buf` of [`transform`](Self::transform)).
    pub(crate) fn buf_len(&self) -> usize {
        2 * self.plan.len * self.lanes
    }

    /// Strips an image `width` columns wide splits into.
    pub(crate) fn strips(&self) -> usize {
        self.width.div_ceil(self.lanes)
    }

    /// Transforms every column of one image (`len` rows of `width` samples) in place, forward
    /// or (`inverse`) backward, unnormalised, times `scale`.
    ///
    /// # Panics
    /// If `image` is not `len × width` samples, `buf` is shorter than
    /// [`buf_len`](Self::buf_len), or the processor lacks the strips' instructions.
    pub(crate) fn transform(
        &self,
        image: &mut [Complex<f32>],
        inverse: bool,
        scale: f32,
        buf: &mut [f32],
    ) {
        assert!(
            image.len() == self.plan.len * self.width,
            "ColumnFft: {} samples are not {} rows of {}",
            image.len(),
            self.plan.len,
            self.width
        );
        for k in 0..self.strips() {
            // SAFETY: the image has `len` rows of `width` samples, borrowed exclusively.
            unsafe { self.transform_strip(image.as_mut_ptr(), k, inverse, scale, buf) };
        }
    }

    /// [`transform`](Self::transform) of strip `k` only (columns `lanes·k ..`), through a pointer
    /// so that several threads may transform different strips of the same image.
    ///
    /// # Safety
    /// `image` must point to `len` rows of `width` samples that no other thread reads or
    /// writes in this strip's columns meanwhile.
    ///
    /// # Panics
    /// If `k` is not below [`strips`](Self::strips), `buf` is shorter than
    /// [`buf_len`](Self::buf_len), or the processor lacks the strips' instructions.
    pub(crate) unsafe fn transform_strip(
        &self,
        image: *mut Complex<f32>,
        k: usize,
        inverse: bool,
        scale: f32,
        buf: &mut [f32],
    ) {
        assert!(
            k < self.strips() && buf.len() >= self.buf_len() && supports(self.lanes),
            "ColumnFft: strip {k} of {}, a buffer of {} floats (needs {}), or strips of {} \
             columns this processor cannot run",
            self.strips(),
            buf.len(),
            self.buf_len(),
            self.lanes
        );
        let (rows, k0) = (image as *mut f32, k * self.lanes);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promise for the image; the assertion for the processor, the strip
        // and the buffer.
        unsafe {
            if self.lanes == avx512::W {
                avx512::transform(self, rows, k0, inverse, scale, buf)
            } else {
                avx2::transform(self, rows, k0, inverse, scale, buf)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "ColumnFft: no strips on this architecture ({rows:?} {k0} {inverse} {scale} {})",
            buf.len()
        );
    }
}

/// The stages of a radix-4 decimation-in-frequency transform of one power-of-two length, with
/// their twiddles: shared by the filtering pass ([`ColumnPass`]) and the plain column transform
/// ([`ColumnFft`]).
pub(crate) struct Stages {
    len: usize,
    /// Forward stages in order: `(radix, span)`; only the first may have radix 2; the last has
    /// span 1.
    stages: Vec<(usize, usize)>,
    /// Per stage, per `j < span`, the twiddles `w^{r·j}` for `r = 1..radix` of
    /// `w = e^{−2πi/(radix·span)}`, as `(re, im)` pairs.
    tw: Vec<Vec<f32>>,
}

impl Stages {
    /// # Panics
    /// Unless `len` is a power of two of at least 8.
    fn new(len: usize) -> Self {
        assert!(
            len >= 8 && len.is_power_of_two(),
            "Stages: {len}-point transforms need a power of two of at least 8"
        );
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
        Stages { len, stages, tw }
    }
}

/// Whether this processor runs strips of `lanes` columns: 16 with AVX-512F, 8 with AVX2 and FMA.
fn supports(lanes: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match lanes {
            16 => std::arch::is_x86_feature_detected!("avx512f"),
            8 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = lanes;
        false
    }
}

/// The strip width the propagators use: the widest this processor runs (16, else 8), or none.
/// `WAVETRAIN_NO_STRIPS` (set to anything) turns the pass off and `WAVETRAIN_STRIP_LANES=8`
/// takes the AVX2 kernel on an AVX-512 processor, to compare the engines on one machine; a width
/// this processor cannot run is reported on stderr and the pass is left off.
pub(crate) fn lanes() -> Option<usize> {
    static LANES: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *LANES.get_or_init(|| {
        if std::env::var_os("WAVETRAIN_NO_STRIPS").is_some() {
            return None;
        }
        let want = std::env::var("WAVETRAIN_STRIP_LANES").ok();
        let found = [16, 8]
            .into_iter()
            .filter(|&l| want.as_deref().is_none_or(|w| w == l.to_string()))
            .find(|&l| supports(l));
        if let (Some(w), None) = (&want, found) {
            eprintln!(
                "wavetrain: WAVETRAIN_STRIP_LANES={w} is not a strip width this processor runs, so the \
                 column pass is off (rustfft's columns run); set it to {} (16 needs AVX-512F, 8 \
                 AVX2 and FMA) or unset it",
                [16, 8]
                    .into_iter()
                    .filter(|&l| supports(l))
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
        found
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

/// The kernel's stages, written once over the primitives each instruction set's module defines
/// (`V`, `W` lanes, `vadd` … `vstore`, `Rows`), compiled for its `$feature`s.
#[cfg(target_arch = "x86_64")]
macro_rules! strip_kernel {
    ($feature:literal) => {
        /// A complex value per lane: real and imaginary planes.
        #[derive(Clone, Copy)]
        struct C {
            r: V,
            i: V,
        }

        #[target_feature(enable = $feature)]
        #[inline]
        fn add(a: C, b: C) -> C {
            C {
                r: vadd(a.r, b.r),
                i: vadd(a.i, b.i),
            }
        }

        #[target_feature(enable = $feature)]
        #[inline]
        fn sub(a: C, b: C) -> C {
            C {
                r: vsub(a.r, b.r),
                i: vsub(a.i, b.i),
            }
        }

        /// `a + i·b`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn add_i(a: C, b: C) -> C {
            C {
                r: vsub(a.r, b.i),
                i: vadd(a.i, b.r),
            }
        }

        /// `a − i·b`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn sub_i(a: C, b: C) -> C {
            C {
                r: vadd(a.r, b.i),
                i: vsub(a.i, b.r),
            }
        }

        /// `a·w` (`CONJ`: `a·conj(w)`), lane by lane.
        #[target_feature(enable = $feature)]
        #[inline]
        fn mul<const CONJ: bool>(a: C, wr: V, wi: V) -> C {
            if CONJ {
                C {
                    r: vfmadd(a.r, wr, vmul(a.i, wi)),
                    i: vfmsub(a.i, wr, vmul(a.r, wi)),
                }
            } else {
                C {
                    r: vfmsub(a.r, wr, vmul(a.i, wi)),
                    i: vfmadd(a.r, wi, vmul(a.i, wr)),
                }
            }
        }

        /// The strip's planes: position `p` at `re[W·p..]` and `im[W·p..]`.
        struct Planes {
            re: *mut f32,
            im: *mut f32,
        }

        impl Planes {
            /// # Safety
            /// Position `p` must lie in the strip.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn get(&self, p: usize) -> C {
                // SAFETY: the caller's promise.
                unsafe {
                    C {
                        r: vload(self.re.add(W * p)),
                        i: vload(self.im.add(W * p)),
                    }
                }
            }

            /// # Safety
            /// Position `p` must lie in the strip.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn set(&self, p: usize, v: C) {
                // SAFETY: the caller's promise.
                unsafe {
                    vstore(self.re.add(W * p), v.r);
                    vstore(self.im.add(W * p), v.i);
                }
            }
        }

        /// Twiddle `m` (1-based) of butterfly `j` of a stage with `r − 1` per butterfly, broadcast.
        ///
        /// # Safety
        /// `tw` must hold butterfly `j`'s twiddles.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn twiddle(tw: *const f32, per: usize, j: usize, m: usize) -> (V, V) {
            // SAFETY: the caller's promise.
            unsafe {
                let p = tw.add(2 * (per * j + m - 1));
                (vset1(*p), vset1(*p.add(1)))
            }
        }

        /// One strip: load fused with the first forward stage, the middle forward stages, the last
        /// forward stage with the filter and the first inverse stage, the middle inverse stages, and
        /// the last inverse stage fused with the store.
        ///
        /// # Safety
        /// The features of this kernel must be present; `rows` must point to `ny` rows of `f.width` interleaved complex
        /// samples; `k0 < f.width`; `buf` must hold [`ColumnPass::buf_len`] floats; `2·ny ≤ f.len`.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn strip(
            f: &ColumnPass,
            rows: *mut f32,
            ny: usize,
            k0: usize,
            conj: bool,
            buf: &mut [f32],
        ) {
            let len = f.plan.len;
            let g = W.min(f.width - k0);
            // SAFETY: `k0` is inside each row, and the strip's `g` columns after it.
            let io = unsafe { Rows::new(rows.add(2 * k0), 2 * f.width, g) };
            let (re, im) = buf[..2 * len * W].split_at_mut(len * W);
            let st = Planes {
                re: re.as_mut_ptr(),
                im: im.as_mut_ptr(),
            };
            let h = k0 / W * len * W;
            // SAFETY: the transfer function holds `len` positions for every strip.
            let (hr, hi) = unsafe { (f.h_re.as_ptr().add(h), f.h_im.as_ptr().add(h)) };
            let n = f.plan.stages.len();
            // SAFETY (for the stage calls below): every position a stage touches is below `len`,
            // every row it reads or writes below `ny`, every twiddle inside its stage's table.
            unsafe {
                first_forward(&f.plan, &io, &st, ny);
                for k in 1..n - 1 {
                    middle_forward(&f.plan, &st, k);
                }
                if conj {
                    filter::<true>(len, &st, hr, hi);
                } else {
                    filter::<false>(len, &st, hr, hi);
                }
                for k in (1..n - 1).rev() {
                    middle_inverse(&f.plan, &st, k);
                }
                last_inverse(&f.plan, &io, &st, ny);
            }
        }

        /// The first forward stage, reading the rows (the upper half of the input is zero).
        ///
        /// # Safety
        /// As [`strip`].
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn first_forward(f: &Stages, io: &Rows, st: &Planes, ny: usize) {
            let (r, s) = f.stages[0];
            let tw = f.tw[0].as_ptr();
            let zero = C {
                r: vzero(),
                i: vzero(),
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
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn middle_forward(f: &Stages, st: &Planes, k: usize) {
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
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn middle_inverse(f: &Stages, st: &Planes, k: usize) {
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
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn filter<const CONJ: bool>(
            len: usize,
            st: &Planes,
            hr: *const f32,
            hi: *const f32,
        ) {
            // SAFETY: positions `p..p + 4 ≤ len`, and the filter holds `len` positions.
            unsafe {
                for p in (0..len).step_by(4) {
                    let (a, b, c, d) = (st.get(p), st.get(p + 1), st.get(p + 2), st.get(p + 3));
                    let (t0, t1, t2, t3) = (add(a, c), sub(a, c), add(b, d), sub(b, d));
                    let y = [add(t0, t2), sub_i(t1, t3), sub(t0, t2), add_i(t1, t3)];
                    let mut z = y;
                    for (m, v) in z.iter_mut().enumerate() {
                        let q = W * (p + m);
                        *v = mul::<CONJ>(*v, vload(hr.add(q)), vload(hi.add(q)));
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
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn last_inverse(f: &Stages, io: &Rows, st: &Planes, ny: usize) {
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
        /// One strip of [`ColumnFft`]: the load fused with the first forward stage, the middle
        /// stages, and the last stage fused with the scale and the store in natural order. With
        /// `inverse`, the planes are swapped on the way in and out.
        ///
        /// # Safety
        /// The features of this kernel must be present; `rows` must point to `len` rows of
        /// `f.width` interleaved complex samples; `k0 < f.width`; `buf` must hold
        /// [`ColumnFft::buf_len`] floats.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn transform(
            f: &ColumnFft,
            rows: *mut f32,
            k0: usize,
            inverse: bool,
            scale: f32,
            buf: &mut [f32],
        ) {
            let len = f.plan.len;
            let g = W.min(f.width - k0);
            // SAFETY: `k0` is inside each row, and the strip's `g` columns after it.
            let io = unsafe { Rows::new(rows.add(2 * k0), 2 * f.width, g) };
            let (re, im) = buf[..2 * len * W].split_at_mut(len * W);
            let st = Planes {
                re: re.as_mut_ptr(),
                im: im.as_mut_ptr(),
            };
            let n = f.plan.stages.len();
            // SAFETY (for the stage calls below): every position a stage touches is below `len`,
            // every row it reads or writes below `len`, every twiddle inside its stage's table.
            unsafe {
                if inverse {
                    load_first::<true>(&f.plan, &io, &st);
                } else {
                    load_first::<false>(&f.plan, &io, &st);
                }
                for k in 1..n - 1 {
                    middle_forward(&f.plan, &st, k);
                }
                if inverse {
                    last_store::<true>(f, &io, &st, scale);
                } else {
                    last_store::<false>(f, &io, &st, scale);
                }
            }
        }

        /// `v` with its planes swapped when `SWAP`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn swap<const SWAP: bool>(v: C) -> C {
            if SWAP {
                C { r: v.i, i: v.r }
            } else {
                v
            }
        }

        /// The first forward stage of a full line, reading the rows (`SWAP`: planes swapped).
        ///
        /// # Safety
        /// As [`transform`].
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn load_first<const SWAP: bool>(f: &Stages, io: &Rows, st: &Planes) {
            let (r, s) = f.stages[0];
            let tw = f.tw[0].as_ptr();
            // SAFETY: rows and positions `j + m·s < r·s = len`; twiddles `j < s`.
            unsafe {
                if r == 2 {
                    for j in 0..s {
                        let a = swap::<SWAP>(io.load(j));
                        let b = swap::<SWAP>(io.load(j + s));
                        let (wr, wi) = twiddle(tw, 1, j, 1);
                        st.set(j, add(a, b));
                        st.set(j + s, mul::<false>(sub(a, b), wr, wi));
                    }
                    return;
                }
                for j in 0..s {
                    let a = swap::<SWAP>(io.load(j));
                    let b = swap::<SWAP>(io.load(j + s));
                    let c = swap::<SWAP>(io.load(j + 2 * s));
                    let d = swap::<SWAP>(io.load(j + 3 * s));
                    let (t0, t1, t2, t3) = (add(a, c), sub(a, c), add(b, d), sub(b, d));
                    st.set(j, add(t0, t2));
                    let (w1r, w1i) = twiddle(tw, 3, j, 1);
                    let (w2r, w2i) = twiddle(tw, 3, j, 2);
                    let (w3r, w3i) = twiddle(tw, 3, j, 3);
                    st.set(j + s, mul::<false>(sub_i(t1, t3), w1r, w1i));
                    st.set(j + 2 * s, mul::<false>(sub(t0, t2), w2r, w2i));
                    st.set(j + 3 * s, mul::<false>(add_i(t1, t3), w3r, w3i));
                }
            }
        }

        /// The last forward stage (radix 4, span 1: no twiddles), times `scale`, stored to the
        /// row of each position's frequency (`SWAP`: planes swapped back).
        ///
        /// # Safety
        /// As [`transform`].
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn last_store<const SWAP: bool>(f: &ColumnFft, io: &Rows, st: &Planes, scale: f32) {
            let q = f.plan.len / 4;
            let k = vset1(scale);
            let scaled = |v: C| C {
                r: vmul(v.r, k),
                i: vmul(v.i, k),
            };
            // SAFETY: positions `4·b + m < len`; rows `rows[b] + m·q < len`.
            unsafe {
                for (b, &row) in f.rows.iter().enumerate() {
                    let p = 4 * b;
                    let (a, bb, c, d) = (st.get(p), st.get(p + 1), st.get(p + 2), st.get(p + 3));
                    let (t0, t1, t2, t3) = (add(a, c), sub(a, c), add(bb, d), sub(bb, d));
                    io.store(row, swap::<SWAP>(scaled(add(t0, t2))));
                    io.store(row + q, swap::<SWAP>(scaled(sub_i(t1, t3))));
                    io.store(row + 2 * q, swap::<SWAP>(scaled(sub(t0, t2))));
                    io.store(row + 3 * q, swap::<SWAP>(scaled(add_i(t1, t3))));
                }
            }
        }
    };
}

/// The arithmetic primitives `strip_kernel!` builds on (`vadd` … `vstore`), for the module's
/// register type `V` and the intrinsics of its width.
#[cfg(target_arch = "x86_64")]
macro_rules! lane_ops {
    ($feature:literal, $add:ident, $sub:ident, $mul:ident, $fmadd:ident, $fmsub:ident,
     $set1:ident, $zero:ident, $load:ident, $store:ident) => {
        #[target_feature(enable = $feature)]
        #[inline]
        fn vadd(a: V, b: V) -> V {
            $add(a, b)
        }
        #[target_feature(enable = $feature)]
        #[inline]
        fn vsub(a: V, b: V) -> V {
            $sub(a, b)
        }
        #[target_feature(enable = $feature)]
        #[inline]
        fn vmul(a: V, b: V) -> V {
            $mul(a, b)
        }
        /// `a·b + c`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn vfmadd(a: V, b: V, c: V) -> V {
            $fmadd(a, b, c)
        }
        /// `a·b − c`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn vfmsub(a: V, b: V, c: V) -> V {
            $fmsub(a, b, c)
        }
        #[target_feature(enable = $feature)]
        #[inline]
        fn vset1(x: f32) -> V {
            $set1(x)
        }
        #[target_feature(enable = $feature)]
        #[inline]
        fn vzero() -> V {
            $zero()
        }
        /// # Safety
        /// `p` must point to `W` floats.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn vload(p: *const f32) -> V {
            // SAFETY: the caller's promise.
            unsafe { $load(p) }
        }
        /// # Safety
        /// `p` must point to `W` writable floats.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn vstore(p: *mut f32, v: V) {
            // SAFETY: the caller's promise.
            unsafe { $store(p, v) }
        }
    };
}

/// AVX-512F: strips of 16 columns.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{ColumnFft, ColumnPass, Stages};

    /// Lanes (columns) per strip.
    pub(super) const W: usize = 16;
    type V = __m512;

    lane_ops!(
        "avx512f",
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_fmadd_ps,
        _mm512_fmsub_ps,
        _mm512_set1_ps,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps
    );

    /// The strip's `g ≤ 16` columns of the interleaved rows: two 16-float registers a row,
    /// masked to the strip, split into planes with two-source permutes.
    struct Rows {
        base: *mut f32,
        /// Floats per row.
        stride: usize,
        m0: __mmask16,
        m1: __mmask16,
        even: __m512i,
        odd: __m512i,
        lo: __m512i,
        hi: __m512i,
    }

    impl Rows {
        /// # Safety
        /// `base` must point to the strip's first column of row 0.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn new(base: *mut f32, stride: usize, g: usize) -> Self {
            let mask = |n: usize| -> __mmask16 {
                if n >= 16 {
                    0xffff
                } else {
                    (1u16 << n) - 1
                }
            };
            Rows {
                base,
                stride,
                m0: mask(2 * g),
                m1: mask((2 * g).saturating_sub(16)),
                even: _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                odd: _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
                lo: _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
                hi: _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31),
            }
        }

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
                let b = _mm512_maskz_loadu_ps(self.m1, p.add(16));
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
                let hi = _mm512_permutex2var_ps(v.r, self.hi, v.i);
                _mm512_mask_storeu_ps(p.add(16), self.m1, hi);
            }
        }
    }

    strip_kernel!("avx512f");
}

/// AVX2 and FMA: strips of 8 columns.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{ColumnFft, ColumnPass, Stages};

    /// Lanes (columns) per strip.
    pub(super) const W: usize = 8;
    type V = __m256;

    lane_ops!(
        "avx2,fma",
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_fmadd_ps,
        _mm256_fmsub_ps,
        _mm256_set1_ps,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps
    );

    /// `(x0 x1 x4 x5 | x2 x3 x6 x7)` ↔ `(x0 … x7)`: the 64-bit quarters in the order 0, 2, 1, 3.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn quarters(x: V) -> V {
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(x)))
    }

    /// The strip's `g ≤ 8` columns of the interleaved rows: two 8-float registers a row, masked
    /// to the strip, split into planes with in-lane shuffles and a quarter permute.
    struct Rows {
        base: *mut f32,
        /// Floats per row.
        stride: usize,
        m0: __m256i,
        m1: __m256i,
    }

    impl Rows {
        /// # Safety
        /// `base` must point to the strip's first column of row 0.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn new(base: *mut f32, stride: usize, g: usize) -> Self {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = |n: usize| _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), lane);
            Rows {
                base,
                stride,
                m0: mask(2 * g),
                m1: mask((2 * g).saturating_sub(8)),
            }
        }

        /// Row `y`, split into planes (lanes past the strip's width read as zero).
        ///
        /// # Safety
        /// Row `y` must exist.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn load(&self, y: usize) -> C {
            // SAFETY: the caller's promise; the masks keep the loads inside the strip's columns.
            unsafe {
                let p = self.base.add(y * self.stride);
                let a = _mm256_maskload_ps(p, self.m0);
                let b = _mm256_maskload_ps(p.add(8), self.m1);
                C {
                    r: quarters(_mm256_shuffle_ps::<0b10_00_10_00>(a, b)),
                    i: quarters(_mm256_shuffle_ps::<0b11_01_11_01>(a, b)),
                }
            }
        }

        /// Writes `v` to row `y` (the strip's columns only).
        ///
        /// # Safety
        /// Row `y` must exist.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn store(&self, y: usize, v: C) {
            // SAFETY: the caller's promise; the masks keep the stores inside the strip's columns.
            unsafe {
                let p = self.base.add(y * self.stride);
                let (r, i) = (quarters(v.r), quarters(v.i));
                _mm256_maskstore_ps(p, self.m0, _mm256_unpacklo_ps(r, i));
                _mm256_maskstore_ps(p.add(8), self.m1, _mm256_unpackhi_ps(r, i));
            }
        }
    }

    strip_kernel!("avx2,fma");
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
            let p = ColumnPass::plan(len, 1, 16, |_, _| Complex::new(1.0, 0.0));
            let mut seen = vec![false; len];
            for q in 0..len {
                let k = frequency(q, len, &p.plan.stages);
                assert!(
                    k < len && !seen[k],
                    "len {len}: position {q} → {k} twice or out of range"
                );
                seen[k] = true;
            }
            assert_eq!(p.plan.stages.last(), Some(&(4, 1)), "len {len}: last stage");
        }
    }

    /// Every column through the pass against pad → naive DFT → H → naive inverse → crop, for
    /// lengths with and without the radix-2 stage, strips full and partial, both signs of H.
    #[test]
    fn strips_match_the_padded_dft_filter() {
        let widths: Vec<usize> = [16, 8].into_iter().filter(|&l| supports(l)).collect();
        if widths.is_empty() {
            eprintln!("SKIPPED: this processor has neither AVX-512F nor AVX2 and FMA, so the column pass is never used");
            return;
        }
        for lanes in widths {
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
                let pass = ColumnPass::plan(len, width, lanes, h);
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
                    "{lanes} lanes, len {len} width {width} ny {ny} conj {conj}: relative error {worst:.2e}"
                );
                }
            }
        }
    }

    /// Every column through the plain transform against the naive DFT, forward and inverse, for
    /// lengths with and without the radix-2 stage, strips full and partial, in both strip widths
    /// this processor runs (so the AVX2 kernel is tested on AVX-512 processors too).
    #[test]
    fn plain_strips_match_the_dft_in_natural_order() {
        let widths: Vec<usize> = [16, 8].into_iter().filter(|&l| supports(l)).collect();
        if widths.is_empty() {
            eprintln!("SKIPPED: this processor has neither AVX-512F nor AVX2 and FMA, so the plain column transform is never used");
            return;
        }
        for lanes in widths {
            for (len, width) in [
                (8, 3),
                (16, 16),
                (32, 20),
                (64, 40),
                (128, 17),
                (256, 33),
                (512, 8),
                (1024, 5),
                (2048, 18),
            ] {
                let f = ColumnFft::plan(len, width, lanes);
                let x = noise(3 + len as u64, len * width);
                for (inverse, scale) in [(false, 1.0f32), (true, 0.25)] {
                    let mut img: Vec<Complex<f32>> = x
                        .iter()
                        .map(|v| Complex::new(v.re as f32, v.im as f32))
                        .collect();
                    let mut buf = vec![0.0; f.buf_len()];
                    f.transform(&mut img, inverse, scale, &mut buf);
                    let mut worst = 0.0f64;
                    for kx in 0..width {
                        let col: Vec<Complex<f64>> = (0..len).map(|y| x[y * width + kx]).collect();
                        let want = dft(&col, if inverse { 1.0 } else { -1.0 });
                        let norm = want.iter().map(|v| v.norm()).fold(0.0, f64::max);
                        for (ky, w) in want.iter().enumerate() {
                            let got = img[ky * width + kx];
                            let got = Complex::new(got.re as f64, got.im as f64);
                            worst =
                                worst.max((got - w * scale as f64).norm() / (norm * scale as f64));
                        }
                    }
                    assert!(
                        worst < 2e-6 * (len as f64).log2(),
                        "{lanes} lanes, len {len} width {width} inverse {inverse}: relative error {worst:.2e}"
                    );
                }
            }
        }
    }
}
