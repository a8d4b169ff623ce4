//! The command-line tool end to end: absorber CSV, train/eval/resume on the bundled data, and bad
//! input that must give a clear error, a distinct exit code and no half-written run folder.
use std::path::Path;
mod common;
use common::{last_json as json_line, stderr_of as stderr, wavetrain_bin as wavetrain};

#[test]
fn absorber_csv_values() {
    let o = wavetrain(&[
        "absorber", "--od", "10", "--model", "thin", "--from", "0", "--to", "16", "--step", "0.5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("z,g,t_probe,g_exact,ratio"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 33);
    let at = |z: f64| {
        rows.iter()
            .find(|r| (r[0] - z).abs() < 1e-12)
            .unwrap()
            .clone()
    };
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    let r1 = at(1.0);
    assert!(
        rel(r1[1], 0.082085) < 1e-5
            && rel(r1[2], 0.082085) < 1e-5
            && rel(r1[3], 0.28730) < 1e-5
            && rel(r1[4], 3.5) < 1e-6
    );
    let r3 = at(3.0);
    assert!(rel(r3[1], 1.8196) < 1e-4 && rel(r3[2], 0.60653) < 1e-5 && rel(r3[3], 1.1524) < 1e-4);
    assert!(rel(at(0.0)[2], 0.0067379) < 1e-4);
    // Beer–Lambert model and a plot.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    let o = wavetrain(&[
        "absorber",
        "--model",
        "beer-lambert",
        "--od",
        "3",
        "--to",
        "4",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn absorber_bad_input_is_a_clear_error() {
    for (args, key) in [
        (vec!["absorber", "--step", "0"], "--step"),
        (vec!["absorber", "--od", "-1"], "--od"),
        (vec!["absorber", "--from", "3", "--to", "1"], "--to"),
    ] {
        let o = wavetrain(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(key) && !e.contains("panicked"), "{args:?}: {e}");
    }
    let o = wavetrain(&["absorber", "--model", "thick"]);
    assert!(!o.status.success() && stderr(&o).contains("beer-lambert"));
    let o = wavetrain(&["sampling", "--nx", "0", "--distance", "1e-3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = wavetrain(&[
        "sampling",
        "--nx",
        "64",
        "--distance",
        "-1e-3",
        "--wavelength",
        "-5",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

fn metrics(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn train_eval_and_resume_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let common = [
        "--backend",
        "cpu",
        "--max-train",
        "192",
        "--batch",
        "64",
        "--seed",
        "7",
    ];
    let mut args = vec![
        "train",
        "--epochs",
        "2",
        "--json",
        "--out",
        run.to_str().unwrap(),
    ];
    args.extend(common);
    let o = wavetrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json_line(&o);
    for k in [
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "images_per_second",
        "seconds",
        "backend",
    ] {
        assert!(j.get(k).is_some(), "missing {k} in {j}");
    }
    assert!(j["backend"].as_str().unwrap().starts_with("cpu"));
    for f in [
        "config.toml",
        "metrics.csv",
        "checkpoint.safetensors",
        "masks.png",
        "outputs.png",
        "learning_curves.png",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    let header = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(header.starts_with(
        "epoch,train_loss,train_accuracy,test_accuracy,images_per_second,seconds,test_loss,model_accuracy,hardware_accuracy,forward_passes,probe_passes,gradient_cosine\n"
    ));
    // The untrained network's row (epoch 0), then one per epoch.
    let full = metrics(&run);
    assert_eq!(full.len(), 3);
    assert_eq!(full[0][0], "0");

    // eval reproduces the final test accuracy.
    let o = wavetrain(&[
        "eval",
        "--checkpoint",
        run.join("checkpoint.safetensors").to_str().unwrap(),
        "--json",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = json_line(&o);
    assert!((e["accuracy"].as_f64().unwrap() - j["test_accuracy"].as_f64().unwrap()).abs() < 1e-12);

    // One epoch, then resume to two: the same metrics as the uninterrupted run.
    let part = dir.path().join("part");
    let mut args = vec![
        "train",
        "--epochs",
        "1",
        "--json",
        "--out",
        part.to_str().unwrap(),
    ];
    args.extend(common);
    assert!(wavetrain(&args).status.success());
    let o = wavetrain(&[
        "train",
        "--resume",
        part.to_str().unwrap(),
        "--epochs",
        "2",
        "--json",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let resumed = metrics(&part);
    assert_eq!(resumed.len(), 3);
    for (a, b) in full.iter().zip(&resumed) {
        assert_eq!(
            a[..4],
            b[..4],
            "epoch, loss and accuracies must match exactly"
        );
    }
}

#[test]
fn bad_training_input_fails_cleanly_without_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    // Unknown key in a config.
    let cfg = dir.path().join("bad.toml");
    let text = String::from_utf8(wavetrain(&["presets", "d2nn-mnist"]).stdout).unwrap();
    std::fs::write(&cfg, text.replace("[input]", "[input]\nbrightness = 2")).unwrap();
    let out = dir.path().join("r1");
    let o = wavetrain(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("brightness") && !out.exists());
    // Impossible physics.
    std::fs::write(&cfg, text.replace("pitch = 8e-6", "pitch = -8e-6")).unwrap();
    let o = wavetrain(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("optics.pitch") && !out.exists());
    // A batch whose buffers cannot fit in this machine's memory is refused before any work.
    std::fs::write(
        &cfg,
        text.replace("nx = 64", "nx = 2048")
            .replace("ny = 64", "ny = 2048"),
    )
    .unwrap();
    let o = wavetrain(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--batch",
        "60000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("train.batch") && stderr(&o).contains("GiB available"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Corrupt and truncated data.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(data.join(f), b"\0\0\x08\x03\0\0\0\x05").unwrap();
    }
    let o = wavetrain(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("train-images-idx3-ubyte") && !out.exists());
    // Labels out of range.
    let src = wavetrain::data::idx::bundled_dir();
    std::fs::copy(
        src.join("mnist5k-train-images-idx3-ubyte.gz"),
        data.join("train-images-idx3-ubyte"),
    )
    .unwrap();
    let mut labels = vec![0u8, 0, 8, 1, 0, 0, 0x0f, 0xa0];
    labels.extend(std::iter::repeat_n(11u8, 4000));
    std::fs::write(data.join("train-labels-idx1-ubyte"), labels).unwrap();
    let o = wavetrain(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("label 11"), "{}", stderr(&o));
    assert!(!out.exists());
    // Unwritable --out.
    let o = wavetrain(&[
        "train",
        "--out",
        "/proc/wavetrain-run",
        "--max-train",
        "64",
        "--epochs",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    // Unknown preset, non-empty out.
    assert_eq!(
        wavetrain(&["train", "--preset", "nope"]).status.code(),
        Some(2)
    );
    let o = wavetrain(&["train", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not empty"));
    // Corrupt checkpoint.
    let ck = dir.path().join("ck.safetensors");
    std::fs::write(&ck, b"garbage").unwrap();
    let o = wavetrain(&["eval", "--checkpoint", ck.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(!stderr(&o).contains("panicked"));
}
