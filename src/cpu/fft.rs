//! Unitary batched 2-D FFT (mirrors `shaders/fft.wgsl`): rows on rustfft; columns vectorised
//! across columns where the processor allows, else on rustfft after a transpose.
//!
//! Plans are made once per size. A transform runs the rows of every image with rustfft, in place.
//! In `f32` on x86-64 processors with AVX-512F or AVX2 and FMA, when the column length is a power
//! of two of at least 8, the columns then run in place too, 16 (or 8) at a time across vector
//! lanes, in natural order, with the scale folded into the store (`super::columns::ColumnFft`):
//! no transposes. Otherwise the rows are transposed into a work buffer owned by the plan, the
//! columns run as rows, and the result is transposed back. Small transforms (under 2¹⁵ samples,
//! where handing work to the pool costs as much as the transform) and one-thread pools run on
//! the calling thread, without rayon. A few large images go pass by pass,
//! each pass split across all cores with rayon; a batch of at least two images per core goes
//! image by image, one task each, so that an image's rows and columns run while it is in cache.
//! Scratch is kept per worker thread and reused, so a call allocates nothing once the buffers have
//! grown to the largest batch seen.

use std::sync::{Arc, Mutex};

use num_complex::Complex;
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};

use super::columns::ColumnFft;
use crate::fft::Direction;
use crate::real::Real;

/// Rows handed to one rayon task: enough work to amortise scheduling, small enough to balance.
pub(crate) const MIN_ROWS_PER_TASK: usize = 8;

/// The smallest piece a parallel loop may be split into: `default` at the top level, and no
/// split at all inside a rayon task (a chunk of a batch that is already one task of a parallel
/// loop runs its elements serially, without per-piece scheduling and wake-ups).
pub(crate) fn split_len(default: usize) -> usize {
    if rayon::current_thread_index().is_some() {
        usize::MAX
    } else {
        default
    }
}

/// Samples below which a transform called from outside the rayon pool runs on the calling thread:
/// handing a pass to the pool and waiting for it (a wake-up and a sleep on each side) costs about
/// as much as a 128×128 transform itself, and splitting one that small across cores does not pay
/// it back. The whole transform also runs on the calling thread when the pool has one thread.
pub(crate) const SERIAL_SAMPLES: usize = 1 << 15;

/// Whether a transform of `samples` samples runs on the calling thread, without rayon: inside a
/// rayon task (its loops would not split anyway), with a one-thread pool, or when it is small.
pub(crate) fn serial_here(samples: usize) -> bool {
    rayon::current_thread_index().is_some()
        || rayon::current_num_threads() == 1
        || samples < serial_samples()
}

/// [`SERIAL_SAMPLES`], or `WAVETRAIN_FFT_SERIAL` when set (for measuring the threshold).
fn serial_samples() -> usize {
    static V: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        std::env::var("WAVETRAIN_FFT_SERIAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SERIAL_SAMPLES)
    })
}

/// One value of `W` per rayon worker thread (and one for threads outside the pool), for
/// working buffers that a parallel loop reuses from call to call.
pub(crate) struct PerThread<W> {
    slots: Vec<Mutex<W>>,
}

impl<W: Default> PerThread<W> {
    pub(crate) fn new() -> Self {
        let n = rayon::current_num_threads() + 1;
        PerThread {
            slots: (0..n).map(|_| Mutex::new(W::default())).collect(),
        }
    }

    /// Runs `f` with the calling worker thread's value.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut W) -> R) -> R {
        let i = rayon::current_thread_index().unwrap_or(self.slots.len() - 1) % self.slots.len();
        // A poisoned slot only means another task panicked; its contents are scratch anyway.
        let mut g = self.slots[i].lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
}

/// One reusable scratch buffer per rayon worker thread.
pub(crate) struct ScratchPool<T> {
    slots: PerThread<Vec<Complex<T>>>,
}

impl<T: Real> ScratchPool<T> {
    pub(crate) fn new() -> Self {
        ScratchPool {
            slots: PerThread::new(),
        }
    }

    /// Runs `f` with a scratch slice of `len` elements private to the calling worker thread.
    pub(crate) fn with<R>(&self, len: usize, f: impl FnOnce(&mut [Complex<T>]) -> R) -> R {
        self.slots.with(|g| {
            if g.len() < len {
                g.resize(len, Complex::new(T::zero(), T::zero()));
            }
            f(&mut g[..len])
        })
    }
}

/// A pair of 1-D plans (forward, inverse) of one length.
#[derive(Clone)]
pub(crate) struct Plan1d<T> {
    pub(crate) fwd: Arc<dyn Fft<T>>,
    pub(crate) inv: Arc<dyn Fft<T>>,
}

impl<T: Real> Plan1d<T> {
    pub(crate) fn new(planner: &mut FftPlanner<T>, n: usize) -> Self {
        Plan1d {
            fwd: planner.plan_fft_forward(n),
            inv: planner.plan_fft_inverse(n),
        }
    }
    pub(crate) fn get(&self, dir: Direction) -> &Arc<dyn Fft<T>> {
        match dir {
            Direction::Forward => &self.fwd,
            Direction::Inverse => &self.inv,
        }
    }
    pub(crate) fn scratch_len(&self) -> usize {
        self.fwd
            .get_inplace_scratch_len()
            .max(self.inv.get_inplace_scratch_len())
    }
}

/// `dst[b][c][r] = src[b][r][c]` for every image `b` of `rows × cols`, in parallel over `dst` rows.
pub(crate) fn transpose<T: Real>(
    src: &[Complex<T>],
    dst: &mut [Complex<T>],
    rows: usize,
    cols: usize,
) {
    let n = rows * cols;
    let line = |(i, out): (usize, &mut [Complex<T>])| {
        let (b, c) = (i / cols, i % cols);
        let img = &src[b * n..(b + 1) * n];
        for (r, o) in out.iter_mut().enumerate() {
            *o = img[r * cols + c];
        }
    };
    if serial_here(src.len()) {
        dst.chunks_mut(rows).enumerate().for_each(line);
    } else {
        dst.par_chunks_mut(rows)
            .with_min_len(split_len(MIN_ROWS_PER_TASK))
            .enumerate()
            .for_each(line);
    }
}

/// A planned, unitary, batched 2-D FFT of `nx × ny` images stored row-major `[batch][y][x]`.
pub struct Fft2<T: Real> {
    nx: usize,
    ny: usize,
    rows: Plan1d<T>,
    cols: Plan1d<T>,
    pool: ScratchPool<T>,
    work: Vec<Complex<T>>,
    /// The column transforms across vector lanes (`f32`, a power-of-two `ny ≥ 8`, AVX-512F or
    /// AVX2 and FMA), with a strip buffer per worker thread.
    strips: Option<ColumnFft>,
    bufs: PerThread<Vec<f32>>,
}

impl<T: Real> Fft2<T> {
    /// Plans the transforms for `nx × ny` images.
    ///
    /// # Panics
    /// If either side is zero.
    pub fn new(nx: usize, ny: usize) -> Self {
        assert!(
            nx > 0 && ny > 0,
            "Fft2::new: sides must be positive, got {nx}×{ny}"
        );
        let mut planner = FftPlanner::new();
        let f32 = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        Fft2 {
            nx,
            ny,
            rows: Plan1d::new(&mut planner, nx),
            cols: Plan1d::new(&mut planner, ny),
            pool: ScratchPool::new(),
            work: Vec::new(),
            strips: if f32 { ColumnFft::new(ny, nx) } else { None },
            bufs: PerThread::new(),
        }
    }

    /// Image width.
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Image height.
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// Unitary transform (scale `1/√(nx·ny)`) of every image in `data`, in place.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `nx·ny`.
    pub fn process(&mut self, data: &mut [Complex<T>], dir: Direction) {
        let scale = T::of(1.0 / ((self.nx * self.ny) as f64).sqrt());
        self.process_scaled(data, dir, scale);
    }

    /// Transform of every image in `data` multiplied by `scale`, in place.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `nx·ny`.
    pub fn process_scaled(&mut self, data: &mut [Complex<T>], dir: Direction, scale: T) {
        let n = self.nx * self.ny;
        if !data.len().is_multiple_of(n) {
            bad_len(data.len(), n);
        }
        if self.strips.is_some() {
            return self.process_strips(data, dir, scale);
        }
        if self.work.len() < data.len() {
            self.work
                .resize(data.len(), Complex::new(T::zero(), T::zero()));
        }
        let work = &mut self.work[..data.len()];
        let pool = &self.pool;
        let (rows, cols) = (self.rows.get(dir), self.cols.get(dir));
        let (sr, sc) = (self.rows.scratch_len(), self.cols.scratch_len());
        if serial_here(data.len()) {
            pool.with(sr, |s| rows.process_with_scratch(data, s));
            transpose(data, work, self.ny, self.nx);
            pool.with(sc, |s| cols.process_with_scratch(work, s));
            for v in work.iter_mut() {
                *v = *v * scale;
            }
            transpose(work, data, self.nx, self.ny);
            return;
        }
        data.par_chunks_mut(self.nx)
            .with_min_len(split_len(MIN_ROWS_PER_TASK))
            .for_each(|row| pool.with(sr, |s| rows.process_with_scratch(row, s)));
        transpose(data, work, self.ny, self.nx);
        work.par_chunks_mut(self.ny)
            .with_min_len(split_len(MIN_ROWS_PER_TASK))
            .for_each(|col| {
                pool.with(sc, |s| cols.process_with_scratch(col, s));
                for v in col.iter_mut() {
                    *v = *v * scale;
                }
            });
        transpose(work, data, self.nx, self.ny);
    }

    /// [`process_scaled`](Self::process_scaled) with the columns across vector lanes.
    fn process_strips(&self, data: &mut [Complex<T>], dir: Direction, scale: T) {
        let c = self.strips.as_ref().expect("Fft2: strips planned");
        let n = self.nx * self.ny;
        let (rows, pool, bufs) = (self.rows.get(dir), &self.pool, &self.bufs);
        let sr = self.rows.scratch_len();
        let (inverse, scale) = (dir == Direction::Inverse, scale.f64() as f32);
        let buf_len = c.buf_len();
        let batch = data.len() / n;
        let image = |img: &mut [Complex<T>]| {
            pool.with(sr, |s| rows.process_with_scratch(img, s));
            let img = super::simd::as_f32_mut(img).expect("Fft2: strips run f32 only");
            bufs.with(|b| {
                b.resize(buf_len.max(b.len()), 0.0);
                c.transform(img, inverse, scale, b)
            });
        };
        if serial_here(data.len()) {
            data.chunks_mut(n).for_each(image);
            return;
        }
        if rayon::current_thread_index().is_some() || batch >= 2 * rayon::current_num_threads() {
            data.par_chunks_mut(n)
                .with_min_len(split_len(1))
                .for_each(image);
            return;
        }
        data.par_chunks_mut(self.nx * MIN_ROWS_PER_TASK)
            .for_each(|g| pool.with(sr, |s| rows.process_with_scratch(g, s)));
        let strips = c.strips();
        let base = SendPtr(
            super::simd::as_f32_mut(data)
                .expect("Fft2: strips run f32 only")
                .as_mut_ptr(),
        );
        (0..batch * strips).into_par_iter().for_each(|t| {
            bufs.with(|b| {
                b.resize(buf_len.max(b.len()), 0.0);
                // SAFETY: image `t / strips` has `n` samples inside `data`, and each task is
                // the only one that touches its strip of its image.
                unsafe {
                    c.transform_strip(
                        base.get().add(t / strips * n),
                        t % strips,
                        inverse,
                        scale,
                        b,
                    )
                }
            })
        });
    }
}

/// A pointer that may cross threads: each task of the strip loop writes its own strip only.
#[derive(Clone, Copy)]
struct SendPtr(*mut Complex<f32>);
// SAFETY: the tasks that share it touch disjoint samples (see its use in `process_strips`).
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the whole `SendPtr`).
    fn get(&self) -> *mut Complex<f32> {
        self.0
    }
}

#[cold]
#[inline(never)]
fn bad_len(got: usize, n: usize) -> ! {
    panic!("Fft2: buffer of {got} samples is not a whole number of {n}-sample images")
}
