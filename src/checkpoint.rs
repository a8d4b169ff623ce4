//! Checkpoints in safetensors format (readable from Python with `safetensors.numpy.load_file`):
//! tensors `param.{i}` (SLM values, shape `[sy, sx]`), `adam_m.{i}`, `adam_v.{i}`; metadata holds
//! the config (TOML), the position in training (epoch, batch, optimiser step), the partial-epoch
//! sums and the metrics so far, so that `--resume` continues exactly. Written atomically.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Config;
use crate::network::{Network, State};

/// The format tag stored in every checkpoint.
pub const FORMAT: &str = "wavetrain-checkpoint-1";

/// One epoch's metrics (a row of `metrics.csv`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Training accuracy over the epoch (while training).
    pub train_accuracy: f64,
    /// Test accuracy after the epoch.
    pub test_accuracy: f64,
    /// Training throughput.
    pub images_per_second: f64,
    /// Wall time of the epoch (training + test), seconds.
    pub seconds: f64,
    /// Mean loss on the test split after the epoch (absent in checkpoints of older versions).
    #[serde(default)]
    pub test_loss: Option<f64>,
}

/// Where in training a checkpoint was taken.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Batches of the current epoch completed.
    pub batch: usize,
    /// Sum of losses over the batches of the current epoch so far.
    pub loss_sum: f64,
    /// Correct predictions in the current epoch so far.
    pub correct: usize,
    /// Images seen in the current epoch so far.
    pub seen: usize,
    /// Training seconds spent in the current epoch so far.
    pub seconds: f64,
    /// Metrics of completed epochs.
    pub history: Vec<EpochMetrics>,
    /// Test loss and accuracy of the untrained network (epoch 0), measured once before the
    /// first step (absent in checkpoints of older versions).
    #[serde(default)]
    pub initial: Option<(f64, f64)>,
    /// Wall seconds of every session of the run so far, resumed ones included.
    #[serde(default)]
    pub elapsed: f64,
}

/// Everything a checkpoint holds.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The network and training settings (resolved from the stored config).
    pub network: Network,
    /// Parameters and optimiser state.
    pub state: State,
    /// Position in training.
    pub progress: Progress,
}

fn bytes_of(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

impl Checkpoint {
    /// The stored config.
    pub fn config(&self) -> &Config {
        self.network.config()
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Self::encode(&self.network, &self.state, &self.progress)
    }

    /// Writes atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        Self::write(path, &self.network, &self.state, &self.progress)
    }

    /// Writes the checkpoint of `net` at `state` and `progress` atomically to `path`.
    pub fn write(path: &Path, net: &Network, state: &State, progress: &Progress) -> Result<()> {
        crate::io::atomic_write(path, &Self::encode(net, state, progress)?)
    }

    /// The safetensors bytes of `net` at `state` and `progress`.
    pub fn encode(net: &Network, state: &State, progress: &Progress) -> Result<Vec<u8>> {
        let shapes = net.param_shapes();
        let mut tensors = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            for (name, v) in [
                ("param", &state.params),
                ("adam_m", &state.m),
                ("adam_v", &state.v),
            ] {
                if let Some(t) = v.get(i) {
                    let view = safetensors::tensor::TensorView::new(
                        Dtype::F32,
                        shape.to_vec(),
                        bytes_of(t),
                    )
                    .map_err(|e| Error::config("checkpoint", format!("tensor {name}.{i}: {e}")))?;
                    tensors.push((format!("{name}.{i}"), view));
                }
            }
        }
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("config".to_string(), net.config().to_toml());
        meta.insert("step".to_string(), state.step.to_string());
        meta.insert(
            "progress".to_string(),
            serde_json::to_string(progress).unwrap_or_default(),
        );
        safetensors::serialize(tensors, Some(meta))
            .map_err(|e| Error::config("checkpoint", e.to_string()))
    }

    /// Reads and checks a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses checkpoint bytes; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |m: String| Error::Checkpoint {
            path: path.to_path_buf(),
            message: m,
        };
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file or corrupt ({e})")))?;
        let info = meta.metadata().clone().unwrap_or_default();
        if info.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!(
                "not a wavetrain checkpoint (format tag {:?}, expected {FORMAT})",
                info.get("format")
            )));
        }
        let config_text = info
            .get("config")
            .ok_or_else(|| bad("no config in the metadata".into()))?;
        let network = Config::from_toml(config_text, "checkpoint config")
            .and_then(|c| c.resolve())
            .map_err(|e| bad(format!("its config is invalid: {e}")))?;
        let step: u64 = info
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("missing or bad 'step'".into()))?;
        let progress: Progress = info
            .get("progress")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("missing or bad 'progress'".into()))?;
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| bad(format!("corrupt tensors ({e})")))?;
        let shapes = network.param_shapes();
        let mut state = State {
            params: Vec::new(),
            m: Vec::new(),
            v: Vec::new(),
            step,
        };
        for (i, shape) in shapes.iter().enumerate() {
            for (name, dst) in [
                ("param", &mut state.params),
                ("adam_m", &mut state.m),
                ("adam_v", &mut state.v),
            ] {
                let t = st
                    .tensor(&format!("{name}.{i}"))
                    .map_err(|_| bad(format!("tensor {name}.{i} is missing")))?;
                if t.dtype() != Dtype::F32 || t.shape() != shape {
                    return Err(bad(format!(
                        "tensor {name}.{i} is {:?} {:?}, expected F32 {:?}",
                        t.dtype(),
                        t.shape(),
                        shape
                    )));
                }
                let vals: Vec<f32> = t
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if vals.iter().any(|v| !v.is_finite()) {
                    return Err(bad(format!(
                        "tensor {name}.{i} holds NaN or infinite values"
                    )));
                }
                dst.push(vals);
            }
        }
        Ok(Checkpoint {
            network,
            state,
            progress,
        })
    }
}
