//! Sweeps beyond one machine without a scheduler (issue 19): `--shard I/N` processes sharing one
//! sweep folder, started at the same moment, killed and rerun; `--merge` (equal to the
//! one-machine sweep, listing what is missing and how to rerun it); `--shard auto` from the
//! scheduler's variables; the job files of `--slurm` and `--kubernetes`; and the refusals.
//! The same flows on a real Slurm are in tests/slurm.rs.
mod common;
use common::{read_text, stderr_of as stderr, sweep_results, wavetrain_bin as wavetrain};

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The grid of these tests: paper-2layer, 2 epochs, od × seed = 4 points.
fn grid_args(out: &Path) -> Vec<String> {
    [
        "sweep",
        "--preset",
        "paper-2layer",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--od",
        "1,10",
        "--set",
        "seed=0,1",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn run(args: &[String], extra: &[&str]) -> Output {
    let mut v: Vec<&str> = args.iter().map(String::as_str).collect();
    v.extend_from_slice(extra);
    wavetrain(&v)
}

fn spawn(args: &[String], extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(args)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wavetrain")
}

/// The one-machine sweep of the grid, its `sweep.csv` without the timing columns.
fn one_machine(dir: &Path) -> Vec<Vec<String>> {
    let out = dir.join("one");
    let o = run(&grid_args(&out), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    sweep_results(&read_text(&out.join("sweep.csv")))
}

/// The first column of the data rows a sweep printed on stdout (`od` of each run it trained).
fn printed_points(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn shards_started_at_once_train_each_point_once_and_merge_to_the_one_machine_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let want = one_machine(dir.path());
    let out = dir.path().join("sharded");
    let args = grid_args(&out);
    // Three shards start at the same moment on a folder that does not exist yet.
    let kids: Vec<_> = (0..3)
        .map(|i| spawn(&args, &["--shard", &format!("{i}/3")]))
        .collect();
    let outs: Vec<Output> = kids
        .into_iter()
        .map(|k| k.wait_with_output().unwrap())
        .collect();
    let mut trained = Vec::new();
    for (i, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "shard {i}: {}", stderr(o));
        trained.extend(printed_points(o));
    }
    // Point k is shard k mod 3's: shard 0 has points 0 and 3, the others one each; together
    // every point once.
    assert_eq!(printed_points(&outs[0]), ["1,0", "10,1"]);
    assert_eq!(printed_points(&outs[1]), ["1,1"]);
    assert_eq!(printed_points(&outs[2]), ["10,0"]);
    trained.sort();
    assert_eq!(trained, ["1,0", "1,1", "10,0", "10,1"]);
    // The shard that found every point finished merged (some shard always does).
    assert!(
        outs.iter()
            .any(|o| stderr(o).contains("every shard has finished")),
        "no shard merged"
    );
    assert_eq!(sweep_results(&read_text(&out.join("sweep.csv"))), want);
    assert!(out.join("sweep.png").exists());
    assert!(out.join("decision_boundaries.png").exists());
    let rec: serde_json::Value =
        serde_json::from_str(&read_text(&out.join("shards.json"))).unwrap();
    assert_eq!(rec["count"], 3);
    // Each run trained once: its metrics have one row per epoch (and the epoch-0 row).
    for e in std::fs::read_dir(out.join("runs")).unwrap().flatten() {
        let m = read_text(&e.path().join("metrics.csv"));
        assert_eq!(m.lines().count(), 1 + 1 + 2, "{}: {m}", e.path().display());
    }
    // An explicit merge writes the same again and succeeds.
    let o = wavetrain(&[
        "sweep",
        "--merge",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sweep_results(&read_text(&out.join("sweep.csv"))), want);
}

#[test]
fn merge_lists_what_is_missing_with_the_commands_that_rerun_it() {
    let dir = tempfile::tempdir().unwrap();
    let want = one_machine(dir.path());
    let out = dir.path().join("part");
    let args = grid_args(&out);
    let o = run(&args, &["--shard", "1/3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("other shards' runs are not finished"),
        "{}",
        stderr(&o)
    );
    // No shard writes a sweep.csv of its own.
    assert!(!out.join("sweep.csv").exists());
    let o = wavetrain(&[
        "sweep",
        "--merge",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("3 of 4 points"), "{err}");
    assert!(
        err.contains("od=1 seed=0 (shard 0/3): not started"),
        "{err}"
    );
    assert!(
        err.contains("od=10 seed=0 (shard 2/3): not started"),
        "{err}"
    );
    assert!(!err.contains("(shard 1/3)"), "{err}");
    // The finished run is in sweep.csv, and no plot of a partial sweep is drawn.
    let partial = sweep_results(&read_text(&out.join("sweep.csv")));
    assert_eq!(partial, [want[0].clone(), want[2].clone()]);
    assert!(!out.join("sweep.png").exists());
    // The rerun commands it prints, run as printed, finish the sweep.
    let cmds: Vec<String> = err
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(" --shard ") && l.contains(" sweep "))
        .map(str::to_string)
        .collect();
    assert_eq!(cmds.len(), 2, "{err}");
    assert!(
        cmds[0].ends_with("--shard 0/3") && cmds[1].ends_with("--shard 2/3"),
        "{err}"
    );
    for c in &cmds {
        let o = Command::new("sh").args(["-c", c]).output().unwrap();
        assert!(o.status.success(), "{c}: {}", stderr(&o));
    }
    assert_eq!(sweep_results(&read_text(&out.join("sweep.csv"))), want);
    assert!(out.join("sweep.png").exists());
    let o = wavetrain(&[
        "sweep",
        "--merge",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_killed_shard_rerun_resumes_its_run_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let long = |out: &Path| -> Vec<String> {
        let mut a = grid_args(out);
        let i = a.iter().position(|x| x == "2").unwrap();
        a[i] = "100".into();
        a
    };
    let full = dir.path().join("full");
    let o = run(&long(&full), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = sweep_results(&read_text(&full.join("sweep.csv")));

    let out = dir.path().join("killed");
    let args = long(&out);
    let extra = ["--checkpoint-every", "0.05"];
    for i in [0, 2] {
        let mut e = extra.to_vec();
        let s = format!("{i}/3");
        e.extend(["--shard", &s]);
        let o = run(&args, &e);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Shard 1 (one point) is killed with SIGKILL after a mid-run checkpoint: no chance to
    // clean up, its run folder's lock dies with it.
    let mut e = extra.to_vec();
    e.extend(["--shard", "1/3"]);
    let mut child = spawn(&args, &e);
    let ckpt = out.join("runs/od=1_seed=1/checkpoint.safetensors");
    let t0 = Instant::now();
    while !ckpt.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ckpt.exists(), "no checkpoint after 60 s");
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(
        !out.join("runs/od=1_seed=1/summary.json").exists(),
        "the run finished before the kill: make it longer"
    );
    // The merge says where it stopped; the same shard again resumes it.
    let m = wavetrain(&[
        "sweep",
        "--merge",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert_eq!(m.status.code(), Some(130), "{}", stderr(&m));
    assert!(
        stderr(&m).contains("od=1 seed=1 (shard 1/3): stopped after"),
        "{}",
        stderr(&m)
    );
    let o = run(&args, &e);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("od=1 seed=1: resuming from its checkpoint after"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("every shard has finished"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sweep_results(&read_text(&out.join("sweep.csv"))), want);
}

#[test]
fn a_run_folder_held_by_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("held");
    let args = grid_args(&out);
    let o = run(&args, &["--shard", "0/3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Another process (this test) holds the run folder of point 1.
    let run_dir = out.join("runs/od=1_seed=1");
    std::fs::create_dir_all(&run_dir).unwrap();
    let held = wavetrain::rundir::RunDir::open_existing(&run_dir).unwrap();
    let o = run(&args, &["--shard", "1/3"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is in use by process") && err.contains("running twice"),
        "{err}"
    );
    // The held folder is left alone.
    assert!(run_dir.join("run.lock").exists());
    drop(held);
    let o = run(&args, &["--shard", "1/3"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn another_sweep_or_another_shard_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let args = grid_args(&out);
    let o = run(&args, &["--shard", "0/3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = read_text(&out.join("sweep.toml"));
    // Another count.
    for c in ["0/2", "3/4"] {
        let o = run(&args, &["--shard", c]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("started with 3 shards") && err.contains("I/3"),
            "{err}"
        );
    }
    // Another sweep.
    let mut other = args.clone();
    let i = other.iter().position(|x| x == "1,10").unwrap();
    other[i] = "1,3".into();
    let o = run(&other, &["--shard", "1/3"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds a different sweep"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_text(&out.join("sweep.toml")), before);
    // Two different sweeps starting on one new folder at the same moment: one of them owns
    // the folder, the other is refused, and sweep.toml is the winner's.
    for round in 0..3 {
        let out = dir.path().join(format!("race{round}"));
        let a = grid_args(&out);
        let mut b = a.clone();
        let i = b.iter().position(|x| x == "1,10").unwrap();
        b[i] = "1,3".into();
        let (ka, kb) = (
            spawn(&a, &["--shard", "0/2"]),
            spawn(&b, &["--shard", "1/2"]),
        );
        let (oa, ob) = (
            ka.wait_with_output().unwrap(),
            kb.wait_with_output().unwrap(),
        );
        let ok = [oa.status.success(), ob.status.success()];
        assert_eq!(
            ok.iter().filter(|&&x| x).count(),
            1,
            "round {round}: {}\n{}",
            stderr(&oa),
            stderr(&ob)
        );
        let loser = if ok[0] { &ob } else { &oa };
        assert_eq!(loser.status.code(), Some(2), "{}", stderr(loser));
        assert!(
            stderr(loser).contains("different sweep"),
            "{}",
            stderr(loser)
        );
        let ident = read_text(&out.join("sweep.toml"));
        let winner_od = if ok[0] { "od = 1,10" } else { "od = 1,3" };
        assert!(ident.contains(winner_od), "{ident}");
    }
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("auto");
    let args = grid_args(&out);
    let env_run = |vars: &[(&str, &str)], shard: &str| -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wavetrain"));
        c.args(&args).args(["--shard", shard]);
        for v in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_MAX",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_STEP",
            "SLURM_JOB_ID",
            "JOB_COMPLETION_INDEX",
        ] {
            c.env_remove(v);
        }
        c.envs(vars.iter().copied());
        c.output().unwrap()
    };
    // A Slurm array 4-5: task 5 is shard 1 of 2 (points 1 and 3).
    let o = env_run(
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
        "auto",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard 1/2"), "{}", stderr(&o));
    assert_eq!(printed_points(&o), ["1,1", "10,1"]);
    // A Kubernetes pod: JOB_COMPLETION_INDEX with the count given.
    let o = env_run(&[("JOB_COMPLETION_INDEX", "0")], "auto/2");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(printed_points(&o), ["1,0", "10,0"]);
    assert!(
        stderr(&o).contains("every shard has finished"),
        "{}",
        stderr(&o)
    );
    // Refusals, each naming the flag and what to do.
    for (vars, spec, says) in [
        (&[][..], "auto", "neither SLURM_ARRAY_TASK_ID"),
        (&[("SLURM_JOB_ID", "9")][..], "auto", "not an array job"),
        (&[("JOB_COMPLETION_INDEX", "1")][..], "auto", "auto/N"),
        (
            &[("JOB_COMPLETION_INDEX", "2")][..],
            "auto/2",
            "out of range",
        ),
        (&[("SLURM_ARRAY_TASK_ID", "3")][..], "auto/2", "--array=0-1"),
        (
            &[("SLURM_ARRAY_TASK_ID", "1")][..],
            "auto/3",
            "started with 2 shards",
        ),
        (&[][..], "2/2", "out of range"),
        (&[][..], "one/2", "is not I/N"),
    ] {
        let o = env_run(vars, spec);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{spec} {vars:?}: {err}");
        assert!(
            err.contains("--shard") && err.contains(says),
            "{spec} {vars:?}: {err}"
        );
    }
}

#[test]
fn slurm_writes_the_array_the_merge_and_the_submit_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cluster");
    let args = grid_args(&out);
    let o = run(
        &args,
        &[
            "--slurm",
            "--shards",
            "3",
            "--array-limit",
            "2",
            "--cpus-per-task",
            "2",
            "--time",
            "0:30:00",
            "--partition",
            "short",
            "--gpus-per-task",
            "1",
            "--checkpoint-every",
            "30",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let slurm = out.join("slurm");
    assert!(
        err.contains(&format!("sh {}", slurm.join("submit.sh").display())),
        "{err}"
    );
    // Nothing is trained; the folder is claimed as the first shard would.
    assert!(!out.join("runs").read_dir().unwrap().any(|_| true));
    assert!(out.join("sweep.toml").exists());
    let rec: serde_json::Value =
        serde_json::from_str(&read_text(&out.join("shards.json"))).unwrap();
    assert_eq!(rec["count"], 3);
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_wavetrain")).unwrap();
    let shards = read_text(&slurm.join("shards.sbatch"));
    for line in [
        "#SBATCH --array=0-2%2",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=0:30:00",
        "#SBATCH --partition=short",
        "#SBATCH --gpus-per-task=1",
        &format!("#SBATCH --output={}/logs/shard-%a.out", slurm.display()),
        "#SBATCH --open-mode=append",
    ] {
        assert!(
            shards.lines().any(|l| l == line),
            "no '{line}' in\n{shards}"
        );
    }
    let exec = shards.lines().find(|l| l.starts_with("exec ")).unwrap();
    assert!(
        exec.starts_with(&format!("exec {} sweep ", exe.display())),
        "{exec}"
    );
    for part in [
        "--preset paper-2layer",
        "--od 1,10",
        "--set seed=0,1",
        "--epochs 2",
        "--backend cpu",
        "--checkpoint-every 30",
        &format!("--out {}", out.display()),
    ] {
        assert!(exec.contains(part), "no '{part}' in {exec}");
    }
    assert!(exec.ends_with("--shard auto/3"), "{exec}");
    let merge = read_text(&slurm.join("merge.sbatch"));
    assert!(
        merge.contains(&format!("sweep --merge {} --backend cpu", out.display())),
        "{merge}"
    );
    assert!(merge.contains("#SBATCH --time=0:30:00"), "{merge}");
    let submit = read_text(&slurm.join("submit.sh"));
    assert!(submit.contains("sbatch --parsable"), "{submit}");
    assert!(
        submit.contains("--dependency=afterany:\"$array\""),
        "{submit}"
    );
    // The scripts are valid shell.
    for f in ["shards.sbatch", "merge.sbatch", "submit.sh"] {
        let o = Command::new("sh")
            .args(["-n"])
            .arg(slurm.join(f))
            .output()
            .unwrap();
        assert!(o.status.success(), "{f}: {}", stderr(&o));
    }
    // The shards the scripts would start are refused with another grid in the same folder.
    let mut other = args.clone();
    let i = other.iter().position(|x| x == "1,10").unwrap();
    other[i] = "3,10".into();
    let o = run(&other, &["--slurm"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A relative folder is made absolute.
    let o = Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .current_dir(dir.path())
        .args(grid_args(Path::new("rel")))
        .args(["--slurm", "--shards", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let rel = read_text(&dir.path().join("rel/slurm/shards.sbatch"));
    let abs = std::path::absolute(dir.path().join("rel")).unwrap();
    assert!(rel.contains(&format!("--out {} ", abs.display())), "{rel}");
}

#[test]
fn bad_job_options_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad");
    let args = grid_args(&out);
    for (extra, key, says) in [
        (
            &["--slurm", "--shards", "0"][..],
            "--shards",
            "between 1 and the 4 points",
        ),
        (
            &["--slurm", "--shards", "5"][..],
            "--shards",
            "between 1 and the 4 points",
        ),
        (
            &["--slurm", "--time", "1 hour"][..],
            "--time",
            "not a Slurm value",
        ),
        (
            &["--slurm", "--partition", "a;b"][..],
            "--partition",
            "not a Slurm value",
        ),
        (
            &["--slurm", "--array-limit", "0"][..],
            "--array-limit",
            "at least 1",
        ),
        (
            &["--shards", "2"][..],
            "--shards",
            "--slurm or --kubernetes",
        ),
        (&["--time", "10"][..], "--time", "--slurm or --kubernetes"),
        (
            &["--kubernetes"][..],
            "--volume-claim",
            "persistent volume claim",
        ),
        (&["--checkpoint-every=-1"][..], "--checkpoint-every", "≥ 0"),
    ] {
        let o = run(&args, extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(key) && err.contains(says), "{extra:?}: {err}");
        assert!(
            !out.join("sweep.toml").exists(),
            "{extra:?} wrote the folder"
        );
    }
    // A folder Slurm's #SBATCH lines cannot take.
    let spaced = dir.path().join("with space");
    let o = run(&grid_args(&spaced), &["--slurm"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("without spaces"), "{}", stderr(&o));
    assert!(!spaced.exists());
    // --merge reads the sweep from the folder: no sweep flags, and a folder with a sweep.
    let o = wavetrain(&["sweep", "--merge", out.to_str().unwrap(), "--od", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--od has no place here"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir_all(&out).unwrap();
    let o = wavetrain(&["sweep", "--merge", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no sweep"), "{}", stderr(&o));
    let o = wavetrain(&["sweep", "--merge", out.to_str().unwrap(), "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn kubernetes_writes_an_indexed_job_and_a_merge_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    let o = run(
        &grid_args(&out),
        &[
            "--kubernetes",
            "--shards",
            "2",
            "--array-limit",
            "1",
            "--volume-claim",
            "sweeps",
            "--image",
            "registry.example/wavetrain:0.1",
            "--cpus-per-task",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("kubectl apply -f"), "{}", stderr(&o));
    let job: serde_json::Value =
        serde_json::from_str(&read_text(&out.join("kubernetes/shards.json"))).unwrap();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(
        name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name}"
    );
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], 2);
    assert_eq!(spec["parallelism"], 1);
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.example/wavetrain:0.1");
    let cmd: Vec<&str> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(cmd[..2], ["wavetrain", "sweep"]);
    assert_eq!(cmd[cmd.len() - 2..], ["--shard", "auto/2"]);
    let abs = out.display().to_string();
    let at = cmd.iter().position(|&a| a == "--out").unwrap();
    assert_eq!(cmd[at + 1], abs);
    assert_eq!(c["volumeMounts"][0]["mountPath"], abs.as_str());
    assert_eq!(c["volumeMounts"][0]["name"], pod["volumes"][0]["name"]);
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "sweeps"
    );
    assert_eq!(c["resources"]["requests"]["cpu"], "4");
    assert!(["Never", "OnFailure"].contains(&pod["restartPolicy"].as_str().unwrap()));
    let merge: serde_json::Value =
        serde_json::from_str(&read_text(&out.join("kubernetes/merge.json"))).unwrap();
    let mc: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(mc[..4], ["wavetrain", "sweep", "--merge", abs.as_str()]);
    assert!(merge["spec"].get("completionMode").is_none());
}
