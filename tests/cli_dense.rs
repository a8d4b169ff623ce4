//! The dense networks end to end through the command line: paper-mlp trains, resumes exactly and
//! evaluates; paper-2layer writes its decision boundary; baselines and --set work; sweep writes
//! its CSV and plot, resumes from its folder and refuses a different sweep there.
mod common;
use common::{last_json as json_line, stderr_of as stderr, wavetrain_bin as wavetrain};

#[test]
fn paper_mlp_trains_resumes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let part = dir.path().join("part");
    let common = [
        "train",
        "--preset",
        "paper-mlp",
        "--backend",
        "cpu",
        "--json",
    ];
    let o = wavetrain(
        &[
            &common[..],
            &["--epochs", "2", "--out", full.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json_line(&o);
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "paper-mlp after 2 epochs: {acc}");
    for f in [
        "checkpoint.safetensors",
        "metrics.csv",
        "weights.png",
        "learning_curves.png",
    ] {
        assert!(full.join(f).exists(), "{f} missing");
    }
    // One epoch, then resume for the second: the metrics equal the uninterrupted run's.
    let o = wavetrain(
        &[
            &common[..],
            &["--epochs", "1", "--out", part.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = wavetrain(&[
        "train",
        "--resume",
        part.to_str().unwrap(),
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read_to_string(full.join("metrics.csv")).unwrap();
    let b = std::fs::read_to_string(part.join("metrics.csv")).unwrap();
    let cols = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .map(|l| l.split(',').take(4).map(String::from).collect())
            .collect()
    };
    assert_eq!(cols(&a), cols(&b), "resumed metrics differ");
    let o = wavetrain(&[
        "eval",
        "--checkpoint",
        full.join("checkpoint.safetensors").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!((json_line(&o)["accuracy"].as_f64().unwrap() - acc).abs() < 1e-12);
    // DFA runs on the CPU executor only: `--backend gpu` refuses it before opening any adapter,
    // as a config error (exit 2) that says what to do. (Dense training on the GPU itself, noise
    // and miscalibration included, is tested in tests/gpu/network.rs.)
    let o = wavetrain(&[
        "train",
        "--preset",
        "paper-mlp",
        "--set",
        "train.method=dfa",
        "--backend",
        "gpu",
        "--out",
        dir.path().join("gpu").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("train.method"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--backend cpu"), "{}", stderr(&o));
    assert!(
        !dir.path().join("gpu").exists(),
        "a refused run left a folder"
    );
}

#[test]
fn paper_2layer_writes_a_decision_boundary_and_baselines_run() {
    let dir = tempfile::tempdir().unwrap();
    for (i, extra) in [
        vec!["--set", "task=rings"],
        vec!["--activation", "relu", "--set", "task=spirals"],
        vec!["--activation", "linear"],
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("r{i}"));
        let o = wavetrain(
            &[
                &[
                    "train",
                    "--preset",
                    "paper-2layer",
                    "--epochs",
                    "20",
                    "--json",
                    "--out",
                ][..],
                &[out.to_str().unwrap()],
                &extra[..],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(out.join("decision_boundary.png").exists());
        let acc = json_line(&o)["test_accuracy"].as_f64().unwrap();
        assert!(acc > 0.6, "{extra:?}: {acc}");
    }
    // --data makes no sense for a generated task; a bad --set names the key.
    let o = wavetrain(&[
        "train",
        "--preset",
        "paper-2layer",
        "--data",
        "/nonexistent",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("generated"), "{}", stderr(&o));
    let o = wavetrain(&[
        "train",
        "--preset",
        "paper-2layer",
        "--set",
        "task=circles",
        "--out",
        dir.path().join("y").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("circles"), "{}", stderr(&o));
}

#[test]
fn sweep_writes_csv_and_plot_resumes_and_refuses_another_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let args = [
        "sweep",
        "--preset",
        "paper-2layer",
        "--od",
        "0.1,10",
        "--gradient",
        "optical,exact",
        "--epochs",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = wavetrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "od,gradient,test_accuracy,train_accuracy,train_loss,seconds,images_per_second,run_dir,model_accuracy,hardware_accuracy"
    );
    assert_eq!(lines.len(), 5, "{csv}");
    for l in &lines[1..] {
        let acc: f64 = l.split(',').nth(2).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
    assert!(out.join("sweep.png").exists());
    assert!(out.join("decision_boundaries.png").exists());
    // A rerun reads the finished runs back instead of training again: same CSV.
    let before = std::fs::metadata(out.join("runs/od=0.1_gradient=optical/checkpoint.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    let o = wavetrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("sweep.csv")).unwrap(), csv);
    let after = std::fs::metadata(out.join("runs/od=0.1_gradient=optical/checkpoint.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a finished run was trained again");
    // A different sweep in the same folder is refused.
    let mut other = args.to_vec();
    other[4] = "0.3,10";
    let o = wavetrain(&other);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("different sweep"), "{}", stderr(&o));
    // A bad value is refused before any run starts.
    let o = wavetrain(&[
        "sweep",
        "--preset",
        "paper-2layer",
        "--od",
        "1,-3",
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("od"), "{}", stderr(&o));
    assert!(
        !dir.path().join("bad/runs").exists(),
        "a run folder was made for a bad sweep"
    );
}
