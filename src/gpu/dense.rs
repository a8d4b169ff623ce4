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
use super::context::GpuContext;
use super::kernel::{self, encode_pass, read, u32_of, write, Bind, Dispatch};
use super::resident::{predict_batches, read_state, valid_examples, LossIo};
use super::uniforms::DenseParams;
use super::{MatMul, Update};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::{Fidelity, GradientMode, Loss};
use crate::network::{DenseStage, Network, State};
use crate::optics::AbsorberModel;

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

/// A dense network resident on the GPU, with a fixed batch (shorter batches are zero-padded and
/// masked out of the loss).
pub struct GpuDense {
    ctx: GpuContext,
    batch: usize,
    n_in: usize,
    classes: usize,
    /// `acts[i]`: the vector entering stage `i`; the last is the output.
    acts: Vec<GpuBuffer<f32>>,
    params: Vec<GpuBuffer<f32>>,
    m: Vec<GpuBuffer<f32>>,
    v: Vec<GpuBuffer<f32>>,
    io: LossIo,
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

/// One `dense.wgsl` element-wise dispatch over `p.len` elements, its uniform at binding 0.
fn kernel(
    ctx: &GpuContext,
    entry: &'static str,
    p: DenseParams,
    buffers: &[Bind],
) -> Result<Dispatch> {
    let u = uniform(ctx, entry, &p)?;
    let groups = kernel::groups_for(ctx, p.len as usize)?;
    Dispatch::new(
        ctx,
        "dense",
        entry,
        &[],
        &[&[kernel::uniform(0, &u)][..], buffers].concat(),
        groups,
    )
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

impl GpuDense {
    /// Builds every buffer and op of a dense network at its batch size, starting from `state`.
    pub fn new(ctx: GpuContext, net: &Network, state: &State) -> Result<Self> {
        let plan = net.dense("the GPU dense executor")?;
        net.check_state(state)?;
        let cfg = net.config();
        cfg.hardware.check_gpu()?;
        let batch = cfg.train.batch;
        let classes = cfg.readout.classes;
        let (stages, layers) = (&plan.stages, &plan.layers);
        let n_in = cfg.input_len();
        let mk = |label: &str, v: &[f32]| GpuBuffer::from_slice(&ctx, label, v);
        let buf = |label: &str, n: usize| GpuBuffer::<f32>::new(&ctx, label, n);
        // Vector sizes at each stage boundary.
        let mut dims = vec![n_in];
        for (_, s) in stages.iter() {
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
                        &[read(2, gains[*l].buffer()), write(3, out.buffer())],
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
                        &[read(1, a.buffer()), write(3, out.buffer())],
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
        let io = LossIo::new(&ctx, "dense.", batch)?;
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
        let last = stages.len();
        let loss = Dispatch::new(
            &ctx,
            "dense",
            "dense_loss",
            &[],
            &[
                kernel::uniform(0, &loss_uniform),
                read(1, acts[last].buffer()),
                write(3, probes[last].buffer()),
                write(4, io.stats.buffer()),
                read(5, io.labels.buffer()),
            ],
            (batch.div_ceil(64) as u32, 1, 1),
        )?;
        // Probe pass: probes[i] is the probe at the position of acts[i].
        let exact = cfg.train.gradient == GradientMode::Exact;
        let first_dense = plan.first_dense();
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
                        &[read(2, gains[*l].buffer()), write(3, b_out.buffer())],
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
                            read(1, b_out.buffer()),
                            read(2, acts[si].buffer()),
                            write(3, b_in.buffer()),
                        ],
                    )?;
                    probe.push(Step::Kernel(d));
                }
            }
        }
        let rule = net.update_rule();
        let update = (0..params.len())
            .map(|i| Update::new(&ctx, &rule, &params[i], &grads[i], &m[i], &v[i]))
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
                &[write(3, params[l].buffer()), write(4, shown[l].buffer())],
            )?;
            show.push(Step::Kernel(d));
        }
        let mut enc = ctx.encoder("dense.show_weights");
        for s in &show {
            s.encode(&mut enc);
        }
        ctx.run(enc)?;
        ctx.check()?;
        Ok(GpuDense {
            batch,
            n_in,
            classes,
            acts,
            params,
            m,
            v,
            io,
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
        let valid = valid_examples(input.len(), self.n_in, self.batch)?;
        self.staging[..input.len()].copy_from_slice(input);
        self.staging[input.len()..].fill(0.0);
        self.acts[0].upload(&self.ctx, &self.staging);
        Ok(valid)
    }

    /// One training step (pump, loss, probe, weight gradients, update, the shown weights) in one
    /// submission; only the per-image loss and hit come back.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        let valid = self.upload_input(input)?;
        self.io.upload_labels(&self.ctx, labels);
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
            u.set_step(&self.ctx, self.step);
            u.encode(&mut enc);
        }
        for s in &self.show {
            s.encode(&mut enc);
        }
        self.ctx.submit(enc)?;
        self.io.read(&self.ctx, valid)
    }

    /// Output amplitudes `[inputs][classes]` of any number of encoded inputs.
    pub fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let (per, batch, classes) = (self.n_in, self.batch, self.classes);
        predict_batches(input, per, batch, classes, |chunk| {
            let valid = self.upload_input(chunk)?;
            let mut enc = self.ctx.encoder("dense.predict");
            for s in &self.pump {
                s.encode(&mut enc);
            }
            self.ctx.submit(enc)?;
            Ok((valid, self.acts[self.acts.len() - 1].read(&self.ctx)?))
        })
    }

    /// Parameters and optimiser state, read back.
    pub fn state(&self) -> Result<State> {
        read_state(&self.ctx, &self.params, &self.m, &self.v, self.step)
    }
}
