//! A network resolved once: [`Config::resolve`] validates the config and builds its plan, a
//! [`FieldPlan`] (diffractive network) or a [`DensePlan`] (matrix–vector layers), with the
//! detector regions and element names every layer above needs. Executors take `&Network` and
//! never validate again.

pub mod dense;
pub mod field;
pub mod hardware;
pub mod optimizer;
pub mod state;

pub use dense::{DenseLayerSpec, DensePlan, DenseStage};
pub use field::{FieldPlan, LensSpec, Op, ParamKind, ParamSpec, ProbeStep, PropSpec, PumpStep};
pub use hardware::{FieldHardware, Places, SlmHardware};
pub use optimizer::{AdamConfig, UpdateRule};
pub use state::State;

use crate::error::{Error, Result};
use crate::model::{Config, Element, Hardware, Region, Target};

/// Which system an executor runs (`train.target` chooses the one a run trains on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum System {
    /// The ideal model: the config with `[hardware]` cleared.
    Model,
    /// The imperfect system: pump and probe through its imperfect operators.
    Hardware,
    /// Physics-aware training (Wright et al., Nature 601, 549 (2022)): the pump (forward pass)
    /// through the imperfect system; the probe (backward pass) through the ideal model's
    /// operators, evaluated at the system's saved pump fields and with its output error.
    PhysicsAware,
}

impl System {
    /// `model`, `hardware` or `physics-aware`.
    pub fn name(self) -> &'static str {
        match self {
            System::Model => "model",
            System::Hardware => "hardware",
            System::PhysicsAware => "physics-aware",
        }
    }

    /// The system a target trains on.
    pub fn of(t: Target) -> System {
        match t {
            Target::Model => System::Model,
            Target::Hardware => System::Hardware,
            Target::PhysicsAware => System::PhysicsAware,
        }
    }

    /// Whether the pump (forward pass) runs on the imperfect system.
    pub fn pump_on_hardware(self) -> bool {
        self != System::Model
    }

    /// Whether the probe (backward pass) runs on the imperfect system.
    pub fn probe_on_hardware(self) -> bool {
        self == System::Hardware
    }
}

impl std::str::FromStr for System {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "model" => Ok(System::Model),
            "hardware" => Ok(System::Hardware),
            _ => Err(format!("unknown system '{s}': use 'model' or 'hardware'")),
        }
    }
}

/// The plan of one kind of network.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A field on a grid through SLMs, free space, lenses and absorbers.
    Field(FieldPlan),
    /// Dense (matrix–vector) layers on signed real amplitudes.
    Dense(DensePlan),
}

/// A validated config with its plan: what every backend, the trainer and the records read.
#[derive(Clone, Debug)]
pub struct Network {
    config: Config,
    plan: Plan,
    regions: Vec<Region>,
    names: Vec<String>,
    system: System,
}

impl Config {
    /// Validates this config and builds its [`Network`]: the one place a config is checked on
    /// its way to a backend.
    pub fn resolve(&self) -> Result<Network> {
        self.validate()?;
        let (plan, regions) = if self.is_dense() {
            (Plan::Dense(dense::build(self)), Vec::new())
        } else {
            (Plan::Field(FieldPlan::build(self)?), self.regions()?)
        };
        let names = self
            .elements
            .iter()
            .enumerate()
            .map(|(i, e)| format!("elements[{i}] {}", element_kind(e)))
            .collect();
        Ok(Network {
            config: self.clone(),
            plan,
            regions,
            names,
            system: System::of(self.train.target),
        })
    }
}

/// The word messages use for an element.
fn element_kind(e: &Element) -> &'static str {
    match e {
        Element::Phase { .. } => "phase SLM",
        Element::Amplitude { .. } => "amplitude SLM",
        Element::FreeSpace { .. } => "free space",
        Element::Lens { .. } => "thin lens",
        Element::Fourier { .. } => "2f lens",
        Element::Absorber { .. } => "absorber",
        Element::Dense { .. } => "dense",
        Element::Relu => "relu",
    }
}

impl Network {
    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The system the executors of this network run (from `train.target` unless set by
    /// [`on`](Self::on)).
    pub fn system(&self) -> System {
        self.system
    }

    /// True when `[hardware]` holds an imperfection or noise (the model and the hardware
    /// differ).
    pub fn imperfect(&self) -> bool {
        !self.config.hardware.is_ideal()
    }

    /// True when the executor of this network must run fixed field imperfections (the pump or
    /// the probe on a field network's imperfect system).
    pub fn runs_field_imperfections(&self) -> bool {
        matches!(&self.plan, Plan::Field(p) if p.hardware.is_some())
            && self.system.pump_on_hardware()
    }

    /// This network on `system`: `Model` is the config with `[hardware]` cleared (and trained on
    /// itself), the others this network with its executors switched.
    pub fn on(&self, system: System) -> Result<Network> {
        match system {
            System::Model => {
                let mut c = self.config.clone();
                match c.twin.take() {
                    // The twin: its imperfections on pump and probe (a system of its own).
                    Some(t) => {
                        c.hardware = t;
                        c.train.target = Target::Hardware;
                    }
                    None => {
                        c.hardware = Hardware::default();
                        c.train.target = Target::Model;
                    }
                }
                c.resolve()
            }
            s => Ok(Network {
                system: s,
                ..self.clone()
            }),
        }
    }

    /// This network on an imperfect system given value by value (`fh`, e.g. a calibration's
    /// candidate) instead of the one `[hardware]` draws; field networks only.
    pub fn with_field_hardware(&self, fh: FieldHardware) -> Result<Network> {
        let mut n = self.clone();
        match &mut n.plan {
            Plan::Field(p) => p.hardware = Some(Box::new(fh)),
            Plan::Dense(_) => {
                return Err(Error::config(
                    "elements",
                    "an imperfect system given value by value is for field (diffractive) networks; this one is dense",
                ))
            }
        }
        n.system = System::Hardware;
        Ok(n)
    }

    /// This network with a field plan whose probe runs back to the input plane (the CPU
    /// engine's input gradient, [`crate::diagnose::vjp`]); dense networks unchanged.
    pub fn with_probe_to_input(&self) -> Network {
        let mut n = self.clone();
        if let Plan::Field(p) = &mut n.plan {
            p.probe_to_input();
        }
        n
    }

    /// The network an executor that reads `[hardware]` itself should build: on the model, the
    /// config with `[hardware]` cleared; otherwise this one.
    pub fn executable(&self) -> Result<Network> {
        if self.system == System::Model && (self.imperfect() || self.config.twin.is_some()) {
            self.on(System::Model)
        } else {
            Ok(self.clone())
        }
    }

    /// Refuses what the GPU backend cannot run on this network's system: a lateral SLM shift on
    /// a grid whose sides are not powers of two (the GPU shifts by the Fourier shift theorem on
    /// the grid). A dense network's imperfections (miscalibration, cross-talk, the noisy
    /// options) and physics-aware training of it run on the GPU, and so do the deterministic
    /// imperfections of a field network (shifts, distances, SLM response, fringing, fill
    /// factor, absorber maps), its detector noise and input bits and its gradient read-out
    /// (camera frames with their noise, a probe of finite strength; drawn from the counter
    /// generator, the CPU's numbers).
    pub fn check_gpu(&self) -> Result<()> {
        let method = self.config.train.method;
        if matches!(
            method,
            crate::model::Method::Dfa | crate::model::Method::Pepita
        ) {
            return Err(Error::config(
                "train.method",
                format!(
                    "\"{}\" runs on the CPU only (the GPU runs backprop and spsa): use --backend cpu",
                    method.name()
                ),
            ));
        }
        if self.config.twin.is_some() {
            match self.system {
                System::Model => return self.executable()?.check_gpu(),
                System::PhysicsAware => {
                    return Err(Error::config(
                        "twin",
                        "physics-aware training through a [twin] runs on the CPU (the GPU's backward pass is the ideal model's): use --backend cpu",
                    ))
                }
                System::Hardware => {}
            }
        }
        if !self.system.pump_on_hardware() || !self.imperfect() {
            return Ok(());
        }
        if self.is_dense() {
            return Ok(());
        }
        let (nx, ny) = (self.config.optics.nx, self.config.optics.ny);
        let shifted = matches!(&self.plan, Plan::Field(p) if p
            .hardware
            .as_ref()
            .is_some_and(|fh| fh.slms.iter().any(|s| s.shift_px != [0.0, 0.0])));
        if shifted && !(nx.is_power_of_two() && ny.is_power_of_two()) {
            return Err(Error::config(
                "hardware.shifts",
                format!(
                    "the GPU shifts an SLM by the Fourier shift theorem on the grid, which needs power-of-two sides ({nx}×{ny} here): use a grid of power-of-two sides, or --backend cpu"
                ),
            ));
        }
        Ok(())
    }

    /// The drawn imperfect system as JSON (`hardware.json`), `None` when it has none.
    pub fn hardware_record(&self) -> Option<serde_json::Value> {
        match &self.plan {
            Plan::Field(p) => match (&p.hardware, &p.twin) {
                (h, Some(t)) => {
                    let mut r = h
                        .as_ref()
                        .map_or_else(|| serde_json::json!({}), |h| h.record(&p.places));
                    r["twin"] = t.record(&p.places);
                    Some(r)
                }
                (h, None) => h.as_ref().map(|h| h.record(&p.places)),
            },
            Plan::Dense(d) => d.miscalibration_record(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The field plan, or a config error naming `who` for a dense network.
    pub fn field(&self, who: &str) -> Result<&FieldPlan> {
        match &self.plan {
            Plan::Field(p) => Ok(p),
            Plan::Dense(_) => Err(Error::config(
                "elements",
                format!("{who} runs field (diffractive) networks; this one is dense"),
            )),
        }
    }

    /// The dense plan, or a config error naming `who` for a field network.
    pub fn dense(&self, who: &str) -> Result<&DensePlan> {
        match &self.plan {
            Plan::Dense(p) => Ok(p),
            Plan::Field(_) => Err(Error::config(
                "elements",
                format!("{who} runs dense networks; this one is a field (diffractive) network"),
            )),
        }
    }

    /// True for a dense network.
    pub fn is_dense(&self) -> bool {
        matches!(self.plan, Plan::Dense(_))
    }

    /// The detector regions of a field network (empty for dense networks).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// `"elements[i] KIND"` for element `i` in config order (field networks: pump order too).
    pub fn element_name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(String::as_str)
    }

    /// Config index of each absorber, in pump order.
    pub fn absorber_elements(&self) -> Vec<usize> {
        self.config
            .elements
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Element::Absorber { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// Config index of the element each trainable tensor belongs to.
    pub fn param_elements(&self) -> Vec<usize> {
        match &self.plan {
            Plan::Field(p) => p.params.iter().map(|s| s.element).collect(),
            Plan::Dense(p) => p
                .stages
                .iter()
                .filter(|(_, s)| matches!(s, DenseStage::Dense(_)))
                .map(|&(i, _)| i)
                .collect(),
        }
    }

    /// Values per encoded example ([`Config::input_len`]).
    pub fn input_len(&self) -> usize {
        self.config.input_len()
    }

    /// The optimiser and its settings.
    pub fn update_rule(&self) -> UpdateRule {
        UpdateRule::of(&self.config.train)
    }

    /// Shape `[rows, cols]` of each trainable tensor: `[sy, sx]` per SLM of a field network,
    /// `[out, in]` per dense layer.
    pub fn param_shapes(&self) -> Vec<[usize; 2]> {
        match &self.plan {
            Plan::Field(p) => p.params.iter().map(|s| [s.sy, s.sx]).collect(),
            Plan::Dense(p) => p.dims().iter().map(|&(i, o)| [o, i]).collect(),
        }
    }

    /// Initial parameters drawn from `train.seed`, with zeroed optimiser state.
    pub fn initial_state(&self) -> State {
        match &self.plan {
            Plan::Field(p) => p.initial_state(self.config.train.seed),
            Plan::Dense(_) => dense::initial_state(&self.config),
        }
    }

    /// Checks that `state` holds one tensor of the right size per trainable element (and, when it
    /// has optimiser moments, as many of those).
    pub fn check_state(&self, state: &State) -> Result<()> {
        let shapes = self.param_shapes();
        let fits = |v: &[Vec<f32>]| {
            v.len() == shapes.len() && v.iter().zip(&shapes).all(|(p, s)| p.len() == s[0] * s[1])
        };
        if !fits(&state.params) {
            return Err(Error::config(
                "state",
                format!(
                    "the parameters ({} tensors of {:?} values) do not fit this network's trainable elements of shape {:?}",
                    state.params.len(),
                    state.params.iter().map(Vec::len).collect::<Vec<_>>(),
                    shapes
                ),
            ));
        }
        Ok(())
    }
}
