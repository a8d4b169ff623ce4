//! Records a researcher can trust, for `wavetrain sweep` (issue 16, item 6): every row of
//! `sweep.csv` is labelled with what its run was trained with (checked against the `config.toml`
//! the trainer wrote into the run folder); axes that set one config key twice, and values given
//! twice, are refused before any work; `--out` must be new, empty or the same sweep; a failed or
//! interrupted sweep leaves only finished runs and resumable checkpoints, and says how to resume.
mod common;
use common::{stderr_of as stderr, wavetrain_bin as wavetrain};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The arguments `sweep --preset paper-2layer --epochs 2 --backend cpu --out OUT` plus `extra`.
fn sweep_2layer_args<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sweep",
        "--preset",
        "paper-2layer",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

/// `sweep --preset paper-2layer --epochs 2 --backend cpu --out OUT` plus `extra`.
fn sweep_2layer(out: &Path, extra: &[&str]) -> Output {
    wavetrain(&sweep_2layer_args(out, extra))
}

/// What a folder holds, recursively, as sorted relative paths (folders end in `/`).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Every run folder of a sweep is a finished run (`summary.json`) or a resumable one
/// (`checkpoint.safetensors`): no empty or partial folders.
fn assert_only_kept_runs(out: &Path) {
    let runs = out.join("runs");
    let Ok(rd) = std::fs::read_dir(&runs) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        assert!(
            p.join("summary.json").exists() || p.join("checkpoint.safetensors").exists(),
            "{} is neither a finished nor a resumable run: {:?}",
            p.display(),
            tree(&p)
        );
    }
}

/// A TOML value as a number when it is one (so that `1` and `1.0` compare equal).
fn same(a: &toml::Value, b: &toml::Value) -> bool {
    let num = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A label value as `--set` reads it: TOML, or a bare word as a string.
fn label_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()))
}

/// The values a run's config holds for a sweep key: one per element for the every-absorber and
/// every-dense-layer shorthands, one otherwise (`None` where the config has no such value).
/// Written from the `--set` documentation, independently of the code that applies the keys.
fn config_values(cfg: &toml::Value, key: &str) -> Vec<Option<toml::Value>> {
    let elements = |kind: &str, field: &str| -> Vec<Option<toml::Value>> {
        cfg["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"].as_str() == Some(kind))
            .map(|e| e.get(field).cloned())
            .collect()
    };
    match key {
        "od" | "model" => elements("absorber", key),
        "gain" | "fidelity" | "na" | "fill_factor" | "fanout_focal_length" | "samples" => {
            elements("dense", key)
        }
        "gradient" | "lr" | "seed" | "epochs" | "batch" => {
            vec![cfg["train"].get(key).cloned()]
        }
        "intensity" | "task" => vec![cfg["input"].get(key).cloned()],
        _ => {
            let mut node = Some(cfg);
            for part in key.split('.') {
                node = match part.split_once('[') {
                    Some((name, idx)) => {
                        let i: usize = idx.trim_end_matches(']').parse().unwrap();
                        node.and_then(|n| n.get(name)).and_then(|n| n.get(i))
                    }
                    None => node.and_then(|n| n.get(part)),
                };
            }
            vec![node.cloned()]
        }
    }
}

/// Reads `sweep.csv` and checks every row's labels against the `config.toml` in its run folder;
/// returns the number of rows. The message of a mismatch names the row, the key and both values.
fn check_labels(out: &Path) -> usize {
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let n_axes = header.iter().position(|h| *h == "test_accuracy").unwrap();
    let dir_col = header.iter().position(|h| *h == "run_dir").unwrap();
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let run_dir = PathBuf::from(cells[dir_col]);
        let text = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
        let cfg: toml::Value = toml::from_str(&text).unwrap();
        for (key, label) in header[..n_axes].iter().zip(&cells[..n_axes]) {
            if *key == "activation" {
                let types: Vec<&str> = cfg["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["type"].as_str().unwrap())
                    .collect();
                let ok = match *label {
                    "absorber" => types.contains(&"absorber"),
                    "relu" => types.contains(&"relu") && !types.contains(&"absorber"),
                    "linear" => !types.contains(&"relu") && !types.contains(&"absorber"),
                    other => panic!("unknown activation label {other}"),
                };
                if !ok {
                    wrong.push(format!(
                        "row {line}: labelled activation={label}, trained with elements {types:?}"
                    ));
                }
                continue;
            }
            let want = label_value(label);
            let got = config_values(&cfg, key);
            if got.is_empty()
                || got
                    .iter()
                    .any(|g| !g.as_ref().is_some_and(|g| same(g, &want)))
            {
                let got: Vec<String> = got
                    .iter()
                    .map(|g| g.as_ref().map_or("(none)".into(), |g| g.to_string()))
                    .collect();
                wrong.push(format!(
                    "row {line}: labelled {key}={label}, trained with {key} = {}",
                    got.join(", ")
                ));
            }
        }
        rows += 1;
    }
    assert!(
        wrong.is_empty(),
        "sweep.csv rows whose labels are not what the run trained with:\n{}",
        wrong.join("\n")
    );
    rows
}

#[test]
fn rows_are_labelled_with_what_each_run_trained() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid");
    let o = sweep_2layer(
        &out,
        &[
            "--od",
            "1,3",
            "--set",
            "lr=0.01,0.003",
            "--set",
            "elements[0].gain=4,8",
            "--gradient",
            "optical,exact",
            "--set",
            "train.seed=1,2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_labels(&out), 32);
    let out = dir.path().join("baselines");
    let o = sweep_2layer(
        &out,
        &[
            "--set",
            "task=moons,rings",
            "--activation",
            "absorber,relu,linear",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_labels(&out), 6);
    // The example: an `--od` axis and a `--set od=…` axis. Either the sweep is refused
    // or every label is what its run trained with.
    let out = dir.path().join("twice");
    let o = sweep_2layer(&out, &["--od", "1,2", "--set", "od=3,4"]);
    if o.status.success() {
        check_labels(&out);
    } else {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    }
}

#[test]
fn axes_that_set_one_key_twice_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], [&str; 2])] = &[
        (&["--od", "1,2", "--set", "od=3,4"], ["--od", "--set od"]),
        (
            &["--od", "1,2", "--set", "elements[1].od=3,4"],
            ["--od", "--set elements[1].od"],
        ),
        (
            &["--set", "lr=0.01,0.1", "--set", "train.lr=0.003,0.03"],
            ["--set lr", "--set train.lr"],
        ),
        (
            &["--set", "seed=0,1", "--set", "train.seed=2,3"],
            ["--set seed", "--set train.seed"],
        ),
        (
            &[
                "--set",
                "train.gradient=exact",
                "--gradient",
                "optical,exact",
            ],
            ["--set train.gradient", "--gradient"],
        ),
        (
            &["--set", "seed=0,1", "--set", "seed=2"],
            ["--set seed", "--set seed"],
        ),
        (
            &[
                "--set",
                "activation=relu,linear",
                "--activation",
                "absorber",
            ],
            ["--set activation", "--activation"],
        ),
        // The baselines replace (ReLU) or remove (linear) the absorbers that --od sets, and the
        // ReLU baseline sets its own loss.
        (
            &["--od", "1,3", "--activation", "absorber,relu"],
            ["--od", "--activation"],
        ),
        (
            &[
                "--set",
                "readout.loss=mse,cross-entropy",
                "--activation",
                "absorber,relu",
            ],
            ["--set readout.loss", "--activation"],
        ),
    ];
    let mut failures = Vec::new();
    for (i, (args, flags)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("case{i}"));
        let o = sweep_2layer(&out, args);
        let err = stderr(&o);
        let named = flags.iter().all(|f| err.contains(f));
        if o.status.code() != Some(2) || !named || out.exists() {
            failures.push(format!(
                "{}: exit {:?}, {} created; stderr: {}",
                args.join(" "),
                o.status.code(),
                if out.exists() {
                    format!("{} was", out.display())
                } else {
                    "nothing".into()
                },
                err.lines().last().unwrap_or("")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not refused before any work, naming both flags:\n{}",
        failures.join("\n")
    );
}

#[test]
fn repeated_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["--set", "seed=0,0"],
        &["--od", "1,1.0"],
        &["--gradient", "optical,optical"],
        &["--set", "task=moons,\"moons\""],
        &["--activation", "relu,relu"],
    ];
    let mut failures = Vec::new();
    for (i, args) in cases.iter().enumerate() {
        let out = dir.path().join(format!("case{i}"));
        let o = sweep_2layer(&out, args);
        let err = stderr(&o);
        if o.status.code() != Some(2) || !err.contains("twice") || out.exists() {
            failures.push(format!(
                "{}: exit {:?}, left {:?}; stderr: {}",
                args.join(" "),
                o.status.code(),
                tree(&out),
                err.lines().last().unwrap_or("")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "repeated values not refused:\n{}",
        failures.join("\n")
    );
}

#[test]
fn out_must_be_new_empty_or_the_same_sweep() {
    let dir = tempfile::tempdir().unwrap();
    // A folder of unrelated files.
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("ideas.txt"), "try od 3").unwrap();
    let o = sweep_2layer(&notes, &["--od", "1,3"]);
    let err = stderr(&o);
    let mut failures = Vec::new();
    if o.status.code() != Some(2) || !err.contains("ideas.txt") || tree(&notes) != ["ideas.txt"] {
        failures.push(format!(
            "folder of unrelated files: exit {:?}, now holds {:?}; stderr: {}",
            o.status.code(),
            tree(&notes),
            err.lines().last().unwrap_or("")
        ));
    }
    // A training run's folder.
    let run = dir.path().join("run");
    let o = wavetrain(&[
        "train",
        "--preset",
        "paper-2layer",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = tree(&run);
    let o = sweep_2layer(&run, &["--od", "1,3"]);
    let err = stderr(&o);
    if o.status.code() != Some(2) || !err.contains("training run") || tree(&run) != before {
        failures.push(format!(
            "train run folder: exit {:?}, held {before:?}, now {:?}; stderr: {}",
            o.status.code(),
            tree(&run),
            err.lines().last().unwrap_or("")
        ));
    }
    // A file.
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let o = sweep_2layer(&file, &["--od", "1,3"]);
    if o.status.code() != Some(2) {
        failures.push(format!(
            "a file as --out: exit {:?}; stderr: {}",
            o.status.code(),
            stderr(&o).lines().last().unwrap_or("")
        ));
    }
    assert!(
        failures.is_empty(),
        "--out not refused:\n{}",
        failures.join("\n")
    );
    // An empty folder is used, and the same sweep there again resumes (nothing retrained).
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = sweep_2layer(&empty, &["--od", "1,3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_labels(&empty), 2);
    let csv = std::fs::read_to_string(empty.join("sweep.csv")).unwrap();
    let o = sweep_2layer(&empty, &["--od", "1,3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(empty.join("sweep.csv")).unwrap(),
        csv
    );
}

/// The binary with `WAVETRAIN_FAULT_STEP` set (the trainer's hook that poisons that step).
fn sweep_2layer_faulty(out: &Path, step: usize, extra: &[&str]) -> Output {
    let args = sweep_2layer_args(out, extra);
    Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(&args)
        .env("WAVETRAIN_FAULT_STEP", step.to_string())
        .output()
        .expect("run wavetrain")
}

#[test]
fn failed_sweeps_leave_no_empty_or_partial_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    // A bad point, into a new folder and into an empty one.
    let new = dir.path().join("bad-new");
    let o = sweep_2layer(&new, &["--od", "1,-3"]);
    if o.status.code() != Some(2) || new.exists() {
        failures.push(format!(
            "bad point, new folder: exit {:?}, left {} {:?}",
            o.status.code(),
            new.exists(),
            tree(&new)
        ));
    }
    let empty = dir.path().join("bad-empty");
    std::fs::create_dir(&empty).unwrap();
    let o = sweep_2layer(&empty, &["--od", "1,-3"]);
    if o.status.code() != Some(2) || !tree(&empty).is_empty() {
        failures.push(format!(
            "bad point, empty folder: exit {:?}, left {:?}",
            o.status.code(),
            tree(&empty)
        ));
    }
    // A run that fails at its first step (before any checkpoint), one run at a time and two.
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("fault-{jobs}"));
        let o = sweep_2layer_faulty(&out, 1, &["--od", "1,3", "--jobs", jobs]);
        if o.status.code() != Some(7) || out.exists() {
            failures.push(format!(
                "run error at step 1, --jobs {jobs}: exit {:?}, left {:?}; stderr: {}",
                o.status.code(),
                tree(&out),
                stderr(&o).lines().last().unwrap_or("")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failed sweeps left folders:\n{}",
        failures.join("\n")
    );
    // A run that fails in its second epoch (paper-2layer: 32 batches an epoch) keeps its
    // first-epoch checkpoint, and only that; the same command without the fault resumes.
    let out = dir.path().join("fault-late");
    let o = sweep_2layer_faulty(&out, 40, &["--od", "1,3", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_only_kept_runs(&out);
    assert!(out.join("runs/od=1/checkpoint.safetensors").exists());
    assert!(!out.join("runs/od=3").exists(), "{:?}", tree(&out));
    let o = sweep_2layer(&out, &["--od", "1,3", "--jobs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_labels(&out), 2);
}

#[test]
fn interrupted_sweep_keeps_what_resumes_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int");
    let args = [
        "sweep",
        "--preset",
        "paper-mlp",
        "--epochs",
        "40",
        "--max-train",
        "1024",
        "--set",
        "seed=0,1",
        "--jobs",
        "1",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once the first run has written its first checkpoint.
    let ckpt = out.join("runs/seed=0/checkpoint.safetensors");
    let t0 = std::time::Instant::now();
    while !ckpt.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(ckpt.exists(), "no checkpoint after 60 s");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_only_kept_runs(&out);
    assert!(
        ckpt.exists(),
        "the interrupted run's checkpoint was not kept"
    );
    assert!(
        err.contains("Resume with: ") && err.contains(out.to_str().unwrap()),
        "does not say how to resume: {err}"
    );
    // The same command resumes and finishes.
    let o = wavetrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_labels(&out), 2);
}

/// The library's `stop` flag set before any run starts: the sweep reports the interruption
/// (it used to return an empty success) and leaves no folder behind.
#[test]
fn a_sweep_stopped_before_any_run_is_interrupted_and_leaves_nothing() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wavetrain::sweep::{run, Axis, SweepOptions};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stopped");
    let mut base = wavetrain::presets::preset("paper-2layer").unwrap();
    base.train.epochs = 2;
    let axes = [Axis {
        key: "od".into(),
        values: vec!["1".into(), "3".into()],
    }];
    let opts = SweepOptions {
        out: out.clone(),
        jobs: 1,
        backend: wavetrain::run::BackendChoice::Cpu,
        progress: false,
        stop: Arc::new(AtomicBool::new(true)),
    };
    let load = |c: &wavetrain::model::Config| -> wavetrain::Result<_> {
        Ok(wavetrain::data::tasks::splits(
            c.input.task.unwrap(),
            c.input.points,
            c.input.jitter,
            c.train.seed,
        ))
    };
    let r = run(&base, &axes, &opts, &load);
    assert!(
        matches!(r, Err(wavetrain::Error::Interrupted(_))),
        "a stopped sweep returned {:?}",
        r.as_ref().map(|rows| rows.len())
    );
    assert!(!out.exists(), "left {:?}", tree(&out));
}
