//! Records a researcher can trust (issue "Records …"): run folders owned by one process,
//! `--resume` that cannot change the run, a dark image that trains, honest fault messages,
//! mid-epoch checkpoints that resume exactly, Ctrl-C, provenance and per-image outputs.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wavetrain"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// `train --preset paper-2layer --epochs EPOCHS --backend cpu --no-pictures --out OUT`.
fn train_2layer(epochs: &str, out: &Path) -> Output {
    run(&[
        "train",
        "--preset",
        "paper-2layer",
        "--epochs",
        epochs,
        "--backend",
        "cpu",
        "--no-pictures",
        "--out",
        s(out),
    ])
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A training process that takes some seconds (d2nn-mnist, 2,048 images, checkpoints after
/// every step).
fn long_run(out: &Path) -> Child {
    bin()
        .args([
            "train",
            "--backend",
            "cpu",
            "--max-train",
            "2048",
            "--epochs",
            "3",
            "--no-pictures",
            "--checkpoint-every",
            "0",
            "--out",
            s(out),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(child: &mut Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// metrics.csv without its timing columns (images/s, seconds).
fn metrics(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(i, _)| *i != 4 && *i != 5)
                .map(|(_, v)| v.to_string())
                .collect()
        })
        .collect()
}

fn params(dir: &Path) -> wavetrain::network::State {
    wavetrain::checkpoint::Checkpoint::load(&dir.join("checkpoint.safetensors"))
        .unwrap()
        .state
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut first = long_run(&out);
    wait_for(&out.join("checkpoint.safetensors"));
    let pid = first.id().to_string();
    for args in [
        vec!["train", "--backend", "cpu", "--out", s(&out)],
        vec!["train", "--backend", "cpu", "--resume", s(&out)],
    ] {
        let o = run(&args);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains(&format!("in use by process {pid}")),
            "{args:?}: {e}"
        );
    }
    kill(&mut first, "-KILL");
    let _ = first.wait();
    // The lock dies with its process: the run can be resumed now.
    let o = run(&[
        "train",
        "--resume",
        s(&out),
        "--epochs",
        "1",
        "--no-pictures",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn default_run_folders_are_distinct_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..2)
        .map(|seed| {
            bin()
                .current_dir(dir.path())
                .args([
                    "train",
                    "--preset",
                    "paper-2layer",
                    "--epochs",
                    "1",
                    "--backend",
                    "cpu",
                    "--no-pictures",
                    "--seed",
                    &seed.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", err(&o));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    for n in &names {
        // paper-2layer-YYYYMMDD-HHMMSS-XXXX
        let rest = n
            .strip_prefix("paper-2layer-")
            .expect("named after the run");
        let parts: Vec<&str> = rest.split('-').collect();
        assert_eq!(parts.len(), 3, "{n}");
        assert!(parts[0].len() == 8 && parts[0].starts_with("20"), "{n}");
        assert_eq!(parts[1].len(), 6, "{n}");
        assert_eq!(parts[2].len(), 4, "{n}");
    }
    // Each folder holds its own run: the seeds differ.
    let seeds: Vec<u64> = names
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.path().join("runs").join(n).join("config.toml"))
                .unwrap();
            wavetrain::model::Config::from_toml(&text, "config.toml")
                .unwrap()
                .train
                .seed
        })
        .collect();
    assert_ne!(seeds[0], seeds[1]);
}

#[test]
fn resume_refuses_flags_that_change_the_run_and_records_more_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train_2layer("2", &out);
    assert!(o.status.success(), "{}", err(&o));
    let before = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for (flag, value) in [
        ("--lr", "0.5"),
        ("--seed", "9"),
        ("--batch", "8"),
        ("--gradient", "exact"),
        ("--set", "od=1"),
        ("--max-train", "10"),
    ] {
        let o = run(&[
            "train",
            "--resume",
            s(&out),
            flag,
            value,
            "--backend",
            "cpu",
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", err(&o));
        assert!(err(&o).contains(flag), "{flag}: {}", err(&o));
    }
    assert_eq!(
        std::fs::read_to_string(out.join("config.toml")).unwrap(),
        before,
        "a refused resume rewrote config.toml"
    );
    // --epochs extends the run and is recorded.
    let o = run(&[
        "train",
        "--resume",
        s(&out),
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--no-pictures",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let cfg = wavetrain::model::Config::from_file(&out.join("config.toml")).unwrap();
    assert_eq!(cfg.train.epochs, 3);
    // A flag and a --set of the same key conflict.
    let o = run(&[
        "train",
        "--preset",
        "paper-2layer",
        "--lr",
        "0.1",
        "--set",
        "train.lr=0.2",
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--lr") && err(&o).contains("train.lr"));
}

/// IDX files: `n` 28×28 images (the first all black, the others a lit square) and labels.
fn write_data(dir: &Path, name: &str, n: usize) {
    let mut im = vec![0u8, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        im.extend_from_slice(&d.to_be_bytes());
    }
    for i in 0..n {
        for y in 0..28 {
            for x in 0..28 {
                let lit = i > 0 && (8 + i % 10..14 + i % 10).contains(&y) && (6..20).contains(&x);
                im.push(if lit { 255 } else { 0 });
            }
        }
    }
    let mut lb = vec![0u8, 0, 8, 1];
    lb.extend_from_slice(&(n as u32).to_be_bytes());
    lb.extend((0..n).map(|i| (i % 10) as u8));
    std::fs::write(dir.join(format!("{name}-images-idx3-ubyte")), im).unwrap();
    std::fs::write(dir.join(format!("{name}-labels-idx1-ubyte")), lb).unwrap();
}

#[test]
fn a_dark_image_trains_and_faults_say_what_is_true() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_data(&data, "train", 64);
    write_data(&data, "t10k", 20);
    let out = dir.path().join("dark");
    let o = run(&[
        "train",
        "--data",
        s(&data),
        "--batch",
        "32",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--no-pictures",
        "--json",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(params(&out).params.iter().flatten().all(|v| v.is_finite()));

    // A NaN in the first step's input: named as such, and no checkpoint is promised.
    let out = dir.path().join("nan");
    let o = bin()
        .args([
            "train",
            "--data",
            s(&data),
            "--batch",
            "32",
            "--epochs",
            "1",
            "--backend",
            "cpu",
            "--out",
            s(&out),
        ])
        .env("WAVETRAIN_FAULT_STEP", "1")
        .output()
        .unwrap();
    let e = err(&o);
    assert_eq!(o.status.code(), Some(7), "{e}");
    assert!(e.contains("input batch holds a NaN"), "{e}");
    assert!(e.contains("No checkpoint had been written yet"), "{e}");
    assert!(!e.contains("is kept"), "{e}");
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "train",
        "--backend",
        "cpu",
        "--max-train",
        "2048",
        "--epochs",
        "3",
        "--no-pictures",
    ];
    let full = dir.path().join("full");
    let o = bin()
        .args(common)
        .args(["--out", s(&full)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));

    let part = dir.path().join("part");
    let mut child = long_run(&part);
    // Kill it during the first epoch, after a mid-epoch checkpoint.
    wait_for(&part.join("checkpoint.safetensors"));
    std::thread::sleep(Duration::from_millis(150));
    kill(&mut child, "-KILL");
    let _ = child.wait();
    let ck = wavetrain::checkpoint::Checkpoint::load(&part.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.progress.epoch, 0, "the kill came after the first epoch");
    assert!(ck.progress.batch > 0);
    let o = run(&["train", "--resume", s(&part), "--no-pictures"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(metrics(&part), metrics(&full));
    assert_eq!(params(&part), params(&full));
}

#[test]
fn two_ctrl_c_stop_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = long_run(&out);
    wait_for(&out.join("checkpoint.safetensors"));
    kill(&mut child, "-INT");
    kill(&mut child, "-INT");
    let t0 = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", err(&o));
    assert!(t0.elapsed() < Duration::from_secs(10));
    // Whatever was last written still loads.
    wavetrain::checkpoint::Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
}

#[test]
fn evaluation_stops_when_asked() {
    use std::sync::atomic::AtomicBool;
    let cfg = wavetrain::presets::preset("d2nn-mnist").unwrap();
    let net = cfg.resolve().unwrap();
    let mut backend = wavetrain::cpu::CpuBackend::new(&net, &net.initial_state()).unwrap();
    let (_, test) = wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10).unwrap();
    let stop = AtomicBool::new(true);
    let e = wavetrain::train::evaluate(&mut backend, &cfg, &test, Some(&stop)).unwrap_err();
    assert_eq!(e.exit_code(), 130);
}

#[test]
fn bad_names_and_zero_epochs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(run(&["presets", "paper-2layer"]).stdout).unwrap();
    let evil = dir.path().join("evil.toml");
    std::fs::write(
        &evil,
        text.replace("name = \"paper-2layer\"", "name = \"../../evil\""),
    )
    .unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["train", "--config", s(&evil), "--backend", "cpu"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("name"), "{}", err(&o));
    assert!(!dir.path().join("../evil").exists());
    let o = run(&["train", "--preset", "paper-2layer", "--epochs", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("train.epochs"), "{}", err(&o));
}

#[test]
fn runs_record_provenance_progress_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let common = [
        "--max-train",
        "256",
        "--backend",
        "cpu",
        "--no-pictures",
        "--json",
    ];
    let o = bin()
        .args(["train", "--epochs", "2", "--out", s(&out)])
        .args(common)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    // With no terminal, one plain line per epoch.
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let session = &p["sessions"][0];
    assert!(session["program"]
        .as_str()
        .unwrap()
        .starts_with("wavetrain "));
    assert!(!session["git_commit"].as_str().unwrap().is_empty());
    assert!(session["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--max-train"));
    assert!(session["backend"].as_str().unwrap().starts_with("cpu"));
    let files = p["data"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 4, "{p}");
    assert!(files
        .iter()
        .all(|f| f["sha256"].as_str().unwrap().len() == 64));
    // metrics.csv: the untrained network first, and the test loss.
    let m = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = m.lines().collect();
    assert!(
        lines[0].ends_with(
            ",test_loss,model_accuracy,hardware_accuracy,forward_passes,probe_passes,gradient_cosine"
        ),
        "{m}"
    );
    assert!(lines[1].starts_with("0,,,"), "{m}");
    assert_eq!(lines.len(), 4, "{m}");
    assert!(lines[3].split(',').nth(6).unwrap().parse::<f64>().unwrap() > 0.0);
    // The confusion matrix of the last epoch: 10 classes, every test image counted once.
    let conf = std::fs::read_to_string(out.join("confusion.csv")).unwrap();
    let counts: usize = conf
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|c| c.parse::<usize>().unwrap()))
        .sum();
    assert_eq!(conf.lines().count(), 11, "{conf}");
    assert_eq!(counts, 500, "{conf}");
    // Resumed: the time is the whole run's, and the session is recorded.
    let o = bin()
        .args(["train", "--resume", s(&out), "--epochs", "3", "--json"])
        .args(["--backend", "cpu", "--no-pictures"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    let second: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert!(
        second["seconds"].as_f64().unwrap() > first["seconds"].as_f64().unwrap(),
        "{first} then {second}"
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    assert_eq!(p["sessions"].as_array().unwrap().len(), 2);
    // Resuming on other data is refused.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    write_data(&other, "train", 40);
    write_data(&other, "t10k", 20);
    let o = run(&[
        "train",
        "--resume",
        s(&out),
        "--epochs",
        "4",
        "--data",
        s(&other),
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("other data"), "{}", err(&o));
    // eval: which data, and every image's prediction and readout.
    let csv: PathBuf = dir.path().join("outputs.csv");
    let o = run(&[
        "eval",
        "--checkpoint",
        s(&out.join("checkpoint.safetensors")),
        "--backend",
        "cpu",
        "--outputs",
        s(&csv),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("bundled MNIST subset"), "{text}");
    let rows = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 501);
    assert_eq!(rows[0].split(',').count(), 13);
}

#[test]
fn epoch_lines_reach_a_log_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let o = train_2layer("2", &dir.path().join("r"));
    assert!(o.status.success(), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("epoch   1:") && e.contains("epoch   2:"), "{e}");
}
