//! Checkpoints in safetensors format (readable from Python with `safetensors.numpy.load_file`):
//! tensors `param.{i}` (SLM values, shape `[sy, sx]`), `adam_m.{i}`, `adam_v.{i}`; metadata holds
//! the config (TOML), the position in training (epoch, batch, optimiser step), the partial-epoch
//! sums and the metrics so far, so that `--resume` continues exactly. Written atomically.
//!
//! **Integrity.** The metadata key `tensors_sha256` holds the SHA-256 ([`tensors_sha256`]) of
//! the tensors, taken in the fixed order `param.0, adam_m.0, adam_v.0, param.1, …`; for each
//! tensor the hash takes its name (UTF-8) and a zero byte, the number of dimensions, each
//! dimension and the data's length in bytes (each a little-endian `u64`), then the data
//! (little-endian `f32`, as stored). [`Checkpoint::from_bytes`] recomputes it and refuses a
//! mismatch ([`Error::Checkpoint`], exit code 4, naming the file): the file was changed on disk
//! or in a copy, and only an earlier copy or retraining gives trustworthy results.
//!
//! Checkpoints carry the format tag [`FORMAT`] and must hold the checksum. Those written by an
//! older wavetrain (tag [`FORMAT_V1`], no checksum) still load, **without** a checksum check.
//!
//! **Progress.** On load the position is checked against the stored config: at most
//! `train.epochs` epochs completed, one history row per completed epoch numbered `1..=epoch`,
//! finite non-negative sums and metrics (accuracies within 0–1), `correct ≤ seen`, images seen
//! exactly when batches were, `batch × train.batch` and `seen` within `train.max_train` (or
//! 2³²−1), and an optimiser step no smaller than the batches it counts. What needs the data's
//! size (the batch inside the epoch, the exact step) is [`Checkpoint::check_position`], which the
//! trainer calls once it knows the batches per epoch.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::Config;
use crate::network::{Network, State};

/// The format tag stored in every checkpoint (with the tensor checksum).
pub const FORMAT: &str = "wavetrain-checkpoint-2";

/// The tag of checkpoints written before the checksum: still read, with no checksum check.
pub const FORMAT_V1: &str = "wavetrain-checkpoint-1";

/// The metadata key of the tensors' SHA-256 (lowercase hex; see the module doc for the order).
pub const CHECKSUM_KEY: &str = "tensors_sha256";

/// The tensor kinds of each parameter, in the order they are written and hashed.
const KINDS: [&str; 3] = ["param", "adam_m", "adam_v"];

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
    /// Test accuracy of the parameters on the ideal model (absent in older checkpoints).
    #[serde(default)]
    pub model_accuracy: Option<f64>,
    /// Test accuracy of the parameters on the imperfect system (absent in older checkpoints).
    #[serde(default)]
    pub hardware_accuracy: Option<f64>,
    /// Camera frames of the gradient read-out in the epoch (absent without `hardware.readout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_frames: Option<u64>,
    /// Photo-electrons of the gradient read-out in the epoch (absent without
    /// `hardware.readout_shot_noise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photoelectrons: Option<f64>,
    /// Image passes through the hardware in the epoch, forward (absent in older checkpoints;
    /// `train::methods::passes_per_image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_passes: Option<u64>,
    /// Image passes through the hardware in the epoch, probe (backward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_passes: Option<u64>,
    /// Cosine similarity of the method's update to the exact gradient on one fixed batch after
    /// the epoch (`train::methods::gradient_cosine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_cosine: Option<f64>,
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
    /// The untrained network's test accuracy on the ideal model and on the imperfect system
    /// (absent in checkpoints of older versions).
    #[serde(default)]
    pub initial_systems: Option<(f64, f64)>,
    /// Wall seconds of every session of the run so far, resumed ones included.
    #[serde(default)]
    pub elapsed: f64,
    /// Camera frames and photo-electrons of the gradient read-out in the current epoch so far
    /// (absent without `hardware.readout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout: Option<(u64, f64)>,
    /// Image passes through the hardware in the current epoch so far, forward and probe
    /// (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes: Option<(u64, u64)>,
}

/// `Err(what)` unless `x` is finite and at least 0 (and at most `max` when given).
fn check_value(what: &str, x: f64, max: Option<f64>) -> std::result::Result<(), String> {
    let ok = x.is_finite() && x >= 0.0 && max.is_none_or(|m| x <= m);
    if ok {
        Ok(())
    } else {
        Err(match max {
            Some(m) => format!("{what} is {x}: expected a number between 0 and {m}"),
            None => format!("{what} is {x}: expected a finite number ≥ 0"),
        })
    }
}

impl Progress {
    /// Checks this position against `cfg` (the config it was trained with) and the optimiser
    /// `step`, as far as that is possible without the data: see the module doc. Returns what is
    /// wrong.
    pub fn check(&self, cfg: &Config, step: u64) -> std::result::Result<(), String> {
        if !(self.elapsed.is_finite() && self.elapsed >= 0.0) {
            return Err(format!("elapsed time {} is not a duration", self.elapsed));
        }
        if let Some((loss, acc)) = self.initial {
            if !(loss.is_finite() && loss >= 0.0 && (0.0..=1.0).contains(&acc)) {
                return Err(format!(
                    "the untrained network's test loss {loss} / accuracy {acc} are impossible"
                ));
            }
        }
        let epochs = cfg.train.epochs;
        if self.epoch > epochs {
            return Err(format!(
                "progress says epoch {} was completed, but its config trains {epochs} epochs",
                self.epoch
            ));
        }
        if self.epoch == epochs && self.batch != 0 {
            return Err(format!(
                "progress says batch {} of an epoch after the last one ({epochs})",
                self.batch
            ));
        }
        if self.history.len() != self.epoch {
            return Err(format!(
                "the metrics history has {} rows for {} completed epochs",
                self.history.len(),
                self.epoch
            ));
        }
        for (i, m) in self.history.iter().enumerate() {
            if m.epoch != i + 1 {
                return Err(format!(
                    "history row {i} is numbered epoch {}, expected {}",
                    m.epoch,
                    i + 1
                ));
            }
            let at = |f: &str| format!("history[{i}].{f}");
            check_value(&at("train_loss"), m.train_loss, None)?;
            check_value(&at("train_accuracy"), m.train_accuracy, Some(1.0))?;
            check_value(&at("test_accuracy"), m.test_accuracy, Some(1.0))?;
            for (f, v) in [
                ("model_accuracy", m.model_accuracy),
                ("hardware_accuracy", m.hardware_accuracy),
            ] {
                if let Some(v) = v {
                    check_value(&at(f), v, Some(1.0))?;
                }
            }
            check_value(&at("images_per_second"), m.images_per_second, None)?;
            check_value(&at("seconds"), m.seconds, None)?;
        }
        check_value("loss_sum", self.loss_sum, None)?;
        check_value("seconds", self.seconds, None)?;
        if self.correct > self.seen {
            return Err(format!(
                "progress counts {} correct of {} images seen",
                self.correct, self.seen
            ));
        }
        if (self.batch == 0) != (self.seen == 0) {
            return Err(format!(
                "progress counts {} images seen in {} batches",
                self.seen, self.batch
            ));
        }
        let limit = cfg.train.max_train.unwrap_or(u32::MAX as usize);
        let images = self.batch.checked_mul(cfg.train.batch);
        if images.is_none_or(|n| n > limit) || self.seen > limit {
            return Err(format!(
                "progress says batch {} of {} images ({} seen) into an epoch of at most {limit} images",
                self.batch, cfg.train.batch, self.seen
            ));
        }
        let (epoch, batch) = (self.epoch as u64, self.batch as u64);
        if step < epoch + batch || (epoch == 0 && step != batch) {
            return Err(format!(
                "optimiser step {step} cannot follow {epoch} completed epochs and {batch} batches"
            ));
        }
        Ok(())
    }

    /// Checks the position against the data: `batch ≤ batches_per_epoch` (a batch inside the
    /// epoch, or all of them when a run was stopped in the epoch's test pass) and `step = epoch × batches_per_epoch + batch` (one optimiser step a batch).
    /// `batches_per_epoch` is `⌈min(max_train, training images) / batch⌉` of the config the
    /// checkpoint stores; the exact step holds for a run that kept one batch size and
    /// `max_train` from its start (a resume that changed `--batch` or `--max-train` at an epoch
    /// boundary shifts it). Returns what is wrong.
    pub fn check_position(
        &self,
        step: u64,
        batches_per_epoch: usize,
    ) -> std::result::Result<(), String> {
        if self.batch > batches_per_epoch.max(1) {
            return Err(format!(
                "progress says batch {} was completed in an epoch of {batches_per_epoch} batches",
                self.batch
            ));
        }
        let want = (self.epoch as u64)
            .saturating_mul(batches_per_epoch as u64)
            .saturating_add(self.batch as u64);
        if step != want {
            return Err(format!(
                "optimiser step {step} does not match epoch {} × {batches_per_epoch} batches + batch {} = {want}",
                self.epoch, self.batch
            ));
        }
        Ok(())
    }
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

/// The SHA-256 (lowercase hex) of `tensors`, each `(name, shape, little-endian data)`, in the
/// order given: name, a zero byte, the number of dimensions, each dimension and the data length
/// (little-endian `u64`s), then the data. Checkpoints hash `param.0, adam_m.0, adam_v.0,
/// param.1, …`.
pub fn tensors_sha256<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = Sha256::new();
    for (name, shape, data) in tensors {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update((shape.len() as u64).to_le_bytes());
        for &d in shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

    /// Checks the position against the data once the trainer knows the batches per epoch (see
    /// [`Progress::check_position`]); `path` names the file in the error (exit code 4).
    pub fn check_position(&self, path: &Path, batches_per_epoch: usize) -> Result<()> {
        self.progress
            .check_position(self.state.step, batches_per_epoch)
            .map_err(|m| Error::Checkpoint {
                path: path.to_path_buf(),
                message: format!("{m}: the progress metadata was edited or does not belong to this data; resume from an earlier copy or retrain"),
            })
    }

    /// The safetensors bytes of `net` at `state` and `progress`.
    pub fn encode(net: &Network, state: &State, progress: &Progress) -> Result<Vec<u8>> {
        let shapes = net.param_shapes();
        let mut tensors = Vec::new();
        let mut hashed: Vec<(String, Vec<usize>, &[u8])> = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            for (name, v) in KINDS.into_iter().zip([&state.params, &state.m, &state.v]) {
                if let Some(t) = v.get(i) {
                    let view = safetensors::tensor::TensorView::new(
                        Dtype::F32,
                        shape.to_vec(),
                        bytes_of(t),
                    )
                    .map_err(|e| Error::config("checkpoint", format!("tensor {name}.{i}: {e}")))?;
                    tensors.push((format!("{name}.{i}"), view));
                    hashed.push((format!("{name}.{i}"), shape.to_vec(), bytes_of(t)));
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
        meta.insert(
            CHECKSUM_KEY.to_string(),
            tensors_sha256(hashed.iter().map(|(n, s, d)| (n.as_str(), &s[..], *d))),
        );
        safetensors::serialize(tensors, Some(meta))
            .map_err(|e| Error::config("checkpoint", e.to_string()))
    }

    /// Reads and checks a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses checkpoint bytes; `path` names the file in errors. Verifies the tensors' SHA-256
    /// (absent only in [`FORMAT_V1`] checkpoints, which load unchecked) and the progress against
    /// the stored config ([`Progress::check`]).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |m: String| Error::Checkpoint {
            path: path.to_path_buf(),
            message: m,
        };
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file or corrupt ({e})")))?;
        let info = meta.metadata().clone().unwrap_or_default();
        let format = info.get("format").map(String::as_str);
        if format != Some(FORMAT) && format != Some(FORMAT_V1) {
            return Err(bad(format!(
                "not a wavetrain checkpoint (format tag {format:?}, expected {FORMAT} or {FORMAT_V1})"
            )));
        }
        let checksum = info.get(CHECKSUM_KEY);
        if checksum.is_none() && format == Some(FORMAT) {
            return Err(bad(format!(
                "is corrupt: its metadata has no '{CHECKSUM_KEY}' to verify the tensors against; resume from an earlier copy or retrain"
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
        let mut views = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            for name in KINDS {
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
                views.push((format!("{name}.{i}"), t));
            }
        }
        if let Some(want) = checksum {
            let got = tensors_sha256(views.iter().map(|(n, t)| (n.as_str(), t.shape(), t.data())));
            if !got.eq_ignore_ascii_case(want) {
                return Err(bad(format!(
                    "is corrupt: the SHA-256 of its tensors is {got}, but {want} was stored when it was written (a bit changed on disk or in a copy). Do not use it for results: resume from an earlier copy or retrain"
                )));
            }
        }
        let mut state = State {
            params: Vec::new(),
            m: Vec::new(),
            v: Vec::new(),
            step,
        };
        for (k, (name, t)) in views.iter().enumerate() {
            let vals: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if vals.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("tensor {name} holds NaN or infinite values")));
            }
            match k % KINDS.len() {
                0 => state.params.push(vals),
                1 => state.m.push(vals),
                _ => state.v.push(vals),
            }
        }
        progress.check(network.config(), step).map_err(|m| {
            bad(format!(
                "its progress metadata does not fit its config: {m}. The metadata was edited or damaged; resume from an earlier copy or retrain"
            ))
        })?;
        Ok(Checkpoint {
            network,
            state,
            progress,
        })
    }
}
