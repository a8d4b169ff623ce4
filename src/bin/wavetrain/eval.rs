//! `wavetrain eval`: a checkpoint's accuracy, loss and confusion matrix on the test split, and
//! optionally every image's prediction and readout.

use std::path::PathBuf;

use wavetrain::Result;

use crate::{data_description, load_data, resolve_data, BackendArgs};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A checkpoint.safetensors written by `wavetrain train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// A dataset by name (see `wavetrain data list`) or a folder with MNIST-format IDX files;
    /// the bundled subset when absent.
    #[arg(long, value_name = "NAME|DIR")]
    pub data: Option<PathBuf>,
    /// Use a dataset given by name even if its files' SHA-256 differ from the published ones.
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print one JSON line with the accuracy, loss, confusion matrix and the data used.
    #[arg(long)]
    pub json: bool,
    /// The system to evaluate: `model` (the ideal model, [hardware] cleared) or `hardware` (the
    /// imperfect system drawn from hardware.seed); absent: the system the run trained on.
    #[arg(long, value_name = "model|hardware")]
    pub on: Option<wavetrain::network::System>,
    /// Also write every test image's label, predicted class and readout (detector powers, or
    /// output amplitudes of a dense network) to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub outputs: Option<PathBuf>,
    /// Evaluate with the masks read back from this exported folder (`wavetrain export`) in place
    /// of the trained ones, and print the checkpoint's own accuracy beside it: the accuracy
    /// cost of the export's quantisation. Every file's SHA-256 and the checkpoint's are checked.
    #[arg(long, value_name = "DIR")]
    pub masks: Option<PathBuf>,
    /// With --masks: read the SLM bitmaps (slm) or the height maps (height); default: the
    /// bitmaps when there are some.
    #[arg(long, value_name = "slm|height", requires = "masks")]
    pub masks_from: Option<wavetrain::export::MaskKind>,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    if let Some(dir) = &a.masks {
        return eval_masks(&a, dir);
    }
    let ck = wavetrain::checkpoint::Checkpoint::load(&a.checkpoint)?;
    let cfg = ck.config();
    let (dir, _) = resolve_data(a.data.as_ref(), a.no_verify)?;
    let (_, test_set) = load_data(dir.as_ref(), cfg)?;
    let data = data_description(dir.as_ref(), cfg);
    let net = match a.on {
        Some(sys) => ck.network.on(sys)?,
        None => ck.network.clone(),
    };
    let mut backend = wavetrain::run::make_backend(
        a.backend.backend,
        a.backend.adapter.as_deref(),
        &net,
        &ck.state,
    )?;
    let e = wavetrain::train::evaluate(backend.as_mut(), cfg, &test_set, None)?;
    // Both systems' accuracies (the other one on the CPU reference engine).
    let trained = ck.network.system();
    let (model_accuracy, hardware_accuracy) = if a.on.is_none_or(|s| s == trained) {
        wavetrain::train::system_accuracies(
            &ck.network,
            backend.as_mut(),
            &test_set,
            None,
            e.accuracy,
        )?
    } else {
        let mut b = wavetrain::run::make_backend(
            wavetrain::run::BackendChoice::Cpu,
            None,
            &ck.network,
            &ck.state,
        )?;
        let acc = wavetrain::train::evaluate(b.as_mut(), cfg, &test_set, None)?.accuracy;
        wavetrain::train::system_accuracies(&ck.network, b.as_mut(), &test_set, None, acc)?
    };
    let on = a.on.unwrap_or(trained).name();
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
                "on": on,
                "target": cfg.train.target.name(),
                "model_accuracy": model_accuracy,
                "hardware_accuracy": hardware_accuracy,
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
            "accuracy {:.2}% (loss {:.4}) on {} test images of {data} ({}, on the {on})",
            100.0 * e.accuracy,
            e.loss,
            test_set.len(),
            backend.name()
        );
        if ck.network.imperfect() {
            println!(
                "model accuracy {:.2}%, hardware accuracy {:.2}%",
                100.0 * model_accuracy,
                100.0 * hardware_accuracy
            );
        }
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

/// `eval --masks DIR`: the checkpoint's accuracy and the accuracy with the exported masks, each
/// on the system the run trained on and on both systems (the CPU reference engine for the
/// other one).
fn eval_masks(a: &EvalArgs, dir: &std::path::Path) -> Result<()> {
    if a.outputs.is_some() || a.on.is_some() {
        return Err(wavetrain::Error::config(
            "--masks",
            "compares the trained and exported masks on the run's own system: drop --outputs and --on",
        ));
    }
    let masks = wavetrain::export::read_masks(dir, a.masks_from)?;
    let (ck, net, state) = wavetrain::export::with_masks(&a.checkpoint, &masks)?;
    let cfg = ck.config();
    let (_, test_set) = load_data(a.data.as_ref(), cfg)?;
    let data = data_description(a.data.as_ref(), cfg);
    let run = |net: &wavetrain::network::Network,
               state: &wavetrain::network::State|
     -> Result<(f64, f64, f64, f64, String)> {
        let mut b = wavetrain::run::make_backend(
            a.backend.backend,
            a.backend.adapter.as_deref(),
            net,
            state,
        )?;
        let e = wavetrain::train::evaluate(b.as_mut(), net.config(), &test_set, None)?;
        let (m, h) =
            wavetrain::train::system_accuracies(net, b.as_mut(), &test_set, None, e.accuracy)?;
        Ok((e.accuracy, e.loss, m, h, b.name().to_string()))
    };
    let (acc, loss, model, hw, backend) = run(&ck.network, &ck.state)?;
    let (macc, mloss, mmodel, mhw, _) = run(&net, &state)?;
    let kind = match masks.kind {
        wavetrain::export::MaskKind::Slm => "slm",
        wavetrain::export::MaskKind::Height => "height",
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "accuracy": acc,
                "loss": loss,
                "model_accuracy": model,
                "hardware_accuracy": hw,
                "masks_accuracy": macc,
                "masks_loss": mloss,
                "masks_model_accuracy": mmodel,
                "masks_hardware_accuracy": mhw,
                "masks": dir.display().to_string(),
                "masks_from": kind,
                "on": ck.network.system().name(),
                "images": test_set.len(),
                "data": data,
                "backend": backend,
                "checkpoint": a.checkpoint.display().to_string(),
            })
        );
    } else {
        let on = ck.network.system().name();
        println!(
            "accuracy {:.2}% with the trained masks, {:.2}% with the exported masks ({kind} files of {}), on {} test images of {data} ({backend}, on the {on})",
            100.0 * acc,
            100.0 * macc,
            dir.display(),
            test_set.len()
        );
        if ck.network.imperfect() {
            println!(
                "trained masks: model {:.2}%, hardware {:.2}%; exported masks: model {:.2}%, hardware {:.2}%",
                100.0 * model,
                100.0 * hw,
                100.0 * mmodel,
                100.0 * mhw
            );
        }
    }
    Ok(())
}
