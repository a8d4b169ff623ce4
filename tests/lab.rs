//! A lab in the loop (`train::lab`): `LabBackend` against labs made of the CPU engine itself,
//! so that a run against the lab must equal the engine's own run bit for bit; a failing lab's
//! checkpoint and its exact resume; what is refused.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use wavetrain::backend::Backend;
use wavetrain::checkpoint::Checkpoint;
use wavetrain::cpu::{CpuBackend, CpuField};
use wavetrain::model::Config;
use wavetrain::network::{Network, State};
use wavetrain::train::lab::{Lab, LabBackend, LabOutput};
use wavetrain::train::RunOptions;
use wavetrain::{Error, Result};

const TINY: &str = r#"
name = "tiny"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 16
ny = 16
[input]
intensity = 2.0
size = 10
[[elements]]
type = "free-space"
distance = 1e-3
[[elements]]
type = "phase"
init_std = 0.7
[[elements]]
type = "free-space"
distance = 1e-3
[[elements]]
type = "absorber"
od = 3.0
[[elements]]
type = "phase"
init_std = 0.7
[[elements]]
type = "free-space"
distance = 1e-3
[readout]
classes = 10
detector_size = 2
temperature = 0.05
[train]
seed = 7
batch = 16
epochs = 2
max_train = 64
"#;

fn net(extra: &str) -> Network {
    Config::from_toml(&format!("{TINY}{extra}"), "tiny")
        .unwrap()
        .resolve()
        .unwrap()
}

/// A lab that is the CPU engine of `net` (its own system): frames or powers, and the engine's
/// own gradient as the probe; failing at forward call `fail_at` when set.
struct EngineLab {
    net: Network,
    frames: bool,
    calls: usize,
    fail_at: Option<usize>,
}

impl EngineLab {
    fn new(net: Network, frames: bool) -> Self {
        EngineLab {
            net,
            frames,
            calls: 0,
            fail_at: None,
        }
    }
    fn engine(&self, params: &[Vec<f32>]) -> CpuField<f32> {
        let mut e = CpuField::new(&self.net, &self.net.initial_state()).unwrap();
        e.params = params.to_vec();
        e.refresh_masks();
        e
    }
}

impl Lab for EngineLab {
    fn name(&self) -> String {
        "engine".into()
    }
    fn forward(&mut self, params: &[Vec<f32>], input: &[f32], _batch: usize) -> Result<LabOutput> {
        self.calls += 1;
        if self.fail_at == Some(self.calls) {
            return Err(Error::Lab("engine.forward: the shutter jammed".into()));
        }
        let mut e = self.engine(params);
        if !self.frames {
            return Ok(LabOutput::Powers(e.forward(input, None).to_vec()));
        }
        let last = self.net.config().elements.len() - 1;
        let mut frames = Vec::new();
        let mut keep = |i: usize, f: &[num_complex::Complex32]| {
            if i == last {
                frames = f.iter().map(|v| v.norm_sqr()).collect();
            }
        };
        e.forward(input, Some(&mut keep));
        Ok(LabOutput::Frames(frames))
    }
    fn has_probe(&self) -> bool {
        true
    }
    fn probe(
        &mut self,
        params: &[Vec<f32>],
        input: &[f32],
        _batch: usize,
        upstream: &[f32],
    ) -> Result<Vec<Vec<f32>>> {
        let mut e = self.engine(params);
        e.forward(input, None);
        e.set_output_gradient(upstream);
        e.backward(None);
        Ok(e.grads.clone())
    }
}

fn opts(out: &std::path::Path, resume: Option<wavetrain::checkpoint::Progress>) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        progress: false,
        stop: Arc::new(AtomicBool::new(false)),
        resume,
        pictures: false,
        checkpoint_every: None,
    }
}

fn splits() -> (wavetrain::data::Split, wavetrain::data::Split) {
    let (train, mut test) =
        wavetrain::data::idx::read_dir(&wavetrain::data::idx::bundled_dir(), 10).unwrap();
    test.labels.truncate(64);
    let per = test.images.rows * test.images.cols;
    test.images.pixels.truncate(64 * per);
    test.images.count = 64;
    (train, test)
}

fn train(net: &Network, backend: &mut dyn Backend, out: &std::path::Path) -> State {
    let (tr, te) = splits();
    std::fs::create_dir_all(out).unwrap();
    wavetrain::train::train(net, &tr, &te, backend, &opts(out, None)).unwrap();
    backend.state().unwrap()
}

#[test]
fn physics_aware_against_the_model_itself_is_the_in_silico_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = net("");
    let mut sim = CpuBackend::new(&model, &model.initial_state()).unwrap();
    let want = train(&model, &mut sim, &dir.path().join("sim"));
    // The same network, trained physics-aware against a lab that is the model: frames (summed
    // over the detectors by the trainer, as the engine sums its field) or powers.
    let pa = net("target = \"physics-aware\"\n");
    for frames in [false, true] {
        let lab = Box::new(EngineLab::new(model.clone(), frames));
        let mut b = LabBackend::new(&pa, &pa.initial_state(), lab).unwrap();
        let got = train(&pa, &mut b, &dir.path().join(format!("lab{frames}")));
        assert_eq!(got.params, want.params, "frames: {frames}");
    }
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("labtrue/hardware.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["lab"]["name"], "engine");
}

#[test]
fn in_situ_against_the_hardware_engine_is_the_simulated_hardware_run() {
    let dir = tempfile::tempdir().unwrap();
    let hw = net("target = \"hardware\"\n[hardware]\nshifts = [[8e-6, 0.0], [0.0, 0.0]]\n");
    let mut sim = CpuBackend::new(&hw, &hw.initial_state()).unwrap();
    let want = train(&hw, &mut sim, &dir.path().join("sim"));
    let lab = Box::new(EngineLab::new(hw.clone(), true));
    let mut b = LabBackend::new(&hw, &hw.initial_state(), lab).unwrap();
    let got = train(&hw, &mut b, &dir.path().join("lab"));
    assert_eq!(got.params, want.params);
}

#[test]
fn a_failing_lab_leaves_a_checkpoint_that_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = net("");
    let pa = net("target = \"physics-aware\"\n");
    let whole = {
        let lab = Box::new(EngineLab::new(model.clone(), false));
        let mut b = LabBackend::new(&pa, &pa.initial_state(), lab).unwrap();
        train(&pa, &mut b, &dir.path().join("whole"))
    };
    let (tr, te) = splits();
    let out = dir.path().join("cut");
    std::fs::create_dir_all(&out).unwrap();
    // The untrained test pass takes 4 calls (64 images, batch 16); call 7 is step 3.
    let mut lab = EngineLab::new(model.clone(), false);
    lab.fail_at = Some(7);
    let mut b = LabBackend::new(&pa, &pa.initial_state(), Box::new(lab)).unwrap();
    let err = wavetrain::train::train(&pa, &tr, &te, &mut b, &opts(&out, None)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Lab(_)), "{msg}");
    assert!(
        msg.contains("shutter jammed") && msg.contains("batch 2/4"),
        "{msg}"
    );
    assert!(msg.contains("wavetrain.train(resume="), "{msg}");
    assert_eq!(err.exit_code(), 8);
    let ck = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.progress.batch, 2);
    let lab = Box::new(EngineLab::new(model, false));
    let mut b = LabBackend::new(&pa, &ck.state, lab).unwrap();
    wavetrain::train::train(&pa, &tr, &te, &mut b, &opts(&out, Some(ck.progress))).unwrap();
    assert_eq!(b.state().unwrap().params, whole.params);
    // The CLI refuses to resume a lab run (it has no lab to give).
    let e = wavetrain::train::lab::check_resume(&out, None).unwrap_err();
    assert!(e.to_string().contains("external lab 'engine'"), "{e}");
}

#[test]
fn what_a_lab_cannot_train_is_refused_before_any_step() {
    let model = net("");
    let refuse = |n: &Network, msg: &str| {
        let lab = Box::new(EngineLab::new(model.clone(), false));
        let e = LabBackend::new(n, &n.initial_state(), lab)
            .err()
            .unwrap_or_else(|| panic!("{msg}: not refused"));
        assert!(e.to_string().contains(msg), "{e}");
    };
    refuse(&net("target = \"model\"\n"), "in silico");
    let dense = wavetrain::presets::preset("paper-mlp")
        .unwrap()
        .resolve()
        .unwrap();
    refuse(&dense, "dense");
    // Wrong shapes and NaNs name the method and what was expected.
    struct Bad(usize);
    impl Lab for Bad {
        fn name(&self) -> String {
            "bad".into()
        }
        fn forward(&mut self, _: &[Vec<f32>], _: &[f32], b: usize) -> Result<LabOutput> {
            Ok(LabOutput::Powers(vec![f32::NAN; b * self.0]))
        }
        fn has_probe(&self) -> bool {
            false
        }
        fn probe(
            &mut self,
            _: &[Vec<f32>],
            _: &[f32],
            _: usize,
            _: &[f32],
        ) -> Result<Vec<Vec<f32>>> {
            unreachable!()
        }
    }
    let pa = net("target = \"physics-aware\"\n");
    let x = vec![0.5f32; 2 * 256];
    let mut b = LabBackend::new(&pa, &pa.initial_state(), Box::new(Bad(7))).unwrap();
    let e = b.predict(&x).unwrap_err().to_string();
    assert!(
        e.contains("bad.forward returned 14 powers") && e.contains("(2, 10)"),
        "{e}"
    );
    let mut b = LabBackend::new(&pa, &pa.initial_state(), Box::new(Bad(10))).unwrap();
    let e = b.predict(&x).unwrap_err().to_string();
    assert!(e.contains("bad.forward returned the power NaN"), "{e}");
    let hw = net("target = \"hardware\"\n");
    let e = LabBackend::new(&hw, &hw.initial_state(), Box::new(Bad(10)))
        .err()
        .unwrap();
    assert!(e.to_string().contains("has no probe"), "{e}");
}
