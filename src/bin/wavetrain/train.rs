//! `wavetrain train`: one run from a preset, a config or a run folder to resume.

use std::path::PathBuf;

use wavetrain::{Error, Result};

use crate::{resolve_data, BackendArgs};

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Built-in network (see `wavetrain presets`); the default is d2nn-mnist.
    #[arg(long, conflicts_with_all = ["config", "resume"])]
    pub preset: Option<String>,
    /// Network description in TOML.
    #[arg(long, conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Continue the run in this folder from its checkpoint, with the settings and data it was
    /// started with (flags that would change them are refused; --epochs may extend it).
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
    /// --set elements[1].od=10 (repeatable; see `Config::set` for the shorthands). The
    /// hardware's gradient read-out: --set hardware.readout=phase-stepping (or heterodyne)
    /// --set hardware.probe_ratio=0.1 --set hardware.readout_shot_noise=1e4 (docs/src/noise.md).
    /// Other training methods: --set train.method=dfa|spsa|pepita, with train.spsa_samples,
    /// train.spsa_sigma, train.feedback_scale (docs/src/methods.md).
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
    /// A dataset by name (mnist, fashion-mnist, kmnist: see `wavetrain data list`), or a folder
    /// with MNIST-format IDX files (train-images-idx3-ubyte[.gz], …, t10k-labels-idx1-ubyte[.gz]);
    /// the bundled 4,000/500-image MNIST subset when absent.
    #[arg(long, value_name = "NAME|DIR")]
    pub data: Option<PathBuf>,
    /// Use a dataset given by name even if its files' SHA-256 differ from the published ones.
    #[arg(long)]
    pub no_verify: bool,
    /// Run folder (default runs/NAME-YYYYMMDD-HHMMSS-XXXX, UTC); must not exist, be empty, or
    /// hold a run that stopped before its first checkpoint. One process owns it at a time.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds of training between checkpoints within an epoch (0: after every step); a
    /// checkpoint is also written at the end of every epoch.
    #[arg(long, value_name = "SECONDS")]
    pub checkpoint_every: Option<f64>,
    /// End with one JSON line of the final metrics on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the pictures at the end.
    #[arg(long)]
    pub no_pictures: bool,
}

/// The config key each run-changing flag sets (for the conflict with `--set`), and its name.
fn flag_keys(a: &TrainArgs) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    if a.gradient.is_some() {
        v.push(("--gradient", "train.gradient"));
    }
    if a.epochs.is_some() {
        v.push(("--epochs", "train.epochs"));
    }
    if a.max_train.is_some() {
        v.push(("--max-train", "train.max_train"));
    }
    if a.batch.is_some() {
        v.push(("--batch", "train.batch"));
    }
    if a.lr.is_some() {
        v.push(("--lr", "train.lr"));
    }
    if a.seed.is_some() {
        v.push(("--seed", "train.seed"));
    }
    v
}

/// The dotted key a `--set` key means (its shorthands for training settings expanded).
fn full_key(k: &str) -> String {
    match wavetrain::model::shorthand_table(k) {
        Some(table) => format!("{table}.{k}"),
        None => k.to_string(),
    }
}

/// `--resume` continues a run as it was configured: flags that would change it are refused
/// (only `--epochs` may extend it, and is recorded).
fn refuse_run_changes(a: &TrainArgs) -> Result<()> {
    let mut given: Vec<&str> = flag_keys(a)
        .into_iter()
        .map(|(f, _)| f)
        .filter(|f| *f != "--epochs")
        .collect();
    if !a.set.is_empty() {
        given.push("--set");
    }
    if a.activation.is_some() {
        given.push("--activation");
    }
    match given.first() {
        Some(f) => Err(Error::config(
            *f,
            format!(
                "--resume continues a run with the settings it was started with; {} would train the rest with others (only --epochs may extend a run): start a new run instead",
                given.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

pub fn train(a: TrainArgs) -> Result<()> {
    check_flags(&a)?;
    let (cfg, resume, record) = starting_point(&a)?;
    let cfg = apply_flags(&a, cfg, resume.as_ref())?;
    // A resumed run reads the data it was started on (recorded in provenance.json).
    let (given, named) = resolve_data(a.data.as_ref(), a.no_verify)?;
    let p = wavetrain::launch::prepare(wavetrain::launch::Start {
        cfg,
        resume: a.resume.clone().zip(resume),
        record,
        data: given.map(|d| (d, named)),
        out: a.out.clone(),
        data_arg: "--data",
    })?;
    let result = (|| -> Result<wavetrain::train::Summary> {
        let mut backend = wavetrain::run::make_backend(
            a.backend.backend,
            a.backend.adapter.as_deref(),
            &p.net,
            &p.state,
        )?;
        p.begin(&backend.name(), None, !a.json)?;
        let opts = p.options(
            !a.json,
            stop_on_ctrl_c(),
            !a.no_pictures,
            a.checkpoint_every,
        );
        wavetrain::run::train_run(&p.net, backend.as_mut(), &p.train_set, &p.test_set, &opts)
    })();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if p.fresh {
                p.dir.discard_if_empty();
            }
            return Err(e);
        }
    };
    print_summary(&a, &summary, p.dir.path());
    Ok(())
}

/// Refuses flags that would change a resumed run, a flag and a `--set` of the same key, and a
/// negative `--checkpoint-every`.
fn check_flags(a: &TrainArgs) -> Result<()> {
    if a.resume.is_some() {
        refuse_run_changes(a)?;
    }
    // A flag and a --set of the same key: refused rather than one silently winning.
    for kv in &a.set {
        let k = full_key(kv.split_once('=').map_or(kv.as_str(), |(k, _)| k.trim()));
        if let Some((flag, _)) = flag_keys(a).into_iter().find(|(_, key)| *key == k) {
            return Err(Error::config(
                flag,
                format!("both {flag} and --set {kv} set {k}: give one of them"),
            ));
        }
    }
    if let Some(checkpoint_every) = a.checkpoint_every {
        if !(checkpoint_every.is_finite() && checkpoint_every >= 0.0) {
            return Err(Error::config(
                "--checkpoint-every",
                format!("must be a number of seconds ≥ 0, got {checkpoint_every}"),
            ));
        }
    }
    Ok(())
}

/// The config, the checkpoint and the provenance a run starts from: a run folder's (`--resume`),
/// a config file's or a preset's.
fn starting_point(
    a: &TrainArgs,
) -> Result<(
    wavetrain::model::Config,
    Option<wavetrain::checkpoint::Checkpoint>,
    Option<wavetrain::provenance::Provenance>,
)> {
    use wavetrain::checkpoint::Checkpoint;
    use wavetrain::provenance::Provenance;

    let (cfg, resume, record) = if let Some(dir) = &a.resume {
        let path = dir.join("checkpoint.safetensors");
        if dir.is_dir() && !path.exists() {
            return Err(Error::config(
                "--resume",
                format!(
                    "{} has no checkpoint yet (the run stopped before its first save): start it again with --out {}",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
        // A run that trained against a lab in the loop resumes from Python, with the lab.
        wavetrain::train::lab::check_resume(dir, None)?;
        let ck = Checkpoint::load(&path)?;
        (ck.config().clone(), Some(ck), Provenance::load(dir)?)
    } else if let Some(path) = &a.config {
        (wavetrain::model::Config::from_file(path)?, None, None)
    } else {
        (
            wavetrain::presets::preset(a.preset.as_deref().unwrap_or(wavetrain::presets::DEFAULT))?,
            None,
            None,
        )
    };
    Ok((cfg, resume, record))
}

/// The config with the flags applied: `--gradient`, `--epochs` (which may only extend a resumed
/// run), `--max-train`, `--batch`, `--lr`, `--seed`, each `--set`, `--activation`.
fn apply_flags(
    a: &TrainArgs,
    mut cfg: wavetrain::model::Config,
    resume: Option<&wavetrain::checkpoint::Checkpoint>,
) -> Result<wavetrain::model::Config> {
    if let Some(g) = a.gradient {
        cfg.train.gradient = g;
    }
    wavetrain::model::TrainOverrides {
        epochs: a.epochs,
        max_train: a.max_train,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
    }
    .apply(
        &mut cfg.train,
        resume.map(|ck| ck.progress.epoch),
        "--epochs",
        |e| format!("--epochs {e}"),
    )?;
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
    Ok(cfg)
}

/// A stop flag that Ctrl-C sets (the run stops after its step and saves a checkpoint); a second
/// Ctrl-C exits at once.
fn stop_on_ctrl_c() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: stop at once (the last checkpoint stays as it was).
                eprintln!("\nstopped at once; the last checkpoint is kept");
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping after this step and saving a checkpoint (Ctrl-C again to stop at once)"
            );
        });
    }
    stop
}

/// The summary on stdout: JSON with `--json`, else one line.
fn print_summary(a: &TrainArgs, summary: &wavetrain::train::Summary, out: &std::path::Path) {
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
}
