//! The GPU executor of a dense (matrix–vector) optical network (mirrors `src/cpu/dense.rs`):
//! the products run in `shaders/matmul.wgsl`, everything element-wise (row gains, absorber or
//! ReLU and their probe factors, the amplitude loss, the SLM's view of the weights) in
//! `shaders/dense.wgsl`, and the update in `shaders/optimizer.wgsl`. A training step (pump, loss,
//! probe, weight gradients, update, clamp and re-quantisation of the shown weights) is ONE
//! command submission; only the per-image loss and hit come back. Like the field executor, the
//! update is recorded before the loss is known: a non-finite loss stops training (the trainer
//! checks it) but the weights of that step are already updated.
//!
//! Hardware options that draw random numbers (matrix–vector errors, camera shot and read noise)
//! or need a batch-wide maximum (camera bit depth, probe power) run on the CPU executor only;
//! the GPU refuses them with a clear error. SLM bit depth is supported.

use super::buffer::GpuBuffer;
use super::context::{AdapterRequest, GpuContext};
use super::kernel::{encode_pass, u32_of, Dispatch, Slot};
use super::uniforms::DenseParams;
use super::{Adam, MatMul, Sgd};
use crate::cpu::dense::{check_dense, dense_stages, DenseStage};
use crate::cpu::{AdamConfig, DenseNetwork, State};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{Config, Fidelity, GradientMode, Loss, Optimizer};
use crate::optics::AbsorberModel;
use crate::train::Backend;

enum Step {
    MatMul(MatMul),
    Kernel(Dispatch),
}

impl Step {
    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        match self {
            Step::MatMul(m) => m.encode(enc),
            Step::Kernel(d) => encode_pass(enc, "dense", std::slice::from_ref(d)),
        }
    }
}

enum Update {
    Adam(Adam),
    Sgd(Sgd),
}

/// A dense network resident on the GPU, with a fixed batch (shorter batches are zero-padded and
/// masked out of the loss).
pub struct GpuDenseNetwork {
    ctx: GpuContext,
    cfg: Config,
    batch: usize,
    n_in: usize,
    classes: usize,
    /// `acts[i]`: the vector entering stage `i`; the last is the output.
    acts: Vec<GpuBuffer<f32>>,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    labels: GpuBuffer<u32>,
    stats: GpuBuffer<f32>,
    pump: Vec<Step>,
    loss: Dispatch,
    loss_uniform: wgpu::Buffer,
    loss_base: DenseParams,
    probe: Vec<Step>,
    update: Vec<Update>,
    show: Vec<Step>,
    step: u64,
    staging: Vec<f32>,
}

/// A uniform for one `dense.wgsl` dispatch.
fn uniform(ctx: &GpuContext, what: &str, p: &DenseParams) -> Result<wgpu::Buffer> {
    ctx.uniform(&format!("wavetrain.dense.{what}"), p)
}

/// One `dense.wgsl` element-wise dispatch over `len` elements.
fn kernel(
    ctx: &GpuContext,
    entry: &'static str,
    p: DenseParams,
    buffers: &[(u32, &wgpu::Buffer)],
) -> Result<Dispatch> {
    let u = uniform(ctx, entry, &p)?;
    let slots: Vec<(u32, Slot)> = std::iter::once((0, Slot::Uniform))
        .chain(buffers.iter().map(|&(b, _)| {
            (
                b,
                if b == 3 || b == 4 {
                    Slot::ReadWrite
                } else {
                    Slot::Read
                },
            )
        }))
        .collect();
    let k = ctx.kernel("dense", entry, &slots, &[])?;
    let mut bind: Vec<(u32, &wgpu::Buffer)> = vec![(0, &u)];
    bind.extend_from_slice(buffers);
    let groups = super::kernel::groups_for(ctx, p.len as usize)?;
    Dispatch::new(ctx, k, &bind, groups)
}

fn activation_kind(stage: &DenseStage) -> (u32, f32) {
    match stage {
        DenseStage::Absorber(a) => (
            match a.model {
                AbsorberModel::Thin => 0,
                AbsorberModel::BeerLambert => 1,
            },
            a.od as f32,
        ),
        _ => (2, 0.0),
    }
}

impl GpuDenseNetwork {
    /// Builds every buffer and op for the dense `cfg` at its batch size, starting from `state`.
    pub fn new(ctx: GpuContext, cfg: &Config, state: &State) -> Result<Self> {
        check_dense(cfg, state)?;
        cfg.hardware.check_gpu()?;
        let batch = cfg.train.batch;
        let classes = cfg.readout.classes;
        let (stages, layers) = dense_stages(cfg);
        let n_in = cfg.input_len();
        let mk = |label: &str, v: &[f32]| GpuBuffer::from_slice(&ctx, label, v);
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(&ctx, label, n);
        // Vector sizes at each stage boundary.
        let mut dims = vec![n_in];
        for (_, s) in &stages {
            let last = *dims.last().unwrap_or(&n_in);
            dims.push(match s {
                DenseStage::Dense(l) => layers[*l].n_out,
                _ => last,
            });
        }
        let acts = dims
            .iter()
            .enumerate()
            .map(|(i, d)| buf(&format!("dense.act{i}"), batch * d))
            .collect::<Result<Vec<_>>>()?;
        let probes = dims
            .iter()
            .enumerate()
            .map(|(i, d)| buf(&format!("dense.probe{i}"), batch * d))
            .collect::<Result<Vec<_>>>()?;
        let params = state
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| mk(&format!("dense.param{i}"), p))
            .collect::<Result<Vec<_>>>()?;
        let moments = |v: &Vec<Vec<f32>>, what: &str| {
            params
                .iter()
                .enumerate()
                .map(|(i, p)| match v.get(i) {
                    Some(x) if x.len() == p.len() => mk(&format!("dense.{what}{i}"), x),
                    _ => buf(&format!("dense.{what}{i}"), p.len()),
                })
                .collect::<Result<Vec<_>>>()
        };
        let m = moments(&state.m, "adam_m")?;
        let v = moments(&state.v, "adam_v")?;
        let shown = params
            .iter()
            .enumerate()
            .map(|(i, p)| buf(&format!("dense.shown{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let grads = params
            .iter()
            .enumerate()
            .map(|(i, p)| buf(&format!("dense.grad{i}"), p.len()))
            .collect::<Result<Vec<_>>>()?;
        let gains = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let g: Vec<f32> = l.row_gain.iter().map(|&x| x as f32).collect();
                mk(&format!("dense.row_gain{i}"), &g)
            })
            .collect::<Result<Vec<_>>>()?;
        let couplings = layers
            .iter()
            .enumerate()
            .map(|(i, l)| match &l.coupling {
                Some(c) => {
                    let c: Vec<f32> = c.iter().map(|&x| x as f32).collect();
                    mk(&format!("dense.coupling{i}"), &c).map(Some)
                }
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        // The pump at each weight SLM (C·a) when the layer has cross-talk.
        let coupled = layers
            .iter()
            .enumerate()
            .map(|(i, l)| match l.coupling {
                Some(_) => buf(&format!("dense.coupled{i}"), batch * l.n_in).map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut pump = Vec::new();
        for (si, (_, s)) in stages.iter().enumerate() {
            let (a, out) = (&acts[si], &acts[si + 1]);
            match s {
                DenseStage::Dense(l) => {
                    let layer = &layers[*l];
                    let at_slm = match (&couplings[*l], &coupled[*l]) {
                        (Some(c), Some(ca)) => {
                            pump.push(Step::MatMul(MatMul::forward(
                                &ctx, c, a, ca, layer.n_in, layer.n_in,
                            )?));
                            ca
                        }
                        _ => a,
                    };
                    pump.push(Step::MatMul(MatMul::forward(
                        &ctx,
                        &shown[*l],
                        at_slm,
                        out,
                        layer.n_out,
                        layer.n_in,
                    )?));
                    let d = kernel(
                        &ctx,
                        "scale_rows",
                        DenseParams {
                            len: u32_of("activations", out.len())?,
                            n: u32_of("layer outputs", layer.n_out)?,
                            ..Default::default()
                        },
                        &[(2, gains[*l].buffer()), (3, out.buffer())],
                    )?;
                    pump.push(Step::Kernel(d));
                }
                _ => {
                    let (kind, od) = activation_kind(s);
                    let d = kernel(
                        &ctx,
                        "activate",
                        DenseParams {
                            len: u32_of("activations", out.len())?,
                            kind,
                            od,
                            ..Default::default()
                        },
                        &[(1, a.buffer()), (3, out.buffer())],
                    )?;
                    pump.push(Step::Kernel(d));
                }
            }
        }
        let out_dim = *dims.last().unwrap_or(&0);
        if out_dim != classes {
            return Err(Error::config(
                "readout.classes",
                format!("the network has {out_dim} outputs but readout.classes is {classes}: make the last dense layer's 'out' equal the number of classes"),
            ));
        }
        let labels = GpuBuffer::<u32>::new(&ctx, "dense.labels", batch)?;
        let stats = buf("dense.loss_stats", batch * 2)?;
        let loss_base = DenseParams {
            len: u32_of("outputs", batch * classes)?,
            n: u32_of("classes", classes)?,
            kind: match cfg.readout.loss {
                Loss::CrossEntropy => 0,
                Loss::Mse => 1,
            },
            valid: u32_of("batch", batch)?,
            scale: (1.0 / cfg.readout.temperature) as f32,
            inv_valid: 1.0 / batch as f32,
            ..Default::default()
        };
        let loss_uniform = uniform(&ctx, "loss", &loss_base)?;
        let loss_kernel = ctx.kernel(
            "dense",
            "dense_loss",
            &[
                (0, Slot::Uniform),
                (1, Slot::Read),
                (3, Slot::ReadWrite),
                (4, Slot::ReadWrite),
                (5, Slot::Read),
            ],
            &[],
        )?;
        let last = stages.len();
        let loss = Dispatch::new(
            &ctx,
            loss_kernel,
            &[
                (0, &loss_uniform),
                (1, acts[last].buffer()),
                (3, probes[last].buffer()),
                (4, stats.buffer()),
                (5, labels.buffer()),
            ],
            (batch.div_ceil(64) as u32, 1, 1),
        )?;
        // Probe pass: probes[i] is the probe at the position of acts[i].
        let exact = cfg.train.gradient == GradientMode::Exact;
        let first_dense = stages
            .iter()
            .position(|(_, s)| matches!(s, DenseStage::Dense(_)))
            .unwrap_or(0);
        let mut probe = Vec::new();
        for si in (first_dense..stages.len()).rev() {
            let s = &stages[si].1;
            let (b_out, b_in) = (&probes[si + 1], &probes[si]);
            match s {
                DenseStage::Dense(l) => {
                    let layer = &layers[*l];
                    let d = kernel(
                        &ctx,
                        "scale_rows",
                        DenseParams {
                            len: u32_of("activations", b_out.len())?,
                            n: u32_of("layer outputs", layer.n_out)?,
                            ..Default::default()
                        },
                        &[(2, gains[*l].buffer()), (3, b_out.buffer())],
                    )?;
                    probe.push(Step::Kernel(d));
                    let at_slm = coupled[*l].as_ref().unwrap_or(&acts[si]);
                    probe.push(Step::MatMul(MatMul::grad(
                        &ctx,
                        b_out,
                        at_slm,
                        &grads[*l],
                        layer.n_out,
                        layer.n_in,
                    )?));
                    if si > first_dense {
                        match &couplings[*l] {
                            Some(c) => {
                                // Wᵀ·b lands in the coupled buffer (free in the probe pass),
                                // then Cᵀ carries it back to the layer's input.
                                let tmp = coupled[*l].as_ref().unwrap_or(&acts[si]);
                                probe.push(Step::MatMul(MatMul::transpose(
                                    &ctx,
                                    &shown[*l],
                                    b_out,
                                    tmp,
                                    layer.n_out,
                                    layer.n_in,
                                )?));
                                probe.push(Step::MatMul(MatMul::transpose(
                                    &ctx, c, tmp, b_in, layer.n_in, layer.n_in,
                                )?));
                            }
                            None => probe.push(Step::MatMul(MatMul::transpose(
                                &ctx,
                                &shown[*l],
                                b_out,
                                b_in,
                                layer.n_out,
                                layer.n_in,
                            )?)),
                        }
                    }
                }
                _ => {
                    let (kind, od) = activation_kind(s);
                    let d = kernel(
                        &ctx,
                        "activate_probe",
                        DenseParams {
                            len: u32_of("activations", b_out.len())?,
                            kind,
                            flag: exact as u32,
                            od,
                            ..Default::default()
                        },
                        &[
                            (1, b_out.buffer()),
                            (2, acts[si].buffer()),
                            (3, b_in.buffer()),
                        ],
                    )?;
                    probe.push(Step::Kernel(d));
                }
            }
        }
        let acfg = AdamConfig {
            lr: cfg.train.lr,
            ..Default::default()
        };
        let update = (0..params.len())
            .map(|i| {
                Ok(match cfg.train.optimizer {
                    Optimizer::Adam => {
                        Update::Adam(Adam::new(&ctx, &params[i], &grads[i], &m[i], &v[i], &acfg)?)
                    }
                    Optimizer::Sgd => {
                        Update::Sgd(Sgd::new(&ctx, &params[i], &grads[i], cfg.train.lr)?)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let levels = cfg
            .hardware
            .slm_bits
            .map_or(0.0, |b| ((1u64 << b) - 1) as f32);
        let mut show = Vec::new();
        for (l, layer) in layers.iter().enumerate() {
            let d = kernel(
                &ctx,
                "show_weights",
                DenseParams {
                    len: u32_of("weights", params[l].len())?,
                    flag: (layer.fidelity != Fidelity::Digital) as u32,
                    scale: levels,
                    ..Default::default()
                },
                &[(3, params[l].buffer()), (4, shown[l].buffer())],
            )?;
            show.push(Step::Kernel(d));
        }
        let mut enc = ctx.encoder("dense.show_weights");
        for s in &show {
            s.encode(&mut enc);
        }
        ctx.run(enc)?;
        ctx.check()?;
        Ok(GpuDenseNetwork {
            cfg: cfg.clone(),
            batch,
            n_in,
            classes,
            acts,
            params,
            m,
            v,
            labels,
            stats,
            pump,
            loss,
            loss_uniform,
            loss_base,
            probe,
            update,
            show,
            step: state.step,
            staging: vec![0.0; batch * n_in],
            ctx,
        })
    }

    /// The GPU context the network runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn upload_input(&mut self, input: &[f32]) -> Result<usize> {
        let valid = input.len() / self.n_in.max(1);
        if valid == 0 || valid > self.batch || !input.len().is_multiple_of(self.n_in) {
            return Err(Error::config(
                "batch",
                format!(
                    "{} values are not 1 to {} inputs of {} values (the GPU batch)",
                    input.len(),
                    self.batch,
                    self.n_in
                ),
            ));
        }
        self.staging[..input.len()].copy_from_slice(input);
        self.staging[input.len()..].fill(0.0);
        self.acts[0].upload(&self.ctx, &self.staging);
        Ok(valid)
    }

    fn cpu_twin(&mut self) -> Result<DenseNetwork<f32>> {
        let state = self.state()?;
        DenseNetwork::new(&self.cfg, &state)
    }
}

impl Backend for GpuDenseNetwork {
    fn name(&self) -> String {
        format!(
            "gpu ({}, {})",
            self.ctx.adapter().name,
            self.ctx.adapter().backend
        )
    }

    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.upload_input(input)?;
        let mut lab: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        lab.resize(self.batch, 0);
        self.labels.upload(&self.ctx, &lab);
        let lp = DenseParams {
            valid: valid as u32,
            inv_valid: 1.0 / valid as f32,
            ..self.loss_base
        };
        self.ctx.upload(&self.loss_uniform, 0, &[lp]);
        self.step += 1;
        let mut enc = self.ctx.encoder("dense.train_step");
        for s in &self.pump {
            s.encode(&mut enc);
        }
        encode_pass(&mut enc, "dense_loss", std::slice::from_ref(&self.loss));
        for s in &self.probe {
            s.encode(&mut enc);
        }
        for u in &self.update {
            match u {
                Update::Adam(a) => {
                    a.set_step(&self.ctx, self.step);
                    a.encode(&mut enc)
                }
                Update::Sgd(s) => s.encode(&mut enc),
            }
        }
        for s in &self.show {
            s.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        let st = self.stats.read(&self.ctx)?;
        self.ctx.check()?;
        let mut out = LossStats::default();
        for b in 0..valid {
            out.loss_sum += st[2 * b] as f64;
            out.correct += (st[2 * b + 1] > 0.5) as usize;
        }
        Ok(out)
    }

    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        // Any number of inputs, a GPU batch at a time.
        let mut out = Vec::with_capacity(input.len() / self.n_in.max(1) * self.classes);
        for chunk in input.chunks(self.batch * self.n_in.max(1)) {
            let valid = self.upload_input(chunk)?;
            let mut enc = self.ctx.encoder("dense.predict");
            for s in &self.pump {
                s.encode(&mut enc);
            }
            self.ctx.submit(enc)?;
            let y = self.acts[self.acts.len() - 1].read(&self.ctx)?;
            out.extend_from_slice(&y[..valid * self.classes]);
        }
        if out.is_empty() {
            self.upload_input(input)?;
        }
        Ok(out)
    }

    fn state(&mut self) -> Result<State> {
        super::network::read_state(&self.ctx, &self.params, &self.m, &self.v, self.step)
    }

    fn absorber_intensity(&mut self, input: &[f32]) -> Result<Vec<f64>> {
        Ok(self.cpu_twin()?.absorber_intensity(input))
    }

    fn locate_fault(&mut self, input: &[f32]) -> Result<Option<String>> {
        let at = self.cpu_twin()?.locate_fault(input);
        let names = DenseNetwork::<f32>::element_names(&self.cfg);
        Ok(at.and_then(|i| names.get(i).cloned()))
    }
}

/// Opens the adapter of `req` and builds the dense network on it.
pub fn gpu_dense_network(
    req: &AdapterRequest,
    cfg: &Config,
    state: &State,
) -> Result<GpuDenseNetwork> {
    let ctx = GpuContext::new(req)?;
    GpuDenseNetwork::new(ctx, cfg, state)
}
