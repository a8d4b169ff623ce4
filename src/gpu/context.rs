//! Adapter choice, the device and queue, the adapter's limits, error capture, and the upload,
//! submit and readback helpers every op uses.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};

use serde::Serialize;

use super::shaders;
use crate::error::{Error, Result};

/// Which adapter to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdapterRequest {
    /// A case-insensitive substring of the adapter name (see [`list_adapters`]); `None` is `auto`:
    /// the best hardware GPU.
    pub name: Option<String>,
    /// Allow software rasterisers (llvmpipe/lavapipe, SwiftShader, WARP). They are never picked
    /// unless this is set; with it, `auto` still prefers hardware.
    pub allow_software: bool,
}

/// The limits that size the work, as the adapter reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimitsSummary {
    /// Largest buffer in bytes.
    pub max_buffer_size: u64,
    /// Largest storage-buffer binding in bytes: bounds the batch.
    pub max_storage_buffer_binding_size: u64,
    /// Workgroup memory in bytes: bounds the FFT lines done in one pass.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations per workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers one shader stage may bind.
    pub max_storage_buffers_per_shader_stage: u32,
}

impl LimitsSummary {
    fn of(l: &wgpu::Limits) -> Self {
        LimitsSummary {
            max_buffer_size: l.max_buffer_size,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        }
    }
}

/// One adapter as `wavetrain info` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    /// Adapter name, e.g. `NVIDIA GeForce RTX 4090` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Backend: `vulkan`, `metal`, `dx12` or `gl`.
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version and details.
    pub driver_info: String,
    /// A software rasteriser (only used when asked for with `allow_software`).
    pub software: bool,
    /// The limits that size the work.
    pub limits: LimitsSummary,
    /// GPU timestamps between commands (`wavetrain bench` times kernels with them).
    pub timestamps: bool,
}

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        AdapterSummary {
            software: is_software(&info),
            name: info.name,
            backend: info.backend.to_str().to_string(),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            limits: LimitsSummary::of(&adapter.limits()),
            timestamps: adapter.features().contains(
                wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
            ),
        }
    }
}

fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "softpipe",
            "swiftshader",
            "basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

/// Preference among hardware adapters: discrete, integrated, virtual, other.
fn rank(info: &wgpu::AdapterInfo) -> u32 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        _ => 3,
    }
}

/// The instance, with the backends of `WGPU_BACKEND` (all by default) and the other `WGPU_*`
/// settings from the environment: made once per process and shared, so that the drivers'
/// start-up messages (such as Mesa's "XDG_RUNTIME_DIR is invalid") are printed once, not once
/// for every adapter listing.
fn instance() -> wgpu::Instance {
    static INSTANCE: std::sync::OnceLock<wgpu::Instance> = std::sync::OnceLock::new();
    INSTANCE
        .get_or_init(|| {
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
        })
        .clone()
}

/// The adapters of the shared instance, enumerated once per process (drivers print their
/// start-up messages on every enumeration).
fn adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    static ADAPTERS: std::sync::OnceLock<Vec<wgpu::Adapter>> = std::sync::OnceLock::new();
    ADAPTERS
        .get_or_init(|| {
            let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
            pollster::block_on(instance.enumerate_adapters(backends))
        })
        .clone()
}

/// Every adapter wgpu finds (honouring `WGPU_BACKEND`), for `wavetrain info`.
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters(&instance())
        .iter()
        .map(AdapterSummary::of)
        .collect()
}

/// The adapter `auto` would open: the best hardware GPU, or `None` when there is none (software
/// adapters are only opened when asked for).
pub fn auto_adapter() -> Option<AdapterSummary> {
    choose(adapters(&instance()), &AdapterRequest::default())
        .ok()
        .map(|a| AdapterSummary::of(&a))
}

const NO_ADAPTER_HELP: &str = "install a GPU driver (for the software Vulkan driver: `apt install mesa-vulkan-drivers`, then allow software adapters), or run on the CPU with `--backend cpu`";

fn choose(mut all: Vec<wgpu::Adapter>, req: &AdapterRequest) -> Result<wgpu::Adapter> {
    let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
    if let Some(want) = &req.name {
        let lw = want.to_lowercase();
        let Some(i) = all
            .iter()
            .position(|a| a.get_info().name.to_lowercase().contains(&lw))
        else {
            return Err(Error::Gpu(if names.is_empty() {
                format!("no GPU adapter found (looking for '{want}'): {NO_ADAPTER_HELP}")
            } else {
                format!("no adapter matches '{want}'; found: {}", names.join(", "))
            }));
        };
        let adapter = all.swap_remove(i);
        if is_software(&adapter.get_info()) && !req.allow_software {
            return Err(Error::Gpu(format!(
                "'{}' is a software adapter: allow software adapters to use it (it is slow)",
                adapter.get_info().name
            )));
        }
        return Ok(adapter);
    }
    all.sort_by_key(|a| {
        let info = a.get_info();
        (is_software(&info), rank(&info))
    });
    match all.into_iter().next() {
        Some(a) if !is_software(&a.get_info()) || req.allow_software => Ok(a),
        Some(a) => Err(Error::Gpu(format!(
            "only a software adapter was found ('{}'): allow software adapters to use it, or run on the CPU with `--backend cpu`",
            a.get_info().name
        ))),
        None => Err(Error::Gpu(format!(
            "no GPU adapter found{}: {NO_ADAPTER_HELP}",
            match std::env::var("WGPU_BACKEND") {
                Ok(b) => format!(" with WGPU_BACKEND={b}"),
                Err(_) => String::new(),
            }
        ))),
    }
}

/// An open device: queue, limits, the compiled kernels, and the first error the device reported
/// outside an error scope (validation, out of memory, device lost).
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    limits: wgpu::Limits,
    fault: Arc<Mutex<Option<String>>>,
    kernels: Mutex<HashMap<KernelKey, Arc<Kernel>>>,
    /// The staging buffer of [`GpuContext::read`], kept and grown so that a training step's
    /// readback allocates nothing.
    readback: Mutex<Option<wgpu::Buffer>>,
    allocated: std::sync::atomic::AtomicU64,
    fft_shared_bytes: u32,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.summary.name)
            .field("backend", &self.summary.backend)
            .finish_non_exhaustive()
    }
}

fn record(fault: &Mutex<Option<String>>, msg: String) {
    let mut g = fault.lock().unwrap_or_else(|e| e.into_inner());
    // Keep the first fault, except that a lost device explains everything after it.
    let lost = |m: &str| m.starts_with("device lost");
    if g.is_none() || (lost(&msg) && !g.as_deref().is_some_and(lost)) {
        *g = Some(msg);
    }
}

impl GpuContext {
    /// Opens the adapter `req` names (or the best one), with the adapter's own limits rather than
    /// the WebGPU defaults, so that buffers and workgroup memory can be as large as the hardware
    /// allows.
    pub fn new(req: &AdapterRequest) -> Result<Self> {
        let instance = instance();
        let adapter = choose(adapters(&instance), req)?;
        let summary = AdapterSummary::of(&adapter);
        let limits = adapter.limits();
        // Timestamps between commands (for `wavetrain bench`) when the adapter has them.
        let stamps =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        let features = if adapter.features().contains(stamps) {
            stamps
        } else {
            wgpu::Features::empty()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("wavetrain"),
            required_limits: limits.clone(),
            required_features: features,
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open '{}': {e}", summary.name)))?;
        let fault = Arc::new(Mutex::new(None));
        let f = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            record(&f, format!("{e}"));
        }));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            record(&f, format!("device lost ({reason:?}): {msg}"));
        });
        let limits = device.limits();
        Ok(GpuContext {
            device,
            queue,
            fft_shared_bytes: limits.max_compute_workgroup_storage_size,
            summary,
            limits,
            fault,
            kernels: Mutex::new(HashMap::new()),
            readback: Mutex::new(None),
            allocated: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// True when the device writes GPU timestamps between commands
    /// ([`GpuContext::time_on_gpu`]).
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        )
    }

    /// Runs the commands `record` writes as one submission and returns the GPU time between a
    /// timestamp written before them and one written after (seconds), or `None` when the device
    /// has no timestamps ([`GpuContext::has_timestamps`]).
    pub fn time_on_gpu(&self, record: &dyn Fn(&mut wgpu::CommandEncoder)) -> Result<Option<f64>> {
        if !self.has_timestamps() {
            return Ok(None);
        }
        let set = self.scoped(
            || "creating a timestamp query set".to_string(),
            || {
                self.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("wavetrain.timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                })
            },
        )?;
        let resolved = self.create_buffer(
            "wavetrain.timestamps",
            16,
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        )?;
        let mut enc = self.encoder("timed");
        enc.write_timestamp(&set, 0);
        record(&mut enc);
        enc.write_timestamp(&set, 1);
        enc.resolve_query_set(&set, 0..2, &resolved, 0);
        self.submit(enc)?;
        let t = self.read::<u64>(&resolved, 0, 2)?;
        let ticks = t[1].saturating_sub(t[0]) as f64;
        Ok(Some(
            ticks * self.queue.get_timestamp_period() as f64 * 1e-9,
        ))
    }

    /// Bytes of every buffer this context has created so far (including ones since dropped).
    pub fn allocated_bytes(&self) -> u64 {
        self.allocated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The device's limits (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Caps the workgroup memory FFT passes may use (bytes), below the adapter's limit; lines
    /// that no longer fit run as global-memory passes. For tests and benchmarks of that path;
    /// affects ops built afterwards.
    pub fn limit_fft_shared_memory(&mut self, bytes: u32) {
        self.fft_shared_bytes = bytes.min(self.limits.max_compute_workgroup_storage_size);
    }

    /// Workgroup memory FFT passes may use, in bytes.
    pub fn fft_shared_bytes(&self) -> u32 {
        self.fft_shared_bytes
    }

    /// The largest storage binding in bytes (a whole batch of a field must fit in one).
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// The largest batch of items of `bytes_per_item` bytes each that fits one binding.
    pub fn max_batch(&self, bytes_per_item: u64) -> usize {
        (self.max_binding() / bytes_per_item.max(1)) as usize
    }

    /// `Err` with the first error the device reported outside an error scope (validation, out of
    /// memory, device lost), if any.
    pub fn check(&self) -> Result<()> {
        let g = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        match &*g {
            Some(msg) => Err(Error::Gpu(msg.clone())),
            None => Ok(()),
        }
    }

    /// The device-lost message, if the device has been lost (polls so that a pending callback
    /// runs first).
    fn lost(&self) -> Option<String> {
        let _ = self.device.poll(wgpu::PollType::Poll);
        let g = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .filter(|m| m.starts_with("device lost"))
            .map(|m| format!("{m}: the GPU was reset or removed; rerun (training resumes with --resume), or use --backend cpu"))
    }

    /// Runs `f` inside out-of-memory and validation error scopes; an error in them becomes
    /// `Error::Gpu("{what}: …")`, or the device-lost message when the device is gone.
    pub(crate) fn scoped<R>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce() -> R,
    ) -> Result<R> {
        self.check()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let r = f();
        let v = pollster::block_on(val.pop());
        let o = pollster::block_on(oom.pop());
        if o.is_some() || v.is_some() {
            if let Some(m) = self.lost() {
                return Err(Error::Gpu(format!("{}: {m}", what())));
            }
        }
        match (o, v) {
            (Some(e), _) => Err(Error::Gpu(format!(
                "{}: out of GPU memory ({e}); use a smaller batch or grid, or --backend cpu",
                what()
            ))),
            (None, Some(e)) => Err(Error::Gpu(format!("{}: {e}", what()))),
            (None, None) => Ok(r),
        }
    }

    /// A buffer of `size` bytes, refused up front when larger than the adapter allows, and with
    /// allocation failures returned as errors naming the size.
    pub fn create_buffer(
        &self,
        label: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        let storage = usage.contains(wgpu::BufferUsages::STORAGE);
        let limit = if storage {
            self.max_binding()
        } else {
            self.limits.max_buffer_size
        };
        if size > limit {
            return Err(Error::Gpu(format!(
                "{label}: a buffer of {size} bytes exceeds the adapter's limit of {limit} bytes ('{}'): use a smaller batch or grid",
                self.summary.name
            )));
        }
        // Zero-sized bindings are invalid; keep at least one 16-byte block.
        let size = size.max(16).div_ceil(4) * 4;
        self.allocated
            .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
        self.scoped(
            || format!("allocating {label} ({size} bytes)"),
            || {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            },
        )
    }

    /// A uniform buffer holding `value` (written before the next submission).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> Result<wgpu::Buffer> {
        let b = self.create_buffer(
            label,
            std::mem::size_of::<T>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        self.queue.write_buffer(&b, 0, bytemuck::bytes_of(value));
        Ok(b)
    }

    /// Writes `data` at element `offset` of `buffer` (applied before the next submission).
    ///
    /// # Panics
    /// If the write would run past the end of the buffer.
    pub fn upload<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer, offset: usize, data: &[T]) {
        let sz = std::mem::size_of::<T>();
        let end = ((offset + data.len()) * sz) as u64;
        if end > buffer.size() {
            upload_overflow(end, buffer.size());
        }
        if !data.is_empty() {
            super::traffic::note_upload(std::mem::size_of_val(data) as u64);
            self.queue
                .write_buffer(buffer, (offset * sz) as u64, bytemuck::cast_slice(data));
        }
    }

    /// A command encoder labelled `wavetrain.{what}`.
    pub fn encoder(&self, what: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(&format!("wavetrain.{what}")),
            })
    }

    /// Finishes and submits `encoder` as one submission; validation errors become `Err`.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) -> Result<wgpu::SubmissionIndex> {
        self.scoped(
            || "submitting GPU work".to_string(),
            || self.queue.submit([encoder.finish()]),
        )
    }

    /// Blocks until every submission so far has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        self.check()
    }

    /// Submits `encoder` and waits for it.
    pub fn run(&self, encoder: wgpu::CommandEncoder) -> Result<()> {
        self.submit(encoder)?;
        self.wait()
    }

    /// Reads `count` elements of `T` starting at element `offset` of `buffer` (which needs
    /// `COPY_SRC`) through the context's staging buffer (made once, grown when a read needs more),
    /// after all submitted work.
    pub fn read<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        offset: usize,
        count: usize,
    ) -> Result<Vec<T>> {
        let sz = std::mem::size_of::<T>() as u64;
        let bytes = count as u64 * sz;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let mut slot = self.readback.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|b| b.size() < bytes) {
            *slot = Some(self.create_buffer(
                "wavetrain.readback",
                bytes.next_power_of_two(),
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            )?);
        }
        let staging = slot.as_ref().expect("staging buffer just made");
        super::traffic::note_readback(bytes);
        let mut enc = self.encoder("readback");
        enc.copy_buffer_to_buffer(buffer, offset as u64 * sz, staging, 0, Some(bytes));
        self.submit(enc)?;
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = tx.send(r);
        });
        if let Err(e) = self.wait() {
            // The map may still be pending: the next read makes a new buffer.
            *slot = None;
            return Err(e);
        }
        let mapped = rx
            .recv()
            .map_err(|_| Error::Gpu("readback: the map callback never ran".into()))?;
        if let Err(e) = mapped {
            // A failed map leaves the buffer unusable for the next read: make a new one then.
            *slot = None;
            return Err(Error::Gpu(match self.lost() {
                Some(m) => format!("readback of {bytes} bytes: {m}"),
                None => format!("readback of {bytes} bytes: {e}"),
            }));
        }
        let out = staging
            .get_mapped_range(0..bytes)
            .map(|view| bytemuck::cast_slice::<u8, T>(&view).to_vec())
            .map_err(|e| Error::Gpu(format!("readback of {bytes} bytes: {e}")));
        staging.unmap();
        out
    }

    /// The compiled kernel `entry` of shader `shader` with the given binding slots (cached).
    pub(crate) fn kernel(
        &self,
        shader: &'static str,
        entry: &'static str,
        slots: &[(u32, Access)],
        consts: &[(&'static str, u32)],
    ) -> Result<Arc<Kernel>> {
        let key = KernelKey {
            shader,
            entry,
            consts: consts.to_vec(),
        };
        {
            let g = self.kernels.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(k) = g.get(&key) {
                return Ok(k.clone());
            }
        }
        let k = Arc::new(Kernel::new(self, shader, entry, slots, consts)?);
        let mut g = self.kernels.lock().unwrap_or_else(|e| e.into_inner());
        Ok(g.entry(key).or_insert(k).clone())
    }
}

#[cold]
#[inline(never)]
fn upload_overflow(end: u64, size: u64) -> ! {
    panic!("GpuContext::upload: write ends at byte {end} but the buffer holds {size} bytes")
}

/// What a kernel may do with a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
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
    fn new(
        ctx: &GpuContext,
        shader: &'static str,
        entry: &'static str,
        slots: &[(u32, Access)],
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
                                Access::Uniform => wgpu::BufferBindingType::Uniform,
                                Access::Read => {
                                    wgpu::BufferBindingType::Storage { read_only: true }
                                }
                                Access::ReadWrite => {
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
