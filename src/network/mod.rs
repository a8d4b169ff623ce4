//! A network resolved once: [`Config::resolve`] validates the config and builds its plan, a
//! [`FieldPlan`] (diffractive network) or a [`DensePlan`] (matrix–vector layers), with the
//! detector regions and element names every layer above needs. Executors take `&Network` and
//! never validate again.

pub mod dense;
pub mod field;
pub mod optimizer;
pub mod state;

pub use dense::{DenseLayerSpec, DensePlan, DenseStage};
pub use field::{FieldPlan, LensSpec, Op, ParamKind, ParamSpec, ProbeStep, PropSpec, PumpStep};
pub use optimizer::{AdamConfig, UpdateRule};
pub use state::State;

use crate::error::{Error, Result};
use crate::model::{Config, Element, Region};

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
