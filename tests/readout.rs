//! The hardware's read-out of a field network's SLM gradients (issue 26): `readout = "ideal"`
//! is the exact product bit for bit; without noise, phase stepping and heterodyne recover the
//! exact gradient for every N = 3..8 (f64); binning shares a camera pixel's gradient among its
//! SLM pixels; a probe ratio → 0 is the weak probe, a large one saturates the absorbers as
//! `t(s_pump + σ²|b|²)` predicts; the camera's noise is unbiased with the shot-noise variance
//! (the measurement, over many counters); bad values exit 2 naming the key; the frames and
//! photo-electrons of a run are recorded.
mod common;
use common::*;
use num_complex::Complex;
use std::path::PathBuf;
use wavetrain::cpu::CpuField;
use wavetrain::model::Config;
use wavetrain::optics::interferometry::{frame, measure, Beams, Camera, Detection};
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::rng::{counter, key_of, normals, Purpose};

/// phase (k=2) → free space → absorber → amplitude (k=4) → free space → absorber (Beer–Lambert)
/// → phase (k=1) → free space, 16 × 16, four detectors; `hw` is the `[hardware]` table's body.
fn config(hw: &str) -> Config {
    let text = format!(
        r#"
name = "readout"
[optics]
wavelength = 780e-9
pitch = 4e-6
nx = 16
ny = 16
[input]
intensity = 2.0
size = 12
[[elements]]
type = "phase"
macro_pixel = 2
[[elements]]
type = "free-space"
distance = 200e-6
[[elements]]
type = "absorber"
od = 2.0
[[elements]]
type = "amplitude"
macro_pixel = 4
init = 0.7
[[elements]]
type = "free-space"
distance = 150e-6
[[elements]]
type = "absorber"
od = 1.5
model = "beer-lambert"
[[elements]]
type = "phase"
[[elements]]
type = "free-space"
distance = 120e-6
[readout]
classes = 4
detector_size = 3
loss = "cross-entropy"
temperature = 0.3
[train]
batch = 3
[hardware]
{hw}
"#
    );
    Config::from_toml(&text, "test").unwrap()
}

fn input(cfg: &Config, batch: usize, seed: u64) -> Vec<f32> {
    let n = cfg.optics.nx * cfg.optics.ny;
    random_real::<f32>(batch * n, 0.0, 1.5, seed)
}

/// The gradients of one step (no update) in precision `T`, with random initial phases.
fn grads<T: wavetrain::Real>(hw: &str, seed: u64) -> Vec<Vec<f64>> {
    let cfg = config(hw);
    let net = cfg.resolve().unwrap();
    let mut state = net.initial_state();
    for (i, p) in state.params.iter_mut().enumerate() {
        let r = random_real::<f32>(p.len(), 0.2, 1.0, 40 + i as u64);
        for (v, r) in p.iter_mut().zip(r) {
            *v = if i == 1 { r } else { 6.0 * r };
        }
    }
    let mut exec = CpuField::<T>::new(&net, &state).unwrap();
    exec.forward(&input(&cfg, 3, seed), None);
    exec.loss(&[0, 2, 3]);
    exec.backward(None);
    exec.grads
        .iter()
        .map(|g| g.iter().map(|v| v.f64()).collect())
        .collect()
}

fn max_rel(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let scale = b.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn ideal_readout_is_bit_identical() {
    // With a drawn imperfection, with detector noise, and with none.
    for base in ["od_std = 0.1\nseed = 9", "shot_noise = 300.0", ""] {
        let hw = format!("{base}\nreadout = \"ideal\"");
        assert_eq!(grads::<f32>(&hw, 1), grads::<f32>(base, 1), "{hw}");
    }
}

#[test]
fn noiseless_readout_recovers_the_exact_gradient_for_every_n() {
    let exact = grads::<f64>("", 2);
    for method in ["phase-stepping", "heterodyne"] {
        for n in 3..=8 {
            let g = grads::<f64>(&format!("readout = \"{method}\"\nreadout_steps = {n}"), 2);
            let e = max_rel(&g, &exact);
            assert!(e < 1e-12, "{method} N={n}: max relative error {e:e}");
        }
    }
    // With a probe ratio and no absorber saturation difference at tiny r, still exact.
    let g = grads::<f64>(
        "readout = \"phase-stepping\"\nreadout_steps = 5\nprobe_ratio = 1e-7",
        2,
    );
    assert!(max_rel(&g, &exact) < 1e-6);
}

/// A camera pixel of 2 × 2 SLM pixels: every SLM pixel of the bin gets the bin's gradient / 4
/// (noise off): the sum of the exact gradients over the bin, shared.
#[test]
fn binning_shares_the_camera_pixel_gradient() {
    let exact = grads::<f64>("", 3);
    let g = grads::<f64>("readout = \"phase-stepping\"\nreadout_binning = 2", 3);
    // Element order: phase (8×8 SLM pixels), amplitude (4×4), phase (16×16).
    for (p, side) in [(0usize, 8usize), (1, 4), (2, 16)] {
        for y in 0..side {
            for x in 0..side {
                let (by, bx) = (y / 2 * 2, x / 2 * 2);
                let sum: f64 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dy, dx)| exact[p][(by + dy) * side + bx + dx])
                    .sum();
                let want = sum / 4.0;
                let got = g[p][y * side + x];
                assert!(
                    (got - want).abs() <= 1e-10 * want.abs().max(1e-12),
                    "param {p} ({x},{y}): {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn weak_probe_limit_and_saturating_probe() {
    let weak = grads::<f64>("", 4);
    let tiny = grads::<f64>("probe_ratio = 1e-6", 4);
    let e = max_rel(&tiny, &weak);
    assert!(e < 1e-8, "r = 1e-6 differs from the weak probe by {e:e}");
    let strong = grads::<f64>("probe_ratio = 2.0", 4);
    let d = max_rel(&strong, &weak);
    assert!(d > 1e-2, "r = 2 changes the gradient by only {d:e}");
}

/// The probe leaving an absorber is `t(|v|² + σ²|b|²)·b` of the probe arriving at it, with `v`
/// the pump that entered it and `σ = r·max|u|/max|b|` at the detectors: checked pixel by pixel
/// against the absorber formula.
#[test]
fn saturating_probe_follows_the_absorber_formula() {
    let cfg = config("probe_ratio = 1.5");
    let net = cfg.resolve().unwrap();
    let state = net.initial_state();
    let mut exec = CpuField::<f64>::new(&net, &state).unwrap();
    let mut pump: Vec<Vec<Complex<f64>>> = Vec::new();
    let mut rec = |_: usize, f: &[Complex<f64>]| pump.push(f.to_vec());
    exec.forward(&input(&cfg, 3, 5), Some(&mut rec));
    exec.loss(&[1, 0, 3]);
    let mut probe: Vec<Option<Vec<Complex<f64>>>> = vec![None; cfg.elements.len()];
    let mut rec = |i: usize, f: &[Complex<f64>]| probe[i] = Some(f.to_vec());
    exec.backward(Some(&mut rec));
    let scales = exec.probe_scales();
    assert_eq!(scales.len(), 3);
    let n = 256;
    // Absorbers at elements 2 (thin, α₀ = 2) and 5 (Beer–Lambert, α₀ = 1.5).
    for (i, a) in [
        (2usize, Absorber::new(2.0, AbsorberModel::Thin)),
        (5, Absorber::new(1.5, AbsorberModel::BeerLambert)),
    ] {
        let v = &pump[i - 1];
        let b_in = probe[i + 1].as_ref().unwrap();
        let b_out = probe[i].as_ref().unwrap();
        let mut changed = 0.0f64;
        for j in 0..v.len() {
            let s2 = scales[j / n].powi(2);
            let t = a.transmission(v[j].norm_sqr() + s2 * b_in[j].norm_sqr());
            let want = b_in[j] * t;
            assert!(
                (b_out[j] - want).norm() <= 1e-12 * b_in[j].norm().max(1e-300),
                "absorber {i} pixel {j}: {} vs {want}",
                b_out[j]
            );
            let weak = b_in[j] * a.transmission(v[j].norm_sqr());
            changed = changed.max((want - weak).norm() / b_in[j].norm().max(1e-300));
        }
        assert!(
            changed > 1e-3,
            "absorber {i}: the probe saturates nothing ({changed:e})"
        );
    }
}

/// Camera frames of one measurement: one bright pixel sets full scale, the others are read
/// with shot and read noise; over many counters the mean of each dim pixel's estimate equals
/// its product within 4 standard errors, and the variance of its real and imaginary parts is
/// `Σ_k v_k·cos²(θ_k + δ)/(gN)²`, `Σ_k v_k·sin²(θ_k + δ)/(gN)²` with
/// `v_k = I_k·I_fs/n + (σ·I_fs)²` (shot plus read noise), within 10 %.
#[test]
fn camera_noise_is_unbiased_with_the_shot_noise_variance() {
    let pixels = vec![
        Beams {
            a2: 4.0,
            b2: 0.5,
            ab: Complex::new(0.9, -0.7),
        },
        Beams {
            a2: 1.0,
            b2: 0.04,
            ab: Complex::new(0.1, 0.15),
        },
        Beams {
            a2: 0.5,
            b2: 0.2,
            ab: Complex::new(-0.2, 0.1),
        },
    ];
    for (detection, steps) in [(Detection::PhaseStepping, 4), (Detection::Heterodyne, 5)] {
        let cam = Camera {
            detection,
            steps,
            shot: Some(2000.0),
            read: 0.002,
            bits: None,
        };
        let full = (0..steps)
            .map(|k| frame(&pixels[0], k, &cam))
            .fold(0.0, f64::max);
        let (g, delta) = cam.cross_term();
        let key = key_of(77);
        let draws = 20_000;
        let mut sums = vec![(Complex::new(0.0, 0.0), 0.0, 0.0); pixels.len()];
        let mut out = Vec::new();
        let mut electrons = 0.0;
        for d in 0..draws {
            electrons += measure(
                &pixels,
                &cam,
                |k, p| {
                    let z = normals(key, counter(d, 0, Purpose::ReadoutFrame, k as u32, 0, p));
                    [z[0], z[1]]
                },
                &mut out,
            );
            for (s, z) in sums.iter_mut().zip(&out) {
                s.0 += z;
                s.1 += z.re * z.re;
                s.2 += z.im * z.im;
            }
        }
        // Photo-electrons: every frame pixel's mean count, per draw.
        let want_e: f64 = pixels
            .iter()
            .flat_map(|p| (0..steps).map(move |k| (p, k)))
            .map(|(p, k)| frame(p, k, &cam) / full * 2000.0)
            .sum();
        assert!((electrons / draws as f64 / want_e - 1.0).abs() < 1e-2);
        for (p, s) in pixels.iter().zip(&sums).skip(1) {
            let m = draws as f64;
            let mean = s.0 / m;
            let (vr, vi) = (s.1 / m - mean.re.powi(2), s.2 / m - mean.im.powi(2));
            let (mut wr, mut wi) = (0.0, 0.0);
            for k in 0..steps {
                let v = frame(p, k, &cam) * full / 2000.0 + (0.002 * full).powi(2);
                let ph = std::f64::consts::TAU * k as f64 / steps as f64 + delta;
                wr += v * ph.cos().powi(2);
                wi += v * ph.sin().powi(2);
            }
            let gn2 = (g * steps as f64).powi(2);
            let (wr, wi) = (wr / gn2, wi / gn2);
            assert!(
                (mean.re - p.ab.re).abs() < 4.0 * (wr / m).sqrt()
                    && (mean.im - p.ab.im).abs() < 4.0 * (wi / m).sqrt(),
                "{detection:?}: mean {mean} vs {} (se {:.2e}, {:.2e})",
                p.ab,
                (wr / m).sqrt(),
                (wi / m).sqrt()
            );
            assert!(
                (vr / wr - 1.0).abs() < 0.1 && (vi / wi - 1.0).abs() < 0.1,
                "{detection:?}: variances {vr:.3e} {vi:.3e}, formula {wr:.3e} {wi:.3e}"
            );
        }
    }
}

/// The same run twice draws the same read-out noise; another seed draws other noise; more
/// photo-electrons bring the measured gradient closer to the exact one.
#[test]
fn noisy_readout_is_reproducible_and_improves_with_photons() {
    let hw = |n: f64, seed: u64| {
        format!("seed = {seed}\nreadout = \"phase-stepping\"\nprobe_ratio = 0.3\nreadout_shot_noise = {n}")
    };
    let exact = grads::<f64>("probe_ratio = 0.3", 6);
    let a = grads::<f64>(&hw(1e3, 1), 6);
    assert_eq!(a, grads::<f64>(&hw(1e3, 1), 6));
    assert_ne!(a, grads::<f64>(&hw(1e3, 2), 6));
    let cos = |x: &[Vec<f64>], y: &[Vec<f64>]| {
        let (mut d, mut nx, mut ny) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().flatten().zip(y.iter().flatten()) {
            d += a * b;
            nx += a * a;
            ny += b * b;
        }
        d / (nx * ny).sqrt()
    };
    let lo = cos(&a, &exact);
    let hi = cos(&grads::<f64>(&hw(1e7, 1), 6), &exact);
    assert!(
        hi > 0.99 && hi > lo,
        "cosine similarity {lo} at 1e3 e⁻, {hi} at 1e7 e⁻"
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wavetrain-readout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn bad_readout_values_exit_2_naming_the_key() {
    for (set, key) in [
        ("hardware.probe_ratio=0", "hardware.probe_ratio"),
        ("hardware.probe_ratio=-1", "hardware.probe_ratio"),
        ("hardware.readout_steps=2", "hardware.readout_steps"),
        (
            "hardware.readout_shot_noise=-5",
            "hardware.readout_shot_noise",
        ),
        (
            "hardware.readout_read_noise=-0.1",
            "hardware.readout_read_noise",
        ),
        ("hardware.readout_bits=0", "hardware.readout_bits"),
        ("hardware.readout_binning=3", "hardware.readout_binning"),
    ] {
        let out = tmp("bad").display().to_string();
        let r = wavetrain_bin(&[
            "train",
            "--preset",
            "d2nn-mnist",
            "--backend",
            "cpu",
            "--epochs",
            "1",
            "--max-train",
            "8",
            "--out",
            &out,
            "--set",
            "hardware.readout=\"phase-stepping\"",
            "--set",
            "hardware.probe_ratio=0.1",
            "--set",
            set,
        ]);
        assert_eq!(r.status.code(), Some(2), "{set}: {}", stderr_of(&r));
        assert!(stderr_of(&r).contains(key), "{set}: {}", stderr_of(&r));
    }
    // Camera noise without a probe strength; camera options without a camera read-out.
    for (sets, key) in [
        (
            &[
                "hardware.readout=\"heterodyne\"",
                "hardware.readout_shot_noise=100",
            ][..],
            "hardware.probe_ratio",
        ),
        (&["hardware.readout_steps=4"][..], "hardware.readout_steps"),
    ] {
        let out = tmp("bad2").display().to_string();
        let mut args = vec![
            "train",
            "--preset",
            "d2nn-mnist",
            "--backend",
            "cpu",
            "--epochs",
            "1",
            "--max-train",
            "8",
            "--out",
            &out,
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let r = wavetrain_bin(&args);
        assert_eq!(r.status.code(), Some(2), "{sets:?}: {}", stderr_of(&r));
        assert!(stderr_of(&r).contains(key), "{sets:?}: {}", stderr_of(&r));
    }
}

/// A run with a camera read-out records its frames (N × batch × SLMs per update) and
/// photo-electrons per epoch in metrics.csv and the per-update frame count in hardware.json.
#[test]
fn a_run_records_its_camera_frames_and_photons() {
    let out = tmp("record");
    let o = out.display().to_string();
    let r = wavetrain_bin(&[
        "train",
        "--preset",
        "d2nn-mnist",
        "--backend",
        "cpu",
        "--epochs",
        "1",
        "--max-train",
        "16",
        "--batch",
        "8",
        "--no-pictures",
        "--json",
        "--out",
        &o,
        "--set",
        "hardware.readout=\"phase-stepping\"",
        "--set",
        "hardware.readout_steps=3",
        "--set",
        "hardware.probe_ratio=0.2",
        "--set",
        "hardware.readout_shot_noise=1000",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let hw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hardware.json")).unwrap()).unwrap();
    let ro = &hw["system"]["readout"];
    let slms = ro["slms"].as_u64().unwrap();
    assert!(slms >= 1);
    assert_eq!(
        ro["camera_frames_per_update"].as_u64().unwrap(),
        3 * 8 * slms
    );
    assert_eq!(ro["in_use"], true);
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][9], "camera_frames");
    assert_eq!(rows[0][10], "photoelectrons");
    assert!(rows.iter().all(|r| r.len() == 14), "{csv}");
    // Two updates of 8 images.
    assert_eq!(rows[2][9].parse::<u64>().unwrap(), 2 * 3 * 8 * slms);
    assert!(rows[2][10].parse::<f64>().unwrap() > 0.0);
}

/// A run with a noisy read-out resumed after its first epoch equals the uninterrupted run: the
/// same parameters bit for bit and the same metrics, camera frames and photo-electrons
/// included (the noise is a function of the step, not of the process); and a resume may not
/// change the read-out.
#[test]
fn a_resumed_readout_run_equals_an_uninterrupted_one() {
    let run = |out: &PathBuf, epochs: &str, resume: bool| {
        let o = out.display().to_string();
        let mut args = vec!["train", "--epochs", epochs, "--no-pictures"];
        if resume {
            args.extend(["--resume", &o]);
        } else {
            args.extend([
                "--preset",
                "d2nn-mnist",
                "--backend",
                "cpu",
                "--max-train",
                "16",
                "--batch",
                "8",
                "--out",
                &o,
                "--set",
                "hardware.readout=heterodyne",
                "--set",
                "hardware.probe_ratio=0.2",
                "--set",
                "hardware.readout_shot_noise=1000",
                "--set",
                "hardware.readout_bits=10",
            ]);
        }
        let r = wavetrain_bin(&args);
        assert!(r.status.success(), "{}", stderr_of(&r));
    };
    let (a, b) = (tmp("whole"), tmp("parts"));
    run(&a, "2", false);
    run(&b, "1", false);
    run(&b, "2", true);
    let state = |d: &PathBuf| {
        wavetrain::checkpoint::Checkpoint::load(&d.join("checkpoint.safetensors"))
            .unwrap()
            .state
    };
    assert_eq!(state(&a).params, state(&b).params);
    // Every column but the timings (images_per_second, seconds).
    let rows = |d: &PathBuf| -> Vec<Vec<String>> {
        std::fs::read_to_string(d.join("metrics.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                l.split(',')
                    .enumerate()
                    .filter(|(i, _)| *i != 4 && *i != 5)
                    .map(|(_, v)| v.to_string())
                    .collect()
            })
            .collect()
    };
    assert_eq!(rows(&a), rows(&b));
    assert_eq!(rows(&a)[0][7], "camera_frames");
    let r = wavetrain_bin(&[
        "train",
        "--resume",
        &b.display().to_string(),
        "--epochs",
        "3",
        "--set",
        "hardware.probe_ratio=0.5",
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr_of(&r));
}
