//! The imperfect physical system of a field network: one realisation of the `[hardware]`
//! imperfections, drawn once from `hardware.seed` when the config is resolved.
//!
//! **Design.** The imperfections are a fixed property of one physical system, not noise: the
//! same config (and so the same checkpoint, which stores the config) always gives the same
//! system, so that a resumed run and `wavetrain eval` see exactly the system the run trained or
//! was deployed on. Each kind of draw has its own ChaCha8 stream of `hardware.seed` (stream 1:
//! SLM shifts, `N(0, shift_std²)` for `dx` then `dy` of each SLM in element order; stream 2:
//! distance errors, `N(0, distance_std²)` per free-space step; stream 3: the absorbers'
//! optical-depth maps), so that turning one imperfection up does not change the draws of
//! another, and a sweep over `shift_std` scales the same unit draws. The trainer writes the
//! drawn values ([`FieldHardware::record`]) to the run folder's `hardware.json`.
//!
//! The [`System`](super::System) a backend runs chooses whether its pump and probe passes use
//! these imperfect operators (the ideal ones are the plan's own specs).
//!
//! - **Lateral shift** of an SLM by `s` (metres; `s/dx` grid pixels at its plane): the SLM is
//!   exact in its own frame and the field is moved into it and back, `u ← T_s(M·T_{−s} u)` with
//!   `T_s` the shift by the Fourier shift theorem (`û(f)·e^{−2πi f·s}`; the Nyquist bin of an
//!   even grid gets the real `cos(π s)`, so `T_sᵀ = T_{−s}` and the probe applies the same
//!   operator), the integer part done as an exact roll. The grid is periodic: what leaves one
//!   edge enters the other.
//! - **Axial error**: each free-space step's distance is `d + ε` (its own transfer function).
//! - **SLM response, fringing, fill factor**: [`crate::optics::slm`].
//! - **Absorber non-uniformity**: `α₀(x, y) = α₀·max(0, 1 + od_std·g(x, y))` with `g` white
//!   Gaussian noise smoothed by a Gaussian of standard deviation `od_correlation` (metres; edges
//!   replicated) and scaled to zero mean and unit variance over the grid; with
//!   `od_errors[i] = e`, absorber `i`'s `α₀` is `α₀·(1 + e)` first (a uniform map without
//!   `od_std`).

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::Result;
use crate::model::Config;
use crate::optics::slm::{gaussian_kernel, smooth};
use crate::optics::{Lut, Response, SlmModel};

/// One SLM of the imperfect system.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SlmHardware {
    /// Config index of the SLM element.
    pub element: usize,
    /// Lateral shift `[dx, dy]`, metres.
    pub shift: [f64; 2],
    /// The shift in grid pixels of its plane, `[x, y]`.
    pub shift_px: [f64; 2],
    /// Response, cross-talk and fill factor.
    pub model: SlmModel,
}

impl SlmHardware {
    /// True when this SLM acts as the ideal one.
    pub fn is_ideal(&self) -> bool {
        self.shift_px == [0.0, 0.0] && self.model.is_ideal()
    }
}

/// The drawn imperfections of a field network (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldHardware {
    /// `hardware.seed`.
    pub seed: u64,
    /// One per trainable SLM, in plan order.
    pub slms: Vec<SlmHardware>,
    /// The actual distance of each free-space step, in plan order.
    pub distances: Vec<f64>,
    /// The optical-depth map of each absorber (`ny × nx`), `None` when uniform.
    pub od_maps: Vec<Option<Vec<f64>>>,
}

/// Where the elements of a field plan sit, in plan order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Places {
    /// Config index and pitch of each SLM.
    pub slms: Vec<(usize, f64)>,
    /// Config index, pitch and nominal distance of each free-space step.
    pub spaces: Vec<(usize, f64, f64)>,
    /// Config index, pitch and nominal optical depth of each absorber.
    pub absorbers: Vec<(usize, f64, f64)>,
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

impl FieldHardware {
    /// The system of a validated field config with every value explicit: its drawn
    /// imperfections, or (none fixed) the ideal system: no shift, the nominal distances, ideal
    /// SLMs and uniform absorbers. The starting point of a calibration.
    pub fn of_config(cfg: &Config, places: &Places) -> Result<FieldHardware> {
        if let Some(h) = Self::draw(cfg, places)? {
            return Ok(h);
        }
        Ok(FieldHardware {
            seed: cfg.hardware.seed,
            slms: places
                .slms
                .iter()
                .map(|&(element, _)| SlmHardware {
                    element,
                    shift: [0.0, 0.0],
                    shift_px: [0.0, 0.0],
                    model: SlmModel {
                        phase: matches!(cfg.elements[element], crate::model::Element::Phase { .. }),
                        response: Response::default(),
                        fringing: 0.0,
                        fill_factor: 1.0,
                    },
                })
                .collect(),
            distances: places.spaces.iter().map(|&(_, _, d)| d).collect(),
            od_maps: vec![None; places.absorbers.len()],
        })
    }

    /// Draws the system of a validated field config; `None` when it has no fixed imperfection.
    pub(crate) fn draw(cfg: &Config, places: &Places) -> Result<Option<FieldHardware>> {
        let h = &cfg.hardware;
        if !h.field_fixed() {
            return Ok(None);
        }
        let lut = match &h.phase_lut {
            Some(p) => Some(Lut::read(p, "hardware.phase_lut")?),
            None => None,
        };
        let response = Response {
            range: h.phase_range.unwrap_or(TAU),
            bits: h.phase_bits,
            lut,
        };
        let mut r1 = rng(h.seed, 1);
        let slms = places
            .slms
            .iter()
            .enumerate()
            .map(|(i, &(element, dx))| {
                let shift = if let Some(s) = h.shifts.get(i) {
                    *s
                } else if h.shift_std > 0.0 {
                    let (a, b): (f64, f64) = (r1.sample(StandardNormal), r1.sample(StandardNormal));
                    [h.shift_std * a, h.shift_std * b]
                } else {
                    [0.0, 0.0]
                };
                let phase = matches!(cfg.elements[element], crate::model::Element::Phase { .. });
                SlmHardware {
                    element,
                    shift,
                    shift_px: [shift[0] / dx, shift[1] / dx],
                    model: SlmModel {
                        phase,
                        response: if phase {
                            response.clone()
                        } else {
                            Response::default()
                        },
                        fringing: h.fringing,
                        fill_factor: h.fill_factor.unwrap_or(1.0),
                    },
                }
            })
            .collect();
        let mut r2 = rng(h.seed, 2);
        let distances = places
            .spaces
            .iter()
            .enumerate()
            .map(|(i, &(_, _, d))| {
                if let Some(e) = h.distance_errors.get(i) {
                    d + e
                } else if h.distance_std > 0.0 {
                    let x: f64 = r2.sample(StandardNormal);
                    // Validation keeps σ ≤ d/4; a 4σ draw is clamped to keep the step forward.
                    (d + h.distance_std * x).max(0.05 * d)
                } else {
                    d
                }
            })
            .collect();
        let mut r3 = rng(h.seed, 3);
        let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
        let od_maps = places
            .absorbers
            .iter()
            .enumerate()
            .map(|(i, &(_, dx, od))| {
                let od = od * (1.0 + h.od_errors.get(i).copied().unwrap_or(0.0));
                if h.od_std == 0.0 {
                    return (!h.od_errors.is_empty()).then(|| vec![od; nx * ny]);
                }
                Some({
                    let white: Vec<f64> = (0..nx * ny).map(|_| r3.sample(StandardNormal)).collect();
                    let g = smooth(
                        &white,
                        nx,
                        ny,
                        &gaussian_kernel(h.od_correlation / dx),
                        false,
                    );
                    let n = g.len() as f64;
                    let mean = g.iter().sum::<f64>() / n;
                    let sd = (g.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                    let sd = if sd > 0.0 { sd } else { 1.0 };
                    g.iter()
                        .map(|v| od * (1.0 + h.od_std * (v - mean) / sd).max(0.0))
                        .collect()
                })
            })
            .collect();
        Ok(Some(FieldHardware {
            seed: h.seed,
            slms,
            distances,
            od_maps,
        }))
    }

    /// The drawn values as JSON (the run folder's `hardware.json`): each SLM's shift in metres
    /// and pixels and its device model, each free-space step's nominal and actual distance, each
    /// absorber's optical-depth map summarised (mean, standard deviation, minimum, maximum).
    pub fn record(&self, places: &Places) -> serde_json::Value {
        let summary = |m: &[f64]| {
            let n = m.len() as f64;
            let mean = m.iter().sum::<f64>() / n;
            let sd = (m.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            serde_json::json!({
                "mean": mean,
                "std": sd,
                "min": m.iter().copied().fold(f64::INFINITY, f64::min),
                "max": m.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        };
        serde_json::json!({
            "seed": self.seed,
            "slms": self.slms,
            "free_space": places.spaces.iter().zip(&self.distances).map(|(&(e, _, d), &a)| serde_json::json!({
                "element": e, "nominal": d, "actual": a, "error": a - d,
            })).collect::<Vec<_>>(),
            "absorbers": places.absorbers.iter().zip(&self.od_maps).map(|(&(e, _, od), m)| serde_json::json!({
                "element": e, "od": od, "map": m.as_deref().map(summary),
            })).collect::<Vec<_>>(),
        })
    }
}
