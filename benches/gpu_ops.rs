//! GPU throughput of the FFT, free-space propagation and the pump chain SLM → free space →
//! absorber → free space → detector, with a plain copy as the memory-bandwidth reference, and
//! whole training steps (one submission and a loss readback each) of `d2nn-mnist` and of the
//! dense `paper-mlp`.
//!
//! Each sample records `iters` runs of the op into command buffers, submits them and drains the
//! queue inside the timed region (criterion `iter_custom`); planning and upload are outside it.
//! Sizes 256²–2048², batch 1–64; combinations above `WAVETRAIN_BENCH_MAX_SAMPLES` complex samples
//! per field (default 2^24) are skipped so that a default run takes minutes even on a software
//! adapter. `WAVETRAIN_ADAPTER` picks an adapter by name; without an adapter the bench says so
//! and measures nothing.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use num_complex::Complex32;
use wavetrain::backend::Backend;
use wavetrain::fft::Direction;
use wavetrain::gpu::{
    self, AbsorberPump, AdapterRequest, BuildMask, Detect, Field, GpuBuffer, GpuContext, MaskKind,
    Modulate, Regions,
};
use wavetrain::model::Region;
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

const SIDES: [usize; 4] = [256, 512, 1024, 2048];
const BATCHES: [usize; 3] = [1, 8, 64];
const LAMBDA: f64 = 780e-9;
const DX: f64 = 8e-6;

fn context() -> Option<GpuContext> {
    let req = AdapterRequest {
        name: std::env::var("WAVETRAIN_ADAPTER").ok(),
        allow_software: true,
    };
    match GpuContext::new(&req) {
        Ok(c) => {
            eprintln!(
                "gpu_ops on '{}' ({})",
                c.adapter().name,
                c.adapter().backend
            );
            Some(c)
        }
        Err(e) => {
            eprintln!("gpu_ops: no GPU adapter, nothing measured: {e}");
            None
        }
    }
}

fn max_samples() -> usize {
    std::env::var("WAVETRAIN_BENCH_MAX_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 24)
}

/// The (side, batch) pairs to measure: within the sample cap and the adapter's binding limit
/// (2× padded propagation scratch included).
fn cases(ctx: &GpuContext) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for n in SIDES {
        for b in BATCHES {
            let samples = n * n * b;
            if samples <= max_samples() && b <= ctx.max_batch((2 * n * n * 8) as u64) {
                v.push((n, b));
            }
        }
    }
    v
}

fn field(ctx: &GpuContext, n: usize, b: usize) -> Field {
    let data: Vec<Complex32> = (0..n * n * b)
        .map(|i| Complex32::new(((i * 7919) % 1000) as f32 / 1000.0, 0.5))
        .collect();
    Field::from_slice(ctx, "bench", n, n, b, &data).expect("field")
}

/// Times `iters` runs of `encode`, queue drained inside the timed region.
fn time(ctx: &GpuContext, iters: u64, encode: &dyn Fn(&mut wgpu::CommandEncoder)) -> Duration {
    ctx.wait().expect("idle");
    let t0 = Instant::now();
    for _ in 0..iters {
        let mut enc = ctx.encoder("bench");
        encode(&mut enc);
        ctx.submit(enc).expect("submit");
    }
    ctx.wait().expect("drain");
    t0.elapsed()
}

fn benches(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let cases = cases(&ctx);

    let mut g = c.benchmark_group("gpu_copy");
    for &(n, b) in &cases {
        let f = field(&ctx, n, b);
        let dst = GpuBuffer::<Complex32>::new(&ctx, "dst", f.len()).expect("dst");
        let op = gpu::CopyField::new(&ctx, f.data(), &dst).expect("copy");
        // Bytes read plus bytes written.
        g.throughput(Throughput::Bytes((f.len() * 16) as u64));
        g.bench_function(BenchmarkId::new(format!("{n}x{n}"), b), |bch| {
            bch.iter_custom(|iters| time(&ctx, iters, &|e| op.encode(e)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gpu_fft2");
    for &(n, b) in &cases {
        let f = field(&ctx, n, b);
        let op = gpu::Fft2::new(&ctx, &f, Direction::Forward).expect("fft");
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_function(BenchmarkId::new(format!("{n}x{n}"), b), |bch| {
            bch.iter_custom(|iters| time(&ctx, iters, &|e| op.encode(e)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gpu_propagate");
    for &(n, b) in &cases {
        let grid = Grid::new(n, n, DX).expect("grid");
        let tf = gpu::TransferFunction::new(&ctx, &grid, LAMBDA, 0.02, 2.0, true).expect("H");
        let f = field(&ctx, n, b);
        let op = gpu::Propagate::new(&ctx, &f, &tf, false).expect("propagate");
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_function(BenchmarkId::new(format!("{n}x{n}"), b), |bch| {
            bch.iter_custom(|iters| time(&ctx, iters, &|e| op.encode(e)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gpu_chain_pump");
    for &(n, b) in &cases {
        let grid = Grid::new(n, n, DX).expect("grid");
        let tf = gpu::TransferFunction::new(&ctx, &grid, LAMBDA, 0.02, 2.0, true).expect("H");
        let scratch = gpu::PropagateScratch::new(&ctx, &tf, b).expect("scratch");
        let f = field(&ctx, n, b);
        let saved = Field::new(&ctx, "saved", n, n, b).expect("saved");
        let k = 4;
        let phase =
            GpuBuffer::from_slice(&ctx, "phase", &vec![0.3f32; (n / k) * (n / k)]).expect("phase");
        let mask = GpuBuffer::<Complex32>::new(&ctx, "mask", phase.len()).expect("mask");
        let regs: Vec<Region> = (0..10)
            .map(|i| Region {
                x0: (i % 5) * n / 5,
                y0: (i / 5) * n / 2,
                w: n / 8,
                h: n / 8,
            })
            .collect();
        let r = Regions::new(&ctx, &regs, n, n).expect("regions");
        let powers = GpuBuffer::<f32>::new(&ctx, "powers", b * regs.len()).expect("powers");
        let ab = Absorber::new(4.0, AbsorberModel::Thin);
        let ops = (
            BuildMask::new(&ctx, MaskKind::Phase, &phase, &mask).expect("mask"),
            Modulate::new(&ctx, &f, &mask, k).expect("slm"),
            gpu::Propagate::with_scratch(&ctx, &f, &tf, false, &scratch).expect("p1"),
            AbsorberPump::new(&ctx, &f, &ab, Some(&saved)).expect("sa"),
            gpu::Propagate::with_scratch(&ctx, &f, &tf, false, &scratch).expect("p2"),
            Detect::new(&ctx, &f, &r, DX, &powers).expect("detect"),
        );
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_function(BenchmarkId::new(format!("{n}x{n}"), b), |bch| {
            bch.iter_custom(|iters| {
                time(&ctx, iters, &|e| {
                    ops.0.encode(e);
                    ops.1.encode(e);
                    ops.2.encode(e);
                    ops.3.encode(e);
                    ops.4.encode(e);
                    ops.5.encode(e);
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gpu_train_step");
    for (name, batch) in [("d2nn-mnist", 8usize), ("paper-mlp", 64)] {
        let mut cfg = wavetrain::presets::preset(name).expect("preset");
        cfg.train.batch = batch;
        let network = cfg.resolve().expect("network");
        let state = network.initial_state();
        let req = AdapterRequest {
            name: Some(ctx.adapter().name.clone()),
            allow_software: true,
        };
        let mut net = gpu::GpuBackend::new(&req, &network, &state).expect("backend");
        let x: Vec<f32> = (0..batch * cfg.input_len())
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(BenchmarkId::new(name, batch), |bch| {
            bch.iter(|| net.train_step(&x, &labels).expect("step"))
        });
    }
    g.finish();
}

criterion_group! {
    name = gpu_ops;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(gpu_ops);
