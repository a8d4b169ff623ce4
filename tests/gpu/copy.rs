//! `CopyField` (shaders/copy.wgsl): an exact copy of an odd-sized buffer.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::gpu::{self, GpuBuffer};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

pub fn copy_kernel(ctx: &Ctx) -> Result<(), Failed> {
    let x: Vec<Complex32> = random_field(100_003, 95);
    let src = GpuBuffer::from_slice(ctx, "src", &x)?;
    let dst = GpuBuffer::from_slice(ctx, "dst", &vec![NAN; x.len()])?;
    let op = gpu::CopyField::new(ctx, &src, &dst)?;
    run(ctx, |e| op.encode(e))?;
    assert_eq!(dst.read(ctx)?, x);
    Ok(())
}
