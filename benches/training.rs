//! Training-step benchmarks on the CPU engine with the bundled data: one epoch of `paper-mlp`
//! (784-128-128-10, 4,000 images, batch 64, optical gradient), one `paper-mlp` step, one
//! `d2nn-mnist` step, and one step of the issue-6 comparison networks `benches/d2nn-50.toml` and
//! `benches/d2nn-100.toml` (five phase layers with α₀ = 10 absorbers, 2× padding, batch 64; an
//! epoch is 62.5 steps). Quick settings by default; `WAVETRAIN_BENCH_FULL=1` for criterion's
//! default sample counts.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wavetrain::backend::Backend;
use wavetrain::cpu::CpuBackend;
use wavetrain::data::{encode, epoch_order};

fn bench(c: &mut Criterion) {
    let (train, _) =
        wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10).expect("bundled data");
    let mut g = c.benchmark_group("train");
    if std::env::var_os("WAVETRAIN_BENCH_FULL").is_none() {
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
    }
    let file = |f: &str| {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("benches")
            .join(f);
        wavetrain::model::Config::from_file(&p).expect("bench config")
    };
    let nets = [
        (
            "paper-mlp",
            wavetrain::presets::preset("paper-mlp").expect("preset"),
        ),
        (
            "d2nn-mnist",
            wavetrain::presets::preset("d2nn-mnist").expect("preset"),
        ),
        ("d2nn-50", file("d2nn-50.toml")),
        ("d2nn-100", file("d2nn-100.toml")),
    ];
    for (name, cfg) in nets {
        let net = cfg.resolve().expect("network");
        let state = net.initial_state();
        let mut be = CpuBackend::new(&net, &state).expect("backend");
        let batch = cfg.train.batch;
        let per = cfg.input_len();
        let order = epoch_order(train.len(), 0, 0);
        let batches: Vec<(Vec<f32>, Vec<u8>)> = order
            .chunks(batch)
            .map(|idx| {
                let mut x = vec![0.0f32; idx.len() * per];
                encode(&cfg, &train, idx, &mut x);
                (x, idx.iter().map(|&i| train.labels[i]).collect())
            })
            .collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("{name}/step/b{batch}"), |b| {
            let (x, l) = &batches[0];
            b.iter(|| be.train_step(x, l).expect("step"))
        });
        if name == "paper-mlp" {
            g.throughput(Throughput::Elements(train.len() as u64));
            g.bench_function(format!("{name}/epoch/{}", train.len()), |b| {
                b.iter(|| {
                    for (x, l) in &batches {
                        be.train_step(x, l).expect("step");
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
