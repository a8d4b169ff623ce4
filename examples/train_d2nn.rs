//! Trains the `d2nn-mnist` preset for one epoch on part of the bundled data through the library
//! API (CPU backend) and prints the test accuracy.
//!
//! Run: `cargo run --release --example train_d2nn`

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use wavetrain::cpu::CpuBackend;
use wavetrain::train::{train, RunOptions};

fn main() -> wavetrain::Result<()> {
    let mut cfg = wavetrain::presets::preset("d2nn-mnist")?;
    cfg.train.epochs = 1;
    cfg.train.max_train = Some(2000);
    let (train_set, test_set) =
        wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10)?;
    let net = cfg.resolve()?;
    let state = net.initial_state();
    let mut backend = CpuBackend::new(&net, &state)?;
    let out = std::path::PathBuf::from("out/train_d2nn");
    std::fs::create_dir_all(&out).map_err(|e| wavetrain::Error::io(&out, e))?;
    let opts = RunOptions {
        out,
        progress: true,
        stop: Arc::new(AtomicBool::new(false)),
        resume: None,
        pictures: true,
        checkpoint_every: None,
    };
    let summary = train(&net, &train_set, &test_set, &mut backend, &opts)?;
    println!(
        "test accuracy {:.1}% ({:.0} images/s)",
        100.0 * summary.test_accuracy,
        summary.images_per_second
    );
    Ok(())
}
