//! Job files for running a sweep's shards on a cluster's scheduler: a Slurm array job and its
//! merge job (`slurm/` in the sweep folder), or a Kubernetes indexed Job and its merge Job
//! (`kubernetes/`). Nothing is submitted here: the files are written and the commands that
//! submit them are returned.
//!
//! - **Slurm.** `slurm/shards.sbatch` is an array `0-(N−1)` (`%K` at most at once) whose task
//!   `i` runs the sweep's command with `--shard auto/N`, so that a task resubmitted alone
//!   (`sbatch --array=i slurm/shards.sbatch`) is still shard `i` of `N`; its log is
//!   `slurm/logs/shard-i.out` (appended to, so a resubmission keeps the earlier log).
//!   `slurm/merge.sbatch` runs `sweep --merge`. `slurm/submit.sh` submits the array
//!   (`sbatch --parsable`) and then the merge with `--dependency=afterany:ARRAY` (it runs
//!   however the tasks end, and lists what is missing), and prints both job ids.
//! - **Kubernetes.** `kubernetes/shards.json` is a Job with `completionMode: Indexed`,
//!   `completions: N`, `parallelism: K`, its pods running the command with `--shard auto/N`
//!   (`JOB_COMPLETION_INDEX`) and mounting the persistent volume claim that holds the sweep
//!   folder at the folder's own path; `kubernetes/merge.json` is the merge Job, applied once the
//!   shards' Job is complete (Kubernetes has no dependencies between Jobs).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The sweep folder's subfolder of Slurm scripts and logs.
pub const SLURM_DIR: &str = "slurm";
/// The sweep folder's subfolder of Kubernetes manifests.
pub const KUBERNETES_DIR: &str = "kubernetes";

/// What a job runs: the argument vectors of a shard (without `--shard`) and of the merge.
#[derive(Clone, Debug)]
pub struct JobCommands {
    /// A shard's command, program first, without `--shard`.
    pub shard: Vec<String>,
    /// The merge's command, program first.
    pub merge: Vec<String>,
}

/// Resources of the Slurm jobs.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// Array tasks (shards).
    pub shards: usize,
    /// At most this many tasks at once (`--array=…%K`).
    pub array_limit: Option<usize>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--time`, Slurm's format (`MM`, `HH:MM:SS`, `D-HH`, …).
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<usize>,
}

/// Settings of the Kubernetes Jobs.
#[derive(Clone, Debug, Default)]
pub struct KubernetesOptions {
    /// Completions (shards).
    pub shards: usize,
    /// Pods at once (`parallelism`; default: every shard).
    pub parallelism: Option<usize>,
    /// The container image, with `wavetrain` on its `PATH`.
    pub image: String,
    /// The ReadWriteMany persistent volume claim holding the sweep folder.
    pub volume_claim: String,
    /// CPUs requested per pod.
    pub cpus: Option<usize>,
    /// `nvidia.com/gpu` per pod.
    pub gpus: Option<usize>,
}

/// One word for a POSIX shell: as it is when it is plain, else in single quotes.
pub fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Words for a POSIX shell, quoted where needed, separated by spaces.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses a sweep folder that Slurm's `#SBATCH` lines and file-name patterns cannot take
/// (relative, or with white space, quotes, backslashes or `%`).
pub fn slurm_path_ok(out: &Path) -> Result<()> {
    slurm_path(out).map(|_| ())
}

/// The sweep folder as Slurm's `#SBATCH` lines and file-name patterns can take it: absolute,
/// with no white space, quotes, backslashes or `%`.
fn slurm_path(out: &Path) -> Result<String> {
    let s = out.display().to_string();
    if !out.is_absolute() || s.chars().any(|c| c.is_whitespace() || "'\"\\%".contains(c)) {
        return Err(Error::config(
            "--out",
            format!("{s}: with --slurm the sweep folder must be an absolute path without spaces, quotes, backslashes or %, since #SBATCH lines and Slurm's log-name patterns cannot quote them; choose another folder"),
        ));
    }
    Ok(s)
}

/// A value for an `#SBATCH` line: letters, digits and `-_:.,+` only.
fn sbatch_value(flag: &str, v: &str) -> Result<String> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.,+".contains(c))
    {
        return Err(Error::config(
            flag,
            format!("'{v}' is not a Slurm value (letters, digits and -_:.,+ only)"),
        ));
    }
    Ok(v.to_string())
}

/// A job name from a network name: letters, digits, `-` and `_`.
fn job_name(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("wavetrain-{n}")
}

fn check_shards(flag: &str, shards: usize, limit: Option<usize>) -> Result<()> {
    if shards == 0 {
        return Err(Error::config("--shards", "must be at least 1"));
    }
    if limit == Some(0) {
        return Err(Error::config(flag, "must be at least 1"));
    }
    Ok(())
}

/// Refuses Slurm options [`slurm`] could not write (before anything is written): the folder
/// ([`slurm_path_ok`]), the counts, and `--time` and `--partition` values an `#SBATCH` line
/// cannot hold.
pub fn check_slurm(out: &Path, o: &SlurmOptions) -> Result<()> {
    check_shards("--array-limit", o.shards, o.array_limit)?;
    slurm_path(out)?;
    if let Some(t) = &o.time {
        sbatch_value("--time", t)?;
    }
    if let Some(p) = &o.partition {
        sbatch_value("--partition", p)?;
    }
    if o.cpus_per_task == Some(0) {
        return Err(Error::config("--cpus-per-task", "must be at least 1"));
    }
    Ok(())
}

/// Writes `slurm/shards.sbatch`, `slurm/merge.sbatch` and `slurm/submit.sh` into the sweep
/// folder `out` (absolute) for the network `name`; returns the path of `submit.sh`.
pub fn slurm(out: &Path, name: &str, cmd: &JobCommands, o: &SlurmOptions) -> Result<PathBuf> {
    check_slurm(out, o)?;
    let out_s = slurm_path(out)?;
    let dir = out.join(SLURM_DIR);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let mut common = Vec::new();
    if let Some(t) = &o.time {
        common.push(format!("#SBATCH --time={t}"));
    }
    if let Some(p) = &o.partition {
        common.push(format!("#SBATCH --partition={p}"));
    }
    let cpus = o.cpus_per_task.unwrap_or(1);
    let job = job_name(name);
    let limit = o.array_limit.map(|k| format!("%{k}")).unwrap_or_default();
    let mut shard_cmd = cmd.shard.clone();
    shard_cmd.extend(["--shard".to_string(), format!("auto/{}", o.shards)]);
    let mut shards = vec![
        "#!/bin/sh".to_string(),
        format!("# The shards of the sweep in {out_s}: array task i trains shard i of {} (written by wavetrain sweep --slurm).", o.shards),
        format!("#SBATCH --job-name={job}"),
        format!("#SBATCH --array=0-{}{limit}", o.shards - 1),
        format!("#SBATCH --cpus-per-task={cpus}"),
        format!("#SBATCH --output={out_s}/{SLURM_DIR}/logs/shard-%a.out"),
        "#SBATCH --open-mode=append".to_string(),
    ];
    if let Some(g) = o.gpus_per_task {
        shards.push(format!("#SBATCH --gpus-per-task={g}"));
    }
    shards.extend(common.iter().cloned());
    shards.extend([
        "# One training thread pool of the task's CPUs.".to_string(),
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"".to_string(),
        "echo \"shard $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname) at $(date -u +%FT%TZ)\"".to_string(),
        format!("exec {}", shell_words(&shard_cmd)),
        String::new(),
    ]);
    let merge = {
        let mut m = vec![
            "#!/bin/sh".to_string(),
            format!("# Merges the sweep in {out_s} once its shards have ended (written by wavetrain sweep --slurm)."),
            format!("#SBATCH --job-name={job}-merge"),
            "#SBATCH --cpus-per-task=1".to_string(),
            format!("#SBATCH --output={out_s}/{SLURM_DIR}/logs/merge.out"),
            "#SBATCH --open-mode=append".to_string(),
        ];
        m.extend(common.iter().cloned());
        m.extend([
            "export RAYON_NUM_THREADS=1".to_string(),
            format!("exec {}", shell_words(&cmd.merge)),
            String::new(),
        ]);
        m
    };
    let shards_path = dir.join("shards.sbatch");
    let merge_path = dir.join("merge.sbatch");
    let submit_path = dir.join("submit.sh");
    let submit = [
        "#!/bin/sh".to_string(),
        "# Submits the sweep's shards as one array job, then its merge to run after every task has ended.".to_string(),
        "set -eu".to_string(),
        format!("array=$(sbatch --parsable {})", shell_quote(&shards_path.display().to_string())),
        "array=${array%%;*}".to_string(),
        format!("merge=$(sbatch --parsable --dependency=afterany:\"$array\" {})", shell_quote(&merge_path.display().to_string())),
        "merge=${merge%%;*}".to_string(),
        "echo \"array job: $array\"".to_string(),
        "echo \"merge job: $merge\"".to_string(),
        format!("echo \"watch: squeue -j $array,$merge; logs in {out_s}/{SLURM_DIR}/logs\""),
        String::new(),
    ];
    crate::io::atomic_write(&shards_path, shards.join("\n").as_bytes())?;
    crate::io::atomic_write(&merge_path, merge.join("\n").as_bytes())?;
    crate::io::atomic_write(&submit_path, submit.join("\n").as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&shards_path, &merge_path, &submit_path] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(p, e))?;
        }
    }
    Ok(submit_path)
}

/// A Kubernetes object name from a network name: lower-case letters, digits and `-`, at most
/// 50 characters (room for the `-merge` suffix and the pods' index).
fn object_name(name: &str) -> String {
    let mut n: String = format!("wavetrain-{name}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n.truncate(50);
    n.trim_end_matches('-').to_string()
}

/// The Kubernetes manifests of the sweep folder `out` (absolute): the shards' indexed Job and
/// the merge Job, as JSON values.
pub fn kubernetes_manifests(
    out: &Path,
    name: &str,
    cmd: &JobCommands,
    o: &KubernetesOptions,
) -> Result<(serde_json::Value, serde_json::Value)> {
    use serde_json::json;
    check_shards("--array-limit", o.shards, o.parallelism)?;
    if !out.is_absolute() {
        return Err(Error::config(
            "--out",
            "with --kubernetes the sweep folder must be an absolute path (the volume is mounted there)",
        ));
    }
    if o.volume_claim.is_empty() {
        return Err(Error::config(
            "--volume-claim",
            "--kubernetes needs the persistent volume claim (ReadWriteMany) that holds the sweep folder: --volume-claim NAME",
        ));
    }
    if o.image.is_empty() {
        return Err(Error::config(
            "--image",
            "--kubernetes needs the container image with wavetrain on its PATH: --image IMAGE",
        ));
    }
    let job = object_name(name);
    let mount = out.display().to_string();
    let volume =
        json!([{ "name": "sweep", "persistentVolumeClaim": { "claimName": o.volume_claim } }]);
    let mounts = json!([{ "name": "sweep", "mountPath": mount }]);
    let mut limits = serde_json::Map::new();
    let mut requests = serde_json::Map::new();
    if let Some(c) = o.cpus {
        requests.insert("cpu".into(), json!(c.to_string()));
    }
    if let Some(g) = o.gpus {
        limits.insert("nvidia.com/gpu".into(), json!(g.to_string()));
    }
    let threads = o.cpus.unwrap_or(1).to_string();
    let mut shard_cmd = cmd.shard.clone();
    shard_cmd.extend(["--shard".to_string(), format!("auto/{}", o.shards)]);
    let shards = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": job, "labels": { "app": "wavetrain-sweep" } },
        "spec": {
            "completionMode": "Indexed",
            "completions": o.shards,
            "parallelism": o.parallelism.unwrap_or(o.shards),
            "backoffLimit": 3 * o.shards,
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{
                        "name": "shard",
                        "image": o.image,
                        "command": shard_cmd,
                        "env": [{ "name": "RAYON_NUM_THREADS", "value": threads }],
                        "resources": { "requests": requests, "limits": limits },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volume,
                }
            }
        }
    });
    let merge = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": format!("{job}-merge"), "labels": { "app": "wavetrain-sweep" } },
        "spec": {
            "completions": 1,
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "merge",
                        "image": o.image,
                        "command": cmd.merge,
                        "env": [{ "name": "RAYON_NUM_THREADS", "value": "1" }],
                        "volumeMounts": mounts,
                    }],
                    "volumes": volume,
                }
            }
        }
    });
    Ok((shards, merge))
}

/// Writes `kubernetes/shards.json` and `kubernetes/merge.json` ([`kubernetes_manifests`]) into
/// the sweep folder `out`; returns their paths and the Job's name.
pub fn kubernetes(
    out: &Path,
    name: &str,
    cmd: &JobCommands,
    o: &KubernetesOptions,
) -> Result<(PathBuf, PathBuf, String)> {
    let (shards, merge) = kubernetes_manifests(out, name, cmd, o)?;
    let dir = out.join(KUBERNETES_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let (sp, mp) = (dir.join("shards.json"), dir.join("merge.json"));
    let text = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    crate::io::atomic_write(&sp, text(&shards).as_bytes())?;
    crate::io::atomic_write(&mp, text(&merge).as_bytes())?;
    let job = shards["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((sp, mp, job))
}
