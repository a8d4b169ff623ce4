//! The update rule a network trains with, read once from the config: the optimiser, its
//! learning rate and Adam's hyper-parameters. The backends apply it (`cpu::optimizer`,
//! `shaders/optimizer.wgsl`).

use serde::{Deserialize, Serialize};

use crate::model::{Optimizer, Train};

/// Adam hyper-parameters (Kingma & Ba 2015), as the WGSL uniform `AdamParams` gets them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator floor.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// The optimiser and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateRule {
    /// Adam or SGD.
    pub optimizer: Optimizer,
    /// Learning rate (also in `adam.lr`).
    pub lr: f64,
    /// Adam's hyper-parameters.
    pub adam: AdamConfig,
}

impl UpdateRule {
    /// The rule of a config's training settings (Adam's betas and ε at their defaults).
    pub fn of(train: &Train) -> Self {
        UpdateRule {
            optimizer: train.optimizer,
            lr: train.lr,
            adam: AdamConfig {
                lr: train.lr,
                ..Default::default()
            },
        }
    }
}
