//! `wavetrain.export`, `read_masks`, `evaluate_masks`, `capture`, `read_captures` and
//! `Network.from_masks`' core: the library's `export` and `capture` modules on Python values
//! (paths in, dicts and numpy arrays out).

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wavetrain::export::{ExportFlags, MaskKind};

use crate::errors::{config, guard, OrPy};

/// JSON text (`serde_json::to_string` of a library value) as a Python object.
pub fn to_python(py: Python<'_>, text: serde_json::Result<String>) -> PyResult<Bound<'_, PyAny>> {
    let text = text.map_err(|e| crate::errors::value(format!("cannot convert: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// `kind` as a mask kind, or a ConfigError naming it.
pub fn mask_kind(py: Python<'_>, kind: Option<&str>) -> PyResult<Option<MaskKind>> {
    kind.map(|k| k.parse::<MaskKind>().map_err(|e| config(py, "kind", e)))
        .transpose()
}

/// Exports the phase masks of a checkpoint (or a run folder) to the new folder `out`, as
/// `wavetrain export` does; returns the manifest (`export.json`) as a dict.
#[pyfunction]
#[pyo3(signature = (source, out, *, slm_bits = None, lut = None, panel = None, offset = None,
    fill = 0, replicate = 1, height = false, index = None, wavelength = None, step = None,
    base = 1e-3))]
#[allow(clippy::too_many_arguments)]
pub fn export<'py>(
    py: Python<'py>,
    source: PathBuf,
    out: PathBuf,
    slm_bits: Option<u32>,
    lut: Option<String>,
    panel: Option<(usize, usize)>,
    offset: Option<(usize, usize)>,
    fill: u32,
    replicate: usize,
    height: bool,
    index: Option<f64>,
    wavelength: Option<f64>,
    step: Option<f64>,
    base: f64,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "export", || {
        let flags = ExportFlags {
            slm_bits,
            lut,
            panel: panel.map(|(w, h)| [w, h]),
            offset: offset.map(|(x, y)| [x, y]),
            fill,
            replicate,
            height,
            index,
            wavelength,
            step,
            base,
        };
        let m = py
            .detach(|| {
                let opts = flags.options(&source)?;
                wavetrain::export::export(&source, &out, &opts)
            })
            .or_py(py)?;
        to_python(py, serde_json::to_string(&m))
    })
}

/// The phases read back from an exported folder, {element name: float64 array (sy, sx) in
/// [0, 2π)}, from the SLM bitmaps (`kind="slm"`, the default when there are some) or the
/// height maps (`kind="height"`); every file's SHA-256 is checked.
#[pyfunction]
#[pyo3(signature = (folder, *, kind = None))]
pub fn read_masks<'py>(
    py: Python<'py>,
    folder: PathBuf,
    kind: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(py, "read_masks", || {
        let kind = mask_kind(py, kind)?;
        let masks = py
            .detach(|| wavetrain::export::read_masks(&folder, kind))
            .or_py(py)?;
        let d = PyDict::new(py);
        for (e, (_, p)) in masks.manifest.slms.iter().zip(masks.phases) {
            let [sx, sy] = e.size;
            d.set_item(&e.name, PyArray1::from_vec(py, p).reshape([sy, sx])?)?;
        }
        Ok(d)
    })
}

/// The test accuracies of a checkpoint's trained masks and of the masks read back from an
/// exported folder (the CPU engine), as `wavetrain eval --masks --json` reports them.
#[pyfunction]
#[pyo3(signature = (checkpoint, masks, *, kind = None, data = None))]
pub fn evaluate_masks<'py>(
    py: Python<'py>,
    checkpoint: PathBuf,
    masks: PathBuf,
    kind: Option<&str>,
    data: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "evaluate_masks", || {
        let kind = mask_kind(py, kind)?;
        let c = py
            .detach(|| -> wavetrain::Result<_> {
                let m = wavetrain::export::read_masks(&masks, kind)?;
                let (ck, net, state) = wavetrain::export::with_masks(&checkpoint, &m)?;
                let (_, test) = crate::train::load_data(data.as_ref(), ck.config())?;
                wavetrain::export::compare(&ck, &net, &state, &test)
            })
            .or_py(py)?;
        to_python(py, serde_json::to_string(&c))
    })
}

/// Captures probe patterns on the imperfect system of a config (`wavetrain capture`) into the
/// new folder `out`; returns the manifest (`captures.json`) as a dict.
#[pyfunction]
#[pyo3(signature = (out, *, config = None, checkpoint = None, patterns = "blank,gratings,defocus,random",
    slm_planes = false, noise = true, exposure = None, seed = 0, data = None))]
#[allow(clippy::too_many_arguments)]
pub fn capture<'py>(
    py: Python<'py>,
    out: PathBuf,
    config: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    patterns: &str,
    slm_planes: bool,
    noise: bool,
    exposure: Option<f64>,
    seed: u64,
    data: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "capture", || {
        let m = py
            .detach(|| -> wavetrain::Result<_> {
                let patterns = wavetrain::capture::parse_patterns(patterns)?;
                let ck = match &checkpoint {
                    Some(p) => {
                        let file = wavetrain::export::checkpoint_file(p);
                        let bytes =
                            std::fs::read(&file).map_err(|e| wavetrain::Error::io(&file, e))?;
                        let ck = wavetrain::checkpoint::Checkpoint::from_bytes(&bytes, &file)?;
                        Some((ck, file, wavetrain::export::sha256_hex(&bytes)))
                    }
                    None => None,
                };
                let cfg = match (&config, &ck) {
                    (Some(c), _) => wavetrain::model::Config::from_file(c)?,
                    (None, Some((c, _, _))) => c.config().clone(),
                    (None, None) => {
                        return Err(wavetrain::Error::config(
                            "config",
                            "give the config of the system to capture, or a checkpoint",
                        ))
                    }
                };
                let net = cfg.resolve()?;
                let state = match &ck {
                    Some((c, _, _)) => {
                        net.check_state(&c.state)?;
                        c.state.clone()
                    }
                    None => net.initial_state(),
                };
                let inputs = patterns
                    .iter()
                    .any(|p| matches!(p, wavetrain::capture::PatternSet::Inputs(_)));
                let test = if inputs {
                    Some(crate::train::load_data(data.as_ref(), &cfg)?.1)
                } else {
                    None
                };
                let source = ck
                    .as_ref()
                    .map(|(c, f, sha)| wavetrain::export::manifest::Source {
                        checkpoint: f.display().to_string(),
                        sha256: sha.clone(),
                        config_name: c.config().name.clone(),
                    });
                let opts = wavetrain::capture::CaptureOptions {
                    patterns,
                    slm_planes,
                    noise,
                    exposure,
                    seed,
                };
                wavetrain::capture::capture(&net, &state, source, test.as_ref(), &opts, &out)
            })
            .or_py(py)?;
        to_python(py, serde_json::to_string(&m))
    })
}

/// A captures folder read back: `(manifest dict, float64 array (frames, ny, nx))` of the
/// frames' intensities (level × scale, I_sat units); every file's SHA-256 is checked.
#[pyfunction]
pub fn read_captures<'py>(
    py: Python<'py>,
    folder: PathBuf,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    guard(py, "read_captures", || {
        let c = py
            .detach(|| wavetrain::capture::read_captures(&folder))
            .or_py(py)?;
        let [nx, ny] = c.manifest.grid;
        let n = c.frames.len();
        let flat: Vec<f64> = c.frames.into_iter().flatten().collect();
        let arr = PyArray1::from_vec(py, flat).reshape([n, ny, nx])?;
        Ok((
            to_python(py, serde_json::to_string(&c.manifest))?,
            arr.into_any(),
        ))
    })
}

/// Fits the digital twin's `[hardware]` to a captures folder (`wavetrain calibrate`) and writes
/// the section to `out` (with its report, picture and, for `phase_lut`, the table beside it);
/// returns the fit as a dict.
#[pyfunction]
#[pyo3(signature = (config, captures, out, *, fit = "shifts,distances,fringing",
    section = "hardware", iterations = 30, lut_knots = 9, progress = false))]
#[allow(clippy::too_many_arguments)]
pub fn calibrate<'py>(
    py: Python<'py>,
    config: PathBuf,
    captures: PathBuf,
    out: PathBuf,
    fit: &str,
    section: &str,
    iterations: usize,
    lut_knots: usize,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "calibrate", || {
        let v = py
            .detach(|| -> wavetrain::Result<_> {
                let groups = wavetrain::calibrate::parse_fit(fit)?;
                if !matches!(section, "hardware" | "twin") {
                    return Err(wavetrain::Error::config(
                        "section",
                        format!("'{section}': give hardware or twin"),
                    ));
                }
                let net = wavetrain::model::Config::from_file(&config)?.resolve()?;
                let caps = wavetrain::capture::read_captures(&captures)?;
                let opts = wavetrain::calibrate::CalibrateOptions {
                    fit: groups,
                    iterations,
                    lut_knots,
                };
                let mut report = |p: &wavetrain::calibrate::Progress| {
                    if let (true, wavetrain::calibrate::Progress::Iteration(i)) = (progress, p) {
                        eprintln!("calibrate: iteration {} cost {:.6e}", i.iteration, i.cost);
                    }
                };
                let cal = wavetrain::calibrate::calibrate(&net, &caps, &opts, &mut report)?;
                let files = wavetrain::calibrate::write(&cal, &caps, &out, section)?;
                let mean = |f: fn(&wavetrain::calibrate::FrameFit) -> f64| {
                    cal.frames.iter().map(f).sum::<f64>() / cal.frames.len().max(1) as f64
                };
                Ok(serde_json::json!({
                    "files": files,
                    "parameters": cal.parameters,
                    "gain": cal.gain,
                    "converged": cal.converged,
                    "iterations": cal.iterations,
                    "frames": cal.frames,
                    "misfit_before": mean(|f| f.before),
                    "misfit_after": mean(|f| f.after),
                }))
            })
            .or_py(py)?;
        to_python(py, serde_json::to_string(&v))
    })
}
