//! `wavetrain bench`: the engine's timings against the machine's measured ceilings, as a table
//! or JSON records.

use wavetrain::bench::Record;
use wavetrain::{Error, Result};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A smoke run: small sizes, few repetitions (well under a minute).
    #[arg(long)]
    pub quick: bool,
    /// One JSON record per measurement on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Backends to measure: all, cpu or gpu.
    #[arg(long, default_value = "all")]
    pub backend: String,
    /// Only GPU adapters whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Grid sides (default 128,256,512,1024,2048; quick 128,256). The d2nn-mnist training step
    /// is timed at field sides up to 1024 (quick 128), on the CPU at most 2^22 samples a step
    /// (1024² up to batch 4, 512² up to 16).
    #[arg(long, value_delimiter = ',')]
    pub grids: Vec<usize>,
    /// Batches (default 1,16,64; quick 1,8).
    #[arg(long, value_delimiter = ',')]
    pub batches: Vec<usize>,
    /// Only these measurements: fft2, propagate, absorber, train_step, or one network's step
    /// (train_step:paper-mlp, train_step:d2nn-mnist, train_step:NAME of a --config); the copy
    /// and FLOP ceilings are always measured.
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Also time the training step of this network (TOML; its own grid and batch), e.g.
    /// benches/d2nn-200.toml; repeatable. Named by the config's `name`.
    #[arg(long)]
    pub config: Vec<std::path::PathBuf>,
}

pub fn bench(a: BenchArgs) -> Result<()> {
    let mut opts = wavetrain::bench::BenchOptions::new(a.quick);
    if !a.grids.is_empty() {
        opts.grids = a.grids.clone();
    }
    if !a.batches.is_empty() {
        opts.batches = a.batches.clone();
    }
    opts.adapter = a.adapter.clone();
    opts.ops = a.ops.clone();
    for path in &a.config {
        let cfg = wavetrain::model::Config::from_file(path)?;
        let name = if cfg.name.is_empty() {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            cfg.name.clone()
        };
        opts.configs.push((name, cfg));
    }
    match a.backend.as_str() {
        "all" => {}
        "cpu" => opts.gpu = false,
        "gpu" => opts.cpu = false,
        other => {
            return Err(Error::config(
                "--backend",
                format!("unknown backend '{other}': use all, cpu or gpu"),
            ))
        }
    }
    wavetrain::bench::validate(&opts)?;
    let json = a.json;
    if !json {
        println!("{}", table_header());
    }
    let mut emit = |r: &wavetrain::bench::Record| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!("{}", table_row(r));
        }
    };
    if opts.cpu {
        wavetrain::bench::run_cpu(&opts, &mut emit)?;
    }
    if opts.gpu {
        #[cfg(feature = "gpu")]
        {
            let n = wavetrain::gpu::list_adapters().len();
            if n == 0 {
                eprintln!("bench: no GPU adapter found; GPU rows skipped (install a driver, e.g. mesa-vulkan-drivers)");
            }
            wavetrain::bench::run_gpu(&opts, &mut emit)?;
        }
        #[cfg(not(feature = "gpu"))]
        eprintln!("bench: this build has no GPU support; GPU rows skipped");
    }
    if !json {
        eprintln!("medians after one warm-up run; bytes and FLOPs counted from the algorithm; the bandwidth ceiling is a main-memory copy, so work that stays in cache reads above 100 %; GPU kernels: timestamp queries where the adapter has them, else queue drain (see the timing field of --json); GPU training steps: queue drain; memory: formula vs measured (CPU: RSS growth, GPU: bytes allocated)");
    }
    Ok(())
}

/// One table row for a record.
fn table_row(r: &Record) -> String {
    let pct = |x: f64| format!("{:.0}%", 100.0 * x);
    let bw = if r.bytes > 0.0 {
        format!("{:.2} ({})", r.gb_per_s, pct(r.bandwidth_fraction))
    } else {
        "-".into()
    };
    let fl = if r.flops > 0.0 {
        match r.flop_fraction {
            Some(f) => format!("{:.2} ({})", r.gflop_per_s, pct(f)),
            None => format!("{:.2}", r.gflop_per_s),
        }
    } else {
        "-".into()
    };
    let mem = |b: u64| format!("{:.1}", b as f64 / (1 << 20) as f64);
    format!(
        "{:<4} {:<26} {:<22} {:<14} {:>5} {:>11.3} {:>10} {:>16} {:>16} {:>9} {:>9} {}",
        r.backend,
        r.device.chars().take(26).collect::<String>(),
        r.op,
        r.grid,
        r.batch,
        r.median_ms,
        r.images_per_s
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "-".into()),
        bw,
        fl,
        mem(r.memory_formula_bytes),
        r.memory_measured_bytes
            .map(mem)
            .unwrap_or_else(|| "-".into()),
        r.ratio_to_fft_reference
            .map(|x| format!("{x:.2}× its FFTs"))
            .unwrap_or_default()
            + &traffic_note(r),
    )
}

/// The traffic model of a GPU training step, in words (empty for other records).
#[cfg(feature = "gpu")]
fn traffic_note(r: &Record) -> String {
    let Some(t) = &r.traffic else {
        return String::new();
    };
    let mb = |b: u64| b as f64 / 1e6;
    let floor = match (t.floor_bytes, t.over_floor) {
        (Some(f), Some(x)) => format!(", floor {:.1} MB ({x:.2}× it)", mb(f)),
        _ => String::new(),
    };
    format!(
        "traffic {:.1} MB in {} dispatches{floor}, ≥ {:.3} ms at the copy bandwidth; upload {:.2} MB, readback {:.3} MB",
        mb(t.device_bytes),
        t.counted.dispatches,
        t.bound_ms_at_copy_bandwidth,
        mb(t.counted.upload_bytes),
        mb(t.counted.readback_bytes)
    )
}

#[cfg(not(feature = "gpu"))]
fn traffic_note(_: &Record) -> String {
    String::new()
}

/// The table header matching [`table_row`].
fn table_header() -> String {
    format!(
        "{:<4} {:<26} {:<22} {:<14} {:>5} {:>11} {:>10} {:>16} {:>16} {:>9} {:>9}",
        "",
        "device",
        "op",
        "grid",
        "batch",
        "median ms",
        "img/s",
        "GB/s (% DRAM)",
        "GFLOP/s (ceil)",
        "mem MiB",
        "meas MiB"
    )
}
