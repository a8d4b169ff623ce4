//! The schedule of a field (diffractive) network as plain data (DESIGN §5): the pump pass with
//! the fields it must keep, the probe pass in reverse element order, and the trainable SLMs.
//! Both backends execute the same plan; it can be inspected and tested without a GPU.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::hardware::{FieldHardware, Places};
use super::State;
use crate::error::Result;
use crate::model::{Config, Element};
use crate::optics::Absorber;

/// What a trainable SLM holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Phase in radians.
    Phase,
    /// Signed amplitude in `[−1, 1]`.
    Amplitude,
}

/// A trainable SLM: `sx × sy` pixels, each spanning `k × k` grid pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Phase or amplitude.
    pub kind: ParamKind,
    /// SLM width in pixels.
    pub sx: usize,
    /// SLM height in pixels.
    pub sy: usize,
    /// Macro-pixel side in grid pixels.
    pub k: usize,
    /// Index of the element in the config.
    pub element: usize,
    /// Initial value: phase standard deviation, or the constant amplitude.
    pub init: f64,
}

impl ParamSpec {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.sx * self.sy
    }
    /// Never empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One operation on the field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Multiply by trainable SLM `param`.
    Mask {
        /// Index into [`FieldPlan::params`].
        param: usize,
    },
    /// Multiply by the thin-lens phase `lenses[lens]`.
    Lens {
        /// Index into [`FieldPlan::lenses`].
        lens: usize,
    },
    /// Free space `propagators[prop]`.
    Propagate {
        /// Index into [`FieldPlan::propagators`].
        prop: usize,
    },
    /// 2f lens `fouriers[lens]`.
    Fourier {
        /// Index into [`FieldPlan::fouriers`].
        lens: usize,
    },
    /// Saturable absorber `absorbers[absorber]`.
    Absorber {
        /// Index into [`FieldPlan::absorbers`].
        absorber: usize,
    },
}

/// A pump-pass step: save the field entering the element into `save`, then apply it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PumpStep {
    /// The element.
    pub op: Op,
    /// Slot that keeps the field entering this element (for the probe pass and gradients).
    pub save: Option<usize>,
}

/// A probe-pass step: the element's probe action, using the pump field kept in `slot`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeStep {
    /// The element.
    pub op: Op,
    /// The pump field that entered this element (masks: for the gradient; absorbers: for the
    /// transmission the probe sees).
    pub slot: Option<usize>,
    /// Whether the probe must still pass this element (false for the first trainable SLM: its
    /// gradient is the last thing needed).
    pub pass: bool,
}

/// Free-space step description.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PropSpec {
    /// Grid pitch in metres at this plane.
    pub dx: f64,
    /// Distance in metres.
    pub distance: f64,
}

/// Lens description (thin lens or 2f).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LensSpec {
    /// Grid pitch in metres at this plane.
    pub dx: f64,
    /// Focal length in metres.
    pub focal_length: f64,
}

/// The schedule of one training step.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPlan {
    /// Pump pass, input to detectors.
    pub pump: Vec<PumpStep>,
    /// Probe pass, detectors back to the first trainable SLM.
    pub probe: Vec<ProbeStep>,
    /// Number of saved fields.
    pub slots: usize,
    /// Trainable SLMs.
    pub params: Vec<ParamSpec>,
    /// Free-space steps.
    pub propagators: Vec<PropSpec>,
    /// Thin lenses.
    pub lenses: Vec<LensSpec>,
    /// 2f lenses.
    pub fouriers: Vec<LensSpec>,
    /// Absorbers.
    pub absorbers: Vec<Absorber>,
    /// Pitch at the detector plane.
    pub out_dx: f64,
    /// The imperfect system ([`super::hardware`]), `None` when `[hardware]` has no fixed
    /// imperfection of a field network.
    pub hardware: Option<Box<FieldHardware>>,
    /// The digital twin (`[twin]`, drawn as `[hardware]` is), `None` without one: the model's
    /// fixed imperfections.
    pub twin: Option<Box<FieldHardware>>,
    /// Config index and pitch of each SLM, free-space step and absorber.
    pub places: Places,
}

impl FieldPlan {
    /// Builds the schedule of a validated field network ([`Config::resolve`]).
    pub(crate) fn build(cfg: &Config) -> Result<Self> {
        let o = &cfg.optics;
        let mut dx = o.pitch;
        let mut plan = FieldPlan {
            pump: Vec::new(),
            probe: Vec::new(),
            slots: 0,
            params: Vec::new(),
            propagators: Vec::new(),
            lenses: Vec::new(),
            fouriers: Vec::new(),
            absorbers: Vec::new(),
            out_dx: dx,
            hardware: None,
            twin: None,
            places: Places::default(),
        };
        for (i, el) in cfg.elements.iter().enumerate() {
            let (op, save) = match *el {
                Element::Phase {
                    macro_pixel: k,
                    init_std,
                }
                | Element::Amplitude {
                    macro_pixel: k,
                    init: init_std,
                } => {
                    let kind = if matches!(el, Element::Phase { .. }) {
                        ParamKind::Phase
                    } else {
                        ParamKind::Amplitude
                    };
                    plan.places.slms.push((i, dx));
                    plan.params.push(ParamSpec {
                        kind,
                        sx: o.nx / k,
                        sy: o.ny / k,
                        k,
                        element: i,
                        init: init_std,
                    });
                    (
                        Op::Mask {
                            param: plan.params.len() - 1,
                        },
                        true,
                    )
                }
                Element::FreeSpace { distance } => {
                    plan.propagators.push(PropSpec { dx, distance });
                    plan.places.spaces.push((i, dx, distance));
                    (
                        Op::Propagate {
                            prop: plan.propagators.len() - 1,
                        },
                        false,
                    )
                }
                Element::Lens { focal_length } => {
                    plan.lenses.push(LensSpec { dx, focal_length });
                    (
                        Op::Lens {
                            lens: plan.lenses.len() - 1,
                        },
                        false,
                    )
                }
                Element::Fourier { focal_length } => {
                    plan.fouriers.push(LensSpec { dx, focal_length });
                    dx = crate::optics::lens::fourier_pitch(o.nx, dx, o.wavelength, focal_length);
                    (
                        Op::Fourier {
                            lens: plan.fouriers.len() - 1,
                        },
                        false,
                    )
                }
                Element::Absorber { od, model } => {
                    plan.absorbers.push(Absorber::new(od, model));
                    plan.places.absorbers.push((i, dx, od));
                    (
                        Op::Absorber {
                            absorber: plan.absorbers.len() - 1,
                        },
                        true,
                    )
                }
                Element::Dense { .. } | Element::Relu => {
                    return Err(crate::Error::config(
                        format!("elements[{i}]"),
                        "dense layers and ReLU belong to dense networks",
                    ))
                }
            };
            let save = if save {
                plan.slots += 1;
                Some(plan.slots - 1)
            } else {
                None
            };
            plan.pump.push(PumpStep { op, save });
        }
        plan.out_dx = dx;
        plan.hardware = FieldHardware::draw(cfg, &plan.places)?.map(Box::new);
        if let Some(t) = &cfg.twin {
            let mut c = cfg.clone();
            c.hardware = t.clone();
            plan.twin = FieldHardware::draw(&c, &plan.places)?.map(Box::new);
        }
        // The probe runs back only as far as the first trainable SLM.
        let first = plan
            .pump
            .iter()
            .position(|s| matches!(s.op, Op::Mask { .. }))
            .unwrap_or(0);
        plan.probe = plan.pump[first..]
            .iter()
            .rev()
            .map(|s| ProbeStep {
                op: s.op,
                slot: s.save,
                pass: true,
            })
            .collect();
        if let Some(last) = plan.probe.last_mut() {
            last.pass = false;
        }
        // Slots that the probe never reads (absorbers before the first SLM) are not kept.
        let used: Vec<usize> = plan.probe.iter().filter_map(|s| s.slot).collect();
        for s in plan.pump.iter_mut() {
            if let Some(k) = s.save {
                if !used.contains(&k) {
                    s.save = None;
                }
            }
        }
        Ok(plan)
    }

    /// The probe pass extended back to the input plane (every element passed, every mask and
    /// absorber input kept): what a vector–Jacobian product with respect to the input needs.
    pub(crate) fn probe_to_input(&mut self) {
        for s in self.pump.iter_mut() {
            if matches!(s.op, Op::Mask { .. } | Op::Absorber { .. }) && s.save.is_none() {
                s.save = Some(self.slots);
                self.slots += 1;
            }
        }
        self.probe = self
            .pump
            .iter()
            .rev()
            .map(|s| ProbeStep {
                op: s.op,
                slot: s.save,
                pass: true,
            })
            .collect();
    }

    /// Initial parameters, drawn from `seed`: phases `N(0, init_std²)` (zero for `init_std = 0`),
    /// amplitudes at their `init` value; zeroed Adam moments.
    pub fn initial_state(&self, seed: u64) -> State {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let params: Vec<Vec<f32>> = self
            .params
            .iter()
            .map(|p| match p.kind {
                ParamKind::Phase if p.init > 0.0 => {
                    let n = Normal::new(0.0, p.init)
                        .unwrap_or_else(|_| Normal::new(0.0, 1.0).expect("unit normal"));
                    (0..p.len()).map(|_| n.sample(&mut rng) as f32).collect()
                }
                ParamKind::Phase => vec![0.0; p.len()],
                ParamKind::Amplitude => vec![p.init as f32; p.len()],
            })
            .collect();
        State::fresh(params)
    }
}
