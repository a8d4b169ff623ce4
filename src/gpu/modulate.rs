//! Diagonal masks on the GPU (mirrors `src/cpu/modulate.rs`, runs `shaders/modulate.wgsl`):
//! SLM masks built from phases or signed amplitudes, the modulation of a field by a mask with
//! `k×k` macro-pixels (pump and probe action of SLMs and of the thin lens), and the SLM parameter
//! gradients with the batch and macro-pixel reduction fused in.

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, read, u32_of, uniform, write, Dispatch};
use super::uniforms::ModulateParams;
use crate::error::Result;

/// What an SLM's parameters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Phases `φ` (radians, any range): mask `e^{iφ}`.
    Phase,
    /// Signed real amplitudes `w`: mask `w`.
    Amplitude,
}

/// Builds a complex mask from SLM parameters on the GPU (`mask_from_phase` /
/// `mask_from_amplitude`), e.g. after each parameter update.
pub struct BuildMask {
    dispatch: Dispatch,
}

impl BuildMask {
    /// Plans `mask[p] = e^{iφ_p}` (phase) or `w_p` (amplitude) from `params`.
    ///
    /// # Panics
    /// If `params` and `mask` differ in length.
    pub fn new(
        ctx: &GpuContext,
        kind: MaskKind,
        params: &GpuBuffer<f32>,
        mask: &GpuBuffer<Complex32>,
    ) -> Result<Self> {
        if params.len() != mask.len() {
            bad_len("BuildMask", params.len(), mask.len());
        }
        let p = ModulateParams {
            sx: u32_of("mask length", mask.len())?,
            sy: 1,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.mask.params", &p)?;
        let entry = match kind {
            MaskKind::Phase => "mask_from_phase",
            MaskKind::Amplitude => "mask_from_amplitude",
        };
        let dispatch = Dispatch::new(
            ctx,
            "modulate",
            entry,
            &[],
            &[
                uniform(0, &u),
                read(3, params.buffer()),
                write(4, mask.buffer()),
            ],
            groups_for(ctx, mask.len())?,
        )?;
        Ok(BuildMask { dispatch })
    }

    /// Records the mask build.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "mask", std::slice::from_ref(&self.dispatch));
    }
}

fn params_for(field: &Field, k: usize, mask_len: usize) -> Result<ModulateParams> {
    let (nx, ny) = (field.nx(), field.ny());
    if k == 0 || nx % k != 0 || ny % k != 0 || mask_len != (nx / k) * (ny / k) {
        bad_mask(nx, ny, k, mask_len);
    }
    u32_of("field samples", field.len())?;
    Ok(ModulateParams {
        nx: nx as u32,
        ny: ny as u32,
        k: k as u32,
        sx: (nx / k) as u32,
        sy: (ny / k) as u32,
        batch: field.batch() as u32,
        ..Default::default()
    })
}

/// Multiplies every image of a field by a mask of `(nx/k)·(ny/k)` values, in place (mirrors
/// [`crate::cpu::modulate()`]).
pub struct Modulate {
    dispatch: Dispatch,
}

impl Modulate {
    /// Plans `field[b][y][x] ·= mask[y/k][x/k]`.
    ///
    /// # Panics
    /// If `nx` or `ny` is not a multiple of `k` or the mask is not `(nx/k)·(ny/k)` long.
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        mask: &GpuBuffer<Complex32>,
        k: usize,
    ) -> Result<Self> {
        let p = params_for(field, k, mask.len())?;
        let u = ctx.uniform("wavetrain.modulate.params", &p)?;
        let dispatch = Dispatch::new(
            ctx,
            "modulate",
            "modulate",
            &[],
            &[
                uniform(0, &u),
                write(1, field.buffer()),
                read(2, mask.buffer()),
            ],
            groups_for(ctx, field.len())?,
        )?;
        Ok(Modulate { dispatch })
    }

    /// Records the modulation.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "modulate", std::slice::from_ref(&self.dispatch));
    }
}

/// The gradient of an SLM's parameters from the pump `v` entering it and the probe `b` arriving at
/// it: `c = Σ_{batch, macro-pixel} b·v`, then `∂L/∂φ = −2·Im(e^{iφ}·c)` or `∂L/∂w = 2·Re(c)`
/// (mirrors [`crate::cpu::mask_correlation`] with [`crate::cpu::phase_grad`] /
/// [`crate::cpu::amplitude_grad`]), in one kernel.
pub struct SlmGrad {
    dispatch: Dispatch,
}

impl SlmGrad {
    /// Plans the gradient into `grad` (overwritten). `params` holds the phases (read for
    /// [`MaskKind::Phase`], unused for amplitudes).
    ///
    /// # Panics
    /// If `pump_in` and `probe` differ in shape, or the parameter sizes do not fit (see
    /// [`Modulate::new`]).
    pub fn new(
        ctx: &GpuContext,
        kind: MaskKind,
        pump_in: &Field,
        probe: &Field,
        params: &GpuBuffer<f32>,
        grad: &GpuBuffer<f32>,
        k: usize,
    ) -> Result<Self> {
        if !pump_in.same_shape(probe) || params.len() != grad.len() {
            bad_len("SlmGrad", pump_in.len(), probe.len());
        }
        let p = params_for(pump_in, k, grad.len())?;
        let u = ctx.uniform("wavetrain.slm_grad.params", &p)?;
        let groups = groups_for(ctx, grad.len())?;
        let beams = [
            read(5, pump_in.buffer()),
            read(6, probe.buffer()),
            write(7, grad.buffer()),
        ];
        let dispatch = match kind {
            MaskKind::Phase => Dispatch::new(
                ctx,
                "modulate",
                "slm_phase_grad",
                &[],
                &[&[uniform(0, &u), read(3, params.buffer())][..], &beams].concat(),
                groups,
            )?,
            MaskKind::Amplitude => Dispatch::new(
                ctx,
                "modulate",
                "slm_amplitude_grad",
                &[],
                &[&[uniform(0, &u)][..], &beams].concat(),
                groups,
            )?,
        };
        Ok(SlmGrad { dispatch })
    }

    /// Records the gradient.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "slm_grad", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(what: &str, a: usize, b: usize) -> ! {
    panic!("{what}: buffer sizes differ ({a} vs {b})")
}

#[cold]
#[inline(never)]
fn bad_mask(nx: usize, ny: usize, k: usize, len: usize) -> ! {
    panic!(
        "modulate: a {nx}×{ny} grid does not fit a mask of {len} values with {k}×{k} macro-pixels (expected {})",
        nx.checked_div(k).unwrap_or(0) * ny.checked_div(k).unwrap_or(0)
    )
}
