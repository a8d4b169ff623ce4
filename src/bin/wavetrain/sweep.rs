//! `wavetrain sweep`: a grid of runs over config values.

use std::path::PathBuf;

use wavetrain::{Error, Result};

use crate::{load_data, BackendArgs};

#[derive(clap::Args)]
pub struct SweepArgs {
    /// Built-in network (see `wavetrain presets`).
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// Network description in TOML.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Optical depths for every absorber (the first axis when given), e.g. 0.1,0.3,1,3,10,30;
    /// an axis on `od` like `--set od=…`, so not together with another axis that sets an
    /// absorber's od (`--set od=…`, `--set elements[1].od=…`) or with `--activation relu/linear`.
    #[arg(long, value_delimiter = ',')]
    pub od: Vec<String>,
    /// Any config key and its values, KEY=V1,V2,… (repeatable; axes in the order given). Each
    /// config value is swept by one axis: two axes that set the same one (`lr` and `train.lr`,
    /// `seed` and `train.seed`, `od` and `elements[1].od`, `--set gradient=…` and
    /// `--gradient`) are refused, and so is a value given twice (`0,0`, `1,1.0`).
    #[arg(long = "set", value_name = "KEY=V1,V2")]
    pub set: Vec<String>,
    /// Gradients to compare: optical,exact (an axis on train.gradient).
    #[arg(long, value_delimiter = ',')]
    pub gradient: Vec<String>,
    /// Activations to compare: absorber,relu,linear. The baselines replace (relu) or remove
    /// (linear) the absorbers, and relu also sets the dense fidelity, the loss, the temperature
    /// and the hardware: not together with axes on those (sweep the baselines on their own).
    #[arg(long, value_delimiter = ',')]
    pub activation: Vec<String>,
    /// Epochs of every run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Use at most this many training images.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Runs at a time (default: one per core for dense networks, one for field networks,
    /// which use every core themselves).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Sweep folder: a new or empty folder, or that of the same sweep (its sweep.toml matches),
    /// which resumes it: finished runs are read back, stopped ones continue from their
    /// checkpoint. A folder of other files (a training run's included) is refused. A failed or
    /// stopped sweep keeps only finished runs and resumable checkpoints, and removes a folder
    /// it made that holds neither.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with MNIST-format IDX files; the bundled subset when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print the results as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn sweep(a: SweepArgs) -> Result<()> {
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
    // The base network is checked before any axis is applied.
    cfg.resolve()?;
    // Each axis with the flag it came from, for messages.
    let mut axes = Vec::new();
    let mut flags = Vec::new();
    let list = |v: &[String]| v.iter().map(|x| x.trim().to_string()).collect::<Vec<_>>();
    if !a.od.is_empty() {
        axes.push(Axis {
            key: "od".into(),
            values: list(&a.od),
        });
        flags.push("--od".to_string());
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
        flags.push(format!("--set {}", k.trim()));
    }
    if !a.gradient.is_empty() {
        axes.push(Axis {
            key: "gradient".into(),
            values: list(&a.gradient),
        });
        flags.push("--gradient".to_string());
    }
    if !a.activation.is_empty() {
        axes.push(Axis {
            key: "activation".into(),
            values: list(&a.activation),
        });
        flags.push("--activation".to_string());
    }
    wavetrain::sweep::check_axes(&cfg, &axes, &flags)?;
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
    let opts = wavetrain::sweep::SweepOptions {
        out: a.out.clone(),
        jobs,
        backend: a.backend.backend,
        progress: !a.json,
        stop,
    };
    // A folder the sweep would refuse is refused before the sweep is announced.
    wavetrain::sweep::check_out(&a.out, &cfg, &axes)?;
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
    let rows = match wavetrain::sweep::run(&cfg, &axes, &opts, &load) {
        Ok(rows) => rows,
        Err(Error::Interrupted(m)) if kept_runs(&a.out) => {
            return Err(Error::Interrupted(format!(
                "{m}. Resume with: {}",
                this_command()
            )))
        }
        Err(e) => return Err(e),
    };
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

/// Whether the sweep folder holds any run (finished or resumable) to come back to.
fn kept_runs(out: &std::path::Path) -> bool {
    std::fs::read_dir(out.join("runs")).is_ok_and(|mut d| d.next().is_some())
}

/// This command line, quoted for a POSIX shell where needed.
fn this_command() -> String {
    std::env::args()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
