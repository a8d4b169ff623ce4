//! The imperfect system's operators on the GPU (mirrors `src/cpu/hardware.rs` and
//! [`crate::optics::slm`]; see [`crate::network::hardware`] for the model): the lateral shift of
//! an SLM as a periodic Fourier operator ([`shift_spectrum`], run by
//! [`super::Propagate`] on a [`super::TransferFunction::periodic`]), and the device model of a
//! phase SLM ([`SlmDevice`], `shaders/slm.wgsl`): the shown transmission on the grid from the
//! commanded phases, and its gradient from the probe–pump correlation on the grid.
//!
//! The optical-depth maps of absorbers are [`super::AbsorberPump::with_map`] and
//! [`super::AbsorberProbe::with_map`].

use std::f64::consts::{PI, TAU};

use num_complex::{Complex, Complex32};

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, read, u32_of, uniform, write, Dispatch};
use super::uniforms::SlmParams;
use crate::error::{Error, Result};
use crate::optics::slm::{coverage, gaussian_kernel};
use crate::optics::SlmModel;

/// The spectrum of the lateral shift by `s = [sx, sy]` grid pixels on an `nx × ny` periodic grid
/// (`out(x) = in(x − s)`), `[ky][kx]`: the product of the ramps `e^{−2πi k s/n}` along x and y,
/// the Nyquist bin of an even side real, `(−1)^r·cos(π f)` for `s = r + f` (`r` the nearest
/// integer, as the CPU's exact roll followed by its fractional ramp). Its conjugate is the shift
/// by `−s`, which is also its transpose.
pub fn shift_spectrum(s: [f64; 2], nx: usize, ny: usize) -> Vec<Complex<f64>> {
    let ramp = |n: usize, s: f64| -> Vec<Complex<f64>> {
        let r = s.round();
        let snap = |f: f64| if f.abs() < 1e-9 { 0.0 } else { f };
        let f = snap(s - r);
        (0..n)
            .map(|k| {
                if n.is_multiple_of(2) && k == n / 2 {
                    let sign = if (r as i64).rem_euclid(2) == 0 {
                        1.0
                    } else {
                        -1.0
                    };
                    Complex::new(sign * (PI * f).cos(), 0.0)
                } else {
                    let kk = if k > n / 2 {
                        k as f64 - n as f64
                    } else {
                        k as f64
                    };
                    // The integer part reduced per bin (exact in f64), then the fraction.
                    let turns = (kk * r).rem_euclid(n as f64) / n as f64 + kk * f / n as f64;
                    Complex::from_polar(1.0, -TAU * turns)
                }
            })
            .collect()
    };
    let (rx, ry) = (ramp(nx, s[0]), ramp(ny, s[1]));
    let mut h = Vec::with_capacity(nx * ny);
    for y in &ry {
        for x in &rx {
            h.push(x * y);
        }
    }
    h
}

/// The device model of one phase SLM on the GPU: [`SlmModel::show`] (encoded before the pump
/// pass, after every parameter update); [`SlmDevice::grad`] plans [`SlmModel::grad`] bound to a
/// probe and the saved pump ([`SlmDeviceGrad`], encoded in the probe pass).
pub struct SlmDevice {
    show: Vec<Dispatch>,
    mask: GpuBuffer<Complex32>,
    /// Buffers the gradient binds (kept with the op).
    bufs: DeviceBufs,
    uniform: wgpu::Buffer,
    sizes: (usize, usize),
}

struct DeviceBufs {
    resp: GpuBuffer<[f32; 4]>,
    weights: GpuBuffer<f32>,
    cover: GpuBuffer<f32>,
    tmp: GpuBuffer<f32>,
    psi: GpuBuffer<f32>,
    work: GpuBuffer<f32>,
    da: GpuBuffer<f32>,
}

impl SlmDevice {
    /// Plans the shown transmission of `model` (a phase SLM of `sx × sy` pixels of `k × k`
    /// samples) from `params` into its own grid mask ([`SlmDevice::mask`]); `batch` is the
    /// batch of the fields its gradient will correlate. `what` names the SLM in errors.
    pub fn new(
        ctx: &GpuContext,
        model: &SlmModel,
        params: &GpuBuffer<f32>,
        (sx, sy, k): (usize, usize, usize),
        batch: usize,
        what: &str,
    ) -> Result<Self> {
        if !model.phase {
            return Err(Error::config(
                "backend",
                format!("{what}: the device model of an amplitude SLM does not run on the GPU: use --backend cpu"),
            ));
        }
        if params.len() != sx * sy {
            return Err(Error::Gpu(format!(
                "internal: {what}: {} parameters for a {sx}×{sy} SLM",
                params.len()
            )));
        }
        let (nx, ny) = (sx * k, sy * k);
        let n = nx * ny;
        u32_of("field samples", n * batch)?;
        let kern = gaussian_kernel(model.fringing * k as f64);
        let radius = kern.len() / 2;
        let r = &model.response;
        let (lut, lut_len): (Vec<[f32; 4]>, usize) = match &r.lut {
            Some(t) => (
                (0..t.level.len())
                    .map(|i| {
                        [
                            t.level[i] as f32,
                            t.phase[i] as f32,
                            t.amplitude[i] as f32,
                            0.0,
                        ]
                    })
                    .collect(),
                t.level.len(),
            ),
            None => (vec![[0.0; 4]], 0),
        };
        let levels = match r.bits {
            Some(b) if b < 32 => 1u32 << b,
            Some(b) => {
                return Err(Error::config(
                    "hardware.phase_bits",
                    format!("{b} bits do not run on the GPU: use at most 31, or --backend cpu"),
                ))
            }
            None => 0,
        };
        let p = SlmParams {
            nx: nx as u32,
            ny: ny as u32,
            k: k as u32,
            sx: sx as u32,
            sy: sy as u32,
            batch: batch as u32,
            radius: radius as u32,
            lut_len: lut_len as u32,
            levels,
            range: r.range as f32,
            ..Default::default()
        };
        let uniform_buf = ctx.uniform("wavetrain.slm.params", &p)?;
        let f32s = |label: &str, v: &[f64]| -> Result<GpuBuffer<f32>> {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            GpuBuffer::from_slice(ctx, label, &v)
        };
        let bufs = DeviceBufs {
            resp: GpuBuffer::new(ctx, "slm.resp", sx * sy)?,
            weights: f32s("slm.weights", &kern)?,
            cover: f32s("slm.cover", &coverage(k, model.fill_factor))?,
            tmp: GpuBuffer::new(ctx, "slm.tmp", n)?,
            psi: GpuBuffer::new(ctx, "slm.psi", n)?,
            work: GpuBuffer::new(ctx, "slm.work", n)?,
            da: GpuBuffer::new(ctx, "slm.da", n)?,
        };
        let lut = GpuBuffer::from_slice(ctx, "slm.lut", &lut)?;
        let mask = GpuBuffer::<Complex32>::new(ctx, "slm.mask", n)?;
        let u = &uniform_buf;
        let b = &bufs;
        let (pix, grid) = (groups_for(ctx, sx * sy)?, groups_for(ctx, n)?);
        let show = vec![
            Dispatch::new(
                ctx,
                "slm",
                "slm_response",
                &[],
                &[
                    uniform(0, u),
                    read(1, params.buffer()),
                    write(2, b.resp.buffer()),
                    read(3, lut.buffer()),
                ],
                pix,
            )?,
            Dispatch::new(
                ctx,
                "slm",
                "slm_smooth_rows",
                &[],
                &[
                    uniform(0, u),
                    write(2, b.resp.buffer()),
                    read(4, b.weights.buffer()),
                    write(6, b.tmp.buffer()),
                ],
                grid,
            )?,
            Dispatch::new(
                ctx,
                "slm",
                "slm_smooth_cols",
                &[],
                &[
                    uniform(0, u),
                    read(4, b.weights.buffer()),
                    write(6, b.tmp.buffer()),
                    write(7, b.psi.buffer()),
                ],
                grid,
            )?,
            Dispatch::new(
                ctx,
                "slm",
                "slm_mask",
                &[],
                &[
                    uniform(0, u),
                    write(2, b.resp.buffer()),
                    read(5, b.cover.buffer()),
                    write(7, b.psi.buffer()),
                    write(8, mask.buffer()),
                ],
                grid,
            )?,
        ];
        Ok(SlmDevice {
            show,
            mask,
            bufs,
            uniform: uniform_buf,
            sizes: (sx * sy, n),
        })
    }

    /// The shown transmission on the grid (`ny × nx`, modulate with `k = 1`).
    pub fn mask(&self) -> &GpuBuffer<Complex32> {
        &self.mask
    }

    /// Plans the gradient: `∂L/∂φ` into `grad` from the pump `pump_in` saved at the SLM and
    /// the probe `probe` arriving at it (both `ny × nx` per image, the SLM's own frame), with
    /// the shown phase and response of the last [`SlmDevice::encode_show`].
    ///
    /// # Panics
    /// If the fields do not fit the SLM's grid or `grad` its pixels.
    pub fn grad(
        &self,
        ctx: &GpuContext,
        pump_in: &Field,
        probe: &Field,
        grad: &GpuBuffer<f32>,
    ) -> Result<SlmDeviceGrad> {
        let (pixels, n) = self.sizes;
        if !pump_in.same_shape(probe) || pump_in.nx() * pump_in.ny() != n || grad.len() != pixels {
            panic!(
                "SlmDevice: fields of {}×{} or a gradient of {} values do not fit an SLM of {pixels} pixels on {n} samples",
                pump_in.nx(),
                pump_in.ny(),
                grad.len()
            );
        }
        let (u, b) = (&self.uniform, &self.bufs);
        let first = Dispatch::new(
            ctx,
            "slm",
            "slm_grad_grid",
            &[],
            &[
                uniform(0, u),
                write(2, b.resp.buffer()),
                read(5, b.cover.buffer()),
                write(7, b.psi.buffer()),
                read(9, pump_in.buffer()),
                read(10, probe.buffer()),
                write(11, b.work.buffer()),
                write(12, b.da.buffer()),
            ],
            groups_for(ctx, n)?,
        )?;
        self.grad_from(ctx, first, grad)
    }

    /// As [`SlmDevice::grad`], from the probe–pump correlation on the grid (`ny × nx`, summed
    /// over the batch) that the hardware's camera measured ([`super::Readout`]).
    ///
    /// # Panics
    /// If `measured` does not fit the grid or `grad` the SLM's pixels.
    pub fn grad_measured(
        &self,
        ctx: &GpuContext,
        measured: &GpuBuffer<Complex32>,
        grad: &GpuBuffer<f32>,
    ) -> Result<SlmDeviceGrad> {
        let (pixels, n) = self.sizes;
        if measured.len() != n || grad.len() != pixels {
            panic!(
                "SlmDevice: a correlation of {} values or a gradient of {} do not fit an SLM of {pixels} pixels on {n} samples",
                measured.len(),
                grad.len()
            );
        }
        let (u, b) = (&self.uniform, &self.bufs);
        let first = Dispatch::new(
            ctx,
            "slm",
            "slm_grad_grid_measured",
            &[],
            &[
                uniform(0, u),
                write(2, b.resp.buffer()),
                read(5, b.cover.buffer()),
                write(7, b.psi.buffer()),
                write(11, b.work.buffer()),
                write(12, b.da.buffer()),
                read(14, measured.buffer()),
            ],
            groups_for(ctx, n)?,
        )?;
        self.grad_from(ctx, first, grad)
    }

    /// The gradient's passes after its first (the grid correlation into `work` and `da`): the
    /// smoothing's transpose and the sum over each pixel's samples, into `grad`.
    fn grad_from(
        &self,
        ctx: &GpuContext,
        first: Dispatch,
        grad: &GpuBuffer<f32>,
    ) -> Result<SlmDeviceGrad> {
        let (pixels, n) = self.sizes;
        let (u, b) = (&self.uniform, &self.bufs);
        let grid = groups_for(ctx, n)?;
        let dispatches = vec![
            first,
            Dispatch::new(
                ctx,
                "slm",
                "slm_grad_rows_t",
                &[],
                &[
                    uniform(0, u),
                    read(4, b.weights.buffer()),
                    write(6, b.tmp.buffer()),
                    write(11, b.work.buffer()),
                ],
                grid,
            )?,
            Dispatch::new(
                ctx,
                "slm",
                "slm_grad_cols_t",
                &[],
                &[
                    uniform(0, u),
                    read(4, b.weights.buffer()),
                    write(6, b.tmp.buffer()),
                    write(11, b.work.buffer()),
                ],
                grid,
            )?,
            Dispatch::new(
                ctx,
                "slm",
                "slm_grad_down",
                &[],
                &[
                    uniform(0, u),
                    write(2, b.resp.buffer()),
                    write(11, b.work.buffer()),
                    write(12, b.da.buffer()),
                    write(13, grad.buffer()),
                ],
                groups_for(ctx, pixels)?,
            )?,
        ];
        Ok(SlmDeviceGrad { dispatches })
    }

    /// Records the shown transmission (after the parameters changed).
    pub fn encode_show(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "slm_show", &self.show);
    }
}

/// The gradient of an SLM's device model bound to its fields ([`SlmDevice::grad`]).
pub struct SlmDeviceGrad {
    dispatches: Vec<Dispatch>,
}

impl SlmDeviceGrad {
    /// Records the gradient.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "slm_device_grad", &self.dispatches);
    }
}
