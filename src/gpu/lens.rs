//! The 2f lens on the GPU (mirrors [`crate::cpu::Lens2f`], runs `shaders/lens.wgsl` and
//! `shaders/fft.wgsl`): checkerboard, FFT scaled by `(−1)^{nx/2+ny/2}·dx/dx_out`, checkerboard.

use super::buffer::Field;
use super::context::GpuContext;
use super::fft::Fft2;
use super::kernel::{encode_pass, groups_for, u32_of, uniform, write, Dispatch};
use super::uniforms::GridParams;
use crate::error::Result;
use crate::fft::Direction;

/// A 2f lens applied to one field in place, bound to its buffers.
pub struct Lens2f {
    checker: Dispatch,
    fft: Fft2,
    pitch_out: f64,
}

impl Lens2f {
    /// Plans a 2f lens of focal length `focal_length` at `wavelength` on `field` (grid pitch
    /// `dx`, power-of-two sides): the pump and probe action (`adjoint = false`) or the adjoint
    /// (the inverse transform with the same scale).
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        dx: f64,
        wavelength: f64,
        focal_length: f64,
        adjoint: bool,
    ) -> Result<Self> {
        let (nx, ny) = (field.nx(), field.ny());
        let pitch_out = crate::optics::lens::fourier_pitch(nx, dx, wavelength, focal_length);
        let sign = if (nx / 2 + ny / 2) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        let dir = if adjoint {
            Direction::Inverse
        } else {
            Direction::Forward
        };
        let fft = Fft2::scaled(ctx, field, dir, sign * dx / pitch_out)?;
        let p = GridParams {
            nx: nx as u32,
            ny: ny as u32,
            len: u32_of("field samples", field.len())?,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.lens.params", &p)?;
        let checker = Dispatch::new(
            ctx,
            "lens",
            "checkerboard",
            &[],
            &[uniform(0, &u), write(1, field.buffer())],
            groups_for(ctx, field.len())?,
        )?;
        Ok(Lens2f {
            checker,
            fft,
            pitch_out,
        })
    }

    /// Pixel pitch in the back focal plane.
    pub fn pitch_out(&self) -> f64 {
        self.pitch_out
    }

    /// Records the lens.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(
            enc,
            "lens.checkerboard",
            std::slice::from_ref(&self.checker),
        );
        self.fft.encode(enc);
        encode_pass(
            enc,
            "lens.checkerboard",
            std::slice::from_ref(&self.checker),
        );
    }
}
