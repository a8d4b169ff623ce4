//! `wavetrain bench`: times the engine's operations and training steps on every backend, after
//! warm-up, as the median of repeated runs, and sets each figure against the machine's measured
//! ceiling: memory bandwidth from a copy (CPU: a parallel `memcpy`; GPU: the copy kernel) and,
//! on the CPU, arithmetic throughput from a loop of known FLOPs. Bytes and FLOPs are counted from
//! the algorithm (what must move and what must be computed), not from hardware counters:
//! - 2-D FFT of `B` fields `N×N`: `5·B·N²·log₂(N²)` FLOPs, `16·B·N²` bytes (one read, one write);
//! - free-space step (padding `p = 2`): two FFTs of `(pN)²` plus the transfer-function product,
//!   `B·(2·5·(pN)²·log₂((pN)²) + 6·(pN)²)` FLOPs, `16·B·N²` bytes in and out;
//! - absorber: 10 FLOPs and 16 bytes per sample;
//! - training steps: the FFTs of every free-space step of the pump and probe passes (field
//!   networks) or `6·Σ in·out` FLOPs per image (dense networks: forward, probe and gradient).
//!
//! GPU kernels (copy, FFT, free-space step, absorber) are timed with timestamp queries written
//! before and after their commands when the adapter has them (`timing: "timestamp"`), else by
//! queue drain (submit, then wait for the queue; includes submission overhead, which favours large
//! work). GPU training steps are always queue-drain: a step reads its loss back, and that is the
//! time a user waits. Memory: the bytes the buffers of a configuration need by
//! formula, beside the host RSS growth (CPU) or the bytes the GPU context allocated (GPU).

use std::time::Instant;

use num_complex::Complex32;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Small sizes and few repetitions: a smoke run.
    pub quick: bool,
    /// Measure the CPU engine.
    pub cpu: bool,
    /// Measure GPU adapters.
    pub gpu: bool,
    /// Only adapters whose name contains this.
    pub adapter: Option<String>,
    /// Grid sides.
    pub grids: Vec<usize>,
    /// Batches.
    pub batches: Vec<usize>,
    /// Only these measurements (`fft2`, `propagate`, `absorber`, `train_step`, or one training
    /// step such as `train_step:paper-mlp`); every one when empty. The ceilings (`copy`,
    /// `flops`) are always measured: every record is set against them.
    pub ops: Vec<String>,
    /// Extra networks whose training step is timed (`train_step:<name>`), e.g.
    /// `benches/d2nn-200.toml`, each at its own batch.
    pub configs: Vec<(String, crate::model::Config)>,
}

impl BenchOptions {
    /// Defaults: grids 128–2048 and batches 1, 16, 64 (quick: 128–256 and 1, 8).
    pub fn new(quick: bool) -> Self {
        BenchOptions {
            quick,
            cpu: true,
            gpu: true,
            adapter: None,
            grids: if quick {
                vec![128, 256]
            } else {
                vec![128, 256, 512, 1024, 2048]
            },
            batches: if quick { vec![1, 8] } else { vec![1, 16, 64] },
            ops: Vec::new(),
            configs: Vec::new(),
        }
    }

    /// Whether the measurement `op` (e.g. `fft2`, `train_step:paper-mlp`) is wanted.
    pub fn wants(&self, op: &str) -> bool {
        self.ops.is_empty()
            || self
                .ops
                .iter()
                .any(|w| w == op || op.split_once(':').is_some_and(|(kind, _)| kind == w))
    }
}

/// The measurements `--ops` may name (besides one `train_step:<network>`).
pub const OPS: [&str; 4] = ["fft2", "propagate", "absorber", "train_step"];

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// `cpu` or `gpu`.
    pub backend: String,
    /// CPU threads or adapter name.
    pub device: String,
    /// `copy`, `flops`, `fft2`, `propagate`, `absorber`, `train_step:PRESET`.
    pub op: String,
    /// `N×N` for fields, the layer sizes for dense networks.
    pub grid: String,
    /// Batch.
    pub batch: usize,
    /// Median time, milliseconds.
    pub median_ms: f64,
    /// Fastest run, milliseconds.
    pub min_ms: f64,
    /// Timed repetitions.
    pub reps: usize,
    /// `wall` (CPU) or `queue-drain` (GPU).
    pub timing: String,
    /// Training steps: images per second.
    pub images_per_s: Option<f64>,
    /// Bytes the algorithm must move.
    pub bytes: f64,
    /// FLOPs the algorithm must do.
    pub flops: f64,
    /// Achieved GB/s (`bytes / median`).
    pub gb_per_s: f64,
    /// Achieved GFLOP/s.
    pub gflop_per_s: f64,
    /// The backend's measured copy bandwidth, GB/s: a copy of buffers far larger than the
    /// caches (CPU: 128 MiB each way), so main-memory bandwidth. It bounds operations that
    /// stream from memory; one whose data stay in cache (small grids, batch 1) and whose bytes
    /// are counted from the algorithm (every pass) can exceed it.
    pub ceiling_gb_per_s: f64,
    /// The backend's measured arithmetic ceiling, GFLOP/s (CPU only).
    pub ceiling_gflop_per_s: Option<f64>,
    /// `gb_per_s / ceiling_gb_per_s`: above 1 for work that runs from the caches (see
    /// [`Record::ceiling_gb_per_s`]).
    pub bandwidth_fraction: f64,
    /// `gflop_per_s / ceiling_gflop_per_s`.
    pub flop_fraction: Option<f64>,
    /// Bytes the configuration's buffers need by formula.
    pub memory_formula_bytes: u64,
    /// Measured: host RSS growth while setting up and running (CPU), or bytes the GPU context
    /// allocated for it (GPU).
    pub memory_measured_bytes: Option<u64>,
    /// Field-network training steps on the CPU: the time of the full 2-D FFTs the step must do
    /// (two padded FFTs per free-space step of the pump and probe passes), measured in the same
    /// run, in milliseconds.
    pub fft_reference_ms: Option<f64>,
    /// `median_ms / fft_reference_ms`.
    pub ratio_to_fft_reference: Option<f64>,
    /// GPU training steps: the traffic model of one step ([`crate::gpu::traffic`]), counted from
    /// its dispatch list.
    #[cfg(feature = "gpu")]
    pub traffic: Option<TrafficRecord>,
}

/// The traffic model of one GPU training step, against its floor.
#[cfg(feature = "gpu")]
#[derive(Clone, Debug, Serialize)]
pub struct TrafficRecord {
    /// Dispatches, copies, uploads and readbacks counted, per kernel.
    pub counted: crate::gpu::Traffic,
    /// Device bytes (kernels and copies) the step moves by the model.
    pub device_bytes: u64,
    /// Field networks: the floor, one read and one write of the field per pass that fits in
    /// workgroup memory ([`crate::gpu::traffic::minimum_field_step`]).
    pub floor_bytes: Option<u64>,
    /// `device_bytes / floor_bytes`.
    pub over_floor: Option<f64>,
    /// Time the device bytes take at this adapter's measured copy bandwidth, ms: the step's
    /// bound from memory traffic.
    pub bound_ms_at_copy_bandwidth: f64,
}

/// Resident set size of this process in bytes (Linux), if known.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Median and minimum of repeated runs of `f` after one warm-up run.
fn time_it(quick: bool, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64, usize)> {
    time_samples(quick, || {
        let t0 = Instant::now();
        f()?;
        Ok(t0.elapsed().as_secs_f64())
    })
}

/// Median, minimum and count of the durations `f` measures (seconds), after one warm-up call.
fn time_samples(quick: bool, mut f: impl FnMut() -> Result<f64>) -> Result<(f64, f64, usize)> {
    f()?;
    let (target, min_reps, max_reps) = if quick { (0.2, 3, 5) } else { (1.0, 5, 30) };
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < min_reps || (start.elapsed().as_secs_f64() < target && t.len() < max_reps) {
        t.push(f()?);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok((t[t.len() / 2], t[0], t.len()))
}

/// Times the commands `record` writes on the GPU: with timestamp queries when the adapter has
/// them (GPU time between two timestamps), else queue-drain (submit and wait, wall clock).
/// Returns the timing and its method.
#[cfg(feature = "gpu")]
fn time_gpu(
    quick: bool,
    ctx: &crate::gpu::GpuContext,
    record: &dyn Fn(&mut crate::gpu::wgpu::CommandEncoder),
) -> Result<((f64, f64, usize), &'static str)> {
    if ctx.has_timestamps() {
        let t = time_samples(quick, || {
            ctx.time_on_gpu(record)?
                .ok_or_else(|| crate::Error::Gpu("timestamps vanished".into()))
        })?;
        return Ok((t, "timestamp"));
    }
    let t = time_it(quick, || {
        let mut e = ctx.encoder("bench");
        record(&mut e);
        ctx.run(e)
    })?;
    Ok((t, "queue-drain"))
}

struct Ceiling {
    gbps: f64,
    gflops: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
fn record(
    backend: &str,
    device: &str,
    op: &str,
    grid: String,
    batch: usize,
    (median, min, reps): (f64, f64, usize),
    timing: &str,
    images: Option<usize>,
    bytes: f64,
    flops: f64,
    c: &Ceiling,
    mem: (u64, Option<u64>),
) -> Record {
    let gbps = bytes / median / 1e9;
    let gflops = flops / median / 1e9;
    Record {
        backend: backend.into(),
        device: device.into(),
        op: op.into(),
        grid,
        batch,
        median_ms: median * 1e3,
        min_ms: min * 1e3,
        reps,
        timing: timing.into(),
        images_per_s: images.map(|n| n as f64 / median),
        bytes,
        flops,
        gb_per_s: gbps,
        gflop_per_s: gflops,
        ceiling_gb_per_s: c.gbps,
        ceiling_gflop_per_s: c.gflops,
        bandwidth_fraction: if c.gbps > 0.0 { gbps / c.gbps } else { 0.0 },
        flop_fraction: c.gflops.map(|g| gflops / g),
        memory_formula_bytes: mem.0,
        memory_measured_bytes: mem.1,
        fft_reference_ms: None,
        ratio_to_fft_reference: None,
        #[cfg(feature = "gpu")]
        traffic: None,
    }
}

/// Number of free-space steps a training step of a field network runs (pump and probe).
fn propagations(net: &crate::network::Network) -> Result<usize> {
    use crate::network::Op;
    let plan = net.field("bench")?;
    Ok(plan
        .pump
        .iter()
        .filter(|s| matches!(s.op, Op::Propagate { .. }))
        .count()
        + plan
            .probe
            .iter()
            .filter(|s| s.pass && matches!(s.op, Op::Propagate { .. }))
            .count())
}

fn fft_flops(n: usize, b: usize) -> f64 {
    let s = (n * n) as f64;
    5.0 * b as f64 * s * s.log2()
}

fn prop_flops(n: usize, b: usize) -> f64 {
    let p = 2 * n;
    2.0 * fft_flops(p, b) + 6.0 * (p * p * b) as f64
}

fn field(len: usize) -> Vec<Complex32> {
    (0..len)
        .map(|i| {
            Complex32::new(
                ((i * 7919) % 1000) as f32 / 1000.0,
                ((i * 104729) % 997) as f32 / 997.0,
            )
        })
        .collect()
}

/// The largest batch × field (samples) of a `d2nn-mnist` training step the CPU bench times:
/// 1024² at batches up to 4, 512² up to 16, 256² up to 64 (a step's buffers stay under about
/// 1.5 GB; 512² at batch 64 would take 1.2 GB and several seconds a step).
const CPU_STEP_SAMPLES: usize = 1 << 22;

/// The field-network preset scaled to an `n × n` grid (input and detectors in proportion).
fn d2nn_at(n: usize, batch: usize) -> Result<crate::model::Config> {
    let mut cfg = crate::presets::preset("d2nn-mnist")?;
    cfg.optics.nx = n;
    cfg.optics.ny = n;
    cfg.input.size = (n * 5 / 8).max(1);
    cfg.readout.detector_size = (n * 6 / 64).max(1);
    cfg.train.batch = batch;
    Ok(cfg)
}

/// FLOPs of one training step of `cfg` at its batch.
fn step_flops(net: &crate::network::Network) -> Result<f64> {
    let cfg = net.config();
    let b = cfg.train.batch;
    if cfg.is_dense() {
        let macs: usize = cfg.dense_dims().iter().map(|(i, o)| i * o).sum();
        return Ok(6.0 * (macs * b) as f64);
    }
    Ok(propagations(net)? as f64 * prop_flops(cfg.optics.nx, b))
}

fn train_batch(cfg: &crate::model::Config, train: &crate::data::Split) -> (Vec<f32>, Vec<u8>) {
    let b = cfg.train.batch.min(train.len());
    let idx: Vec<usize> = (0..b).collect();
    let mut x = vec![0.0f32; b * cfg.input_len()];
    crate::data::encode(cfg, train, &idx, &mut x);
    (x, idx.iter().map(|&i| train.labels[i]).collect())
}

fn cases(opts: &BenchOptions, cap: usize) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for &n in &opts.grids {
        for &b in &opts.batches {
            if n * n * b <= cap {
                v.push((n, b));
            }
        }
    }
    v
}

type Timing = (f64, f64, usize);

/// Independent accumulators of the FLOP-ceiling loop: eight 256-bit vectors, enough to hide the
/// latency of fused multiply-adds while staying in registers (128 spill and halve the rate).
const LANES: usize = 64;
/// The same for 512-bit vectors: eight of them.
const LANES_512: usize = 128;

/// `FUSED`: `mul_add` (one FMA instruction where the target has FMA, a library call otherwise);
/// else a multiply and an add, which vectorise on any target. `N` independent accumulators.
#[inline(always)]
fn mul_add_body<const FUSED: bool, const N: usize>(seed: f32, iters: usize) -> f32 {
    let mut acc = [seed; N];
    let m = std::hint::black_box(0.999_999f32);
    let c = std::hint::black_box(1e-7f32);
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = if FUSED { a.mul_add(m, c) } else { *a * m + c };
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn mul_add_avx2(seed: f32, iters: usize) -> f32 {
    mul_add_body::<true, LANES>(seed, iters)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn mul_add_avx512(seed: f32, iters: usize) -> f32 {
    mul_add_body::<true, LANES_512>(seed, iters)
}

/// Multiply-adds (2 FLOPs each) with the widest instructions this CPU has (the FFT library picks
/// AVX at run time, and the column pass AVX-512 where it can, so the ceiling must as well); returns the sum
/// and how many it did (`lanes·iters`).
fn mul_add_loop(seed: f32, iters: usize) -> (f32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the features the function is compiled for were detected on this CPU.
            return (unsafe { mul_add_avx512(seed, iters) }, LANES_512 * iters);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return (unsafe { mul_add_avx2(seed, iters) }, LANES * iters);
        }
    }
    (mul_add_body::<false, LANES>(seed, iters), LANES * iters)
}

/// CPU ceilings: parallel copy bandwidth and a multiply-add loop ([`mul_add_loop`]) on every
/// thread, with the
/// timings and the bytes / FLOPs they moved and did.
fn cpu_ceilings(quick: bool) -> Result<(Ceiling, Timing, f64, Timing, f64)> {
    let len = if quick { 8 << 20 } else { 32 << 20 };
    let src = vec![1.0f32; len];
    let mut dst = vec![0.0f32; len];
    let chunk = (len / rayon::current_num_threads().max(1) / 4).max(4096);
    let copy = time_it(quick, || {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&dst);
        Ok(())
    })?;
    let threads = rayon::current_num_threads();
    let iters: usize = if quick { 500_000 } else { 5_000_000 };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let fl = time_it(quick, || {
        (0..threads).into_par_iter().for_each(|t| {
            let (sum, n) = mul_add_loop(t as f32 * 1e-3, iters);
            std::hint::black_box(sum);
            done.store(n, std::sync::atomic::Ordering::Relaxed);
        });
        Ok(())
    })?;
    let bytes = 2.0 * (len * 4) as f64;
    let flops = (threads * done.into_inner() * 2) as f64;
    Ok((
        Ceiling {
            gbps: bytes / copy.0 / 1e9,
            gflops: Some(flops / fl.0 / 1e9),
        },
        copy,
        bytes,
        fl,
        flops,
    ))
}

/// Runs every CPU measurement, appending to `out` and calling `emit` for each record.
pub fn run_cpu(opts: &BenchOptions, emit: &mut dyn FnMut(&Record)) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let device = format!("cpu ({} threads)", rayon::current_num_threads());
    let (c, copy_t, copy_bytes, fl_t, fl_flops) = cpu_ceilings(opts.quick)?;
    let mut push = |r: Record| {
        emit(&r);
        out.push(r);
    };
    let ceiling_mem = (copy_bytes as u64, None);
    push(record(
        "cpu",
        &device,
        "copy",
        format!("{} MiB", copy_bytes as u64 >> 21),
        1,
        copy_t,
        "wall",
        None,
        copy_bytes,
        0.0,
        &c,
        ceiling_mem,
    ));
    push(record(
        "cpu",
        &device,
        "flops",
        "mul-add loop".into(),
        1,
        fl_t,
        "wall",
        None,
        0.0,
        fl_flops,
        &c,
        (0, None),
    ));
    let cap = if opts.quick { 1 << 19 } else { 1 << 24 };
    for (n, b) in cases(opts, cap) {
        cpu_ops(opts, &device, &c, (n, b), &mut push)?;
    }
    cpu_train_steps(opts, &device, &c, &mut push)?;
    Ok(out)
}

/// The CPU's single operations (`fft2`, `propagate`, `absorber`) on `b` fields of `n × n`.
fn cpu_ops(
    opts: &BenchOptions,
    device: &str,
    c: &Ceiling,
    (n, b): (usize, usize),
    push: &mut dyn FnMut(Record),
) -> Result<()> {
    use crate::cpu::{absorber_pump, Fft2, Propagator};
    use crate::fft::Direction;
    use crate::optics::{Absorber, AbsorberModel};
    let grid = format!("{n}x{n}");
    let samples = n * n * b;
    let bytes = 16.0 * samples as f64;
    let rss0 = rss_bytes();
    let mut data = field(samples);
    if opts.wants("fft2") {
        let mut fft = Fft2::<f32>::new(n, n);
        let t = time_it(opts.quick, || {
            fft.process(&mut data, Direction::Forward);
            Ok(())
        })?;
        let mem = (8 * samples as u64, delta(rss0));
        push(record(
            "cpu",
            device,
            "fft2",
            grid.clone(),
            b,
            t,
            "wall",
            None,
            bytes,
            fft_flops(n, b),
            c,
            mem,
        ));
    }
    if opts.wants("propagate") {
        let g = crate::Grid::new(n, n, 8e-6)?;
        let mut p = Propagator::<f32>::new(&g, 780e-9, 5e-3, 2.0, true);
        let t = time_it(opts.quick, || {
            p.apply(&mut data);
            Ok(())
        })?;
        // The field, the transfer function (padded) and one padded line of scratch per thread.
        let mem = (8 * samples as u64 + 8 * (4 * n * n) as u64, delta(rss0));
        push(record(
            "cpu",
            device,
            "propagate",
            grid.clone(),
            b,
            t,
            "wall",
            None,
            bytes,
            prop_flops(n, b),
            c,
            mem,
        ));
    }
    if opts.wants("absorber") {
        let ab = Absorber::new(10.0, AbsorberModel::Thin);
        let t = time_it(opts.quick, || {
            absorber_pump(&mut data, &ab);
            Ok(())
        })?;
        push(record(
            "cpu",
            device,
            "absorber",
            grid,
            b,
            t,
            "wall",
            None,
            bytes,
            10.0 * samples as f64,
            c,
            (8 * samples as u64, delta(rss0)),
        ));
    }
    Ok(())
}

/// The CPU training steps of [`train_configs`], each with its FFT reference (field networks).
fn cpu_train_steps(
    opts: &BenchOptions,
    device: &str,
    c: &Ceiling,
    push: &mut dyn FnMut(Record),
) -> Result<()> {
    use crate::cpu::Fft2;
    use crate::fft::Direction;
    let (train, _) = crate::data::read_dir(&crate::data::idx::bundled_dir(), 10)?;
    let max_grid = if opts.quick { 128 } else { 1024 };
    let configs = train_configs(opts, max_grid, CPU_STEP_SAMPLES)?;
    for (name, cfg) in configs {
        let rss0 = rss_bytes();
        let net = cfg.resolve()?;
        let state = net.initial_state();
        let mut be = crate::cpu::CpuBackend::new(&net, &state)?;
        let (x, l) = train_batch(&cfg, &train);
        let t = time_it(opts.quick, || {
            crate::backend::Backend::train_step(&mut be, &x, &l).map(|_| ())
        })?;
        let (grid, formula) = dims_and_memory(&net);
        let mut r = record(
            "cpu",
            device,
            &format!("train_step:{name}"),
            grid,
            cfg.train.batch,
            t,
            "wall",
            Some(l.len()),
            0.0,
            step_flops(&net)?,
            c,
            (formula, delta(rss0)),
        );
        if !cfg.is_dense() {
            let p = crate::grid::padded_len(cfg.optics.nx, cfg.optics.padding);
            let mut data = field(p * p * l.len());
            let mut fft = Fft2::<f32>::new(p, p);
            let (one, _, _) = time_it(opts.quick, || {
                fft.process(&mut data, Direction::Forward);
                Ok(())
            })?;
            let reference = one * 2.0 * propagations(&net)? as f64;
            r.fft_reference_ms = Some(reference * 1e3);
            r.ratio_to_fft_reference = Some(t.0 / reference);
        }
        push(r);
    }
    Ok(())
}

/// The networks whose training step is timed: `d2nn-mnist` scaled to each grid up to
/// `max_grid` (fields of at most `field_cap` samples), `paper-mlp` at each batch, then the
/// `--config` networks; only those `--ops` wants.
fn train_configs(
    opts: &BenchOptions,
    max_grid: usize,
    field_cap: usize,
) -> Result<Vec<(String, crate::model::Config)>> {
    let mut configs = Vec::new();
    if opts.wants("train_step:d2nn-mnist") {
        for &n in opts.grids.iter().filter(|&&n| n <= max_grid) {
            for &b in &opts.batches {
                if n * n * b <= field_cap {
                    configs.push(("d2nn-mnist".to_string(), d2nn_at(n, b)?));
                }
            }
        }
    }
    if opts.wants("train_step:paper-mlp") {
        for &b in &opts.batches {
            let mut cfg = crate::presets::preset("paper-mlp")?;
            cfg.train.batch = b;
            configs.push(("paper-mlp".to_string(), cfg));
        }
    }
    for (name, cfg) in &opts.configs {
        if opts.wants(&format!("train_step:{name}")) {
            configs.push((name.clone(), cfg.clone()));
        }
    }
    Ok(configs)
}

fn delta(before: Option<u64>) -> Option<u64> {
    Some(rss_bytes()?.saturating_sub(before?))
}

/// Grid label and the bytes a training step's buffers need ([`crate::run::training_memory`]).
fn dims_and_memory(net: &crate::network::Network) -> (String, u64) {
    let cfg = net.config();
    let grid = if cfg.is_dense() {
        let mut s: Vec<String> = vec![cfg.input_len().to_string()];
        s.extend(cfg.dense_dims().iter().map(|(_, o)| o.to_string()));
        s.join("-")
    } else {
        format!("{}x{}", cfg.optics.nx, cfg.optics.ny)
    };
    (grid, crate::run::training_memory(net))
}

/// Runs every GPU measurement on each adapter (software adapters included).
#[cfg(feature = "gpu")]
pub fn run_gpu(opts: &BenchOptions, emit: &mut dyn FnMut(&Record)) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let adapters: Vec<_> = crate::gpu::list_adapters()
        .into_iter()
        .filter(|a| {
            opts.adapter
                .as_ref()
                .is_none_or(|w| a.name.to_lowercase().contains(&w.to_lowercase()))
        })
        .collect();
    let (train, _) = crate::data::read_dir(&crate::data::idx::bundled_dir(), 10)?;
    let mut seen = std::collections::HashSet::new();
    let mut push = |r: Record| {
        emit(&r);
        out.push(r);
    };
    for a in adapters {
        if !seen.insert(a.name.clone()) {
            continue;
        }
        gpu_adapter(opts, &a, &train, &mut push)?;
    }
    Ok(out)
}

/// Every GPU measurement on one adapter: its copy ceiling, the single operations, then the
/// training steps.
#[cfg(feature = "gpu")]
fn gpu_adapter(
    opts: &BenchOptions,
    a: &crate::gpu::AdapterSummary,
    train: &crate::data::Split,
    push: &mut dyn FnMut(Record),
) -> Result<()> {
    use crate::gpu::{self, AdapterRequest, Field, GpuBuffer, GpuContext};
    let req = AdapterRequest {
        name: Some(a.name.clone()),
        allow_software: true,
    };
    let ctx = GpuContext::new(&req)?;
    let device = format!("{} ({})", a.name, a.backend);
    let per_field_cap = ctx
        .max_batch(16)
        .min(if opts.quick { 1 << 17 } else { 1 << 24 });
    // Ceiling: the copy kernel on the largest field measured.
    let big = cases(opts, per_field_cap)
        .iter()
        .map(|&(n, b)| n * n * b)
        .max()
        .unwrap_or(1 << 16);
    let src = Field::from_slice(&ctx, "bench.src", big, 1, 1, &field(big))?;
    let dst = GpuBuffer::<Complex32>::new(&ctx, "bench.dst", big)?;
    let copy = gpu::CopyField::new(&ctx, src.data(), &dst)?;
    let (t, how) = time_gpu(opts.quick, &ctx, &|e| copy.encode(e))?;
    let c = Ceiling {
        gbps: 16.0 * big as f64 / t.0 / 1e9,
        gflops: None,
    };
    push(record(
        "gpu",
        &device,
        "copy",
        format!("{big} samples"),
        1,
        t,
        how,
        None,
        16.0 * big as f64,
        0.0,
        &c,
        (16 * big as u64, None),
    ));
    drop((src, dst, copy));
    for (n, b) in cases(opts, per_field_cap) {
        gpu_ops(opts, &ctx, &device, &c, (n, b), push)?;
    }
    let configs = train_configs(opts, if opts.quick { 128 } else { 1024 }, per_field_cap)?;
    for (name, cfg) in configs {
        push(gpu_train_step(opts, &req, &device, &c, train, &name, &cfg)?);
    }
    Ok(())
}

/// The GPU's single operations (`fft2`, `propagate`, `absorber`) on `b` fields of `n × n`.
#[cfg(feature = "gpu")]
fn gpu_ops(
    opts: &BenchOptions,
    ctx: &crate::gpu::GpuContext,
    device: &str,
    c: &Ceiling,
    (n, b): (usize, usize),
    push: &mut dyn FnMut(Record),
) -> Result<()> {
    use crate::fft::Direction;
    use crate::gpu::{self, Field};
    use crate::optics::{Absorber, AbsorberModel};
    let grid = format!("{n}x{n}");
    let samples = n * n * b;
    let bytes = 16.0 * samples as f64;
    let a0 = ctx.allocated_bytes();
    let f = Field::from_slice(ctx, "bench.field", n, n, b, &field(samples))?;
    if opts.wants("fft2") {
        let fft = gpu::Fft2::new(ctx, &f, Direction::Forward)?;
        let (t, how) = time_gpu(opts.quick, ctx, &|e| fft.encode(e))?;
        push(record(
            "gpu",
            device,
            "fft2",
            grid.clone(),
            b,
            t,
            how,
            None,
            bytes,
            fft_flops(n, b),
            c,
            (8 * samples as u64, Some(ctx.allocated_bytes() - a0)),
        ));
    }
    if opts.wants("propagate") {
        let g = crate::Grid::new(n, n, 8e-6)?;
        let a1 = ctx.allocated_bytes();
        let tf = gpu::TransferFunction::new(ctx, &g, 780e-9, 5e-3, 2.0, true)?;
        let prop = gpu::Propagate::new(ctx, &f, &tf, false)?;
        let (t, how) = time_gpu(opts.quick, ctx, &|e| prop.encode(e))?;
        push(record(
            "gpu",
            device,
            "propagate",
            grid.clone(),
            b,
            t,
            how,
            None,
            bytes,
            prop_flops(n, b),
            c,
            // Transfer function (padded) and two padded scratch fields.
            (
                8 * (4 * n * n) as u64 + 2 * 8 * (4 * samples) as u64,
                Some(ctx.allocated_bytes() - a1),
            ),
        ));
    }
    if opts.wants("absorber") {
        let ab = Absorber::new(10.0, AbsorberModel::Thin);
        let pump = gpu::AbsorberPump::new(ctx, &f, &ab, None)?;
        let (t, how) = time_gpu(opts.quick, ctx, &|e| pump.encode(e))?;
        push(record(
            "gpu",
            device,
            "absorber",
            grid,
            b,
            t,
            how,
            None,
            bytes,
            10.0 * samples as f64,
            c,
            (8 * samples as u64, None),
        ));
    }
    Ok(())
}

/// One network's GPU training step on a context of its own: its time, its counted traffic and,
/// for field networks, the traffic floor.
#[cfg(feature = "gpu")]
fn gpu_train_step(
    opts: &BenchOptions,
    req: &crate::gpu::AdapterRequest,
    device: &str,
    c: &Ceiling,
    train: &crate::data::Split,
    name: &str,
    cfg: &crate::model::Config,
) -> Result<Record> {
    use crate::gpu::{self, GpuContext};
    let network = cfg.resolve()?;
    let state = network.initial_state();
    let ctx = GpuContext::new(req)?;
    // The backend owns its context; keep a handle on the allocation count.
    let mut net = gpu::GpuBackend::on(ctx, &network, &state)?;
    let allocated = net.context().allocated_bytes();
    let (x, l) = train_batch(cfg, train);
    let t = time_it(opts.quick, || {
        crate::backend::Backend::train_step(&mut net, &x, &l).map(|_| ())
    })?;
    let (step, counted) =
        gpu::traffic::count(|| crate::backend::Backend::train_step(&mut net, &x, &l).map(|_| ()));
    step?;
    let floor = match network.plan() {
        crate::network::Plan::Field(plan) => Some(field_floor(net.context(), cfg, plan)?),
        crate::network::Plan::Dense(_) => None,
    };
    let device_bytes = counted.device_bytes();
    let traffic = TrafficRecord {
        device_bytes,
        floor_bytes: floor,
        over_floor: floor.map(|f| device_bytes as f64 / f.max(1) as f64),
        bound_ms_at_copy_bandwidth: device_bytes as f64 / (c.gbps * 1e9) * 1e3,
        counted,
    };
    let (grid, formula) = dims_and_memory(&network);
    let mut r = record(
        "gpu",
        device,
        &format!("train_step:{name}"),
        grid,
        cfg.train.batch,
        t,
        "queue-drain",
        Some(l.len()),
        0.0,
        step_flops(&network)?,
        c,
        (formula, Some(allocated)),
    );
    r.traffic = Some(traffic);
    Ok(r)
}

/// The least traffic of a field network's training step ([`crate::gpu::traffic`]).
#[cfg(feature = "gpu")]
fn field_floor(
    ctx: &crate::gpu::GpuContext,
    cfg: &crate::model::Config,
    plan: &crate::network::FieldPlan,
) -> Result<u64> {
    use crate::gpu;
    let o = &cfg.optics;
    let sides = plan
        .propagators
        .iter()
        .map(|p| {
            gpu::TransferFunction::new(
                ctx,
                &crate::Grid::new(o.nx, o.ny, p.dx)?,
                o.wavelength,
                p.distance,
                o.padding,
                o.band_limit,
            )
            .map(|tf| tf.transform())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(gpu::traffic::minimum_field_step(
        plan,
        o.nx,
        o.ny,
        &sides,
        cfg.train.batch,
    ))
}

/// Checks the options before any work.
pub fn validate(opts: &BenchOptions) -> Result<()> {
    for &n in &opts.grids {
        if !(16..=4096).contains(&n) || !n.is_power_of_two() {
            return Err(Error::config(
                "--grids",
                format!("{n}: grid sides must be powers of two from 16 to 4096"),
            ));
        }
    }
    if opts.batches.iter().any(|&b| b == 0 || b > 4096) {
        return Err(Error::config(
            "--batches",
            "batches must be between 1 and 4096",
        ));
    }
    for op in &opts.ops {
        let known = OPS.contains(&op.as_str())
            || op.strip_prefix("train_step:").is_some_and(|n| {
                ["d2nn-mnist", "paper-mlp"].contains(&n) || opts.configs.iter().any(|(c, _)| c == n)
            });
        if !known {
            return Err(Error::config(
                "--ops",
                format!(
                    "unknown measurement '{op}': use {}, or train_step:NAME for d2nn-mnist, paper-mlp or a --config network",
                    OPS.join(", ")
                ),
            ));
        }
    }
    if opts.grids.is_empty() || opts.batches.is_empty() {
        return Err(Error::config(
            "--grids",
            "give at least one grid and one batch",
        ));
    }
    Ok(())
}
