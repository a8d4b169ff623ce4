//! The training methods of `train.method` (issue 27): DFA equals backpropagation when its
//! feedback is the forward weights' transpose (a linear network), SPSA's estimate converges to
//! the exact gradient as 1/√samples, PEPITA's update matches its formula worked by hand,
//! every method resumes exactly from a mid-epoch checkpoint, bad settings are refused naming
//! the key, and the passes are counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wavetrain::backend::Backend;
use wavetrain::checkpoint::Checkpoint;
use wavetrain::cpu::{CpuBackend, CpuDense};
use wavetrain::loss::LossStats;
use wavetrain::model::{Config, Method};
use wavetrain::network::State;
use wavetrain::train::{methods, RunOptions};

/// Two dense layers (`n_in → hidden → classes`) with `act` between them (empty: linear),
/// digital fidelity (no clamping), MSE.
fn dense(act: &str, method: &str, extra: &str) -> Config {
    dense_cfg(act, method, extra).unwrap()
}

fn dense_cfg(act: &str, method: &str, extra: &str) -> wavetrain::Result<Config> {
    let text = format!(
        r#"
name = "methods"
[optics]
wavelength = 780e-9
pitch = 8e-6
[input]
intensity = 1.0
size = 3
[[elements]]
type = "dense"
out = 5
gain = 1.5
fidelity = "digital"
init_std = 0.4
{act}
[[elements]]
type = "dense"
out = 3
gain = 0.7
fidelity = "digital"
init_std = 0.4
[readout]
classes = 3
loss = "mse"
[train]
batch = 4
optimizer = "sgd"
lr = 0.1
method = "{method}"
{extra}
"#
    );
    Config::from_toml(&text, "methods")
}

fn inputs(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

#[test]
fn dfa_with_the_transposed_weights_is_backprop_on_a_linear_network() {
    let net = dense("", "dfa", "").resolve().unwrap();
    let state = net.initial_state();
    let x = inputs(4 * 9, 1);
    let labels = [0u8, 2, 1, 2];
    let mut bp = CpuDense::<f64>::new(&net, &state).unwrap();
    bp.estimate(Method::Backprop, &x, &labels);
    let mut dfa = CpuDense::<f64>::new(&net, &state).unwrap();
    // B_0[i][k] = g_k·W_1[k][i]: the error through the second layer's gains and weights.
    let w1 = &dfa.params[1].clone();
    let (hidden, k) = (5, 3);
    let gains = [0.7f64; 3];
    let mut b = vec![0.0f64; hidden * k];
    for i in 0..hidden {
        for c in 0..k {
            b[i * k + c] = gains[c] * w1[c * hidden + i];
        }
    }
    dfa.set_feedback(0, &b);
    dfa.estimate(Method::Dfa, &x, &labels);
    for (l, (g, e)) in dfa.grads.iter().zip(&bp.grads).enumerate() {
        let scale = e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        for (a, b) in g.iter().zip(e) {
            assert!((a - b).abs() <= 1e-12 * scale, "layer {l}: {a} vs {b}");
        }
    }
    // With its own random feedback DFA is a different update.
    let mut own = CpuDense::<f64>::new(&net, &state).unwrap();
    own.estimate(Method::Dfa, &x, &labels);
    assert!(own.grads[0]
        .iter()
        .zip(&bp.grads[0])
        .any(|(a, b)| (a - b).abs() > 1e-3));
    // The last layer gets the error itself, as in backprop.
    assert_eq!(own.grads[1], bp.grads[1]);
}

#[test]
fn pepita_matches_its_formula_worked_by_hand() {
    let cfg = dense("[[elements]]\ntype = \"relu\"", "pepita", "");
    let net = cfg.resolve().unwrap();
    let state = net.initial_state();
    let x = inputs(4 * 9, 2);
    let labels = [1u8, 0, 2, 1];
    let mut p = CpuDense::<f64>::new(&net, &state).unwrap();
    // Our own F, so that the hand computation knows it.
    let f: Vec<f64> = inputs(9 * 3, 3).iter().map(|v| 0.2 * (v - 0.5)).collect();
    p.set_feedback(0, &f);
    p.estimate(Method::Pepita, &x, &labels);
    // By hand: h1 = relu(1.5·W0·x), y = 0.7·W1·h1, e = ∂L/∂y = 2(y − onehot)/batch;
    // x' = x + F·e; h1' = relu(1.5·W0·x'); ΔW0 = Σ_b (h1 − h1')·x'ᵀ / batch; ΔW1 = Σ_b e·h1'ᵀ.
    let (w0, w1) = (&state.params[0], &state.params[1]);
    let fwd = |x: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let h: Vec<f64> = (0..5)
            .map(|i| {
                let z: f64 = (0..9).map(|j| f64::from(w0[i * 9 + j]) * x[j]).sum::<f64>() * 1.5;
                z.max(0.0)
            })
            .collect();
        let y: Vec<f64> = (0..3)
            .map(|c| (0..5).map(|i| f64::from(w1[c * 5 + i]) * h[i]).sum::<f64>() * 0.7)
            .collect();
        (h, y)
    };
    let mut d0 = vec![0.0f64; 5 * 9];
    let mut d1 = vec![0.0f64; 3 * 5];
    for (b, &lab) in labels.iter().enumerate() {
        let xb = &x[b * 9..(b + 1) * 9];
        let (h, y) = fwd(xb);
        let e: Vec<f64> = (0..3)
            .map(|c| 2.0 * (y[c] - if c == lab as usize { 1.0 } else { 0.0 }) / 4.0)
            .collect();
        let xm: Vec<f64> = (0..9)
            .map(|j| xb[j] + (0..3).map(|c| f[j * 3 + c] * e[c]).sum::<f64>())
            .collect();
        let (hm, _) = fwd(&xm);
        for i in 0..5 {
            for j in 0..9 {
                d0[i * 9 + j] += (h[i] - hm[i]) / 4.0 * xm[j];
            }
            for c in 0..3 {
                d1[c * 5 + i] += e[c] * hm[i];
            }
        }
    }
    for (l, (got, want)) in p.grads.iter().zip([&d0, &d1]).enumerate() {
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-6, "layer {l}: no update");
        for (a, b) in got.iter().zip(want.iter()) {
            assert!((a - b).abs() <= 1e-12 * scale, "layer {l}: {a} vs {b}");
        }
    }
}

#[test]
fn spsa_converges_to_the_exact_gradient_as_one_over_root_samples() {
    let cfg = dense(
        "[[elements]]\ntype = \"absorber\"\nod = 1.0",
        "spsa",
        "spsa_samples = 1\nspsa_sigma = 0.001",
    );
    let net = cfg.resolve().unwrap();
    let state = net.initial_state();
    let x: Vec<f32> = inputs(4 * 9, 4).iter().map(|&v| v as f32).collect();
    let labels = [2u8, 0, 1, 1];
    let mut cpu = CpuBackend::new(&net, &state).unwrap();
    let mut exact_cfg = cfg.clone();
    exact_cfg.train.method = Method::Backprop;
    exact_cfg.train.gradient = wavetrain::model::GradientMode::Exact;
    exact_cfg.train.spsa_samples = None;
    exact_cfg.train.spsa_sigma = None;
    let mut ex = CpuBackend::new(&exact_cfg.resolve().unwrap(), &state).unwrap();
    let (_, e) = ex.estimate(Method::Backprop, &x, &labels).unwrap();
    let flat = |g: &[Vec<f64>]| -> Vec<f64> { g.iter().flatten().copied().collect() };
    let e = flat(
        &e.iter()
            .map(|v| v.iter().map(|&a| f64::from(a)).collect())
            .collect::<Vec<_>>(),
    );
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    // The mean of M one-sample estimates (M different steps: independent signs).
    let mut sum = vec![0.0f64; e.len()];
    let mut errs = Vec::new();
    for m in 1..=1024u64 {
        let (_, g) = methods::spsa_estimate(&mut cpu, &cfg, &x, &labels, m).unwrap();
        for (s, v) in sum.iter_mut().zip(g.iter().flatten()) {
            *s += f64::from(*v);
        }
        if [16, 64, 256, 1024].contains(&m) {
            let mean: Vec<f64> = sum.iter().map(|s| s / m as f64).collect();
            let d: Vec<f64> = mean.iter().zip(&e).map(|(a, b)| a - b).collect();
            errs.push(norm(&d) / norm(&e));
        }
    }
    // The parameters are left as they were.
    assert_eq!(cpu.state().unwrap().params, state.params);
    // Relative error ≈ √(d/M) (d = 60 parameters): halves for every fourfold M.
    eprintln!("SPSA relative error at M = 16, 64, 256, 1024: {errs:?}");
    for w in errs.windows(2) {
        let r = w[0] / w[1];
        assert!(
            (1.4..2.9).contains(&r),
            "error ratio {r} for 4× the samples: {errs:?}"
        );
    }
    assert!(errs[3] < 0.35, "{errs:?}");
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let cases = [
        ("spsa_samples = 4", "dfa", "train.spsa_samples"),
        ("spsa_sigma = 0.1", "backprop", "train.spsa_sigma"),
        ("feedback_scale = 2.0", "spsa", "train.feedback_scale"),
        ("spsa_samples = 0", "spsa", "train.spsa_samples"),
        ("spsa_samples = 101", "spsa", "train.spsa_samples"),
        ("spsa_sigma = -0.1", "spsa", "train.spsa_sigma"),
        ("feedback_scale = 0.0", "pepita", "train.feedback_scale"),
    ];
    for (extra, method, key) in cases {
        let e = dense_cfg("", method, extra)
            .and_then(|c| c.resolve().map(|_| c))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{extra} with {method}: {e}");
    }
    // DFA and PEPITA need a dense network.
    let mut field = wavetrain::presets::preset("d2nn-mnist").unwrap();
    for m in [Method::Dfa, Method::Pepita] {
        field.train.method = m;
        let e = field.resolve().unwrap_err().to_string();
        assert!(e.contains("train.method") && e.contains("dense"), "{e}");
    }
    // An unknown method through the CLI exits 2 naming the key.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args([
            "train",
            "--preset",
            "paper-2layer",
            "--set",
            "train.method=hebbian",
        ])
        .args(["--backend", "cpu", "--out"])
        .arg(std::env::temp_dir().join(format!("wt-methods-bad-{}", std::process::id())))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("method"), "{e}");
}

/// A backend that asks the trainer to stop after `limit` updates (as Ctrl-C does).
struct StopAfter {
    inner: CpuBackend,
    updates: usize,
    limit: usize,
    stop: Arc<AtomicBool>,
}

impl StopAfter {
    fn count(&mut self) {
        self.updates += 1;
        if self.updates == self.limit {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

impl Backend for StopAfter {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> wavetrain::Result<LossStats> {
        let s = self.inner.train_step(input, labels);
        self.count();
        s
    }
    fn predict(&mut self, input: &[f32]) -> wavetrain::Result<Vec<f32>> {
        self.inner.predict(input)
    }
    fn state(&mut self) -> wavetrain::Result<State> {
        self.inner.state()
    }
    fn set_params(&mut self, p: &[Vec<f32>]) -> wavetrain::Result<()> {
        self.inner.set_params(p)
    }
    fn evaluate(&mut self, input: &[f32], labels: &[u8]) -> wavetrain::Result<LossStats> {
        self.inner.evaluate(input, labels)
    }
    fn apply_gradient(&mut self, g: &[Vec<f32>]) -> wavetrain::Result<()> {
        let r = self.inner.apply_gradient(g);
        self.count();
        r
    }
    fn estimate(
        &mut self,
        m: Method,
        input: &[f32],
        labels: &[u8],
    ) -> wavetrain::Result<(LossStats, Vec<Vec<f32>>)> {
        self.inner.estimate(m, input, labels)
    }
}

fn opts(
    out: &std::path::Path,
    stop: Arc<AtomicBool>,
    resume: Option<wavetrain::checkpoint::Progress>,
) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        progress: false,
        stop,
        resume,
        pictures: false,
        checkpoint_every: None,
    }
}

/// metrics.csv without its timing columns.
fn metrics(dir: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("metrics.csv"))
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
}

#[test]
fn every_method_resumes_exactly_from_a_mid_epoch_checkpoint() {
    let (train, test) =
        wavetrain::data::idx::read_dir(&wavetrain::data::idx::bundled_dir(), 10).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut mlp = wavetrain::presets::preset("paper-mlp").unwrap();
    mlp.train.epochs = 2;
    mlp.train.max_train = Some(256);
    let mut d2nn = wavetrain::presets::preset("d2nn-mnist").unwrap();
    d2nn.train.epochs = 2;
    d2nn.train.max_train = Some(64);
    d2nn.train.batch = 16;
    d2nn.train.spsa_samples = Some(2);
    let mut spsa_mlp = mlp.clone();
    spsa_mlp.train.spsa_samples = Some(2);
    let cases = [
        ("dfa", mlp.clone(), Method::Dfa),
        ("pepita", mlp.clone(), Method::Pepita),
        ("spsa-dense", spsa_mlp, Method::Spsa),
        ("spsa-field", d2nn, Method::Spsa),
        ("backprop", mlp, Method::Backprop),
    ];
    for (name, mut cfg, method) in cases {
        cfg.train.method = method;
        let net = cfg.resolve().unwrap();
        let batches = cfg.train.max_train.unwrap() / cfg.train.batch;
        // Uninterrupted.
        let a = dir.path().join(format!("{name}-a"));
        let mut be = CpuBackend::new(&net, &net.initial_state()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sa =
            wavetrain::run::train_run(&net, &mut be, &train, &test, &opts(&a, stop, None)).unwrap();
        // Stopped in the middle of the second epoch, then resumed.
        let b = dir.path().join(format!("{name}-b"));
        let stop = Arc::new(AtomicBool::new(false));
        let mut be = StopAfter {
            inner: CpuBackend::new(&net, &net.initial_state()).unwrap(),
            updates: 0,
            limit: batches + batches / 2,
            stop: stop.clone(),
        };
        let r = wavetrain::run::train_run(&net, &mut be, &train, &test, &opts(&b, stop, None));
        assert!(r.is_err(), "{name}: the stop was not honoured");
        let ck = Checkpoint::load(&b.join("checkpoint.safetensors")).unwrap();
        assert_eq!(ck.progress.epoch, 1, "{name}");
        assert_eq!(ck.progress.batch, batches / 2, "{name}");
        let mut be = CpuBackend::new(&net, &ck.state).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sb = wavetrain::run::train_run(
            &net,
            &mut be,
            &train,
            &test,
            &opts(&b, stop, Some(ck.progress.clone())),
        )
        .unwrap();
        let (pa, pb) = (
            Checkpoint::load(&a.join("checkpoint.safetensors"))
                .unwrap()
                .state,
            Checkpoint::load(&b.join("checkpoint.safetensors"))
                .unwrap()
                .state,
        );
        assert_eq!(
            pa.params, pb.params,
            "{name}: parameters differ after the resume"
        );
        assert_eq!(metrics(&a), metrics(&b), "{name}: metrics differ");
        assert_eq!(metrics(&a).len(), 4, "{name}: header and epochs 0, 1, 2");
        eprintln!("{name}: {:?} in {:.2} s", metrics(&a).last(), sa.seconds);
        // The passes counted: per image and epoch.
        let (f, p) = methods::passes_per_image(&cfg);
        let per_epoch = (cfg.train.max_train.unwrap() as u64) * f;
        assert_eq!(sa.forward_passes, Some(2 * per_epoch), "{name}");
        assert_eq!(
            sb.probe_passes,
            Some(2 * cfg.train.max_train.unwrap() as u64 * p),
            "{name}"
        );
        assert_eq!(sa.method.as_deref(), Some(method.name()));
        let cos = sa.gradient_cosine.unwrap();
        assert!(cos.is_finite() && cos.abs() <= 1.0 + 1e-9, "{name}: {cos}");
    }
}

#[test]
fn a_resume_that_changes_the_method_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bin = env!("CARGO_BIN_EXE_wavetrain");
    let o = std::process::Command::new(bin)
        .args([
            "train",
            "--preset",
            "paper-2layer",
            "--backend",
            "cpu",
            "--epochs",
            "1",
        ])
        .args(["--set", "train.method=dfa", "--no-pictures", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let o = std::process::Command::new(bin)
        .args(["train", "--resume"])
        .arg(&out)
        .args(["--epochs", "2", "--set", "train.method=spsa"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--resume") && e.contains("start a new run"),
        "{e}"
    );
    // The run is left as it was.
    assert_eq!(
        std::fs::read(out.join("checkpoint.safetensors")).unwrap(),
        before
    );
}
