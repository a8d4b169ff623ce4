//! The recorded dispatches that ops replay into a command encoder: a kernel of the context's
//! cache bound to its buffers, each binding written once ([`Bind`]), and the workgroup helpers.

use std::sync::Arc;

use super::context::{Access, GpuContext, Kernel};
use crate::error::{Error, Result};

/// Threads per workgroup of the one-dimensional kernels.
pub(crate) const WG: u32 = 256;

/// One binding of a dispatch, written once: its number, its access and its buffer. The kernel's
/// bind-group layout and the bind group both come from the same list.
#[derive(Clone, Copy)]
pub(crate) struct Bind<'a> {
    binding: u32,
    access: Access,
    buffer: &'a wgpu::Buffer,
}

/// A uniform buffer at `binding`.
pub(crate) fn uniform(binding: u32, buffer: &wgpu::Buffer) -> Bind<'_> {
    Bind {
        binding,
        access: Access::Uniform,
        buffer,
    }
}

/// A read-only storage buffer at `binding`.
pub(crate) fn read(binding: u32, buffer: &wgpu::Buffer) -> Bind<'_> {
    Bind {
        binding,
        access: Access::Read,
        buffer,
    }
}

/// A read-write storage buffer at `binding`.
pub(crate) fn write(binding: u32, buffer: &wgpu::Buffer) -> Bind<'_> {
    Bind {
        binding,
        access: Access::ReadWrite,
        buffer,
    }
}

/// One recorded dispatch: kernel, bound buffers, workgroup counts, and the global-memory bytes
/// the traffic model ([`super::traffic`]) counts for it.
pub(crate) struct Dispatch {
    kernel: Arc<Kernel>,
    bind: wgpu::BindGroup,
    groups: (u32, u32, u32),
    name: &'static str,
    bytes: u64,
}

impl Dispatch {
    /// Entry point `entry` of `shader` (compiled once per context with `consts`), its bindings
    /// `binds`, to be dispatched over `groups`.
    pub(crate) fn new(
        ctx: &GpuContext,
        shader: &'static str,
        entry: &'static str,
        consts: &[(&'static str, u32)],
        binds: &[Bind],
        groups: (u32, u32, u32),
    ) -> Result<Self> {
        let slots: Vec<(u32, Access)> = binds.iter().map(|b| (b.binding, b.access)).collect();
        let bytes = binds
            .iter()
            .map(|b| match b.access {
                Access::Uniform => 0,
                Access::Read => b.buffer.size(),
                Access::ReadWrite => 2 * b.buffer.size(),
            })
            .sum();
        let kernel = ctx.kernel(shader, entry, &slots, consts)?;
        let entries: Vec<wgpu::BindGroupEntry> = binds
            .iter()
            .map(|b| wgpu::BindGroupEntry {
                binding: b.binding,
                resource: b.buffer.as_entire_binding(),
            })
            .collect();
        let bind = ctx.scoped(
            || format!("binding buffers to {}", kernel.label),
            || {
                ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&kernel.label),
                    layout: &kernel.layout,
                    entries: &entries,
                })
            },
        )?;
        Ok(Dispatch {
            kernel,
            bind,
            groups,
            name: entry,
            bytes,
        })
    }
}

impl Dispatch {
    /// Sets the bytes the traffic model counts for this dispatch, for a kernel that touches
    /// only part of its buffers (the default counts every bound storage buffer whole).
    pub(crate) fn with_bytes(mut self, bytes: u64) -> Self {
        self.bytes = bytes;
        self
    }
}

/// Records `dispatches` into one compute pass labelled `wavetrain.{label}`.
pub(crate) fn encode_pass(enc: &mut wgpu::CommandEncoder, label: &str, dispatches: &[Dispatch]) {
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(&format!("wavetrain.{label}")),
        timestamp_writes: None,
    });
    for d in dispatches {
        pass.set_pipeline(&d.kernel.pipeline);
        pass.set_bind_group(0, &d.bind, &[]);
        pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
        super::traffic::note_dispatch(d.name, d.bytes);
    }
}

/// Workgroup counts for `groups` workgroups, split over x and y when they exceed the per-dimension
/// limit (shaders recover the linear index with `group_index` and skip the excess).
pub(crate) fn split_groups(ctx: &GpuContext, groups: u64) -> Result<(u32, u32, u32)> {
    let max = ctx.limits().max_compute_workgroups_per_dimension.max(1) as u64;
    let groups = groups.max(1);
    if groups <= max {
        return Ok((groups as u32, 1, 1));
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::Gpu(format!(
            "{groups} workgroups exceed the adapter's {max}×{max} dispatch grid: use a smaller batch"
        )));
    }
    Ok((max as u32, y as u32, 1))
}

/// Workgroup counts for one thread per element of `len` elements.
pub(crate) fn groups_for(ctx: &GpuContext, len: usize) -> Result<(u32, u32, u32)> {
    split_groups(ctx, (len as u64).div_ceil(WG as u64))
}

/// Converts a size to `u32` for a uniform, or errors naming what is too large.
pub(crate) fn u32_of(what: &str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        Error::Gpu(format!(
            "{what} = {n} exceeds the GPU's 32-bit index range: use a smaller batch"
        ))
    })
}
