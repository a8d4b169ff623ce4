//! Checkpoints a researcher can trust: a flipped bit in the tensors is caught by the stored
//! SHA-256 (exit code 4, naming the file), edited progress metadata is checked against the
//! config, a valid checkpoint round-trips, and one written before the checksum still loads.
use std::path::Path;

use wavetrain::checkpoint::{Checkpoint, EpochMetrics, Progress};
mod common;
use common::{stderr_of, wavetrain_bin};

/// A dense network (small, fast) with 5 epochs configured and a mid-epoch position.
fn sample() -> Checkpoint {
    let mut cfg = wavetrain::presets::preset("paper-mlp").unwrap();
    cfg.train.epochs = 5;
    let network = cfg.resolve().unwrap();
    let mut state = network.initial_state();
    state.step = 7;
    let progress = Progress {
        epoch: 1,
        batch: 3,
        loss_sum: 1.5,
        correct: 100,
        seen: 3 * 64,
        seconds: 0.25,
        history: vec![EpochMetrics {
            epoch: 1,
            train_loss: 0.5,
            train_accuracy: 0.8,
            test_accuracy: 0.75,
            images_per_second: 1000.0,
            seconds: 1.0,
            test_loss: Some(0.6),
            model_accuracy: Some(0.75),
            hardware_accuracy: Some(0.75),
            camera_frames: None,
            photoelectrons: None,
            forward_passes: Some(64),
            probe_passes: Some(64),
            gradient_cosine: Some(0.9),
        }],
        initial: Some((2.3, 0.1)),
        initial_systems: Some((0.1, 0.1)),
        elapsed: 1.5,
        readout: None,
        passes: Some((3 * 64, 3 * 64)),
    };
    Checkpoint {
        network,
        state,
        progress,
    }
}

/// The header JSON and the data section of safetensors bytes.
fn split(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

/// Safetensors bytes from a header and a data section (header padded to 8 bytes).
fn join(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

/// `bytes` with the metadata's progress replaced by `edit(progress)`.
fn with_progress(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let (mut header, data) = split(bytes);
    let meta = header["__metadata__"].as_object_mut().unwrap();
    let mut p: serde_json::Value =
        serde_json::from_str(meta["progress"].as_str().unwrap()).unwrap();
    edit(&mut p);
    meta.insert("progress".into(), serde_json::Value::String(p.to_string()));
    join(&header, &data)
}

/// `bytes` with the lowest mantissa bit of one value inside tensor `name` flipped (still finite).
fn flip_in_tensor(bytes: &[u8], name: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let (header, _) = split(bytes);
    let offs = header[name]["data_offsets"].as_array().unwrap();
    let (a, b) = (
        offs[0].as_u64().unwrap() as usize,
        offs[1].as_u64().unwrap() as usize,
    );
    let mid = 8 + n + a + ((b - a) / 8) * 4; // a value boundary near the middle
    let mut out = bytes.to_vec();
    out[mid] ^= 1;
    out
}

/// An edit of the progress JSON.
type Edit = dyn Fn(&mut serde_json::Value);

fn load_err(bytes: &[u8], name: &str) -> (i32, String) {
    let e = Checkpoint::from_bytes(bytes, Path::new(name))
        .map(|_| ())
        .expect_err("the checkpoint must be refused");
    (e.exit_code(), e.to_string())
}

#[test]
fn valid_checkpoint_round_trips() {
    let ck = sample();
    let bytes = ck.to_bytes().unwrap();
    let back = Checkpoint::from_bytes(&bytes, Path::new("ok.safetensors")).unwrap();
    assert_eq!(back.progress, ck.progress);
    assert_eq!(back.state.params, ck.state.params);
    assert_eq!(back.state.m, ck.state.m);
    assert_eq!(back.state.v, ck.state.v);
    assert_eq!(back.state.step, 7);
    assert_eq!(back.config().train.epochs, 5);
    // The same state gives the same metadata (the checksum is deterministic) and tensors.
    assert_eq!(split(&back.to_bytes().unwrap()), split(&bytes));
}

#[test]
fn a_flipped_bit_in_the_tensors_is_caught() {
    let bytes = sample().to_bytes().unwrap();
    for name in ["param.0", "adam_m.1", "adam_v.0"] {
        let bad = flip_in_tensor(&bytes, name);
        let (code, msg) = load_err(&bad, "run/flipped.safetensors");
        assert_eq!(code, 4, "{msg}");
        assert!(
            msg.contains("run/flipped.safetensors") && msg.contains("corrupt"),
            "{name}: {msg}"
        );
        assert!(
            msg.contains("earlier copy") && msg.contains("retrain"),
            "{msg}"
        );
    }
}

#[test]
fn edited_progress_metadata_is_refused() {
    let bytes = sample().to_bytes().unwrap();
    let cases: Vec<(&str, Box<Edit>, &str)> = vec![
        ("epoch 999", Box::new(|p| p["epoch"] = 999.into()), "epoch"),
        (
            "batch 10^9",
            Box::new(|p| p["batch"] = 1_000_000_000u64.into()),
            "batch",
        ),
        (
            "history shorter than the epoch",
            Box::new(|p| p["epoch"] = 2.into()),
            "history",
        ),
        (
            "history misnumbered",
            Box::new(|p| p["history"][0]["epoch"] = 4.into()),
            "history",
        ),
        (
            "more correct than seen",
            Box::new(|p| p["correct"] = 10_000.into()),
            "correct",
        ),
        (
            "negative loss sum",
            Box::new(|p| p["loss_sum"] = (-1.0).into()),
            "loss_sum",
        ),
        (
            "negative seconds in the history",
            Box::new(|p| p["history"][0]["seconds"] = (-3.0).into()),
            "seconds",
        ),
        (
            "accuracy above 1",
            Box::new(|p| p["history"][0]["test_accuracy"] = 93.6.into()),
            "test_accuracy",
        ),
        (
            "images seen without a batch",
            Box::new(|p| p["batch"] = 0.into()),
            "seen",
        ),
    ];
    for (what, edit, word) in cases {
        let bad = with_progress(&bytes, edit);
        let (code, msg) = load_err(&bad, "edited.safetensors");
        assert_eq!(code, 4, "{what}: {msg}");
        assert!(
            msg.contains("edited.safetensors") && msg.contains(word),
            "{what}: {msg}"
        );
    }
    // The unedited metadata, re-serialised the same way, still loads.
    Checkpoint::from_bytes(&with_progress(&bytes, |_| {}), Path::new("same")).unwrap();
}

#[test]
fn eval_of_a_corrupt_checkpoint_exits_4_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = wavetrain_bin(&[
        "train",
        "--preset",
        "paper-mlp",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--no-pictures",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let good = std::fs::read(run.join("checkpoint.safetensors")).unwrap();
    let ck = Checkpoint::from_bytes(&good, Path::new("good")).unwrap();
    assert_eq!(ck.progress.epoch, 1);

    let bad = dir.path().join("flipped.safetensors");
    std::fs::write(&bad, flip_in_tensor(&good, "param.1")).unwrap();
    let o = wavetrain_bin(&["eval", "--checkpoint", bad.to_str().unwrap()]);
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("flipped.safetensors") && err.contains("corrupt"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let edited = dir.path().join("edited.safetensors");
    std::fs::write(
        &edited,
        with_progress(&good, |p| {
            p["epoch"] = 999.into();
            p["batch"] = 1_000_000_000u64.into();
        }),
    )
    .unwrap();
    let o = wavetrain_bin(&["eval", "--checkpoint", edited.to_str().unwrap()]);
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("edited.safetensors") && err.contains("epoch"),
        "{err}"
    );
}

#[test]
fn position_is_checked_against_the_batches_per_epoch() {
    let ck = sample(); // epoch 1, batch 3, step 7
    let p = Path::new("pos.safetensors");
    // 4 batches an epoch: step 1 × 4 + 3 = 7.
    ck.check_position(p, 4).unwrap();
    for (batches, word) in [(3, "batch 3"), (5, "step 7"), (2, "batch 3")] {
        let e = ck.check_position(p, batches).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        let m = e.to_string();
        assert!(m.contains("pos.safetensors") && m.contains(word), "{m}");
    }
    // A fresh checkpoint (epoch 0, batch 0, step 0) fits any data.
    let mut fresh = sample();
    fresh.progress = Progress::default();
    fresh.state.step = 0;
    fresh.check_position(p, 1).unwrap();
    fresh.check_position(p, 100).unwrap();
}

#[test]
fn a_step_that_cannot_follow_the_position_is_refused() {
    let mut ck = sample();
    ck.state.step = 3; // below epoch 1 + batch 3
    let (code, msg) = load_err(&ck.to_bytes().unwrap(), "step.safetensors");
    assert_eq!(code, 4);
    assert!(msg.contains("step 3"), "{msg}");
    let mut ck = sample();
    ck.progress = Progress {
        epoch: 0,
        history: Vec::new(),
        ..ck.progress
    };
    ck.state.step = 9; // epoch 0: exactly one step per batch
    let (_, msg) = load_err(&ck.to_bytes().unwrap(), "step.safetensors");
    assert!(msg.contains("step 9"), "{msg}");
}

#[test]
fn checksum_is_required_in_the_current_format_and_optional_in_the_old_one() {
    let bytes = sample().to_bytes().unwrap();
    let (mut header, data) = split(&bytes);
    let meta = header["__metadata__"].as_object_mut().unwrap();
    assert_eq!(meta["format"].as_str(), Some(wavetrain::checkpoint::FORMAT));
    let sum = meta[wavetrain::checkpoint::CHECKSUM_KEY]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sum.len(), 64);
    assert!(sum
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // Without the checksum: refused in the current format...
    meta.remove(wavetrain::checkpoint::CHECKSUM_KEY);
    let (code, msg) = load_err(&join(&header, &data), "nosum.safetensors");
    assert_eq!(code, 4);
    assert!(
        msg.contains("tensors_sha256") && msg.contains("nosum.safetensors"),
        "{msg}"
    );
    // ...read unchecked in the format older wavetrain wrote (even with a flipped bit).
    let meta = header["__metadata__"].as_object_mut().unwrap();
    meta.insert("format".into(), wavetrain::checkpoint::FORMAT_V1.into());
    let old = join(&header, &data);
    let ck = Checkpoint::from_bytes(&old, Path::new("old.safetensors")).unwrap();
    assert_eq!(ck.state.params, sample().state.params);
    Checkpoint::from_bytes(&flip_in_tensor(&old, "param.0"), Path::new("old")).unwrap();
    // The progress of an old checkpoint is still checked.
    let (code, _) = load_err(
        &with_progress(&old, |p| p["epoch"] = 999.into()),
        "old.safetensors",
    );
    assert_eq!(code, 4);
    // A checksum over the same tensors in another order differs (the order is fixed).
    let t = [
        ("a", &[1usize][..], &[1u8, 2, 3, 4][..]),
        ("b", &[1usize][..], &[5u8, 6, 7, 8][..]),
    ];
    let ab = wavetrain::checkpoint::tensors_sha256(t);
    let ba = wavetrain::checkpoint::tensors_sha256([t[1], t[0]]);
    assert_ne!(ab, ba);
}
