//! `wavetrain export` (a checkpoint's phase masks as SLM bitmaps and fabrication files) and
//! `wavetrain capture` (simulated camera frames of probe patterns on the imperfect system).

use std::path::PathBuf;

use wavetrain::capture::{parse_patterns, CaptureOptions};
use wavetrain::export::{ExportFlags, ExportOptions, DEFAULT_BASE};
use wavetrain::{Error, Result};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A run folder (its checkpoint.safetensors) or a checkpoint file.
    #[arg(value_name = "RUN_DIR|CHECKPOINT")]
    pub source: PathBuf,
    /// The new folder to write (refused if it exists and is not empty): one file per SLM and
    /// export.json, written as a whole.
    #[arg(long)]
    pub out: PathBuf,
    /// Write SLM bitmaps with this many bits per level: 8 (8-bit grey PNG), 10, 12 or 16
    /// (16-bit grey PNG holding the level itself). Default 8 unless only --height is given.
    #[arg(long, value_name = "BITS")]
    pub slm_bits: Option<u32>,
    /// Phase → level map: linear (level = round(φ/2π·2^bits) mod 2^bits), config (the
    /// checkpoint config's hardware.phase_lut) or a level,phase[,amplitude] CSV file, inverted
    /// to the level nearest each phase on the circle. Default: config when the checkpoint has a
    /// phase_lut, else linear.
    #[arg(long, value_name = "linear|config|FILE.csv")]
    pub lut: Option<String>,
    /// The SLM panel's pixels, WIDTHxHEIGHT (default: the mask's own size).
    #[arg(long, value_name = "WxH")]
    pub panel: Option<String>,
    /// Where the mask's top-left pixel goes on the panel, X,Y (default: centred).
    #[arg(long, value_name = "X,Y")]
    pub offset: Option<String>,
    /// Level of the panel outside the mask.
    #[arg(long, default_value_t = 0)]
    pub fill: u32,
    /// Panel pixels per simulated SLM pixel along each axis (a panel whose pixel is 1/R of the
    /// simulation's SLM pixel).
    #[arg(long, default_value_t = 1)]
    pub replicate: usize,
    /// Also write fabrication files: the height map h = φ·λ/(2π(n−1)) as a 16-bit PNG and a
    /// .npy in metres, and a closed STL solid (mm) of the layer on its base plate.
    #[arg(long)]
    pub height: bool,
    /// Refractive index of the layer's material at the wavelength (with --height).
    #[arg(long, allow_negative_numbers = true)]
    pub index: Option<f64>,
    /// Design wavelength in metres (with --height; default: the simulation's).
    #[arg(long, allow_negative_numbers = true)]
    pub wavelength: Option<f64>,
    /// The printer's height step in metres (with --height; default: continuous).
    #[arg(long, allow_negative_numbers = true)]
    pub step: Option<f64>,
    /// Base plate thickness in metres under the relief (with --height).
    #[arg(long, default_value_t = DEFAULT_BASE, allow_negative_numbers = true)]
    pub base: f64,
    /// Print the manifest as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// `A<sep>B` as two numbers; errors name `flag`.
fn pair(text: &str, sep: char, flag: &str, what: &str) -> Result<[usize; 2]> {
    let parts: Vec<&str> = text.split(sep).map(str::trim).collect();
    match parts[..] {
        [a, b] => match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => Ok([a, b]),
            _ => Err(Error::config(flag, format!("{text:?}: give {what}"))),
        },
        _ => Err(Error::config(flag, format!("{text:?}: give {what}"))),
    }
}

fn options(a: &ExportArgs) -> Result<ExportOptions> {
    let flags = ExportFlags {
        slm_bits: a.slm_bits,
        lut: a.lut.clone(),
        panel: a
            .panel
            .as_deref()
            .map(|p| {
                pair(
                    p,
                    'x',
                    "--panel",
                    "the panel's pixels as WIDTHxHEIGHT, e.g. 1920x1080",
                )
            })
            .transpose()?,
        offset: a
            .offset
            .as_deref()
            .map(|p| {
                pair(
                    p,
                    ',',
                    "--offset",
                    "the mask's top-left pixel as X,Y, e.g. 100,40",
                )
            })
            .transpose()?,
        fill: a.fill,
        replicate: a.replicate,
        height: a.height,
        index: a.index,
        wavelength: a.wavelength,
        step: a.step,
        base: a.base,
    };
    flags.options(&a.source)
}

pub fn export(a: ExportArgs) -> Result<()> {
    let opts = options(&a)?;
    let m = wavetrain::export::export(&a.source, &a.out, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string(&m).unwrap_or_default());
        return Ok(());
    }
    println!(
        "exported {} SLM(s) of {} (checkpoint SHA-256 {}) to {}",
        m.slms.len(),
        m.source.config_name,
        &m.source.sha256[..12],
        a.out.display()
    );
    for s in &m.slms {
        if let Some(b) = &s.bitmap {
            println!(
                "  {}: {} ({}x{} panel, {} bits, {}), max phase error {:.4} rad",
                s.name, b.png.file, b.panel[0], b.panel[1], b.bits, b.mapping, b.max_phase_error
            );
        }
        if let Some(h) = &s.height {
            println!(
                "  {}: {}, {}, {} ({} triangles), full turn {:.4e} m, max phase error {:.4} rad",
                s.name,
                h.png.file,
                h.npy.file,
                h.stl.file,
                h.stl_triangles,
                h.turn_height,
                h.max_phase_error
            );
        }
    }
    println!(
        "check the accuracy cost: wavetrain eval --checkpoint CHECKPOINT --masks {}",
        a.out.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct CaptureArgs {
    /// The config of the system to capture ([hardware] with its imperfections and camera noise).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Take the config and the masks of the inputs:N patterns from this checkpoint (with
    /// --config: the masks only, on that config's system).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Comma-separated pattern sets: blank, gratings, defocus, random (one SLM at a time, white
    /// input), inputs:N (the first N test images through the network's masks).
    #[arg(long, default_value = "blank,gratings,defocus,random")]
    pub patterns: String,
    /// The new folder to write (refused if it exists and is not empty): frames/*.png,
    /// patterns/*.npy, inputs/*.npy and captures.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Also record the plane right after each SLM.
    #[arg(long)]
    pub slm_planes: bool,
    /// Leave out the camera's shot and read noise of [hardware].
    #[arg(long)]
    pub no_noise: bool,
    /// Fixed full-scale intensity in I_sat units (default: each frame's peak).
    #[arg(long, allow_negative_numbers = true)]
    pub exposure: Option<f64>,
    /// Seed of the random phase patterns.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder with MNIST-format IDX files for inputs:N; the bundled subset when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Apply a config override KEY=VALUE (as train --set), repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the manifest's summary as one JSON line.
    #[arg(long)]
    pub json: bool,
}

pub fn capture(a: CaptureArgs) -> Result<()> {
    let patterns = parse_patterns(&a.patterns)?;
    let ck = match &a.checkpoint {
        Some(p) => {
            let file = wavetrain::export::checkpoint_file(p);
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let ck = wavetrain::checkpoint::Checkpoint::from_bytes(&bytes, &file)?;
            Some((ck, file, wavetrain::export::sha256_hex(&bytes)))
        }
        None => None,
    };
    let mut cfg = match (&a.config, &ck) {
        (Some(c), _) => wavetrain::model::Config::from_file(c)?,
        (None, Some((ck, _, _))) => ck.config().clone(),
        (None, None) => return Err(Error::config(
            "--config",
            "give the config of the system to capture (--config), or a checkpoint (--checkpoint)",
        )),
    };
    for kv in &a.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::config(
                "--set",
                format!("{kv:?}: give KEY=VALUE, e.g. hardware.shift_std=4e-6"),
            )
        })?;
        cfg = cfg.set(k.trim(), v.trim())?;
    }
    let net = cfg.resolve()?;
    let state = match &ck {
        Some((c, file, _)) => {
            net.check_state(&c.state).map_err(|e| Error::Checkpoint {
                path: file.clone(),
                message: format!("its masks do not fit the config's network: {e}"),
            })?;
            c.state.clone()
        }
        None => net.initial_state(),
    };
    let needs_data = patterns
        .iter()
        .any(|p| matches!(p, wavetrain::capture::PatternSet::Inputs(_)));
    let test = if needs_data {
        Some(crate::load_data(a.data.as_ref(), &cfg)?.1)
    } else {
        None
    };
    let source = ck
        .as_ref()
        .map(|(c, file, sha)| wavetrain::export::manifest::Source {
            checkpoint: file.display().to_string(),
            sha256: sha.clone(),
            config_name: c.config().name.clone(),
        });
    let opts = CaptureOptions {
        patterns,
        slm_planes: a.slm_planes,
        noise: !a.no_noise,
        exposure: a.exposure,
        seed: a.seed,
    };
    let m = wavetrain::capture::capture(&net, &state, source, test.as_ref(), &opts, &a.out)?;
    let saturated: usize = m.frames.iter().map(|f| f.saturated).sum();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "out": a.out.display().to_string(),
                "patterns": m.patterns.len(),
                "frames": m.frames.len(),
                "camera": m.camera,
                "saturated_pixels": saturated,
            })
        );
    } else {
        println!(
            "captured {} frames of {} patterns ({}-bit camera{}) to {}",
            m.frames.len(),
            m.patterns.len(),
            m.camera.bits,
            if m.camera.shot_noise.is_some() || m.camera.read_noise > 0.0 {
                ", with noise"
            } else {
                ", no noise"
            },
            a.out.display()
        );
        if saturated > 0 {
            eprintln!(
                "warning: {saturated} pixels were above the --exposure full scale and were clipped"
            );
        }
    }
    Ok(())
}
