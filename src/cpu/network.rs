//! The CPU executor of a [`Plan`]: pump pass, loss, probe pass, gradients, update.

use num_complex::Complex;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::{
    absorber_probe, absorber_pump, amplitude_grad, amplitude_mask, detect, detect_probe,
    mask_correlation, modulate, phase_grad, phase_mask, Lens2f, PropScratch, Propagator, Region,
};
use crate::loss::{loss_and_grad, LossStats};
use crate::model::{Config, GradientMode, Loss, Optimizer};
use crate::optics::lens::thin_lens_phase;
use crate::plan::{Op, ParamKind, Plan};
use crate::real::Real;
use crate::Grid;

/// Trainable parameters and optimiser state, in f32 for checkpoints and backends alike.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// One vector per trainable SLM.
    pub params: Vec<Vec<f32>>,
    /// Adam first moments (empty for SGD).
    pub m: Vec<Vec<f32>>,
    /// Adam second moments (empty for SGD).
    pub v: Vec<Vec<f32>>,
    /// Optimiser steps taken.
    pub step: u64,
}

impl State {
    /// Parameters `params` with zeroed Adam moments, before the first step.
    pub fn fresh(params: Vec<Vec<f32>>) -> Self {
        let zeros: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
        State {
            m: zeros.clone(),
            v: zeros,
            params,
            step: 0,
        }
    }

    /// The state of an engine running in precision `T`, rounded to f32.
    pub fn from_engine<T: Real>(params: &[Vec<T>], m: &[Vec<T>], v: &[Vec<T>], step: u64) -> Self {
        let cvt = |v: &[Vec<T>]| -> Vec<Vec<f32>> {
            v.iter()
                .map(|p| p.iter().map(|x| x.f64() as f32).collect())
                .collect()
        };
        State {
            params: cvt(params),
            m: cvt(m),
            v: cvt(v),
            step,
        }
    }

    /// One of the state's tensor lists (`params`, `m` or `v`) in precision `T`.
    pub fn to_engine<T: Real>(v: &[Vec<f32>]) -> Vec<Vec<T>> {
        v.iter()
            .map(|p| p.iter().map(|&x| T::of(x as f64)).collect())
            .collect()
    }

    /// Initial parameters for a plan, drawn from `seed`.
    pub fn init(plan: &Plan, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let params: Vec<Vec<f32>> = plan
            .params
            .iter()
            .map(|p| match p.kind {
                ParamKind::Phase if p.init > 0.0 => {
                    let n = Normal::new(0.0, p.init)
                        .unwrap_or_else(|_| Normal::new(0.0, 1.0).expect("unit normal"));
                    (0..p.len()).map(|_| n.sample(&mut rng) as f32).collect()
                }
                ParamKind::Phase => vec![0.0; p.len()],
                ParamKind::Amplitude => vec![p.init as f32; p.len()],
            })
            .collect();
        State::fresh(params)
    }
}

/// Callback that sees the field at each plane: `(plane index, field)`.
pub type PlaneFn<'a, T> = dyn FnMut(usize, &[Complex<T>]) + 'a;

/// A network on the CPU in precision `T`.
pub struct CpuNetwork<T: Real> {
    plan: Plan,
    nx: usize,
    ny: usize,
    regions: Vec<Region>,
    loss: Loss,
    temperature: f64,
    gradient: GradientMode,
    optimizer: Optimizer,
    lr: f64,
    props: Vec<Propagator<T>>,
    /// Working buffers shared by every free-space step.
    prop_scratch: PropScratch<T>,
    fouriers: Vec<Lens2f<T>>,
    lenses: Vec<Vec<Complex<T>>>,
    /// Parameters in the engine's precision.
    pub params: Vec<Vec<T>>,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
    step: u64,
    masks: Vec<Vec<Complex<T>>>,
    field: Vec<Complex<T>>,
    probe: Vec<Complex<T>>,
    slots: Vec<Vec<Complex<T>>>,
    /// Gradients of the last backward pass, one per SLM.
    pub grads: Vec<Vec<T>>,
    powers: Vec<T>,
    dl_dp: Vec<T>,
}

impl<T: Real> CpuNetwork<T> {
    /// Builds the executor for `cfg` with parameters and optimiser state from `state`.
    pub fn new(cfg: &Config, state: &State) -> crate::Result<Self> {
        let plan = Plan::new(cfg)?;
        let o = &cfg.optics;
        let props = plan
            .propagators
            .iter()
            .map(|p| {
                let g = Grid::new(o.nx, o.ny, p.dx)?;
                Ok(Propagator::new(
                    &g,
                    o.wavelength,
                    p.distance,
                    o.padding,
                    o.band_limit,
                ))
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let fouriers = plan
            .fouriers
            .iter()
            .map(|l| Lens2f::new(o.nx, o.ny, l.dx, o.wavelength, l.focal_length))
            .collect();
        let lenses = plan
            .lenses
            .iter()
            .map(|l| {
                let g = Grid::new(o.nx, o.ny, l.dx)?;
                Ok(thin_lens_phase(&g, o.wavelength, l.focal_length)
                    .iter()
                    .map(|&p| Complex::from_polar(T::one(), T::of(p)))
                    .collect())
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let cvt = |v: &Vec<Vec<f32>>| State::to_engine::<T>(v);
        let mut net = CpuNetwork {
            nx: o.nx,
            ny: o.ny,
            regions: cfg.regions()?,
            loss: cfg.readout.loss,
            temperature: cfg.readout.temperature,
            gradient: cfg.train.gradient,
            optimizer: cfg.train.optimizer,
            lr: cfg.train.lr,
            props,
            prop_scratch: PropScratch::new(),
            fouriers,
            lenses,
            params: cvt(&state.params),
            m: cvt(&state.m),
            v: cvt(&state.v),
            step: state.step,
            masks: Vec::new(),
            field: Vec::new(),
            probe: Vec::new(),
            slots: vec![Vec::new(); plan.slots],
            grads: plan
                .params
                .iter()
                .map(|p| vec![T::zero(); p.len()])
                .collect(),
            powers: Vec::new(),
            dl_dp: Vec::new(),
            plan,
        };
        if net.params.len() != net.plan.params.len()
            || net
                .params
                .iter()
                .zip(&net.plan.params)
                .any(|(p, s)| p.len() != s.len())
        {
            return Err(crate::Error::config(
                "state",
                "parameter shapes do not match the network",
            ));
        }
        if net.m.len() != net.params.len() {
            net.m = net
                .params
                .iter()
                .map(|p| vec![T::zero(); p.len()])
                .collect();
            net.v = net.m.clone();
        }
        net.refresh_masks();
        Ok(net)
    }

    /// The schedule this network runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The detector regions.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Sets the gradient mode (optical or exact).
    pub fn set_gradient(&mut self, mode: GradientMode) {
        self.gradient = mode;
    }

    /// Parameters and optimiser state in f32.
    pub fn state(&self) -> State {
        State::from_engine(&self.params, &self.m, &self.v, self.step)
    }

    /// Rebuilds the complex masks after the parameters changed.
    pub fn refresh_masks(&mut self) {
        self.masks = self
            .plan
            .params
            .iter()
            .zip(&self.params)
            .map(|(s, p)| match s.kind {
                ParamKind::Phase => phase_mask(p),
                ParamKind::Amplitude => amplitude_mask(p),
            })
            .collect();
    }

    fn apply(&mut self, op: Op, probe: bool) {
        let (nx, ny) = (self.nx, self.ny);
        let buf = if probe {
            &mut self.probe
        } else {
            &mut self.field
        };
        match op {
            Op::Mask { param } => {
                modulate(buf, nx, ny, &self.masks[param], self.plan.params[param].k)
            }
            Op::Lens { lens } => modulate(buf, nx, ny, &self.lenses[lens], 1),
            Op::Propagate { prop } => self.props[prop].apply_with(buf, &mut self.prop_scratch),
            Op::Fourier { lens } => self.fouriers[lens].apply(buf),
            Op::Absorber { absorber } => {
                if !probe {
                    absorber_pump(buf, &self.plan.absorbers[absorber]);
                }
            }
        }
    }

    /// Pump pass of real input amplitudes `[batch][ny][nx]`; returns detector powers
    /// `[batch][classes]`. With `on_plane`, calls it with every element's output field.
    pub fn forward(&mut self, input: &[f32], mut on_plane: Option<&mut PlaneFn<'_, T>>) -> &[T] {
        let n = self.nx * self.ny;
        self.field.clear();
        self.field.extend(
            input
                .iter()
                .map(|&a| Complex::new(T::of(a as f64), T::zero())),
        );
        let batch = input.len() / n;
        for i in 0..self.plan.pump.len() {
            let step = self.plan.pump[i];
            if let Some(s) = step.save {
                self.slots[s].clear();
                self.slots[s].extend_from_slice(&self.field);
            }
            self.apply(step.op, false);
            if let Some(f) = on_plane.as_deref_mut() {
                f(i, &self.field);
            }
        }
        self.powers = detect(
            &self.field,
            self.nx,
            self.ny,
            &self.regions,
            self.plan.out_dx,
        );
        debug_assert_eq!(self.powers.len(), batch * self.regions.len());
        &self.powers
    }

    /// Loss of the last forward pass against `labels`; fills `∂L/∂P`.
    pub fn loss(&mut self, labels: &[u8]) -> LossStats {
        self.dl_dp.resize(self.powers.len(), T::zero());
        loss_and_grad(
            &self.powers,
            labels,
            self.regions.len(),
            self.loss,
            self.temperature,
            &mut self.dl_dp,
        )
    }

    /// Probe pass after [`forward`](Self::forward) and [`loss`](Self::loss): fills
    /// [`grads`](Self::grads). With `on_plane`, calls it with the probe leaving each element
    /// (index in pump order).
    pub fn backward(&mut self, mut on_plane: Option<&mut PlaneFn<'_, T>>) {
        let (nx, ny) = (self.nx, self.ny);
        self.probe
            .resize(self.field.len(), Complex::new(T::zero(), T::zero()));
        detect_probe(
            &self.field,
            nx,
            ny,
            &self.regions,
            self.plan.out_dx,
            &self.dl_dp,
            &mut self.probe,
        );
        let exact = self.gradient == GradientMode::Exact;
        let first = self.plan.pump.len() - self.plan.probe.len();
        for j in 0..self.plan.probe.len() {
            let step = self.plan.probe[j];
            match step.op {
                Op::Mask { param } => {
                    let spec = &self.plan.params[param];
                    let slot = &self.slots[step.slot.expect("plan keeps SLM inputs")];
                    // Gradient needs the probe arriving at the SLM, before it passes the SLM.
                    let c = mask_correlation(slot, &self.probe, nx, ny, spec.k);
                    self.grads[param] = match spec.kind {
                        ParamKind::Phase => phase_grad(&self.params[param], &c),
                        ParamKind::Amplitude => amplitude_grad(&c),
                    };
                    if step.pass {
                        self.apply(step.op, true);
                    }
                }
                Op::Absorber { absorber } => {
                    let slot = &self.slots[step.slot.expect("plan keeps absorber inputs")];
                    absorber_probe(&mut self.probe, slot, &self.plan.absorbers[absorber], exact);
                }
                op => self.apply(op, true),
            }
            if let Some(f) = on_plane.as_deref_mut() {
                f(first + self.plan.probe.len() - 1 - j, &self.probe);
            }
        }
    }

    /// Applies the optimiser to the gradients of the last backward pass.
    pub fn update(&mut self) {
        self.step += 1;
        let cfg = super::AdamConfig {
            lr: self.lr,
            ..Default::default()
        };
        for (i, spec) in self.plan.params.iter().enumerate() {
            match self.optimizer {
                Optimizer::Adam => super::adam_step(
                    &mut self.params[i],
                    &self.grads[i],
                    &mut self.m[i],
                    &mut self.v[i],
                    self.step,
                    &cfg,
                ),
                Optimizer::Sgd => super::sgd_step(&mut self.params[i], &self.grads[i], self.lr),
            }
            if spec.kind == ParamKind::Amplitude {
                for w in self.params[i].iter_mut() {
                    *w = w.max(-T::one()).min(T::one());
                }
            }
        }
        self.refresh_masks();
    }

    /// Mean intensity `s = |v|²` entering each absorber in the last pump pass, over the pixels
    /// that carry light (above 1e-3 of the brightest).
    pub fn absorber_intensity(&mut self, input: &[f32]) -> Vec<f64> {
        let mut means = Vec::new();
        let absorber_steps: Vec<usize> = self
            .plan
            .pump
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.op, Op::Absorber { .. }))
            .map(|(i, _)| i)
            .collect();
        // The field entering element i+1 is the output of element i; element 0 sees the input.
        if absorber_steps.first() == Some(&0) {
            let s: Vec<f64> = input
                .iter()
                .map(|&a| (a as f64).powi(2))
                .filter(|&s| s > 0.0)
                .collect();
            means.push(if s.is_empty() {
                0.0
            } else {
                s.iter().sum::<f64>() / s.len() as f64
            });
        }
        let mut record = |i: usize, f: &[Complex<T>]| {
            if absorber_steps.contains(&(i + 1)) {
                let peak = f.iter().map(|v| v.norm_sqr().f64()).fold(0.0, f64::max);
                let lit: Vec<f64> = f
                    .iter()
                    .map(|v| v.norm_sqr().f64())
                    .filter(|&s| s > 1e-3 * peak)
                    .collect();
                means.push(if lit.is_empty() {
                    0.0
                } else {
                    lit.iter().sum::<f64>() / lit.len() as f64
                });
            }
        };
        self.forward(input, Some(&mut record));
        means
    }

    /// One training step: forward, loss, backward, update. Returns the batch statistics.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> LossStats {
        self.forward(input, None);
        let stats = self.loss(labels);
        self.backward(None);
        self.update();
        stats
    }

    /// First element (pump order) whose output holds a NaN or infinity for `input`, if any.
    pub fn locate_fault(&mut self, input: &[f32]) -> Option<usize> {
        let mut first = None;
        let mut check = |i: usize, f: &[Complex<T>]| {
            if first.is_none() && f.iter().any(|v| !(v.re.is_finite() && v.im.is_finite())) {
                first = Some(i);
            }
        };
        self.forward(input, Some(&mut check));
        first
    }
}
