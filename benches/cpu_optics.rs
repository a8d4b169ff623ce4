//! CPU benchmarks: unitary 2-D FFT and one free-space step (2× padding, band limit) at 256²–2048²,
//! batch 1 and 16, f32. Quick settings keep a full run to a few minutes; set
//! `WAVETRAIN_BENCH_FULL=1` for criterion's default sample counts.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use num_complex::Complex32;
use wavetrain::cpu::{Direction, Fft2, Propagator};
use wavetrain::Grid;

fn field(n: usize) -> Vec<Complex32> {
    (0..n)
        .map(|i| {
            Complex32::new(
                ((i * 7919) % 1000) as f32 / 1000.0,
                ((i * 104729) % 997) as f32 / 997.0,
            )
        })
        .collect()
}

fn sizes() -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for n in [256usize, 512, 1024, 2048] {
        for b in [1usize, 16] {
            // 2048² × 16 is 512 MiB per padded buffer: beyond a 24 GiB, 2-core budget for a quick run.
            if n * n * b <= 1024 * 1024 * 16 {
                v.push((n, b));
            }
        }
    }
    v
}

fn configure(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("cpu");
    if std::env::var_os("WAVETRAIN_BENCH_FULL").is_none() {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
    }
    g
}

fn bench_fft(c: &mut Criterion) {
    let mut g = configure(c);
    for (n, b) in sizes() {
        let mut plan = Fft2::<f32>::new(n, n);
        let mut data = field(n * n * b);
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_with_input(
            BenchmarkId::new("fft2", format!("{n}x{n}/b{b}")),
            &(),
            |bench, _| bench.iter(|| plan.process(&mut data, Direction::Forward)),
        );
    }
    g.finish();
}

fn bench_propagate(c: &mut Criterion) {
    let mut g = configure(c);
    for (n, b) in sizes() {
        let grid = Grid::new(n, n, 8e-6).expect("valid grid");
        let mut p = Propagator::<f32>::new(&grid, 780e-9, 5e-3, 2.0, true);
        let mut data = field(n * n * b);
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_with_input(
            BenchmarkId::new("propagate", format!("{n}x{n}/b{b}")),
            &(),
            |bench, _| bench.iter(|| p.apply(&mut data)),
        );
    }
    g.finish();
}

criterion_group!(benches, bench_fft, bench_propagate);
criterion_main!(benches);
