//! A network description: optics, input encoding, the ordered list of elements, readout and
//! training settings. Read from TOML; unknown keys and out-of-range values are errors naming the key.

use serde::{Deserialize, Serialize};

use crate::cpu::Region;
use crate::error::{Error, Result};
use crate::optics::{sampling_report, AbsorberModel};

/// The whole description of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A name for the run folder and reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// Wavelength, pitch, grid, padding.
    pub optics: Optics,
    /// How an image becomes a field.
    pub input: Input,
    /// The optical elements from input to detectors.
    pub elements: Vec<Element>,
    /// Detectors and loss.
    pub readout: Readout,
    /// Optimiser and schedule.
    #[serde(default)]
    pub train: Train,
}

fn default_name() -> String {
    "custom".into()
}

/// Sampling of the optical planes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Optics {
    /// Wavelength in metres (780e-9 is the rubidium D2 line).
    pub wavelength: f64,
    /// Pixel pitch of the grid in metres.
    pub pitch: f64,
    /// Grid width in pixels.
    pub nx: usize,
    /// Grid height in pixels.
    pub ny: usize,
    /// Zero-padding factor for free-space steps (≥ 1; 2 avoids wrap-around).
    #[serde(default = "default_padding")]
    pub padding: f64,
    /// Apply the Matsushima–Shimobaba band limit.
    #[serde(default = "yes")]
    pub band_limit: bool,
}

fn default_padding() -> f64 {
    2.0
}
fn yes() -> bool {
    true
}

/// Input encoding: image pixel value → field amplitude.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Intensity of a white pixel, in units of the absorber saturation intensity `I_sat`.
    pub intensity: f64,
    /// Side of the resampled image on the grid, in pixels (centred).
    pub size: usize,
}

/// One optical element.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Element {
    /// Trainable phase-only SLM.
    Phase {
        /// Each SLM pixel spans `macro_pixel × macro_pixel` grid pixels.
        #[serde(default = "one")]
        macro_pixel: usize,
        /// Standard deviation of the random initial phase (radians).
        #[serde(default)]
        init_std: f64,
    },
    /// Trainable signed-amplitude SLM, `|w| ≤ 1`.
    Amplitude {
        /// Each SLM pixel spans `macro_pixel × macro_pixel` grid pixels.
        #[serde(default = "one")]
        macro_pixel: usize,
        /// Initial value of every weight.
        #[serde(default = "one_f")]
        init: f64,
    },
    /// Free space over `distance` metres (angular spectrum).
    FreeSpace {
        /// Distance in metres.
        distance: f64,
    },
    /// Thin lens of focal length `focal_length` metres (a fixed phase mask).
    Lens {
        /// Focal length in metres.
        focal_length: f64,
    },
    /// 2f system: the next plane is the Fourier plane, pitch `λf/(N·dx)`.
    Fourier {
        /// Focal length in metres.
        focal_length: f64,
    },
    /// Saturable absorber, one per pixel.
    Absorber {
        /// Optical depth α₀ ≥ 0.
        od: f64,
        /// `thin` or `beer-lambert`.
        #[serde(default)]
        model: AbsorberModel,
    },
}

fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}

/// Loss on the detector powers.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Softmax cross-entropy on normalised powers `P_k/ΣP` divided by the temperature.
    CrossEntropy,
    /// Mean squared error between normalised powers and the one-hot label.
    Mse,
}

/// Detectors and loss.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Readout {
    /// Number of classes (= detector regions).
    #[serde(default = "ten")]
    pub classes: usize,
    /// Side of each square detector in pixels, used when `regions` is empty.
    #[serde(default = "default_det")]
    pub detector_size: usize,
    /// Explicit regions; when empty they are laid out automatically (3-4-3 rows for 10 classes).
    #[serde(default)]
    pub regions: Vec<Region>,
    /// The loss.
    #[serde(default = "default_loss")]
    pub loss: Loss,
    /// Softmax temperature on the normalised powers.
    #[serde(default = "default_temp")]
    pub temperature: f64,
}

fn ten() -> usize {
    10
}
fn default_det() -> usize {
    5
}
fn default_loss() -> Loss {
    Loss::CrossEntropy
}
fn default_temp() -> f64 {
    0.05
}

/// Optimiser choice.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Adam.
    Adam,
    /// Plain SGD.
    Sgd,
}

/// How the probe passes an absorber.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GradientMode {
    /// The weak probe's transmission `t(s)`: what the hardware measures.
    Optical,
    /// The true derivative (autodiff), for comparison.
    Exact,
}

impl std::str::FromStr for GradientMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "optical" => Ok(GradientMode::Optical),
            "exact" => Ok(GradientMode::Exact),
            _ => Err(format!(
                "unknown gradient mode '{s}': use 'optical' or 'exact'"
            )),
        }
    }
}

/// Training settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Train {
    /// Adam or SGD.
    #[serde(default = "default_opt")]
    pub optimizer: Optimizer,
    /// Learning rate.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Images per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Passes over the training set.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Seed for initialisation and shuffling.
    #[serde(default)]
    pub seed: u64,
    /// Optical (default) or exact gradient through the absorbers.
    #[serde(default = "default_grad")]
    pub gradient: GradientMode,
    /// Use at most this many training images (all when absent).
    #[serde(default)]
    pub max_train: Option<usize>,
}

fn default_opt() -> Optimizer {
    Optimizer::Adam
}
fn default_lr() -> f64 {
    0.05
}
fn default_batch() -> usize {
    64
}
fn default_epochs() -> usize {
    5
}
fn default_grad() -> GradientMode {
    GradientMode::Optical
}

impl Default for Train {
    fn default() -> Self {
        Train {
            optimizer: default_opt(),
            lr: default_lr(),
            batch: default_batch(),
            epochs: default_epochs(),
            seed: 0,
            gradient: default_grad(),
            max_train: None,
        }
    }
}

fn positive(key: &str, v: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be a positive {unit}, got {v}"),
        ))
    }
}

impl Config {
    /// Parses TOML text; `source` names the file in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Self> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let key = match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("{source} (line {line})")
                }
                None => source.to_string(),
            };
            Error::config(key, msg)
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// TOML text of this config.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value: physics (positive wavelength, pitch and distances, `α₀ ≥ 0`), sizes,
    /// macro-pixels that tile the grid, detectors inside the grid, training settings.
    pub fn validate(&self) -> Result<()> {
        let o = &self.optics;
        positive("optics.wavelength", o.wavelength, "length in metres")?;
        positive("optics.pitch", o.pitch, "length in metres")?;
        if o.wavelength > 1e-3 || o.pitch > 1e-2 {
            return Err(Error::config("optics", format!("wavelength {} m / pitch {} m look like wrong units: give metres (780e-9, 8e-6)", o.wavelength, o.pitch)));
        }
        crate::grid::Grid::new(o.nx, o.ny, o.pitch).map_err(|e| match e {
            Error::Config { key, message } => {
                Error::config(key.replace("grid.", "optics."), message)
            }
            other => other,
        })?;
        if !(o.padding.is_finite() && (1.0..=8.0).contains(&o.padding)) {
            return Err(Error::config(
                "optics.padding",
                format!("must be between 1 and 8, got {}", o.padding),
            ));
        }
        positive(
            "input.intensity",
            self.input.intensity,
            "intensity in units of I_sat",
        )?;
        if self.input.size == 0 || self.input.size > o.nx || self.input.size > o.ny {
            return Err(Error::config(
                "input.size",
                format!(
                    "{} does not fit the {}×{} grid: use 1..={}",
                    self.input.size,
                    o.nx,
                    o.ny,
                    o.nx.min(o.ny)
                ),
            ));
        }
        if self.elements.is_empty() {
            return Err(Error::config(
                "elements",
                "the network has no elements: add at least one [[elements]] table",
            ));
        }
        let mut trainable = 0;
        let mut square_needed = false;
        for (i, el) in self.elements.iter().enumerate() {
            let key = |f: &str| format!("elements[{i}].{f}");
            match *el {
                Element::Phase {
                    macro_pixel,
                    init_std,
                } => {
                    trainable += 1;
                    check_macro(&key("macro_pixel"), macro_pixel, o.nx, o.ny)?;
                    if !(init_std.is_finite() && init_std >= 0.0) {
                        return Err(Error::config(
                            key("init_std"),
                            format!("must be ≥ 0 radians, got {init_std}"),
                        ));
                    }
                }
                Element::Amplitude { macro_pixel, init } => {
                    trainable += 1;
                    check_macro(&key("macro_pixel"), macro_pixel, o.nx, o.ny)?;
                    if !(init.is_finite() && init.abs() <= 1.0) {
                        return Err(Error::config(
                            key("init"),
                            format!("an amplitude SLM holds weights in [−1, 1], got {init}"),
                        ));
                    }
                }
                Element::FreeSpace { distance } => {
                    if !(distance.is_finite() && distance > 0.0) {
                        return Err(Error::config(
                            key("distance"),
                            format!("must be a positive length in metres, got {distance}"),
                        ));
                    }
                }
                Element::Lens { focal_length } => {
                    if !(focal_length.is_finite() && focal_length != 0.0) {
                        return Err(Error::config(
                            key("focal_length"),
                            format!("must be a non-zero length in metres, got {focal_length}"),
                        ));
                    }
                }
                Element::Fourier { focal_length } => {
                    positive(&key("focal_length"), focal_length, "length in metres")?;
                    square_needed = true;
                }
                Element::Absorber { od, .. } => {
                    if !(od.is_finite() && (0.0..=1000.0).contains(&od)) {
                        return Err(Error::config(
                            key("od"),
                            format!("optical depth must be between 0 and 1000, got {od}"),
                        ));
                    }
                }
            }
        }
        if square_needed && (o.nx != o.ny || o.nx % 2 == 1) {
            return Err(Error::config(
                "optics",
                "a 'fourier' (2f lens) element needs a square grid with an even side",
            ));
        }
        if trainable == 0 {
            return Err(Error::config(
                "elements",
                "nothing to train: add a 'phase' or 'amplitude' element",
            ));
        }
        let r = &self.readout;
        if !(2..=256).contains(&r.classes) {
            return Err(Error::config(
                "readout.classes",
                format!("must be between 2 and 256, got {}", r.classes),
            ));
        }
        positive("readout.temperature", r.temperature, "number")?;
        let regions = self.regions()?;
        for (k, reg) in regions.iter().enumerate() {
            if !reg.fits(o.nx, o.ny) {
                return Err(Error::config(
                    format!("readout.regions[{k}]"),
                    format!("{reg:?} does not fit the {}×{} grid", o.nx, o.ny),
                ));
            }
        }
        let t = &self.train;
        positive("train.lr", t.lr, "number")?;
        if t.batch == 0 || t.batch > 65536 {
            return Err(Error::config(
                "train.batch",
                format!("must be between 1 and 65536, got {}", t.batch),
            ));
        }
        if t.max_train == Some(0) {
            return Err(Error::config("train.max_train", "must be at least 1"));
        }
        Ok(())
    }

    /// The detector regions: the explicit list, or the automatic layout.
    pub fn regions(&self) -> Result<Vec<Region>> {
        let r = &self.readout;
        if !r.regions.is_empty() {
            if r.regions.len() != r.classes {
                return Err(Error::config(
                    "readout.regions",
                    format!(
                        "{} regions for {} classes: give one region per class",
                        r.regions.len(),
                        r.classes
                    ),
                ));
            }
            return Ok(r.regions.clone());
        }
        layout_regions(r.classes, r.detector_size, self.optics.nx, self.optics.ny)
            .ok_or_else(|| Error::config("readout.detector_size", format!("{} detectors of {} pixels do not fit the {}×{} grid: use smaller detectors or a larger grid", r.classes, r.detector_size, self.optics.nx, self.optics.ny)))
    }

    /// Sampling warnings for every free-space step (pitch changes after a 2f lens are followed).
    pub fn sampling_warnings(&self) -> Vec<String> {
        let o = &self.optics;
        let mut dx = o.pitch;
        let mut out = Vec::new();
        for (i, el) in self.elements.iter().enumerate() {
            match *el {
                Element::FreeSpace { distance } => {
                    let r = sampling_report(o.nx, o.ny, dx, o.padding, o.wavelength, distance);
                    out.extend(
                        r.warnings()
                            .into_iter()
                            .map(|w| format!("elements[{i}]: {w}")),
                    );
                }
                Element::Fourier { focal_length } => {
                    dx = crate::optics::lens::fourier_pitch(o.nx, dx, o.wavelength, focal_length);
                }
                _ => {}
            }
        }
        out
    }
}

fn check_macro(key: &str, k: usize, nx: usize, ny: usize) -> Result<()> {
    if k == 0 || nx % k != 0 || ny % k != 0 {
        return Err(Error::config(
            key,
            format!("{k} does not divide the {nx}×{ny} grid: SLM pixels must tile the grid"),
        ));
    }
    Ok(())
}

/// Square detectors of side `d`: 3-4-3 rows for 10 classes, otherwise rows of `⌈√n⌉`, centred,
/// with gaps of `d/2` (rounded up). `None` when they do not fit.
pub fn layout_regions(n: usize, d: usize, nx: usize, ny: usize) -> Option<Vec<Region>> {
    if d == 0 {
        return None;
    }
    let rows: Vec<usize> = if n == 10 {
        vec![3, 4, 3]
    } else {
        let per = (n as f64).sqrt().ceil() as usize;
        let mut v = vec![per; n / per];
        if n % per != 0 {
            v.push(n % per);
        }
        v
    };
    let gap = d.div_ceil(2).max(1);
    let pitch = d + gap;
    let widest = *rows.iter().max()?;
    let (w, h) = (widest * pitch - gap, rows.len() * pitch - gap);
    if w > nx || h > ny {
        return None;
    }
    let y0 = (ny - h) / 2;
    let mut out = Vec::with_capacity(n);
    for (ri, &count) in rows.iter().enumerate() {
        let rw = count * pitch - gap;
        let x0 = (nx - rw) / 2;
        for c in 0..count {
            out.push(Region {
                x0: x0 + c * pitch,
                y0: y0 + ri * pitch,
                w: d,
                h: d,
            });
        }
    }
    Some(out)
}
