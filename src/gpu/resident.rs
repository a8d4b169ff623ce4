//! What the field and dense executors share: a fixed resident batch that shorter batches are
//! zero-padded to and masked out of the loss, the labels and per-image loss statistics (the only
//! readback of a training step), prediction a resident batch at a time, and the state readback.

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::network::State;

/// The number of examples of `per` values in `len` input values, checked against the resident
/// `batch`.
pub(crate) fn valid_examples(len: usize, per: usize, batch: usize) -> Result<usize> {
    let valid = len / per.max(1);
    if valid == 0 || valid > batch || !len.is_multiple_of(per.max(1)) {
        return Err(Error::config(
            "batch",
            format!("{len} values are not 1 to {batch} inputs of {per} values (the GPU batch)"),
        ));
    }
    Ok(valid)
}

/// Labels in and per-image `(loss, hit)` out of the loss kernel.
pub(crate) struct LossIo {
    /// Labels of the resident batch (padded with class 0).
    pub(crate) labels: GpuBuffer<u32>,
    /// `[batch][2]`: each image's loss and whether its prediction was right.
    pub(crate) stats: GpuBuffer<f32>,
    batch: usize,
}

impl LossIo {
    /// The buffers for a resident batch, labelled `{prefix}labels` and `{prefix}loss_stats`.
    pub(crate) fn new(ctx: &GpuContext, prefix: &str, batch: usize) -> Result<Self> {
        Ok(LossIo {
            labels: GpuBuffer::new(ctx, &format!("{prefix}labels"), batch)?,
            stats: GpuBuffer::new(ctx, &format!("{prefix}loss_stats"), batch * 2)?,
            batch,
        })
    }

    /// Uploads this step's labels.
    pub(crate) fn upload_labels(&self, ctx: &GpuContext, labels: &[u8]) {
        let mut lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        lab.resize(self.batch, 0);
        self.labels.upload(ctx, &lab);
    }

    /// The statistics of the first `valid` images of the last submission.
    pub(crate) fn read(&self, ctx: &GpuContext, valid: usize) -> Result<LossStats> {
        let st = self.stats.read(ctx)?;
        ctx.check()?;
        let mut out = LossStats::default();
        for b in 0..valid {
            out.loss_sum += st[2 * b] as f64;
            out.correct += (st[2 * b + 1] > 0.5) as usize;
        }
        Ok(out)
    }
}

/// Readout values of any number of inputs (`per` values each), a resident `batch` at a time:
/// `run` uploads a chunk, runs the pump and returns its readout (the first `valid · classes`
/// values are kept).
pub(crate) fn predict_batches(
    input: &[f32],
    per: usize,
    batch: usize,
    classes: usize,
    mut run: impl FnMut(&[f32]) -> Result<(usize, Vec<f32>)>,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(input.len() / per.max(1) * classes);
    for chunk in input.chunks(batch * per.max(1)) {
        let (valid, y) = run(chunk)?;
        out.extend_from_slice(&y[..valid * classes]);
    }
    if out.is_empty() {
        // No input at all: the error of an empty batch.
        valid_examples(input.len(), per, batch)?;
    }
    Ok(out)
}

/// Reads parameters and Adam moments back from the GPU into a [`State`] at optimiser step `step`.
pub(crate) fn read_state(
    ctx: &GpuContext,
    params: &[GpuBuffer<f32>],
    m: &[GpuBuffer<f32>],
    v: &[GpuBuffer<f32>],
    step: u64,
) -> Result<State> {
    let read = |v: &[GpuBuffer<f32>]| v.iter().map(|b| b.read(ctx)).collect::<Result<Vec<_>>>();
    Ok(State {
        params: read(params)?,
        m: read(m)?,
        v: read(v)?,
        step,
    })
}
