//! Issue 18, dense networks and the noisy options: the fixed miscalibration of each weight and
//! layer gain (drawn once, applied on the hardware only, physics-aware probe through the ideal
//! weights); input quantisation and detector noise of a field network (reproducible, CPU only).
mod common;
use common::*;
use wavetrain::backend::Backend;
use wavetrain::cpu::{CpuBackend, CpuDense, CpuField};
use wavetrain::model::Config;
use wavetrain::network::{Plan, System};

fn mlp(hw: &str, target: &str) -> Config {
    let text = format!(
        r#"
name = "mlp"
[input]
intensity = 2.0
size = 3
[[elements]]
type = "dense"
out = 5
gain = 2.0
init_std = 0.3
[[elements]]
type = "absorber"
od = 4.0
[[elements]]
type = "dense"
out = 3
init_std = 0.3
[readout]
classes = 3
loss = "mse"
[train]
batch = 4
target = "{target}"
[hardware]
{hw}
"#
    );
    Config::from_toml(&text, "test").unwrap()
}

#[test]
fn weight_and_gain_errors_are_a_fixed_miscalibration_of_the_hardware() {
    let hw = "weight_error = 0.1\ngain_error = 0.05\nseed = 3";
    let net = mlp(hw, "hardware").resolve().unwrap();
    let Plan::Dense(plan) = net.plan() else {
        panic!("dense")
    };
    let factors: Vec<Vec<f64>> = plan
        .miscalibration
        .clone()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(plan.gain_factors.iter().all(|g| *g != 1.0));
    let st = net.initial_state();
    let x: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 2);
    let mut on_hw = CpuDense::<f64>::new(&net, &st).unwrap();
    let y_hw = on_hw
        .forward(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
        .to_vec();
    // The ideal network with each weight multiplied by its factor (no weight reaches the bound).
    let ideal = mlp("", "hardware").resolve().unwrap();
    let mut scaled = st.clone();
    for (p, f) in scaled.params.iter_mut().zip(&factors) {
        for (w, f) in p.iter_mut().zip(f) {
            assert!((*w as f64 * f).abs() < 1.0);
            *w = (*w as f64 * f) as f32;
        }
    }
    let mut by_hand = CpuDense::<f64>::new(&ideal, &scaled).unwrap();
    let y_hand = by_hand
        .forward(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
        .to_vec();
    // (The scaled weights were rounded to f32.)
    let ymax = y_hand.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in y_hw.iter().zip(&y_hand) {
        assert!((a - b).abs() < 1e-4 * ymax, "{a} vs {b}");
    }
    let plain_y = CpuDense::<f64>::new(&ideal, &st)
        .unwrap()
        .forward(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
        .to_vec();
    let moved = plain_y
        .iter()
        .zip(&y_hw)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        moved > 1e-2 * ymax,
        "the miscalibration moved the outputs by {moved}"
    );
    // The model ignores it; the same seed draws the same factors; another seed others.
    let mut model = CpuDense::<f64>::new(&net.on(System::Model).unwrap(), &st).unwrap();
    let mut plain = CpuDense::<f64>::new(&ideal, &st).unwrap();
    let xf: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    assert_eq!(model.forward(&xf).to_vec(), plain.forward(&xf).to_vec());
    let again = mlp(hw, "model").resolve().unwrap();
    let Plan::Dense(p2) = again.plan() else {
        panic!("dense")
    };
    assert_eq!(p2.miscalibration, plan.miscalibration);
    let other = mlp(
        "weight_error = 0.1\ngain_error = 0.05\nseed = 4",
        "hardware",
    )
    .resolve()
    .unwrap();
    let Plan::Dense(p3) = other.plan() else {
        panic!("dense")
    };
    assert_ne!(p3.miscalibration, plan.miscalibration);
    assert!(net.hardware_record().unwrap()["layers"][0]["gain_factor"].is_number());
}

#[test]
fn physics_aware_dense_training_runs_the_hardware_forward_and_the_ideal_backward() {
    let hw = "weight_error = 0.2\nseed = 1";
    let x: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 5);
    let labels = [0u8, 1, 2, 1];
    let mut states = Vec::new();
    for target in ["model", "hardware", "physics-aware"] {
        let net = mlp(hw, target).resolve().unwrap();
        let mut b = CpuBackend::new(&net, &net.initial_state()).unwrap();
        for _ in 0..3 {
            b.train_step(&x, &labels).unwrap();
        }
        states.push((b.state().unwrap(), b.predict(&x).unwrap()));
    }
    assert_ne!(states[0].0, states[1].0);
    assert_ne!(states[1].0, states[2].0);
    assert_ne!(states[0].0, states[2].0);
    // Physics-aware predictions are the hardware's.
    let hwnet = mlp(hw, "hardware").resolve().unwrap();
    let mut check = CpuBackend::new(&hwnet, &states[2].0).unwrap();
    assert_eq!(check.predict(&x).unwrap(), states[2].1);
}

fn field(hw: &str) -> Config {
    let text = format!(
        r#"
name = "noisy"
[optics]
wavelength = 780e-9
pitch = 4e-6
nx = 16
ny = 16
[input]
intensity = 4.0
size = 12
[[elements]]
type = "phase"
init_std = 1.0
[[elements]]
type = "free-space"
distance = 200e-6
[readout]
classes = 4
detector_size = 3
[train]
batch = 3
[hardware]
{hw}
"#
    );
    Config::from_toml(&text, "test").unwrap()
}

#[test]
fn input_bits_quantise_the_input_amplitudes() {
    let x: Vec<f32> = random_real(3 * 256, 0.0, 2.0, 9);
    let q = field("input_bits = 2").resolve().unwrap();
    let st = q.initial_state();
    let got = CpuField::<f32>::new(&q, &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    // By hand: amplitudes on 3 steps between dark and white (√4 = 2).
    let xq: Vec<f32> = x
        .iter()
        .map(|&a| (((a as f64 / 2.0).clamp(0.0, 1.0) * 3.0).round() / 3.0 * 2.0) as f32)
        .collect();
    assert!(xq.iter().all(|a| [0.0f32, 2.0 / 3.0, 4.0 / 3.0, 2.0]
        .iter()
        .any(|l| (a - l).abs() < 1e-6)));
    let ideal = field("").resolve().unwrap();
    let want = CpuField::<f32>::new(&ideal, &st)
        .unwrap()
        .forward(&xq, None)
        .to_vec();
    assert_eq!(got, want);
    let raw = CpuField::<f32>::new(&ideal, &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    assert_ne!(got, raw);
    // The model sees the unquantised input.
    let m = CpuField::<f32>::new(&q.on(System::Model).unwrap(), &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    assert_eq!(m, raw);
}

#[test]
fn detector_noise_is_reproducible_and_the_camera_quantises() {
    let x: Vec<f32> = random_real(3 * 256, 0.0, 2.0, 10);
    let net = field("shot_noise = 50.0\nread_noise = 0.01\nseed = 2")
        .resolve()
        .unwrap();
    let st = net.initial_state();
    let a = CpuField::<f32>::new(&net, &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    let b = CpuField::<f32>::new(&net, &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    assert_eq!(a, b, "the same state and pass draw the same noise");
    let clean = CpuField::<f32>::new(&field("").resolve().unwrap(), &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    let rel = a
        .iter()
        .zip(&clean)
        .map(|(p, q)| ((p - q) / q.max(1e-30)).abs())
        .fold(0.0f32, f32::max);
    assert!(rel > 1e-3 && rel < 1.0, "noise moved the powers by {rel}");
    let cam = field("camera_bits = 2").resolve().unwrap();
    let p = CpuField::<f32>::new(&cam, &st)
        .unwrap()
        .forward(&x, None)
        .to_vec();
    for img in p.chunks(4) {
        let full = img.iter().fold(0.0f32, |m, v| m.max(*v));
        for v in img {
            let i = v / full;
            assert!(
                [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
                    .iter()
                    .any(|l| (i - l).abs() < 1e-5),
                "{i}"
            );
        }
    }
    // The GPU runs them too (drawing the same numbers, tests/gpu/hardware.rs).
    assert!(net.check_gpu().is_ok());
    assert!(net.on(System::Model).unwrap().check_gpu().is_ok());
}
