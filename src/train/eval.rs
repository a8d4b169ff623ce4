//! Evaluation on a split: accuracy and confusion matrix, the absorbers' operating points, and
//! the decision map of a 2-D task.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::backend::Backend;
use crate::data::{encode, epoch_order, Split};
use crate::error::{Error, Result};
use crate::loss::argmax;
use crate::model::Config;
use crate::network::{Network, State};

/// The result of a pass over a split.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Fraction of examples whose largest readout value is the label.
    pub accuracy: f64,
    /// Mean loss (the training loss, on this split).
    pub loss: f64,
    /// `[true class][predicted class]`: rows the label, columns the class whose detector
    /// received the most power (dense networks: the largest output), the first of equal ones.
    pub confusion: Vec<Vec<usize>>,
    /// The predicted class of each example, in split order.
    pub predictions: Vec<usize>,
    /// The readout values `[example][class]` (detector powers, or output amplitudes).
    pub readout: Vec<f32>,
}

/// Accuracy, loss, confusion matrix and per-example predictions on `split`. With `stop`, the
/// pass checks it between batches and ends with [`Error::Interrupted`] once it is set.
pub fn evaluate(
    backend: &mut dyn Backend,
    cfg: &Config,
    split: &Split,
    stop: Option<&AtomicBool>,
) -> Result<Evaluation> {
    let per = cfg.input_len();
    let k = cfg.readout.classes;
    let batch = cfg.train.batch.min(split.len()).max(1);
    let mut conf = vec![vec![0usize; k]; k];
    let mut input = vec![0.0f32; batch * per];
    let mut readout = Vec::with_capacity(split.len() * k);
    let idx: Vec<usize> = (0..split.len()).collect();
    for chunk in idx.chunks(batch) {
        if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Err(Error::Interrupted("stopped during evaluation".into()));
        }
        let inp = &mut input[..chunk.len() * per];
        encode(cfg, split, chunk, inp);
        let p = backend.predict(inp)?;
        readout.extend_from_slice(&p[..chunk.len() * k]);
    }
    let predictions: Vec<usize> = readout.chunks_exact(k).map(argmax).collect();
    for (&pred, &label) in predictions.iter().zip(&split.labels) {
        conf[label as usize][pred] += 1;
    }
    let correct: usize = (0..k).map(|i| conf[i][i]).sum();
    let n = split.len().max(1) as f64;
    let loss = crate::loss::loss_sum(
        &readout,
        &split.labels,
        k,
        cfg.readout.loss,
        cfg.readout.temperature,
        !cfg.is_dense(),
    ) / n;
    Ok(Evaluation {
        accuracy: correct as f64 / n,
        loss,
        confusion: conf,
        predictions,
        readout,
    })
}

/// Absorber operating points for the first training batch, with a warning for each absorber that
/// is effectively linear (far below saturation: a plain attenuator; far above: transparent).
pub fn absorber_report(
    net: &Network,
    state: &State,
    train: &Split,
) -> Result<(Vec<f64>, Vec<String>)> {
    let cfg = net.config();
    let n = cfg.train.batch.min(train.len());
    let idx: Vec<usize> = epoch_order(train.len(), cfg.train.seed, 0)[..n].to_vec();
    let mut input = vec![0.0f32; n * cfg.input_len()];
    encode(cfg, train, &idx, &mut input);
    let s = crate::diagnose::absorber_intensity(net, state, &input)?;
    let mut warnings = Vec::new();
    // Absorbers are numbered from 1, like SLMs, with the element they are.
    let elements = net.absorber_elements();
    for (i, &m) in s.iter().enumerate() {
        let which = match elements.get(i) {
            Some(&e) => format!("absorber {} (elements[{e}])", i + 1),
            None => format!("absorber {}", i + 1),
        };
        if m < 0.05 {
            warnings.push(format!("{which}: mean s = {m:.3} I_sat is far below saturation: it acts as a plain attenuator (field × e^(−α₀/2)), not a nonlinearity; raise input.intensity"));
        } else if m > 50.0 {
            warnings.push(format!("{which}: mean s = {m:.1} I_sat is far above saturation: it is nearly transparent and linear; lower input.intensity or raise the optical depth"));
        }
    }
    Ok((s, warnings))
}

/// Side of the decision-boundary picture in pixels.
pub const BOUNDARY_SIDE: usize = 160;
/// Half-width of the plane the decision-boundary picture shows, in the task's coordinates.
pub const BOUNDARY_EXTENT: f64 = 1.4;

/// The decision map of a 2-class dense network over `[−1.4, 1.4]²` (`BOUNDARY_SIDE²` values,
/// row-major, `y` up): `0.65` where class 1 wins, `0.35` where class 0 wins, with the test points
/// drawn as `1` (class 1) and `0` (class 0), so that a picture shows both regions and both classes.
pub fn decision_map(cfg: &Config, backend: &mut dyn Backend, test: &Split) -> Result<Vec<f64>> {
    let n = BOUNDARY_SIDE;
    let amp = cfg.input.intensity.sqrt() as f32;
    let k = cfg.readout.classes;
    let mut map = vec![0.0f64; n * n];
    for row in 0..n {
        let y = BOUNDARY_EXTENT * (1.0 - 2.0 * (row as f64 + 0.5) / n as f64);
        let bias = (cfg.input.bias != 0.0).then_some(cfg.input.bias as f32);
        let input: Vec<f32> = (0..n)
            .flat_map(|c| {
                let x = BOUNDARY_EXTENT * (2.0 * (c as f64 + 0.5) / n as f64 - 1.0);
                [Some(x as f32 * amp), Some(y as f32 * amp), bias]
            })
            .flatten()
            .collect();
        let p = backend.predict(&input)?;
        for c in 0..n {
            let o = &p[c * k..(c + 1) * k];
            map[row * n + c] = if o[1] > o[0] { 0.65 } else { 0.35 };
        }
    }
    for (pt, &l) in test.points.iter().zip(&test.labels) {
        let c = ((pt[0] as f64 / BOUNDARY_EXTENT + 1.0) * 0.5 * n as f64).floor();
        let r = ((1.0 - pt[1] as f64 / BOUNDARY_EXTENT) * 0.5 * n as f64).floor();
        if (0.0..n as f64).contains(&c) && (0.0..n as f64).contains(&r) {
            map[r as usize * n + c as usize] = if l == 1 { 1.0 } else { 0.0 };
        }
    }
    Ok(map)
}
