//! `wavetrain train`: one run from a preset, a config or a run folder to resume.

use std::path::PathBuf;

use wavetrain::{Error, Result};

use crate::{load_data, BackendArgs};

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Built-in network (see `wavetrain presets`); the default is d2nn-mnist.
    #[arg(long, conflicts_with_all = ["config", "resume"])]
    pub preset: Option<String>,
    /// Network description in TOML.
    #[arg(long, conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Continue the run in this folder from its checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Gradient through the absorbers: optical (the probe's transmission) or exact.
    #[arg(long)]
    pub gradient: Option<wavetrain::model::GradientMode>,
    /// Baselines: relu (a digital network of the same shape: ReLU, unbounded weights,
    /// cross-entropy; dense networks) or linear (the absorbers removed).
    #[arg(long)]
    pub activation: Option<wavetrain::model::Activation>,
    /// Set any config value, e.g. --set od=3 --set hardware.noise_error=0.02
    /// --set elements[1].od=10 (repeatable; see `Config::set` for the shorthands).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Use at most this many training images.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Images per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed for initialisation and shuffling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder with MNIST-format IDX files (train-images-idx3-ubyte[.gz], …, t10k-labels-idx1-ubyte[.gz]);
    /// the bundled 4,000/500-image MNIST subset when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder (default runs/NAME-TIMESTAMP); must not exist or be empty.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// End with one JSON line of the final metrics on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the pictures at the end.
    #[arg(long)]
    pub no_pictures: bool,
}

pub fn train(a: TrainArgs) -> Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wavetrain::checkpoint::Checkpoint;

    let (mut cfg, resume) = if let Some(dir) = &a.resume {
        let ck = Checkpoint::load(&dir.join("checkpoint.safetensors"))?;
        (ck.config().clone(), Some(ck))
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
    let net = cfg.resolve()?;
    wavetrain::run::check_memory(&net)?;
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
        None => net.initial_state(),
    };
    let mut backend = wavetrain::run::make_backend(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &net,
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
    let (s, warnings) = wavetrain::train::absorber_report(&net, &state, &train_set)?;
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
    // The folder is made only now (by `train_run`), so that a run refused while its backend is
    // built leaves none behind.
    let summary = wavetrain::run::train_run(&net, backend.as_mut(), &train_set, &test_set, &opts)?;
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
