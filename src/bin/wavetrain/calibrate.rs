//! `wavetrain calibrate`: fits the digital twin's `[hardware]` to a captures folder.

use std::io::Write;
use std::path::PathBuf;

use wavetrain::calibrate::{parse_fit, CalibrateOptions, Progress};
use wavetrain::{Error, Result};

#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// The nominal config of the captured system (its [hardware], if any, is the starting
    /// point; its fixed options that are not fitted are kept).
    #[arg(long)]
    pub config: PathBuf,
    /// The captures folder (`wavetrain capture`, or a lab's camera in the same format).
    #[arg(long)]
    pub captures: PathBuf,
    /// Comma-separated parameter groups to fit: shifts, distances, fringing, phase_lut, od,
    /// gain (the camera's intensity scale, for a camera not calibrated in I_sat).
    #[arg(long, default_value = "shifts,distances,fringing")]
    pub fit: String,
    /// The TOML file to write (its [hardware] section); beside it <stem>.calibration.json (every
    /// parameter with its standard error, each frame's misfit), <stem>.calibration.png and,
    /// with phase_lut, <stem>.lut.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// The section to write: hardware (drops into a config as its [hardware]) or twin (the
    /// model of a run on the real system, `[twin]`).
    #[arg(long, default_value = "hardware", value_name = "hardware|twin")]
    pub section: String,
    /// Most Levenberg–Marquardt iterations.
    #[arg(long, default_value_t = 30)]
    pub iterations: usize,
    /// Knots of the fitted lookup table (phase_lut), equally spaced over the drive levels.
    #[arg(long, default_value_t = 9)]
    pub lut_knots: usize,
    /// Apply a config override KEY=VALUE (as train --set), repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the result as one JSON line (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn calibrate(a: CalibrateArgs) -> Result<()> {
    let fit = parse_fit(&a.fit)?;
    if !matches!(a.section.as_str(), "hardware" | "twin") {
        return Err(Error::config(
            "--section",
            format!("'{}': give hardware or twin", a.section),
        ));
    }
    let mut cfg = wavetrain::model::Config::from_file(&a.config)?;
    for kv in &a.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::config(
                "--set",
                format!("{kv:?}: give KEY=VALUE, e.g. hardware.fringing=0.5"),
            )
        })?;
        cfg = cfg.set(k.trim(), v.trim())?;
    }
    let net = cfg.resolve()?;
    let caps = wavetrain::capture::read_captures(&a.captures)?;
    let opts = CalibrateOptions {
        fit,
        iterations: a.iterations,
        lut_knots: a.lut_knots,
    };
    let t0 = std::time::Instant::now();
    let mut progress = |p: &Progress| {
        let mut e = std::io::stderr();
        let _ = match p {
            Progress::Start {
                cost,
                parameters,
                residuals,
            } => writeln!(
                e,
                "calibrate: {parameters} parameters, {residuals} pixels of {} frames; cost {cost:.6e} on the starting system",
                caps.frames.len()
            ),
            Progress::Iteration(i) => writeln!(
                e,
                "  iteration {:>3}: cost {:.6e}  (damping {:.1e}, {} simulations, {:.1} s)",
                i.iteration,
                i.cost,
                i.lambda,
                i.evaluations,
                t0.elapsed().as_secs_f64()
            ),
        };
    };
    let cal = wavetrain::calibrate::calibrate(&net, &caps, &opts, &mut progress)?;
    let w = wavetrain::calibrate::write(&cal, &caps, &a.out, &a.section)?;
    let mean = |f: fn(&wavetrain::calibrate::FrameFit) -> f64| {
        cal.frames.iter().map(f).sum::<f64>() / cal.frames.len().max(1) as f64
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "out": w,
                "parameters": cal.parameters,
                "gain": cal.gain,
                "converged": cal.converged,
                "iterations": cal.iterations.len(),
                "misfit_before": mean(|f| f.before),
                "misfit_after": mean(|f| f.after),
            })
        );
        return Ok(());
    }
    println!(
        "fitted {} parameters in {} iterations{}: mean misfit of a frame {:.2} % -> {:.2} %",
        cal.parameters.len(),
        cal.iterations.len(),
        if cal.converged {
            ""
        } else {
            " (the iteration limit: raise --iterations)"
        },
        100.0 * mean(|f| f.before),
        100.0 * mean(|f| f.after)
    );
    for p in &cal.parameters {
        let sigma = p
            .sigma
            .map_or_else(|| "unconstrained".to_string(), |s| format!("± {s:.3e}"));
        println!(
            "  {:<36} {:>12.5e} {sigma:<14} {}{}",
            p.name,
            p.value,
            p.unit,
            if p.at_bound { "  (at its bound)" } else { "" }
        );
    }
    println!("wrote {}", w.toml.display());
    if let Some(l) = &w.lut {
        println!("wrote {}", l.display());
    }
    println!("wrote {}", w.report.display());
    println!("wrote {}", w.picture.display());
    Ok(())
}
