//! A plain copy kernel (`shaders/copy.wgsl`): the memory-bandwidth reference the other passes
//! are measured against.

use num_complex::Complex32;

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, u32_of, Dispatch, Slot};
use super::uniforms::LenParams;
use crate::error::Result;

/// `dst[i] = src[i]` over complex samples.
pub struct Copy {
    dispatch: Dispatch,
}

impl Copy {
    /// Plans the copy.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn new(
        ctx: &GpuContext,
        src: &GpuBuffer<Complex32>,
        dst: &GpuBuffer<Complex32>,
    ) -> Result<Self> {
        if src.len() != dst.len() {
            bad_len(src.len(), dst.len());
        }
        let p = LenParams {
            len: u32_of("copy length", src.len())?,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.copy.params", &p)?;
        let k = ctx.kernel(
            "copy",
            "copy",
            &[(0, Slot::Uniform), (1, Slot::Read), (2, Slot::ReadWrite)],
            &[],
        )?;
        let dispatch = Dispatch::new(
            ctx,
            k,
            &[(0, &u), (1, src.buffer()), (2, dst.buffer())],
            groups_for(ctx, src.len())?,
        )?;
        Ok(Copy { dispatch })
    }

    /// Records the copy.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "copy", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(a: usize, b: usize) -> ! {
    panic!("Copy: source has {a} samples, destination {b}")
}
