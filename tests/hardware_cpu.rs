//! The imperfect system of a field network on the CPU (issue 18): zero imperfection is
//! bit-identical to the ideal network; oracles of each operator (integer shift = rolled mask,
//! sub-pixel shift of a Gaussian beam, linear lookup table, phase range and bits, fringing); the
//! exact gradient of the imperfect system against finite differences (f64); the optical gradient
//! as the probe through the imperfect operators; the training targets; refused values.
mod common;
use common::*;
use num_complex::Complex;
use std::f64::consts::TAU;
use wavetrain::backend::Backend;
use wavetrain::cpu::hardware::{Shift, Shifter};
use wavetrain::cpu::{CpuBackend, CpuField};
use wavetrain::model::{Config, GradientMode};
use wavetrain::network::{State, System};
use wavetrain::optics::slm::{Lut, Response, SlmModel};

const PITCH: f64 = 4e-6;

/// phase (k=2) → free space → absorber → amplitude (k=4) → free space → absorber (Beer–Lambert)
/// → phase (k=1) → free space, 16 × 16, four detectors; `hw` is the `[hardware]` table's body.
fn config(hw: &str, target: &str) -> Config {
    Config::from_toml(&config_text(hw, target), "test").unwrap()
}

fn config_text(hw: &str, target: &str) -> String {
    format!(
        r#"
name = "hw"
[optics]
wavelength = 780e-9
pitch = {PITCH}
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
target = "{target}"
[hardware]
{hw}
"#
    )
}

fn input(cfg: &Config, batch: usize, seed: u64) -> Vec<f32> {
    let n = cfg.optics.nx * cfg.optics.ny;
    random_real::<f32>(batch * n, 0.0, 1.5, seed)
}

/// Phases in (0.5, 1.5) (away from the 2π wrap, where a phase range below 2π jumps), random
/// amplitudes.
fn state(cfg: &Config) -> State {
    let net = cfg.resolve().unwrap();
    let mut s = net.initial_state();
    s.params[0] = random_real(s.params[0].len(), 0.5, 1.5, 7);
    s.params[1] = random_real(s.params[1].len(), -1.0, 1.0, 8);
    s.params[2] = random_real(s.params[2].len(), 0.5, 1.5, 9);
    s
}

/// The exact gradient of the imperfect system (f64) against central finite differences.
fn check_fd(hw: &str) {
    let cfg = config(hw, "hardware");
    let net = cfg.resolve().unwrap();
    assert!(net.runs_field_imperfections());
    let st = state(&cfg);
    let x = input(&cfg, 3, 5);
    let labels = [0u8, 3, 1];
    check_field_gradient_fd(&net, &st, &x, &labels, hw);
}

#[test]
fn exact_gradient_of_the_imperfect_system_matches_finite_differences() {
    check_fd(&format!(
        "shifts = [[{}, {}], [{}, {}], [{}, {}]]\n\
         distance_errors = [7e-6, -11e-6, 4e-6]\n\
         phase_range = 5.0\nfringing = 0.6\nfill_factor = 0.8\n\
         od_std = 0.2\nod_correlation = 8e-6\nseed = 3",
        1.3 * PITCH,
        -0.6 * PITCH,
        0.4 * PITCH,
        2.2 * PITCH,
        -0.7 * PITCH,
        0.2 * PITCH
    ));
}

#[test]
fn exact_gradient_through_a_lookup_table_with_amplitude_matches_finite_differences() {
    let path = std::env::temp_dir().join(format!("wavetrain-lut-{}.csv", std::process::id()));
    let mut csv = String::from("level,phase,amplitude\n");
    for i in 0..=8 {
        let t = i as f64 / 8.0;
        csv.push_str(&format!(
            "{},{},{}\n",
            i * 32,
            5.8 * t.powf(1.3),
            1.0 - 0.1 * t
        ));
    }
    std::fs::write(&path, csv).unwrap();
    check_fd(&format!(
        "phase_lut = {:?}\nshift_std = 3e-6\nseed = 5",
        path.display().to_string()
    ));
    let _ = std::fs::remove_file(path);
}

/// Rolls `p` (`sy × sx`) by `[x, y]` pixels: `out(x) = in(x − s)`.
fn roll<T: Copy>(p: &[T], sx: usize, sy: usize, s: [i64; 2]) -> Vec<T> {
    let mut out = p.to_vec();
    for y in 0..sy {
        for x in 0..sx {
            let (fy, fx) = (
                (y as i64 - s[1]).rem_euclid(sy as i64) as usize,
                (x as i64 - s[0]).rem_euclid(sx as i64) as usize,
            );
            out[y * sx + x] = p[fy * sx + fx];
        }
    }
    out
}

#[test]
fn an_integer_shift_equals_the_rolled_mask_exactly() {
    // SLM 0 (k=2) by 4, −2 grid pixels = 2, −1 SLM pixels; SLM 1 (k=4) by 8, 4 = 2, 1; SLM 2
    // (k=1) by −3, 5.
    let shifts = [[4i64, -2], [8, 4], [-3, 5]];
    let list: Vec<String> = shifts
        .iter()
        .map(|s| format!("[{}, {}]", s[0] as f64 * PITCH, s[1] as f64 * PITCH))
        .collect();
    let hw = config(&format!("shifts = [{}]", list.join(", ")), "hardware");
    let ideal = config("", "hardware");
    let st = state(&hw);
    let ks = [2usize, 4, 1];
    let mut rolled = st.clone();
    for (i, k) in ks.iter().enumerate() {
        let s = 16 / k;
        let by = [shifts[i][0] / *k as i64, shifts[i][1] / *k as i64];
        rolled.params[i] = roll(&st.params[i], s, s, by);
    }
    let x = input(&hw, 3, 11);
    let labels = [2u8, 0, 1];
    for mode in [GradientMode::Optical, GradientMode::Exact] {
        let mut a = CpuField::<f32>::new(&hw.resolve().unwrap(), &st).unwrap();
        let mut b = CpuField::<f32>::new(&ideal.resolve().unwrap(), &rolled).unwrap();
        a.set_gradient(mode);
        b.set_gradient(mode);
        let pa = a.forward(&x, None).to_vec();
        let pb = b.forward(&x, None).to_vec();
        assert_eq!(pa, pb, "detector powers differ ({mode:?})");
        assert_ne!(pa, {
            let mut c = CpuField::<f32>::new(&ideal.resolve().unwrap(), &st).unwrap();
            c.forward(&x, None).to_vec()
        });
        a.loss(&labels);
        b.loss(&labels);
        a.backward(None);
        b.backward(None);
        for (i, k) in ks.iter().enumerate() {
            let s = 16 / k;
            let back = [-shifts[i][0] / *k as i64, -shifts[i][1] / *k as i64];
            assert_eq!(
                a.grads[i],
                roll(&b.grads[i], s, s, back),
                "gradient of SLM {i} ({mode:?})"
            );
        }
    }
}

#[test]
fn a_sub_pixel_shift_of_a_gaussian_beam_is_the_shifted_beam() {
    let (nx, ny) = (64usize, 48usize);
    let (w, x0, y0) = (3.0f64, 30.0, 22.0);
    let beam = |sx: f64, sy: f64| -> Vec<Complex<f64>> {
        (0..nx * ny)
            .map(|i| {
                let (x, y) = ((i % nx) as f64, (i / nx) as f64);
                let r2 = (x - x0 - sx).powi(2) + (y - y0 - sy).powi(2);
                // A tilted Gaussian beam: the phase ramp moves with it.
                Complex::from_polar((-r2 / (2.0 * w * w)).exp(), 0.1 * (x - x0 - sx))
            })
            .collect()
    };
    for s in [[0.3, -1.7], [2.5, 0.5], [-0.25, 2.0], [4.0, -2.0]] {
        let mut f = beam(0.0, 0.0);
        let mut sh = Shifter::<f64>::default();
        sh.apply(&mut f, nx, ny, &Shift::new(s, nx, ny), true);
        let want = beam(s[0], s[1]);
        let err = f
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max);
        assert!(err < 1e-9, "shift {s:?}: max error {err:e}");
        // And back: the shift by −s undoes it.
        sh.apply(&mut f, nx, ny, &Shift::new(s, nx, ny), false);
        let back = f
            .iter()
            .zip(&beam(0.0, 0.0))
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max);
        assert!(back < 1e-9, "shift {s:?} and back: {back:e}");
    }
}

#[test]
fn a_linear_lookup_table_is_the_ideal_slm() {
    let ideal = Response::default();
    let lin = Response {
        lut: Some(Lut::linear(256)),
        ..Response::default()
    };
    for i in 0..1000 {
        let phi = -20.0 + 0.04 * i as f64 + 1e-3;
        let (p0, a0, d0, _) = ideal.eval(phi);
        let (p1, a1, d1, da1) = lin.eval(phi);
        let (z0, z1) = (Complex::from_polar(a0, p0), Complex::from_polar(a1, p1));
        assert!((z0 - Complex::from_polar(1.0, phi)).norm() < 1e-12);
        assert!((z0 - z1).norm() < 1e-12, "φ {phi}: {z0} vs {z1}");
        assert!((d0 - 1.0).abs() < 1e-12 && (d1 - 1.0).abs() < 1e-9 && da1 == 0.0);
    }
    // Whole networks: a linear table file gives the ideal network's powers.
    let path = std::env::temp_dir().join(format!("wavetrain-linlut-{}.csv", std::process::id()));
    let mut csv = String::from("level,phase\n");
    for l in 0..=255 {
        csv.push_str(&format!("{l},{}\n", TAU * l as f64 / 255.0));
    }
    std::fs::write(&path, csv).unwrap();
    let hw = config(
        &format!("phase_lut = {:?}", path.display().to_string()),
        "hardware",
    );
    let ideal = config("", "hardware");
    let st = state(&hw);
    let x = input(&hw, 3, 12);
    let a = CpuField::<f64>::new(&hw.resolve().unwrap(), &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    let b = CpuField::<f64>::new(&ideal.resolve().unwrap(), &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() <= 1e-10 * q.abs().max(1e-30), "{p} vs {q}");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn phase_range_and_phase_bits_match_their_closed_forms() {
    let pi = std::f64::consts::PI;
    // Range π: the shown phase is mod(φ, 2π)/2.
    let r = Response {
        range: pi,
        ..Response::default()
    };
    for (phi, want) in [
        (1.0, 0.5),
        (-1.0, (TAU - 1.0) / 2.0),
        (7.0, (7.0 - TAU) / 2.0),
    ] {
        let (p, a, d, _) = r.eval(phi);
        assert!(
            (p - want).abs() < 1e-12 && a == 1.0 && (d - 0.5).abs() < 1e-15,
            "{phi}: {p}"
        );
    }
    // Two bits: levels 0, π/2, π, 3π/2; 6.0 rad rounds to the fourth level, i.e. 0.
    let b = Response {
        bits: Some(2),
        ..Response::default()
    };
    for (phi, want) in [
        (1.0, pi / 2.0),
        (0.7, 0.0),
        (6.0, 0.0),
        (-1.0, 3.0 * pi / 2.0),
        (2.5, pi),
    ] {
        let (p, _, d, _) = b.eval(phi);
        assert!(
            (p - want).abs() < 1e-12,
            "2 bits, φ {phi}: {p}, expected {want}"
        );
        // The straight-through derivative.
        assert_eq!(d, 1.0);
    }
    // Three bits and range 3π/2 together: the level times 3π/2/8.
    let rb = Response {
        range: 1.5 * pi,
        bits: Some(3),
        lut: None,
    };
    let (p, _, _, _) = rb.eval(2.0); // 2/(π/4) = 2.546 → level 3
    assert!((p - 3.0 * 1.5 * pi / 8.0).abs() < 1e-12, "{p}");
}

#[test]
fn fringing_keeps_a_uniform_phase_uniform_and_smooths_a_step() {
    let m = SlmModel {
        phase: true,
        response: Response::default(),
        fringing: 1.5,
        fill_factor: 1.0,
    };
    let (s, k) = (16usize, 2usize);
    let shown = m.show(&vec![0.7; s * s], s, s, k);
    for z in &shown.mask {
        assert!((z - Complex::from_polar(1.0, 0.7)).norm() < 1e-14, "{z}");
    }
    // A step from 0 to 1 rad across the middle column: the shown phase ramps.
    let step: Vec<f64> = (0..s * s)
        .map(|i| if i % s < s / 2 { 0.0 } else { 1.0 })
        .collect();
    let shown = m.show(&step, s, s, k);
    let row: Vec<f64> = shown.mask[..s * k].iter().map(|z| z.arg()).collect();
    assert!(
        row[0].abs() < 1e-3 && (row[s * k - 1] - 1.0).abs() < 1e-3,
        "{row:?}"
    );
    let mid = row[s * k / 2];
    assert!(mid > 0.2 && mid < 0.8, "the edge is smoothed: {row:?}");
    assert!(
        row.windows(2).all(|w| w[1] >= w[0] - 1e-12),
        "monotone ramp: {row:?}"
    );
}

#[test]
fn the_fill_factor_averages_the_pixel_with_its_dead_zone() {
    // k = 1: every sample is the area average f·e^{iφ} + (1 − f) (an unmodulated dead zone).
    let m = SlmModel {
        phase: true,
        response: Response::default(),
        fringing: 0.0,
        fill_factor: 0.64,
    };
    let shown = m.show(&[1.0, 2.0, 3.0, 4.0], 2, 2, 1);
    for (z, phi) in shown.mask.iter().zip([1.0, 2.0, 3.0, 4.0]) {
        let want = Complex::from_polar(0.64, phi) + 0.36;
        assert!((z - want).norm() < 1e-14);
    }
    // k = 5, f = 0.36: the active square is 3 × 3 samples of each 5 × 5 pixel.
    let shown = m.clone();
    let m5 = SlmModel {
        fill_factor: 0.36,
        ..shown
    };
    let s = m5.show(&[2.0], 1, 1, 5);
    let active = s
        .mask
        .iter()
        .filter(|z| (*z - Complex::from_polar(1.0, 2.0)).norm() < 1e-12)
        .count();
    let dead = s.mask.iter().filter(|z| (*z - 1.0).norm() < 1e-12).count();
    assert_eq!((active, dead), (9, 16));
}

/// The optical gradient of the imperfect system is the probe formula through its operators:
/// the exact gradient of the same system with each absorber frozen at the transmission its pump
/// set (an amplitude mask `t(s(x))` of the hardware's optical-depth map), one image.
#[test]
fn the_optical_gradient_is_the_probe_through_the_imperfect_operators() {
    let net_text = |mid: &str, hw: &str| {
        format!(
            r#"
name = "probe"
[optics]
wavelength = 780e-9
pitch = {PITCH}
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
{mid}
[[elements]]
type = "phase"
[[elements]]
type = "free-space"
distance = 150e-6
[readout]
classes = 4
detector_size = 3
temperature = 0.3
[train]
batch = 1
[hardware]
seed = 4
distance_errors = [9e-6, -6e-6]
{hw}
"#
        )
    };
    let (s0, s1) = (
        format!("[{}, {}]", 0.6 * PITCH, -1.3 * PITCH),
        format!("[{}, {}]", -0.4 * PITCH, 0.9 * PITCH),
    );
    let with_absorber = Config::from_toml(
        &net_text(
            "[[elements]]\ntype = \"absorber\"\nod = 3.0",
            &format!("shifts = [{s0}, {s1}]\nod_std = 0.3\nod_correlation = 6e-6"),
        ),
        "a",
    )
    .unwrap();
    let net = with_absorber.resolve().unwrap();
    let mut st = net.initial_state();
    st.params[0] = random_real(st.params[0].len(), -3.0, 3.0, 21);
    st.params[1] = random_real(st.params[1].len(), -3.0, 3.0, 22);
    let x = input(&with_absorber, 1, 23);
    let mut a = CpuField::<f64>::new(&net, &st).unwrap();
    let mut entering = Vec::new();
    a.forward(
        &x,
        Some(&mut |i: usize, f: &[Complex<f64>]| {
            if i == 1 {
                entering = f.to_vec();
            }
        }),
    );
    a.loss(&[2]);
    a.backward(None);
    let od = net.field("t").unwrap().hardware.as_ref().unwrap().od_maps[0]
        .clone()
        .unwrap();
    let t: Vec<f32> = entering
        .iter()
        .zip(&od)
        .map(|(v, &a0)| (-0.5 * a0 / (1.0 + v.norm_sqr())).exp() as f32)
        .collect();
    let frozen = Config::from_toml(
        &net_text(
            "[[elements]]\ntype = \"amplitude\"\ninit = 1.0",
            &format!("shifts = [{s0}, [0.0, 0.0], {s1}]"),
        ),
        "b",
    )
    .unwrap();
    let fnet = frozen.resolve().unwrap();
    let mut fs = fnet.initial_state();
    fs.params = vec![st.params[0].clone(), t, st.params[1].clone()];
    let mut b = CpuField::<f64>::new(&fnet, &fs).unwrap();
    b.set_gradient(GradientMode::Exact);
    b.forward(&x, None);
    b.loss(&[2]);
    b.backward(None);
    // The frozen transmissions were rounded to f32; compare to that precision.
    for (ga, gb) in [(&a.grads[0], &b.grads[0]), (&a.grads[1], &b.grads[2])] {
        let m = gb.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(m > 1e-6);
        for (p, q) in ga.iter().zip(gb) {
            assert!((p - q).abs() < 1e-5 * m, "{p} vs {q}");
        }
    }
    // And it is not the exact gradient of the imperfect system (the absorber saturates).
    let mut e = CpuField::<f64>::new(&net, &st).unwrap();
    e.set_gradient(GradientMode::Exact);
    e.forward(&x, None);
    e.loss(&[2]);
    e.backward(None);
    let diff = e.grads[0]
        .iter()
        .zip(&a.grads[0])
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(diff > 1e-6, "optical and exact gradients agree: {diff}");
}

/// An explicit `[hardware]` table of zero imperfections (every field option given at its ideal
/// value, so the executors run their hardware path) trains bit for bit as no table does, on
/// every target.
#[test]
fn zero_imperfection_is_bit_identical_to_the_ideal_network() {
    let zero = format!(
        "seed = 9\nshifts = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]\ndistance_errors = [0.0, 0.0, 0.0]\n\
         phase_range = {TAU:?}\nfringing = 0.0\nfill_factor = 1.0"
    );
    let plain = config("", "hardware");
    let x = input(&plain, 3, 31);
    let labels = [1u8, 2, 3];
    let run = |cfg: &Config, sys: Option<System>| {
        let mut net = cfg.resolve().unwrap();
        if let Some(s) = sys {
            net = net.on(s).unwrap();
        }
        let mut b = CpuBackend::new(&net, &state(cfg)).unwrap();
        let mut losses = Vec::new();
        for _ in 0..3 {
            losses.push(b.train_step(&x, &labels).unwrap().loss_sum.to_bits());
        }
        (losses, b.state().unwrap(), b.predict(&x).unwrap())
    };
    let want = run(&plain, None);
    for target in ["hardware", "model", "physics-aware"] {
        let cfg = config(&zero, target);
        assert!(cfg
            .resolve()
            .unwrap()
            .field("t")
            .unwrap()
            .hardware
            .is_some());
        let got = run(&cfg, None);
        assert_eq!(got.0, want.0, "{target}: losses");
        assert_eq!(got.1, want.1, "{target}: state");
        assert_eq!(got.2, want.2, "{target}: predictions");
    }
    let got = run(&config(&zero, "model"), Some(System::PhysicsAware));
    assert_eq!(got.1, want.1);
}

#[test]
fn the_model_target_trains_the_ideal_model_and_physics_aware_runs_the_hardware_forward() {
    let hw = "shift_std = 5e-6\ndistance_std = 10e-6\nfringing = 0.4\nseed = 2";
    let x = input(&config("", "model"), 3, 41);
    let labels = [0u8, 1, 3];
    let train = |net: &wavetrain::network::Network, st: &State| {
        let mut b = CpuBackend::new(net, st).unwrap();
        for _ in 0..3 {
            b.train_step(&x, &labels).unwrap();
        }
        b
    };
    let st = state(&config(hw, "model"));
    let mut model = train(&config(hw, "model").resolve().unwrap(), &st);
    let mut ideal = train(&config("", "model").resolve().unwrap(), &st);
    assert_eq!(model.state().unwrap(), ideal.state().unwrap());
    let mut insitu = train(&config(hw, "hardware").resolve().unwrap(), &st);
    let mut pat = train(&config(hw, "physics-aware").resolve().unwrap(), &st);
    let (si, sp) = (insitu.state().unwrap(), pat.state().unwrap());
    assert_ne!(si, sp, "physics-aware and in-situ gradients differ");
    assert_ne!(sp, model.state().unwrap());
    // Physics-aware predictions are the hardware's: the same parameters on the hardware.
    let on_hw = config(hw, "hardware").resolve().unwrap();
    let mut check = CpuBackend::new(&on_hw, &sp).unwrap();
    assert_eq!(pat.predict(&x).unwrap(), check.predict(&x).unwrap());
    // The hardware predicts differently from the model for the same parameters.
    let mut m = CpuBackend::new(&on_hw.on(System::Model).unwrap(), &sp).unwrap();
    assert_ne!(m.predict(&x).unwrap(), check.predict(&x).unwrap());
}

#[test]
fn the_same_config_draws_the_same_system_and_the_seed_another() {
    let draw = |hw: &str| {
        config(hw, "hardware")
            .resolve()
            .unwrap()
            .field("t")
            .unwrap()
            .hardware
            .clone()
            .unwrap()
    };
    let a = draw("shift_std = 4e-6\ndistance_std = 5e-6\nod_std = 0.1\nseed = 1");
    assert_eq!(
        a,
        draw("shift_std = 4e-6\ndistance_std = 5e-6\nod_std = 0.1\nseed = 1")
    );
    assert_ne!(
        a,
        draw("shift_std = 4e-6\ndistance_std = 5e-6\nod_std = 0.1\nseed = 2")
    );
    // Streams: doubling shift_std doubles the same draws and leaves the distances alone.
    let b = draw("shift_std = 8e-6\ndistance_std = 5e-6\nod_std = 0.1\nseed = 1");
    for (p, q) in a.slms.iter().zip(&b.slms) {
        assert!((2.0 * p.shift[0] - q.shift[0]).abs() < 1e-18);
    }
    assert_eq!(a.distances, b.distances);
    assert_eq!(a.od_maps, b.od_maps);
    let sd = a.slms.iter().map(|s| s.shift[0].abs()).fold(0.0, f64::max);
    assert!(sd > 0.0 && sd < 20e-6);
}

fn refused(hw: &str, key: &str, words: &str) {
    let text = config_text(hw, "hardware");
    let err = match Config::from_toml(&text, "t").and_then(|c| c.resolve().map(|_| c)) {
        Ok(_) => panic!("{hw:?} was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(key) && err.contains(words),
        "{hw:?}: {err} (expected {key:?} and {words:?})"
    );
}

#[test]
fn bad_hardware_values_are_refused_naming_the_key() {
    refused("fringing = -1.0", "hardware.fringing", "≥ 0");
    refused("shift_std = -1e-6", "hardware.shift_std", "≥ 0");
    refused("distance_std = -1e-6", "hardware.distance_std", "≥ 0");
    refused("od_std = -0.1", "hardware.od_std", "≥ 0");
    refused(
        "shifts = [[1e-6, 0.0]]",
        "hardware.shifts",
        "one [dx, dy] (metres) per SLM",
    );
    refused(
        "shifts = [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]",
        "hardware.shifts[1]",
        "smaller than the grid",
    );
    refused(
        "shift_std = 1e-3",
        "hardware.shift_std",
        "quarter of the grid",
    );
    refused(
        "distance_errors = [1e-6]",
        "hardware.distance_errors",
        "one (metres)",
    );
    refused(
        "distance_errors = [-1e-3, 0.0, 0.0]",
        "hardware.distance_errors[0]",
        "non-positive",
    );
    refused("phase_range = 7.0", "hardware.phase_range", "(0, 2π]");
    refused("phase_bits = 0", "hardware.phase_bits", "between 1 and 16");
    refused("fill_factor = 1.5", "hardware.fill_factor", "(0, 1]");
    refused("noise_error = 0.1", "hardware.noise_error", "dense");
    refused("weight_error = 0.1", "hardware.weight_error", "dense");
    refused(
        "od_correlation = 1e-5",
        "hardware.od_correlation",
        "set od_std",
    );
    refused(
        "phase_lut = \"/nonexistent/lut.csv\"",
        "hardware.phase_lut",
        "cannot read",
    );
    let dir = std::env::temp_dir();
    for (name, body, words) in [
        ("dec", "level,phase\n0,0\n10,1\n5,2\n", "increase strictly"),
        (
            "cols",
            "level,phase,amplitude,extra\n0,0,1,1\n",
            "is not `level,phase`",
        ),
        ("short", "0,0.0\n1,1.0,0.5\n", "3 columns where 2"),
        ("one", "level,phase\n0,0\n", "fewer than two"),
        ("nan", "0,0\n1,abc\n", "not a finite number"),
    ] {
        let p = dir.join(format!(
            "wavetrain-bad-lut-{name}-{}.csv",
            std::process::id()
        ));
        std::fs::write(&p, body).unwrap();
        refused(
            &format!("phase_lut = {:?}", p.display().to_string()),
            "hardware.phase_lut",
            words,
        );
        let _ = std::fs::remove_file(p);
    }
    let lut = dir.join(format!("wavetrain-lut-both-{}.csv", std::process::id()));
    std::fs::write(&lut, "0,0\n1,6\n").unwrap();
    refused(
        &format!(
            "phase_lut = {:?}\nphase_range = 3.0",
            lut.display().to_string()
        ),
        "hardware.phase_range",
        "not both",
    );
    let _ = std::fs::remove_file(lut);
}

#[test]
fn the_gpu_accepts_every_field_option() {
    // The gradient read-out, the detector noise and input bits (issue 26) and the deterministic
    // imperfections run on the GPU: `check_gpu` refuses none of them (the GPU suite compares
    // them with the CPU).
    for hw in [
        "shift_std = 2e-6\nreadout = \"phase-stepping\"",
        "readout = \"heterodyne\"\nprobe_ratio = 0.1\nreadout_shot_noise = 1e4\nreadout_bits = 12",
        "probe_ratio = 3.0",
        "shift_std = 2e-6\nshot_noise = 1000\ninput_bits = 6",
        "shift_std = 2e-6",
    ] {
        for target in ["hardware", "physics-aware", "model"] {
            let net = config(hw, target).resolve().unwrap();
            assert!(net.check_gpu().is_ok(), "{hw:?} on {target}");
        }
    }
    // Training on the model needs no imperfect operator.
    let model = config("shift_std = 2e-6", "model").resolve().unwrap();
    assert!(!model.runs_field_imperfections());
}

/// The imperfect system used for the twin tests: shifts, distance errors, fringing, absorber
/// optical-depth errors.
const TWIN_HW: &str = "shifts = [[3e-6, -2e-6], [1e-6, 4e-6], [-2e-6, 1e-6]]\n\
    distance_errors = [8e-6, -6e-6, 5e-6]\nfringing = 0.4\nod_errors = [0.1, -0.05]";

/// The f64 gradient of one batch on `cfg`'s network (its own target).
fn grads64(cfg: &Config) -> Vec<Vec<f64>> {
    let net = cfg.resolve().unwrap();
    let st = state(cfg);
    let mut f = CpuField::<f64>::new(&net, &st).unwrap();
    f.forward(&input(cfg, 3, 17), None);
    f.loss(&[0, 2, 3]);
    f.backward(None);
    f.grads.clone()
}

#[test]
fn physics_aware_through_a_twin_equal_to_the_hardware_is_the_in_situ_gradient() {
    // Pump on the hardware, probe through the twin's operators at the hardware's fields: when
    // the twin is the hardware, that is the hardware's own gradient, exact and optical.
    for mode in ["exact", "optical"] {
        let with = |hw: &str, twin: Option<&str>, target: &str| {
            let body = match twin {
                Some(t) => format!("{hw}\n[twin]\n{t}"),
                None => hw.to_string(),
            };
            let mut c = config(&body, target);
            c.train.gradient = if mode == "exact" {
                GradientMode::Exact
            } else {
                GradientMode::Optical
            };
            c
        };
        let insitu = grads64(&with(TWIN_HW, None, "hardware"));
        let pat_twin = grads64(&with(TWIN_HW, Some(TWIN_HW), "physics-aware"));
        let pat_ideal = grads64(&with(TWIN_HW, None, "physics-aware"));
        let mut worst: f64 = 0.0;
        let mut off: f64 = 0.0;
        for ((a, b), c) in insitu.iter().zip(&pat_twin).zip(&pat_ideal) {
            let top = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(top > 0.0);
            for ((x, y), z) in a.iter().zip(b).zip(c) {
                worst = worst.max((x - y).abs() / top);
                off = off.max((x - z).abs() / top);
            }
        }
        assert!(worst < 1e-10, "{mode}: twin = hardware deviates by {worst}");
        assert!(
            off > 1e-3,
            "{mode}: the ideal model's probe differs ({off})"
        );
        // A twin that is not the hardware gives another gradient.
        let other = grads64(&with(
            TWIN_HW,
            Some("shifts = [[0.0, 0.0], [1e-6, 4e-6], [-2e-6, 1e-6]]"),
            "physics-aware",
        ));
        assert_ne!(other, pat_twin, "{mode}");
    }
}

#[test]
fn in_silico_training_with_a_twin_trains_on_the_twin() {
    let twin = "shifts = [[2e-6, 1e-6], [0.0, -3e-6], [1e-6, 1e-6]]\nfringing = 0.3";
    let x = input(&config("", "model"), 3, 43);
    let labels = [0u8, 1, 3];
    let train = |cfg: &Config| {
        let net = cfg.resolve().unwrap();
        let mut b = CpuBackend::new(&net, &state(cfg)).unwrap();
        let losses: Vec<u64> = (0..3)
            .map(|_| b.train_step(&x, &labels).unwrap().loss_sum.to_bits())
            .collect();
        (losses, b.state().unwrap())
    };
    let on_twin = train(&config(&format!("{TWIN_HW}\n[twin]\n{twin}"), "model"));
    let twin_as_hw = train(&config(twin, "hardware"));
    assert_eq!(on_twin, twin_as_hw);
    let ideal = train(&config(TWIN_HW, "model"));
    assert_ne!(on_twin.1, ideal.1);
    // The model of the network is the twin; its hardware the real system.
    let net = config(&format!("{TWIN_HW}\n[twin]\n{twin}"), "model")
        .resolve()
        .unwrap();
    let model = net.on(System::Model).unwrap();
    assert_eq!(
        model.field("t").unwrap().hardware,
        config(twin, "hardware")
            .resolve()
            .unwrap()
            .field("t")
            .unwrap()
            .hardware
    );
    let record = net.hardware_record().unwrap();
    assert!(record["twin"]["slms"].is_array(), "{record}");
    assert!(record["slms"].is_array(), "{record}");
}

#[test]
fn bad_twins_are_refused_naming_the_key() {
    let bad = |twin: &str, key: &str| {
        let text = config_text(&format!("{TWIN_HW}\n[twin]\n{twin}"), "physics-aware");
        let err = match Config::from_toml(&text, "t").and_then(|c| c.resolve().map(|_| c)) {
            Ok(_) => panic!("{twin:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key), "{twin:?}: {err}");
    };
    bad("shot_noise = 100.0", "twin");
    bad("readout = \"phase-stepping\"", "twin");
    bad("shifts = [[1e-6, 0.0]]", "twin.shifts");
    bad("fringing = -1.0", "twin.fringing");
    bad("od_errors = [0.1]", "twin.od_errors");
    // The GPU's backward pass is the ideal model's: physics-aware through a twin is the CPU's.
    let net = config(
        &format!("{TWIN_HW}\n[twin]\nfringing = 0.2"),
        "physics-aware",
    )
    .resolve()
    .unwrap();
    let e = net.check_gpu().unwrap_err().to_string();
    assert!(e.contains("twin") && e.contains("--backend cpu"), "{e}");
    let mut dense = wavetrain::presets::preset("paper-mlp").unwrap();
    dense.twin = Some(Default::default());
    let e = dense.resolve().unwrap_err().to_string();
    assert!(e.contains("twin"), "{e}");
}
