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
    /// Wavelength, pitch, grid, padding (defaults suit dense networks, which have no grid).
    #[serde(default)]
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
    /// Hardware non-idealities (noise, bit depths, probe power); all off by default.
    #[serde(default)]
    pub hardware: Hardware,
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
    #[serde(default = "default_n")]
    pub nx: usize,
    /// Grid height in pixels.
    #[serde(default = "default_n")]
    pub ny: usize,
    /// Zero-padding factor for free-space steps (≥ 1; 2 avoids wrap-around).
    #[serde(default = "default_padding")]
    pub padding: f64,
    /// Apply the Matsushima–Shimobaba band limit.
    #[serde(default = "yes")]
    pub band_limit: bool,
}

impl Default for Optics {
    fn default() -> Self {
        Optics {
            wavelength: 780e-9,
            pitch: 8e-6,
            nx: default_n(),
            ny: default_n(),
            padding: default_padding(),
            band_limit: true,
        }
    }
}

fn default_n() -> usize {
    64
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
    /// Side of the resampled image on the grid, in pixels (centred); for dense networks the
    /// image is resampled to `size × size` inputs.
    #[serde(default = "default_size")]
    pub size: usize,
    /// A generated 2-D classification task instead of image files (dense networks only): the
    /// input is the point `(x, y)` as two signed field amplitudes.
    #[serde(default)]
    pub task: Option<Task>,
    /// Training points of a generated task (half as many test points).
    #[serde(default = "default_points")]
    pub points: usize,
    /// Standard deviation of the Gaussian jitter of a generated task's points.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// Dense networks: a constant extra input of this field amplitude (a bias beam); 0 for none.
    #[serde(default)]
    pub bias: f64,
}

fn default_size() -> usize {
    28
}
fn default_points() -> usize {
    1000
}
fn default_jitter() -> f64 {
    0.1
}

/// A generated 2-D classification task (two classes).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// A disc inside a ring.
    Rings,
    /// Two interleaved half-moons.
    Moons,
    /// Two interleaved spiral arms.
    Spirals,
}

impl Task {
    /// All tasks, in the order presets and reports use.
    pub const ALL: [Task; 3] = [Task::Rings, Task::Moons, Task::Spirals];
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Task::Rings => "rings",
            Task::Moons => "moons",
            Task::Spirals => "spirals",
        }
    }
}

/// How faithfully a dense layer's optical matrix–vector multiplier is simulated.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Fidelity {
    /// The matrix product `z = gain·W a`, weights bounded `|w| ≤ 1`.
    #[default]
    Ideal,
    /// The physical multiplier: fan-out lens, pixelated weight SLM with fill factor, imaging
    /// aperture and summing lens, simulated with the wave engine.
    Wave,
    /// A plain digital layer (unbounded weights, no hardware effects): the baseline.
    Digital,
}

/// Hardware non-idealities of dense (matrix–vector) networks. Every option defaults to off.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Multiplicative Gaussian error on each matrix–vector output, relative (the papers'
    /// "signal error"): `z ← z·(1 + σ·ξ)`.
    #[serde(default)]
    pub signal_error: f64,
    /// Additive Gaussian error on each matrix–vector output, relative to the batch's largest
    /// `|z|` (the papers' "noise error").
    #[serde(default)]
    pub noise_error: f64,
    /// Photo-electrons a camera pixel collects at full scale; shot noise on the measured forward
    /// and probe beams used for the weight gradient (absent: no shot noise).
    #[serde(default)]
    pub shot_noise: Option<f64>,
    /// Camera read noise, relative to full-scale intensity.
    #[serde(default)]
    pub read_noise: f64,
    /// Camera bit depth for the measured beams (absent: exact values).
    #[serde(default)]
    pub camera_bits: Option<u32>,
    /// SLM bit depth: weights are shown quantised, updates kept on a full-precision copy.
    #[serde(default)]
    pub slm_bits: Option<u32>,
    /// Peak probe intensity at the absorbers in units of `I_sat` (0: a weak probe). A probe that
    /// is not weak partly saturates the absorber itself.
    #[serde(default)]
    pub probe_power: f64,
}

impl Hardware {
    /// True when every option is off.
    pub fn is_ideal(&self) -> bool {
        *self == Hardware::default()
    }

    /// The options the GPU executor of dense networks cannot run (they draw random numbers or
    /// need a batch-wide maximum), or `None` when it can run all that are on. SLM bit depth runs
    /// on the GPU.
    pub fn gpu_unsupported(&self) -> Option<&'static str> {
        if self.signal_error != 0.0 || self.noise_error != 0.0 {
            Some("hardware.signal_error / hardware.noise_error")
        } else if self.shot_noise.is_some() || self.read_noise != 0.0 || self.camera_bits.is_some()
        {
            Some("hardware.shot_noise / read_noise / camera_bits")
        } else if self.probe_power != 0.0 {
            Some("hardware.probe_power")
        } else {
            None
        }
    }

    /// The error for a dense network whose hardware options the GPU cannot run.
    pub fn check_gpu(&self) -> Result<()> {
        match self.gpu_unsupported() {
            Some(what) => Err(Error::config(
                "backend",
                format!("{what} draw random numbers or need a batch-wide maximum, which the GPU executor of dense networks does not do yet: use --backend cpu"),
            )),
            None => Ok(()),
        }
    }
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
    /// Fully connected optical layer `z = gain·W a` on signed real field amplitudes: an SLM
    /// holding `W` (`|w| ≤ 1`) between a fan-out lens and a summing lens (dense networks).
    Dense {
        /// Output size.
        out: usize,
        /// `ideal`, `wave` or `digital`.
        #[serde(default)]
        fidelity: Fidelity,
        /// Per-layer gain (the optical power budget), `> 0`.
        #[serde(default = "one_f")]
        gain: f64,
        /// Standard deviation of the initial weights (default `1/√in`).
        #[serde(default)]
        init_std: Option<f64>,
        /// Wave fidelity: fraction of each SLM pixel that modulates (0 < f ≤ 1).
        #[serde(default = "one_f")]
        fill_factor: f64,
        /// Wave fidelity: numerical aperture of the optics imaging the input onto the weight
        /// SLM (absent: unlimited).
        #[serde(default)]
        na: Option<f64>,
        /// Wave fidelity: focal length of the cylindrical fan-out lens in metres; a finite lens
        /// spreads the input with a sinc envelope (absent: uniform fan-out).
        #[serde(default)]
        fanout_focal_length: Option<f64>,
        /// Wave fidelity: grid samples per SLM pixel.
        #[serde(default = "default_samples")]
        samples: usize,
    },
    /// Digital ReLU (baseline networks only; not an optical element).
    Relu,
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
fn default_samples() -> usize {
    8
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
        if self.is_dense() {
            return self.validate_dense();
        }
        if let Some(i) = self
            .elements
            .iter()
            .position(|e| matches!(e, Element::Relu))
        {
            return Err(Error::config(
                format!("elements[{i}]"),
                "'relu' is a digital activation for dense networks: use an 'absorber' in a diffractive network",
            ));
        }
        if self.input.task.is_some() {
            return Err(Error::config(
                "input.task",
                "generated 2-D tasks feed dense networks: add 'dense' layers or remove input.task",
            ));
        }
        if self.input.bias != 0.0 {
            return Err(Error::config(
                "input.bias",
                "a bias input belongs to dense networks: remove input.bias",
            ));
        }
        if !self.hardware.is_ideal() {
            return Err(Error::config(
                "hardware",
                "hardware non-idealities are modelled for dense (matrix–vector) networks only: remove the [hardware] table",
            ));
        }
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
                Element::Absorber { od, .. } => check_od(&key("od"), od)?,
                Element::Dense { .. } | Element::Relu => unreachable!("handled by validate_dense"),
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
        self.validate_train()
    }

    fn validate_train(&self) -> Result<()> {
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

    /// True when the network is made of dense (matrix–vector) layers rather than a field on a grid.
    pub fn is_dense(&self) -> bool {
        self.elements
            .iter()
            .any(|e| matches!(e, Element::Dense { .. }))
    }

    /// Values per encoded example: `nx·ny` for a field, `size²` (or 2 for a 2-D task) for a
    /// dense network.
    pub fn input_len(&self) -> usize {
        if self.is_dense() {
            let bias = usize::from(self.input.bias != 0.0);
            bias + match self.input.task {
                Some(_) => 2,
                None => self.input.size * self.input.size,
            }
        } else {
            self.optics.nx * self.optics.ny
        }
    }

    /// `(in, out)` of each dense layer in order (empty for field networks).
    pub fn dense_dims(&self) -> Vec<(usize, usize)> {
        let mut n = self.input_len();
        let mut out = Vec::new();
        for e in &self.elements {
            if let Element::Dense { out: m, .. } = *e {
                out.push((n, m));
                n = m;
            }
        }
        out
    }

    fn validate_dense(&self) -> Result<()> {
        let inp = &self.input;
        positive(
            "input.intensity",
            inp.intensity,
            "intensity in units of I_sat",
        )?;
        if !(inp.bias.is_finite() && inp.bias.abs() <= 1e6) {
            return Err(Error::config(
                "input.bias",
                format!("must be a finite field amplitude, got {}", inp.bias),
            ));
        }
        if inp.task.is_some() {
            if inp.points < 10 || inp.points > 10_000_000 {
                return Err(Error::config(
                    "input.points",
                    format!("must be between 10 and 10000000, got {}", inp.points),
                ));
            }
            if !(inp.jitter.is_finite() && inp.jitter >= 0.0) {
                return Err(Error::config(
                    "input.jitter",
                    format!("must be ≥ 0, got {}", inp.jitter),
                ));
            }
        } else if inp.size == 0 || inp.size > 1024 {
            return Err(Error::config(
                "input.size",
                format!("must be between 1 and 1024 pixels, got {}", inp.size),
            ));
        }
        let mut n = self.input_len();
        for (i, el) in self.elements.iter().enumerate() {
            let key = |f: &str| format!("elements[{i}].{f}");
            match *el {
                Element::Dense {
                    out,
                    fidelity,
                    gain,
                    init_std,
                    fill_factor,
                    na,
                    fanout_focal_length,
                    samples,
                } => {
                    if out == 0 || out > 65536 {
                        return Err(Error::config(
                            key("out"),
                            format!("must be between 1 and 65536, got {out}"),
                        ));
                    }
                    if n.saturating_mul(out) > 1 << 28 {
                        return Err(Error::config(
                            key("out"),
                            format!("a {out}×{n} weight matrix is larger than 2^28 values: use a smaller layer"),
                        ));
                    }
                    positive(&key("gain"), gain, "number")?;
                    if let Some(s) = init_std {
                        positive(&key("init_std"), s, "number")?;
                    }
                    if fidelity == Fidelity::Wave {
                        if !(fill_factor.is_finite() && fill_factor > 0.0 && fill_factor <= 1.0) {
                            return Err(Error::config(
                                key("fill_factor"),
                                format!("must be in (0, 1], got {fill_factor}"),
                            ));
                        }
                        if let Some(a) = na {
                            if !(a.is_finite() && a > 0.0 && a <= 1.0) {
                                return Err(Error::config(
                                    key("na"),
                                    format!("a numerical aperture is in (0, 1], got {a}"),
                                ));
                            }
                        }
                        if let Some(f) = fanout_focal_length {
                            positive(&key("fanout_focal_length"), f, "length in metres")?;
                        }
                        if !(1..=64).contains(&samples) {
                            return Err(Error::config(
                                key("samples"),
                                format!("must be between 1 and 64, got {samples}"),
                            ));
                        }
                        positive("optics.wavelength", self.optics.wavelength, "length in metres")?;
                        positive("optics.pitch", self.optics.pitch, "length in metres")?;
                    }
                    n = out;
                }
                Element::Absorber { od, .. } => check_od(&key("od"), od)?,
                Element::Relu => {}
                _ => {
                    return Err(Error::config(
                        format!("elements[{i}]"),
                        "a dense network holds only 'dense', 'absorber' and 'relu' elements: field elements (SLMs, free space, lenses) belong in a separate diffractive network",
                    ))
                }
            }
        }
        let r = &self.readout;
        if n != r.classes {
            return Err(Error::config(
                "readout.classes",
                format!(
                    "the last dense layer has {n} outputs but readout.classes is {}: make them equal",
                    r.classes
                ),
            ));
        }
        if !(2..=65536).contains(&r.classes) {
            return Err(Error::config(
                "readout.classes",
                format!("must be between 2 and 65536, got {}", r.classes),
            ));
        }
        positive("readout.temperature", r.temperature, "number")?;
        let h = &self.hardware;
        for (k, v) in [
            ("hardware.signal_error", h.signal_error),
            ("hardware.noise_error", h.noise_error),
            ("hardware.read_noise", h.read_noise),
            ("hardware.probe_power", h.probe_power),
        ] {
            if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
                return Err(Error::config(k, format!("must be ≥ 0, got {v}")));
            }
        }
        if let Some(p) = h.shot_noise {
            positive("hardware.shot_noise", p, "number of photo-electrons")?;
        }
        for (k, b) in [
            ("hardware.camera_bits", h.camera_bits),
            ("hardware.slm_bits", h.slm_bits),
        ] {
            if let Some(b) = b {
                if !(1..=24).contains(&b) {
                    return Err(Error::config(
                        k,
                        format!("must be between 1 and 24 bits, got {b}"),
                    ));
                }
            }
        }
        self.validate_train()
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

fn check_od(key: &str, od: f64) -> Result<()> {
    if od.is_finite() && (0.0..=1000.0).contains(&od) {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("optical depth must be between 0 and 1000, got {od}"),
        ))
    }
}

fn check_macro(key: &str, k: usize, nx: usize, ny: usize) -> Result<()> {
    if k == 0 || !nx.is_multiple_of(k) || !ny.is_multiple_of(k) {
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
        if !n.is_multiple_of(per) {
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

/// The activation of a dense network, for baselines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// The saturable absorbers as configured.
    Absorber,
    /// A digital network of the same shape: ReLU, unbounded digital layers, cross-entropy.
    Relu,
    /// The optical network without absorbers (linear).
    Linear,
}

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "absorber" => Ok(Activation::Absorber),
            "relu" => Ok(Activation::Relu),
            "linear" => Ok(Activation::Linear),
            _ => Err(format!(
                "unknown activation '{s}': use absorber, relu or linear"
            )),
        }
    }
}

impl Config {
    /// This network with `act` in place of its absorbers (see [`Activation`]).
    pub fn with_activation(&self, act: Activation) -> Result<Config> {
        let mut c = self.clone();
        match act {
            Activation::Absorber => return Ok(c),
            Activation::Relu => {
                if !c.is_dense() {
                    return Err(Error::config(
                        "--activation",
                        "the ReLU baseline is for dense networks; for a diffractive network compare with --activation linear",
                    ));
                }
                for e in c.elements.iter_mut() {
                    match e {
                        Element::Absorber { .. } => *e = Element::Relu,
                        Element::Dense { fidelity, .. } => *fidelity = Fidelity::Digital,
                        _ => {}
                    }
                }
                c.readout.loss = Loss::CrossEntropy;
                c.readout.temperature = 1.0;
                c.hardware = Hardware::default();
                c.name = format!("{}-relu", c.name);
            }
            Activation::Linear => {
                c.elements
                    .retain(|e| !matches!(e, Element::Absorber { .. } | Element::Relu));
                c.name = format!("{}-linear", c.name);
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Sets one value by key and re-validates. Keys are dotted TOML paths (`train.lr`,
    /// `elements[3].od`, `hardware.noise_error`) or the shorthands `od` and `model` (every
    /// absorber), `gain`, `fidelity`, `na`, `fill_factor`, `fanout_focal_length`, `samples`
    /// (every dense layer), `task`, `gradient`, `lr`, `seed`, `epochs`, `batch`, `intensity`. `value` is TOML (`0.5`, `"thin"`, `true`); a bare word is taken as a string.
    pub fn set(&self, key: &str, value: &str) -> Result<Config> {
        let v: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let mut root = toml::Value::try_from(self)
            .map_err(|e| Error::config(key, format!("cannot edit this config: {e}")))?;
        let path: Vec<String> = match key {
            "gradient" | "lr" | "seed" | "epochs" | "batch" => vec!["train".into(), key.into()],
            "intensity" | "task" => vec!["input".into(), key.into()],
            _ => key.split('.').map(String::from).collect(),
        };
        const DENSE_KEYS: [&str; 6] = [
            "gain",
            "fidelity",
            "na",
            "fill_factor",
            "fanout_focal_length",
            "samples",
        ];
        if key == "od" || key == "model" || DENSE_KEYS.contains(&key) {
            let kind = if key == "od" || key == "model" {
                "absorber"
            } else {
                "dense"
            };
            let els = root
                .get_mut("elements")
                .and_then(|e| e.as_array_mut())
                .ok_or_else(|| Error::config(key, "the config has no elements"))?;
            let mut hit = 0;
            for e in els.iter_mut() {
                if e.get("type").and_then(|t| t.as_str()) == Some(kind) {
                    if let Some(t) = e.as_table_mut() {
                        t.insert(key.into(), v.clone());
                        hit += 1;
                    }
                }
            }
            if hit == 0 {
                return Err(Error::config(
                    key,
                    format!("the network has no '{kind}' element to set '{key}' on"),
                ));
            }
        } else {
            let mut node = &mut root;
            for (depth, part) in path.iter().enumerate() {
                let (name, index) = match part.split_once('[') {
                    Some((n, rest)) => {
                        let i: usize = rest.trim_end_matches(']').parse().map_err(|_| {
                            Error::config(key, format!("'{part}': the index must be a number"))
                        })?;
                        (n, Some(i))
                    }
                    None => (part.as_str(), None),
                };
                let last = depth + 1 == path.len() && index.is_none();
                let table = node
                    .as_table_mut()
                    .ok_or_else(|| Error::config(key, format!("'{part}' is not inside a table")))?;
                if last {
                    table.insert(name.into(), v.clone());
                    break;
                }
                node = table
                    .entry(name.to_string())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                if let Some(i) = index {
                    let arr = node
                        .as_array_mut()
                        .ok_or_else(|| Error::config(key, format!("'{name}' is not a list")))?;
                    let len = arr.len();
                    node = arr.get_mut(i).ok_or_else(|| {
                        Error::config(key, format!("'{name}' has {len} entries, no [{i}]"))
                    })?;
                    if depth + 1 == path.len() {
                        *node = v.clone();
                    }
                }
            }
        }
        let text = toml::to_string(&root)
            .map_err(|e| Error::config(key, format!("cannot edit this config: {e}")))?;
        Config::from_toml(&text, &format!("{key} = {value}"))
    }
}
