//! Dense (matrix–vector) optical networks: finite-difference gradients in both fidelities with
//! absorbers (exact mode), optical vs exact, the wave multiplier against its field simulation
//! and against the ideal product, cross-talk away from ideal settings, hardware options, 2-D
//! tasks and config overrides.
mod common;
use common::*;
use wavetrain::cpu::CpuDense;
use wavetrain::model::{Activation, Config, GradientMode};
use wavetrain::network::State;
use wavetrain::optics::Multiplier;

fn mlp(fidelity: &str, extra: &str, loss: &str, model: &str) -> Config {
    let text = format!(
        r#"
name = "fd-mlp"
[optics]
wavelength = 780e-9
pitch = 8e-6
[input]
intensity = 2.0
size = 3
[[elements]]
type = "dense"
out = 5
gain = 2.0
fidelity = "{fidelity}"
init_std = 0.3
{extra}
[[elements]]
type = "absorber"
od = 4.0
model = "{model}"
[[elements]]
type = "dense"
out = 4
gain = 1.5
fidelity = "{fidelity}"
init_std = 0.3
{extra}
[[elements]]
type = "absorber"
od = 2.0
model = "{model}"
[[elements]]
type = "dense"
out = 3
fidelity = "{fidelity}"
init_std = 0.3
{extra}
[readout]
classes = 3
loss = "{loss}"
temperature = 0.5
[train]
gradient = "exact"
batch = 4
"#
    );
    Config::from_toml(&text, "test").unwrap()
}

const WAVE: &str = "fill_factor = 0.8\nna = 0.08\nfanout_focal_length = 0.05\nsamples = 4";

fn check_fd(cfg: &Config) -> f64 {
    let state = cfg.resolve().unwrap().initial_state();
    let mut net = CpuDense::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
    let x: Vec<f64> = random_real(4 * 9, -1.0, 1.0, 7);
    let labels = [0u8, 2, 1, 2];
    net.forward(&x);
    net.loss(&labels);
    net.backward();
    let grads = net.grads.clone();
    let base = net.params.clone();
    let gmax = grads.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(gmax > 1e-3, "gradient vanishes: {gmax}");
    let h = 1e-6;
    let mut worst = 0.0f64;
    for (l, gl) in grads.iter().enumerate() {
        for (j, &g) in gl.iter().enumerate() {
            let mut eval = |d: f64| {
                net.params = base.clone();
                net.params[l][j] += d;
                net.refresh_weights();
                net.forward(&x);
                net.loss(&labels).loss_sum / labels.len() as f64
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            let err = (fd - g).abs() / gmax;
            worst = worst.max(err);
            assert!(
                err < 1e-6,
                "layer {l} weight {j}: probe {g:.6e}, finite difference {fd:.6e}"
            );
        }
    }
    worst
}

#[test]
fn ideal_layers_exact_gradient_matches_finite_differences() {
    for (loss, model) in [("mse", "thin"), ("cross-entropy", "beer-lambert")] {
        let w = check_fd(&mlp("ideal", "", loss, model));
        eprintln!("ideal {loss} {model}: worst {w:.2e}");
    }
}

#[test]
fn wave_layers_exact_gradient_matches_finite_differences() {
    for (loss, model) in [("mse", "thin"), ("cross-entropy", "beer-lambert")] {
        let w = check_fd(&mlp("wave", WAVE, loss, model));
        eprintln!("wave {loss} {model}: worst {w:.2e}");
    }
}

#[test]
fn digital_relu_gradient_matches_finite_differences() {
    let cfg = mlp("ideal", "", "mse", "thin")
        .with_activation(Activation::Relu)
        .unwrap();
    check_fd(&cfg);
}

#[test]
fn optical_gradient_differs_from_exact_and_agrees_in_sign_mostly() {
    let mut cfg = mlp("ideal", "", "mse", "thin");
    let state = cfg.resolve().unwrap().initial_state();
    let x: Vec<f64> = random_real(4 * 9, -1.0, 1.0, 3);
    let labels = [1u8, 0, 2, 1];
    let mut grads = Vec::new();
    for mode in [GradientMode::Exact, GradientMode::Optical] {
        cfg.train.gradient = mode;
        let mut net = CpuDense::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
        net.forward(&x);
        net.loss(&labels);
        net.backward();
        grads.push(net.grads.clone());
    }
    // The last layer sees no absorber after it: identical gradients there.
    assert_eq!(grads[0][2], grads[1][2]);
    // Earlier layers: the probe's t(s) underestimates g'(z) = t·(1 + α₀z²/(1+z²)²) ≥ t.
    let (e, o) = (&grads[0][1], &grads[1][1]);
    let diff = e
        .iter()
        .zip(o)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff > 1e-6, "optical and exact gradients coincide");
    let agree = e
        .iter()
        .zip(o)
        .filter(|(a, b)| a.signum() == b.signum())
        .count();
    assert!(
        agree * 10 >= e.len() * 7,
        "only {agree}/{} signs agree",
        e.len()
    );
}

#[test]
fn wave_multiplier_at_ideal_settings_equals_the_product() {
    let ideal = mlp("ideal", "", "mse", "thin");
    let wave = mlp("wave", "samples = 5", "mse", "thin");
    let state = ideal.resolve().unwrap().initial_state();
    let x: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 11);
    let mut a = CpuDense::<f32>::new(&ideal.resolve().unwrap(), &state).unwrap();
    let mut b = CpuDense::<f32>::new(&wave.resolve().unwrap(), &state).unwrap();
    let ya = a.forward(&x).to_vec();
    let yb = b.forward(&x).to_vec();
    let scale = ya.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (p, q) in ya.iter().zip(&yb) {
        assert!((p - q).abs() <= 1e-5 * scale, "{p} vs {q}");
    }
    // And the multiplier's own field simulation gives W a at ideal settings.
    let m = Multiplier {
        wavelength: 780e-9,
        pitch: 8e-6,
        fill_factor: 1.0,
        na: None,
        fanout_focal_length: None,
        samples: 4,
    };
    let w: Vec<f64> = random_real(6 * 7, -1.0, 1.0, 5);
    let v: Vec<f64> = random_real(7, -1.0, 1.0, 6);
    let z = m.simulate(&w, &v, 6, 7);
    for i in 0..6 {
        let exact: f64 = (0..7).map(|j| w[i * 7 + j] * v[j]).sum();
        assert!(
            (z[i] - exact).abs() < 1e-5 * exact.abs().max(1.0),
            "row {i}: {} vs {exact}",
            z[i]
        );
    }
}

#[test]
fn wave_multiplier_factorisation_equals_field_simulation() {
    let m = Multiplier {
        wavelength: 780e-9,
        pitch: 8e-6,
        fill_factor: 0.7,
        na: Some(0.06),
        fanout_focal_length: Some(0.02),
        samples: 6,
    };
    let (rows, cols) = (5, 9);
    let w: Vec<f64> = random_real(rows * cols, -1.0, 1.0, 21);
    let v: Vec<f64> = random_real(cols, -1.0, 1.0, 22);
    let sim = m.simulate(&w, &v, rows, cols);
    let c = m.coupling_matrix(cols);
    let r = m.row_gains(rows);
    let cv: Vec<f64> = (0..cols)
        .map(|j| (0..cols).map(|k| c[j * cols + k] * v[k]).sum())
        .collect();
    for i in 0..rows {
        let f: f64 = r[i] * (0..cols).map(|j| w[i * cols + j] * cv[j]).sum::<f64>();
        assert!(
            (f - sim[i]).abs() < 1e-9 * f.abs().max(1.0),
            "row {i}: {f} vs {}",
            sim[i]
        );
    }
}

#[test]
fn finite_aperture_and_fanout_give_crosstalk_and_nonuniform_rows() {
    let base = Multiplier {
        wavelength: 780e-9,
        pitch: 8e-6,
        fill_factor: 1.0,
        na: None,
        fanout_focal_length: None,
        samples: 8,
    };
    let (x0, r0) = base.crosstalk(16, 16);
    assert!(x0 < 1e-12 && r0 < 1e-12, "ideal settings: {x0} {r0}");
    let mut prev = 0.0;
    // Smaller apertures resolve the pixels less: the cross-talk grows.
    for na in [0.2, 0.1, 0.05] {
        let m = Multiplier {
            na: Some(na),
            ..base
        };
        let (x, _) = m.crosstalk(16, 16);
        assert!(x > prev, "NA {na}: cross-talk {x} not above {prev}");
        prev = x;
    }
    // A short fan-out lens spreads the input over a sinc narrower than the SLM: rows dim.
    let m = Multiplier {
        fanout_focal_length: Some(0.01),
        ..base
    };
    let (_, spread) = m.crosstalk(16, 64);
    let r = m.row_gains(64);
    assert!(spread > 0.05, "row spread {spread}");
    assert!(
        r[32] > r[0],
        "centre row {} not brighter than edge {}",
        r[32],
        r[0]
    );
    // Column coupling conserves nothing extra: at most the ideal diagonal.
    let h = Multiplier {
        na: Some(0.05),
        ..base
    }
    .column_kernel(16);
    assert!(h[15] < 1.0 && h[15] > 0.0);
}

#[test]
fn hardware_noise_changes_outputs_and_bounds_hold() {
    let mut cfg = mlp("ideal", "", "mse", "thin");
    let state = cfg.resolve().unwrap().initial_state();
    let x: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 2);
    let clean = CpuDense::<f32>::new(&cfg.resolve().unwrap(), &state)
        .unwrap()
        .forward(&x)
        .to_vec();
    cfg.hardware.signal_error = 0.05;
    cfg.hardware.noise_error = 0.02;
    let noisy = CpuDense::<f32>::new(&cfg.resolve().unwrap(), &state)
        .unwrap()
        .forward(&x)
        .to_vec();
    let rel = clean
        .iter()
        .zip(&noisy)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max)
        / clean.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(rel > 1e-3 && rel < 0.5, "noise moved outputs by {rel}");

    // SLM quantisation: shown weights take 2^bits levels; updates stay on the full copy.
    let mut q = mlp("ideal", "", "mse", "thin");
    q.hardware.slm_bits = Some(3);
    q.hardware.camera_bits = Some(8);
    q.hardware.shot_noise = Some(1e4);
    q.train.lr = 0.5;
    q.train.optimizer = wavetrain::model::Optimizer::Sgd;
    let mut net = CpuDense::<f32>::new(&q.resolve().unwrap(), &state).unwrap();
    let labels = [0u8, 1, 2, 0];
    for _ in 0..5 {
        net.train_step(&x, &labels);
    }
    let st: State = net.state();
    for p in st.params.iter().flatten() {
        assert!(p.abs() <= 1.0, "weight {p} outside the SLM's range");
    }
    assert!(
        st.params[0].iter().any(|p| {
            let l = (p + 1.0) * 0.5 * 7.0;
            (l - l.round()).abs() > 1e-3
        }),
        "the full-precision copy was quantised"
    );
}

#[test]
fn probe_power_saturates_the_absorber_and_shrinks_nothing_when_weak() {
    let mut cfg = mlp("ideal", "", "mse", "thin");
    cfg.train.gradient = GradientMode::Optical;
    let state = cfg.resolve().unwrap().initial_state();
    let x: Vec<f64> = random_real(4 * 9, -1.0, 1.0, 9);
    let labels = [2u8, 1, 0, 0];
    let mut g = Vec::new();
    for p in [0.0, 1e-12, 5.0] {
        cfg.hardware.probe_power = p;
        let mut net = CpuDense::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
        net.forward(&x);
        net.loss(&labels);
        net.backward();
        g.push(net.grads[0].clone());
    }
    let d = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    assert!(
        d(&g[0], &g[1]) < 1e-9,
        "a weak probe must see the pump-only transmission"
    );
    // A strong probe raises the transmission it sees: larger gradients through the absorbers.
    let n0: f64 = g[0].iter().map(|v| v.abs()).sum();
    let n2: f64 = g[2].iter().map(|v| v.abs()).sum();
    assert!(n2 > n0, "strong probe {n2} vs weak {n0}");
}

#[test]
fn tasks_are_balanced_seeded_and_bounded() {
    use wavetrain::data::tasks::generate;
    use wavetrain::model::Task;
    for t in Task::ALL {
        let a = generate(t, 200, 0.05, 1);
        let b = generate(t, 200, 0.05, 1);
        assert_eq!(a.points, b.points);
        assert_eq!(a.labels.iter().filter(|&&l| l == 1).count(), 100);
        assert!(a
            .points
            .iter()
            .all(|p| p[0].abs() < 1.5 && p[1].abs() < 1.5));
        let c = generate(t, 200, 0.05, 2);
        assert_ne!(a.points, c.points);
    }
}

#[test]
fn config_set_and_activation_baselines() {
    let cfg = wavetrain::presets::preset("paper-mlp").unwrap();
    let c = cfg.set("od", "3").unwrap();
    let ods: Vec<f64> = c
        .elements
        .iter()
        .filter_map(|e| match e {
            wavetrain::model::Element::Absorber { od, .. } => Some(*od),
            _ => None,
        })
        .collect();
    assert_eq!(ods, vec![3.0, 3.0]);
    assert_eq!(cfg.set("train.lr", "0.01").unwrap().train.lr, 0.01);
    assert_eq!(
        cfg.set("hardware.noise_error", "0.05")
            .unwrap()
            .hardware
            .noise_error,
        0.05
    );
    assert_eq!(
        cfg.set("gradient", "exact").unwrap().train.gradient,
        GradientMode::Exact
    );
    let e = cfg.set("elements[9].od", "1").unwrap_err().to_string();
    assert!(e.contains("no [9]"), "{e}");
    let e = cfg.set("od", "-1").unwrap_err().to_string();
    assert!(e.contains("od") && e.contains("between 0 and 1000"), "{e}");
    let relu = cfg.with_activation(Activation::Relu).unwrap();
    assert!(relu.name.ends_with("-relu"));
    assert_eq!(relu.readout.loss, wavetrain::model::Loss::CrossEntropy);
    let lin = cfg.with_activation(Activation::Linear).unwrap();
    assert_eq!(lin.elements.len(), 3);
    let d2nn = wavetrain::presets::preset("d2nn-mnist").unwrap();
    assert!(d2nn.with_activation(Activation::Relu).is_err());
}

#[test]
fn dense_config_errors_name_the_key() {
    let bad = |extra: &str, key: &str| {
        let text = format!(
            "[input]\nintensity = 1.0\nsize = 4\n[[elements]]\ntype = \"dense\"\nout = 3\n{extra}\n[readout]\nclasses = 3\n"
        );
        let e = Config::from_toml(&text, "t").unwrap_err().to_string();
        assert!(e.contains(key), "{extra}: {e}");
    };
    bad("gain = -1.0", "elements[0].gain");
    bad(
        "fidelity = \"wave\"\nfill_factor = 1.5",
        "elements[0].fill_factor",
    );
    bad("fidelity = \"wave\"\nna = 2.0", "elements[0].na");
    let e = Config::from_toml(
        "[input]\nintensity = 1.0\nsize = 4\n[[elements]]\ntype = \"dense\"\nout = 3\n[readout]\nclasses = 10\n",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("readout.classes") && e.contains("3 outputs"),
        "{e}"
    );
    let e = Config::from_toml(
        "[input]\nintensity = 1.0\nsize = 4\n[[elements]]\ntype = \"dense\"\nout = 3\n[[elements]]\ntype = \"free-space\"\ndistance = 1e-3\n[readout]\nclasses = 3\n",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("elements[1]") && e.contains("dense network"),
        "{e}"
    );
    let e = Config::from_toml(
        "[input]\nintensity = 1.0\nsize = 4\n[[elements]]\ntype = \"dense\"\nout = 3\n[readout]\nclasses = 3\n[hardware]\ncamera_bits = 40\n",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("hardware.camera_bits"), "{e}");
}

/// Not a check: times the two CPU matrix products on `paper-mlp`'s largest product (batch 64,
/// 784 → 128), the hand-written `cpu::matmul_forward` (the GPU shader's mirror, kept as the
/// oracle of tests/gpu) against matrixmultiply through ndarray (what the dense executor runs),
/// medians of 51. `cargo test --release --test dense_cpu -- --ignored --nocapture`.
#[test]
#[ignore]
fn matrix_product_timings() {
    use ndarray::linalg::general_mat_mul;
    use ndarray::{ArrayView2, ArrayViewMut2};
    use std::time::Instant;
    let (b, n_in, n_out) = (64, 784, 128);
    let w: Vec<f32> = random_real(n_out * n_in, -1.0, 1.0, 1);
    let a: Vec<f32> = random_real(b * n_in, -1.0, 1.0, 2);
    let median = |f: &mut dyn FnMut()| {
        let mut t: Vec<f64> = (0..51)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[25]
    };
    let hand = median(&mut || {
        std::hint::black_box(wavetrain::cpu::matmul_forward(&w, &a, n_out, n_in));
    });
    let mut z = vec![0.0f32; b * n_out];
    let packed = median(&mut || {
        let av = ArrayView2::from_shape((b, n_in), &a[..]).unwrap();
        let wv = ArrayView2::from_shape((n_out, n_in), &w[..]).unwrap();
        let mut zv = ArrayViewMut2::from_shape((b, n_out), &mut z[..]).unwrap();
        general_mat_mul(1.0, &av, &wv.t(), 0.0, &mut zv);
        std::hint::black_box(&z);
    });
    let flop = 2.0 * (b * n_in * n_out) as f64;
    println!(
        "64×784·784×128 f32, {} rayon threads: hand-written {:.3} ms ({:.1} GFLOP/s), matrixmultiply {:.3} ms ({:.1} GFLOP/s, one thread)",
        rayon::current_num_threads(),
        hand * 1e3,
        flop / hand * 1e-9,
        packed * 1e3,
        flop / packed * 1e-9
    );
    assert!(hand > 0.0 && packed > 0.0);
}
