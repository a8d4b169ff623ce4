//! CPU benchmarks: unitary 2-D FFT, one free-space step (2× padding, band limit) and the element
//! chain SLM → free space → absorber → free space → detectors (pump and probe pass) at
//! 256²–2048², batch 1, 16 and 64 where the memory allows, f32. Quick settings keep a full run to a few minutes; set
//! `WAVETRAIN_BENCH_FULL=1` for criterion's default sample counts.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use num_complex::Complex32;
use wavetrain::cpu::{Fft2, Propagator};
use wavetrain::fft::Direction;
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
        for b in [1usize, 16, 64] {
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

fn bench_chain(c: &mut Criterion) {
    use wavetrain::cpu;
    use wavetrain::model::Region;
    use wavetrain::optics::{Absorber, AbsorberModel};
    let mut g = configure(c);
    for (n, b) in sizes() {
        let grid = Grid::new(n, n, 8e-6).expect("valid grid");
        let mut p = Propagator::<f32>::new(&grid, 780e-9, 5e-3, 2.0, true);
        let mask = cpu::phase_mask(&vec![0.3f32; n * n]);
        let absorber = Absorber::new(3.0, AbsorberModel::Thin);
        let regions: Vec<Region> = (0..10)
            .map(|k| Region {
                x0: (k % 5) * n / 5,
                y0: (k / 5) * n / 2,
                w: n / 8,
                h: n / 8,
            })
            .collect();
        let input = field(n * n * b);
        let dl_dp = vec![1.0f32; b * regions.len()];
        let (mut u, mut v, mut probe) = (input.clone(), input.clone(), input.clone());
        g.throughput(Throughput::Elements((n * n * b) as u64));
        g.bench_with_input(
            BenchmarkId::new("chain_pump_probe", format!("{n}x{n}/b{b}")),
            &(),
            |bench, _| {
                bench.iter(|| {
                    u.copy_from_slice(&input);
                    cpu::modulate(&mut u, n, n, &mask, 1);
                    p.apply(&mut u);
                    v.copy_from_slice(&u);
                    cpu::absorber_pump(&mut u, &absorber);
                    p.apply(&mut u);
                    cpu::detect(&u, n, n, &regions, 8e-6);
                    cpu::detect_probe(&u, n, n, &regions, 8e-6, &dl_dp, &mut probe);
                    p.apply(&mut probe);
                    cpu::absorber_probe(&mut probe, &v, &absorber, false);
                    p.apply(&mut probe);
                    cpu::mask_correlation(&input, &probe, n, n, 1)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench_fft, bench_propagate, bench_chain);
criterion_main!(benches);
