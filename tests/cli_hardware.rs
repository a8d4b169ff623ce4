//! Issue 18 through the CLI: every run reports three accuracies (metrics.csv, --json, eval
//! --json --on model|hardware, sweep.csv), writes the drawn system to hardware.json; a resumed
//! in-situ run equals an uninterrupted one; an all-ideal [hardware] table trains bit for bit as
//! none does.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use wavetrain::checkpoint::Checkpoint;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wavetrain-clihw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn train(out: &Path, extra: &[&str]) -> serde_json::Value {
    train_epochs(out, "1", extra)
}

fn train_epochs(out: &Path, epochs: &str, extra: &[&str]) -> serde_json::Value {
    let o = out.display().to_string();
    let mut args = vec![
        "train",
        "--backend",
        "cpu",
        "--max-train",
        "96",
        "--batch",
        "32",
        "--epochs",
        epochs,
        "--no-pictures",
        "--json",
        "--out",
        &o,
    ];
    args.extend_from_slice(extra);
    let r = wavetrain_bin(&args);
    assert!(r.status.success(), "{}", stderr_of(&r));
    last_json(&r)
}

fn metrics_rows(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn eval(dir: &Path, on: Option<&str>) -> serde_json::Value {
    let ck = dir.join("checkpoint.safetensors").display().to_string();
    let mut args = vec!["eval", "--backend", "cpu", "--json", "--checkpoint", &ck];
    if let Some(s) = on {
        args.extend(["--on", s]);
    }
    let r = wavetrain_bin(&args);
    assert!(r.status.success(), "{}", stderr_of(&r));
    last_json(&r)
}

#[test]
fn a_run_reports_three_accuracies_and_eval_measures_each_system() {
    let out = tmp("three");
    let j = train(
        &out,
        &[
            "--set",
            "hardware.shift_std=12e-6",
            "--set",
            "hardware.fringing=1.0",
            "--set",
            "train.target=model",
        ],
    );
    assert_eq!(j["target"], "model");
    let (t, m, h) = (
        j["test_accuracy"].as_f64().unwrap(),
        j["model_accuracy"].as_f64().unwrap(),
        j["hardware_accuracy"].as_f64().unwrap(),
    );
    assert_eq!(t, m, "trained on the model");
    let rows = metrics_rows(&out);
    assert_eq!(
        rows[0],
        [
            "epoch",
            "train_loss",
            "train_accuracy",
            "test_accuracy",
            "images_per_second",
            "seconds",
            "test_loss",
            "model_accuracy",
            "hardware_accuracy",
            "forward_passes",
            "probe_passes",
            "gradient_cosine"
        ]
    );
    let last = rows.last().unwrap();
    assert_eq!(last[7].parse::<f64>().unwrap(), (m * 1e6).round() / 1e6);
    assert_eq!(last[8].parse::<f64>().unwrap(), (h * 1e6).round() / 1e6);
    assert!(
        !rows[1][7].is_empty() && !rows[1][8].is_empty(),
        "epoch 0 row: {:?}",
        rows[1]
    );
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hardware.json")).unwrap()).unwrap();
    assert_eq!(rec["target"], "model");
    assert_eq!(rec["system"]["slms"].as_array().unwrap().len(), 5);
    let e_hw = eval(&out, Some("hardware"));
    assert_eq!(e_hw["accuracy"].as_f64().unwrap(), h);
    assert_eq!(e_hw["on"], "hardware");
    let e_m = eval(&out, Some("model"));
    assert_eq!(e_m["accuracy"].as_f64().unwrap(), m);
    let e = eval(&out, None);
    assert_eq!(e["accuracy"].as_f64().unwrap(), t);
    assert_eq!(e["on"], "model");
    assert_eq!(e["hardware_accuracy"].as_f64().unwrap(), h);
    assert_eq!(e["model_accuracy"].as_f64().unwrap(), m);
    let bad = wavetrain_bin(&[
        "eval",
        "--checkpoint",
        &out.join("checkpoint.safetensors").display().to_string(),
        "--on",
        "both",
    ]);
    assert!(!bad.status.success() && stderr_of(&bad).contains("'model' or 'hardware'"));
    let _ = std::fs::remove_dir_all(out);
}

fn state_of(dir: &Path) -> wavetrain::network::State {
    Checkpoint::load(&dir.join("checkpoint.safetensors"))
        .unwrap()
        .state
}

#[test]
fn a_resumed_in_situ_run_equals_an_uninterrupted_one() {
    let hw = [
        "--set",
        "hardware.shift_std=6e-6",
        "--set",
        "hardware.od_std=0.1",
        "--set",
        "hardware.shot_noise=1000",
        "--set",
        "hardware.seed=7",
        "--set",
        "train.target=hardware",
    ];
    let (a, b) = (tmp("whole"), tmp("parts"));
    let ja = train_epochs(&a, "2", &hw);
    train(&b, &hw);
    let r = wavetrain_bin(&[
        "train",
        "--resume",
        &b.display().to_string(),
        "--epochs",
        "2",
        "--json",
        "--no-pictures",
        "--backend",
        "cpu",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let jb = last_json(&r);
    assert_eq!(state_of(&a), state_of(&b));
    for k in [
        "test_accuracy",
        "model_accuracy",
        "hardware_accuracy",
        "train_loss",
    ] {
        assert_eq!(ja[k], jb[k], "{k}");
    }
    let (ra, rb) = (metrics_rows(&a), metrics_rows(&b));
    for (x, y) in ra.iter().zip(&rb) {
        for c in [0, 1, 2, 3, 6, 7, 8] {
            assert_eq!(x[c], y[c]);
        }
    }
    assert_eq!(
        std::fs::read(a.join("hardware.json")).unwrap(),
        std::fs::read(b.join("hardware.json")).unwrap()
    );
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}

#[test]
fn an_all_ideal_hardware_table_trains_bit_for_bit_as_none() {
    let (a, b) = (tmp("none"), tmp("ideal"));
    let ja = train(&a, &[]);
    let jb = train(
        &b,
        &[
            "--set",
            "hardware.fill_factor=1.0",
            "--set",
            "hardware.fringing=0",
            "--set",
            "hardware.phase_range=6.283185307179586",
            "--set",
            "hardware.distance_errors=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
        ],
    );
    assert!(b.join("hardware.json").exists() && !a.join("hardware.json").exists());
    assert_eq!(state_of(&a), state_of(&b));
    for k in [
        "test_accuracy",
        "model_accuracy",
        "hardware_accuracy",
        "train_loss",
        "train_accuracy",
    ] {
        assert_eq!(ja[k], jb[k], "{k}");
    }
    let (ra, rb) = (metrics_rows(&a), metrics_rows(&b));
    for (x, y) in ra.iter().zip(&rb) {
        for c in [0, 1, 2, 3, 6, 7, 8] {
            assert_eq!(x[c], y[c]);
        }
    }
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}

#[test]
fn sweep_csv_has_the_model_and_hardware_accuracies() {
    let out = tmp("sweep");
    let r = wavetrain_bin(&[
        "sweep",
        "--backend",
        "cpu",
        "--set",
        "hardware.shift_std=0,8e-6",
        "--set",
        "train.target=model,hardware",
        "--set",
        "train.batch=32",
        "--max-train",
        "64",
        "--epochs",
        "1",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (t, m, h) = (
        col("test_accuracy"),
        col("model_accuracy"),
        col("hardware_accuracy"),
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let (tv, mv, hv) = (r[t], r[m], r[h]);
        assert!(!mv.is_empty() && !hv.is_empty());
        if r[0] == "0" {
            assert!(tv == mv && mv == hv, "{r:?}");
        } else if r[1] == "model" {
            assert_eq!(tv, mv);
        } else {
            assert_eq!(tv, hv);
        }
    }
    let _ = std::fs::remove_dir_all(out);
}
