//! `export.json`, the manifest of an exported folder: every setting, the source checkpoint's
//! SHA-256, the grid pitch and, per SLM, its files (each with its SHA-256 and size) and how to
//! turn them back into phases. Also the checks a reader of such a folder makes: the format tag,
//! each file's checksum, and that no file name leaves the folder.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The format tag of `export.json`.
pub const FORMAT: &str = "wavetrain-export-1";

/// The manifest's file name inside an exported folder.
pub const FILE: &str = "export.json";

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file of the folder: its name (relative, inside the folder), SHA-256 and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    /// Name relative to the folder (no `..`, not absolute).
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

impl FileRef {
    /// The reference to `bytes` written as `file`.
    pub fn of(file: &str, bytes: &[u8]) -> FileRef {
        FileRef {
            file: file.to_string(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        }
    }

    /// Reads the file from `dir` and checks its checksum; `manifest` names the manifest in
    /// errors ([`Error::Data`]).
    pub fn read(&self, dir: &Path, manifest: &Path) -> Result<Vec<u8>> {
        let path = inside(dir, &self.file, manifest)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let got = sha256_hex(&bytes);
        if !got.eq_ignore_ascii_case(&self.sha256) {
            return Err(Error::Data {
                path,
                message: format!(
                    "its SHA-256 is {got}, but {} records {}: the file was changed after it was written (export again, or restore the original)",
                    manifest.display(),
                    self.sha256
                ),
            });
        }
        Ok(bytes)
    }
}

/// `dir/name`, refusing a name that is absolute or leaves `dir` (`..`, a drive, a root);
/// `manifest` names the manifest that gave it.
pub fn inside(dir: &Path, name: &str, manifest: &Path) -> Result<PathBuf> {
    let p = Path::new(name);
    let plain = !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(Error::Data {
            path: manifest.to_path_buf(),
            message: format!(
                "names the file {name:?}, which is not inside its folder: a manifest names its files relative to the folder it is in, without '..' or an absolute path"
            ),
        });
    }
    Ok(dir.join(p))
}

/// Where the masks came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The checkpoint as it was given.
    pub checkpoint: String,
    /// SHA-256 of the checkpoint file's bytes.
    pub sha256: String,
    /// The network's config name.
    pub config_name: String,
}

/// The SLM-bitmap settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlmSettings {
    /// Bits per level (8, 10, 12 or 16).
    pub bits: u32,
    /// `linear`, or the lookup table file used.
    pub lut: String,
    /// Panel size `[width, height]` given (absent: each mask's own size).
    pub panel: Option<[usize; 2]>,
    /// Offset `[x, y]` of the mask's top-left pixel on the panel given (absent: centred).
    pub offset: Option<[usize; 2]>,
    /// Level of the panel outside the mask.
    pub fill: u32,
    /// Panel pixels per SLM pixel along each axis.
    pub replicate: usize,
}

/// The fabrication settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeightSettings {
    /// Refractive index of the material.
    pub index: f64,
    /// Design wavelength, metres.
    pub wavelength: f64,
    /// Printer height step, metres (absent: continuous).
    pub step: Option<f64>,
    /// Base plate thickness under the relief, metres.
    pub base: f64,
    /// Length unit of the STL files' coordinates (`mm`).
    pub stl_units: String,
}

/// Every setting of an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// SLM bitmaps, when written.
    pub slm: Option<SlmSettings>,
    /// Height maps, when written.
    pub height: Option<HeightSettings>,
}

/// The lookup table the levels were chosen through (stored so that reading back needs no
/// other file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LutTable {
    /// Levels.
    pub level: Vec<f64>,
    /// Phase at each level, radians.
    pub phase: Vec<f64>,
    /// Amplitude at each level.
    pub amplitude: Vec<f64>,
    /// SHA-256 of the CSV file it was read from.
    pub sha256: String,
}

/// One SLM's bitmap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bitmap {
    /// The PNG (8-bit grey for 8 bits, else 16-bit grey holding the level itself, not shifted).
    pub png: FileRef,
    /// Bits per level.
    pub bits: u32,
    /// Panel size `[width, height]`.
    pub panel: [usize; 2],
    /// Offset `[x, y]` of the mask's top-left pixel on the panel.
    pub offset: [usize; 2],
    /// Panel pixels per SLM pixel along each axis.
    pub replicate: usize,
    /// Level outside the mask.
    pub fill: u32,
    /// `linear` (`phase = 2π·level/2^bits`) or `lut` (the manifest's table, interpolated).
    pub mapping: String,
    /// The largest distance on the circle between a trained phase and the phase its level
    /// shows, radians.
    pub max_phase_error: f64,
}

/// One SLM's fabricated layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Height {
    /// 16-bit grey PNG: height = value × `png_scale`.
    pub png: FileRef,
    /// Metres per PNG level (the printer step, or `h_2π/65536` without one).
    pub png_scale: f64,
    /// The heights in metres, float64 `(sy, sx)` (`numpy.load`).
    pub npy: FileRef,
    /// The layer as a closed binary-STL solid (base plate and relief), in `stl_units`.
    pub stl: FileRef,
    /// Triangles of the STL.
    pub stl_triangles: usize,
    /// Height of a full turn `λ/(n−1)`, metres.
    pub turn_height: f64,
    /// The largest distance on the circle between a trained phase and the phase its height
    /// shows, radians.
    pub max_phase_error: f64,
}

/// One exported SLM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlmEntry {
    /// Config index of the SLM element.
    pub element: usize,
    /// `"elements[i] phase SLM"`.
    pub name: String,
    /// SLM pixels `[sx, sy]`.
    pub size: [usize; 2],
    /// Grid pixels per SLM pixel in the simulation.
    pub macro_pixel: usize,
    /// SLM pixel pitch in the simulation (`macro_pixel × grid pitch` at its plane), metres.
    pub pitch: f64,
    /// The SLM bitmap, when written.
    pub bitmap: Option<Bitmap>,
    /// The fabricated layer, when written.
    pub height: Option<Height>,
}

/// `export.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The wavetrain version that wrote it.
    pub version: String,
    /// The source checkpoint.
    pub source: Source,
    /// The simulation's wavelength, metres.
    pub wavelength: f64,
    /// The simulation's grid pitch at the input plane, metres.
    pub grid_pitch: f64,
    /// Every setting.
    pub settings: Settings,
    /// The lookup table of a `lut` mapping.
    pub lut: Option<LutTable>,
    /// The SLMs, in element order.
    pub slms: Vec<SlmEntry>,
}

impl Manifest {
    /// Reads `dir/export.json` and checks its format tag.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| Error::Data {
            path: path.clone(),
            message: format!("not a wavetrain export manifest ({e})"),
        })?;
        if m.format != FORMAT {
            return Err(Error::Data {
                path,
                message: format!(
                    "format tag {:?}: expected {FORMAT} (written by another program or version)",
                    m.format
                ),
            });
        }
        Ok(m)
    }
}
