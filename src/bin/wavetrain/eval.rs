//! `wavetrain eval`: a checkpoint's accuracy, loss and confusion matrix on the test split, and
//! optionally every image's prediction and readout.

use std::path::PathBuf;

use wavetrain::Result;

use crate::{data_description, load_data, BackendArgs};

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
    /// Print one JSON line with the accuracy, loss, confusion matrix and the data used.
    #[arg(long)]
    pub json: bool,
    /// Also write every test image's label, predicted class and readout (detector powers, or
    /// output amplitudes of a dense network) to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub outputs: Option<PathBuf>,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let ck = wavetrain::checkpoint::Checkpoint::load(&a.checkpoint)?;
    let cfg = ck.config();
    let (_, test_set) = load_data(a.data.as_ref(), cfg)?;
    let data = data_description(a.data.as_ref(), cfg);
    let mut backend = wavetrain::run::make_backend(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &ck.network,
        &ck.state,
    )?;
    let e = wavetrain::train::evaluate(backend.as_mut(), cfg, &test_set, None)?;
    if let Some(path) = &a.outputs {
        let k = cfg.readout.classes;
        let mut csv = String::from("index,label,predicted");
        for j in 0..k {
            csv.push_str(&format!(",readout_{j}"));
        }
        csv.push('\n');
        for (i, (row, &pred)) in e.readout.chunks_exact(k).zip(&e.predictions).enumerate() {
            csv.push_str(&format!("{i},{},{pred}", test_set.labels[i]));
            for v in row {
                csv.push_str(&format!(",{v:e}"));
            }
            csv.push('\n');
        }
        wavetrain::io::atomic_write(path, csv.as_bytes())?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "accuracy": e.accuracy,
                "loss": e.loss,
                "confusion": e.confusion,
                "images": test_set.len(),
                "data": data,
                "backend": backend.name(),
                "checkpoint": a.checkpoint.display().to_string(),
            })
        );
    } else {
        println!(
            "accuracy {:.2}% (loss {:.4}) on {} test images of {data} ({})",
            100.0 * e.accuracy,
            e.loss,
            test_set.len(),
            backend.name()
        );
        println!("confusion matrix (rows: true class, columns: predicted):");
        for (i, row) in e.confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:4}")).collect();
            println!("{i:>3} |{}", cells.join(""));
        }
        if let Some(p) = &a.outputs {
            println!("per-image outputs written to {}", p.display());
        }
    }
    Ok(())
}
