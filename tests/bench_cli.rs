//! `wavetrain bench --quick --json`: every record is well-formed (no timing thresholds).
use std::process::Command;

#[test]
fn quick_bench_records_are_well_formed() {
    let o = Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(["bench", "--quick", "--json", "--batches", "1,4"])
        .output()
        .expect("run wavetrain");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l}: {e}")))
        .collect();
    let ops: Vec<&str> = recs.iter().map(|r| r["op"].as_str().unwrap()).collect();
    for want in [
        "copy",
        "flops",
        "fft2",
        "propagate",
        "absorber",
        "train_step:d2nn-mnist",
        "train_step:paper-mlp",
    ] {
        assert!(ops.contains(&want), "no {want} record in {ops:?}");
    }
    for r in &recs {
        for k in ["backend", "device", "op", "grid", "timing"] {
            assert!(r[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {r}");
        }
        let timing = r["timing"].as_str().unwrap();
        let allowed: &[&str] = if r["backend"] == "gpu" {
            // Kernels: GPU timestamps where the adapter has them; training steps (which read
            // back their loss) by the clock.
            if r["op"].as_str().unwrap().starts_with("train_step") {
                &["queue-drain"]
            } else {
                &["timestamp", "queue-drain"]
            }
        } else {
            &["wall"]
        };
        assert!(allowed.contains(&timing), "timing {timing} in {r}");
        let med = r["median_ms"].as_f64().unwrap();
        let min = r["min_ms"].as_f64().unwrap();
        assert!(
            med.is_finite() && med > 0.0 && min > 0.0 && min <= med,
            "{r}"
        );
        assert!(r["reps"].as_u64().unwrap() >= 3, "{r}");
        let ceil = r["ceiling_gb_per_s"].as_f64().unwrap();
        assert!(ceil.is_finite() && ceil > 0.0, "{r}");
        let bytes = r["bytes"].as_f64().unwrap();
        let flops = r["flops"].as_f64().unwrap();
        assert!(bytes > 0.0 || flops > 0.0, "{r}");
        if bytes > 0.0 {
            let gb = r["gb_per_s"].as_f64().unwrap();
            assert!((gb / ceil - r["bandwidth_fraction"].as_f64().unwrap()).abs() < 1e-9);
        }
        if r["op"].as_str().unwrap().starts_with("train_step") {
            let ips = r["images_per_s"].as_f64().unwrap();
            let b = r["batch"].as_f64().unwrap();
            assert!((ips - b / (med / 1e3)).abs() < 1e-6 * ips, "{r}");
            assert!(r["memory_formula_bytes"].as_u64().unwrap() > 0);
        }
        if r["backend"] == "cpu" {
            assert!(r["ceiling_gflop_per_s"].as_f64().unwrap() > 0.0);
        }
    }
    // With an adapter (CI installs the software Vulkan driver) the GPU rows are there too.
    if std::env::var("WAVETRAIN_REQUIRE_GPU").as_deref() == Ok("1") {
        assert!(recs.iter().any(|r| r["backend"] == "gpu"), "no GPU records");
        assert!(recs
            .iter()
            .filter(|r| r["backend"] == "gpu" && r["op"] == "propagate")
            .all(|r| r["memory_measured_bytes"].as_u64().unwrap() > 0));
    }
}

fn bench_json(args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run wavetrain");
    let recs = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l}: {e}")))
        .collect();
    (
        o.status.success(),
        recs,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ops_selects_the_measurements_and_config_adds_a_network() {
    let (ok, recs, err) = bench_json(&[
        "--quick",
        "--json",
        "--backend",
        "cpu",
        "--grids",
        "16",
        "--batches",
        "2",
        "--ops",
        "propagate,train_step:tiny",
        "--config",
        "tests/data/bench-tiny.toml",
    ]);
    assert!(ok, "{err}");
    let ops: Vec<&str> = recs.iter().map(|r| r["op"].as_str().unwrap()).collect();
    // The ceilings always come first: every record is set against them.
    assert_eq!(
        ops,
        ["copy", "flops", "propagate", "train_step:tiny"],
        "{ops:?}"
    );
    let step = &recs[3];
    assert_eq!(step["grid"], "16x16", "{step}");
    assert_eq!(step["batch"], 3, "the config's own batch: {step}");
    assert!(step["images_per_s"].as_f64().unwrap() > 0.0, "{step}");
}

#[test]
fn unknown_ops_and_bad_configs_are_refused_before_any_work() {
    let (ok, recs, err) = bench_json(&["--quick", "--json", "--ops", "fft3"]);
    assert!(!ok && recs.is_empty(), "{err}");
    assert!(
        err.contains("--ops") && err.contains("fft3") && err.contains("fft2, propagate"),
        "{err}"
    );
    let (ok, recs, err) = bench_json(&["--quick", "--json", "--ops", "train_step:nosuch"]);
    assert!(
        !ok && recs.is_empty() && err.contains("train_step:nosuch"),
        "{err}"
    );
    let (ok, _, err) = bench_json(&["--quick", "--json", "--config", "no/such.toml"]);
    assert!(!ok && err.contains("no/such.toml"), "{err}");
}

/// The CPU bench times `d2nn-mnist` steps up to 1024² fields, but no step over 2²² samples
/// (1024² at batch 8 is left out; 1024² at batch 1 and 256² at batch 64 are in).
#[test]
fn cpu_training_steps_reach_1024_fields_within_the_sample_cap() {
    let (ok, recs, err) = bench_json(&[
        "--json",
        "--backend",
        "cpu",
        "--ops",
        "train_step:d2nn-mnist",
        "--grids",
        "1024",
        "--batches",
        "1,8",
    ]);
    assert!(ok, "{err}");
    let steps: Vec<(&str, u64)> = recs
        .iter()
        .filter(|r| r["op"] == "train_step:d2nn-mnist")
        .map(|r| (r["grid"].as_str().unwrap(), r["batch"].as_u64().unwrap()))
        .collect();
    assert_eq!(steps, [("1024x1024", 1)], "{recs:?}");
}

/// `scripts/anchors.sh` checks its tools before measuring anything: a Python without pyfftw, or
/// a BEFORE binary that does not exist, stops it with exit 2 and what to install or fix.
#[test]
fn anchors_script_refuses_missing_tools_before_measuring() {
    let dir = std::env::temp_dir().join(format!("wt-anchors-{}", std::process::id()));
    let run = |envs: &[(&str, &str)]| {
        let mut c = Command::new("bash");
        c.arg("scripts/anchors.sh").arg(&dir);
        c.env("WAVETRAIN", env!("CARGO_BIN_EXE_wavetrain"));
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run bash")
    };
    let o = run(&[("BEFORE", "/no/such/wavetrain")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("BEFORE=/no/such/wavetrain"), "{err}");
    // A Python that cannot run fails the import check, which names the packages.
    let o = run(&[("FFTW_PYTHON", "true_but_absent_python")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("pip install pyfftw numpy"), "{err}");
    assert!(!dir.exists(), "nothing written before the checks pass");
}
