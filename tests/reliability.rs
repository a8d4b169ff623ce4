//! Interrupted runs and numerical faults lose nothing: SIGINT mid-run then --resume equals an
//! uninterrupted run; a NaN stops training with the step and element named and the last good
//! checkpoint intact.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wavetrain"))
}

fn metrics(dir: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(4).map(String::from).collect())
        .collect()
}

const COMMON: [&str; 9] = [
    "train",
    "--backend",
    "cpu",
    "--max-train",
    "640",
    "--seed",
    "3",
    "--no-pictures",
    "--json",
];

#[test]
fn sigint_checkpoints_and_resume_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let o = bin()
        .args(COMMON)
        .args(["--epochs", "3", "--out", full.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let part = dir.path().join("part");
    let child = bin()
        .args(COMMON)
        .args(["--epochs", "3", "--out", part.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first epoch's checkpoint, then interrupt in the middle of the second.
    let t0 = Instant::now();
    while !part.join("metrics.csv").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint after 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // The run finished before the signal landed: nothing to resume, but nothing lost either.
        assert_eq!(metrics(&part), metrics(&full));
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let o = bin()
        .args([
            "train",
            "--resume",
            part.to_str().unwrap(),
            "--json",
            "--no-pictures",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        metrics(&part),
        metrics(&full),
        "resumed metrics must equal the uninterrupted run's"
    );
}

#[test]
fn nan_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // 640 images at batch 64: step 13 is the third step of epoch 2.
    let o = bin()
        .args(COMMON)
        .args(["--epochs", "3", "--out", run.to_str().unwrap()])
        .env("WAVETRAIN_FAULT_STEP", "13")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("step 13") && err.contains("epoch 2"), "{err}");
    assert!(
        err.contains("elements[0] free space"),
        "should name the first element with a NaN: {err}"
    );
    // The epoch-1 checkpoint is intact and loads.
    assert!(run.join("config.toml").exists());
    let ck = wavetrain::checkpoint::Checkpoint::load(&run.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.progress.epoch, 1);
    assert!(ck.state.params.iter().flatten().all(|v| v.is_finite()));
    let e = bin()
        .args([
            "eval",
            "--checkpoint",
            run.join("checkpoint.safetensors").to_str().unwrap(),
            "--backend",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(e.status.success());
}

#[test]
fn a_run_that_fails_before_its_first_checkpoint_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = bin()
        .args(COMMON)
        .args(["--epochs", "1", "--out", run.to_str().unwrap()])
        .env("WAVETRAIN_FAULT_STEP", "1")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!run.exists(), "a failed fresh run left {}", run.display());
    // The same --out works again.
    let o = bin()
        .args(COMMON)
        .args(["--epochs", "1", "--out", run.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(run.join("checkpoint.safetensors").exists());
}
