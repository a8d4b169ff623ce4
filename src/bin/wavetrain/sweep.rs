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
    /// Optical depths for every absorber (the first axis when given), e.g. 0.1,0.3,1,3,10,30.
    #[arg(long, value_delimiter = ',')]
    pub od: Vec<String>,
    /// Any config key and its values, KEY=V1,V2,… (repeatable; axes in the order given).
    #[arg(long = "set", value_name = "KEY=V1,V2")]
    pub set: Vec<String>,
    /// Gradients to compare: optical,exact.
    #[arg(long, value_delimiter = ',')]
    pub gradient: Vec<String>,
    /// Activations to compare: absorber,relu,linear.
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
    /// Sweep folder; rerunning the same command there resumes.
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
