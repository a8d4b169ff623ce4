//! Editing a config: `--set KEY=VALUE` ([`Config::set`]) and the baselines of
//! `--activation` ([`Config::with_activation`]). Each edit returns a new, validated config.
//! Every error of `set` names the `--set KEY=VALUE` the user gave (with the config key that
//! failed validation, when one did), never a line of the TOML that `set` builds internally.

use super::{Config, Element, Fidelity, Hardware, Loss};
use crate::error::{Error, Result};

/// `--set` shorthands that set a field of every absorber.
pub const ABSORBER_SHORTHANDS: [&str; 2] = ["od", "model"];

/// `--set` shorthands that set a field of every dense layer.
pub const DENSE_SHORTHANDS: [&str; 6] = [
    "gain",
    "fidelity",
    "na",
    "fill_factor",
    "fanout_focal_length",
    "samples",
];

/// The table a shorthand of a training or input setting belongs to (`lr` → `train`,
/// `task` → `input`), or `None` for any other key.
pub fn shorthand_table(key: &str) -> Option<&'static str> {
    match key {
        "gradient" | "lr" | "seed" | "epochs" | "batch" => Some("train"),
        "intensity" | "task" => Some("input"),
        _ => None,
    }
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
        let given = format!("--set {key}={value}");
        self.set_inner(key, value).map_err(|e| match e {
            Error::Config { key: k, message } if k == key => Error::config(given, message),
            Error::Config { key: k, message } => {
                Error::config(format!("{k} (from {given})"), message)
            }
            other => other,
        })
    }

    fn set_inner(&self, key: &str, value: &str) -> Result<Config> {
        let v: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let mut root = toml::Value::try_from(self)
            .map_err(|e| Error::config(key, format!("cannot edit this config: {e}")))?;
        let path: Vec<String> = match shorthand_table(key) {
            Some(table) => vec![table.into(), key.into()],
            None => key.split('.').map(String::from).collect(),
        };
        if ABSORBER_SHORTHANDS.contains(&key) || DENSE_SHORTHANDS.contains(&key) {
            let kind = if ABSORBER_SHORTHANDS.contains(&key) {
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
        // Parsed here, not with `from_toml`: a parse error's line would be one of this internal
        // text, which the user never wrote.
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::config(key, e.message().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }
}
