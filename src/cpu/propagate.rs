//! Free-space propagation on the CPU (mirrors `shaders/propagate.wgsl`): zero-pad, 2-D FFT,
//! multiply by the band-limited angular-spectrum transfer function, inverse FFT, crop.
//!
//! The padding is never materialised as a full 2-D pass: the forward row FFTs run only on the `ny`
//! rows that hold light, the column FFT, transfer function and inverse column FFT are fused in one
//! pass per column, and the inverse row FFTs run only on the `ny` rows that survive the crop. With
//! 2× padding that is 6 instead of 8 passes of 1-D FFTs. The unitary scale `1/(Nx·Ny)` is folded
//! into the stored transfer function.
//!
//! The transforms need not have the padded length: the step is a convolution whose kernel fits
//! any length `≥ 2n − 1`, so it runs on whichever length the cost model finds cheapest
//! ([`transform_axes_for`], [`transfer_on_grid`]): the same operator. And an axis whose light
//! fills at most half its length may run as two half-length transforms ([`AxisFft`]): the even
//! frequencies transform the light, the odd ones the light times `e^{−2πi·j/len}`, and the way back
//! adds the two halves' inverses with the conjugate twiddles. A 50-pixel side at 2× padding thus
//! runs 108-point lines as two of rustfft's 54-point kernels each, instead of 100-point (slow
//! factors of 5) or 128-point lines; the spectrum is then stored even frequencies first, and the
//! transfer function in the same order.
//!
//! In `f32` on x86-64 processors with AVX-512F or AVX2 and FMA, when the column length is a power
//! of two of at least twice the light, the whole column half of the step — forward transforms,
//! filter, inverse transforms — runs vectorised across 16 (or 8) columns at a time, in place on
//! the row spectra, with no transposes (`super::columns`); the cost model then weighs column
//! lengths for that pass ([`ColumnEngine::Strips`]), which for a 50-pixel side picks 128-point
//! columns.
//!
//! The operator `M = C·F⁻¹·H·F·P` is symmetric (`Mᵀ = M`, because `H(f) = H(−f)` and the DFT is
//! symmetric), so the probe pass applies the same kernel; its adjoint `Mᴴ` uses `conj(H)`.

use std::sync::Arc;

use multiversion::multiversion;
use num_complex::Complex;
use rayon::prelude::*;
use rustfft::FftPlanner;

use super::columns::ColumnPass;
use super::fft::{split_len, PerThread, Plan1d, ScratchPool, MIN_ROWS_PER_TASK};
use super::lengths::{transform_axes_for, ColumnEngine};
use super::simd::{gather_columns, mul_add, mul_elementwise, mul_to, scatter_columns};
use crate::fft::{AxisFft, FftSizes};
use crate::grid::{padded_len, Grid};
use crate::optics::{sampling_report, transfer_function, transfer_on_grid, SamplingReport};
use crate::real::{c_of, Real};

/// A planned free-space step of fixed distance on a fixed grid.
pub struct Propagator<T: Real> {
    nx: usize,
    ny: usize,
    /// Padded grid (the physics).
    padded: (usize, usize),
    /// Transform lengths (`px × py` is the grid the operator is computed on).
    px: usize,
    py: usize,
    /// Where the light sits in a transform line (0 for an axis in halves).
    ox: usize,
    oy: usize,
    /// The twiddles of an axis run in halves ([`AxisFft`]).
    hx: Option<Halves<T>>,
    hy: Option<Halves<T>>,
    /// Transfer function on the transform grid, transposed to `[kx][ky]` and scaled by
    /// `1/(px·py)`, each axis in the order its transforms leave the spectrum (in halves: the even
    /// frequencies, then the odd ones); shared by [`share`](Propagator::share)d copies.
    h_t: Arc<[Complex<T>]>,
    /// The column pass vectorised across columns (`f32` with AVX-512F or AVX2, a power-of-two
    /// column length; then `h_t` is empty and `oy` is 0).
    strips: Option<Arc<ColumnPass>>,
    rows: Plan1d<T>,
    cols: Plan1d<T>,
    pool: ScratchPool<T>,
    images: PerThread<ImageWork<T>>,
    scratch: PropScratch<T>,
    report: SamplingReport,
}

/// The twiddles of an axis transformed in halves: `tw[j] = e^{−2πi·j/len}` for the `n` samples
/// of light, and the half length `m`.
#[derive(Clone)]
struct Halves<T> {
    m: usize,
    tw: Arc<[Complex<T>]>,
}

impl<T: Real> Halves<T> {
    fn new(a: AxisFft, n: usize) -> Option<Self> {
        a.halves.then(|| Halves {
            m: a.len / 2,
            tw: (0..n)
                .map(|j| {
                    let phi = -2.0 * std::f64::consts::PI * j as f64 / a.len as f64;
                    c_of(Complex::from_polar(1.0, phi))
                })
                .collect(),
        })
    }
}

/// Writes the `n` samples of light `x` into a transform line: at `o` or, in halves, at 0 and,
/// times the twiddles, at `m`. The rest of the line is not touched.
#[inline(always)]
fn load_light<T: Real>(
    line: &mut [Complex<T>],
    x: &[Complex<T>],
    o: usize,
    halves: Option<&Halves<T>>,
) {
    match halves {
        None => line[o..o + x.len()].copy_from_slice(x),
        Some(h) => {
            let (even, odd) = line.split_at_mut(h.m);
            even[..x.len()].copy_from_slice(x);
            mul_to(&mut odd[..x.len()], x, &h.tw);
        }
    }
}

/// Makes the light of a line [`load_light`] wrote (at 0) and the even half holds into both
/// halves: `line[m + j] = line[j]·tw[j]`.
#[inline(always)]
fn split_light<T: Real>(line: &mut [Complex<T>], n: usize, h: &Halves<T>) {
    let (even, odd) = line.split_at_mut(h.m);
    mul_to(&mut odd[..n], &even[..n], &h.tw);
}

/// The `n` samples of light of an inverse-transformed line: `line[o..o + n]` or, in halves,
/// `line[j] + line[m + j]·conj(tw[j])`.
#[inline(always)]
fn store_light<T: Real>(
    line: &[Complex<T>],
    out: &mut [Complex<T>],
    o: usize,
    halves: Option<&Halves<T>>,
) {
    match halves {
        None => out.copy_from_slice(&line[o..o + out.len()]),
        Some(h) => {
            let (even, odd) = line.split_at(h.m);
            out.copy_from_slice(&even[..out.len()]);
            mul_add(out, odd, &h.tw, true);
        }
    }
}

/// [`store_light`] of a halved line into its own first `n` samples.
#[inline(always)]
fn join_light<T: Real>(line: &mut [Complex<T>], n: usize, h: &Halves<T>) {
    let (even, odd) = line.split_at_mut(h.m);
    mul_add(&mut even[..n], odd, &h.tw, true);
}

/// The spectrum index a transform line leaves at position `i`: `i` itself, or, in halves,
/// the even frequencies `2i` first and the odd ones `2(i − m) + 1` after them.
fn freq_at(i: usize, a: AxisFft) -> usize {
    let m = a.len / 2;
    match (a.halves, i < m) {
        (false, _) => i,
        (true, true) => 2 * i,
        (true, false) => 2 * (i - m) + 1,
    }
}

/// Working buffers of a free-space step (row-padded spectra and padded columns), which several
/// propagators of one network can share: they grow to the largest batch and grid they see.
#[derive(Default)]
pub struct PropScratch<T> {
    a: Vec<Complex<T>>,
    b: Vec<Complex<T>>,
    img: ImageWork<T>,
}

impl<T: Real> PropScratch<T> {
    /// Empty scratch.
    pub fn new() -> Self {
        PropScratch {
            a: Vec::new(),
            b: Vec::new(),
            img: ImageWork::default(),
        }
    }
}

/// Working buffers of one image's free-space step ([`image`]). The zero padding of `rows_in`
/// and `cols_in` is written once for `layout` and kept: each step writes only the light and
/// transforms out of place, so nothing is cleared per step.
pub(crate) struct ImageWork<T> {
    /// `(nx, ny, px, py, ox, oy, mx, my)` the buffers are laid out (and padded) for (`m` is the
    /// half length of an axis in halves, else 0).
    layout: [usize; 8],
    /// Padded rows that hold light, `[ny][px]`.
    rows_in: Vec<Complex<T>>,
    /// Their spectra, later the inverse row transforms, `[ny][px]`.
    rows: Vec<Complex<T>>,
    /// A group of padded columns, `[LINES][py]`.
    cols_in: Vec<Complex<T>>,
    /// Their spectra, `[LINES][py]`.
    cols: Vec<Complex<T>>,
    /// rustfft's scratch.
    fs: Vec<Complex<T>>,
    /// A strip's planes ([`ColumnPass`]), in place of `cols_in` and `cols`.
    strip: Vec<f32>,
}

impl<T> Default for ImageWork<T> {
    fn default() -> Self {
        ImageWork {
            layout: [0; 8],
            rows_in: Vec::new(),
            rows: Vec::new(),
            cols_in: Vec::new(),
            cols: Vec::new(),
            fs: Vec::new(),
            strip: Vec::new(),
        }
    }
}

impl<T: Real> ImageWork<T> {
    /// Lays the buffers out for `p` (zeroing them) unless they already are.
    fn ready(&mut self, p: &Propagator<T>) {
        let m = |h: &Option<Halves<T>>| h.as_ref().map_or(0, |h| h.m);
        let layout = [p.nx, p.ny, p.px, p.py, p.ox, p.oy, m(&p.hx), m(&p.hy)];
        if self.layout == layout {
            return;
        }
        let zero = Complex::new(T::zero(), T::zero());
        let fft = [&p.rows, &p.cols]
            .iter()
            .map(|pl| {
                pl.scratch_len()
                    .max(pl.fwd.get_immutable_scratch_len())
                    .max(pl.inv.get_immutable_scratch_len())
            })
            .max()
            .unwrap_or(0);
        let cols = if p.strips.is_some() { 0 } else { LINES * p.py };
        for (v, len) in [
            (&mut self.rows_in, p.ny * p.px),
            (&mut self.rows, p.ny * p.px),
            (&mut self.cols_in, cols),
            (&mut self.cols, cols),
            (&mut self.fs, fft),
        ] {
            v.clear();
            v.resize(len, zero);
        }
        self.strip.clear();
        self.strip
            .resize(p.strips.as_ref().map_or(0, |c| c.buf_len()), 0.0);
        self.layout = layout;
    }
}

impl<T: Real> Propagator<T> {
    /// Plans propagation over `distance` metres at `wavelength` on `grid`, zero-padded by the
    /// factor `pad` (≥ 1; 2 is the default elsewhere), with the Matsushima–Shimobaba band limit
    /// when `band_limit` is true.
    pub fn new(grid: &Grid, wavelength: f64, distance: f64, pad: f64, band_limit: bool) -> Self {
        Self::with_sizes(grid, wavelength, distance, pad, band_limit, FftSizes::Auto)
    }

    /// [`new`](Self::new) with the transform lengths chosen by `sizes`
    /// ([`FftSizes::Padded`] runs the textbook padded-grid method).
    pub fn with_sizes(
        grid: &Grid,
        wavelength: f64,
        distance: f64,
        pad: f64,
        band_limit: bool,
        sizes: FftSizes,
    ) -> Self {
        let (nx, ny) = (grid.nx, grid.ny);
        let (qx, qy) = (padded_len(nx, pad), padded_len(ny, pad));
        let engine = ColumnEngine::for_precision::<T>();
        let (ax, ay) = transform_axes_for(nx, ny, qx, qy, sizes, engine);
        let (px, py) = (ax.len, ay.len);
        let h = transfer_function(qx, qy, grid.dx, wavelength, distance, band_limit);
        let h = transfer_on_grid(&h, nx, ny, qx, qy, px, py);
        let scale = 1.0 / (px * py) as f64;
        let strips = (matches!(engine, ColumnEngine::Strips { .. }) && ay.suits_strips(ny))
            .then(|| {
                ColumnPass::new(py, px, |i, ky| h[ky * px + freq_at(i, ax)] * scale).map(Arc::new)
            })
            .flatten();
        let mut h_t = Vec::new();
        if strips.is_none() {
            h_t = vec![Complex::new(T::zero(), T::zero()); px * py];
            for j in 0..py {
                let ky = freq_at(j, ay);
                for i in 0..px {
                    h_t[i * py + j] = c_of(h[ky * px + freq_at(i, ax)] * scale);
                }
            }
        }
        // Light sits mid-line (as on the padded grid) or, in halves or strips, at the start.
        let at = |a: AxisFft, n: usize| if a.halves { 0 } else { (a.len - n) / 2 };
        let oy = if strips.is_some() { 0 } else { at(ay, ny) };
        let mut planner = FftPlanner::new();
        Propagator {
            nx,
            ny,
            padded: (qx, qy),
            px,
            py,
            ox: at(ax, nx),
            oy,
            hx: Halves::new(ax, nx),
            hy: Halves::new(ay, ny),
            h_t: h_t.into(),
            strips,
            rows: Plan1d::new(&mut planner, ax.run_len()),
            cols: Plan1d::new(&mut planner, ay.run_len()),
            pool: ScratchPool::new(),
            images: PerThread::new(),
            scratch: PropScratch::new(),
            report: sampling_report(nx, ny, grid.dx, pad, wavelength, distance),
        }
    }

    /// The same step with its own working buffers, sharing this one's transfer function and
    /// plans (for another free-space step of the same distance).
    pub fn share(&self) -> Self {
        Propagator {
            nx: self.nx,
            ny: self.ny,
            padded: self.padded,
            px: self.px,
            py: self.py,
            ox: self.ox,
            oy: self.oy,
            hx: self.hx.clone(),
            hy: self.hy.clone(),
            h_t: Arc::clone(&self.h_t),
            strips: self.strips.clone(),
            rows: self.rows.clone(),
            cols: self.cols.clone(),
            pool: ScratchPool::new(),
            images: PerThread::new(),
            scratch: PropScratch::new(),
            report: self.report.clone(),
        }
    }

    /// The padded grid size `(px, py)`: the grid whose operator this step applies.
    pub fn padded(&self) -> (usize, usize) {
        self.padded
    }

    /// The transform lengths the step runs its FFTs at (the padded grid or a cheaper one that
    /// holds the same operator).
    pub fn transform(&self) -> (usize, usize) {
        (self.px, self.py)
    }

    /// What runs this step's column transforms: [`ColumnEngine::Strips`] when the column pass
    /// vectorised across columns does (`f32`, AVX-512F or AVX2, an axis that suits it).
    pub fn column_engine(&self) -> ColumnEngine {
        match &self.strips {
            Some(c) => ColumnEngine::Strips { lanes: c.lanes() },
            None => ColumnEngine::Lines,
        }
    }

    /// The sampling diagnostics of this step.
    pub fn report(&self) -> &SamplingReport {
        &self.report
    }

    /// Propagates every image of `data` (`[batch][ny][nx]`) in place. This is both the pump
    /// action and the probe action (the operator is its own transpose).
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `nx·ny`.
    pub fn apply(&mut self, data: &mut [Complex<T>]) {
        let mut s = std::mem::take(&mut self.scratch);
        self.run(data, false, &mut s);
        self.scratch = s;
    }

    /// [`apply`](Self::apply) with caller-owned scratch, so that the propagators of one network
    /// share one set of working buffers.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `nx·ny`.
    pub fn apply_with(&self, data: &mut [Complex<T>], scratch: &mut PropScratch<T>) {
        self.run(data, false, scratch);
    }

    /// Applies the adjoint `Mᴴ` (the transfer function conjugated): backward propagation on
    /// propagating modes.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `nx·ny`.
    pub fn apply_adjoint(&mut self, data: &mut [Complex<T>]) {
        let mut s = std::mem::take(&mut self.scratch);
        self.run(data, true, &mut s);
        self.scratch = s;
    }

    fn run(&self, data: &mut [Complex<T>], conj: bool, scratch: &mut PropScratch<T>) {
        let (nx, ny) = (self.nx, self.ny);
        if !data.len().is_multiple_of(nx * ny) {
            bad_len(data.len(), nx * ny);
        }
        let batch = data.len() / (nx * ny);
        let threads = rayon::current_num_threads();
        if rayon::current_thread_index().is_some() || threads == 1 {
            // Already one task of a parallel loop (a chunk of a batch), or a one-thread pool
            // (handing each pass to its one worker would only add wake-ups): image by image,
            // serially, on this thread.
            scratch.img.ready(self);
            for img in data.chunks_mut(nx * ny) {
                image(self, img, conj, &mut scratch.img);
            }
        } else if batch >= 2 * threads {
            // Enough images to keep every core busy: one image per task.
            data.par_chunks_mut(nx * ny).for_each(|img| {
                self.images.with(|w| {
                    w.ready(self);
                    image(self, img, conj, w)
                })
            });
        } else {
            self.run_passes(data, conj, scratch);
        }
    }

    /// The whole batch pass by pass, each pass split across the cores: for a few large images.
    fn run_passes(&self, data: &mut [Complex<T>], conj: bool, scratch: &mut PropScratch<T>) {
        let (nx, ny, px, py, ox, oy) = (self.nx, self.ny, self.px, self.py, self.ox, self.oy);
        let batch = data.len() / (nx * ny);
        let zero = Complex::new(T::zero(), T::zero());
        if scratch.a.len() < batch * ny * px {
            scratch.a.resize(batch * ny * px, zero);
        }
        // The column pass across columns works in place in `a`.
        let lb = if self.strips.is_some() {
            0
        } else {
            batch * px * py
        };
        if scratch.b.len() < lb {
            scratch.b.resize(lb, zero);
        }
        let a = &mut scratch.a[..batch * ny * px];
        let b = &mut scratch.b[..lb];
        let (pool, rows, cols, h_t) = (&self.pool, &self.rows, &self.cols, &self.h_t);
        let (hx, hy) = (self.hx.as_ref(), self.hy.as_ref());
        let (sr, sc) = (rows.scratch_len(), cols.scratch_len());

        // Each task takes G rows (or columns) and hands them to rustfft in one call.
        const G: usize = MIN_ROWS_PER_TASK;

        // 1. Pad each row in x and FFT it; rows that would be all zero are never formed.
        let min = split_len(1);
        a.par_chunks_mut(px * G)
            .zip(data.par_chunks(nx * G))
            .with_min_len(min)
            .for_each(|(ag, dg)| {
                for (ar, dr) in ag.chunks_mut(px).zip(dg.chunks(nx)) {
                    ar.fill(zero);
                    load_light(ar, dr, ox, hx);
                }
                pool.with(sr, |s| rows.fwd.process_with_scratch(ag, s));
            });

        // 2. Per spectral column kx: gather (padding in y), FFT, multiply by H, inverse FFT; or
        //    the same in place for each strip of 16 columns of each image.
        if let Some(c) = &self.strips {
            let base = SendPtr(a.as_mut_ptr());
            let strips = c.strips();
            (0..batch * strips).into_par_iter().for_each(|t| {
                let rows = base;
                self.images.with(|w| {
                    w.ready(self);
                    // SAFETY: image `t / strips` has `ny·px` samples inside `a`, and each task
                    // is the only one that touches its strip of its image.
                    unsafe {
                        c.filter_strip(
                            rows.0.add(t / strips * ny * px),
                            ny,
                            t % strips,
                            conj,
                            &mut w.strip,
                        )
                    }
                })
            });
        } else {
            let a_ro: &[Complex<T>] = a;
            b.par_chunks_mut(py * G)
                .with_min_len(min)
                .enumerate()
                .for_each(|(gi, cg)| {
                    for (j, col) in cg.chunks_mut(py).enumerate() {
                        let i = gi * G + j;
                        let (img, kx) = (i / px, i % px);
                        col.fill(zero);
                        let src = &a_ro[img * ny * px..(img + 1) * ny * px];
                        for y in 0..ny {
                            col[oy + y] = src[y * px + kx];
                        }
                        if let Some(h) = hy {
                            split_light(col, ny, h);
                        }
                    }
                    pool.with(sc, |s| {
                        cols.fwd.process_with_scratch(cg, s);
                        for (j, col) in cg.chunks_mut(py).enumerate() {
                            let kx = (gi * G + j) % px;
                            mul_elementwise(col, &h_t[kx * py..(kx + 1) * py], conj);
                        }
                        cols.inv.process_with_scratch(cg, s);
                    });
                    if let Some(h) = hy {
                        for col in cg.chunks_mut(py) {
                            join_light(col, ny, h);
                        }
                    }
                });
        }

        // 3. Gather the rows that survive the crop, inverse-FFT them, crop in x.
        let b_ro: &[Complex<T>] = b;
        let strips = self.strips.is_some();
        a.par_chunks_mut(px * G)
            .zip(data.par_chunks_mut(nx * G))
            .with_min_len(min)
            .enumerate()
            .for_each(|(gi, (ag, dg))| {
                for (j, ar) in ag.chunks_mut(px).enumerate().filter(|_| !strips) {
                    let i = gi * G + j;
                    let (img, y) = (i / ny, i % ny);
                    let src = &b_ro[img * px * py..(img + 1) * px * py];
                    for (kx, v) in ar.iter_mut().enumerate() {
                        *v = src[kx * py + oy + y];
                    }
                }
                pool.with(sr, |s| rows.inv.process_with_scratch(ag, s));
                for (ar, dr) in ag.chunks(px).zip(dg.chunks_mut(nx)) {
                    store_light(ar, dr, ox, hx);
                }
            });
    }
}

/// One image's free-space step, serially, with every intermediate small enough for the core's
/// caches: the `ny` rows that hold light are transformed out of their kept zero padding; each
/// group of [`LINES`] spectrum columns is transposed straight from those rows into its kept
/// column padding (`simd::gather_columns`: transpose and padding in one pass), transformed,
/// filtered, transformed back, and its crop transposed straight back into the rows; the rows that
/// survive the crop are then transformed back in place. With the column pass across columns
/// (`strips`), step 2 runs on the row spectra in place instead.
///
/// Compiled once for the baseline x86-64 and once with AVX2 and FMA, chosen at run time: the
/// filter multiply and the copies are plain loops that the compiler vectorises for whichever is
/// present.
#[multiversion(targets("x86_64+avx2+fma"))]
fn image<T: Real>(p: &Propagator<T>, img: &mut [Complex<T>], conj: bool, w: &mut ImageWork<T>) {
    let (nx, ny, px, py, ox, oy) = (p.nx, p.ny, p.px, p.py, p.ox, p.oy);
    let fs = &mut w.fs[..];

    // 1. Rows that hold light: FFT out of the padded rows.
    let (hx, hy) = (p.hx.as_ref(), p.hy.as_ref());
    for (r, d) in w.rows_in.chunks_mut(px).zip(img.chunks(nx)) {
        load_light(r, d, ox, hx);
    }
    p.rows
        .fwd
        .process_immutable_with_scratch(&w.rows_in, &mut w.rows, fs);

    // 2. Columns, LINES at a time: from the row spectra into the padded lines, FFT, multiply by
    //    H, inverse FFT, the crop back into the rows (or 16 at a time, in place, across columns).
    if let Some(c) = &p.strips {
        c.filter_any(&mut w.rows, ny, conj, &mut w.strip);
    } else {
        for k0 in (0..px).step_by(LINES) {
            let g = LINES.min(px - k0);
            let (cols_in, cols) = (&mut w.cols_in[..g * py], &mut w.cols[..g * py]);
            gather_columns(&w.rows, px, ny, k0, g, cols_in, py, oy);
            if let Some(h) = hy {
                for c in cols_in.chunks_mut(py) {
                    split_light(c, ny, h);
                }
            }
            p.cols.fwd.process_immutable_with_scratch(cols_in, cols, fs);
            // The group's filter lines are contiguous in `h_t`: one product over the whole group.
            mul_elementwise(cols, &p.h_t[k0 * py..(k0 + g) * py], conj);
            p.cols.inv.process_with_scratch(cols, fs);
            if let Some(h) = hy {
                for c in cols.chunks_mut(py) {
                    join_light(c, ny, h);
                }
            }
            scatter_columns(cols, py, oy, ny, &mut w.rows, px, k0, g);
        }
    }

    // 3. Rows that survive the crop: inverse FFT, crop in x.
    p.rows.inv.process_with_scratch(&mut w.rows, fs);
    for (r, d) in w.rows.chunks(px).zip(img.chunks_mut(nx)) {
        store_light(r, d, ox, hx);
    }
}

/// Lines a transform call takes at once; also the width of the column transposes (8 samples of
/// `Complex<f32>` are one 64-byte cache line).
const LINES: usize = MIN_ROWS_PER_TASK;

/// A pointer that may cross threads: each task of the strip loop writes its own strip only.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut Complex<T>);
// SAFETY: the tasks that share it touch disjoint samples (see its use in `run_passes`).
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SendPtr<T> {}

#[cold]
#[inline(never)]
fn bad_len(got: usize, n: usize) -> ! {
    panic!("Propagator: buffer of {got} samples is not a whole number of {n}-sample images")
}
