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
    #[arg(long, required_unless_present = "merge")]
    pub out: Option<PathBuf>,
    /// A dataset by name (see `wavetrain data list`) or a folder with MNIST-format IDX files;
    /// the bundled subset when absent. A name is resolved to its folder once, here; the shard
    /// and merge commands carry the folder.
    #[arg(long, value_name = "NAME|DIR")]
    pub data: Option<PathBuf>,
    /// Use a dataset given by name even if its files' SHA-256 differ from the published ones.
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print the results as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    /// Mid-epoch checkpoints of every run after this many seconds of training (default 60),
    /// so that a run stopped by its scheduler loses at most that much.
    #[arg(long, value_name = "SECONDS")]
    pub checkpoint_every: Option<f64>,
    /// Train only a share of the grid: I/N (point k of the grid, in its documented order, is
    /// shard k mod N's), auto (a Slurm array task's SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN
    /// of SLURM_ARRAY_TASK_COUNT) or auto/N (the task's own SLURM_ARRAY_TASK_ID or a Kubernetes
    /// pod's JOB_COMPLETION_INDEX, of N). Shards share one --out on a shared file system; the
    /// first records N there and a shard with another count is refused. The shard that finds
    /// every point finished merges.
    #[arg(long, value_name = "I/N|auto|auto/N")]
    pub shard: Option<String>,
    /// Merge the sweep folder DIR that shards wrote into: writes sweep.csv, sweep.png and the
    /// decision-boundary panels as a one-machine sweep does, lists the points not finished
    /// with the commands that rerun them, and exits non-zero (130) while any is missing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "shard", "slurm", "kubernetes"])]
    pub merge: Option<PathBuf>,
    /// Write a Slurm array job for the sweep into DIR/slurm (shards.sbatch, merge.sbatch,
    /// submit.sh: the array, then the merge with --dependency=afterany) and print how to
    /// submit it; nothing is trained here.
    #[arg(long, conflicts_with_all = ["shard", "kubernetes"])]
    pub slurm: bool,
    /// Write a Kubernetes indexed Job for the sweep into DIR/kubernetes (shards.json,
    /// merge.json; needs --volume-claim) and print how to apply it; nothing is trained here.
    #[arg(long, conflicts_with = "shard")]
    pub kubernetes: bool,
    #[command(flatten)]
    pub job: Box<JobArgs>,
}

/// What the job files of `--slurm` and `--kubernetes` ask the scheduler for.
#[derive(clap::Args)]
pub struct JobArgs {
    /// Array tasks (--slurm) or completions (--kubernetes): the shard count (default: one per
    /// point).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// At most this many shards at once (Slurm's --array=…%K, Kubernetes' parallelism).
    #[arg(long, value_name = "K")]
    pub array_limit: Option<usize>,
    /// CPUs of each shard (Slurm --cpus-per-task; Kubernetes cpu request); its training threads.
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<usize>,
    /// Time limit of each shard, Slurm's format (e.g. 30, 2:00:00, 1-0).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// Slurm partition.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// GPUs of each shard (Slurm --gpus-per-task; Kubernetes nvidia.com/gpu).
    #[arg(long, value_name = "G")]
    pub gpus_per_task: Option<usize>,
    /// Container image of the Kubernetes Jobs, with wavetrain on its PATH.
    #[arg(long, default_value = "wavetrain:latest")]
    pub image: String,
    /// The ReadWriteMany persistent volume claim that holds the sweep folder (--kubernetes);
    /// it is mounted at the folder's path.
    #[arg(long, value_name = "CLAIM")]
    pub volume_claim: Option<String>,
}

pub fn sweep(mut a: SweepArgs) -> Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wavetrain::sweep::{PartOptions, Shard, ShardSpec};
    a.data = crate::resolve_data(a.data.as_ref(), a.no_verify)?.0;
    if let Some(dir) = &a.merge {
        return merge(&a, dir);
    }
    let out = a
        .out
        .clone()
        .ok_or_else(|| Error::config("--out", "give the sweep folder, --out DIR"))?;
    let cfg = base_config(&a)?;
    let (axes, flags) = axes(&a)?;
    wavetrain::sweep::check_axes(&cfg, &axes, &flags)?;
    check_run_flags(&a, &cfg)?;
    if a.slurm || a.kubernetes {
        return submit(&a, &out, &cfg, &axes);
    }
    let shard = match &a.shard {
        None => Shard::WHOLE,
        Some(s) => s
            .parse::<ShardSpec>()?
            .resolve(&|k| std::env::var(k).ok())?,
    };
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
        out: out.clone(),
        jobs,
        backend: a.backend.backend,
        progress: !a.json,
        stop,
    };
    // A folder the sweep would refuse is refused before the sweep is announced.
    wavetrain::sweep::check_out_shard(&out, &cfg, &axes, shard.count)?;
    let points = wavetrain::sweep::grid(&axes).len();
    let mine = shard.points(points).len();
    if !a.json {
        let part = if shard.count > 1 {
            format!(" (shard {shard}: {mine} of the {points} runs)")
        } else {
            String::new()
        };
        eprintln!(
            "sweeping {} over {} runs{part}, {} at a time, into {}",
            cfg.name,
            if shard.count > 1 { mine } else { points },
            jobs.min(mine.max(1)),
            out.display()
        );
    }
    let part = PartOptions {
        shard,
        checkpoint_every: a
            .checkpoint_every
            .unwrap_or(wavetrain::train::CHECKPOINT_EVERY),
        command: shell_words(&shard_command(&a, &out, false)?),
    };
    let data = a.data.clone();
    let load = move |c: &wavetrain::model::Config| load_data(data.as_ref(), c);
    let done = match wavetrain::sweep::run_part(&cfg, &axes, &opts, &part, &load) {
        Ok(d) => d,
        Err(Error::Interrupted(m)) if kept_runs(&out) => {
            return Err(Error::Interrupted(format!(
                "{m}. Resume with: {}",
                this_command()
            )))
        }
        Err(e) => return Err(e),
    };
    if a.json {
        for r in &done.rows {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else {
        print!("{}", wavetrain::sweep::csv(&axes, &done.rows));
        if shard.count > 1 && !done.merged {
            eprintln!(
                "shard {shard} finished its {mine} runs; other shards' runs are not finished yet (the last shard to finish merges, or: wavetrain sweep --merge {})",
                out.display()
            );
        } else {
            let by = if shard.count > 1 {
                format!("every shard has finished: merged the {points} runs into ")
            } else {
                "wrote ".to_string()
            };
            eprintln!(
                "{by}{} and {}",
                out.join("sweep.csv").display(),
                out.join("sweep.png").display()
            );
        }
    }
    Ok(())
}

/// The base network: the config file or the preset, with `--epochs` and `--max-train`; checked
/// before any axis is applied.
fn base_config(a: &SweepArgs) -> Result<wavetrain::model::Config> {
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
    Ok(cfg)
}

/// The axes of `--od`, `--set`, `--gradient` and `--activation`, each with the flag it came
/// from, for messages.
fn axes(a: &SweepArgs) -> Result<(Vec<wavetrain::sweep::Axis>, Vec<String>)> {
    use wavetrain::sweep::Axis;
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
    Ok((axes, flags))
}

/// `--data` only for a network trained on files, `--checkpoint-every` ≥ 0, the job flags only
/// with `--slurm` or `--kubernetes`.
fn check_run_flags(a: &SweepArgs, cfg: &wavetrain::model::Config) -> Result<()> {
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
    if let Some(c) = a.checkpoint_every {
        if !(c.is_finite() && c >= 0.0) {
            return Err(Error::config(
                "--checkpoint-every",
                format!("must be a number of seconds ≥ 0, got {c}"),
            ));
        }
    }
    let submitting = a.slurm || a.kubernetes;
    let job_flags: [(&str, bool); 8] = [
        ("--shards", a.job.shards.is_some()),
        ("--array-limit", a.job.array_limit.is_some()),
        ("--cpus-per-task", a.job.cpus_per_task.is_some()),
        ("--time", a.job.time.is_some()),
        ("--partition", a.job.partition.is_some()),
        ("--gpus-per-task", a.job.gpus_per_task.is_some()),
        ("--volume-claim", a.job.volume_claim.is_some()),
        ("--image", a.job.image != "wavetrain:latest"),
    ];
    if !submitting {
        if let Some((f, _)) = job_flags.iter().find(|(_, given)| *given) {
            return Err(Error::config(
                *f,
                "describes the jobs --slurm or --kubernetes writes: give one of those, or drop it",
            ));
        }
    }
    Ok(())
}

/// `sweep --merge DIR`.
fn merge(a: &SweepArgs, dir: &std::path::Path) -> Result<()> {
    let given = [
        ("--preset", a.preset.is_some()),
        ("--config", a.config.is_some()),
        ("--od", !a.od.is_empty()),
        ("--set", !a.set.is_empty()),
        ("--gradient", !a.gradient.is_empty()),
        ("--activation", !a.activation.is_empty()),
        ("--epochs", a.epochs.is_some()),
        ("--max-train", a.max_train.is_some()),
        ("--shards", a.job.shards.is_some()),
    ];
    if let Some((f, _)) = given.iter().find(|(_, g)| *g) {
        return Err(Error::config(
            "--merge",
            format!("reads the sweep from {}/sweep.toml: {f} has no place here; give --merge DIR alone (with --backend, --data for the decision maps)", dir.display()),
        ));
    }
    let data = a.data.clone();
    let load = move |c: &wavetrain::model::Config| load_data(data.as_ref(), c);
    let m = wavetrain::sweep::merge(dir, a.backend.backend, &load)?;
    let (_, axes) = wavetrain::sweep::read_sweep(dir)?;
    if a.json {
        for r in &m.rows {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else {
        print!("{}", wavetrain::sweep::csv(&axes, &m.rows));
    }
    if !m.complete() {
        return Err(Error::Interrupted(format!(
            "{}wrote {} with the {} finished runs",
            m.report(dir),
            dir.join("sweep.csv").display(),
            m.rows.len()
        )));
    }
    if !a.json {
        eprintln!(
            "merged the {} runs into {} and {}",
            m.points,
            dir.join("sweep.csv").display(),
            dir.join("sweep.png").display()
        );
    }
    Ok(())
}

/// `sweep --slurm` / `--kubernetes`: claims the folder (as the first shard would) and writes the
/// job files.
fn submit(
    a: &SweepArgs,
    out: &std::path::Path,
    cfg: &wavetrain::model::Config,
    axes: &[wavetrain::sweep::Axis],
) -> Result<()> {
    use wavetrain::sweep::submit;
    let out = absolute(out)?;
    let points = wavetrain::sweep::grid(axes).len();
    let shards = a.job.shards.unwrap_or(points);
    if shards == 0 || shards > points {
        return Err(Error::config(
            "--shards",
            format!("must be between 1 and the {points} points of the grid, got {shards}"),
        ));
    }
    let k8s = a.kubernetes;
    let cmd = submit::JobCommands {
        shard: shard_command(a, &out, k8s)?,
        merge: merge_command(a, &out, k8s)?,
    };
    let slurm_opts = submit::SlurmOptions {
        shards,
        array_limit: a.job.array_limit,
        cpus_per_task: a.job.cpus_per_task,
        time: a.job.time.clone(),
        partition: a.job.partition.clone(),
        gpus_per_task: a.job.gpus_per_task,
    };
    let k8s_opts = submit::KubernetesOptions {
        shards,
        parallelism: a.job.array_limit,
        image: a.job.image.clone(),
        volume_claim: a.job.volume_claim.clone().unwrap_or_default(),
        cpus: a.job.cpus_per_task,
        gpus: a.job.gpus_per_task,
    };
    // The options are checked before the folder is claimed.
    if a.slurm {
        submit::check_slurm(&out, &slurm_opts)?;
    } else {
        submit::kubernetes_manifests(&out, &cfg.name, &cmd, &k8s_opts)?;
    }
    wavetrain::sweep::check_out_shard(&out, cfg, axes, shards)?;
    wavetrain::sweep::prepare(&out, cfg, axes, shards, &shell_words(&cmd.shard))?;
    if a.slurm {
        let script = submit::slurm(&out, &cfg.name, &cmd, &slurm_opts)?;
        let dir = out.join(submit::SLURM_DIR);
        eprintln!(
            "wrote the Slurm jobs of {} ({points} runs in {shards} array tasks) into {}",
            cfg.name,
            dir.display()
        );
        eprintln!("submit:  sh {}", script.display());
        eprintln!(
            "  (array=$(sbatch --parsable {0}/shards.sbatch); sbatch --dependency=afterany:$array {0}/merge.sbatch)",
            dir.display()
        );
        eprintln!("watch:   squeue --me; tail {}/logs/*.out", dir.display());
        eprintln!(
            "merge:   {} (the merge job runs it when every task has ended)",
            shell_words(&cmd.merge)
        );
        println!("{}", script.display());
    } else {
        let (sp, mp, job) = submit::kubernetes(&out, &cfg.name, &cmd, &k8s_opts)?;
        eprintln!(
            "wrote the Kubernetes Jobs of {} ({points} runs in {shards} completions) into {}",
            cfg.name,
            sp.parent().unwrap_or(&out).display()
        );
        eprintln!("submit:  kubectl apply -f {}", sp.display());
        eprintln!("watch:   kubectl get job {job}; kubectl logs -l job-name={job} --prefix");
        eprintln!(
            "merge:   kubectl wait --for=condition=complete --timeout=-1s job/{job} && kubectl apply -f {}",
            mp.display()
        );
        println!("{}", sp.display());
    }
    Ok(())
}

fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(p, e))
}

fn backend_name(b: wavetrain::run::BackendChoice) -> &'static str {
    use wavetrain::run::BackendChoice::*;
    match b {
        Auto => "auto",
        Gpu => "gpu",
        Cpu => "cpu",
    }
}

/// The program a job runs: this very binary on a shared file system (Slurm, a shard's record),
/// `wavetrain` on the image's PATH in a container.
fn program(container: bool) -> Result<String> {
    if container {
        return Ok("wavetrain".into());
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("the wavetrain binary", e))?;
    Ok(exe.display().to_string())
}

/// The command of a shard of this sweep, without `--shard`: every flag that decides what the
/// sweep trains, with absolute paths, into the absolute `out`.
fn shard_command(a: &SweepArgs, out: &std::path::Path, container: bool) -> Result<Vec<String>> {
    let mut v = vec![program(container)?, "sweep".to_string()];
    let mut push = |k: &str, val: String| {
        v.push(k.to_string());
        v.push(val);
    };
    if let Some(p) = &a.preset {
        push("--preset", p.clone());
    }
    if let Some(c) = &a.config {
        push("--config", absolute(c)?.display().to_string());
    }
    if !a.od.is_empty() {
        push(
            "--od",
            a.od.iter().map(|x| x.trim()).collect::<Vec<_>>().join(","),
        );
    }
    for kv in &a.set {
        push("--set", kv.clone());
    }
    if !a.gradient.is_empty() {
        push("--gradient", a.gradient.join(","));
    }
    if !a.activation.is_empty() {
        push("--activation", a.activation.join(","));
    }
    if let Some(e) = a.epochs {
        push("--epochs", e.to_string());
    }
    if let Some(m) = a.max_train {
        push("--max-train", m.to_string());
    }
    if let Some(j) = a.jobs {
        push("--jobs", j.to_string());
    }
    if let Some(d) = &a.data {
        push("--data", absolute(d)?.display().to_string());
    }
    push("--backend", backend_name(a.backend.backend).to_string());
    if let Some(ad) = &a.backend.adapter {
        push("--adapter", ad.clone());
    }
    if let Some(c) = a.checkpoint_every {
        push("--checkpoint-every", c.to_string());
    }
    push("--out", absolute(out)?.display().to_string());
    Ok(v)
}

/// The merge's command for the sweep folder `out`.
fn merge_command(a: &SweepArgs, out: &std::path::Path, container: bool) -> Result<Vec<String>> {
    let mut v = vec![
        program(container)?,
        "sweep".to_string(),
        "--merge".to_string(),
        absolute(out)?.display().to_string(),
        "--backend".to_string(),
        backend_name(a.backend.backend).to_string(),
    ];
    if let Some(d) = &a.data {
        v.push("--data".to_string());
        v.push(absolute(d)?.display().to_string());
    }
    Ok(v)
}

fn shell_words(argv: &[String]) -> String {
    wavetrain::sweep::submit::shell_words(argv)
}

/// Whether the sweep folder holds any run (finished or resumable) to come back to.
fn kept_runs(out: &std::path::Path) -> bool {
    std::fs::read_dir(out.join("runs")).is_ok_and(|mut d| d.next().is_some())
}

/// This command line, quoted for a POSIX shell where needed.
fn this_command() -> String {
    shell_words(&std::env::args().collect::<Vec<_>>())
}
