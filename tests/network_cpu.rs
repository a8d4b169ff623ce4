//! Whole-network gradients (every trainable element, absorbers in between, detector loss) against
//! central finite differences in f64; optical vs exact mode; the plan's shape.
mod common;
use common::*;
use wavetrain::cpu::CpuField;
use wavetrain::model::{Config, GradientMode};
use wavetrain::network::{FieldPlan, Op};

fn plan_of(cfg: &Config) -> FieldPlan {
    cfg.resolve().unwrap().field("test").unwrap().clone()
}

fn small_config(od: f64, loss: &str) -> Config {
    let text = format!(
        r#"
name = "fd"
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
init_std = 1.0
[[elements]]
type = "free-space"
distance = 200e-6
[[elements]]
type = "absorber"
od = {od}
[[elements]]
type = "amplitude"
macro_pixel = 4
init = 0.7
[[elements]]
type = "lens"
focal_length = 5e-3
[[elements]]
type = "free-space"
distance = 150e-6
[[elements]]
type = "absorber"
od = {od}
model = "beer-lambert"
[[elements]]
type = "phase"
init_std = 0.5
[[elements]]
type = "fourier"
focal_length = 2e-3
[readout]
classes = 4
detector_size = 3
loss = "{loss}"
temperature = 0.3
[train]
batch = 3
"#
    );
    Config::from_toml(&text, "test").unwrap()
}

fn input(cfg: &Config, batch: usize, seed: u64) -> Vec<f32> {
    let n = cfg.optics.nx * cfg.optics.ny;
    random_real::<f32>(batch * n, 0.0, 1.5, seed)
}

fn check_fd(od: f64, loss: &str) {
    let cfg = small_config(od, loss);
    let plan = plan_of(&cfg);
    let mut state = plan.initial_state(3);
    // Random amplitudes so the amplitude SLM is not uniform.
    state.params[1] = random_real(state.params[1].len(), -1.0, 1.0, 4);
    let x = input(&cfg, 3, 5);
    let labels = [0u8, 3, 1];
    check_field_gradient_fd(
        &cfg.resolve().unwrap(),
        &state,
        &x,
        &labels,
        &format!("od {od} {loss}"),
    );
}

#[test]
fn exact_network_gradient_matches_finite_differences() {
    check_fd(3.0, "cross-entropy");
}

#[test]
fn exact_network_gradient_matches_finite_differences_mse() {
    check_fd(1.0, "mse");
}

fn grads(cfg: &Config, mode: GradientMode) -> Vec<Vec<f64>> {
    let plan = plan_of(cfg);
    let state = plan.initial_state(3);
    let mut net = CpuField::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
    net.set_gradient(mode);
    net.forward(&input(cfg, 3, 6), None);
    net.loss(&[1, 2, 3]);
    net.backward(None);
    net.grads.clone()
}

#[test]
fn optical_equals_exact_without_absorption_and_differs_with_it() {
    let cfg = small_config(0.0, "cross-entropy");
    let (o, e) = (
        grads(&cfg, GradientMode::Optical),
        grads(&cfg, GradientMode::Exact),
    );
    for (a, b) in o.iter().flatten().zip(e.iter().flatten()) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
    }
    let cfg = small_config(5.0, "cross-entropy");
    let (o, e) = (
        grads(&cfg, GradientMode::Optical),
        grads(&cfg, GradientMode::Exact),
    );
    let diff: f64 = o[0].iter().zip(&e[0]).map(|(a, b)| (a - b).abs()).sum();
    let norm: f64 = e[0].iter().map(|b| b.abs()).sum();
    assert!(
        diff > 1e-3 * norm,
        "optical and exact should differ at α₀ = 5: {diff} vs {norm}"
    );
    // The last SLM sees no absorber downstream: identical gradients.
    for (a, b) in o[2].iter().zip(&e[2]) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
    }
}

#[test]
fn plan_keeps_only_what_the_probe_needs() {
    let mut cfg = small_config(1.0, "mse");
    // An absorber before the first SLM: its input need not be kept, and the probe stops at SLM 0.
    cfg.elements.insert(
        0,
        wavetrain::model::Element::Absorber {
            od: 1.0,
            model: Default::default(),
        },
    );
    let plan = plan_of(&cfg);
    assert_eq!(plan.pump.len(), cfg.elements.len());
    assert_eq!(
        plan.pump[0].save, None,
        "the first absorber is before any SLM"
    );
    assert_eq!(plan.probe.len(), plan.pump.len() - 1);
    assert_eq!(plan.probe.last().unwrap().op, Op::Mask { param: 0 });
    assert!(!plan.probe.last().unwrap().pass);
    assert!(plan.probe.iter().take(plan.probe.len() - 1).all(|s| s.pass));
    // Reverse order.
    let pumped: Vec<Op> = plan.pump[1..].iter().map(|s| s.op).rev().collect();
    let probed: Vec<Op> = plan.probe.iter().map(|s| s.op).collect();
    assert_eq!(pumped, probed);
    assert_eq!(plan.params.len(), 3);
    assert!((plan.out_dx - 780e-9 * 2e-3 / (16.0 * 4e-6)).abs() < 1e-18);
}

#[test]
fn config_errors_name_the_key() {
    let good = wavetrain::presets::preset("d2nn-mnist").unwrap().to_toml();
    let cases = [
        (
            good.replace("wavelength = 0.00000078", "wavelength = -0.00000078"),
            "optics.wavelength",
        ),
        (good.replace("[optics]", "[optics]\ncolour = 3"), "colour"),
        (
            good.replacen("distance = 0.003", "distance = 0.0", 1),
            "elements[0].distance",
        ),
        (good.replacen("od = 3.0", "od = -1.0", 1), ".od"),
        (good.replace("nx = 64", "nx = 0"), "optics.nx"),
        (good.replace("size = 40", "size = 80"), "input.size"),
        (
            good.replace("detector_size = 6", "detector_size = 40"),
            "readout.detector_size",
        ),
        (good.replace("lr = 0.05", "lr = 0.0"), "train.lr"),
    ];
    for (text, key) in cases {
        assert_ne!(text, good, "test case for {key} did not change the config");
        let err = Config::from_toml(&text, "t.toml").unwrap_err().to_string();
        assert!(err.contains(key), "error for {key} should name it: {err}");
    }
}

#[test]
fn presets_pass_the_sampling_check() {
    for (name, _) in wavetrain::presets::PRESETS {
        let cfg = wavetrain::presets::preset(name).unwrap();
        assert!(
            cfg.sampling_warnings().is_empty(),
            "{name}: {:?}",
            cfg.sampling_warnings()
        );
    }
    // A distance far beyond what the padding holds is flagged.
    let mut cfg = wavetrain::presets::preset("d2nn-mnist").unwrap();
    cfg.elements[0] = wavetrain::model::Element::FreeSpace { distance: 0.05 };
    assert!(cfg
        .sampling_warnings()
        .iter()
        .any(|w| w.contains("wrap-around")));
}

/// The batch is split into chunks that run in parallel: a batch's gradient equals the mean of
/// the single-image gradients, its powers equal the single-image powers, and the plane-callback
/// path (which runs the chunks in lockstep and sees the whole batch) gives the same gradients.
#[test]
fn chunked_batch_equals_images_one_at_a_time() {
    let cfg = small_config(3.0, "cross-entropy");
    let plan = plan_of(&cfg);
    let state = plan.initial_state(3);
    let batch = 19; // several chunks on any thread count, the last one short
    let n = cfg.optics.nx * cfg.optics.ny;
    let x = input(&cfg, batch, 8);
    let labels: Vec<u8> = (0..batch).map(|i| (i % 4) as u8).collect();
    let mut net = CpuField::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
    let powers = net.forward(&x, None).to_vec();
    net.loss(&labels);
    net.backward(None);
    let g_batch = net.grads.clone();
    let mut mean: Vec<Vec<f64>> = g_batch.iter().map(|g| vec![0.0; g.len()]).collect();
    for i in 0..batch {
        let mut one = CpuField::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
        let p = one.forward(&x[i * n..(i + 1) * n], None).to_vec();
        assert_eq!(
            p.as_slice(),
            &powers[i * 4..(i + 1) * 4],
            "image {i}: powers"
        );
        one.loss(&labels[i..i + 1]);
        one.backward(None);
        for (m, g) in mean.iter_mut().zip(&one.grads) {
            for (a, b) in m.iter_mut().zip(g) {
                *a += b / batch as f64;
            }
        }
    }
    for (l, (a, b)) in g_batch.iter().zip(&mean).enumerate() {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "SLM {l}: no gradient");
        for (u, v) in a.iter().zip(b) {
            assert!((u - v).abs() <= 1e-12 * scale, "SLM {l}: {u} vs {v}");
        }
    }
    // The callback path: every plane holds the whole batch, same gradients.
    let mut net = CpuField::<f64>::new(&cfg.resolve().unwrap(), &state).unwrap();
    let mut sizes = Vec::new();
    net.forward(&x, Some(&mut |_, f| sizes.push(f.len())));
    assert!(sizes.iter().all(|&s| s == batch * n), "{sizes:?}");
    net.loss(&labels);
    let mut probe_sizes = Vec::new();
    net.backward(Some(&mut |_, f| probe_sizes.push(f.len())));
    assert!(!probe_sizes.is_empty() && probe_sizes.iter().all(|&s| s == batch * n));
    for (a, b) in net.grads.iter().zip(&g_batch) {
        for (u, v) in a.iter().zip(b) {
            assert!((u - v).abs() <= 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
        }
    }
}
