//! The `wavetrain` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::{Error, Result};

#[derive(Parser)]
#[command(
    name = "wavetrain",
    version,
    about = "Simulate optical neural networks with wave optics and train them with end-to-end optical backpropagation",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the saturable absorber's response curve as CSV: z,g,t_probe,g_exact,ratio.
    ///
    /// z is the input field amplitude (z² = I/I_sat), g the output field, t_probe the weak probe's
    /// field transmission (the optical "derivative"), g_exact the true derivative dg/dz and
    /// ratio = g_exact/t_probe.
    Absorber(AbsorberArgs),
    /// Check whether a grid can represent a free-space step (band limit, wrap-around).
    Sampling(SamplingArgs),
    /// Train a network: pump pass forward, electronic loss, probe pass backward, update.
    Train(TrainArgs),
    /// Evaluate a checkpoint on the test split: accuracy and confusion matrix.
    Eval(EvalArgs),
    /// List every GPU adapter (name, backend, type, driver, key limits), which one `auto` picks,
    /// and the CPU engine's threads.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Train a network over a grid of config values (e.g. --od 0.1,1,10 --gradient optical,exact),
    /// runs in parallel, resumable; writes sweep.csv, sweep.png (test accuracy against the first
    /// swept value) and, for 2-D tasks, decision_boundaries.png.
    Sweep(SweepArgs),
    /// Time the FFT, a free-space step, the absorber and training steps on every backend, against
    /// the measured copy bandwidth and FLOP ceiling (table, or --json records).
    Bench(BenchArgs),
    /// List the built-in presets, or print one as TOML.
    Presets {
        /// Print this preset's TOML.
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct BackendArgs {
    /// Compute backend: auto (a hardware GPU if present, else CPU; dense networks stay on the
    /// CPU), gpu (any adapter, software ones such as lavapipe included; dense networks without
    /// the [hardware] noise, camera and probe-power options) or cpu.
    #[arg(long, default_value = "auto")]
    backend: wavetrain::backend::BackendChoice,
    /// Pick the GPU adapter whose name contains this text.
    #[arg(long)]
    adapter: Option<String>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Built-in network (see `wavetrain presets`); the default is d2nn-mnist.
    #[arg(long, conflicts_with_all = ["config", "resume"])]
    preset: Option<String>,
    /// Network description in TOML.
    #[arg(long, conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue the run in this folder from its checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Gradient through the absorbers: optical (the probe's transmission) or exact.
    #[arg(long)]
    gradient: Option<wavetrain::model::GradientMode>,
    /// Baselines: relu (a digital network of the same shape: ReLU, unbounded weights,
    /// cross-entropy; dense networks) or linear (the absorbers removed).
    #[arg(long)]
    activation: Option<wavetrain::model::Activation>,
    /// Set any config value, e.g. --set od=3 --set hardware.noise_error=0.02
    /// --set elements[1].od=10 (repeatable; see `Config::set` for the shorthands).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Use at most this many training images.
    #[arg(long)]
    max_train: Option<usize>,
    /// Images per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Seed for initialisation and shuffling.
    #[arg(long)]
    seed: Option<u64>,
    /// Folder with MNIST-format IDX files (train-images-idx3-ubyte[.gz], …, t10k-labels-idx1-ubyte[.gz]);
    /// the bundled 4,000/500-image MNIST subset when absent.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run folder (default runs/NAME-TIMESTAMP); must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// End with one JSON line of the final metrics on stdout.
    #[arg(long)]
    json: bool,
    /// Skip the pictures at the end.
    #[arg(long)]
    no_pictures: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A smoke run: small sizes, few repetitions (well under a minute).
    #[arg(long)]
    quick: bool,
    /// One JSON record per measurement on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Backends to measure: all, cpu or gpu.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Only GPU adapters whose name contains this text.
    #[arg(long)]
    adapter: Option<String>,
    /// Grid sides (default 128,256,512,1024,2048; quick 128,256).
    #[arg(long, value_delimiter = ',')]
    grids: Vec<usize>,
    /// Batches (default 1,16,64; quick 1,8).
    #[arg(long, value_delimiter = ',')]
    batches: Vec<usize>,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Built-in network (see `wavetrain presets`).
    #[arg(long, conflicts_with = "config")]
    preset: Option<String>,
    /// Network description in TOML.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Optical depths for every absorber (the first axis when given), e.g. 0.1,0.3,1,3,10,30.
    #[arg(long, value_delimiter = ',')]
    od: Vec<String>,
    /// Any config key and its values, KEY=V1,V2,… (repeatable; axes in the order given).
    #[arg(long = "set", value_name = "KEY=V1,V2")]
    set: Vec<String>,
    /// Gradients to compare: optical,exact.
    #[arg(long, value_delimiter = ',')]
    gradient: Vec<String>,
    /// Activations to compare: absorber,relu,linear.
    #[arg(long, value_delimiter = ',')]
    activation: Vec<String>,
    /// Epochs of every run.
    #[arg(long)]
    epochs: Option<usize>,
    /// Use at most this many training images.
    #[arg(long)]
    max_train: Option<usize>,
    /// Runs at a time (default: one per core for dense networks, one for field networks,
    /// which use every core themselves).
    #[arg(long)]
    jobs: Option<usize>,
    /// Sweep folder; rerunning the same command there resumes.
    #[arg(long)]
    out: PathBuf,
    /// Folder with MNIST-format IDX files; the bundled subset when absent.
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Print the results as JSON lines on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// A checkpoint.safetensors written by `wavetrain train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Folder with MNIST-format IDX files; the bundled subset when absent.
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Print one JSON line with the accuracy and confusion matrix.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct AbsorberArgs {
    /// Optical depth α₀ (intensity, on resonance).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    od: f64,
    /// Absorber model: thin or beer-lambert.
    #[arg(long, default_value = "thin")]
    model: AbsorberModel,
    /// First input amplitude z.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    from: f64,
    /// Last input amplitude z (included when on the step grid).
    #[arg(long, default_value_t = 16.0, allow_negative_numbers = true)]
    to: f64,
    /// Step in z.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    step: f64,
    /// Also draw g, t_probe and g_exact against z into this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SamplingArgs {
    /// Grid width in pixels.
    #[arg(long, default_value_t = 128)]
    nx: usize,
    /// Grid height in pixels (defaults to nx).
    #[arg(long)]
    ny: Option<usize>,
    /// Pixel pitch in metres.
    #[arg(long, default_value_t = 8e-6)]
    pitch: f64,
    /// Wavelength in metres.
    #[arg(long, default_value_t = 780e-9)]
    wavelength: f64,
    /// Propagation distance in metres.
    #[arg(long, allow_negative_numbers = true)]
    distance: f64,
    /// Zero-padding factor (≥ 1).
    #[arg(long, default_value_t = 2.0)]
    pad: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Absorber(a) => absorber(a),
        Command::Sampling(a) => sampling(a),
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
        Command::Sweep(a) => sweep(a),
        Command::Bench(a) => bench(a),
        Command::Presets { name } => presets(name),
        Command::Info { json } => info(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn absorber(a: AbsorberArgs) -> Result<()> {
    if !(a.od.is_finite() && a.od >= 0.0) {
        return Err(Error::config(
            "--od",
            format!("optical depth must be a finite number ≥ 0, got {}", a.od),
        ));
    }
    if !(a.from.is_finite() && a.to.is_finite()) {
        return Err(Error::config("--from/--to", "must be finite numbers"));
    }
    if !(a.step.is_finite() && a.step > 0.0) {
        return Err(Error::config(
            "--step",
            format!("must be a positive number, got {}", a.step),
        ));
    }
    if a.to < a.from {
        return Err(Error::config(
            "--to",
            format!("{} is below --from {}: give --to ≥ --from", a.to, a.from),
        ));
    }
    let n = ((a.to - a.from) / a.step + 1e-9).floor() as u64 + 1;
    if n > 10_000_000 {
        return Err(Error::config(
            "--step",
            format!("{n} points is too many: use a larger step"),
        ));
    }
    let abs = Absorber::new(a.od, a.model);
    let mut out = String::from("z,g,t_probe,g_exact,ratio\n");
    let (mut g, mut t, mut ge) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let z = a.from + i as f64 * a.step;
        let (gz, tz, gez) = abs.response(z);
        out.push_str(&format!("{z},{gz:.9},{tz:.9},{gez:.9},{:.9}\n", gez / tz));
        g.push((z, gz));
        t.push((z, tz));
        ge.push((z, gez));
    }
    if let Some(path) = &a.plot {
        use wavetrain::plot::{line_plot, Series};
        line_plot(
            path,
            &format!("Saturable absorber, {:?} model, α₀ = {}", a.model, a.od),
            "input field amplitude z (z² = I/I_sat)",
            "",
            &[
                Series {
                    label: "g(z) output field",
                    points: g,
                },
                Series {
                    label: "t_probe (optical gradient)",
                    points: t,
                },
                Series {
                    label: "g'(z) exact derivative",
                    points: ge,
                },
            ],
        )?;
    }
    print!("{out}");
    Ok(())
}

fn sampling(a: SamplingArgs) -> Result<()> {
    let grid = wavetrain::Grid::new(a.nx, a.ny.unwrap_or(a.nx), a.pitch)?;
    if !(a.wavelength.is_finite() && a.wavelength > 0.0) {
        return Err(Error::config(
            "--wavelength",
            format!("must be a positive length in metres, got {}", a.wavelength),
        ));
    }
    if !(a.pad.is_finite() && (1.0..=8.0).contains(&a.pad)) {
        return Err(Error::config(
            "--pad",
            format!("padding factor must be between 1 and 8, got {}", a.pad),
        ));
    }
    if !a.distance.is_finite() {
        return Err(Error::config(
            "--distance",
            "must be a finite length in metres",
        ));
    }
    let r = wavetrain::optics::sampling_report(
        grid.nx,
        grid.ny,
        grid.dx,
        a.pad,
        a.wavelength,
        a.distance,
    );
    if a.json {
        println!("{}", serde_json::to_string(&r).unwrap_or_default());
    } else {
        println!("distance            {:.6} m", r.distance);
        println!(
            "band-limit cut-off  {:.4e} / {:.4e} cycles/m (Nyquist {:.4e})",
            r.cutoff.0, r.cutoff.1, r.nyquist
        );
        println!("spectrum kept       {:.1} %", 100.0 * r.kept_fraction);
        println!("evanescent          {:.1} %", 100.0 * r.evanescent_fraction);
        println!(
            "lateral spread      {:.4e} m (padding margin {:.4e} m)",
            r.lateral_spread, r.margin
        );
        let w = r.warnings();
        if w.is_empty() {
            println!("ok: the sampling represents this propagation");
        }
        for line in w {
            eprintln!("warning: {line}");
        }
    }
    Ok(())
}

fn presets(name: Option<String>) -> Result<()> {
    match name {
        Some(n) => {
            let (_, text) = wavetrain::presets::PRESETS
                .iter()
                .find(|(p, _)| *p == n)
                .ok_or_else(|| Error::config("preset", format!("unknown preset '{n}'")))?;
            print!("{text}");
        }
        None => {
            for (n, text) in wavetrain::presets::PRESETS {
                let first = text.lines().next().unwrap_or("").trim_start_matches("# ");
                println!("{n:<20} {first}");
            }
        }
    }
    Ok(())
}

fn load_data(
    dir: Option<&PathBuf>,
    cfg: &wavetrain::model::Config,
) -> Result<(wavetrain::data::Split, wavetrain::data::Split)> {
    if let Some(task) = cfg.input.task {
        if let Some(d) = dir {
            return Err(Error::config(
                "--data",
                format!("the network trains on the generated '{}' task (input.task), not on files in {}: drop --data or input.task", task.name(), d.display()),
            ));
        }
        return Ok(wavetrain::data::tasks::splits(
            task,
            cfg.input.points,
            cfg.input.jitter,
            cfg.train.seed,
        ));
    }
    let d = dir
        .cloned()
        .unwrap_or_else(wavetrain::data::idx::bundled_dir);
    wavetrain::data::read_dir(&d, cfg.readout.classes)
}

fn train(a: TrainArgs) -> Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wavetrain::checkpoint::Checkpoint;

    let (mut cfg, resume) = if let Some(dir) = &a.resume {
        let ck = Checkpoint::load(&dir.join("checkpoint.safetensors"))?;
        (ck.config.clone(), Some(ck))
    } else if let Some(path) = &a.config {
        (wavetrain::model::Config::from_file(path)?, None)
    } else {
        (
            wavetrain::presets::preset(a.preset.as_deref().unwrap_or(wavetrain::presets::DEFAULT))?,
            None,
        )
    };
    if let Some(g) = a.gradient {
        cfg.train.gradient = g;
    }
    if let Some(e) = a.epochs {
        cfg.train.epochs = e;
    }
    if let Some(m) = a.max_train {
        cfg.train.max_train = Some(m);
    }
    if let Some(b) = a.batch {
        cfg.train.batch = b;
    }
    if let Some(lr) = a.lr {
        cfg.train.lr = lr;
    }
    if let Some(s) = a.seed {
        cfg.train.seed = s;
    }
    for kv in &a.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::config(
                "--set",
                format!("'{kv}' is not KEY=VALUE (e.g. --set od=3)"),
            )
        })?;
        cfg = cfg.set(k.trim(), v.trim())?;
    }
    if let Some(act) = a.activation {
        cfg = cfg.with_activation(act)?;
    }
    cfg.validate()?;
    wavetrain::train::check_memory(&cfg)?;
    let (train_set, test_set) = load_data(a.data.as_ref(), &cfg)?;
    for w in cfg.sampling_warnings() {
        eprintln!("warning: {w}");
    }
    let out = match (&a.resume, &a.out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from("runs").join(format!("{}-{t}", cfg.name))
        }
    };
    if resume.is_none()
        && out.exists()
        && std::fs::read_dir(&out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::config("--out", format!("{} already exists and is not empty: choose a new folder, or continue it with --resume", out.display())));
    }
    let state = match &resume {
        Some(ck) => ck.state.clone(),
        None => wavetrain::train::initial_state(&cfg)?,
    };
    let mut backend = wavetrain::backend::make(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &cfg,
        &state,
    )?;
    let quiet = a.json;
    if !quiet {
        eprintln!(
            "training {} on {} ({} train / {} test images), backend: {}",
            cfg.name,
            a.data
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| match cfg.input.task {
                    Some(t) => format!("the generated {} task", t.name()),
                    None => "the bundled MNIST subset".into(),
                }),
            cfg.train
                .max_train
                .unwrap_or(train_set.len())
                .min(train_set.len()),
            test_set.len(),
            backend.name()
        );
    }
    let (s, warnings) = wavetrain::train::absorber_report(backend.as_mut(), &cfg, &train_set)?;
    if !s.is_empty() && !quiet {
        let list: Vec<String> = s.iter().map(|v| format!("{v:.3}")).collect();
        eprintln!(
            "mean s = I/I_sat entering each absorber (first batch): [{}]",
            list.join(", ")
        );
    }
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if resume.is_none() {
        // Made only now, so that a run refused while its backend is built leaves no folder.
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    let opts = wavetrain::train::RunOptions {
        out: out.clone(),
        progress: !quiet,
        stop,
        resume: resume.map(|c| c.progress),
        pictures: !a.no_pictures,
    };
    let fresh = opts.resume.is_none();
    let summary =
        match wavetrain::train::train(&cfg, &train_set, &test_set, backend.as_mut(), &opts) {
            Ok(s) => s,
            Err(e) => {
                // A fresh run that failed before its first checkpoint holds nothing worth keeping:
                // remove the folder this command made, so that the same --out can be used again.
                if fresh && !out.join("checkpoint.safetensors").exists() {
                    let _ = std::fs::remove_dir_all(&out);
                }
                return Err(e);
            }
        };
    if a.json {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        println!(
            "test accuracy {:.2}% after {} epochs ({:.1} s, {:.0} images/s on {}); run folder: {}",
            100.0 * summary.test_accuracy,
            summary.epochs,
            summary.seconds,
            summary.images_per_second,
            summary.backend,
            out.display()
        );
    }
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    let mut opts = wavetrain::bench::BenchOptions::new(a.quick);
    if !a.grids.is_empty() {
        opts.grids = a.grids.clone();
    }
    if !a.batches.is_empty() {
        opts.batches = a.batches.clone();
    }
    opts.adapter = a.adapter.clone();
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
        println!("{}", wavetrain::bench::table_header());
    }
    let mut emit = |r: &wavetrain::bench::Record| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!("{}", wavetrain::bench::table_row(r));
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
        eprintln!("medians after one warm-up run; bytes and FLOPs counted from the algorithm; GPU kernels: timestamp queries where the adapter has them, else queue drain (see the timing field of --json); GPU training steps: queue drain; memory: formula vs measured (CPU: RSS growth, GPU: bytes allocated)");
    }
    Ok(())
}

fn sweep(a: SweepArgs) -> Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wavetrain::sweep::Axis;
    let mut cfg = match &a.config {
        Some(p) => wavetrain::model::Config::from_file(p)?,
        None => {
            wavetrain::presets::preset(a.preset.as_deref().unwrap_or(wavetrain::presets::DEFAULT))?
        }
    };
    if let Some(e) = a.epochs {
        cfg.train.epochs = e;
    }
    if let Some(m) = a.max_train {
        cfg.train.max_train = Some(m);
    }
    cfg.validate()?;
    let mut axes = Vec::new();
    if !a.od.is_empty() {
        axes.push(Axis {
            key: "od".into(),
            values: a.od.clone(),
        });
    }
    for kv in &a.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::config(
                "--set",
                format!("'{kv}' is not KEY=V1,V2 (e.g. --set train.lr=0.01,0.1)"),
            )
        })?;
        axes.push(Axis {
            key: k.trim().into(),
            values: v.split(',').map(|x| x.trim().to_string()).collect(),
        });
    }
    if !a.gradient.is_empty() {
        axes.push(Axis {
            key: "gradient".into(),
            values: a.gradient.clone(),
        });
    }
    if !a.activation.is_empty() {
        axes.push(Axis {
            key: "activation".into(),
            values: a.activation.clone(),
        });
    }
    if let Some(d) = &a.data {
        if cfg.input.task.is_some() {
            return Err(Error::config(
                "--data",
                format!(
                    "the network trains on a generated task, not on files in {}",
                    d.display()
                ),
            ));
        }
    }
    let jobs = a.jobs.unwrap_or(if cfg.is_dense() {
        rayon::current_num_threads()
    } else {
        1
    });
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let opts = wavetrain::sweep::SweepOptions {
        out: a.out.clone(),
        jobs,
        backend: a.backend.backend,
        progress: !a.json,
        stop,
    };
    let points = wavetrain::sweep::grid(&axes).len();
    if !a.json {
        eprintln!(
            "sweeping {} over {} runs, {} at a time, into {}",
            cfg.name,
            points,
            jobs.min(points.max(1)),
            a.out.display()
        );
    }
    let data = a.data.clone();
    let load = move |c: &wavetrain::model::Config| load_data(data.as_ref(), c);
    let rows = wavetrain::sweep::run(&cfg, &axes, &opts, &load)?;
    if a.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else {
        print!("{}", wavetrain::sweep::csv(&axes, &rows));
        eprintln!(
            "wrote {} and {}",
            a.out.join("sweep.csv").display(),
            a.out.join("sweep.png").display()
        );
    }
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let ck = wavetrain::checkpoint::Checkpoint::load(&a.checkpoint)?;
    let cfg = ck.config;
    let (_, test_set) = load_data(a.data.as_ref(), &cfg)?;
    let mut backend = wavetrain::backend::make(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &cfg,
        &ck.state,
    )?;
    let (acc, conf) = wavetrain::train::evaluate(backend.as_mut(), &cfg, &test_set)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"accuracy": acc, "confusion": conf, "images": test_set.len(), "backend": backend.name()})
        );
    } else {
        println!(
            "accuracy {:.2}% on {} test images ({})",
            100.0 * acc,
            test_set.len(),
            backend.name()
        );
        println!("confusion matrix (rows: true class, columns: predicted):");
        for (i, row) in conf.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:4}")).collect();
            println!("{i:>3} |{}", cells.join(""));
        }
    }
    Ok(())
}

#[cfg(feature = "gpu")]
fn info(json: bool) -> Result<()> {
    let adapters = wavetrain::gpu::list_adapters();
    let auto = wavetrain::gpu::auto_adapter();
    let threads = rayon::current_num_threads();
    if json {
        println!(
            "{}",
            serde_json::json!({"adapters": adapters, "auto": auto.as_ref().map(|a| a.name.clone()), "cpu_threads": threads})
        );
        return Ok(());
    }
    println!("CPU engine: {threads} threads (rayon; set RAYON_NUM_THREADS to change)");
    if adapters.is_empty() {
        println!("GPU adapters: none found (WGPU_BACKEND={}); install a driver (e.g. `apt install mesa-vulkan-drivers` for the software Vulkan driver) or use --backend cpu", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "all".into()));
    }
    for (i, a) in adapters.iter().enumerate() {
        println!("adapter {i}: {}", a.name);
        println!(
            "  backend {}, type {}{}, driver {} {}",
            a.backend,
            a.device_type,
            if a.software { " (software)" } else { "" },
            a.driver,
            a.driver_info
        );
        let l = &a.limits;
        println!(
            "  max buffer {} MiB, max storage binding {} MiB, workgroup storage {} KiB, {} invocations/workgroup",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup
        );
        println!(
            "  timestamp queries: {}",
            if a.timestamps {
                "yes (bench times kernels on the GPU clock)"
            } else {
                "no (bench uses queue-drain timing)"
            }
        );
    }
    match auto {
        Some(a) => println!("--backend auto uses: {} ({})", a.name, a.backend),
        None => println!("--backend auto uses: the CPU (no hardware GPU; --backend gpu accepts a software adapter)"),
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn info(_json: bool) -> Result<()> {
    println!(
        "CPU engine: {} threads; this build has no GPU support (feature `gpu` off)",
        rayon::current_num_threads()
    );
    Ok(())
}
