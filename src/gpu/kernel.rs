//! Compiled compute kernels with explicit bind-group layouts, and the recorded dispatches that
//! ops replay into a command encoder.

use std::sync::Arc;

use super::context::GpuContext;
use super::shaders;
use crate::error::{Error, Result};

/// Threads per workgroup of the one-dimensional kernels.
pub(crate) const WG: u32 = 256;

/// What a binding slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Uniform,
    Read,
    ReadWrite,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KernelKey {
    pub(crate) shader: &'static str,
    pub(crate) entry: &'static str,
    pub(crate) consts: Vec<(&'static str, u32)>,
}

/// A compute pipeline and its bind-group layout.
pub(crate) struct Kernel {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) label: String,
}

impl Kernel {
    pub(crate) fn new(
        ctx: &GpuContext,
        shader: &'static str,
        entry: &'static str,
        slots: &[(u32, Slot)],
        consts: &[(&'static str, u32)],
    ) -> Result<Self> {
        let label = format!("wavetrain.{entry}");
        let src = shaders::source(shader, consts)
            .ok_or_else(|| Error::Gpu(format!("no shader named '{shader}'")))?;
        let device = ctx.device();
        ctx.scoped(
            || format!("compiling {label} ({shader}.wgsl)"),
            || {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                });
                let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
                    .iter()
                    .map(|&(binding, slot)| wgpu::BindGroupLayoutEntry {
                        binding,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: match slot {
                                Slot::Uniform => wgpu::BufferBindingType::Uniform,
                                Slot::Read => wgpu::BufferBindingType::Storage { read_only: true },
                                Slot::ReadWrite => {
                                    wgpu::BufferBindingType::Storage { read_only: false }
                                }
                            },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    })
                    .collect();
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(&label),
                    entries: &entries,
                });
                let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(&label),
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                Kernel {
                    pipeline,
                    layout,
                    label: label.clone(),
                }
            },
        )
    }
}

/// One recorded dispatch: kernel, bound buffers, workgroup counts.
pub(crate) struct Dispatch {
    kernel: Arc<Kernel>,
    bind: wgpu::BindGroup,
    groups: (u32, u32, u32),
}

impl Dispatch {
    /// Binds `buffers` (binding number, buffer) to `kernel`, to be dispatched over `groups`.
    pub(crate) fn new(
        ctx: &GpuContext,
        kernel: Arc<Kernel>,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: (u32, u32, u32),
    ) -> Result<Self> {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
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
        })
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
