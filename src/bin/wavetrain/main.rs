//! The `wavetrain` command-line tool: argument parsing here, one module per command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wavetrain::Result;

mod bench;
mod calibrate;
mod data;
mod eval;
mod export;
mod info;
mod sweep;
mod tools;
mod train;

use bench::BenchArgs;
use calibrate::CalibrateArgs;
use data::DataArgs;
use eval::EvalArgs;
use export::{CaptureArgs, ExportArgs};
use sweep::SweepArgs;
use tools::{AbsorberArgs, SamplingArgs};
use train::TrainArgs;

#[derive(Parser)]
#[command(
    name = "wavetrain",
    version,
    about = "Simulate optical neural networks with wave optics and train them with end-to-end optical backpropagation",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the saturable absorber's response curve as CSV: z,g,t_probe,g_exact,ratio.
    ///
    /// z is the input field amplitude (z² = I/I_sat), g the output field, t_probe the weak probe's
    /// field transmission (the optical "derivative"), g_exact the true derivative dg/dz and
    /// ratio = g_exact/t_probe.
    Absorber(AbsorberArgs),
    /// Check whether a grid can represent a free-space step (band limit, wrap-around).
    Sampling(SamplingArgs),
    /// Train a network: pump pass forward, electronic loss, probe pass backward, update.
    Train(TrainArgs),
    /// Evaluate a checkpoint on the test split: accuracy and confusion matrix (with --masks: with
    /// the masks read back from an exported folder, beside the checkpoint's own accuracy).
    Eval(EvalArgs),
    /// Export a checkpoint's phase masks for the bench: SLM bitmaps (grey levels through the
    /// device's lookup table, placed on the panel) and/or fabrication files (height map as
    /// 16-bit PNG and .npy, closed STL solid), with an export.json manifest.
    Export(ExportArgs),
    /// Write what a camera records on the imperfect system of a config for probe patterns
    /// (blank, one-SLM gratings, defocus, random phases, test inputs): 16-bit PNG frames and a
    /// captures.json manifest, the folder format a lab writes from its real camera.
    Capture(CaptureArgs),
    /// Fit the digital twin to camera captures: the [hardware] imperfections (SLM shifts,
    /// distance errors, fringing, the SLM lookup table, absorber optical depths) that reproduce
    /// the frames of a captures folder, with standard errors, by Levenberg–Marquardt through the
    /// simulation; writes the fitted section as TOML.
    Calibrate(CalibrateArgs),
    /// List every GPU adapter (name, backend, type, driver, key limits), which one `auto` picks,
    /// and the CPU engine's threads.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Train a network over a grid of config values (e.g. --od 0.1,1,10 --gradient optical,exact),
    /// runs in parallel, resumable; writes sweep.csv, sweep.png (test accuracy against the first
    /// swept axis that is not a seed; seeds averaged) and, for 2-D tasks, decision_boundaries.png.
    Sweep(SweepArgs),
    /// Time the FFT, a free-space step, the absorber and training steps on every backend, against
    /// the measured copy bandwidth and FLOP ceiling (table, or --json records).
    Bench(BenchArgs),
    /// Datasets by name: list them, fetch one (resumable, checksummed), verify a folder.
    Data(DataArgs),
    /// List the built-in presets, or print one as TOML.
    Presets {
        /// Print this preset's TOML.
        name: Option<String>,
    },
}

#[derive(clap::Args)]
pub struct BackendArgs {
    /// Compute backend: auto (a hardware GPU if present, else CPU; dense networks stay on the
    /// CPU), gpu (any adapter, software ones such as lavapipe included; not a dense network's
    /// fixed miscalibration, weight_error / gain_error / crosstalk) or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: wavetrain::run::BackendChoice,
    /// Pick the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
}

/// Mesa's Vulkan drivers complain on stderr ("XDG_RUNTIME_DIR is invalid or not set") when the
/// variable is missing, as it is under batch systems and in containers; give them a private
/// folder instead, before any thread starts.
#[cfg(not(unix))]
fn runtime_dir() {}

/// See the other `runtime_dir`.
#[cfg(unix)]
fn runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("wavetrain-runtime-{uid}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}

fn main() -> ExitCode {
    runtime_dir();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Absorber(a) => tools::absorber(a),
        Command::Sampling(a) => tools::sampling(a),
        Command::Train(a) => train::train(a),
        Command::Eval(a) => eval::eval(a),
        Command::Export(a) => export::export(a),
        Command::Capture(a) => export::capture(a),
        Command::Calibrate(a) => calibrate::calibrate(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Bench(a) => bench::bench(a),
        Command::Data(a) => data::data(a),
        Command::Presets { name } => tools::presets(name),
        Command::Info { json } => info::info(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// The folder a `--data` value means and the dataset it names, if any: a dataset name (see
/// `wavetrain data list`) is looked up and its files checked against their SHA-256 (unless
/// `no_verify`); anything else is a folder, as given.
pub fn resolve_data(
    arg: Option<&PathBuf>,
    no_verify: bool,
) -> Result<(Option<PathBuf>, Option<String>)> {
    match arg {
        None => Ok((None, None)),
        Some(v) => {
            let (dir, ds) = wavetrain::data::catalog::resolve(v, no_verify)?;
            Ok((Some(dir), ds.map(|d| d.name.to_string())))
        }
    }
}

/// The train and test splits of `cfg`: its generated task, or the IDX files of `dir` (the
/// bundled MNIST subset when absent); errors name `--data`.
pub fn load_data(
    dir: Option<&PathBuf>,
    cfg: &wavetrain::model::Config,
) -> Result<(wavetrain::data::Split, wavetrain::data::Split)> {
    wavetrain::launch::load_data(dir, cfg, "--data")
}

pub use wavetrain::launch::data_description;
