//! `wavetrain sweep --slurm` on a real Slurm (issue 19): a sweep submitted as an array of 3
//! tasks and its merge job; and a task cancelled mid-run (`scancel`), resubmitted alone, that
//! resumes its run from its checkpoint. Both merged `sweep.csv`s must equal the one-machine
//! sweep of the same grid (same accuracies and losses; the timing columns and the folder
//! names aside).
//!
//! Custom harness (libtest-mimic): when no Slurm cluster answers (`sinfo` shows no usable node)
//! the trials are reported *ignored*, with the reason, never passed, unless
//! `WAVETRAIN_REQUIRE_SLURM=1` (CI sets it), in which case each fails saying why. A local
//! one-node cluster: `scripts/slurm-local.sh start` (as root); when `SLURM_CONF` is not set
//! and `$WAVETRAIN_SLURM_DIR/slurm.conf` (default `/tmp/wavetrain-slurm/slurm.conf`) exists,
//! that cluster is used. The trials run one at a time (they share the cluster's CPUs).
mod common;
use common::{read_text, stderr_of as stderr, sweep_results};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

/// How long a trial waits for its jobs, at most.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

/// The cluster's configuration, when the local one is used.
fn slurm_conf() -> Option<PathBuf> {
    if std::env::var_os("SLURM_CONF").is_some() {
        return None;
    }
    let dir = std::env::var_os("WAVETRAIN_SLURM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/wavetrain-slurm"));
    Some(dir.join("slurm.conf")).filter(|p| p.exists())
}

/// A Slurm command (`sbatch`, `squeue`, …) pointed at the cluster.
fn slurm(prog: &str) -> Command {
    let mut c = Command::new(prog);
    if let Some(conf) = slurm_conf() {
        c.env("SLURM_CONF", conf);
    }
    c
}

/// Runs `c`, killing it after `limit`.
fn output_within(mut c: Command, limit: Duration) -> Result<Output, String> {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Whether a Slurm cluster answers with a node that can run jobs; what it said, or why not.
fn probe() -> Result<String, String> {
    let mut c = slurm("sinfo");
    c.args(["-h", "-o", "%N %T %c"]);
    let o =
        output_within(c, Duration::from_secs(20)).map_err(|e| format!("sinfo did not run: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if !o.status.success() {
        return Err(format!("sinfo failed: {}", stderr(&o).trim()));
    }
    let usable = text.lines().any(|l| {
        ["idle", "mixed", "allocated", "completing"]
            .iter()
            .any(|s| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|t| t.starts_with(s))
            })
    });
    if usable {
        Ok(text)
    } else {
        Err(format!("sinfo shows no usable node: '{text}'"))
    }
}

fn wavetrain() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wavetrain"));
    if let Some(conf) = slurm_conf() {
        c.env("SLURM_CONF", conf);
    }
    c
}

/// `sweep --preset paper-2layer --epochs E --backend cpu --od 1,10 --set seed=0,1 --out OUT`:
/// 4 points.
fn grid_args(out: &Path, epochs: usize) -> Vec<String> {
    [
        "sweep",
        "--preset",
        "paper-2layer",
        "--epochs",
        &epochs.to_string(),
        "--backend",
        "cpu",
        "--od",
        "1,10",
        "--set",
        "seed=0,1",
        "--out",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

/// The one-machine sweep of the grid: its results and its wall time.
fn one_machine(out: &Path, epochs: usize) -> Result<(Vec<Vec<String>>, Duration), Failed> {
    let t0 = Instant::now();
    let o = wavetrain().args(grid_args(out, epochs)).output()?;
    let took = t0.elapsed();
    check(o.status.success(), || {
        format!("one-machine sweep: {}", stderr(&o))
    })?;
    Ok((sweep_results(&read_text(&out.join("sweep.csv"))), took))
}

/// Every log of the sweep's jobs, for failure messages.
fn logs(out: &Path) -> String {
    let dir = out.join("slurm/logs");
    let mut s = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        s.push_str(&format!(
            "--- {}\n{}\n",
            f.display(),
            std::fs::read_to_string(&f).unwrap_or_default()
        ));
    }
    s
}

/// The states of a job (one an array task), from `scontrol`; empty when Slurm forgot it.
fn job_states(id: &str) -> Result<Vec<(String, String)>, Failed> {
    let o = slurm("scontrol").args(["-o", "show", "job", id]).output()?;
    let text = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        let err = stderr(&o);
        if err.contains("Invalid job id") {
            return Ok(Vec::new());
        }
        return Err(format!("scontrol show job {id}: {err}").into());
    }
    let field = |l: &str, k: &str| {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("")
            .to_string()
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let task = field(l, "ArrayTaskId=");
            (task, field(l, "JobState="))
        })
        .collect())
}

const ENDED: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
];

/// Waits until every task of the job `id` has ended; their states. Fails after
/// [`JOB_TIMEOUT`] with the queue and the sweep's logs.
fn wait_job(id: &str, out: &Path) -> Result<Vec<(String, String)>, Failed> {
    let t0 = Instant::now();
    loop {
        let states = job_states(id)?;
        if states
            .iter()
            .all(|(_, s)| ENDED.iter().any(|e| s.starts_with(e)))
        {
            return Ok(states);
        }
        if t0.elapsed() > JOB_TIMEOUT {
            let q = slurm("squeue").output()?;
            return Err(format!(
                "job {id} has not ended after {} s: {states:?}\nsqueue:\n{}\n{}",
                JOB_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&q.stdout),
                logs(out)
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Writes the Slurm jobs of `args` with `extra` and submits them (`submit.sh`); the array's
/// and the merge's job ids.
fn submit(args: &[String], extra: &[&str], out: &Path) -> Result<(String, String), Failed> {
    let o = wavetrain()
        .args(args)
        .args(["--slurm"])
        .args(extra)
        .output()?;
    check(o.status.success(), || format!("--slurm: {}", stderr(&o)))?;
    let script = out.join("slurm/submit.sh");
    let o = slurm("sh").arg(&script).output()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    check(o.status.success(), || {
        format!("{}: {text}{}", script.display(), stderr(&o))
    })?;
    let id = |what: &str| -> Result<String, Failed> {
        text.lines()
            .find_map(|l| l.strip_prefix(what))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| format!("no '{what}' id in the output of submit.sh: {text}").into())
    };
    Ok((id("array job:")?, id("merge job:")?))
}

fn all_in(states: &[(String, String)], want: &str) -> bool {
    !states.is_empty() && states.iter().all(|(_, s)| s == want)
}

/// The CI-size sweep (4 points) as an array of 3 and its merge job: the merged results equal
/// the one-machine sweep's.
fn array_of_three_merges_to_the_one_machine_sweep() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let (want, local) = one_machine(&dir.path().join("one"), 2)?;
    let out = dir.path().join("array");
    let t0 = Instant::now();
    let (array, merge) = submit(&grid_args(&out, 2), &["--shards", "3"], &out)?;
    let merge_states = wait_job(&merge, &out)?;
    let on_slurm = t0.elapsed();
    let tasks = wait_job(&array, &out)?;
    check(all_in(&tasks, "COMPLETED") && tasks.len() == 3, || {
        format!("array tasks: {tasks:?}\n{}", logs(&out))
    })?;
    check(all_in(&merge_states, "COMPLETED"), || {
        format!("merge job: {merge_states:?}\n{}", logs(&out))
    })?;
    let got = sweep_results(&read_text(&out.join("sweep.csv")));
    check(got == want, || {
        format!(
            "merged sweep.csv differs from the one-machine sweep:\n{got:?}\n{want:?}\n{}",
            logs(&out)
        )
    })?;
    check(
        out.join("sweep.png").exists() && out.join("decision_boundaries.png").exists(),
        || format!("no sweep.png or decision_boundaries.png\n{}", logs(&out)),
    )?;
    let merge_log = read_text(&out.join("slurm/logs/merge.out"));
    check(merge_log.contains("merged the 4 runs"), || {
        merge_log.clone()
    })?;
    for i in 0..3 {
        let log = read_text(&out.join(format!("slurm/logs/shard-{i}.out")));
        check(log.contains(&format!("shard {i}/3")), || log.clone())?;
    }
    eprintln!(
        "4-point paper-2layer sweep (2 epochs): one machine {:.1} s; Slurm array of 3 from submission to merged {:.1} s",
        local.as_secs_f64(),
        on_slurm.as_secs_f64()
    );
    Ok(())
}

/// Task 1 of 3 cancelled mid-run: the merge job lists its point and fails; the task
/// resubmitted alone resumes its run from its checkpoint; the merge then equals the
/// one-machine sweep.
fn a_cancelled_task_resubmitted_resumes_and_merges_to_the_one_machine_sweep() -> Result<(), Failed>
{
    // Long enough that task 1 is still training well after its first checkpoint (written at
    // the end of its first epoch): a paper-2layer epoch takes a few milliseconds, so 1,500
    // epochs last seconds, while the cancel follows the checkpoint within tens of milliseconds.
    let epochs = 1500;
    let dir = tempfile::tempdir()?;
    let (want, _) = one_machine(&dir.path().join("one"), epochs)?;
    let out = dir.path().join("cancelled");
    let args = grid_args(&out, epochs);
    let (array, merge) = submit(
        &args,
        &["--shards", "3", "--checkpoint-every", "0.05"],
        &out,
    )?;
    // Task 1 trains point 1 (od=1 seed=1) alone; cancel it once that run has a checkpoint.
    let run = out.join("runs/od=1_seed=1");
    let t0 = Instant::now();
    while !run.join("checkpoint.safetensors").exists() {
        check(t0.elapsed() < JOB_TIMEOUT, || {
            format!("task 1 wrote no checkpoint\n{}", logs(&out))
        })?;
        std::thread::sleep(Duration::from_millis(10));
    }
    // The checkpoint is written to a temporary file and renamed: once it exists it is whole.
    let task = format!("{array}_1");
    let o = slurm("scancel").arg(&task).output()?;
    check(o.status.success(), || {
        format!("scancel {task}: {}", stderr(&o))
    })?;
    let merge_states = wait_job(&merge, &out)?;
    let tasks = wait_job(&array, &out)?;
    check(!run.join("summary.json").exists(), || {
        format!(
            "the run finished before scancel: make it longer\n{}",
            logs(&out)
        )
    })?;
    let cancelled: Vec<_> = tasks.iter().filter(|(t, _)| t == "1").collect();
    check(
        cancelled.len() == 1 && cancelled[0].1 == "CANCELLED",
        || format!("task 1: {tasks:?}\n{}", logs(&out)),
    )?;
    // The merge ran after every task had ended, listed the point and failed.
    let merge_log = read_text(&out.join("slurm/logs/merge.out"));
    check(
        all_in(&merge_states, "FAILED")
            && merge_log.contains("od=1 seed=1 (shard 1/3): stopped after")
            && merge_log.contains("sbatch --array=1 "),
        || format!("merge job {merge_states:?}:\n{merge_log}"),
    )?;
    // Resubmitted alone (--array=1), the task is still shard 1 of 3 and resumes.
    let o = slurm("sbatch")
        .args(["--parsable", "--array=1"])
        .arg(out.join("slurm/shards.sbatch"))
        .output()?;
    check(o.status.success(), || format!("sbatch: {}", stderr(&o)))?;
    let again = String::from_utf8_lossy(&o.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let states = wait_job(&again, &out)?;
    check(all_in(&states, "COMPLETED"), || {
        format!("resubmitted task: {states:?}\n{}", logs(&out))
    })?;
    let log = read_text(&out.join("slurm/logs/shard-1.out"));
    check(
        log.contains("od=1 seed=1: resuming from its checkpoint")
            && log.contains("every shard has finished"),
        || log.clone(),
    )?;
    let o = wavetrain()
        .args(["sweep", "--merge"])
        .arg(&out)
        .args(["--backend", "cpu"])
        .output()?;
    check(o.status.success(), || format!("--merge: {}", stderr(&o)))?;
    let got = sweep_results(&read_text(&out.join("sweep.csv")));
    check(got == want, || {
        format!(
            "merged sweep.csv differs from the one-machine sweep:\n{got:?}\n{want:?}\n{}",
            logs(&out)
        )
    })?;
    Ok(())
}

type TestFn = fn() -> Result<(), Failed>;

fn main() {
    let mut args = Arguments::from_args();
    // One at a time: the trials share the cluster's CPUs.
    args.test_threads = Some(1);
    let require = std::env::var("WAVETRAIN_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let cluster = probe();
    match &cluster {
        Ok(nodes) => eprintln!("Slurm tests on: {nodes}"),
        Err(why) if !require => eprintln!(
            "Slurm tests ignored: {why} (start a local cluster with `scripts/slurm-local.sh start` as root; WAVETRAIN_REQUIRE_SLURM=1 makes this a failure)"
        ),
        Err(_) => {}
    }
    let tests: [(&str, TestFn); 2] = [
        (
            "array_of_three_merges_to_the_one_machine_sweep",
            array_of_three_merges_to_the_one_machine_sweep,
        ),
        (
            "a_cancelled_task_resubmitted_resumes_and_merges_to_the_one_machine_sweep",
            a_cancelled_task_resubmitted_resumes_and_merges_to_the_one_machine_sweep,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let cluster = cluster.clone();
            let ignore = cluster.is_err() && !require;
            Trial::test(name, move || match &cluster {
                Ok(_) => f(),
                Err(why) => Err(format!(
                    "no Slurm cluster ({why}) and WAVETRAIN_REQUIRE_SLURM=1: start one with `scripts/slurm-local.sh start` as root"
                )
                .into()),
            })
            .with_ignored_flag(ignore)
        })
        .chain(harness_trials())
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Trials of the harness itself, on a cluster that cannot answer (`SLURM_CONF` naming no
/// file): the Slurm trials are ignored, or fail when Slurm is required.
fn harness_trials() -> Vec<Trial> {
    let run_self = |require: bool| -> Result<(bool, String), Failed> {
        let mut c = Command::new(std::env::current_exe()?);
        c.args(["array_of_three_merges_to_the_one_machine_sweep", "--exact"])
            .env("SLURM_CONF", "/nonexistent/wavetrain-harness/slurm.conf");
        if require {
            c.env("WAVETRAIN_REQUIRE_SLURM", "1");
        } else {
            c.env_remove("WAVETRAIN_REQUIRE_SLURM");
        }
        let o = c.output()?;
        Ok((
            o.status.success(),
            format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o)),
        ))
    };
    vec![
        Trial::test("harness::no_cluster_is_ignored", move || {
            let (ok, out) = run_self(false)?;
            check(
                ok && out.contains("... ignored") && out.contains("1 ignored"),
                || out.clone(),
            )?;
            check(out.contains("Slurm tests ignored: "), || out.clone())
        }),
        Trial::test("harness::no_cluster_fails_when_required", move || {
            let (ok, out) = run_self(true)?;
            check(
                !ok && out.contains("... FAILED") && out.contains("WAVETRAIN_REQUIRE_SLURM=1"),
                || out.clone(),
            )
        }),
    ]
}
