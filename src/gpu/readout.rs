//! The hardware's read-out of the SLM gradients on the GPU (`hardware.readout`, `probe_ratio`,
//! `readout_*`; mirrors `inject` and `read_out` of `src/cpu/field.rs` over
//! [`crate::optics::interferometry`], runs `shaders/readout.wgsl`): the scale of each image's
//! physical probe, and per SLM the camera frames of the pump and the probe with the camera's
//! noise (the counter generator's numbers, the CPU's draws), the product recovered from them and
//! the SLM's gradient (or, for a device model, its correlation on the grid).

use num_complex::{Complex, Complex32};

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{
    encode_pass, groups_for, read, split_groups, u32_of, uniform, write, Dispatch,
};
use super::uniforms::ReadoutParams;
use crate::error::{Error, Result};
use crate::optics::interferometry::Camera;
use crate::rng::{word1, Purpose};

/// The buffers every SLM's read-out shares: the probe's scale per image, the camera pixels'
/// beams (scratch, reused SLM after SLM), the frames' phase factors and the photo-electrons
/// collected per SLM and image.
pub struct ReadoutBuffers {
    scales: GpuBuffer<f32>,
    beams: GpuBuffer<[f32; 4]>,
    frames: GpuBuffer<[f32; 4]>,
    electrons: GpuBuffer<f32>,
    /// Bound where a kernel's unused branch names a buffer the SLM does not have (one for each
    /// binding: a buffer may not be read and written in one dispatch).
    unused_mask: GpuBuffer<Complex32>,
    unused_corr: GpuBuffer<Complex32>,
    unused_params: GpuBuffer<f32>,
    unused_grad: GpuBuffer<f32>,
    batch: usize,
    slms: usize,
}

impl ReadoutBuffers {
    /// Buffers for `slms` measured SLMs of an `nx × ny` grid and `batch` images, the camera
    /// pixels at most `cam_pixels` an image; without a camera (`cam = None`, a probe of finite
    /// strength alone) only the scales.
    pub fn new(
        ctx: &GpuContext,
        cam: Option<&Camera>,
        batch: usize,
        cam_pixels: usize,
        slms: usize,
    ) -> Result<Self> {
        let (beams_len, frames) = match cam {
            Some(c) => (batch * cam_pixels.max(1), phase_table(c)),
            None => (1, vec![[0.0; 4]]),
        };
        Ok(ReadoutBuffers {
            scales: GpuBuffer::from_slice(ctx, "readout.scales", &vec![1.0f32; batch])?,
            beams: GpuBuffer::new(ctx, "readout.beams", beams_len)?,
            frames: GpuBuffer::from_slice(ctx, "readout.frames", &frames)?,
            electrons: GpuBuffer::from_slice(
                ctx,
                "readout.electrons",
                &vec![0.0f32; (batch * slms).max(1)],
            )?,
            unused_mask: GpuBuffer::new(ctx, "readout.unused_mask", 1)?,
            unused_corr: GpuBuffer::new(ctx, "readout.unused_corr", 1)?,
            unused_params: GpuBuffer::new(ctx, "readout.unused_params", 1)?,
            unused_grad: GpuBuffer::new(ctx, "readout.unused_grad", 1)?,
            batch,
            slms,
        })
    }

    /// The probe's scale of each image (`σ`, 1 without a finite probe strength).
    pub fn scales(&self) -> &GpuBuffer<f32> {
        &self.scales
    }

    /// The photo-electrons the frames collected since the last call (summed in f64), and the
    /// counter set back to zero.
    pub fn take_electrons(&self, ctx: &GpuContext) -> Result<f64> {
        if self.slms == 0 {
            return Ok(0.0);
        }
        let e = self.electrons.read(ctx)?;
        self.electrons
            .upload(ctx, &vec![0.0f32; self.batch * self.slms]);
        Ok(e.iter().map(|&x| f64::from(x)).sum())
    }
}

/// `(cos θ_k, sin θ_k, Re, Im of 2g·e^{−i(θ_k + δ)})` for each frame `k` (f64 on the host: the
/// shader's `cos` and `sin` are too coarse for a recovery to round-off).
fn phase_table(cam: &Camera) -> Vec<[f32; 4]> {
    let (g, delta) = cam.cross_term();
    (0..cam.steps)
        .map(|k| {
            let theta = std::f64::consts::TAU * k as f64 / cam.steps as f64;
            let e = Complex::from_polar(2.0 * g, -(theta + delta));
            [
                theta.cos() as f32,
                theta.sin() as f32,
                e.re as f32,
                e.im as f32,
            ]
        })
        .collect()
}

/// The scale `σ = r·max|u|/max|b|` of each image's physical probe at the detector plane (the
/// peak of `σ·b` is `r` times the pump's; 1 for a dark probe), into
/// [`ReadoutBuffers::scales`].
pub struct ProbeScale {
    dispatch: Dispatch,
}

impl ProbeScale {
    /// Plans the scales from the pump `field` at the detectors and the injected `probe`.
    ///
    /// # Panics
    /// If the fields differ in shape.
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        probe: &Field,
        ratio: f64,
        bufs: &ReadoutBuffers,
    ) -> Result<Self> {
        assert!(
            field.same_shape(probe) && bufs.scales.len() == field.batch(),
            "ProbeScale: fields or scales differ in shape"
        );
        let p = ReadoutParams {
            nx: u32_of("grid", field.nx())?,
            ny: u32_of("grid", field.ny())?,
            batch: u32_of("batch", field.batch())?,
            ratio: ratio as f32,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.probe_scale.params", &p)?;
        let dispatch = Dispatch::new(
            ctx,
            "readout",
            "probe_scale",
            &[],
            &[
                uniform(0, &u),
                read(1, field.buffer()),
                read(2, probe.buffer()),
                write(4, bufs.scales.buffer()),
            ],
            split_groups(ctx, field.batch() as u64)?,
        )?;
        Ok(ProbeScale { dispatch })
    }

    /// Records the scales.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "probe_scale", std::slice::from_ref(&self.dispatch));
    }
}

/// Where one SLM's measured correlation goes.
pub enum ReadoutOut<'a> {
    /// An ideal phase SLM: the pump interfering with the probe is `u = e^{iφ}·v` (`mask`, at
    /// macro-pixel resolution `k`), and the gradient `−2·Im(e^{iφ}·c)` goes to `grad`.
    Phase {
        k: usize,
        mask: &'a GpuBuffer<Complex32>,
        params: &'a GpuBuffer<f32>,
        grad: &'a GpuBuffer<f32>,
    },
    /// A device model: the correlation of `v` with the probe on the grid (`corr`), for
    /// [`super::SlmDevice::grad_measured`]; `k`, the SLM's macro-pixel, sizes the camera pixel.
    Grid {
        k: usize,
        corr: &'a GpuBuffer<Complex32>,
    },
}

/// One SLM's read-out: the measurement of each image (one workgroup an image) and the
/// correlation or gradient from it.
pub struct Readout {
    dispatches: Vec<Dispatch>,
    uniform: wgpu::Buffer,
    base: ReadoutParams,
}

impl Readout {
    /// Plans the read-out of SLM `slm` (its parameter index: the random counter's `sub` is
    /// `slm × 64 + frame`) from the pump `pump_in` saved at it and the probe arriving at it,
    /// camera pixels of `binning` SLM pixels a side, with the probe's `ratio` (`None`: σ = 1).
    ///
    /// # Panics
    /// If the fields differ in shape or the sizes do not fit (the config validates them).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &GpuContext,
        cam: &Camera,
        seed: u64,
        slm: usize,
        binning: usize,
        pump_in: &Field,
        probe: &Field,
        bufs: &ReadoutBuffers,
        out: ReadoutOut,
    ) -> Result<Self> {
        assert!(pump_in.same_shape(probe), "Readout: fields differ in shape");
        let (nx, ny, batch) = (pump_in.nx(), pump_in.ny(), pump_in.batch());
        // Output cells of `kc` grid pixels a side; camera pixels of `binning` SLM pixels.
        let (k, kc) = match out {
            ReadoutOut::Phase { k, .. } => (k, k),
            ReadoutOut::Grid { k, .. } => (k, 1),
        };
        let side = binning * k;
        if slm >= 1024 {
            return Err(Error::Gpu(format!(
                "the read-out counts its frames' noise for at most 1024 SLMs (SLM {slm})"
            )));
        }
        if side == 0 || nx % side != 0 || ny % side != 0 {
            return Err(Error::config(
                "hardware.readout_binning",
                format!("camera pixels of {side} grid pixels do not tile the {nx}×{ny} grid"),
            ));
        }
        let cam_pixels = (nx / side) * (ny / side);
        assert!(
            bufs.beams.len() >= batch * cam_pixels && bufs.batch == batch && slm < bufs.slms,
            "Readout: the shared buffers are too small"
        );
        let (g, delta) = cam.cross_term();
        let undo = Complex::from_polar(1.0 / (g * cam.steps as f64), delta);
        let key = crate::rng::key_of(seed);
        let base = ReadoutParams {
            nx: u32_of("grid", nx)?,
            ny: u32_of("grid", ny)?,
            kc: kc as u32,
            side: side as u32,
            batch: u32_of("batch", batch)?,
            steps: cam.steps as u32,
            rho: matches!(out, ReadoutOut::Phase { .. }) as u32,
            mode: matches!(out, ReadoutOut::Phase { .. }) as u32,
            key0: key[0],
            key1: key[1],
            step: 0,
            word1: word1(0, Purpose::ReadoutFrame, (slm * 64) as u32),
            slot: u32_of("read-out slots", slm * batch)?,
            noisy: (!cam.noiseless()) as u32,
            undo_re: undo.re as f32,
            undo_im: undo.im as f32,
            shot: cam.shot.unwrap_or(0.0) as f32,
            read: cam.read as f32,
            levels: cam.bits.map_or(0.0, |b| ((1u64 << b) - 1) as f32),
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.readout.params", &base)?;
        let (mask, params, grad, corr) = match out {
            ReadoutOut::Phase {
                mask, params, grad, ..
            } => (mask, params, grad, &bufs.unused_corr),
            ReadoutOut::Grid { corr, .. } => (
                &bufs.unused_mask,
                &bufs.unused_params,
                &bufs.unused_grad,
                corr,
            ),
        };
        let measure = Dispatch::new(
            ctx,
            "readout",
            "readout_measure",
            &[],
            &[
                uniform(0, &u),
                read(1, pump_in.buffer()),
                read(2, probe.buffer()),
                read(3, mask.buffer()),
                write(4, bufs.scales.buffer()),
                write(5, bufs.beams.buffer()),
                read(6, bufs.frames.buffer()),
                write(7, bufs.electrons.buffer()),
            ],
            split_groups(ctx, batch as u64)?,
        )?;
        let grad = Dispatch::new(
            ctx,
            "readout",
            "readout_grad",
            &[],
            &[
                uniform(0, &u),
                read(3, mask.buffer()),
                write(5, bufs.beams.buffer()),
                read(8, params.buffer()),
                write(9, corr.buffer()),
                write(10, grad.buffer()),
            ],
            groups_for(ctx, (nx / kc) * (ny / kc))?,
        )?;
        Ok(Readout {
            dispatches: vec![measure, grad],
            uniform: u,
            base,
        })
    }

    /// Sets the optimiser step the frames' noise is drawn at (the counter's `c0`).
    pub fn set_step(&self, ctx: &GpuContext, step: u64) {
        let p = ReadoutParams {
            step: step as u32,
            ..self.base
        };
        ctx.upload(&self.uniform, 0, &[p]);
    }

    /// Records the measurement and the correlation or gradient.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "readout", &self.dispatches);
    }
}
