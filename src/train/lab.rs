//! A lab in the training loop (issue 29): an external system (a real optical bench, or a
//! stand-in for one) that the trainer drives instead of the simulated imperfect system of
//! `[hardware]`, behind the [`Lab`] trait, and the [`LabBackend`] that trains against it.
//!
//! Each training step sends the current parameters and the batch's encoded inputs to the lab's
//! [`forward`](Lab::forward), which returns detector powers or intensity frames of the detector
//! plane (frames are integrated over the readout regions here, exactly as the CPU engine
//! integrates its fields: [`crate::cpu::detect_intensity`]). The electronic loss and `∂L/∂P`
//! are computed as in every run ([`crate::loss::loss_and_grad`]). The gradient then comes from
//!
//! - `train.target = "physics-aware"` (Wright et al., Nature 601, 549 (2022)): the model's
//!   vector–Jacobian product at the same parameters and inputs with that `∂L/∂P` (the model is
//!   the config's `[twin]` when it has one, else the ideal network; `train.gradient` chooses the
//!   absorbers' optical or exact derivative), on the CPU reference engine;
//! - `train.target = "hardware"`: the lab's own in-situ measurement, [`Lab::probe`].
//!
//! The parameters and the optimiser state live in a CPU engine of the model, so checkpoints,
//! resume and the update rule are those of every run. A lab that fails (an error, a time-out, a
//! wrong shape, a NaN) leaves the parameters as they were before the step: the trainer writes
//! that state's checkpoint and returns [`Error::Lab`] with the way to resume.

use std::path::Path;

use crate::backend::{Backend, LabInfo};
use crate::cpu::CpuField;
use crate::error::{Error, Result};
use crate::loss::{loss_and_grad, LossStats};
use crate::model::{Loss, Method, Region, Target};
use crate::network::{Network, State, System};

/// What a lab's [`forward`](Lab::forward) measured for a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum LabOutput {
    /// Detector powers, `[batch][classes]`, in `I_sat·m²` (`Σ I·dx²` over each detector, as
    /// the engine's readout).
    Powers(Vec<f32>),
    /// Intensity frames of the detector plane, `[batch][ny][nx]`, in units of `I_sat`, on the
    /// network's detector-plane grid: integrated over the readout regions by the trainer.
    Frames(Vec<f32>),
}

/// An external system in the training loop. Parameters are passed in
/// [`Network::param_elements`] order with the state's shapes (`sy·sx` values per SLM,
/// row-major; phases in radians, amplitude transmissions dimensionless); inputs are the
/// encoded real amplitudes `[batch][ny][nx]` (`|E|² = I/I_sat`) the trainer feeds the
/// simulated system.
pub trait Lab: Send {
    /// The lab's name, for messages and the run's records.
    fn name(&self) -> String;
    /// The readout of `batch` inputs with the parameters `params`.
    fn forward(&mut self, params: &[Vec<f32>], input: &[f32], batch: usize) -> Result<LabOutput>;
    /// Whether [`probe`](Self::probe) is implemented (needed for `train.target = "hardware"`).
    fn has_probe(&self) -> bool;
    /// The in-situ gradient `Σ_b Σ_k upstream[b][k]·∂P[b][k]/∂θ` of every parameter tensor (the
    /// parameters' order and shapes) for `upstream = ∂L/∂P` (`[batch][classes]`, per
    /// `I_sat·m²`), at `params` and `input` as in the last [`forward`](Self::forward).
    fn probe(
        &mut self,
        params: &[Vec<f32>],
        input: &[f32],
        batch: usize,
        upstream: &[f32],
    ) -> Result<Vec<Vec<f32>>>;
}

/// A backend that trains a field network against a [`Lab`]: the lab's readouts, and the
/// gradient of the model (physics-aware) or of the lab's probe (hardware); module doc.
pub struct LabBackend {
    lab: Box<dyn Lab>,
    name: String,
    target: Target,
    /// The model's CPU engine: the parameters, the optimiser and the physics-aware gradient.
    engine: Box<CpuField<f32>>,
    /// The parameters as of the last completed update (restored when the lab fails mid-way,
    /// e.g. during SPSA's perturbed passes).
    settled: Vec<Vec<f32>>,
    regions: Vec<Region>,
    nx: usize,
    ny: usize,
    /// Pitch of the detector plane, m.
    out_dx: f64,
    per: usize,
    loss: Loss,
    temperature: f64,
}

impl LabBackend {
    /// The backend of `net` (a field network, `train.target` physics-aware or hardware)
    /// starting from `state`, training against `lab`. Refuses what a lab cannot train, before
    /// any step: a dense network, `train.target = "model"`, `hardware` with a lab that has no
    /// probe (backprop), a method that needs a dense network.
    pub fn new(net: &Network, state: &State, lab: Box<dyn Lab>) -> Result<Self> {
        let cfg = net.config();
        let name = lab.name();
        if net.is_dense() {
            return Err(Error::config(
                "lab",
                "a lab in the loop trains field (diffractive) networks; this one is dense: train it without lab=",
            ));
        }
        match cfg.train.target {
            Target::Model => {
                return Err(Error::config(
                    "train.target",
                    format!("\"model\" trains in silico, without a lab: set train.target = \"physics-aware\" (the lab's forward pass, the backward pass through the model) or \"hardware\" (the lab's probe) to train against {name}"),
                ))
            }
            Target::Hardware if cfg.train.method == Method::Backprop && !lab.has_probe() => {
                return Err(Error::config(
                    "train.target",
                    format!("\"hardware\" backpropagates through the lab itself, but {name} has no probe(): give it one (the in-situ gradient), or train with train.target = \"physics-aware\""),
                ))
            }
            _ => {}
        }
        let model = net.on(System::Model)?;
        let engine = Box::new(CpuField::new(&model, state)?);
        let plan = model.field("a lab in the loop")?;
        Ok(LabBackend {
            lab,
            name,
            target: cfg.train.target,
            settled: engine.params.clone(),
            engine,
            regions: model.regions().to_vec(),
            nx: cfg.optics.nx,
            ny: cfg.optics.ny,
            out_dx: plan.out_dx,
            per: cfg.input_len(),
            loss: cfg.readout.loss,
            temperature: cfg.readout.temperature,
        })
    }

    /// The lab's readout of `input` at the engine's current parameters, as detector powers,
    /// checked.
    fn readout(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let batch = input.len() / self.per.max(1);
        let out = self.lab.forward(&self.engine.params, input, batch)?;
        powers_of(
            out,
            &self.name,
            batch,
            self.nx,
            self.ny,
            &self.regions,
            self.out_dx,
        )
    }

    /// `r`, after putting the parameters back to the last update's when it is an error.
    fn settle<R>(&mut self, r: Result<R>) -> Result<R> {
        if r.is_err() && self.engine.params != self.settled {
            self.engine.params = self.settled.clone();
            self.engine.refresh_masks();
        }
        r
    }

    /// The gradient of the step from `∂L/∂P`: the model's (physics-aware) or the lab's probe.
    fn gradient(&mut self, input: &[f32], dl_dp: &[f32]) -> Result<Vec<Vec<f32>>> {
        let batch = input.len() / self.per.max(1);
        if self.target == Target::Hardware {
            let g = self.lab.probe(&self.engine.params, input, batch, dl_dp)?;
            check_probe(&g, &self.engine.params, &self.name)?;
            return Ok(g);
        }
        let e = &mut self.engine;
        e.reset_passes();
        e.forward(input, None);
        e.set_output_gradient(dl_dp);
        e.backward(None);
        Ok(e.grads.clone())
    }

    /// The lab's loss and `∂L/∂P` on a batch.
    fn loss(&mut self, input: &[f32], labels: &[u8]) -> Result<(LossStats, Vec<f32>)> {
        let p = self.readout(input)?;
        let mut dl_dp = vec![0.0f32; p.len()];
        let k = self.regions.len();
        let stats = loss_and_grad(&p, labels, k, self.loss, self.temperature, &mut dl_dp);
        Ok((stats, dl_dp))
    }

    fn step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let (stats, dl_dp) = self.loss(input, labels)?;
        if !stats.loss_sum.is_finite() {
            return Ok(stats);
        }
        let g = self.gradient(input, &dl_dp)?;
        self.apply(g);
        Ok(stats)
    }

    fn apply(&mut self, grads: Vec<Vec<f32>>) {
        self.engine.grads = grads;
        self.engine.update();
        self.engine.reset_passes();
        self.settled = self.engine.params.clone();
    }
}

/// Detector powers `[batch][regions]` of a lab's output, checked: the right count, finite.
fn powers_of(
    out: LabOutput,
    lab: &str,
    batch: usize,
    nx: usize,
    ny: usize,
    regions: &[Region],
    dx: f64,
) -> Result<Vec<f32>> {
    let k = regions.len();
    let expected = format!(
        "detector powers of shape (batch, classes) = ({batch}, {k}) in I_sat·m², or intensity frames of shape (batch, ny, nx) = ({batch}, {ny}, {nx}) in I_sat"
    );
    let p = match out {
        LabOutput::Powers(p) if p.len() == batch * k => p,
        LabOutput::Powers(p) => {
            return Err(Error::Lab(format!(
                "{lab}.forward returned {} powers; expected {expected}",
                p.len()
            )))
        }
        LabOutput::Frames(f) if f.len() == batch * nx * ny => {
            if let Some(i) = f.iter().position(|v| !v.is_finite()) {
                return Err(Error::Lab(format!(
                    "{lab}.forward returned a frame holding {} (image {}, pixel {}): expected finite intensities in I_sat",
                    f[i],
                    i / (nx * ny),
                    i % (nx * ny)
                )));
            }
            crate::cpu::detect_intensity(&f, nx, ny, regions, dx)
        }
        LabOutput::Frames(f) => {
            return Err(Error::Lab(format!(
                "{lab}.forward returned frames of {} values; expected {expected}",
                f.len()
            )))
        }
    };
    if let Some(i) = p.iter().position(|v| !v.is_finite()) {
        return Err(Error::Lab(format!(
            "{lab}.forward returned the power {} (image {}, detector {}): expected finite detector powers",
            p[i],
            i / k.max(1),
            i % k.max(1)
        )));
    }
    Ok(p)
}

/// Checks a lab's probe: one finite gradient per parameter tensor, of its size.
fn check_probe(g: &[Vec<f32>], params: &[Vec<f32>], lab: &str) -> Result<()> {
    let want: Vec<usize> = params.iter().map(Vec::len).collect();
    let got: Vec<usize> = g.iter().map(Vec::len).collect();
    if want != got {
        return Err(Error::Lab(format!(
            "{lab}.probe returned gradients of {got:?} values; expected one per trainable element, of {want:?} values (the shapes of the masks it was given)"
        )));
    }
    if let Some((p, i)) = g
        .iter()
        .enumerate()
        .find_map(|(p, v)| v.iter().position(|x| !x.is_finite()).map(|i| (p, i)))
    {
        return Err(Error::Lab(format!(
            "{lab}.probe returned {} in the gradient of trainable element {p} (value {i}): expected finite gradients",
            g[p][i]
        )));
    }
    Ok(())
}

impl Backend for LabBackend {
    fn name(&self) -> String {
        format!(
            "lab {} (model on the cpu, {} threads)",
            self.name,
            rayon::current_num_threads()
        )
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let r = self.step(input, labels);
        self.settle(r)
    }
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let r = self.readout(input);
        self.settle(r)
    }
    fn state(&mut self) -> Result<State> {
        Ok(self.engine.state())
    }
    fn lab(&self) -> Option<LabInfo> {
        Some(LabInfo {
            name: self.name.clone(),
            probe: self.lab.has_probe(),
        })
    }
    fn set_params(&mut self, params: &[Vec<f32>]) -> Result<()> {
        let want: Vec<usize> = self.engine.params.iter().map(Vec::len).collect();
        let got: Vec<usize> = params.iter().map(Vec::len).collect();
        if want != got {
            return Err(Error::config(
                "params",
                format!("parameter tensors of {got:?} values for a network of {want:?}"),
            ));
        }
        self.engine.params = params.to_vec();
        self.engine.refresh_masks();
        Ok(())
    }
    fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let r = self.loss(input, labels).map(|(s, _)| s);
        self.settle(r)
    }
    fn apply_gradient(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        self.apply(grads.to_vec());
        Ok(())
    }
}

/// What `hardware.json` says of a run that trained against a lab.
pub fn record(info: &LabInfo, net: &Network) -> serde_json::Value {
    let cfg = net.config();
    serde_json::json!({
        "target": cfg.train.target.name(),
        "lab": { "name": info.name, "probe": info.probe },
        "model": if cfg.twin.is_some() { "the config's [twin]" } else { "the ideal network (the config without [hardware])" },
        "note": "trained against an external lab in the loop: the config's [hardware] section was not simulated",
    })
}

/// The lab recorded in a run folder's `hardware.json`, if the run trained against one.
pub fn recorded_lab(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("hardware.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
        path: path.clone(),
        message: format!("not a run's hardware record ({e})"),
    })?;
    Ok(v.get("lab").map(|l| {
        l.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("a lab")
            .to_string()
    }))
}

/// Refuses to resume the run in `dir` other than as it trained: a run against a lab without
/// one (`lab` the name of the lab given, if any), a simulated run with one.
pub fn check_resume(dir: &Path, lab: Option<&str>) -> Result<()> {
    match (recorded_lab(dir)?, lab) {
        (Some(was), None) => Err(Error::config(
            "resume",
            format!(
                "{} trained against the external lab '{was}' (its hardware.json): resume it from Python with wavetrain.train(resume={:?}, lab=<that lab>)",
                dir.display(),
                dir.display().to_string()
            ),
        )),
        (None, Some(now)) => Err(Error::config(
            "lab",
            format!(
                "{} is a simulated run (no lab in its records): resume it without lab=, or start a new run against {now}",
                dir.display()
            ),
        )),
        _ => Ok(()),
    }
}
