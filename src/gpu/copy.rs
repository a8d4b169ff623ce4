//! A plain copy kernel (`shaders/copy.wgsl`): the memory-bandwidth reference the other passes
//! are measured against.

use num_complex::Complex32;

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, read, u32_of, uniform, write, Dispatch};
use super::uniforms::LenParams;
use crate::error::Result;

/// `dst[i] = src[i]` over complex samples.
pub struct CopyField {
    dispatch: Dispatch,
}

impl CopyField {
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
        let dispatch = Dispatch::new(
            ctx,
            "copy",
            "copy",
            &[],
            &[
                uniform(0, &u),
                read(1, src.buffer()),
                write(2, dst.buffer()),
            ],
            groups_for(ctx, src.len())?,
        )?;
        Ok(CopyField { dispatch })
    }

    /// Records the copy.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "copy", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(a: usize, b: usize) -> ! {
    panic!("CopyField: source has {a} samples, destination {b}")
}
