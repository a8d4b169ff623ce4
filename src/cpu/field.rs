//! The CPU executor of a [`FieldPlan`]: pump pass, loss, probe pass, gradients, update.

use num_complex::Complex;
use rayon::prelude::*;

use super::absorber::absorber_probe_saturating;
use super::hardware::{absorber_probe_map, absorber_pump_map, Shift, Shifter};
use super::optimizer::OptimizerState;
use super::{
    absorber_probe, absorber_probe_kept, absorber_pump, absorber_pump_keep, amplitude_grad,
    amplitude_mask, detect, detect_probe, mask_correlation_into, modulate, phase_grad, phase_mask,
    Lens2f, PropScratch, Propagator,
};
use crate::loss::{loss_and_grad, LossStats};
use crate::model::{GradientMode, Loss, Region};
use crate::network::{FieldHardware, FieldPlan, Network, Op, ParamKind, State, System};
use crate::optics::interferometry::{measure as measure_frames, Beams, Camera};
use crate::optics::lens::thin_lens_phase;
use crate::optics::slm::Shown;
use crate::optics::SlmModel;
use crate::real::Real;
use crate::Grid;

/// Callback that sees the field at each plane: `(plane index, field)`.
pub type PlaneFn<'a, T> = dyn FnMut(usize, &[Complex<T>]) + 'a;

/// What every worker reads: the schedule, the planned optics and the current masks.
struct Shared<T: Real> {
    plan: FieldPlan,
    nx: usize,
    ny: usize,
    regions: Vec<Region>,
    gradient: GradientMode,
    props: Vec<Propagator<T>>,
    lenses: Vec<Vec<Complex<T>>>,
    masks: Vec<Vec<Complex<T>>>,
    /// Focal length and pitch of each 2f lens (workers plan their own).
    fourier_specs: Vec<(f64, f64)>,
    wavelength: f64,
    /// The imperfect system's operators, when the plan has one and this executor runs it.
    hw: Option<HwOps<T>>,
    /// The twin's operators (`[twin]`), when physics-aware training runs its probe through
    /// them.
    twin: Option<HwOps<T>>,
    /// The hardware's read-out of the SLM gradients, when the probe runs on the hardware and
    /// it differs from the exact product.
    readout: Option<ReadoutOps>,
    /// The optimiser step of the pass being run (the random counter's `c0`).
    step: u64,
}

/// The read-out of the SLM gradients on the hardware (`hardware.readout`, `probe_ratio`,
/// `readout_*`; `crate::optics::interferometry`).
struct ReadoutOps {
    /// The camera, or `None` for the exact product (a finite probe without a camera).
    camera: Option<Camera>,
    /// The probe's peak amplitude relative to the pump's at the detectors, if finite.
    ratio: Option<f64>,
    /// SLM pixels per camera pixel, along each axis.
    binning: usize,
    /// The random key (`hardware.seed`).
    key: [u32; 2],
}

impl ReadoutOps {
    fn of(h: &crate::model::Hardware) -> Option<Self> {
        h.readout_on().then(|| ReadoutOps {
            camera: h.camera(),
            ratio: h.probe_ratio,
            binning: h.readout_binning.unwrap_or(1) as usize,
            key: crate::rng::key_of(h.seed),
        })
    }
}

/// A batch of inputs: real amplitudes (images, as training encodes them) or complex fields.
#[derive(Clone, Copy)]
enum Input<'a, T: Real> {
    Real(&'a [f32]),
    Complex(&'a [Complex<T>]),
}

impl<'a, T: Real> Input<'a, T> {
    fn len(&self) -> usize {
        match self {
            Input::Real(x) => x.len(),
            Input::Complex(x) => x.len(),
        }
    }

    /// The values from `start`, at most `len` of them (the chunk of one worker).
    fn images(&self, start: usize, len: usize) -> Input<'a, T> {
        let end = (start + len).min(self.len());
        let start = start.min(end);
        match *self {
            Input::Real(x) => Input::Real(&x[start..end]),
            Input::Complex(x) => Input::Complex(&x[start..end]),
        }
    }
}

/// The operators of the imperfect system ([`crate::network::hardware`]) and which pass runs
/// through them.
struct HwOps<T: Real> {
    /// The pump runs on the hardware (always, when there are hardware ops).
    /// The probe runs on the hardware (else through the ideal model: physics-aware).
    probe: bool,
    /// Free space at the actual distances.
    props: Vec<Propagator<T>>,
    /// Per SLM: its shift, when it has one.
    shifts: Vec<Option<Shift<T>>>,
    /// Per SLM with a non-ideal device model: the shown transmission on the grid (engine
    /// precision, and in f64 with what its gradient needs).
    masks: Vec<Option<(Vec<Complex<T>>, Shown)>>,
    /// Per absorber: its optical-depth map, when it has one.
    od_maps: Vec<Option<Vec<f64>>>,
    /// Per SLM: its device model.
    models: Vec<SlmModel>,
}

impl<T: Real> HwOps<T> {
    /// The operators of the system `h`; free space of a distance and pitch the ideal steps
    /// (`ideal`) or an earlier actual step has shares its transfer function.
    fn of(
        h: &FieldHardware,
        plan: &FieldPlan,
        ideal: &[Propagator<T>],
        o: &crate::model::Optics,
        probe: bool,
    ) -> crate::Result<Self> {
        let mut props: Vec<Propagator<T>> = Vec::with_capacity(plan.propagators.len());
        for (i, p) in plan.propagators.iter().enumerate() {
            let d = h.distances[i];
            let same_ideal = (0..plan.propagators.len())
                .find(|&j| plan.propagators[j].distance == d && plan.propagators[j].dx == p.dx);
            let same_hw = (0..i).find(|&j| h.distances[j] == d && plan.propagators[j].dx == p.dx);
            props.push(match (same_ideal, same_hw) {
                (Some(j), _) => ideal[j].share(),
                (None, Some(j)) => props[j].share(),
                (None, None) => Propagator::new(
                    &Grid::new(o.nx, o.ny, p.dx)?,
                    o.wavelength,
                    d,
                    o.padding,
                    o.band_limit,
                ),
            });
        }
        Ok(HwOps {
            probe,
            props,
            shifts: h
                .slms
                .iter()
                .map(|s| (s.shift_px != [0.0, 0.0]).then(|| Shift::new(s.shift_px, o.nx, o.ny)))
                .collect(),
            masks: vec![None; plan.params.len()],
            od_maps: h.od_maps.clone(),
            models: h.slms.iter().map(|s| s.model.clone()).collect(),
        })
    }
}

impl<T: Real> Shared<T> {
    /// Whether the pump (`probe = false`) or the probe pass runs through the imperfect system.
    /// Physics-aware training through a twin runs its probe through the twin's operators.
    fn on_hw(&self, probe: bool) -> Option<&HwOps<T>> {
        match self.hw.as_ref() {
            Some(h) if !probe || h.probe => Some(h),
            _ if probe => self.twin.as_ref(),
            _ => None,
        }
    }

    /// Physics-aware: pump on the hardware, probe through the model (ideal, or the twin).
    fn physics_aware(&self) -> bool {
        self.hw.as_ref().is_some_and(|h| !h.probe) || self.twin.is_some()
    }

    /// The optical probe has a finite strength and saturates the absorbers itself.
    fn saturating(&self) -> bool {
        self.gradient == GradientMode::Optical
            && !self.physics_aware()
            && self.readout.as_ref().is_some_and(|r| r.ratio.is_some())
    }
}

/// The buffers of one chunk of the batch: its field, probe, saved fields, propagation scratch,
/// 2f lenses (which own FFT work buffers), detector powers, `∂L/∂P` and the SLM correlations of
/// its images.
struct Worker<T: Real> {
    field: Vec<Complex<T>>,
    probe: Vec<Complex<T>>,
    slots: Vec<Vec<Complex<T>>>,
    scratch: PropScratch<T>,
    fouriers: Vec<Lens2f<T>>,
    powers: Vec<T>,
    dl_dp: Vec<T>,
    corr: Vec<Vec<Complex<T>>>,
    /// Transmission each absorber set in the last pump pass (optical gradient: what its probe
    /// sees).
    trans: Vec<Vec<T>>,
    /// Buffers of the imperfect system's shifts.
    shifter: Shifter<T>,
    /// Index in the batch of this chunk's first image.
    first: usize,
    /// Per image: the physical probe's amplitude per unit of the computed probe (1 for the
    /// ideal weak probe).
    scales: Vec<f64>,
    /// Camera frames and photo-electrons of the read-out in the last probe pass.
    frames: u64,
    electrons: f64,
}

impl<T: Real> Worker<T> {
    fn new(sh: &Shared<T>) -> Self {
        Worker {
            field: Vec::new(),
            probe: Vec::new(),
            slots: vec![Vec::new(); sh.plan.slots],
            scratch: PropScratch::new(),
            fouriers: sh
                .fourier_specs
                .iter()
                .map(|&(dx, f)| Lens2f::new(sh.nx, sh.ny, dx, sh.wavelength, f))
                .collect(),
            powers: Vec::new(),
            dl_dp: Vec::new(),
            corr: vec![Vec::new(); sh.plan.params.len()],
            trans: vec![Vec::new(); sh.plan.absorbers.len()],
            shifter: Shifter::default(),
            first: 0,
            scales: Vec::new(),
            frames: 0,
            electrons: 0.0,
        }
    }

    /// An SLM's action on the field or the probe: the ideal mask, or on the imperfect system
    /// `T_s(M·T_{−s} ·)` with the device's shown transmission `M`; `keep` (pump) saves the field
    /// entering the mask into `slot` (the SLM's own frame on the hardware, the lab frame for
    /// physics-aware training, whose probe runs through the ideal, unshifted SLM), and `corr`
    /// (probe) records the correlation of the probe arriving at the mask with the saved pump.
    fn mask(&mut self, sh: &Shared<T>, param: usize, probe: bool, slot: Option<usize>, pass: bool) {
        let (nx, ny) = (sh.nx, sh.ny);
        let k = sh.plan.params[param].k;
        let hw = sh.on_hw(probe);
        let shift = hw.and_then(|h| h.shifts[param].as_ref());
        let shown = hw.and_then(|h| h.masks[param].as_ref());
        let buf = if probe {
            &mut self.probe
        } else {
            &mut self.field
        };
        if let (Some(s), false) = (slot, probe) {
            if hw.is_none() || sh.physics_aware() {
                self.slots[s].clear();
                self.slots[s].extend_from_slice(buf);
                // A twin's probe meets the pump in the twin SLM's own frame.
                if let Some(t) = sh.twin.as_ref().and_then(|t| t.shifts[param].as_ref()) {
                    self.shifter.apply(&mut self.slots[s], nx, ny, t, false);
                }
            }
        }
        if let Some(s) = shift {
            self.shifter.apply(buf, nx, ny, s, false);
        }
        if !probe && hw.is_some() && !sh.physics_aware() {
            if let Some(s) = slot {
                self.slots[s].clear();
                self.slots[s].extend_from_slice(buf);
            }
        }
        if probe {
            let v = &self.slots[slot.expect("plan keeps SLM inputs")];
            let kc = if shown.is_some() { 1 } else { k };
            let camera = sh
                .readout
                .as_ref()
                .and_then(|r| Some((r, r.camera.as_ref()?)));
            match camera {
                Some((ro, cam)) => {
                    // The pump leaving an ideal phase SLM is `u = m·v` (what interferes with the
                    // probe, DESIGN §4); amplitude SLMs and device models need `b·v` itself.
                    let phase = sh.plan.params[param].kind == ParamKind::Phase;
                    let rho = (shown.is_none() && phase).then_some(&sh.masks[param][..]);
                    let at = ReadoutAt {
                        nx,
                        ny,
                        kc,
                        side: ro.binning * k,
                        step: sh.step,
                        sub: param,
                        first: self.first,
                    };
                    self.electrons += read_out(
                        v,
                        buf,
                        &at,
                        rho,
                        &self.scales,
                        ro,
                        cam,
                        &mut self.corr[param],
                    );
                    self.frames += (cam.steps * v.len() / (nx * ny)) as u64;
                }
                None => mask_correlation_into(v, buf, nx, ny, kc, &mut self.corr[param]),
            }
            if !pass {
                return;
            }
        }
        match shown {
            Some((m, _)) => modulate(buf, nx, ny, m, 1),
            None => modulate(buf, nx, ny, &sh.masks[param], k),
        }
        if let Some(s) = shift {
            self.shifter.apply(buf, nx, ny, s, true);
        }
    }

    fn apply(&mut self, sh: &Shared<T>, op: Op, probe: bool) {
        let (nx, ny) = (sh.nx, sh.ny);
        let buf = if probe {
            &mut self.probe
        } else {
            &mut self.field
        };
        match op {
            Op::Mask { param } => modulate(buf, nx, ny, &sh.masks[param], sh.plan.params[param].k),
            Op::Lens { lens } => modulate(buf, nx, ny, &sh.lenses[lens], 1),
            Op::Propagate { prop } => match sh.on_hw(probe) {
                Some(h) => h.props[prop].apply_with(buf, &mut self.scratch),
                None => sh.props[prop].apply_with(buf, &mut self.scratch),
            },
            Op::Fourier { lens } => self.fouriers[lens].apply(buf),
            Op::Absorber { absorber } if !probe => {
                let a = &sh.plan.absorbers[absorber];
                let map = sh.on_hw(false).and_then(|h| h.od_maps[absorber].as_deref());
                let keep = sh.gradient == GradientMode::Optical && !sh.physics_aware();
                if let Some(m) = map {
                    absorber_pump_map(buf, a.model, m, keep.then_some(&mut self.trans[absorber]));
                } else if keep {
                    absorber_pump_keep(buf, a, &mut self.trans[absorber]);
                } else {
                    absorber_pump(buf, a);
                }
            }
            // An absorber's probe action needs the pump's record of it: `probe_step`.
            Op::Absorber { .. } => {}
        }
    }

    /// Loads real input amplitudes.
    fn load(&mut self, input: Input<'_, T>) {
        self.field.clear();
        match input {
            Input::Real(x) => self
                .field
                .extend(x.iter().map(|&a| Complex::new(T::of(a as f64), T::zero()))),
            Input::Complex(x) => self.field.extend_from_slice(x),
        }
    }

    /// Pump step `i`.
    fn pump_step(&mut self, sh: &Shared<T>, i: usize) {
        let step = sh.plan.pump[i];
        if let Op::Mask { param } = step.op {
            return self.mask(sh, param, false, step.save, true);
        }
        // The optical probe of an absorber reads the transmission kept by the pump, not the
        // field that entered it (physics-aware training keeps the field: its probe evaluates the
        // ideal absorber at it).
        // A saturating probe reads the field that entered the absorber too.
        let kept = sh.gradient == GradientMode::Optical
            && matches!(step.op, Op::Absorber { .. })
            && !sh.physics_aware()
            && !sh.saturating();
        if let (Some(s), false) = (step.save, kept) {
            self.slots[s].clear();
            self.slots[s].extend_from_slice(&self.field);
        }
        self.apply(sh, step.op, false);
    }

    fn detect(&mut self, sh: &Shared<T>) {
        self.powers = detect(&self.field, sh.nx, sh.ny, &sh.regions, sh.plan.out_dx);
    }

    /// Injects the probe at the detectors from this chunk's `∂L/∂P`; with a finite probe
    /// strength `r`, sets each image's scale `σ = r·max|u|/max|b|` (the physical probe is `σ·b`,
    /// its peak `r` times the pump's at the detector plane; σ is divided out of the measured
    /// gradient again).
    fn inject(&mut self, sh: &Shared<T>) {
        self.probe
            .resize(self.field.len(), Complex::new(T::zero(), T::zero()));
        detect_probe(
            &self.field,
            sh.nx,
            sh.ny,
            &sh.regions,
            sh.plan.out_dx,
            &self.dl_dp,
            &mut self.probe,
        );
        let n = sh.nx * sh.ny;
        let ratio = sh.readout.as_ref().and_then(|r| r.ratio);
        self.scales.clear();
        self.scales.extend(
            self.field
                .chunks(n)
                .zip(self.probe.chunks(n))
                .map(|(u, b)| {
                    let peak =
                        |f: &[Complex<T>]| f.iter().fold(0.0f64, |m, z| m.max(z.norm().f64()));
                    match ratio {
                        Some(r) if peak(b) > 0.0 => r * peak(u) / peak(b),
                        _ => 1.0,
                    }
                }),
        );
        self.frames = 0;
        self.electrons = 0.0;
    }

    /// Probe step `j`: SLMs record the correlation of pump and probe (summed over this chunk).
    fn probe_step(&mut self, sh: &Shared<T>, j: usize) {
        let step = sh.plan.probe[j];
        match step.op {
            // The gradient needs the probe arriving at the SLM, before it passes the SLM.
            Op::Mask { param } => self.mask(sh, param, true, step.slot, step.pass),
            Op::Absorber { absorber } if sh.saturating() => {
                let slot = &self.slots[step.slot.expect("plan keeps absorber inputs")];
                let od = sh.on_hw(true).and_then(|h| h.od_maps[absorber].as_deref());
                absorber_probe_saturating(
                    &mut self.probe,
                    slot,
                    &sh.plan.absorbers[absorber],
                    od,
                    &self.scales,
                );
            }
            Op::Absorber { absorber }
                if sh.gradient == GradientMode::Optical && !sh.physics_aware() =>
            {
                absorber_probe_kept(&mut self.probe, &self.trans[absorber]);
            }
            Op::Absorber { absorber }
                if sh
                    .on_hw(true)
                    .is_some_and(|h| h.od_maps[absorber].is_some()) =>
            {
                let slot = &self.slots[step.slot.expect("plan keeps absorber inputs")];
                let h = sh.on_hw(true).expect("checked");
                absorber_probe_map(
                    &mut self.probe,
                    slot,
                    sh.plan.absorbers[absorber].model,
                    h.od_maps[absorber].as_deref().expect("checked"),
                    sh.gradient == GradientMode::Exact,
                );
            }
            Op::Absorber { absorber } => {
                let slot = &self.slots[step.slot.expect("plan keeps absorber inputs")];
                absorber_probe(
                    &mut self.probe,
                    slot,
                    &sh.plan.absorbers[absorber],
                    sh.gradient == GradientMode::Exact,
                );
            }
            op => self.apply(sh, op, true),
        }
    }
}

/// Where a read-out runs: the grid, the output cells of the correlation (`kc` grid pixels a
/// side), the camera pixel (`side` grid pixels a side), and the random counter's words.
struct ReadoutAt {
    nx: usize,
    ny: usize,
    kc: usize,
    side: usize,
    step: u64,
    /// The SLM (its parameter index).
    sub: usize,
    /// Index in the batch of the first image.
    first: usize,
}

/// The hardware's measurement of one SLM's correlation `c = Σ b·v` (what
/// [`mask_correlation_into`] computes exactly) into `corr`: per image and camera pixel, the
/// frames of the pump `a = ρ·v` (`ρ` the SLM's mask for an ideal phase SLM: the pump leaving
/// it; else 1) with the physical probe `σ·b`, summed over the camera pixel, measured with the
/// camera's noise (`interferometry::measure`, draws keyed on step, SLM × frames + frame, image
/// and camera pixel), `σ` divided out, and the camera pixel's `Ĉ` shared equally by the output
/// cells it covers, each rotated back by `conj(ρ)` so that the gradient formulas of
/// `modulate` apply unchanged. Returns the photo-electrons collected.
#[allow(clippy::too_many_arguments)]
fn read_out<T: Real>(
    v: &[Complex<T>],
    b: &[Complex<T>],
    at: &ReadoutAt,
    rho: Option<&[Complex<T>]>,
    scales: &[f64],
    ro: &ReadoutOps,
    cam: &Camera,
    corr: &mut Vec<Complex<T>>,
) -> f64 {
    use crate::rng::{counter, normals, Purpose};
    let c64 = |z: Complex<T>| Complex::new(z.re.f64(), z.im.f64());
    let (nx, ny, kc, side) = (at.nx, at.ny, at.kc, at.side);
    let (cx, cy) = (nx / side, ny / side);
    let ox = nx / kc;
    let per = side / kc;
    let cells = (per * per) as f64;
    let rho_at =
        |oy: usize, ox_: usize| rho.map_or(Complex::new(1.0, 0.0), |m| c64(m[oy * ox + ox_]));
    let mut acc = vec![Complex::new(0.0f64, 0.0); ox * (ny / kc)];
    let mut beams = vec![Beams::default(); cx * cy];
    let mut z = Vec::new();
    let mut electrons = 0.0;
    for (img, (vi, bi)) in v.chunks(nx * ny).zip(b.chunks(nx * ny)).enumerate() {
        let sigma = scales.get(img).copied().unwrap_or(1.0);
        beams.fill(Beams::default());
        for y in 0..ny {
            for x in 0..nx {
                let i = y * nx + x;
                let a = c64(vi[i]) * rho_at(y / kc, x / kc);
                beams[(y / side) * cx + x / side].add(a, c64(bi[i]) * sigma);
            }
        }
        let image = at.first + img;
        let sub = at.sub * 64;
        electrons += measure_frames(
            &beams,
            cam,
            |k, p| {
                let d = normals(
                    ro.key,
                    counter(
                        at.step,
                        0,
                        Purpose::ReadoutFrame,
                        (sub + k) as u32,
                        image,
                        p,
                    ),
                );
                [d[0], d[1]]
            },
            &mut z,
        );
        for py in 0..cy {
            for px in 0..cx {
                let zp = z[py * cx + px] / (sigma * cells);
                for oy in py * per..(py + 1) * per {
                    for o in px * per..(px + 1) * per {
                        acc[oy * ox + o] += rho_at(oy, o).conj() * zp;
                    }
                }
            }
        }
    }
    corr.clear();
    corr.extend(acc.iter().map(|z| Complex::new(T::of(z.re), T::of(z.im))));
    electrons
}

/// What the detectors of the imperfect system report (`hardware.shot_noise`, `read_noise`,
/// `camera_bits`): each image's powers `[classes]` relative to its brightest detector (the
/// camera's full scale), `i ← i + √(i/N)·ξ` (shot noise, `N` photo-electrons at full scale),
/// `+ σ_read·ξ`, clamped to `[0, 1]`, quantised to `2^bits − 1` steps. The loss sees these
/// values; the probe is injected with their `∂L/∂P` (noise and quantisation passed straight
/// through). Drawn from the counter generator ([`crate::rng`]) keyed by `hardware.seed`:
/// counter `[step, word1(0, Detector, pass), image, detector]`, shot noise from its first normal,
/// read noise from its second (`shaders/detect.wgsl` `detect_noise` draws the same numbers).
fn measure<T: Real>(h: &crate::model::Hardware, powers: &mut [T], k: usize, step: u64, pass: u64) {
    use crate::rng::{counter, key_of, normals, Purpose};
    let key = key_of(h.seed);
    let pass = (pass & 0xffff) as u32;
    let levels = h.camera_bits.map(|b| ((1u64 << b) - 1) as f64);
    for (img, p) in powers.chunks_mut(k.max(1)).enumerate() {
        let full = p.iter().fold(0.0f64, |m, p| m.max(p.f64()));
        if full <= 0.0 {
            continue;
        }
        for (d, p) in p.iter_mut().enumerate() {
            let z = normals(key, counter(step, 0, Purpose::Detector, pass, img, d));
            let mut i = p.f64() / full;
            if let Some(n) = h.shot_noise {
                i += (i / n).sqrt() * f64::from(z[0]);
            }
            if h.read_noise > 0.0 {
                i += h.read_noise * f64::from(z[1]);
            }
            i = i.clamp(0.0, 1.0);
            if let Some(q) = levels {
                i = (i * q).round() / q;
            }
            *p = T::of(i * full);
        }
    }
}

/// Images per worker chunk: enough chunks (4 per thread) that the whole pump or probe pass of a
/// chunk runs as one task, so a training step has two parallel regions instead of a few per
/// element, and a chunk's fields stay in cache from element to element.
fn chunk_images(batch: usize) -> usize {
    let chunks = 4 * rayon::current_num_threads().max(1);
    batch.div_ceil(chunks).max(1)
}

/// A network on the CPU in precision `T`.
///
/// The batch is split into chunks of images (`chunk_images`); each chunk runs the whole pump
/// pass and the whole probe pass as one rayon task (the elements' own parallel loops still split
/// inside a chunk when threads are idle), and the SLM gradients sum the chunks' correlations in
/// chunk order, so results do not depend on thread scheduling.
pub struct CpuField<T: Real> {
    sh: Shared<T>,
    workers: Vec<Worker<T>>,
    loss: Loss,
    temperature: f64,
    /// Parameters in the engine's precision.
    pub params: Vec<Vec<T>>,
    opt: OptimizerState<T>,
    /// Gradients of the last backward pass, one per SLM.
    pub grads: Vec<Vec<T>>,
    powers: Vec<T>,
    dl_dp: Vec<T>,
    /// Images in each worker's chunk in the last pump pass.
    chunk: usize,
    /// The noisy options of the imperfect system (detector noise, input bits), when the pump
    /// runs on it and one is on.
    noise: Option<crate::model::Hardware>,
    /// Pump passes since the last step (seeds the detector noise of evaluations).
    evals: u64,
    /// Input amplitude of a white pixel (full scale of the input quantisation).
    white: f64,
    /// Camera frames and photo-electrons of the gradient read-out since the last
    /// [`take_readout_counts`](Self::take_readout_counts).
    readout_frames: u64,
    readout_electrons: f64,
}

impl<T: Real> CpuField<T> {
    /// Builds the executor of a field network with parameters and optimiser state from `state`.
    pub fn new(net: &Network, state: &State) -> crate::Result<Self> {
        let plan = net.field("the field executor")?.clone();
        net.check_state(state)?;
        let cfg = net.config();
        let o = &cfg.optics;
        // Free-space steps of equal distance and pitch share one transfer function (less memory
        // for the caches to hold: a network of equal spacings reads one).
        let mut props: Vec<Propagator<T>> = Vec::with_capacity(plan.propagators.len());
        for (i, p) in plan.propagators.iter().enumerate() {
            let same = plan.propagators[..i]
                .iter()
                .position(|q| q.distance == p.distance && q.dx == p.dx);
            props.push(match same {
                Some(j) => props[j].share(),
                None => Propagator::new(
                    &Grid::new(o.nx, o.ny, p.dx)?,
                    o.wavelength,
                    p.distance,
                    o.padding,
                    o.band_limit,
                ),
            });
        }
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
        let sys = net.system();
        let hw = match (&plan.hardware, &plan.twin) {
            // In silico on a twin: pump and probe through the twin's operators.
            (_, Some(t)) if sys == System::Model => Some(HwOps::of(t, &plan, &props, o, true)?),
            (Some(h), _) if sys.pump_on_hardware() => {
                Some(HwOps::of(h, &plan, &props, o, sys == System::Hardware)?)
            }
            _ => None,
        };
        // Physics-aware training through a twin: the probe runs through the twin's operators.
        let twin = match &plan.twin {
            Some(t) if sys == System::PhysicsAware => Some(HwOps::of(t, &plan, &props, o, true)?),
            _ => None,
        };
        let readout = (net.system() == System::Hardware)
            .then(|| ReadoutOps::of(&cfg.hardware))
            .flatten();
        let sh = Shared {
            hw,
            twin,
            readout,
            step: 0,
            nx: o.nx,
            ny: o.ny,
            regions: net.regions().to_vec(),
            gradient: cfg.train.gradient,
            props,
            lenses,
            masks: Vec::new(),
            fourier_specs: plan
                .fouriers
                .iter()
                .map(|l| (l.dx, l.focal_length))
                .collect(),
            wavelength: o.wavelength,
            plan,
        };
        let params = State::to_engine::<T>(&state.params);
        let mut exec = CpuField {
            workers: Vec::new(),
            loss: cfg.readout.loss,
            temperature: cfg.readout.temperature,
            opt: OptimizerState::new(net.update_rule(), state, &params),
            grads: sh
                .plan
                .params
                .iter()
                .map(|p| vec![T::zero(); p.len()])
                .collect(),
            params,
            powers: Vec::new(),
            dl_dp: Vec::new(),
            chunk: 1,
            noise: (net.system().pump_on_hardware() && cfg.hardware.field_noisy())
                .then(|| cfg.hardware.clone()),
            evals: 0,
            white: cfg.input.intensity.sqrt(),
            readout_frames: 0,
            readout_electrons: 0.0,
            sh,
        };
        exec.refresh_masks();
        Ok(exec)
    }

    /// Camera frames and photo-electrons the gradient read-out took since the last call (zero
    /// without a camera read-out; photo-electrons only with `readout_shot_noise`).
    pub fn take_readout_counts(&mut self) -> (u64, f64) {
        let c = (self.readout_frames, self.readout_electrons);
        self.readout_frames = 0;
        self.readout_electrons = 0.0;
        c
    }

    /// Per image of the last probe pass: the physical probe's amplitude per unit of the
    /// computed probe, `σ = r·max|u|/max|b|` at the detector plane (1 without `probe_ratio`).
    pub fn probe_scales(&self) -> Vec<f64> {
        self.workers
            .iter()
            .flat_map(|w| w.scales.iter().copied())
            .collect()
    }

    /// The schedule this network runs.
    pub fn plan(&self) -> &FieldPlan {
        &self.sh.plan
    }

    /// The detector regions.
    pub fn regions(&self) -> &[Region] {
        &self.sh.regions
    }

    /// Sets the gradient mode (optical or exact).
    pub fn set_gradient(&mut self, mode: GradientMode) {
        self.sh.gradient = mode;
    }

    /// Parameters and optimiser state in f32.
    pub fn state(&self) -> State {
        self.opt.state(&self.params)
    }

    /// Rebuilds the complex masks after the parameters changed.
    pub fn refresh_masks(&mut self) {
        self.sh.masks = self
            .sh
            .plan
            .params
            .iter()
            .zip(&self.params)
            .map(|(s, p)| match s.kind {
                ParamKind::Phase => phase_mask(p),
                ParamKind::Amplitude => amplitude_mask(p),
            })
            .collect();
        for h in [self.sh.hw.as_mut(), self.sh.twin.as_mut()]
            .into_iter()
            .flatten()
        {
            for (i, (spec, p)) in self.sh.plan.params.iter().zip(&self.params).enumerate() {
                let model = &h.models[i];
                h.masks[i] = (!model.is_ideal()).then(|| {
                    let p64: Vec<f64> = p.iter().map(|v| v.f64()).collect();
                    let shown = model.show(&p64, spec.sx, spec.sy, spec.k);
                    let m = shown.mask.iter().map(|&z| crate::real::c_of(z)).collect();
                    (m, shown)
                });
            }
        }
    }

    /// The workers' fields (or probes) concatenated in batch order, for plane callbacks.
    fn gather(&self, probe: bool) -> Vec<Complex<T>> {
        self.workers
            .iter()
            .flat_map(|w| if probe { &w.probe } else { &w.field })
            .copied()
            .collect()
    }

    /// Pump pass of real input amplitudes `[batch][ny][nx]`; returns detector powers
    /// `[batch][classes]`. With `on_plane`, calls it with every element's output field (the
    /// whole batch).
    pub fn forward(&mut self, input: &[f32], on_plane: Option<&mut PlaneFn<'_, T>>) -> &[T] {
        let mut quantised = Vec::new();
        let input = self.quantised_input(input, &mut quantised);
        self.pump(Input::Real(input), on_plane)
    }

    /// [`forward`](Self::forward) of complex input fields (phase objects, holograms), batch ×
    /// `ny × nx`, `|E|² = I/I_sat`, taken as given (`hardware.input_bits` quantises real
    /// amplitudes only).
    pub fn forward_complex(
        &mut self,
        input: &[Complex<T>],
        on_plane: Option<&mut PlaneFn<'_, T>>,
    ) -> &[T] {
        self.pump(Input::Complex(input), on_plane)
    }

    /// The input amplitudes as the input SLM/DMD of `hardware.input_bits` shows them.
    fn quantised_input<'a>(&self, input: &'a [f32], keep: &'a mut Vec<f32>) -> &'a [f32] {
        match self.noise.as_ref().and_then(|h| h.input_bits) {
            Some(b) => {
                // The input SLM/DMD shows 2^b − 1 steps between dark and a white pixel.
                let q = ((1u64 << b) - 1) as f64;
                let w = self.white;
                *keep = input
                    .iter()
                    .map(|&a| ((a as f64 / w).clamp(0.0, 1.0) * q).round() / q * w)
                    .map(|a| a as f32)
                    .collect::<Vec<f32>>();
                &keep[..]
            }
            None => input,
        }
    }

    /// The pump pass of a batch of inputs (and the detectors' noise).
    fn pump(&mut self, input: Input<'_, T>, on_plane: Option<&mut PlaneFn<'_, T>>) -> &[T] {
        let n = self.sh.nx * self.sh.ny;
        let batch = input.len() / n;
        self.chunk = chunk_images(batch);
        let chunks = batch.div_ceil(self.chunk).max(1);
        while self.workers.len() < chunks {
            self.workers.push(Worker::new(&self.sh));
        }
        self.workers.truncate(chunks);
        let chunk = self.chunk;
        let sh = &self.sh;
        let steps = sh.plan.pump.len();
        match on_plane {
            None => self.workers.par_iter_mut().enumerate().for_each(|(c, w)| {
                w.first = c * chunk;
                w.load(input.images(c * chunk * n, chunk * n));
                for i in 0..steps {
                    w.pump_step(sh, i);
                }
                w.detect(sh);
            }),
            Some(f) => {
                for (c, w) in self.workers.iter_mut().enumerate() {
                    w.first = c * chunk;
                    w.load(input.images(c * chunk * n, chunk * n));
                }
                for i in 0..steps {
                    self.workers.par_iter_mut().for_each(|w| w.pump_step(sh, i));
                    f(i, &self.gather(false));
                }
                let sh = &self.sh;
                self.workers.par_iter_mut().for_each(|w| w.detect(sh));
            }
        }
        self.powers.clear();
        for w in &self.workers {
            self.powers.extend_from_slice(&w.powers);
        }
        debug_assert_eq!(self.powers.len(), batch * self.sh.regions.len());
        self.evals += 1;
        if let Some(h) = &self.noise {
            measure(
                h,
                &mut self.powers,
                self.sh.regions.len(),
                self.opt.step(),
                self.evals,
            );
        }
        &self.powers
    }

    /// Loss of the last forward pass against `labels`; fills `∂L/∂P`.
    pub fn loss(&mut self, labels: &[u8]) -> LossStats {
        self.dl_dp.resize(self.powers.len(), T::zero());
        let stats = loss_and_grad(
            &self.powers,
            labels,
            self.sh.regions.len(),
            self.loss,
            self.temperature,
            &mut self.dl_dp,
        );
        self.share_output_gradient();
        stats
    }

    /// Hands each worker its chunk of `∂L/∂P`.
    fn share_output_gradient(&mut self) {
        let per = self.chunk * self.sh.regions.len();
        for (w, d) in self.workers.iter_mut().zip(self.dl_dp.chunks(per.max(1))) {
            w.dl_dp.clear();
            w.dl_dp.extend_from_slice(d);
        }
    }

    /// Sets `∂L/∂P` (batch × detectors, the last [`forward`](Self::forward)'s batch) for the
    /// next [`backward`](Self::backward) instead of [`loss`](Self::loss): a vector–Jacobian
    /// product with an upstream gradient on the detector powers.
    pub fn set_output_gradient(&mut self, dl_dp: &[T]) {
        self.dl_dp.clear();
        self.dl_dp.extend_from_slice(dl_dp);
        self.dl_dp.resize(self.powers.len(), T::zero());
        self.share_output_gradient();
    }

    /// The probe where the last [`backward`](Self::backward) ended, the whole batch: at the
    /// input plane when the plan's probe runs back to it ([`Network::with_probe_to_input`]);
    /// `∂L/∂u₀ = b` in the convention `δL = 2·Re Σ b·δu₀` (DESIGN §4).
    pub fn probe_field(&self) -> Vec<Complex<T>> {
        self.gather(true)
    }

    /// Probe pass after [`forward`](Self::forward) and [`loss`](Self::loss): fills
    /// [`grads`](Self::grads). With `on_plane`, calls it with the probe leaving each element
    /// (index in pump order, the whole batch).
    pub fn backward(&mut self, on_plane: Option<&mut PlaneFn<'_, T>>) {
        self.sh.step = self.opt.step();
        let sh = &self.sh;
        let steps = sh.plan.probe.len();
        match on_plane {
            None => self.workers.par_iter_mut().for_each(|w| {
                w.inject(sh);
                for j in 0..steps {
                    w.probe_step(sh, j);
                }
            }),
            Some(f) => {
                self.workers.par_iter_mut().for_each(|w| w.inject(sh));
                let first = sh.plan.pump.len() - steps;
                for j in 0..steps {
                    let sh = &self.sh;
                    self.workers
                        .par_iter_mut()
                        .for_each(|w| w.probe_step(sh, j));
                    f(first + steps - 1 - j, &self.gather(true));
                }
            }
        }
        for w in &self.workers {
            self.readout_frames += w.frames;
            self.readout_electrons += w.electrons;
        }
        // Sum the chunks' correlations in chunk order, then form each SLM's gradient.
        for (param, spec) in self.sh.plan.params.iter().enumerate() {
            let mut c = std::mem::take(&mut self.workers[0].corr[param]);
            for w in &self.workers[1..] {
                for (a, b) in c.iter_mut().zip(&w.corr[param]) {
                    *a = *a + *b;
                }
            }
            let device = self
                .sh
                .on_hw(true)
                .and_then(|h| Some((h.masks[param].as_ref()?, &h.models[param])));
            self.grads[param] = match (device, spec.kind) {
                (Some(((_, shown), model)), _) => {
                    let c64: Vec<Complex<f64>> = c
                        .iter()
                        .map(|z| Complex::new(z.re.f64(), z.im.f64()))
                        .collect();
                    model
                        .grad(shown, &c64, spec.sx, spec.sy, spec.k)
                        .into_iter()
                        .map(T::of)
                        .collect()
                }
                (None, ParamKind::Phase) => phase_grad(&self.params[param], &c),
                (None, ParamKind::Amplitude) => amplitude_grad(&c),
            };
            self.workers[0].corr[param] = c;
        }
    }

    /// Starts the count of pump passes since the optimiser step again (the noise counter's
    /// `pass`; a training step does at its start).
    pub fn reset_passes(&mut self) {
        self.evals = 0;
    }

    /// Applies the optimiser to the gradients of the last backward pass.
    pub fn update(&mut self) {
        let specs = &self.sh.plan.params;
        self.opt.apply(&mut self.params, &self.grads, |i| {
            specs[i].kind == ParamKind::Amplitude
        });
        self.refresh_masks();
    }

    /// Mean intensity `s = |v|²` entering each absorber in the last pump pass, over the pixels
    /// that carry light (above 1e-3 of the brightest).
    pub fn absorber_intensity(&mut self, input: &[f32]) -> Vec<f64> {
        let mut means = Vec::new();
        let absorber_steps: Vec<usize> = self
            .sh
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
    ///
    /// A step whose loss is not finite leaves the parameters as they were (the trainer stops and
    /// says where the fault is), as the dense executor does.
    pub fn train_step(&mut self, input: &[f32], labels: &[u8]) -> LossStats {
        self.evals = 0;
        self.forward(input, None);
        let stats = self.loss(labels);
        if stats.loss_sum.is_finite() {
            self.backward(None);
            self.update();
        }
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
