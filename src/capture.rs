//! Simulated camera captures of the imperfect system of a config: what a camera at the
//! detector plane (and, optionally, right after each SLM) records for a set of probe patterns,
//! as 16-bit PNG frames with a `captures.json` manifest naming each frame's pattern, plane,
//! exposure scale and the camera's noise. A lab writes the same folder from its real camera;
//! the digital twin is fitted to either.
//!
//! **Patterns** (`--patterns`, comma-separated): `blank` (every SLM flat); per phase SLM, one at
//! a time with the others flat, `gratings` (binary 0/π gratings along x and y of periods 4 and
//! 16 SLM pixels), `defocus` (`±2π·ρ²`, `ρ` the distance from the SLM's centre over its
//! half-width) and `random` (two uniform random phase maps); these calibration patterns are lit
//! by a white input (a full-scale image, encoded as training encodes images). `inputs:N`: the
//! first `N` test images through the network's own masks (the checkpoint's, or the config's
//! initial ones).
//!
//! **Camera.** A frame is the intensity `I = |E|²` (units of `I_sat`) of the field leaving the
//! plane's element on the system's pump pass (`[hardware]` imperfections on, `System::Hardware`).
//! With full scale `F` (the frame's peak, or `--exposure`), `i = I/F`, then as the detectors of
//! the imperfect system measure (`hardware.shot_noise` `N`: `i ← i + √(i/N)·ξ`;
//! `hardware.read_noise` `σ`: `+ σ·ξ`), clamped to `[0, 1]`, and stored as the level
//! `round(i·M)`, `M = 2^camera_bits − 1` (65535 without `camera_bits`). The manifest's
//! `scale = F/M` gives the intensity `I ≈ level·scale`. Noise is drawn from ChaCha8 (stream 7) of
//! `hardware.seed` and the frame's index; `noise = false` leaves it out.

use std::path::{Path, PathBuf};

use num_complex::Complex32;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::cpu::CpuField;
use crate::data::Split;
use crate::error::{Error, Result};
use crate::export::{npy, png_grey, read_png_grey, sha256_hex, FileRef};
use crate::network::{FieldPlan, Network, Op, ParamKind, State, System};

/// The format tag of `captures.json`.
pub const FORMAT: &str = "wavetrain-captures-1";

/// The manifest's file name inside a captures folder.
pub const FILE: &str = "captures.json";

/// A set of probe patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternSet {
    /// Every SLM flat.
    Blank,
    /// Binary gratings, one SLM at a time.
    Gratings,
    /// Quadratic phases of both signs, one SLM at a time.
    Defocus,
    /// Random phase maps, one SLM at a time.
    Random,
    /// The first `N` test images through the network's masks.
    Inputs(usize),
}

/// Parses `blank,gratings,defocus,random,inputs:N`; errors name `--patterns`.
pub fn parse_patterns(s: &str) -> Result<Vec<PatternSet>> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let p = match item {
            "blank" => PatternSet::Blank,
            "gratings" => PatternSet::Gratings,
            "defocus" => PatternSet::Defocus,
            "random" => PatternSet::Random,
            other => match other.strip_prefix("inputs:").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=10_000).contains(&n) => PatternSet::Inputs(n),
                _ => {
                    return Err(Error::config(
                        "--patterns",
                        format!("'{other}' is not a pattern set: give a comma-separated list of blank, gratings, defocus, random and inputs:N (N from 1 to 10000)"),
                    ))
                }
            },
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(Error::config(
            "--patterns",
            "no pattern set given: e.g. --patterns blank,gratings,inputs:8",
        ));
    }
    Ok(out)
}

/// What to capture and how.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureOptions {
    /// The pattern sets, in order.
    pub patterns: Vec<PatternSet>,
    /// Also record the plane right after each SLM.
    pub slm_planes: bool,
    /// Draw the camera noise of `[hardware]` (shot and read noise).
    pub noise: bool,
    /// Fixed full-scale intensity in `I_sat` units (absent: each frame's peak).
    pub exposure: Option<f64>,
    /// Seed of the random phase patterns.
    pub seed: u64,
}

/// The camera of a captures folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    /// Bits of a level.
    pub bits: u32,
    /// The largest level, `2^bits − 1`.
    pub max_value: u32,
    /// Photo-electrons at full scale (shot noise), when drawn.
    pub shot_noise: Option<f64>,
    /// Read noise relative to full scale, when drawn (0: none).
    pub read_noise: f64,
    /// Fixed full scale in `I_sat` units (absent: each frame's peak).
    pub exposure: Option<f64>,
}

/// The phases one SLM showed for a pattern (SLMs not listed were flat, phase 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseRef {
    /// Config index of the SLM.
    pub element: usize,
    /// float64 `(sy, sx)` radians.
    pub phases: FileRef,
}

/// The light entering the system for a pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRef {
    /// `white` or `test-image`.
    pub kind: String,
    /// The test image's index (`test-image`).
    pub index: Option<usize>,
    /// The test image's label (`test-image`).
    pub label: Option<u8>,
    /// The input field's amplitude `√(I/I_sat)` on the grid, float64 `(ny, nx)`.
    pub amplitude: FileRef,
}

/// One probe pattern: what every SLM showed and what lit them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    /// Index in the manifest.
    pub id: usize,
    /// `blank`, `grating`, `defocus`, `random` or `input`.
    pub name: String,
    /// The SLM (config index) the calibration pattern is on, when one.
    pub slm: Option<usize>,
    /// The pattern's parameters (grating axis and period in SLM pixels, defocus sign, …).
    pub params: serde_json::Value,
    /// The input.
    pub input: InputRef,
    /// The SLMs that were not flat.
    pub phases: Vec<PhaseRef>,
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The 16-bit grey PNG (`(ny, nx)` levels).
    pub png: FileRef,
    /// The pattern's id.
    pub pattern: usize,
    /// `detector`, or the SLM plane's element name.
    pub plane: String,
    /// Config index of the element whose output the camera sees.
    pub element: usize,
    /// Pixel pitch at the plane, metres.
    pub pitch: f64,
    /// `I_sat` units per level.
    pub scale: f64,
    /// Pixels above full scale (clipped).
    pub saturated: usize,
}

/// `captures.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureManifest {
    /// [`FORMAT`].
    pub format: String,
    /// The wavetrain version that wrote it (a lab's own tool may write anything).
    pub version: String,
    /// The config of the simulated system, TOML (a lab: its nominal config).
    pub config: String,
    /// The checkpoint whose masks the `input` patterns used, with its SHA-256.
    pub checkpoint: Option<crate::export::manifest::Source>,
    /// Grid `[nx, ny]`.
    pub grid: [usize; 2],
    /// The camera.
    pub camera: Camera,
    /// The probe patterns.
    pub patterns: Vec<Pattern>,
    /// The frames.
    pub frames: Vec<Frame>,
}

/// The phases of one calibration pattern on an `sx × sy` SLM.
fn calibration_phase(
    name: &str,
    params: &serde_json::Value,
    sx: usize,
    sy: usize,
    seed: u64,
) -> Vec<f64> {
    use std::f64::consts::{PI, TAU};
    let mut out = vec![0.0; sx * sy];
    match name {
        "grating" => {
            let period = params["period"].as_u64().unwrap_or(4).max(2) as usize;
            let along_x = params["axis"] == "x";
            for y in 0..sy {
                for x in 0..sx {
                    let c = if along_x { x } else { y };
                    out[y * sx + x] = if (c % period) * 2 >= period { PI } else { 0.0 };
                }
            }
        }
        "defocus" => {
            let sign = params["sign"].as_f64().unwrap_or(1.0);
            let (cx, cy) = ((sx as f64 - 1.0) / 2.0, (sy as f64 - 1.0) / 2.0);
            let half = (sx.max(sy) as f64 / 2.0).max(1.0);
            for y in 0..sy {
                for x in 0..sx {
                    let r2 = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)) / (half * half);
                    out[y * sx + x] = sign * TAU * r2;
                }
            }
        }
        "random" => {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(8);
            for v in out.iter_mut() {
                *v = r.random_range(0.0..TAU);
            }
        }
        _ => {}
    }
    out
}

/// Writes the frames of `opts.patterns` on the imperfect system of `net` (parameters of `state`
/// for the `inputs` patterns) into the new folder `out`, atomically, and returns the manifest.
/// `test` supplies the `inputs:N` images; `checkpoint` names the checkpoint `state` came from.
pub fn capture(
    net: &Network,
    state: &State,
    checkpoint: Option<crate::export::manifest::Source>,
    test: Option<&Split>,
    opts: &CaptureOptions,
    out: &Path,
) -> Result<CaptureManifest> {
    let net = net.on(System::Hardware)?;
    let plan = net.field("capture")?.clone();
    let cfg = net.config().clone();
    let h = &cfg.hardware;
    let camera = camera(&plan, h, opts)?;
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let n = nx * ny;
    let planes = recorded_planes(&net, &plan, opts);
    let probes = probes(&cfg, &plan, state, test, opts)?;
    let mut files = FileSet::default();

    let mut exec = CpuField::<f32>::new(&net, state)?;
    let mut patterns = Vec::new();
    let mut frames = Vec::new();
    for probe in &probes {
        for (i, p) in probe.phases.iter().enumerate() {
            exec.params[i] = p.iter().map(|&v| v as f32).collect();
        }
        exec.refresh_masks();
        let batch = probe.inputs.len() / n;
        let mut kept: Vec<Vec<Complex32>> = vec![Vec::new(); planes.len()];
        let mut keep = |i: usize, f: &[Complex32]| {
            for (slot, (e, _, _)) in kept.iter_mut().zip(&planes) {
                if *e == i {
                    *slot = f.to_vec();
                }
            }
        };
        exec.forward(&probe.inputs, Some(&mut keep));
        let phase_refs: Vec<PhaseRef> = probe
            .phases
            .iter()
            .enumerate()
            .filter(|(_, p)| p.iter().any(|&v| v != 0.0))
            .map(|(i, p)| {
                let s = &plan.params[i];
                PhaseRef {
                    element: s.element,
                    phases: files.add(
                        &format!("patterns/p{:04}-slm{}", patterns.len(), i + 1),
                        "npy",
                        npy::encode_f64(p, s.sy, s.sx),
                    ),
                }
            })
            .collect();
        for b in 0..batch {
            let id = patterns.len();
            let (kind, index, label) = probe.refs[b].clone();
            let amp: Vec<f64> = probe.inputs[b * n..(b + 1) * n]
                .iter()
                .map(|&a| a as f64)
                .collect();
            let stem = match index {
                Some(i) => format!("inputs/test-{i:05}"),
                None => "inputs/white".to_string(),
            };
            let amplitude = files.add(&stem, "npy", npy::encode_f64(&amp, ny, nx));
            patterns.push(Pattern {
                id,
                name: probe.name.clone(),
                slm: probe.slm,
                params: probe.params.clone(),
                input: InputRef {
                    kind,
                    index,
                    label,
                    amplitude,
                },
                phases: phase_refs.clone(),
            });
            for (field, (e, plane, pitch)) in kept.iter().zip(&planes) {
                let intensity: Vec<f64> = field[b * n..(b + 1) * n]
                    .iter()
                    .map(|z| z.norm_sqr() as f64)
                    .collect();
                let fidx = frames.len();
                let (levels, scale, saturated) = expose(&intensity, &camera, h.seed, fidx as u64);
                let png = png_grey(&levels, nx, ny, 16)?;
                let name = format!("frames/f{fidx:05}.png");
                let fr = FileRef::of(&name, &png);
                files.list.push((name, png));
                frames.push(Frame {
                    png: fr,
                    pattern: id,
                    plane: plane.clone(),
                    element: *e,
                    pitch: *pitch,
                    scale,
                    saturated,
                });
            }
        }
    }
    let m = CaptureManifest {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: cfg.to_toml(),
        checkpoint,
        grid: [nx, ny],
        camera,
        patterns,
        frames,
    };
    let json = serde_json::to_string_pretty(&m)
        .map_err(|e| Error::config("capture", format!("cannot write the manifest: {e}")))?;
    files.list.push((FILE.into(), json.into_bytes()));
    crate::io::atomic_write_dir(out, &files.list, "--out")?;
    Ok(m)
}

/// The camera of `[hardware]` (noise only with `opts.noise`), once the capture's settings are
/// checked: phase SLMs only, an exposure above 0, at most 16 bits.
fn camera(plan: &FieldPlan, h: &crate::model::Hardware, opts: &CaptureOptions) -> Result<Camera> {
    for p in &plan.params {
        if p.kind != ParamKind::Phase {
            return Err(Error::config(
                format!("elements[{}]", p.element),
                "capture drives phase SLMs with its probe patterns; this element is an amplitude SLM",
            ));
        }
    }
    if let Some(e) = opts.exposure {
        if !(e.is_finite() && e > 0.0) {
            return Err(Error::config(
                "--exposure",
                format!("{e}: give the full-scale intensity in I_sat units, above 0 (or leave it out: each frame's peak)"),
            ));
        }
    }
    let bits = h.camera_bits.unwrap_or(16);
    if bits > 16 {
        return Err(Error::config(
            "hardware.camera_bits",
            format!("{bits} bits do not fit a 16-bit PNG frame: give at most 16"),
        ));
    }
    let max_value = ((1u64 << bits) - 1) as u32;
    Ok(Camera {
        bits,
        max_value,
        shot_noise: h.shot_noise.filter(|_| opts.noise),
        read_noise: if opts.noise { h.read_noise } else { 0.0 },
        exposure: opts.exposure,
    })
}

/// The planes recorded, as (element, name, pitch): the detector (the last element's output)
/// and, with `opts.slm_planes`, each SLM's.
fn recorded_planes(
    net: &Network,
    plan: &FieldPlan,
    opts: &CaptureOptions,
) -> Vec<(usize, String, f64)> {
    let last = plan.pump.len() - 1;
    let mut planes: Vec<(usize, String, f64)> = Vec::new();
    if opts.slm_planes {
        for (i, s) in plan.pump.iter().enumerate() {
            if let Op::Mask { param } = s.op {
                let name = net.element_name(i).unwrap_or("slm").to_string();
                planes.push((i, name, plan.places.slms[param].1));
            }
        }
    }
    planes.push((last, "detector".into(), plan.out_dx));
    planes
}

/// The files of a capture, each content once (identical phase maps and inputs share one file).
#[derive(Default)]
struct FileSet {
    /// The files' names and bytes, in order.
    list: Vec<(String, Vec<u8>)>,
    /// The file already written for each content, by its SHA-256.
    written: std::collections::HashMap<String, FileRef>,
}

impl FileSet {
    /// Adds `stem.ext` unless a file with the same bytes is there; returns the file holding them.
    fn add(&mut self, stem: &str, ext: &str, bytes: Vec<u8>) -> FileRef {
        let sha = sha256_hex(&bytes);
        if let Some(r) = self.written.get(&sha) {
            return r.clone();
        }
        let name = format!("{stem}.{ext}");
        let r = FileRef::of(&name, &bytes);
        self.list.push((name, bytes));
        self.written.insert(sha, r.clone());
        r
    }
}

/// A probe: its pattern's name and parameters, the SLM it drives, the phases per SLM, the
/// inputs (`[batch][per]`) and their references.
struct Probe {
    name: String,
    slm: Option<usize>,
    params: serde_json::Value,
    phases: Vec<Vec<f64>>,
    inputs: Vec<f32>,
    refs: Vec<(String, Option<usize>, Option<u8>)>,
}

/// The probes of `opts.patterns`, in order; the phase patterns drive one SLM at a time, the
/// others flat, under a white input.
fn probes(
    cfg: &crate::model::Config,
    plan: &FieldPlan,
    state: &State,
    test: Option<&Split>,
    opts: &CaptureOptions,
) -> Result<Vec<Probe>> {
    let white = white_input(cfg);
    let flat: Vec<Vec<f64>> = plan.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut probes = Vec::new();
    let one_at_a_time = |name: &str, variants: Vec<serde_json::Value>, probes: &mut Vec<Probe>| {
        for (i, p) in plan.params.iter().enumerate() {
            for (v, params) in variants.iter().enumerate() {
                let mut phases = flat.clone();
                let seed = opts.seed ^ ((i as u64) << 32) ^ v as u64;
                phases[i] = calibration_phase(name, params, p.sx, p.sy, seed);
                let mut params = params.clone();
                if name == "random" {
                    params["seed"] = serde_json::json!(seed);
                }
                probes.push(Probe {
                    name: name.into(),
                    slm: Some(p.element),
                    params,
                    phases,
                    inputs: white.clone(),
                    refs: vec![("white".into(), None, None)],
                });
            }
        }
    };
    for set in &opts.patterns {
        match *set {
            PatternSet::Blank => probes.push(Probe {
                name: "blank".into(),
                slm: None,
                params: serde_json::json!({}),
                phases: flat.clone(),
                inputs: white.clone(),
                refs: vec![("white".into(), None, None)],
            }),
            PatternSet::Gratings => one_at_a_time(
                "grating",
                ["x", "y"]
                    .iter()
                    .flat_map(|a| [4, 16].map(|p| serde_json::json!({"axis": a, "period": p})))
                    .collect(),
                &mut probes,
            ),
            PatternSet::Defocus => one_at_a_time(
                "defocus",
                vec![
                    serde_json::json!({"sign": 1.0}),
                    serde_json::json!({"sign": -1.0}),
                ],
                &mut probes,
            ),
            PatternSet::Random => one_at_a_time(
                "random",
                vec![
                    serde_json::json!({"variant": 0}),
                    serde_json::json!({"variant": 1}),
                ],
                &mut probes,
            ),
            PatternSet::Inputs(k) => {
                probes.push(input_probe(cfg, state, test, k)?);
            }
        }
    }
    Ok(probes)
}

/// A white (all-255) image, encoded as the network's input.
fn white_input(cfg: &crate::model::Config) -> Vec<f32> {
    let split = Split {
        images: crate::data::Images {
            count: 1,
            rows: 28,
            cols: 28,
            pixels: vec![255; 28 * 28],
        },
        labels: vec![0],
        points: Vec::new(),
    };
    let mut v = vec![0.0f32; cfg.input_len()];
    crate::data::encode(cfg, &split, &[0], &mut v);
    v
}

/// The `inputs:N` probe: the first `k` test images under the checkpoint's phases.
fn input_probe(
    cfg: &crate::model::Config,
    state: &State,
    test: Option<&Split>,
    k: usize,
) -> Result<Probe> {
    let per = cfg.input_len();
    let split = test.ok_or_else(|| {
        Error::config(
            "--patterns",
            "inputs:N needs the test images: give the data (or use the bundled subset)",
        )
    })?;
    if cfg.input.task.is_some() {
        return Err(Error::config(
            "--patterns",
            "inputs:N captures images; this network takes a generated task's points",
        ));
    }
    let k = k.min(split.len());
    let idx: Vec<usize> = (0..k).collect();
    let mut inputs = vec![0.0f32; k * per];
    crate::data::encode(cfg, split, &idx, &mut inputs);
    Ok(Probe {
        name: "input".into(),
        slm: None,
        params: serde_json::json!({}),
        phases: state
            .params
            .iter()
            .map(|p| p.iter().map(|&v| v as f64).collect())
            .collect(),
        inputs,
        refs: idx
            .iter()
            .map(|&i| ("test-image".into(), Some(i), split.labels.get(i).copied()))
            .collect(),
    })
}

/// A frame's levels, its scale (`I_sat` units per level) and its clipped pixels: the camera
/// model of the module doc.
fn expose(intensity: &[f64], cam: &Camera, seed: u64, frame: u64) -> (Vec<u32>, f64, usize) {
    let m = cam.max_value as f64;
    let peak = intensity.iter().copied().fold(0.0, f64::max);
    let full = match cam.exposure {
        Some(e) => e,
        None if peak > 0.0 => peak,
        None => 1.0,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ (frame + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    rng.set_stream(7);
    let saturated = intensity.iter().filter(|&&i| i > full).count();
    let levels = intensity
        .iter()
        .map(|&v| {
            let mut i = v / full;
            if let Some(nphot) = cam.shot_noise {
                let e: f64 = rng.sample(rand_distr::StandardNormal);
                i += (i.max(0.0) / nphot).sqrt() * e;
            }
            if cam.read_noise > 0.0 {
                let e: f64 = rng.sample(rand_distr::StandardNormal);
                i += cam.read_noise * e;
            }
            (i.clamp(0.0, 1.0) * m).round() as u32
        })
        .collect();
    (levels, full / m, saturated)
}

/// A captures folder read back: its manifest and each frame's intensity (`level × scale`,
/// `I_sat` units, `(ny, nx)` row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Captures {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: CaptureManifest,
    /// One intensity image per frame, in manifest order.
    pub frames: Vec<Vec<f64>>,
}

/// Reads a captures folder (one this module wrote, or a lab's in the same format): checks the
/// format tag, every file's SHA-256 and name (inside the folder), each frame's size against
/// the grid and its levels against the camera's, and that each frame names a pattern.
pub fn read_captures(dir: &Path) -> Result<Captures> {
    let mpath = dir.join(FILE);
    let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
    let bad = |path: &Path, m: String| Error::Data {
        path: path.to_path_buf(),
        message: m,
    };
    let m: CaptureManifest = serde_json::from_str(&text)
        .map_err(|e| bad(&mpath, format!("not a captures manifest ({e})")))?;
    if m.format != FORMAT {
        return Err(bad(
            &mpath,
            format!("format tag {:?}: expected {FORMAT}", m.format),
        ));
    }
    for p in &m.patterns {
        p.input.amplitude.read(dir, &mpath)?;
        for r in &p.phases {
            r.phases.read(dir, &mpath)?;
        }
    }
    let [nx, ny] = m.grid;
    let mut frames = Vec::with_capacity(m.frames.len());
    for f in &m.frames {
        let path = dir.join(&f.png.file);
        let bytes = f.png.read(dir, &mpath)?;
        if !m.patterns.iter().any(|p| p.id == f.pattern) {
            return Err(bad(
                &mpath,
                format!(
                    "frame {} names pattern {}, which it does not list",
                    f.png.file, f.pattern
                ),
            ));
        }
        let (v, w, h) = read_png_grey(&bytes, &path)?;
        if (w, h) != (nx, ny) {
            return Err(bad(&path, format!("is {w}x{h}; the grid is {nx}x{ny}")));
        }
        if let Some(&top) = v.iter().find(|&&x| x > m.camera.max_value) {
            return Err(bad(
                &path,
                format!(
                    "holds level {top}, above the camera's {}",
                    m.camera.max_value
                ),
            ));
        }
        if !(f.scale.is_finite() && f.scale > 0.0) {
            return Err(bad(
                &mpath,
                format!(
                    "frame {} has scale {}: expected a positive number",
                    f.png.file, f.scale
                ),
            ));
        }
        frames.push(v.iter().map(|&x| x as f64 * f.scale).collect());
    }
    Ok(Captures {
        dir: dir.to_path_buf(),
        manifest: m,
        frames,
    })
}
