//! Raw draws of the counter-based generator on the GPU (`shaders/rng_draw.wgsl` over
//! `shaders/rng.wgsl`, mirroring [`crate::rng`]): the check that both engines draw the same
//! numbers for the same key and counter.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, read, u32_of, uniform, write, Dispatch};
use super::uniforms::LenParams;
use crate::error::Result;

/// Item `i` of `items` (`[key0, key1, c0, c1, c2, c3]`) → `bits[i]` (the four u32 of
/// [`crate::rng::philox4x32_10`]) and `normals[i]` ([`crate::rng::normals`]).
pub struct RngDraw {
    dispatch: Dispatch,
}

impl RngDraw {
    /// Plans the draws.
    ///
    /// # Panics
    /// If `items` does not hold six u32 per output item.
    pub fn new(
        ctx: &GpuContext,
        items: &GpuBuffer<u32>,
        bits: &GpuBuffer<[u32; 4]>,
        normals: &GpuBuffer<[f32; 4]>,
    ) -> Result<Self> {
        if items.len() != 6 * bits.len() || bits.len() != normals.len() {
            bad_len(items.len(), bits.len(), normals.len());
        }
        let p = LenParams {
            len: u32_of("rng draws", bits.len())?,
            ..Default::default()
        };
        let u = ctx.uniform("wavetrain.rng_draw.params", &p)?;
        let dispatch = Dispatch::new(
            ctx,
            "rng_draw",
            "draw",
            &[],
            &[
                uniform(0, &u),
                read(1, items.buffer()),
                write(2, bits.buffer()),
                write(3, normals.buffer()),
            ],
            groups_for(ctx, bits.len())?,
        )?;
        Ok(RngDraw { dispatch })
    }

    /// Records the draws.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "rng_draw", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(items: usize, bits: usize, normals: usize) -> ! {
    panic!("RngDraw: {items} item words for {bits} draws (6 each) and {normals} normals")
}
