//! Built-in network descriptions (TOML), selectable with `--preset NAME`.

use crate::error::{Error, Result};
use crate::model::Config;

/// `(name, TOML)` of every preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("d2nn-mnist", include_str!("presets/d2nn-mnist.toml")),
    (
        "d2nn-mnist-linear",
        include_str!("presets/d2nn-mnist-linear.toml"),
    ),
    ("paper-mlp", include_str!("presets/paper-mlp.toml")),
    ("paper-2layer", include_str!("presets/paper-2layer.toml")),
    ("lin2018", include_str!("presets/lin2018.toml")),
    (
        "lin2018-absorber",
        include_str!("presets/lin2018-absorber.toml"),
    ),
];

/// The default preset.
pub const DEFAULT: &str = "d2nn-mnist";

/// The TOML text of preset `name` (empty for an unknown name).
pub fn preset_text(name: &str) -> &'static str {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

/// The config of preset `name`.
pub fn preset(name: &str) -> Result<Config> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        Error::config(
            "--preset",
            format!(
                "unknown preset '{name}': choose one of {}",
                names.join(", ")
            ),
        )
    })?;
    Config::from_toml(text, &format!("preset {name}"))
}
