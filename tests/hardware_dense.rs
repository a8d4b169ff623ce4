//! Issue 18, dense networks: the weight SLM's pixel cross-talk (`hardware.crosstalk`), a fixed
//! property of the imperfect system: the shown matrix is `K_out·(f∘W)·K_inᵀ` (explicit matrices
//! as the oracle); c = 0 is bit-identical to no cross-talk; the exact gradient of the imperfect
//! system matches finite differences (f64); the in-situ optical gradient is the probe through the
//! imperfect operator; a resumed in-situ run equals an uninterrupted one; bad values, field
//! networks and the GPU are refused naming the key.
mod common;
use common::*;
use wavetrain::backend::Backend;
use wavetrain::cpu::{CpuBackend, CpuDense};
use wavetrain::model::Config;
use wavetrain::network::dense::weight_crosstalk;
use wavetrain::network::{Plan, State, System};

fn mlp_text(hw: &str, target: &str, gradient: &str) -> String {
    format!(
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
out = 4
gain = 1.5
init_std = 0.3
[[elements]]
type = "absorber"
od = 2.0
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
gradient = "{gradient}"
[hardware]
{hw}
"#
    )
}

fn mlp(hw: &str, target: &str, gradient: &str) -> Config {
    Config::from_toml(&mlp_text(hw, target, gradient), "test").unwrap()
}

/// The tridiagonal `[c, 1 − 2c, c]` matrix of side `n`, dense.
fn kernel(c: f64, n: usize) -> Vec<f64> {
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        k[i * n + i] = 1.0 - 2.0 * c;
        if i > 0 {
            k[i * n + i - 1] = c;
        }
        if i + 1 < n {
            k[i * n + i + 1] = c;
        }
    }
    k
}

/// `K_out·W·K_inᵀ` by explicit matrix products.
fn k_w_kt(c: f64, w: &[f64], n_out: usize, n_in: usize) -> Vec<f64> {
    let (ko, ki) = (kernel(c, n_out), kernel(c, n_in));
    let mut kw = vec![0.0; n_out * n_in];
    for i in 0..n_out {
        for j in 0..n_in {
            kw[i * n_in + j] = (0..n_out)
                .map(|p| ko[i * n_out + p] * w[p * n_in + j])
                .sum();
        }
    }
    let mut out = vec![0.0; n_out * n_in];
    for i in 0..n_out {
        for j in 0..n_in {
            out[i * n_in + j] = (0..n_in).map(|q| kw[i * n_in + q] * ki[j * n_in + q]).sum();
        }
    }
    out
}

fn input() -> (Vec<f64>, [u8; 4]) {
    (random_real(4 * 9, -1.0, 1.0, 7), [0u8, 2, 1, 2])
}

/// The weight factors the plan drew (1 without a miscalibration).
fn factors(cfg: &Config) -> Vec<Vec<f64>> {
    let net = cfg.resolve().unwrap();
    let Plan::Dense(plan) = net.plan() else {
        panic!("dense")
    };
    plan.layers
        .iter()
        .enumerate()
        .map(|(l, s)| match &plan.miscalibration {
            Some(m) => m[l].clone().unwrap(),
            None => vec![1.0; s.n_in * s.n_out],
        })
        .collect()
}

/// The matrices the imperfect system's SLMs show for `state`: `K_out·(f∘W)·K_inᵀ`.
fn shown(cfg: &Config, state: &State, c: f64) -> Vec<Vec<f64>> {
    let net = cfg.resolve().unwrap();
    let dims = net.dense("t").unwrap().dims();
    state
        .params
        .iter()
        .zip(factors(cfg))
        .zip(dims)
        .map(|((w, f), (n_in, n_out))| {
            let fw: Vec<f64> = w.iter().zip(&f).map(|(&w, f)| w as f64 * f).collect();
            assert!(fw.iter().all(|v| v.abs() < 1.0), "a weight at the bound");
            k_w_kt(c, &fw, n_out, n_in)
        })
        .collect()
}

#[test]
fn weight_crosstalk_is_k_w_k_transpose_and_keeps_a_uniform_pattern() {
    for (n_out, n_in, c) in [(5, 7, 0.1), (1, 6, 0.2), (4, 1, 0.05), (3, 3, 0.24)] {
        let w: Vec<f64> = random_real(n_out * n_in, -1.0, 1.0, 3);
        let want = k_w_kt(c, &w, n_out, n_in);
        let mut got = w.clone();
        // Dirty scratch of the wrong length.
        let mut row = vec![f64::NAN; 2];
        weight_crosstalk(c, &mut got, n_out, n_in, &mut row);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-15, "{n_out}×{n_in}: {a} vs {b}");
        }
    }
    // Uniform inside, the leak beyond the edges lost: an interior pixel keeps 1, an edge one
    // 1 − c, a corner (1 − c)².
    let c = 0.1;
    let mut u = vec![0.5f64; 6 * 8];
    weight_crosstalk(c, &mut u, 6, 8, &mut Vec::new());
    assert!((u[2 * 8 + 3] - 0.5).abs() < 1e-15);
    assert!((u[3] - 0.5 * (1.0 - c)).abs() < 1e-15);
    assert!((u[0] - 0.5 * (1.0 - c) * (1.0 - c)).abs() < 1e-15);
    // Zero leaves every value as it was, bit for bit.
    let w: Vec<f32> = random_real(12, -1.0, 1.0, 4);
    let mut z = w.clone();
    weight_crosstalk(0.0, &mut z, 3, 4, &mut Vec::new());
    assert_eq!(z, w);
}

#[test]
fn the_hardware_shows_the_smoothed_miscalibrated_weights_and_the_model_does_not() {
    let c = 0.15;
    let hw = format!("crosstalk = {c}\nweight_error = 0.1\ngain_error = 0.05\nseed = 3");
    let cfg = mlp(&hw, "hardware", "optical");
    let net = cfg.resolve().unwrap();
    let st = net.initial_state();
    let (x, _) = input();
    let y_hw = CpuDense::<f64>::new(&net, &st)
        .unwrap()
        .forward(&x)
        .to_vec();
    // The ideal network with the shown matrices as its weights (rounded to f32).
    let ideal = mlp("", "hardware", "optical").resolve().unwrap();
    let mut by_hand = st.clone();
    by_hand.params = shown(&cfg, &st, c)
        .iter()
        .map(|w| w.iter().map(|&v| v as f32).collect())
        .collect();
    let y_hand = CpuDense::<f64>::new(&ideal, &by_hand)
        .unwrap()
        .forward(&x)
        .to_vec();
    let ymax = y_hand.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in y_hw.iter().zip(&y_hand) {
        assert!((a - b).abs() < 1e-5 * ymax, "{a} vs {b}");
    }
    // Without the cross-talk the outputs differ (it is not a no-op), and the model is ideal.
    let no_xt = mlp(
        "weight_error = 0.1\ngain_error = 0.05\nseed = 3",
        "hardware",
        "optical",
    )
    .resolve()
    .unwrap();
    let y_no = CpuDense::<f64>::new(&no_xt, &st)
        .unwrap()
        .forward(&x)
        .to_vec();
    let moved = y_no
        .iter()
        .zip(&y_hw)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        moved > 1e-2 * ymax,
        "cross-talk moved the outputs by {moved}"
    );
    let y_model = CpuDense::<f64>::new(&net.on(System::Model).unwrap(), &st)
        .unwrap()
        .forward(&x)
        .to_vec();
    let y_ideal = CpuDense::<f64>::new(&ideal, &st)
        .unwrap()
        .forward(&x)
        .to_vec();
    assert_eq!(y_model, y_ideal);
    // hardware.json records the kernel beside the drawn factors.
    let rec = net.hardware_record().unwrap();
    assert_eq!(rec["crosstalk"]["c"].as_f64(), Some(c));
    assert_eq!(rec["crosstalk"]["kernel"][1].as_f64(), Some(1.0 - 2.0 * c));
    assert!(rec["layers"][0]["gain_factor"].is_number());
    let only = mlp("crosstalk = 0.05", "hardware", "optical")
        .resolve()
        .unwrap();
    let rec = only.hardware_record().unwrap();
    assert_eq!(rec["crosstalk"]["c"].as_f64(), Some(0.05));
    assert!(rec.get("layers").is_none());
}

/// Three steps of every target: (loss bits, state, predictions).
fn three_steps(cfg: &Config) -> (Vec<u64>, State, Vec<f32>) {
    let net = cfg.resolve().unwrap();
    let xf: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 11);
    let labels = [0u8, 1, 2, 1];
    let mut b = CpuBackend::new(&net, &net.initial_state()).unwrap();
    let mut losses = Vec::new();
    for _ in 0..3 {
        losses.push(b.train_step(&xf, &labels).unwrap().loss_sum.to_bits());
    }
    let p = b.predict(&xf).unwrap();
    (losses, b.state().unwrap(), p)
}

#[test]
fn zero_crosstalk_is_bit_identical_to_none() {
    for target in ["hardware", "model", "physics-aware"] {
        for gradient in ["optical", "exact"] {
            for other in ["", "weight_error = 0.1\nseed = 2\n"] {
                let want = three_steps(&mlp(other, target, gradient));
                let got = three_steps(&mlp(&format!("{other}crosstalk = 0.0"), target, gradient));
                assert_eq!(got, want, "{target}, {gradient}, {other:?}");
            }
        }
    }
    // And a small cross-talk is not.
    let a = three_steps(&mlp("crosstalk = 0.01", "hardware", "optical"));
    let b = three_steps(&mlp("", "hardware", "optical"));
    assert_ne!(a.1, b.1);
}

#[test]
fn exact_gradient_of_the_imperfect_system_matches_finite_differences() {
    let hw = "crosstalk = 0.12\nweight_error = 0.1\ngain_error = 0.05\nseed = 5";
    let cfg = mlp(hw, "hardware", "exact");
    let net = cfg.resolve().unwrap();
    let st = net.initial_state();
    shown(&cfg, &st, 0.12); // no weight at the bound, where the clamp has no derivative
    let mut e = CpuDense::<f64>::new(&net, &st).unwrap();
    let (x, labels) = input();
    e.forward(&x);
    e.loss(&labels);
    e.backward();
    let grads = e.grads.clone();
    let base = e.params.clone();
    let gmax = grads.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(gmax > 1e-3, "gradient vanishes: {gmax}");
    let h = 1e-6;
    for (l, gl) in grads.iter().enumerate() {
        for (j, &g) in gl.iter().enumerate() {
            let mut eval = |d: f64| {
                e.params = base.clone();
                e.params[l][j] += d;
                e.refresh_weights();
                e.forward(&x);
                e.loss(&labels).loss_sum / labels.len() as f64
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            assert!(
                (fd - g).abs() < 1e-6 * gmax,
                "layer {l} weight {j}: exact {g:.8e}, finite difference {fd:.8e}"
            );
        }
    }
}

/// The in-situ optical gradient is what probe and pump measure at the SLM: the optical gradient
/// of the ideal network whose weights are the matrices the imperfect SLMs show (the probe runs
/// back through `K_out·(f∘W)·K_inᵀ`, transposed), not the chain rule through the cross-talk.
#[test]
fn the_in_situ_optical_gradient_is_the_probe_through_the_imperfect_operator() {
    let c = 0.15;
    let hw = format!("crosstalk = {c}\nweight_error = 0.1\nseed = 6");
    let cfg = mlp(&hw, "hardware", "optical");
    let net = cfg.resolve().unwrap();
    let st = net.initial_state();
    let (x, labels) = input();
    let mut a = CpuDense::<f64>::new(&net, &st).unwrap();
    a.forward(&x);
    a.loss(&labels);
    a.backward();
    let ideal = mlp("", "hardware", "optical").resolve().unwrap();
    let mut sh = st.clone();
    sh.params = shown(&cfg, &st, c)
        .iter()
        .map(|w| w.iter().map(|&v| v as f32).collect())
        .collect();
    let mut b = CpuDense::<f64>::new(&ideal, &sh).unwrap();
    b.forward(&x);
    b.loss(&labels);
    b.backward();
    let gmax = b.grads.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(gmax > 1e-3);
    for (p, q) in a.grads.iter().flatten().zip(b.grads.iter().flatten()) {
        // (The shown weights were rounded to f32.)
        assert!((p - q).abs() < 1e-5 * gmax, "{p} vs {q}");
    }
    // The exact gradient of the imperfect system maps it back through K and f: it differs.
    let mut e =
        CpuDense::<f64>::new(&mlp(&hw, "hardware", "exact").resolve().unwrap(), &st).unwrap();
    e.forward(&x);
    e.loss(&labels);
    e.backward();
    let diff = e
        .grads
        .iter()
        .flatten()
        .zip(a.grads.iter().flatten())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(diff > 1e-3 * gmax, "exact and optical agree: {diff}");
}

#[test]
fn physics_aware_runs_the_crosstalk_forward_and_the_ideal_weights_backward() {
    let hw = "crosstalk = 0.1";
    let runs: Vec<_> = ["model", "hardware", "physics-aware"]
        .iter()
        .map(|t| three_steps(&mlp(hw, t, "optical")))
        .collect();
    assert_ne!(runs[0].1, runs[1].1);
    assert_ne!(runs[1].1, runs[2].1);
    assert_ne!(runs[0].1, runs[2].1);
    // The model target trains the ideal network.
    assert_eq!(runs[0], three_steps(&mlp("", "model", "optical")));
    // Physics-aware predictions are the hardware's for its parameters.
    let hwnet = mlp(hw, "hardware", "optical").resolve().unwrap();
    let mut check = CpuBackend::new(&hwnet, &runs[2].1).unwrap();
    let xf: Vec<f32> = random_real(4 * 9, -1.0, 1.0, 11);
    assert_eq!(check.predict(&xf).unwrap(), runs[2].2);
}

fn refused(cfg: Result<Config, wavetrain::Error>, key: &str, words: &str) {
    let err = match cfg.and_then(|c| c.resolve().map(|_| c)) {
        Ok(_) => panic!("accepted (expected {key:?})"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(key) && err.contains(words),
        "{err} (expected {key:?} and {words:?})"
    );
}

#[test]
fn bad_crosstalk_is_refused_naming_the_key_and_the_gpu_refuses_it() {
    let text = |hw: &str| Config::from_toml(&mlp_text(hw, "hardware", "optical"), "t");
    refused(text("crosstalk = -0.1"), "hardware.crosstalk", "[0, 0.25)");
    refused(text("crosstalk = 0.25"), "hardware.crosstalk", "[0, 0.25)");
    refused(
        text("crosstalk = 1.0"),
        "hardware.crosstalk",
        "0 turns it off",
    );
    refused(text("crosstalk = nan"), "hardware.crosstalk", "[0, 0.25)");
    refused(
        mlp("", "hardware", "optical").set("hardware.crosstalk", "-0.01"),
        "hardware.crosstalk",
        "[0, 0.25)",
    );
    // Field networks model pixel cross-talk as fringing.
    let field = r#"
name = "f"
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
[[elements]]
type = "free-space"
distance = 200e-6
[readout]
classes = 4
detector_size = 3
[hardware]
crosstalk = 0.1
"#;
    refused(
        Config::from_toml(field, "f"),
        "hardware.crosstalk",
        "dense (matrix–vector) networks",
    );
    // The GPU models it too (tests/gpu/network.rs compares one step with the CPU's).
    for target in ["hardware", "physics-aware", "model"] {
        let net = mlp("crosstalk = 0.1\nweight_error = 0.05", target, "optical")
            .resolve()
            .unwrap();
        assert!(net.check_gpu().is_ok(), "{target}");
    }
}

fn train(out: &std::path::Path, epochs: &str, extra: &[&str]) -> serde_json::Value {
    let o = out.display().to_string();
    let mut args = vec![
        "train",
        "--preset",
        "paper-mlp",
        "--backend",
        "cpu",
        "--max-train",
        "96",
        "--batch",
        "32",
        "--epochs",
        epochs,
        "--no-pictures",
        "--json",
        "--out",
        &o,
    ];
    args.extend_from_slice(extra);
    let r = wavetrain_bin(&args);
    assert!(r.status.success(), "{}", stderr_of(&r));
    last_json(&r)
}

#[test]
fn a_resumed_in_situ_run_with_crosstalk_equals_an_uninterrupted_one() {
    let hw = [
        "--set",
        "hardware.crosstalk=0.1",
        "--set",
        "hardware.weight_error=0.05",
        "--set",
        "hardware.seed=7",
        "--set",
        "train.target=hardware",
    ];
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("whole"), dir.path().join("parts"));
    let ja = train(&a, "2", &hw);
    train(&b, "1", &hw);
    let r = wavetrain_bin(&[
        "train",
        "--resume",
        &b.display().to_string(),
        "--epochs",
        "2",
        "--json",
        "--no-pictures",
        "--backend",
        "cpu",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let jb = last_json(&r);
    let state = |d: &std::path::Path| {
        wavetrain::checkpoint::Checkpoint::load(&d.join("checkpoint.safetensors"))
            .unwrap()
            .state
    };
    assert_eq!(state(&a), state(&b));
    for k in [
        "test_accuracy",
        "model_accuracy",
        "hardware_accuracy",
        "train_loss",
    ] {
        assert_eq!(ja[k], jb[k], "{k}");
    }
    let rec = std::fs::read(a.join("hardware.json")).unwrap();
    assert_eq!(rec, std::fs::read(b.join("hardware.json")).unwrap());
    let rec: serde_json::Value = serde_json::from_slice(&rec).unwrap();
    assert_eq!(rec["system"]["crosstalk"]["c"].as_f64(), Some(0.1));
    assert_eq!(rec["target"], "hardware");
    // The hardware differs from the model, so the two accuracies are measured apart.
    assert!(ja["hardware_accuracy"].is_number() && ja["model_accuracy"].is_number());
}
