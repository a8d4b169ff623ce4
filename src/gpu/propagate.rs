//! Free-space propagation on the GPU (mirrors [`crate::cpu::Propagator`], runs
//! `shaders/fft.wgsl` and `shaders/propagate.wgsl`): zero-pad, FFT, multiply by the band-limited
//! angular-spectrum transfer function, inverse FFT, crop.
//!
//! Same padded size ([`crate::grid::padded_len`]), same centred placement `(px − nx)/2`, same
//! transfer function ([`crate::optics::transfer_function`], f64 on the host, scaled by
//! `1/(px·py)` and uploaded once as f32) as the CPU. As on the CPU the padding is never
//! materialised: the forward row FFTs run on the `ny` rows that hold light, the column FFT, the
//! multiply by `H` and the inverse column FFT are one fused pass that keeps only the `ny` rows
//! that survive the crop, and the inverse row FFTs write the cropped rows straight into the
//! field. Three passes in all. A mask in front of the step (an SLM or a thin lens:
//! `field ·= mask[y/k][x/k]`, what [`super::Modulate`] does) can be multiplied in as the forward
//! row pass loads the field ([`Propagate::with_scratch_masked`]), saving that element-wise pass
//! (a read and a write of the field). Likewise a thin saturable absorber right after the step
//! (the pump's `u = t(|v|²)·v`, [`super::AbsorberPump`]) can be applied as the inverse row pass
//! stores the field, keeping the absorber's input `v` in the probe's slot on the way
//! ([`Propagate::with_scratch_absorbed`]), saving that pass too. The GPU FFT takes powers of two only: a padded side that
//! is not one runs on the smallest power of two `≥ 2n − 1`, which holds the padded grid's
//! operator exactly ([`crate::optics::transfer_on_grid`]; the CPU does the same when it is
//! cheaper).

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::fft::{
    check_fft_len, line_pass, LinePass, Lines, PostAbs, Premul, Transfer, Twiddles, Work,
    MAX_FFT_LEN,
};
use super::kernel::{encode_pass, Dispatch};
use crate::error::{Error, Result};
use crate::fft::power_of_two_len;
use crate::grid::{padded_len, Grid};
use crate::optics::{sampling_report, transfer_function, transfer_on_grid, SamplingReport};
use crate::optics::{Absorber, AbsorberModel};

/// A free-space step's transfer function on the GPU, shared by every [`Propagate`] op over that
/// distance (pump and probe passes alike). Cloning shares the GPU buffer.
#[derive(Clone, Debug)]
pub struct TransferFunction {
    h: GpuBuffer<Complex32>,
    nx: usize,
    ny: usize,
    /// Padded grid (the physics).
    padded: (usize, usize),
    /// Transform lengths (powers of two).
    px: usize,
    py: usize,
    /// `None` for a periodic operator ([`TransferFunction::periodic`]).
    report: Option<SamplingReport>,
}

impl TransferFunction {
    /// Computes `H` for `distance` metres at `wavelength` on `grid`, zero-padded by `pad` (≥ 1),
    /// with the Matsushima–Shimobaba band limit when `band_limit`, moves it to power-of-two
    /// transform lengths when the padded sides are not powers of two, and uploads it.
    pub fn new(
        ctx: &GpuContext,
        grid: &Grid,
        wavelength: f64,
        distance: f64,
        pad: f64,
        band_limit: bool,
    ) -> Result<Self> {
        let (nx, ny) = (grid.nx, grid.ny);
        let (qx, qy) = (padded_len(nx, pad), padded_len(ny, pad));
        let (px, py) = (power_of_two_len(nx, qx), power_of_two_len(ny, qy));
        for (axis, n, p) in [("x", nx, px), ("y", ny, py)] {
            if check_fft_len("free-space transform", p).is_err() {
                return Err(Error::Gpu(format!(
                    "free space: the {axis} side of {n} pixels at pad {pad} needs {p}-point transforms, longer than the GPU FFT's {MAX_FFT_LEN}: use a smaller grid or padding, or --backend cpu"
                )));
            }
        }
        let h = transfer_function(qx, qy, grid.dx, wavelength, distance, band_limit);
        let scale = 1.0 / (px * py) as f64;
        let h: Vec<Complex32> = transfer_on_grid(&h, nx, ny, qx, qy, px, py)
            .into_iter()
            .map(|v| Complex32::new((v.re * scale) as f32, (v.im * scale) as f32))
            .collect();
        Ok(TransferFunction {
            h: GpuBuffer::from_slice(ctx, "propagate.h", &h)?,
            nx,
            ny,
            padded: (qx, qy),
            px,
            py,
            report: Some(sampling_report(nx, ny, grid.dx, pad, wavelength, distance)),
        })
    }

    /// A periodic operator on the unpadded `nx × ny` grid (power-of-two sides): the spectrum
    /// `h` (`[ky][kx]`, unnormalised DFT order) multiplies the field's DFT. [`Propagate`] with
    /// it is `F⁻¹·diag(h)·F` (and with `adjoint`, `F⁻¹·diag(conj h)·F`), e.g. the lateral shift
    /// of an imperfect SLM by the Fourier shift theorem.
    pub fn periodic(
        ctx: &GpuContext,
        nx: usize,
        ny: usize,
        h: &[num_complex::Complex<f64>],
        what: &str,
    ) -> Result<Self> {
        check_fft_len(&format!("{what}: grid nx"), nx)?;
        check_fft_len(&format!("{what}: grid ny"), ny)?;
        if h.len() != nx * ny {
            return Err(Error::Gpu(format!(
                "internal: {what}: a spectrum of {} values for a {nx}×{ny} grid",
                h.len()
            )));
        }
        let scale = 1.0 / (nx * ny) as f64;
        let h: Vec<Complex32> = h
            .iter()
            .map(|v| Complex32::new((v.re * scale) as f32, (v.im * scale) as f32))
            .collect();
        Ok(TransferFunction {
            h: GpuBuffer::from_slice(ctx, "periodic.h", &h)?,
            nx,
            ny,
            padded: (nx, ny),
            px: nx,
            py: ny,
            report: None,
        })
    }

    /// The padded grid size `(px, py)`: the grid whose operator this step applies.
    pub fn padded(&self) -> (usize, usize) {
        self.padded
    }

    /// The transform lengths the step runs at (powers of two).
    pub fn transform(&self) -> (usize, usize) {
        (self.px, self.py)
    }

    /// The grid size `(nx, ny)`.
    pub fn grid(&self) -> (usize, usize) {
        (self.nx, self.ny)
    }

    /// The sampling diagnostics of this step (`None` for a periodic operator).
    pub fn report(&self) -> Option<&SamplingReport> {
        self.report.as_ref()
    }

    /// The largest batch a propagation on this grid can run in one binding.
    pub fn max_batch(&self, ctx: &GpuContext) -> usize {
        ctx.max_batch((self.ny * self.px * 8) as u64)
    }
}

/// Intermediate buffers of a propagation (`batch·ny·px` complex samples each). Ops that never run
/// concurrently — all ops of one command submission run in order — can share one.
#[derive(Clone, Debug)]
pub struct PropagateScratch {
    a: GpuBuffer<Complex32>,
    b: GpuBuffer<Complex32>,
    len: usize,
}

impl PropagateScratch {
    /// Scratch for `batch` images through `tf`. Too large a batch is refused with the largest
    /// that fits.
    pub fn new(ctx: &GpuContext, tf: &TransferFunction, batch: usize) -> Result<Self> {
        let max = tf.max_batch(ctx);
        if batch > max {
            return Err(Error::Gpu(format!(
                "free space on a {}×{} grid ({}×{} transforms): a batch of {batch} exceeds the adapter's binding limit of {} bytes: use a batch of at most {max}",
                tf.nx, tf.ny, tf.px, tf.py, ctx.max_binding()
            )));
        }
        let len = batch * tf.ny * tf.px;
        Ok(PropagateScratch {
            a: GpuBuffer::new(ctx, "propagate.rows", len)?,
            b: GpuBuffer::new(ctx, "propagate.cols", len)?,
            len,
        })
    }

    /// The two buffers, for tests that poison them.
    pub fn buffers(&self) -> (&GpuBuffer<Complex32>, &GpuBuffer<Complex32>) {
        (&self.a, &self.b)
    }
}

/// Propagation of one field in place, bound to its buffers: the pump and the probe action
/// (`adjoint = false`; the operator is symmetric) or the adjoint `Mᴴ` (`adjoint = true`, conj(H)).
pub struct Propagate {
    dispatches: Vec<Dispatch>,
}

impl Propagate {
    /// Plans propagation of every image of `field` through `tf`, with its own scratch.
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
    ) -> Result<Self> {
        let scratch = PropagateScratch::new(ctx, tf, field.batch())?;
        Self::with_scratch(ctx, field, tf, adjoint, &scratch)
    }

    /// As [`Propagate::new`], using `scratch` (sized for at least this batch).
    ///
    /// # Panics
    /// If the field's grid differs from the transfer function's, or `scratch` is too small.
    pub fn with_scratch(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
        scratch: &PropagateScratch,
    ) -> Result<Self> {
        Self::plan(ctx, field, tf, adjoint, scratch, None, None)
    }

    /// As [`Propagate::with_scratch`], with the field first multiplied by `mask` of `k×k`
    /// macro-pixels (`field[b][y][x] ·= mask[y/k][x/k]`, as [`super::Modulate::new`]), fused
    /// into the first pass: the same as that modulation followed by this propagation, one
    /// element-wise pass fewer. The field holds the propagated result only (the modulated field
    /// is never stored).
    ///
    /// # Panics
    /// As [`Propagate::with_scratch`], and if `nx` or `ny` is not a multiple of `k` or the mask
    /// is not `(nx/k)·(ny/k)` long.
    pub fn with_scratch_masked(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
        scratch: &PropagateScratch,
        mask: &GpuBuffer<Complex32>,
        k: usize,
    ) -> Result<Self> {
        Self::with_scratch_fused(ctx, field, tf, adjoint, scratch, Some((mask, k)), None)
    }

    /// As [`Propagate::with_scratch`] (with the mask of [`Propagate::with_scratch_masked`]
    /// multiplied in first when `mask` is `(mask, k)`), followed by the pump of the thin
    /// saturable absorber `absorber`, `u = exp(−(α₀/2)/(1+|v|²))·v` on each propagated sample `v`
    /// (as [`super::AbsorberPump::new`]), fused into the last pass; with `save`, the absorber's
    /// input `v` is written there as well. The same as this propagation followed by that pump,
    /// one element-wise pass fewer. Only the thin model: a Beer–Lambert absorber is refused.
    ///
    /// # Panics
    /// As [`Propagate::with_scratch_masked`], and if `save` differs from `field` in shape.
    #[allow(clippy::too_many_arguments)]
    pub fn with_scratch_absorbed(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
        scratch: &PropagateScratch,
        mask: Option<(&GpuBuffer<Complex32>, usize)>,
        absorber: &Absorber,
        save: Option<&Field>,
    ) -> Result<Self> {
        Self::with_scratch_fused(
            ctx,
            field,
            tf,
            adjoint,
            scratch,
            mask,
            Some((absorber, save)),
        )
    }

    /// Free space with an optional mask multiplied in on load and an optional thin absorber
    /// (and its slot) applied on store.
    pub(crate) fn with_scratch_fused(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
        scratch: &PropagateScratch,
        mask: Option<(&GpuBuffer<Complex32>, usize)>,
        absorber: Option<(&Absorber, Option<&Field>)>,
    ) -> Result<Self> {
        let (nx, ny) = (field.nx(), field.ny());
        if let Some((mask, k)) = mask {
            if k == 0 || nx % k != 0 || ny % k != 0 || mask.len() != (nx / k) * (ny / k) {
                bad_mask(nx, ny, k, mask.len());
            }
        }
        let mut post = None;
        if let Some((a, save)) = absorber {
            if a.model != AbsorberModel::Thin {
                return Err(Error::Gpu(
                    "internal: only a thin absorber is fused into free space".into(),
                ));
            }
            if let Some(s) = save {
                if !s.same_shape(field) {
                    bad_save(field, s);
                }
            }
            post = Some((a.od as f32, save.map(|s| s.buffer())));
        }
        Self::plan(ctx, field, tf, adjoint, scratch, mask, post)
    }

    fn plan(
        ctx: &GpuContext,
        field: &Field,
        tf: &TransferFunction,
        adjoint: bool,
        scratch: &PropagateScratch,
        mask: Option<(&GpuBuffer<Complex32>, usize)>,
        post: Option<(f32, Option<&wgpu::Buffer>)>,
    ) -> Result<Self> {
        let (nx, ny, batch) = (field.nx(), field.ny(), field.batch());
        let (px, py) = (tf.px, tf.py);
        if (nx, ny) != (tf.nx, tf.ny) || scratch.len < batch * ny * px {
            bad_shape(nx, ny, batch, tf, scratch.len);
        }
        let (ox, oy) = ((px - nx) / 2, (py - ny) / 2);
        let tw = Twiddles::new(ctx, &[px, py])?;
        let mut work = Work::default();
        let (a, b) = (scratch.a.buffer(), scratch.b.buffer());
        // Padded rows of length px, only the ny rows that hold light: [batch][ny][px].
        let padded_rows = Lines {
            img: ny * px,
            line: px,
            elem: 1,
            off: 0,
            len: px,
        };
        // Columns of those buffers, each a padded column of length py with the rows at oy.
        let padded_cols = Lines {
            img: ny * px,
            line: 1,
            elem: px,
            off: oy,
            len: ny,
        };
        let rows_fwd = LinePass {
            n: px,
            lines: batch * ny,
            lines_per_img: ny,
            src: field.buffer(),
            src_at: Lines::rows(nx, ny, ox),
            dst: a,
            dst_at: padded_rows,
            inverse: false,
            scale: 1.0,
            transfer: None,
            // Line l is row l % ny of its image, element i pixel i − ox.
            premul: mask.map(|(m, k)| Premul {
                mask: m.buffer(),
                k,
                sx: nx / k,
            }),
            postabs: None,
        };
        let cols = LinePass {
            n: py,
            lines: batch * px,
            lines_per_img: px,
            src: a,
            src_at: padded_cols,
            dst: b,
            dst_at: padded_cols,
            inverse: false,
            scale: 1.0,
            // H is [ky][kx], px wide: column kx, element ky.
            transfer: Some(Transfer {
                h: tf.h.buffer(),
                line: 1,
                elem: px,
                conj: adjoint,
            }),
            premul: None,
            postabs: None,
        };
        let rows_inv = LinePass {
            n: px,
            lines: batch * ny,
            lines_per_img: ny,
            src: b,
            src_at: padded_rows,
            dst: field.buffer(),
            dst_at: Lines::rows(nx, ny, ox),
            inverse: true,
            scale: 1.0,
            transfer: None,
            premul: None,
            // The cropped rows, laid out as the field (and its slot).
            postabs: post.map(|(od, slot)| PostAbs { od, slot }),
        };
        let mut dispatches = line_pass(ctx, "propagate.rows", &rows_fwd, &tw, &mut work)?;
        dispatches.extend(line_pass(ctx, "propagate.cols", &cols, &tw, &mut work)?);
        dispatches.extend(line_pass(
            ctx,
            "propagate.rows_inv",
            &rows_inv,
            &tw,
            &mut work,
        )?);
        Ok(Propagate { dispatches })
    }

    /// Records the propagation.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "propagate", &self.dispatches);
    }
}

#[cold]
#[inline(never)]
fn bad_shape(nx: usize, ny: usize, batch: usize, tf: &TransferFunction, scratch: usize) -> ! {
    panic!(
        "Propagate: field {nx}×{ny}×{batch} does not fit a transfer function planned for {}×{} with scratch of {scratch} samples (need {})",
        tf.nx,
        tf.ny,
        batch * ny * tf.px
    )
}

#[cold]
#[inline(never)]
fn bad_mask(nx: usize, ny: usize, k: usize, len: usize) -> ! {
    panic!(
        "Propagate: a {nx}×{ny} grid does not fit a mask of {len} values with {k}×{k} macro-pixels (expected {})",
        nx.checked_div(k).unwrap_or(0) * ny.checked_div(k).unwrap_or(0)
    )
}

#[cold]
#[inline(never)]
fn bad_save(field: &Field, save: &Field) -> ! {
    panic!(
        "Propagate: the absorber's slot {}×{}×{} differs from the field {}×{}×{}",
        save.nx(),
        save.ny(),
        save.batch(),
        field.nx(),
        field.ny(),
        field.batch()
    )
}
