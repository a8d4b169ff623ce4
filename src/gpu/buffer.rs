//! Typed storage buffers on the GPU: plain arrays of `f32` or complex values, and fields (a batch
//! of complex images with their shape).

use std::marker::PhantomData;

use bytemuck::Pod;
use num_complex::Complex32;

use super::context::GpuContext;
use crate::error::{Error, Result};

/// A storage buffer of `len` values of `T` (`f32`, `u32` or [`Complex32`]), usable as a copy
/// source and destination. Cloning shares the same GPU memory.
#[derive(Clone, Debug)]
pub struct GpuBuffer<T: Pod> {
    buffer: wgpu::Buffer,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Pod> GpuBuffer<T> {
    /// An uninitialised buffer of `len` values, labelled `wavetrain.{label}`.
    pub fn new(ctx: &GpuContext, label: &str, len: usize) -> Result<Self> {
        let bytes = (len as u64) * std::mem::size_of::<T>() as u64;
        let buffer = ctx.create_buffer(
            &format!("wavetrain.{label}"),
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(GpuBuffer {
            buffer,
            len,
            _t: PhantomData,
        })
    }

    /// A buffer holding `data`.
    pub fn from_slice(ctx: &GpuContext, label: &str, data: &[T]) -> Result<Self> {
        let b = Self::new(ctx, label, data.len())?;
        b.upload(ctx, data);
        Ok(b)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wgpu buffer.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Overwrites the whole buffer with `data` (applied before the next submission).
    ///
    /// # Panics
    /// If `data.len()` differs from [`Self::len`].
    pub fn upload(&self, ctx: &GpuContext, data: &[T]) {
        if data.len() != self.len {
            bad_upload(data.len(), self.len);
        }
        ctx.upload(&self.buffer, 0, data);
    }

    /// Reads the whole buffer back, after all submitted work.
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<T>> {
        ctx.read(&self.buffer, 0, self.len)
    }
}

#[cold]
#[inline(never)]
fn bad_upload(got: usize, len: usize) -> ! {
    panic!("GpuBuffer::upload: {got} values for a buffer of {len}")
}

/// A batch of complex `nx × ny` images on the GPU, row-major `[batch][ny][nx]` like the CPU
/// engine. Cloning shares the same GPU memory.
#[derive(Clone, Debug)]
pub struct Field {
    data: GpuBuffer<Complex32>,
    nx: usize,
    ny: usize,
    batch: usize,
}

impl Field {
    /// An uninitialised field. A batch that does not fit one storage binding is refused with the
    /// largest batch that does.
    pub fn new(ctx: &GpuContext, label: &str, nx: usize, ny: usize, batch: usize) -> Result<Self> {
        let per = (nx * ny * std::mem::size_of::<Complex32>()) as u64;
        let max = ctx.max_batch(per);
        if batch > max {
            return Err(Error::Gpu(format!(
                "{label}: a batch of {batch} images of {nx}×{ny} needs {} bytes in one binding, but '{}' allows {}: use a batch of at most {max}",
                per * batch as u64,
                ctx.adapter().name,
                ctx.max_binding()
            )));
        }
        Ok(Field {
            data: GpuBuffer::new(ctx, label, nx * ny * batch)?,
            nx,
            ny,
            batch,
        })
    }

    /// A field holding `data` (`[batch][ny][nx]`).
    ///
    /// # Panics
    /// If `data.len()` is not `nx·ny·batch`.
    pub fn from_slice(
        ctx: &GpuContext,
        label: &str,
        nx: usize,
        ny: usize,
        batch: usize,
        data: &[Complex32],
    ) -> Result<Self> {
        let f = Self::new(ctx, label, nx, ny, batch)?;
        f.upload(ctx, data);
        Ok(f)
    }

    /// Image width.
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Image height.
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// Images in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Complex samples in the whole batch.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the field holds no samples.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The samples as a typed buffer.
    pub fn data(&self) -> &GpuBuffer<Complex32> {
        &self.data
    }

    /// The wgpu buffer.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.data.buffer()
    }

    /// Overwrites the field (applied before the next submission).
    ///
    /// # Panics
    /// If `data.len()` is not `nx·ny·batch`.
    pub fn upload(&self, ctx: &GpuContext, data: &[Complex32]) {
        self.data.upload(ctx, data);
    }

    /// Reads the field back, after all submitted work.
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<Complex32>> {
        self.data.read(ctx)
    }

    /// True when `other` has the same shape.
    pub fn same_shape(&self, other: &Field) -> bool {
        (self.nx, self.ny, self.batch) == (other.nx, other.ny, other.batch)
    }
}
