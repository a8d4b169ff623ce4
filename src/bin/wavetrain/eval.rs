//! `wavetrain eval`: a checkpoint's accuracy and confusion matrix on the test split.

use std::path::PathBuf;

use wavetrain::Result;

use crate::{load_data, BackendArgs};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A checkpoint.safetensors written by `wavetrain train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Folder with MNIST-format IDX files; the bundled subset when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print one JSON line with the accuracy and confusion matrix.
    #[arg(long)]
    pub json: bool,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let ck = wavetrain::checkpoint::Checkpoint::load(&a.checkpoint)?;
    let cfg = ck.config();
    let (_, test_set) = load_data(a.data.as_ref(), cfg)?;
    let mut backend = wavetrain::run::make_backend(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &ck.network,
        &ck.state,
    )?;
    let (acc, conf) = wavetrain::train::evaluate(backend.as_mut(), cfg, &test_set)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"accuracy": acc, "confusion": conf, "images": test_set.len(), "backend": backend.name()})
        );
    } else {
        println!(
            "accuracy {:.2}% on {} test images ({})",
            100.0 * acc,
            test_set.len(),
            backend.name()
        );
        println!("confusion matrix (rows: true class, columns: predicted):");
        for (i, row) in conf.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:4}")).collect();
            println!("{i:>3} |{}", cells.join(""));
        }
    }
    Ok(())
}
