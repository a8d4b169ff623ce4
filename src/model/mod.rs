//! A network description: optics, input encoding, the ordered list of elements, readout and
//! training settings. Read from TOML; unknown keys and out-of-range values are errors naming the key.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optics::{sampling_report, AbsorberModel};

mod edit;
mod readout;
mod validate;

pub use edit::{shorthand_table, Activation, ABSORBER_SHORTHANDS, DENSE_SHORTHANDS};
pub use readout::{layout_regions, Region};

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
    /// The digital twin (field networks): the fixed imperfections the *model* has, e.g. a
    /// `[hardware]` section fitted by `wavetrain calibrate`. Absent: the model is the ideal
    /// system. With a twin, training in silico (`train.target = "model"`) trains on the twin
    /// and physics-aware training runs its backward pass through the twin; `[hardware]` stays
    /// the real system. Fixed options only (no noise, no read-out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<Hardware>,
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

/// Hardware non-idealities and imperfections of the physical system. Every option defaults to
/// off. The fixed imperfections (misalignment, distance errors, SLM response, absorber maps,
/// dense miscalibration) are one physical system drawn once from `seed`
/// ([`crate::network::hardware`]); the noisy ones are drawn anew at every measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Seed of the drawn imperfections (one physical system per seed).
    #[serde(default)]
    pub seed: u64,
    /// Dense: multiplicative Gaussian error on each matrix–vector output, relative (the papers'
    /// "signal error"): `z ← z·(1 + σ·ξ)`.
    #[serde(default)]
    pub signal_error: f64,
    /// Dense: additive Gaussian error on each matrix–vector output, relative to the batch's
    /// largest `|z|` (the papers' "noise error").
    #[serde(default)]
    pub noise_error: f64,
    /// Photo-electrons a camera pixel (dense: the measured beams; field: a detector) collects at
    /// full scale; shot noise on what is measured (absent: no shot noise).
    #[serde(default)]
    pub shot_noise: Option<f64>,
    /// Camera read noise, relative to full-scale intensity.
    #[serde(default)]
    pub read_noise: f64,
    /// Camera bit depth for what is measured (absent: exact values).
    #[serde(default)]
    pub camera_bits: Option<u32>,
    /// Dense: SLM bit depth: weights are shown quantised, updates kept on a full-precision copy.
    #[serde(default)]
    pub slm_bits: Option<u32>,
    /// Dense: peak probe intensity at the absorbers in units of `I_sat` (0: a weak probe). A
    /// probe that is not weak partly saturates the absorber itself.
    #[serde(default)]
    pub probe_power: f64,
    /// Dense: fixed multiplicative miscalibration of every weight, `w ← w·(1 + σ·ξ)`, drawn once.
    #[serde(default)]
    pub weight_error: f64,
    /// Dense: fixed relative error of each layer's gain, `gain ← gain·(1 + σ·ξ)`, drawn once.
    #[serde(default)]
    pub gain_error: f64,
    /// Dense: pixel cross-talk (fringing) of each optical layer's weight SLM, a fixed property
    /// of the system in `[0, 0.25)`: each weight pixel keeps `1 − 2c` of its field along each
    /// axis and leaks `c` into each neighbour, so the SLM shows `K_out·W·K_inᵀ` with `K`
    /// tridiagonal `[c, 1 − 2c, c]` ([`crate::network::DensePlan::crosstalk`]).
    #[serde(default)]
    pub crosstalk: f64,
    /// Field: lateral shift `[dx, dy]` of each SLM in metres, in element order (empty: none, or
    /// drawn from `shift_std`).
    #[serde(default)]
    pub shifts: Vec<[f64; 2]>,
    /// Field: standard deviation of each SLM's lateral shift along each axis, metres.
    #[serde(default)]
    pub shift_std: f64,
    /// Field: error of each free-space distance in metres, in element order (empty: none, or
    /// drawn from `distance_std`).
    #[serde(default)]
    pub distance_errors: Vec<f64>,
    /// Field: standard deviation of each free-space distance's error, metres.
    #[serde(default)]
    pub distance_std: f64,
    /// Field: the phase an SLM reaches for a commanded full turn, radians, in (0, 2π] (absent:
    /// 2π): the shown phase is `mod(φ, 2π)·range/2π`.
    #[serde(default)]
    pub phase_range: Option<f64>,
    /// Field: SLM bit depth: the commanded phase is shown on `2^bits` levels of one turn.
    #[serde(default)]
    pub phase_bits: Option<u32>,
    /// Field: a measured SLM lookup table, a CSV file `level,phase[,amplitude]` (path relative
    /// to the working directory).
    #[serde(default)]
    pub phase_lut: Option<String>,
    /// Field: pixel cross-talk (fringing): the shown pattern smoothed with a Gaussian of this
    /// standard deviation, in SLM pixels.
    #[serde(default)]
    pub fringing: f64,
    /// Field: fraction of each SLM pixel's area that modulates (a centred square), in (0, 1]
    /// (absent: 1); the dead zone passes light unmodulated (phase SLM) or blocks it (amplitude).
    #[serde(default)]
    pub fill_factor: Option<f64>,
    /// Field: relative standard deviation of the absorbers' optical depth across the cell.
    #[serde(default)]
    pub od_std: f64,
    /// Field: correlation length (Gaussian) of the optical-depth map, metres (0: per pixel).
    #[serde(default)]
    pub od_correlation: f64,
    /// Field: relative error of each absorber's optical depth, in element order (empty: none):
    /// absorber `i` has `od·(1 + od_errors[i])` (what `wavetrain calibrate` fits for `od`).
    /// Written to configs only when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub od_errors: Vec<f64>,
    /// Field: bit depth of the input SLM/DMD (amplitudes quantised on `2^bits − 1` steps).
    #[serde(default)]
    pub input_bits: Option<u32>,
    /// Field: how each SLM's gradient is read out on the hardware ([`ReadoutMethod`]; `ideal`:
    /// the exact product `−2·Im(b·u)`, as computed). Written to configs only when set, so that
    /// configs without it keep their text.
    #[serde(default, skip_serializing_if = "ReadoutMethod::is_ideal")]
    pub readout: ReadoutMethod,
    /// Field: camera frames per measurement of the read-out, `N ≥ 3` (absent: 4).
    #[serde(default)]
    pub readout_steps: Option<u32>,
    /// Field: the probe's peak field amplitude relative to the pump's at the detector plane,
    /// `r > 0` (absent: the ideal weak probe). It sets how much the probe saturates the
    /// absorbers, `t(s_pump + |b|²)`, and the size of its interference term in the read-out.
    #[serde(default)]
    pub probe_ratio: Option<f64>,
    /// Field: photo-electrons a read-out camera pixel collects at full scale (the brightest
    /// frame pixel of one SLM and one image); shot noise on each frame (absent: none).
    #[serde(default)]
    pub readout_shot_noise: Option<f64>,
    /// Field: read-out camera read noise, relative to full scale (as `read_noise`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub readout_read_noise: f64,
    /// Field: read-out camera bit depth (absent: exact values).
    #[serde(default)]
    pub readout_bits: Option<u32>,
    /// Field: a read-out camera pixel integrates `k × k` SLM pixels (absent: 1, the camera
    /// resolves each SLM pixel).
    #[serde(default)]
    pub readout_binning: Option<u32>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl ReadoutMethod {
    /// The exact product (no camera).
    pub fn is_ideal(&self) -> bool {
        *self == ReadoutMethod::Ideal
    }
}

/// How the hardware reads out an SLM's gradient, the interference of the pump `u` leaving the
/// SLM with the probe `b` arriving at it (`crate::optics::interferometry`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReadoutMethod {
    /// The exact product, as computed (no camera).
    #[default]
    Ideal,
    /// Phase-stepping interferometry: `N` frames with the reference phase stepped by `2π/N`,
    /// the cross term recovered by N-bucket synchronous detection (Bruning et al., Appl. Opt.
    /// 13, 2693 (1974)).
    PhaseStepping,
    /// Heterodyne detection: the probe frequency-shifted, the beat integrated over `N` buckets
    /// a period (Wyant, Appl. Opt. 14, 2622 (1975)).
    Heterodyne,
}

impl Hardware {
    /// True when every option is off (the seed aside).
    pub fn is_ideal(&self) -> bool {
        Hardware {
            seed: 0,
            ..self.clone()
        } == Hardware::default()
    }

    /// True when a fixed (drawn-once) imperfection of a field network is on.
    pub fn field_fixed(&self) -> bool {
        !self.shifts.is_empty()
            || self.shift_std != 0.0
            || !self.distance_errors.is_empty()
            || self.distance_std != 0.0
            || self.phase_range.is_some()
            || self.phase_bits.is_some()
            || self.phase_lut.is_some()
            || self.fringing != 0.0
            || self.fill_factor.is_some()
            || self.od_std != 0.0
            || !self.od_errors.is_empty()
    }

    /// True when a noisy option of a field network is on (detector noise, input bits).
    pub fn field_noisy(&self) -> bool {
        self.shot_noise.is_some()
            || self.read_noise != 0.0
            || self.camera_bits.is_some()
            || self.input_bits.is_some()
    }

    /// True when the gradient read-out of a field network differs from the exact product: a
    /// camera read-out, or a probe of finite strength.
    pub fn readout_on(&self) -> bool {
        self.readout != ReadoutMethod::Ideal || self.probe_ratio.is_some()
    }

    /// The camera read-out of the SLM gradients, when one is on.
    pub fn readout_camera(&self) -> Option<ReadoutMethod> {
        (self.readout != ReadoutMethod::Ideal).then_some(self.readout)
    }

    /// The read-out camera of the SLM gradients (`readout`, `readout_steps`, default 4 frames,
    /// and its noise), when one is on; both backends measure with it.
    pub fn camera(&self) -> Option<crate::optics::interferometry::Camera> {
        use crate::optics::interferometry::{Camera, Detection};
        let detection = match self.readout {
            ReadoutMethod::Ideal => return None,
            ReadoutMethod::PhaseStepping => Detection::PhaseStepping,
            ReadoutMethod::Heterodyne => Detection::Heterodyne,
        };
        Some(Camera {
            detection,
            steps: self.readout_steps.unwrap_or(4) as usize,
            shot: self.readout_shot_noise,
            read: self.readout_read_noise,
            bits: self.readout_bits,
        })
    }

    /// The gradient read-out as JSON for the run's `hardware.json` (`None` when it is ideal):
    /// the options, whether this run's training measures its gradient with it (`in_use`: only
    /// in-situ training, `train.target = "hardware"`), and the camera frames one image and one
    /// update take (`N` frames per SLM and image).
    pub fn readout_record(
        &self,
        batch: usize,
        slms: usize,
        in_use: bool,
    ) -> Option<serde_json::Value> {
        if !self.readout_on() {
            return None;
        }
        let steps = match self.readout {
            ReadoutMethod::Ideal => 0,
            _ => self.readout_steps.unwrap_or(4) as usize,
        };
        Some(serde_json::json!({
            "method": self.readout,
            "in_use": in_use,
            "steps": steps,
            "probe_ratio": self.probe_ratio,
            "shot_noise_electrons_full_scale": self.readout_shot_noise,
            "read_noise": self.readout_read_noise,
            "bits": self.readout_bits,
            "binning": self.readout_binning.unwrap_or(1),
            "slms": slms,
            "camera_frames_per_image": steps * slms,
            "camera_frames_per_update": steps * slms * batch,
        }))
    }

    /// True when a read-out camera option is on (noise, bits, binning).
    pub fn readout_camera_options(&self) -> Option<&'static str> {
        [
            ("readout_steps", self.readout_steps.is_some()),
            ("readout_shot_noise", self.readout_shot_noise.is_some()),
            ("readout_read_noise", self.readout_read_noise != 0.0),
            ("readout_bits", self.readout_bits.is_some()),
            ("readout_binning", self.readout_binning.is_some()),
        ]
        .into_iter()
        .find(|&(_, on)| on)
        .map(|(k, _)| k)
    }
}

/// Which system a run trains on (`train.target`); see [`crate::network::System`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// In silico: train on the ideal model (the config with `[hardware]` cleared); the trained
    /// parameters are then deployed on the imperfect system.
    Model,
    /// In situ: pump and probe both run through the imperfect system.
    #[default]
    Hardware,
    /// Physics-aware training (Wright et al., Nature 601, 549 (2022)): the forward pass on the
    /// imperfect system, the backward pass through the ideal model at the system's fields.
    PhysicsAware,
}

impl Target {
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Target::Model => "model",
            Target::Hardware => "hardware",
            Target::PhysicsAware => "physics-aware",
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
    /// The system trained on: `model`, `hardware` (default) or `physics-aware`.
    #[serde(default)]
    pub target: Target,
    /// How the update is found (`backprop`, the default, `dfa`, `spsa`, `pepita`; see
    /// [`Method`]).
    #[serde(default, skip_serializing_if = "Method::is_backprop")]
    pub method: Method,
    /// SPSA: perturbation pairs per update (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spsa_samples: Option<u32>,
    /// SPSA: the perturbation's size, in the parameters' units (radians of an SLM phase, or
    /// weight units; default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spsa_sigma: Option<f64>,
    /// DFA and PEPITA: the scale of the fixed random feedback (DFA) or input-projection
    /// (PEPITA) matrix, relative to its default (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_scale: Option<f64>,
}

/// How a training step finds its update (`train.method`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The gradient by (optical) backpropagation: pump and probe (`train.gradient`).
    #[default]
    Backprop,
    /// Direct feedback alignment (Nøkland, NeurIPS 2016): the output error sent to every hidden
    /// layer through a fixed random matrix; dense networks only.
    Dfa,
    /// Simultaneous-perturbation stochastic approximation (Spall, IEEE TAC 37, 332 (1992)): the
    /// gradient estimated from the change of the loss under random ± perturbations of every
    /// parameter at once, forward passes only; both kinds of network.
    Spsa,
    /// PEPITA (Dellaferrera & Kreiman, ICML 2022): a second forward pass with the input
    /// modulated by the error through a fixed random matrix, the update from the difference of
    /// the two passes' activations; dense networks only.
    Pepita,
}

impl Method {
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Method::Backprop => "backprop",
            Method::Dfa => "dfa",
            Method::Spsa => "spsa",
            Method::Pepita => "pepita",
        }
    }

    /// True for the default.
    pub fn is_backprop(&self) -> bool {
        *self == Method::Backprop
    }
}

/// The `[train]` settings a command's flags override (`wavetrain train`'s `--epochs`,
/// `--max-train`, `--batch`, `--lr`, `--seed`, and the same keywords of Python's
/// `wavetrain.train`); `None` keeps the config's value.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrainOverrides {
    /// Passes over the training set.
    pub epochs: Option<usize>,
    /// At most this many training images.
    pub max_train: Option<usize>,
    /// Images per step.
    pub batch: Option<usize>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Seed for initialisation and shuffling.
    pub seed: Option<u64>,
}

impl TrainOverrides {
    /// Applies the overrides to `train`. `done` is the number of epochs a resumed run has done:
    /// fewer epochs than that would not train it further and are refused, naming the option
    /// as `key` and its value as `shown(epochs)` (the CLI's `--epochs 3`, Python's `epochs=3`).
    pub fn apply(
        &self,
        train: &mut Train,
        done: Option<usize>,
        key: &str,
        shown: impl Fn(usize) -> String,
    ) -> Result<()> {
        if let Some(e) = self.epochs {
            if let Some(done) = done.filter(|&d| e < d) {
                return Err(Error::config(
                    key,
                    format!(
                        "the run has done {done} epochs already; {} would not train it further",
                        shown(e)
                    ),
                ));
            }
            train.epochs = e;
        }
        if let Some(m) = self.max_train {
            train.max_train = Some(m);
        }
        if let Some(b) = self.batch {
            train.batch = b;
        }
        if let Some(lr) = self.lr {
            train.lr = lr;
        }
        if let Some(s) = self.seed {
            train.seed = s;
        }
        Ok(())
    }
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
            target: Target::Hardware,
            method: Method::Backprop,
            spsa_samples: None,
            spsa_sigma: None,
            feedback_scale: None,
        }
    }
}

impl Config {
    /// Parses TOML text; `source` names the file in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Self> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let mut msg = e.message().to_string();
            let key = match e.span() {
                Some(span) => {
                    // 1-based line of the span's start (the offending key or value).
                    let start = span.start.min(text.len());
                    let line = text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1;
                    if msg == "duplicate key" {
                        if let Some(name) = text.get(span).map(str::trim).filter(|n| !n.is_empty())
                        {
                            msg = format!(
                                "duplicate key `{}`: it is given twice in the same table; keep one",
                                name.trim_matches('"')
                            );
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_overrides_set_what_is_given_and_refuse_fewer_epochs_than_done() {
        let mut t: Train = toml::from_str("").unwrap();
        let before = t.clone();
        let o = TrainOverrides {
            epochs: Some(3),
            seed: Some(9),
            ..Default::default()
        };
        o.apply(&mut t, Some(3), "epochs", |e| format!("epochs={e}"))
            .unwrap();
        assert_eq!(
            (t.epochs, t.seed, t.batch, t.lr),
            (3, 9, before.batch, before.lr)
        );
        let err = o
            .apply(&mut t, Some(4), "--epochs", |e| format!("--epochs {e}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--epochs") && err.contains("done 4 epochs already; --epochs 3"),
            "{err}"
        );
    }
}
