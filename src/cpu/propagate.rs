//! Free-space propagation on the CPU (mirrors `shaders/propagate.wgsl`): zero-pad, 2-D FFT,
//! multiply by the band-limited angular-spectrum transfer function, inverse FFT, crop.
//!
//! The padding is never materialised as a full 2-D pass: the forward row FFTs run only on the `ny`
//! rows that hold light, the column FFT, transfer function and inverse column FFT are fused in one
//! pass per column, and the inverse row FFTs run only on the `ny` rows that survive the crop. With
//! 2× padding that is 6 instead of 8 passes of 1-D FFTs. The unitary scale `1/(Nx·Ny)` is folded
//! into the stored transfer function.
//!
//! The operator `M = C·F⁻¹·H·F·P` is symmetric (`Mᵀ = M`, because `H(f) = H(−f)` and the DFT is
//! symmetric), so the probe pass applies the same kernel; its adjoint `Mᴴ` uses `conj(H)`.

use num_complex::Complex;
use rayon::prelude::*;
use rustfft::FftPlanner;

use super::fft::{split_len, Plan1d, ScratchPool, MIN_ROWS_PER_TASK};
use crate::grid::{padded_len, Grid};
use crate::optics::{sampling_report, transfer_function, SamplingReport};
use crate::real::{c_of, Real};

/// A planned free-space step of fixed distance on a fixed grid.
pub struct Propagator<T: Real> {
    nx: usize,
    ny: usize,
    px: usize,
    py: usize,
    ox: usize,
    oy: usize,
    /// Transfer function transposed to `[kx][ky]` and scaled by `1/(px·py)`.
    h_t: Vec<Complex<T>>,
    rows: Plan1d<T>,
    cols: Plan1d<T>,
    pool: ScratchPool<T>,
    scratch: PropScratch<T>,
    report: SamplingReport,
}

/// Working buffers of a free-space step (row-padded spectra and padded columns), which several
/// propagators of one network can share: they grow to the largest batch and grid they see.
#[derive(Default)]
pub struct PropScratch<T> {
    a: Vec<Complex<T>>,
    b: Vec<Complex<T>>,
}

impl<T: Real> PropScratch<T> {
    /// Empty scratch.
    pub fn new() -> Self {
        PropScratch {
            a: Vec::new(),
            b: Vec::new(),
        }
    }
}

impl<T: Real> Propagator<T> {
    /// Plans propagation over `distance` metres at `wavelength` on `grid`, zero-padded by the
    /// factor `pad` (≥ 1; 2 is the default elsewhere), with the Matsushima–Shimobaba band limit
    /// when `band_limit` is true.
    pub fn new(grid: &Grid, wavelength: f64, distance: f64, pad: f64, band_limit: bool) -> Self {
        let (nx, ny) = (grid.nx, grid.ny);
        let (px, py) = (padded_len(nx, pad), padded_len(ny, pad));
        let h = transfer_function(px, py, grid.dx, wavelength, distance, band_limit);
        let scale = 1.0 / (px * py) as f64;
        let mut h_t = vec![Complex::new(T::zero(), T::zero()); px * py];
        for ky in 0..py {
            for kx in 0..px {
                h_t[kx * py + ky] = c_of(h[ky * px + kx] * scale);
            }
        }
        let mut planner = FftPlanner::new();
        Propagator {
            nx,
            ny,
            px,
            py,
            ox: (px - nx) / 2,
            oy: (py - ny) / 2,
            h_t,
            rows: Plan1d::new(&mut planner, px),
            cols: Plan1d::new(&mut planner, py),
            pool: ScratchPool::new(),
            scratch: PropScratch::new(),
            report: sampling_report(nx, ny, grid.dx, pad, wavelength, distance),
        }
    }

    /// The padded grid size `(px, py)`.
    pub fn padded(&self) -> (usize, usize) {
        (self.px, self.py)
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
        let (nx, ny, px, py, ox, oy) = (self.nx, self.ny, self.px, self.py, self.ox, self.oy);
        if data.len() % (nx * ny) != 0 {
            bad_len(data.len(), nx * ny);
        }
        let batch = data.len() / (nx * ny);
        let zero = Complex::new(T::zero(), T::zero());
        if scratch.a.len() < batch * ny * px {
            scratch.a.resize(batch * ny * px, zero);
        }
        if scratch.b.len() < batch * px * py {
            scratch.b.resize(batch * px * py, zero);
        }
        let a = &mut scratch.a[..batch * ny * px];
        let b = &mut scratch.b[..batch * px * py];
        let (pool, rows, cols, h_t) = (&self.pool, &self.rows, &self.cols, &self.h_t);
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
                    ar[..ox].fill(zero);
                    ar[ox..ox + nx].copy_from_slice(dr);
                    ar[ox + nx..].fill(zero);
                }
                pool.with(sr, |s| rows.fwd.process_with_scratch(ag, s));
            });

        // 2. Per spectral column kx: gather (padding in y), FFT, multiply by H, inverse FFT.
        let a_ro: &[Complex<T>] = a;
        b.par_chunks_mut(py * G)
            .with_min_len(min)
            .enumerate()
            .for_each(|(gi, cg)| {
                for (j, col) in cg.chunks_mut(py).enumerate() {
                    let i = gi * G + j;
                    let (img, kx) = (i / px, i % px);
                    col[..oy].fill(zero);
                    col[oy + ny..].fill(zero);
                    let src = &a_ro[img * ny * px..(img + 1) * ny * px];
                    for y in 0..ny {
                        col[oy + y] = src[y * px + kx];
                    }
                }
                pool.with(sc, |s| {
                    cols.fwd.process_with_scratch(cg, s);
                    for (j, col) in cg.chunks_mut(py).enumerate() {
                        let kx = (gi * G + j) % px;
                        let h = &h_t[kx * py..(kx + 1) * py];
                        if conj {
                            for (v, hv) in col.iter_mut().zip(h) {
                                *v = *v * hv.conj();
                            }
                        } else {
                            for (v, hv) in col.iter_mut().zip(h) {
                                *v = *v * hv;
                            }
                        }
                    }
                    cols.inv.process_with_scratch(cg, s);
                });
            });

        // 3. Gather the rows that survive the crop, inverse-FFT them, crop in x.
        let b_ro: &[Complex<T>] = b;
        a.par_chunks_mut(px * G)
            .zip(data.par_chunks_mut(nx * G))
            .with_min_len(min)
            .enumerate()
            .for_each(|(gi, (ag, dg))| {
                for (j, ar) in ag.chunks_mut(px).enumerate() {
                    let i = gi * G + j;
                    let (img, y) = (i / ny, i % ny);
                    let src = &b_ro[img * px * py..(img + 1) * px * py];
                    for (kx, v) in ar.iter_mut().enumerate() {
                        *v = src[kx * py + oy + y];
                    }
                }
                pool.with(sr, |s| rows.inv.process_with_scratch(ag, s));
                for (ar, dr) in ag.chunks(px).zip(dg.chunks_mut(nx)) {
                    dr.copy_from_slice(&ar[ox..ox + nx]);
                }
            });
    }
}

#[cold]
#[inline(never)]
fn bad_len(got: usize, n: usize) -> ! {
    panic!("Propagator: buffer of {got} samples is not a whole number of {n}-sample images")
}
