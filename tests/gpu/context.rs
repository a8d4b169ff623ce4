//! The device context (src/gpu/context.rs): adapter listing and choice, limits, batch-size
//! refusals, validation errors reported through the error scopes, and GPU timestamps.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::gpu::{self, AdapterRequest, Field, GpuBuffer, GpuContext};
use wavetrain::Grid;

use crate::support::*;
use crate::Ctx;

pub fn adapters_and_limits(ctx: &Ctx) -> Result<(), Failed> {
    let all = gpu::list_adapters();
    assert!(all.iter().any(|a| a.name == ctx.adapter().name), "{all:?}");
    let json = serde_json::to_string(&all)?;
    assert!(json.contains("max_storage_buffer_binding_size"), "{json}");
    match gpu::auto_adapter() {
        Some(a) => assert!(!a.software, "auto picked a software adapter: {a:?}"),
        None => {
            assert!(
                all.iter().all(|a| a.software),
                "hardware adapter present but auto picked none"
            );
            let e = GpuContext::new(&AdapterRequest::default())
                .err()
                .ok_or("software adapter opened without allow_software")?;
            assert!(e.to_string().contains("software"), "{e}");
        }
    }
    let e = GpuContext::new(&AdapterRequest {
        name: Some("no-such-adapter-xyz".into()),
        allow_software: true,
    })
    .err()
    .ok_or("unknown adapter name accepted")?;
    assert!(e.to_string().contains("no-such-adapter-xyz"), "{e}");
    let l = &ctx.adapter().limits;
    assert_eq!(
        l.max_storage_buffer_binding_size,
        ctx.limits().max_storage_buffer_binding_size
    );
    Ok(())
}

pub fn batch_too_large_is_refused(ctx: &Ctx) -> Result<(), Failed> {
    let per = (1024 * 1024 * 8) as u64;
    let max = ctx.max_batch(per);
    let e = Field::new(ctx, "big", 1024, 1024, max + 1)
        .err()
        .ok_or("oversized batch accepted")?;
    assert!(e.to_string().contains(&format!("at most {max}")), "{e}");
    let grid = Grid::new(1024, 1024, 8e-6)?;
    let tf = gpu::TransferFunction::new(ctx, &grid, LAMBDA, 1e-2, 2.0, true)?;
    let m = tf.max_batch(ctx);
    let e = gpu::PropagateScratch::new(ctx, &tf, m + 1)
        .err()
        .ok_or("oversized propagation batch accepted")?;
    assert!(e.to_string().contains(&format!("at most {m}")), "{e}");
    Ok(())
}

/// A validation error inside wgpu (an invalid buffer usage) comes back as `Error::Gpu` naming
/// what was being done and the size, through the error scopes, not as a crash; the context stays
/// usable afterwards.
pub fn validation_error_is_a_clear_error(ctx: &Ctx) -> Result<(), Failed> {
    let usage = gpu::wgpu::BufferUsages::MAP_READ | gpu::wgpu::BufferUsages::STORAGE;
    let e = ctx
        .create_buffer("invalid-usage", 256, usage)
        .err()
        .ok_or("an invalid buffer usage was accepted")?;
    let msg = e.to_string();
    assert!(matches!(e, wavetrain::Error::Gpu(_)), "{msg}");
    assert!(
        msg.contains("allocating invalid-usage (256 bytes)"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 6);
    // The shared context still works.
    let f = Field::from_slice(ctx, "after", 4, 4, 1, &[Complex32::new(1.0, 0.0); 16])?;
    assert_eq!(f.data().read(ctx)?.len(), 16);
    Ok(())
}

/// GPU timestamps: where the adapter has them, a copy timed on the GPU clock takes a positive,
/// finite time shorter than the wall-clock submit-and-wait around it; without them the context
/// says so and returns `None`.
pub fn timestamps_time_a_copy(ctx: &Ctx) -> Result<(), Failed> {
    let n = 1 << 20;
    let src = GpuBuffer::from_slice(ctx, "ts.src", &vec![Complex32::new(1.0, 2.0); n])?;
    let dst = GpuBuffer::<Complex32>::new(ctx, "ts.dst", n)?;
    let copy = gpu::CopyField::new(ctx, &src, &dst)?;
    let wall = std::time::Instant::now();
    let t = ctx.time_on_gpu(&|e| copy.encode(e))?;
    let wall = wall.elapsed().as_secs_f64();
    match (ctx.has_timestamps(), t) {
        (true, Some(t)) if t.is_finite() && t > 0.0 && t <= wall => {}
        (false, None) => {}
        (has, t) => return Err(format!("timestamps {has}, GPU time {t:?}, wall {wall} s").into()),
    }
    if dst.read(ctx)?[n - 1] != Complex32::new(1.0, 2.0) {
        return Err("the timed copy did not run".into());
    }
    Ok(())
}
