//! Calibration of the digital twin: fits the fixed imperfections of a field network's
//! `[hardware]` (SLM shifts, free-space distance errors, fringing, the SLM's lookup table, the
//! absorbers' optical depths, optionally the camera's gain) to a captures folder
//! ([`crate::capture`]: simulated, or a lab's camera in the same format).
//!
//! **The fit.** The parameters `x` define an imperfect system ([`FieldHardware`]); the
//! simulation ([`CpuField`], f64) replays every capture's pattern on it and records the frame's
//! plane. The residual of a frame is `(g·I_sim − I_meas)/max I_meas` per pixel (every frame
//! weighs alike; `g` the camera gain, 1 unless fitted), and the fit minimises half the sum of
//! squares by Levenberg–Marquardt (Marquardt, J. SIAM 11, 431 (1963): Gauss–Newton steps
//! `(JᵀJ + λ·diag JᵀJ)·δ = −Jᵀr`, `λ` cut by 3 after a step that lowers the cost and raised by
//! 4 until one does), within each parameter's bounds. The engine has no exact gradient with
//! respect to these parameters (its gradients are the SLMs'), so the Jacobian `J` is taken by
//! forward differences of the f64 simulation, one replay per parameter.
//!
//! **Uncertainties.** At the minimum, `cov = s²·(JᵀJ)⁻¹` with `s² = Σr²/(m − p)` (`m`
//! residuals, `p` parameters): the standard errors if the pixels' noise is independent and of
//! equal variance, and model error counted as noise. A parameter that no capture moves (e.g. the
//! shift of an SLM no pattern lit with structure) is reported unconstrained.
//!
//! **Parameters.** `shifts`: `[dx, dy]` of each SLM (fitted in pixels of its plane, written in
//! metres); `distances`: the error of each free-space step (metres); `fringing`: one Gaussian
//! width for every SLM (SLM pixels, started at 0.5 when the config has none: the frames do not
//! depend on it to first order at 0); `phase_lut`: a piecewise-linear lookup table of `K` knots
//! at equally spaced drive levels, the first knot's phase held at 0 (a constant phase offset of
//! an SLM is invisible to a camera), started from the config's response; `od`: the relative
//! error of each absorber's optical depth (`hardware.od_errors`); `gain`: the camera's
//! intensity scale (a lab whose camera is not calibrated in `I_sat`).

use std::f64::consts::TAU;

use crate::capture::Captures;
use crate::cpu::CpuField;
use crate::error::{Error, Result};
use crate::model::Hardware;
use crate::network::{FieldHardware, FieldPlan, Network, System};
use crate::optics::Lut;

/// A group of parameters `--fit` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Lateral shift of each SLM.
    Shifts,
    /// Error of each free-space distance.
    Distances,
    /// SLM fringing.
    Fringing,
    /// The SLM's lookup table.
    PhaseLut,
    /// Each absorber's optical depth.
    Od,
    /// The camera's intensity scale.
    Gain,
}

/// Parses `shifts,distances,fringing,phase_lut,od,gain`; errors name `--fit`.
pub fn parse_fit(s: &str) -> Result<Vec<Group>> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let g = match item {
            "shifts" => Group::Shifts,
            "distances" => Group::Distances,
            "fringing" => Group::Fringing,
            "phase_lut" | "lut" => Group::PhaseLut,
            "od" => Group::Od,
            "gain" => Group::Gain,
            other => {
                return Err(Error::config(
                    "--fit",
                    format!("'{other}' is not a parameter group: give a comma-separated list of shifts, distances, fringing, phase_lut, od and gain"),
                ))
            }
        };
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        return Err(Error::config(
            "--fit",
            "no parameter group given: e.g. --fit shifts,distances,fringing",
        ));
    }
    Ok(out)
}

/// How to fit.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrateOptions {
    /// The parameter groups.
    pub fit: Vec<Group>,
    /// Most Levenberg–Marquardt iterations.
    pub iterations: usize,
    /// Knots of the fitted lookup table (`phase_lut`), at least 3.
    pub lut_knots: usize,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            fit: vec![Group::Shifts, Group::Distances, Group::Fringing],
            iterations: 30,
            lut_knots: 9,
        }
    }
}

/// What a parameter stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// SLM `i`'s shift along x (0) or y (1), pixels of its plane.
    Shift(usize, usize),
    /// Free-space step `j`'s distance error, metres.
    Distance(usize),
    /// Every SLM's fringing, SLM pixels.
    Fringing,
    /// Knot `k` (≥ 1) of the lookup table, radians.
    Knot(usize),
    /// Absorber `a`'s relative optical-depth error.
    Od(usize),
    /// The camera gain.
    Gain,
}

/// One fitted parameter.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Parameter {
    /// `hardware.shifts[0][1]` etc.: where it goes in `[hardware]` (`gain`: nowhere).
    pub name: String,
    /// Its unit.
    pub unit: &'static str,
    /// The starting value.
    pub start: f64,
    /// The fitted value.
    pub value: f64,
    /// Its standard error (`None`: no capture constrains it).
    pub sigma: Option<f64>,
    /// Whether the fit ended at one of its bounds.
    pub at_bound: bool,
}

/// One iteration of the fit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Iteration {
    /// 1-based.
    pub iteration: usize,
    /// Half the sum of squared residuals after it.
    pub cost: f64,
    /// The damping it ended with.
    pub lambda: f64,
    /// Simulations of the whole capture set so far.
    pub evaluations: usize,
}

/// A frame's misfit before and after.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FrameFit {
    /// Index in the manifest.
    pub frame: usize,
    /// Its PNG.
    pub file: String,
    /// Its pattern's name.
    pub pattern: String,
    /// `detector` or the SLM plane.
    pub plane: String,
    /// `‖g·I_sim − I_meas‖/‖I_meas‖` on the starting system.
    pub before: f64,
    /// The same on the fitted one.
    pub after: f64,
}

/// The fit's result.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Every fitted parameter, in order.
    pub parameters: Vec<Parameter>,
    /// The camera gain (1 unless fitted).
    pub gain: f64,
    /// The iterations.
    pub iterations: Vec<Iteration>,
    /// Per frame, in manifest order.
    pub frames: Vec<FrameFit>,
    /// Half the sum of squared residuals on the starting system.
    pub start_cost: f64,
    /// The same on the fitted one.
    pub cost: f64,
    /// Residuals and parameters (`m`, `p`).
    pub residuals: usize,
    /// Whether the fit stopped because the cost no longer fell (not on the iteration limit).
    pub converged: bool,
    /// The fitted system.
    pub system: FieldHardware,
    /// The `[hardware]` section of the twin: the config's fixed imperfections with the fitted
    /// values made explicit (no noise options); `phase_lut` is left for the writer to set to
    /// the file it writes [`Calibration::lut`] to.
    pub hardware: Hardware,
    /// The fitted lookup table (`phase_lut`).
    pub lut: Option<Lut>,
    /// Each frame's fitted simulation (`g·I_sim`), manifest order.
    pub fitted: Vec<Vec<f64>>,
}

/// Progress of a running fit.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The starting system's cost, with the parameter count and the residual count.
    Start {
        /// Cost.
        cost: f64,
        /// Parameters.
        parameters: usize,
        /// Residuals.
        residuals: usize,
    },
    /// An iteration ended.
    Iteration(Iteration),
}

/// One forward replay: the patterns sharing SLM phases, batched.
struct Replay {
    /// Per SLM (plan order), its phases.
    phases: Vec<Vec<f64>>,
    /// The inputs, `[batch][nx·ny]`.
    inputs: Vec<f32>,
    /// (frame index, image in the batch, pump step) of each frame it yields.
    frames: Vec<(usize, usize, usize)>,
}

/// The captures as replays of `plan`, checked against it.
fn replays(plan: &FieldPlan, nx: usize, ny: usize, caps: &Captures) -> Result<Vec<Replay>> {
    let m = &caps.manifest;
    let mpath = caps.dir.join(crate::capture::FILE);
    let bad = |msg: String| Error::Data {
        path: mpath.clone(),
        message: msg,
    };
    if m.grid != [nx, ny] {
        return Err(bad(format!(
            "the captures are on a {}x{} grid; the config's is {nx}x{ny}: calibrate with the config of the captured system",
            m.grid[0], m.grid[1]
        )));
    }
    let n = nx * ny;
    let mut out: Vec<(Vec<String>, Replay)> = Vec::new();
    for p in &m.patterns {
        let mut phases: Vec<Vec<f64>> = plan.params.iter().map(|s| vec![0.0; s.len()]).collect();
        let mut key = Vec::new();
        for r in &p.phases {
            let i = plan
                .places
                .slms
                .iter()
                .position(|&(e, _)| e == r.element)
                .ok_or_else(|| {
                    bad(format!(
                        "pattern {} drives elements[{}], which is not an SLM of the config's network",
                        p.id, r.element
                    ))
                })?;
            let bytes = r.phases.read(&caps.dir, &mpath)?;
            let a = crate::export::npy::decode(&bytes, &caps.dir.join(&r.phases.file))?;
            let s = &plan.params[i];
            if (a.rows, a.cols) != (s.sy, s.sx) {
                return Err(bad(format!(
                    "{} is {}x{} phases; SLM elements[{}] has {}x{} pixels",
                    r.phases.file, a.cols, a.rows, r.element, s.sx, s.sy
                )));
            }
            phases[i] = a.data;
            key.push(format!("{}:{}", r.element, r.phases.sha256));
        }
        let bytes = p.input.amplitude.read(&caps.dir, &mpath)?;
        let a = crate::export::npy::decode(&bytes, &caps.dir.join(&p.input.amplitude.file))?;
        if (a.rows, a.cols) != (ny, nx) {
            return Err(bad(format!(
                "{} is {}x{}; the grid is {nx}x{ny}",
                p.input.amplitude.file, a.cols, a.rows
            )));
        }
        let replay = match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, r)) => r,
            None => {
                out.push((
                    key,
                    Replay {
                        phases,
                        inputs: Vec::new(),
                        frames: Vec::new(),
                    },
                ));
                &mut out.last_mut().expect("pushed").1
            }
        };
        let b = replay.inputs.len() / n;
        replay.inputs.extend(a.data.iter().map(|&v| v as f32));
        for (fi, f) in m.frames.iter().enumerate() {
            if f.pattern == p.id {
                if f.element >= plan.pump.len() {
                    return Err(bad(format!(
                        "frame {} is of element {}; the network has {} elements",
                        f.png.file,
                        f.element,
                        plan.pump.len()
                    )));
                }
                replay.frames.push((fi, b, f.element));
            }
        }
    }
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// Every frame's intensity on the system `fh`, manifest order.
fn simulate(
    net: &Network,
    fh: &FieldHardware,
    replays: &[Replay],
    frames: usize,
) -> Result<Vec<Vec<f64>>> {
    let net = net.with_field_hardware(fh.clone())?;
    let state = net.initial_state();
    let mut exec = CpuField::<f64>::new(&net, &state)?;
    let mut out = vec![Vec::new(); frames];
    let n = net.config().optics.nx * net.config().optics.ny;
    for r in replays {
        exec.params.clone_from(&r.phases);
        exec.refresh_masks();
        let mut keep = |i: usize, f: &[num_complex::Complex<f64>]| {
            for &(fi, b, e) in &r.frames {
                if e == i {
                    out[fi] = f[b * n..(b + 1) * n].iter().map(|z| z.norm_sqr()).collect();
                }
            }
        };
        exec.forward(&r.inputs, Some(&mut keep));
    }
    Ok(out)
}

/// The parameters, their system and their bounds.
struct Model {
    /// The starting system (od maps divided by their starting `1 + e`).
    base: FieldHardware,
    kinds: Vec<Kind>,
    start: Vec<f64>,
    steps: Vec<f64>,
    bounds: Vec<(f64, f64)>,
    /// Drive levels of the lookup table's knots.
    knot_levels: Vec<f64>,
    /// Nominal distance of each free-space step.
    nominal: Vec<f64>,
}

impl Model {
    fn new(net: &Network, plan: &FieldPlan, opts: &CalibrateOptions) -> Result<Model> {
        let cfg = net.config();
        let mut base = FieldHardware::of_config(cfg, &plan.places)?;
        let nominal: Vec<f64> = plan.places.spaces.iter().map(|s| s.2).collect();
        let (wx, wy) = (cfg.optics.nx as f64, cfg.optics.ny as f64);
        let mut m = Model {
            base: base.clone(),
            kinds: Vec::new(),
            start: Vec::new(),
            steps: Vec::new(),
            bounds: Vec::new(),
            knot_levels: Vec::new(),
            nominal: nominal.clone(),
        };
        let push = |m: &mut Model, k: Kind, v: f64, step: f64, b: (f64, f64)| {
            m.kinds.push(k);
            m.start.push(v.clamp(b.0, b.1));
            m.steps.push(step);
            m.bounds.push(b);
        };
        let phase_slms: Vec<usize> = (0..base.slms.len())
            .filter(|&i| base.slms[i].model.phase)
            .collect();
        for g in &opts.fit {
            match g {
                Group::Shifts => {
                    for (i, s) in base.slms.iter().enumerate() {
                        for (a, w) in [wx, wy].into_iter().enumerate() {
                            push(
                                &mut m,
                                Kind::Shift(i, a),
                                s.shift_px[a],
                                1e-3,
                                (-w / 4.0, w / 4.0),
                            );
                        }
                    }
                }
                Group::Distances => {
                    for (j, (&d, &a)) in nominal.iter().zip(&base.distances).enumerate() {
                        push(
                            &mut m,
                            Kind::Distance(j),
                            a - d,
                            1e-5 * d,
                            (-0.5 * d, 0.5 * d),
                        );
                    }
                }
                Group::Fringing => {
                    let f = base.slms.first().map_or(0.0, |s| s.model.fringing);
                    push(
                        &mut m,
                        Kind::Fringing,
                        if f > 0.0 { f } else { 0.5 },
                        1e-3,
                        (0.0, 8.0),
                    );
                }
                Group::PhaseLut => {
                    if phase_slms.is_empty() {
                        return Err(Error::config(
                            "--fit",
                            "phase_lut fits a phase SLM's lookup table; this network has no phase SLM",
                        ));
                    }
                    if !(3..=64).contains(&opts.lut_knots) {
                        return Err(Error::config(
                            "--lut-knots",
                            format!("{}: give 3 to 64 knots", opts.lut_knots),
                        ));
                    }
                    let resp = base.slms[phase_slms[0]].model.response.clone();
                    let k = opts.lut_knots;
                    m.knot_levels = (0..k).map(|i| 255.0 * i as f64 / (k - 1) as f64).collect();
                    for i in 1..k {
                        let w = TAU * i as f64 / (k - 1) as f64;
                        // The response at the knot's level (a full turn: the table's last level).
                        let continuous = crate::optics::Response {
                            bits: None,
                            ..resp.clone()
                        };
                        let psi = continuous.eval(w.min(TAU * (1.0 - 1e-12))).0;
                        push(&mut m, Kind::Knot(i), psi, 1e-3, (-TAU, 2.0 * TAU));
                    }
                }
                Group::Od => {
                    if plan.places.absorbers.is_empty() {
                        return Err(Error::config(
                            "--fit",
                            "od fits the absorbers' optical depths; this network has none",
                        ));
                    }
                    for (a, &(_, _, od)) in plan.places.absorbers.iter().enumerate() {
                        let e = cfg.hardware.od_errors.get(a).copied().unwrap_or(0.0);
                        let map = base.od_maps[a]
                            .take()
                            .unwrap_or_else(|| vec![od * (1.0 + e); cfg.optics.nx * cfg.optics.ny]);
                        base.od_maps[a] = Some(map.iter().map(|v| v / (1.0 + e)).collect());
                        push(&mut m, Kind::Od(a), e, 1e-4, (-0.9, 10.0));
                    }
                }
                Group::Gain => push(&mut m, Kind::Gain, 1.0, 1e-5, (1e-6, 1e6)),
            }
        }
        m.base = base;
        Ok(m)
    }

    /// The system and gain of the parameters `x`.
    fn system(&self, x: &[f64], plan: &FieldPlan) -> (FieldHardware, f64) {
        let mut h = self.base.clone();
        let mut gain = 1.0;
        let mut knots = vec![0.0; self.knot_levels.len()];
        for (&k, &v) in self.kinds.iter().zip(x) {
            match k {
                Kind::Shift(i, a) => {
                    h.slms[i].shift_px[a] = v;
                    h.slms[i].shift[a] = v * plan.places.slms[i].1;
                }
                Kind::Distance(j) => h.distances[j] = self.nominal[j] + v,
                Kind::Fringing => h.slms.iter_mut().for_each(|s| s.model.fringing = v),
                Kind::Knot(i) => knots[i] = v,
                Kind::Od(a) => {
                    if let Some(m) = h.od_maps[a].as_mut() {
                        m.iter_mut().for_each(|o| *o *= 1.0 + v);
                    }
                }
                Kind::Gain => gain = v,
            }
        }
        if !knots.is_empty() {
            let lut = Lut {
                level: self.knot_levels.clone(),
                phase: knots,
                amplitude: vec![1.0; self.knot_levels.len()],
            };
            for s in h.slms.iter_mut().filter(|s| s.model.phase) {
                s.model.response.lut = Some(lut.clone());
                s.model.response.range = TAU;
            }
        }
        (h, gain)
    }

    fn name(&self, k: Kind) -> (String, &'static str) {
        match k {
            Kind::Shift(i, a) => (format!("hardware.shifts[{i}][{a}]"), "pixels"),
            Kind::Distance(j) => (format!("hardware.distance_errors[{j}]"), "m"),
            Kind::Fringing => ("hardware.fringing".into(), "SLM pixels"),
            Kind::Knot(i) => (
                format!("hardware.phase_lut level {}", self.knot_levels[i]),
                "rad",
            ),
            Kind::Od(a) => (format!("hardware.od_errors[{a}]"), "relative"),
            Kind::Gain => ("camera gain".into(), "relative"),
        }
    }
}

/// The weighted residuals of `sim` (gain `g`) against the measured frames.
fn residuals(sim: &[Vec<f64>], g: f64, meas: &[Vec<f64>], weights: &[f64], out: &mut Vec<f64>) {
    out.clear();
    for ((s, m), &w) in sim.iter().zip(meas).zip(weights) {
        out.extend(s.iter().zip(m).map(|(&a, &b)| (g * a - b) * w));
    }
}

fn half_sq(r: &[f64]) -> f64 {
    0.5 * r.iter().map(|v| v * v).sum::<f64>()
}

/// Solves the symmetric positive-definite `a·x = b` (`p × p`, row-major) by Cholesky; `None`
/// when it is not positive definite.
fn cholesky_solve(a: &[f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = a[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    let mut y = vec![0.0; p];
    for i in 0..p {
        y[i] = (b[i] - (0..i).map(|k| l[i * p + k] * y[k]).sum::<f64>()) / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        x[i] = (y[i] - (i + 1..p).map(|k| l[k * p + i] * x[k]).sum::<f64>()) / l[i * p + i];
    }
    Some(x)
}

/// Fits the parameter groups of `opts` to the captures `caps` on the field network `net` (its
/// config the nominal system; its `[hardware]` the starting point); `progress` sees the start
/// and every iteration.
pub fn calibrate(
    net: &Network,
    caps: &Captures,
    opts: &CalibrateOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Calibration> {
    let net = net.on(System::Hardware)?;
    let plan = net.field("calibrate")?.clone();
    let cfg = net.config().clone();
    if opts.iterations == 0 || opts.iterations > 10_000 {
        return Err(Error::config(
            "--iterations",
            format!("{}: give 1 to 10000 iterations", opts.iterations),
        ));
    }
    let replays = replays(&plan, cfg.optics.nx, cfg.optics.ny, caps)?;
    let meas = &caps.frames;
    let nf = meas.len();
    if nf == 0 {
        return Err(Error::Data {
            path: caps.dir.join(crate::capture::FILE),
            message: "the captures hold no frame: capture some patterns first".into(),
        });
    }
    let weights: Vec<f64> = meas
        .iter()
        .map(|f| {
            let peak = f.iter().copied().fold(0.0, f64::max);
            if peak > 0.0 {
                1.0 / peak
            } else {
                1.0
            }
        })
        .collect();
    let model = Model::new(&net, &plan, opts)?;
    let p = model.kinds.len();
    let mut eval = |x: &[f64], r: &mut Vec<f64>| -> Result<Vec<Vec<f64>>> {
        let (h, g) = model.system(x, &plan);
        let sim = simulate(&net, &h, &replays, nf)?;
        residuals(&sim, g, meas, &weights, r);
        Ok(sim)
    };
    let mut r = Vec::new();
    let sim0 = eval(&model.start, &mut r)?;
    let m = r.len();
    let start_cost = half_sq(&r);
    progress(&Progress::Start {
        cost: start_cost,
        parameters: p,
        residuals: m,
    });
    let fit = levenberg_marquardt(&model, r, opts.iterations, &mut eval, progress)?;
    let (x, cost) = (fit.x, fit.cost);
    let s2 = 2.0 * cost / (m.saturating_sub(p).max(1)) as f64;
    let sigmas = covariance_diag(&fit.jtj, p);
    let (system, gain) = model.system(&x, &plan);
    let fitted: Vec<Vec<f64>> = simulate(&net, &system, &replays, nf)?
        .into_iter()
        .map(|f| f.into_iter().map(|v| v * gain).collect())
        .collect();
    let g0 = model.system(&model.start, &plan).1;
    let rel = |s: &[f64], g: f64, m: &[f64]| {
        let num: f64 = s.iter().zip(m).map(|(a, b)| (g * a - b).powi(2)).sum();
        let den: f64 = m.iter().map(|b| b * b).sum();
        (num / den.max(f64::MIN_POSITIVE)).sqrt()
    };
    let frames = caps
        .manifest
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| FrameFit {
            frame: i,
            file: f.png.file.clone(),
            pattern: caps
                .manifest
                .patterns
                .iter()
                .find(|p| p.id == f.pattern)
                .map_or_else(String::new, |p| p.name.clone()),
            plane: f.plane.clone(),
            before: rel(&sim0[i], g0, &meas[i]),
            after: rel(&fitted[i], 1.0, &meas[i]),
        })
        .collect();
    let parameters = model
        .kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let (name, unit) = model.name(k);
            let (lo, hi) = model.bounds[i];
            Parameter {
                name,
                unit,
                start: model.start[i],
                value: x[i],
                sigma: sigmas[i].map(|v| (v * s2).sqrt()),
                at_bound: x[i] <= lo || x[i] >= hi,
            }
        })
        .collect();
    let lut = system
        .slms
        .iter()
        .find_map(|s| s.model.response.lut.clone())
        .filter(|_| opts.fit.contains(&Group::PhaseLut));
    let od: Vec<f64> = model
        .kinds
        .iter()
        .zip(&x)
        .filter(|(k, _)| matches!(k, Kind::Od(_)))
        .map(|(_, &v)| v)
        .collect();
    let hardware = twin_section(&cfg.hardware, &system, &plan, opts, od);
    Ok(Calibration {
        parameters,
        gain,
        iterations: fit.iterations,
        frames,
        start_cost,
        cost,
        residuals: m,
        converged: fit.converged,
        system,
        hardware,
        lut,
        fitted,
    })
}

/// A simulation of every frame at the parameters `x`, its weighted residuals into the vector.
type Eval<'a> = dyn FnMut(&[f64], &mut Vec<f64>) -> Result<Vec<Vec<f64>>> + 'a;

/// Where the fit ended.
struct Fit {
    x: Vec<f64>,
    cost: f64,
    /// `JᵀJ` at (or one accepted small step before) `x`.
    jtj: Vec<f64>,
    iterations: Vec<Iteration>,
    converged: bool,
}

/// `JᵀJ` and `Jᵀr` at `x` (residuals `r`), the columns by forward differences (backward at an
/// upper bound).
fn normal_equations(
    model: &Model,
    x: &[f64],
    r: &[f64],
    eval: &mut Eval<'_>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let p = x.len();
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(p);
    let mut rj = Vec::new();
    for j in 0..p {
        let mut xj = x.to_vec();
        let h = if x[j] + model.steps[j] > model.bounds[j].1 {
            -model.steps[j]
        } else {
            model.steps[j]
        };
        xj[j] += h;
        eval(&xj, &mut rj)?;
        cols.push(rj.iter().zip(r).map(|(a, b)| (a - b) / h).collect());
    }
    let mut jtj = vec![0.0; p * p];
    let mut jtr = vec![0.0; p];
    for a in 0..p {
        jtr[a] = cols[a].iter().zip(r).map(|(u, v)| u * v).sum();
        for b in 0..=a {
            let s: f64 = cols[a].iter().zip(&cols[b]).map(|(u, v)| u * v).sum();
            jtj[a * p + b] = s;
            jtj[b * p + a] = s;
        }
    }
    Ok((jtj, jtr))
}

/// Levenberg–Marquardt from `model.start` (residuals `r` there) within the bounds: at most
/// `iterations` Jacobians; stops when no step lowers the cost or the cost falls by less than a
/// part in 10⁹.
fn levenberg_marquardt(
    model: &Model,
    mut r: Vec<f64>,
    iterations: usize,
    eval: &mut Eval<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Fit> {
    let p = model.start.len();
    let mut x = model.start.clone();
    let mut cost = half_sq(&r);
    let mut lambda = 1e-3;
    let mut evaluations = 1;
    let mut out = Vec::new();
    let mut rt = Vec::new();
    let mut last = None;
    let mut converged = false;
    for it in 1..=iterations {
        let (jtj, jtr) = normal_equations(model, &x, &r, eval)?;
        evaluations += p;
        let mut improved = false;
        let mut done = false;
        while lambda < 1e12 {
            let mut a = jtj.clone();
            for i in 0..p {
                let d = jtj[i * p + i];
                a[i * p + i] = d + lambda * if d > 0.0 { d } else { 1.0 };
            }
            let neg: Vec<f64> = jtr.iter().map(|v| -v).collect();
            let Some(delta) = cholesky_solve(&a, &neg, p) else {
                lambda *= 4.0;
                continue;
            };
            let xt: Vec<f64> = x
                .iter()
                .zip(&delta)
                .zip(&model.bounds)
                .map(|((v, d), b)| (v + d).clamp(b.0, b.1))
                .collect();
            let tiny = xt
                .iter()
                .zip(&x)
                .zip(&model.steps)
                .all(|((a, b), s)| (a - b).abs() < 1e-3 * s);
            eval(&xt, &mut rt)?;
            evaluations += 1;
            let ct = half_sq(&rt);
            if ct < cost {
                done = tiny || (cost - ct) < 1e-9 * cost;
                x = xt;
                std::mem::swap(&mut r, &mut rt);
                cost = ct;
                lambda = (lambda / 3.0).max(1e-9);
                improved = true;
                break;
            }
            if tiny {
                break;
            }
            lambda *= 4.0;
        }
        let rec = Iteration {
            iteration: it,
            cost,
            lambda,
            evaluations,
        };
        progress(&Progress::Iteration(rec.clone()));
        out.push(rec);
        last = Some(jtj);
        if !improved || done {
            converged = true;
            break;
        }
    }
    let jtj = match (last, converged) {
        (Some(j), true) => j,
        _ => normal_equations(model, &x, &r, eval)?.0,
    };
    Ok(Fit {
        x,
        cost,
        jtj,
        iterations: out,
        converged,
    })
}

/// The diagonal of `(JᵀJ)⁻¹` (`None` where a parameter moves no residual), by solving for each
/// unit vector with a tiny ridge.
fn covariance_diag(jtj: &[f64], p: usize) -> Vec<Option<f64>> {
    let top = (0..p).map(|i| jtj[i * p + i]).fold(0.0, f64::max);
    let mut a = jtj.to_vec();
    for i in 0..p {
        a[i * p + i] += 1e-12 * top.max(f64::MIN_POSITIVE);
    }
    (0..p)
        .map(|i| {
            if jtj[i * p + i] <= 1e-12 * top || top == 0.0 {
                return None;
            }
            let mut e = vec![0.0; p];
            e[i] = 1.0;
            cholesky_solve(&a, &e, p)
                .map(|x| x[i])
                .filter(|v| *v >= 0.0)
        })
        .collect()
}

/// The twin's `[hardware]`: the config's fixed imperfections, each fitted group replaced by its
/// explicit values (shifts in metres, distance errors, fringing, `od` as od_errors; the lookup
/// table replaces `phase_range`), without noise or read-out options.
fn twin_section(
    h: &Hardware,
    system: &FieldHardware,
    plan: &FieldPlan,
    opts: &CalibrateOptions,
    od: Vec<f64>,
) -> Hardware {
    let fits = |g| opts.fit.contains(&g);
    let mut t = Hardware {
        seed: h.seed,
        shifts: h.shifts.clone(),
        shift_std: h.shift_std,
        distance_errors: h.distance_errors.clone(),
        distance_std: h.distance_std,
        phase_range: h.phase_range,
        phase_bits: h.phase_bits,
        phase_lut: h.phase_lut.clone(),
        fringing: h.fringing,
        fill_factor: h.fill_factor,
        od_std: h.od_std,
        od_correlation: h.od_correlation,
        od_errors: h.od_errors.clone(),
        ..Hardware::default()
    };
    if fits(Group::Shifts) {
        t.shift_std = 0.0;
        t.shifts = system.slms.iter().map(|s| s.shift).collect();
    }
    if fits(Group::Distances) {
        t.distance_std = 0.0;
        t.distance_errors = system
            .distances
            .iter()
            .zip(&plan.places.spaces)
            .map(|(a, s)| a - s.2)
            .collect();
    }
    if fits(Group::Fringing) {
        t.fringing = system.slms.first().map_or(0.0, |s| s.model.fringing);
    }
    if fits(Group::PhaseLut) {
        t.phase_range = None;
        t.phase_lut = None;
    }
    if fits(Group::Od) {
        t.od_errors = od;
    }
    t
}

/// The files [`write`] wrote.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Written {
    /// The `[hardware]` (or `[twin]`) TOML.
    pub toml: std::path::PathBuf,
    /// The fitted lookup table, `level,phase` CSV (`phase_lut`).
    pub lut: Option<std::path::PathBuf>,
    /// The report (`calibration.json`): every parameter with its uncertainty, the iterations,
    /// each frame's misfit.
    pub report: std::path::PathBuf,
    /// Measured, fitted and difference frames of the worst-fitting captures before the fit.
    pub picture: std::path::PathBuf,
}

/// `out` with its extension replaced by `suffix` (`twin.toml` → `twin.lut.csv`).
fn beside(out: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "twin".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// The `[table]` TOML of `h`, only the options that differ from the default.
fn section_text(h: &Hardware, table: &str) -> Result<String> {
    let ser = |h: &Hardware| {
        toml::Value::try_from(h)
            .map_err(|e| Error::config("calibrate", format!("cannot write the section: {e}")))
    };
    let (toml::Value::Table(mut t), toml::Value::Table(d)) = (ser(h)?, ser(&Hardware::default())?)
    else {
        return Err(Error::config("calibrate", "the section is not a table"));
    };
    t.retain(|k, v| k == "seed" || d.get(k) != Some(v));
    let mut root = toml::Table::new();
    root.insert(table.into(), toml::Value::Table(t));
    toml::to_string(&root)
        .map_err(|e| Error::config("calibrate", format!("cannot write the section: {e}")))
}

/// Writes the calibration beside `out` (each file atomically): `out` itself, a TOML file with
/// the twin as a `[table]` section (`hardware`: it drops into a config as its `[hardware]`;
/// `twin`: as the model of a run on the real system), `<stem>.lut.csv` when the lookup table was
/// fitted (the section's `phase_lut` names it by `out`'s own path, relative to the working
/// directory as `phase_lut` is), `<stem>.calibration.json` and `<stem>.calibration.png`.
pub fn write(
    cal: &Calibration,
    caps: &Captures,
    out: &std::path::Path,
    table: &str,
) -> Result<Written> {
    if !matches!(table, "hardware" | "twin") {
        return Err(Error::config(
            "--section",
            format!("'{table}': give hardware or twin"),
        ));
    }
    if out.is_dir() {
        return Err(Error::config(
            "--out",
            format!(
                "{} is a folder: give the TOML file to write, e.g. twin.toml",
                out.display()
            ),
        ));
    }
    let mut h = cal.hardware.clone();
    let lut_path = cal.lut.as_ref().map(|_| beside(out, "lut.csv"));
    if let (Some(lut), Some(p)) = (&cal.lut, &lut_path) {
        let mut csv = String::from("level,phase\n");
        for (l, ph) in lut.level.iter().zip(&lut.phase) {
            csv.push_str(&format!("{l},{ph}\n"));
        }
        crate::io::atomic_write(p, csv.as_bytes())?;
        h.phase_lut = Some(p.display().to_string());
    }
    let manifest = std::fs::read(caps.dir.join(crate::capture::FILE))
        .map_err(|e| Error::io(caps.dir.join(crate::capture::FILE), e))?;
    let sha = crate::export::sha256_hex(&manifest);
    let misfit = |f: fn(&FrameFit) -> f64| {
        let n = cal.frames.len().max(1) as f64;
        cal.frames.iter().map(f).sum::<f64>() / n
    };
    let header = format!(
        "# The digital twin fitted by `wavetrain calibrate` (wavetrain {}) to the captures in\n\
         # {} (captures.json SHA-256 {sha}).\n\
         # Fitted: {}; mean relative misfit of a frame {:.4} -> {:.4}; standard errors in {}.\n\
         # Paste it into a config as its [{table}] section.\n",
        env!("CARGO_PKG_VERSION"),
        caps.dir.display(),
        cal.parameters
            .iter()
            .map(|p| p.name.split(['[', ' ']).next().unwrap_or("").to_string())
            .fold(Vec::<String>::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            })
            .join(", "),
        misfit(|f| f.before),
        misfit(|f| f.after),
        beside(out, "calibration.json").display(),
    );
    let mut text = format!("{header}{}", section_text(&h, table)?);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    crate::io::atomic_write(out, text.as_bytes())?;
    let report = serde_json::json!({
        "format": "wavetrain-calibration-1",
        "version": env!("CARGO_PKG_VERSION"),
        "captures": caps.dir.display().to_string(),
        "captures_sha256": sha,
        "section": table,
        "parameters": cal.parameters,
        "gain": cal.gain,
        "start_cost": cal.start_cost,
        "cost": cal.cost,
        "residuals": cal.residuals,
        "converged": cal.converged,
        "iterations": cal.iterations,
        "frames": cal.frames,
        "lut": cal.lut.as_ref().map(|l| serde_json::json!({"level": l.level, "phase": l.phase})),
        "hardware": h,
    });
    let report_path = beside(out, "calibration.json");
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::config("calibrate", format!("cannot write the report: {e}")))?;
    crate::io::atomic_write(&report_path, json.as_bytes())?;
    let picture = beside(out, "calibration.png");
    draw(cal, caps, &picture)?;
    Ok(Written {
        toml: out.to_path_buf(),
        lut: lut_path,
        report: report_path,
        picture,
    })
}

/// Measured, fitted and difference panels of the (at most four) frames that fitted worst before
/// the calibration.
fn draw(cal: &Calibration, caps: &Captures, path: &std::path::Path) -> Result<()> {
    use crate::plot::{ColorMap, Image};
    let [nx, ny] = caps.manifest.grid;
    let mut order: Vec<&FrameFit> = cal.frames.iter().collect();
    order.sort_by(|a, b| b.before.total_cmp(&a.before));
    order.truncate(4);
    let diffs: Vec<Vec<f64>> = order
        .iter()
        .map(|f| {
            cal.fitted[f.frame]
                .iter()
                .zip(&caps.frames[f.frame])
                .map(|(a, b)| a - b)
                .collect()
        })
        .collect();
    let mut panels = Vec::new();
    for (f, d) in order.iter().zip(&diffs) {
        let meas = &caps.frames[f.frame];
        let top = meas
            .iter()
            .copied()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let what = format!("{} ({}, {})", f.file, f.pattern, f.plane);
        let mut m = Image::new(
            format!("{what}: measured"),
            meas,
            nx,
            ny,
            ColorMap::Sequential,
        );
        m.range = Some((0.0, top));
        m.bar = Some("I / I_sat".into());
        let mut s = Image::new(
            "fitted twin",
            &cal.fitted[f.frame],
            nx,
            ny,
            ColorMap::Sequential,
        );
        s.range = Some((0.0, top));
        s.bar = Some("I / I_sat".into());
        let mut e = Image::new(
            format!(
                "fitted − measured (misfit {:.2} % , before {:.1} %)",
                100.0 * f.after,
                100.0 * f.before
            ),
            d,
            nx,
            ny,
            ColorMap::Diverging,
        );
        e.bar = Some("ΔI / I_sat".into());
        panels.extend([m, s, e]);
    }
    crate::plot::images(
        path,
        "Calibration: captured frames against the fitted digital twin",
        &panels,
        3,
    )?;
    Ok(())
}
