//! The trainer: epochs of pump/probe steps on a backend, metrics, checkpoints; evaluation
//! ([`eval`]) and pictures ([`pictures`](mod@pictures)).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, EpochMetrics, Progress};
use crate::data::{encode, epoch_order, Split};
use crate::error::{Error, Result};
use crate::network::{Network, State, System};

pub mod eval;
pub mod lab;
pub mod methods;
pub mod pictures;

pub use eval::{absorber_report, decision_map, evaluate, BOUNDARY_SIDE};
pub use pictures::write_pictures;

/// The default interval of mid-epoch checkpoints, seconds of training.
pub const CHECKPOINT_EVERY: f64 = 60.0;

/// Options of a training run.
pub struct RunOptions {
    /// Run folder.
    pub out: PathBuf,
    /// Show a progress bar and per-epoch lines on stderr.
    pub progress: bool,
    /// Set when the user asked to stop (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Resume from this checkpoint's progress.
    pub resume: Option<Progress>,
    /// Write pictures at the end.
    pub pictures: bool,
    /// Also write a checkpoint in the middle of an epoch once this many seconds of training
    /// have passed since the last one (`Some(0.0)`: after every step; `None`: at epoch ends
    /// only).
    pub checkpoint_every: Option<f64>,
}

/// Where a non-finite loss came from, said as truly as the state allows: a parameter that is
/// already non-finite (the previous update overflowed), else the first element whose field is
/// not finite for this batch, else the loss or its gradient itself.
///
/// A backend that skips the update of a step whose loss is not finite (the CPU executors) has
/// non-finite parameters only from an earlier update; one that records the update before the
/// loss is known (the GPU, one submission a step) may have them from this step's.
fn fault_place(net: &Network, state: &State, input: &[f32], skips: bool) -> Result<String> {
    if input.iter().any(|v| !v.is_finite()) {
        let after = match crate::diagnose::locate_fault(net, state, input)? {
            Some(name) => format!(" (the field first became non-finite after {name})"),
            None => String::new(),
        };
        return Ok(format!(
            "the input batch holds a NaN or an infinity{after}: check the data"
        ));
    }
    let elements = net.param_elements();
    if let Some(i) = state
        .params
        .iter()
        .position(|p| p.iter().any(|v| !v.is_finite()))
    {
        let name = elements
            .get(i)
            .and_then(|&e| net.element_name(e))
            .unwrap_or("a trainable element");
        let when = if skips {
            "an earlier update overflowed"
        } else {
            "an update overflowed (this step's or an earlier one: this backend updates before the loss is checked)"
        };
        return Ok(format!(
            "the parameters of {name} are no longer finite: {when}; lower train.lr or input.intensity"
        ));
    }
    Ok(match crate::diagnose::locate_fault(net, state, input)? {
        Some(name) => format!("the field first became non-finite after {name}"),
        None => "the fields are finite: the loss or a gradient overflowed (lower train.lr or input.intensity)".into(),
    })
}

/// The final metrics of a run (the `--json` line).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Mean training loss of the last epoch.
    pub train_loss: f64,
    /// Training accuracy of the last epoch.
    pub train_accuracy: f64,
    /// Test accuracy after the last epoch, on the system the run trained on.
    pub test_accuracy: f64,
    /// Test accuracy of the trained parameters on the ideal model (absent in summaries of
    /// older versions).
    #[serde(default)]
    pub model_accuracy: Option<f64>,
    /// Test accuracy of the trained parameters on the imperfect system (absent in summaries of
    /// older versions).
    #[serde(default)]
    pub hardware_accuracy: Option<f64>,
    /// `train.target`: `model`, `hardware` or `physics-aware` (absent in older summaries).
    #[serde(default)]
    pub target: Option<String>,
    /// Mean training throughput over the run.
    pub images_per_second: f64,
    /// Total wall time of the run, seconds, every session of a resumed run included.
    pub seconds: f64,
    /// Backend name.
    pub backend: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Run folder.
    pub run_dir: String,
    /// `train.method` (absent in older summaries).
    #[serde(default)]
    pub method: Option<String>,
    /// Image passes through the hardware over the run, forward and probe (absent in older
    /// summaries; `train::methods::passes_per_image`).
    #[serde(default)]
    pub forward_passes: Option<u64>,
    #[serde(default)]
    pub probe_passes: Option<u64>,
    /// The last epoch's cosine similarity of the update to the exact gradient (absent for a
    /// run against a lab, whose exact gradient is unknown).
    #[serde(default)]
    pub gradient_cosine: Option<f64>,
    /// The name of the external lab the run trained against ([`lab::Lab`]), instead of the
    /// simulated `[hardware]`; absent for simulated runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<String>,
}

/// `metrics.csv`: a row per epoch, after an epoch-0 row with the untrained network's test
/// loss and accuracy (its training columns empty). `test_accuracy` is on the system the run
/// trains on, `model_accuracy` on the ideal model, `hardware_accuracy` on the imperfect system.
fn metrics_csv(
    initial: Option<(f64, f64)>,
    initial_systems: Option<(f64, f64)>,
    history: &[EpochMetrics],
) -> String {
    // Runs with a gradient read-out add the epoch's camera frames and photo-electrons.
    let camera = history.iter().any(|m| m.camera_frames.is_some());
    let mut s = String::from(
        "epoch,train_loss,train_accuracy,test_accuracy,images_per_second,seconds,test_loss,model_accuracy,hardware_accuracy",
    );
    s.push_str(if camera {
        ",camera_frames,photoelectrons"
    } else {
        ""
    });
    s.push_str(",forward_passes,probe_passes,gradient_cosine\n");
    let opt = |v: Option<f64>| v.map(|a| format!("{a:.6}")).unwrap_or_default();
    let tail = |m: &EpochMetrics| {
        if camera {
            format!(
                ",{},{}",
                m.camera_frames.map(|f| f.to_string()).unwrap_or_default(),
                m.photoelectrons
                    .map(|e| format!("{e:.6e}"))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        }
    };
    if let Some((loss, acc)) = initial {
        let (m, h) = initial_systems.unzip();
        s.push_str(&format!(
            "0,,,{acc:.6},,,{loss:.6},{},{}{},,,\n",
            opt(m),
            opt(h),
            if camera { ",," } else { "" }
        ));
    }
    for m in history {
        s.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.2},{:.3},{},{},{}{},{},{},{}\n",
            m.epoch,
            m.train_loss,
            m.train_accuracy,
            m.test_accuracy,
            m.images_per_second,
            m.seconds,
            opt(m.test_loss),
            opt(m.model_accuracy),
            opt(m.hardware_accuracy),
            tail(m),
            m.forward_passes.map(|v| v.to_string()).unwrap_or_default(),
            m.probe_passes.map(|v| v.to_string()).unwrap_or_default(),
            opt(m.gradient_cosine),
        ));
    }
    s
}

/// `(model_accuracy, hardware_accuracy)` of the backend's parameters on `test`, given
/// `accuracy` on the system it trains on: the other system is evaluated with the CPU reference
/// engine (both equal `accuracy` when `[hardware]` is ideal).
pub fn system_accuracies(
    net: &Network,
    backend: &mut dyn Backend,
    test: &Split,
    stop: Option<&AtomicBool>,
    accuracy: f64,
) -> Result<(f64, f64)> {
    let lab = backend.lab().is_some();
    if !net.imperfect() && !lab {
        return Ok((accuracy, accuracy));
    }
    let state = backend.state()?;
    let other = |sys: System| -> Result<f64> {
        let n = net.on(sys)?;
        let mut b = crate::cpu::CpuBackend::new(&n, &state)?;
        Ok(evaluate(&mut b, n.config(), test, stop)?.accuracy)
    };
    Ok(match net.system() {
        // Against a lab, `accuracy` is the lab's; the model is evaluated beside it.
        _ if lab => (other(System::Model)?, accuracy),
        System::Model => (accuracy, other(System::Hardware)?),
        System::Hardware | System::PhysicsAware => (other(System::Model)?, accuracy),
    })
}

/// `confusion.csv`: the test confusion matrix after the last epoch, a row per true class, a
/// column per predicted class.
fn confusion_csv(conf: &[Vec<usize>]) -> String {
    let k = conf.len();
    let mut s = String::from("true/predicted");
    for j in 0..k {
        s.push_str(&format!(",{j}"));
    }
    s.push('\n');
    for (i, row) in conf.iter().enumerate() {
        s.push_str(&i.to_string());
        for c in row {
            s.push_str(&format!(",{c}"));
        }
        s.push('\n');
    }
    s
}

/// Trains `cfg` on `train`, evaluating on `test` after every epoch; writes `config.toml`,
/// `metrics.csv`, `checkpoint.safetensors`, pictures and, at the end, `summary.json` into the
/// run folder.
pub fn train(
    net: &Network,
    train: &Split,
    test: &Split,
    backend: &mut dyn Backend,
    opts: &RunOptions,
) -> Result<Summary> {
    train_observed(net, train, test, backend, opts, &mut |_| {})
}

/// [`train`], calling `on_epoch` with each epoch's metrics once they are in `metrics.csv` and
/// the epoch's checkpoint is written (the Python bindings' `callback`).
pub fn train_observed(
    net: &Network,
    train: &Split,
    test: &Split,
    backend: &mut dyn Backend,
    opts: &RunOptions,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<Summary> {
    let cfg = net.config();
    let mut progress = opts.resume.clone().unwrap_or_default();
    crate::io::atomic_write(&opts.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    match backend.lab() {
        Some(info) => {
            let text = serde_json::to_string_pretty(&lab::record(&info, net)).unwrap_or_default();
            crate::io::atomic_write(&opts.out.join("hardware.json"), text.as_bytes())?;
        }
        None => write_hardware_record(net, opts)?,
    }
    let mut run = Run::new(net, train, test, opts, &progress);
    run.lab = backend.lab();
    let mut input = vec![0.0f32; run.batch * run.per];
    if progress.initial.is_none() && progress.epoch == 0 && progress.batch == 0 {
        run.evaluate_untrained(backend, &mut progress)?;
    }
    run.last_save = Instant::now();
    while progress.epoch < cfg.train.epochs {
        let epoch = progress.epoch;
        run.bar
            .set_prefix(format!("{}/{}", epoch + 1, cfg.train.epochs));
        let order = epoch_order(train.len(), cfg.train.seed, epoch);
        let order = &order[..run.n_train];
        let epoch_start = Instant::now();
        let secs_before = progress.seconds;
        run.steps(backend, &mut progress, order, &mut input)?;
        run.end_epoch(backend, &mut progress, epoch_start, secs_before)?;
        if let Some(m) = progress.history.last() {
            on_epoch(m);
        }
    }
    run.bar.finish_and_clear();
    if opts.pictures && !opts.stop.load(Ordering::SeqCst) {
        // Against a lab, the planes pictured are the model's (the lab's are not known).
        let shown = match run.lab {
            Some(_) => net.on(System::Model)?,
            None => net.clone(),
        };
        write_pictures(&shown, backend, test, &progress.history, &opts.out)?;
    }
    let summary = run.summary(backend, &progress);
    // `summary.json`: the final metrics (the `--json` line), for a run read back from disk.
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    crate::io::atomic_write(&opts.out.join("summary.json"), text.as_bytes())?;
    Ok(summary)
}

/// `hardware.json`: the drawn imperfect system and the gradient read-out, when the run has
/// either (the config and its `hardware.seed` redraw it exactly).
fn write_hardware_record(net: &Network, opts: &RunOptions) -> Result<()> {
    let cfg = net.config();
    let batch = cfg.train.batch;
    let record = match (
        net.hardware_record(),
        cfg.hardware.readout_record(
            batch,
            net.field("the read-out record")
                .map_or(0, |p| p.params.len()),
            net.system() == System::Hardware,
        ),
    ) {
        (Some(mut r), Some(ro)) => {
            if let Some(o) = r.as_object_mut() {
                o.insert("readout".into(), ro);
            }
            Some(r)
        }
        (None, Some(ro)) => Some(serde_json::json!({ "readout": ro })),
        (r, None) => r,
    };
    if let Some(record) = record {
        // The drawn imperfect system (the config and its hardware.seed redraw it exactly).
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "target": cfg.train.target.name(),
            "system": record,
        }))
        .unwrap_or_default();
        crate::io::atomic_write(&opts.out.join("hardware.json"), text.as_bytes())?;
    }
    Ok(())
}

/// One training run under way: what its epochs share (the network, the data, the options, the
/// batch geometry, the checkpoint's path, the progress bar) and its running totals.
struct Run<'a> {
    net: &'a Network,
    cfg: &'a crate::model::Config,
    train: &'a Split,
    test: &'a Split,
    opts: &'a RunOptions,
    /// Input values per image.
    per: usize,
    /// Training images per epoch.
    n_train: usize,
    batch: usize,
    /// Batches per epoch.
    batches: usize,
    ckpt_path: PathBuf,
    bar: indicatif::ProgressBar,
    /// Per-epoch lines go straight to stderr when no bar is drawn (a batch system's log).
    plain: bool,
    /// Testing hook (`WAVETRAIN_FAULT_STEP`): the step whose input is poisoned.
    fault_step: Option<usize>,
    /// The hardware's gradient read-out takes camera frames: counted per epoch.
    readout: bool,
    start: Instant,
    /// Wall seconds of the run's earlier sessions.
    elapsed_before: f64,
    total_images: usize,
    total_train_secs: f64,
    last_save: Instant,
    /// The external lab trained against, if any.
    lab: Option<crate::backend::LabInfo>,
}

impl<'a> Run<'a> {
    /// A run of `net` from `progress` (a fresh one, or a resumed checkpoint's).
    fn new(
        net: &'a Network,
        train: &'a Split,
        test: &'a Split,
        opts: &'a RunOptions,
        progress: &Progress,
    ) -> Self {
        let cfg = net.config();
        let n_train = cfg.train.max_train.unwrap_or(train.len()).min(train.len());
        let batch = cfg.train.batch;
        let batches = n_train.div_ceil(batch);
        let start = Instant::now();
        let bar = if opts.progress {
            let b = indicatif::ProgressBar::new((cfg.train.epochs * batches) as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_position((progress.epoch * batches + progress.batch) as u64);
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        Run {
            net,
            cfg,
            train,
            test,
            opts,
            per: cfg.input_len(),
            n_train,
            batch,
            batches,
            ckpt_path: opts.out.join("checkpoint.safetensors"),
            bar,
            plain: !opts.progress || !std::io::stderr().is_terminal(),
            fault_step: std::env::var("WAVETRAIN_FAULT_STEP")
                .ok()
                .and_then(|v| v.parse().ok()),
            readout: net.system() == System::Hardware && cfg.hardware.readout_camera().is_some(),
            start,
            elapsed_before: progress.elapsed,
            total_images: 0,
            total_train_secs: 0.0,
            last_save: Instant::now(),
            lab: None,
        }
    }

    /// A per-epoch line: above the bar, or on stderr when no bar is drawn.
    fn say(&self, line: String) {
        if self.plain {
            if self.opts.progress {
                eprintln!("{line}");
            }
        } else {
            self.bar.println(line);
        }
    }

    /// Wall seconds of the whole run, earlier sessions included.
    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.start.elapsed().as_secs_f64()
    }

    /// Writes the checkpoint of `state` at `progress`.
    fn save(&self, state: State, progress: &mut Progress) -> Result<()> {
        progress.elapsed = self.elapsed();
        Checkpoint::write(&self.ckpt_path, self.net, &state, progress)
    }

    /// The command that resumes this run: the CLI's, or Python's with the lab.
    fn resume_command(&self) -> String {
        match &self.lab {
            None => format!("wavetrain train --resume {}", self.opts.out.display()),
            Some(_) => format!(
                "wavetrain.train(resume={:?}, lab=<the lab>)",
                self.opts.out.display().to_string()
            ),
        }
    }

    /// The error of a run stopped `during` a phase, with the command that resumes it.
    fn interrupted(&self, progress: &Progress, during: &str) -> Error {
        Error::Interrupted(format!(
            "stopped {during} at epoch {}, batch {}/{}; checkpoint written to {}. Resume with: {}",
            progress.epoch + 1,
            progress.batch,
            self.batches,
            self.ckpt_path.display(),
            self.resume_command()
        ))
    }

    /// The error of a run stopped `during` a phase by `e`: after an interruption or a lab's
    /// failure, the checkpoint of the backend's state (the one before the step that failed) is
    /// written and the error says how to resume; any other error is returned as it is.
    fn stopped(
        &self,
        backend: &mut dyn Backend,
        progress: &mut Progress,
        e: Error,
        during: &str,
    ) -> Result<Error> {
        Ok(match e {
            Error::Interrupted(_) => {
                self.bar.abandon();
                self.save(backend.state()?, progress)?;
                self.interrupted(progress, during)
            }
            Error::Lab(m) => {
                self.bar.abandon();
                self.save(backend.state()?, progress)?;
                Error::Lab(format!(
                    "{m}. The run stopped {during} at epoch {}, batch {}/{}; checkpoint of the state before it written to {}. Once the lab works again, resume with: {}",
                    progress.epoch + 1,
                    progress.batch,
                    self.batches,
                    self.ckpt_path.display(),
                    self.resume_command()
                ))
            }
            e => e,
        })
    }

    /// The untrained network's test loss and accuracies, for the epoch-0 row of `metrics.csv`.
    fn evaluate_untrained(&self, backend: &mut dyn Backend, progress: &mut Progress) -> Result<()> {
        let (net, cfg, test, opts) = (self.net, self.cfg, self.test, self.opts);
        let e = evaluate(backend, cfg, test, Some(&opts.stop));
        match e {
            Ok(e) => {
                progress.initial = Some((e.loss, e.accuracy));
                progress.initial_systems = Some(system_accuracies(
                    net,
                    backend,
                    test,
                    Some(&opts.stop),
                    e.accuracy,
                )?);
            }
            Err(Error::Interrupted(_)) => {
                self.bar.abandon();
                return Err(Error::Interrupted(
                    "stopped before the first step; nothing to resume: start the run again".into(),
                ));
            }
            Err(Error::Lab(m)) => {
                self.bar.abandon();
                return Err(Error::Lab(format!(
                    "{m}. The run stopped in the untrained network's test pass, before the first step; nothing to resume: start the run again"
                )));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The rest of the current epoch's steps, from `progress.batch` on, in `order`; checkpoints
    /// when stopped and every `opts.checkpoint_every` seconds.
    fn steps(
        &mut self,
        backend: &mut dyn Backend,
        progress: &mut Progress,
        order: &[usize],
        input: &mut [f32],
    ) -> Result<()> {
        let (net, cfg, train, opts) = (self.net, self.cfg, self.train, self.opts);
        let (per, n_train, batch, batches) = (self.per, self.n_train, self.batch, self.batches);
        let (bar, ckpt_path) = (&self.bar, &self.ckpt_path);
        let epoch = progress.epoch;
        while progress.batch < batches {
            if opts.stop.load(Ordering::SeqCst) {
                bar.abandon();
                self.save(backend.state()?, progress)?;
                return Err(self.interrupted(progress, "while training"));
            }
            let idx = &order[progress.batch * batch..((progress.batch + 1) * batch).min(n_train)];
            let inp = &mut input[..idx.len() * per];
            encode(cfg, train, idx, inp);
            let labels: Vec<u8> = idx.iter().map(|&i| train.labels[i]).collect();
            if self.fault_step == Some(epoch * batches + progress.batch + 1) {
                // Testing hook (WAVETRAIN_FAULT_STEP): poison this step's input.
                inp[0] = f32::NAN;
            }
            let t0 = Instant::now();
            let global = (epoch * batches + progress.batch) as u64;
            let stats = match methods::step(backend, cfg, inp, &labels, global) {
                Ok(s) => s,
                Err(e) => return Err(self.stopped(backend, progress, e, "while training")?),
            };
            let dt = t0.elapsed().as_secs_f64();
            if !stats.loss_sum.is_finite() {
                bar.abandon();
                let step = epoch * batches + progress.batch + 1;
                let skips = backend.skips_faulty_updates();
                let place = fault_place(net, &backend.state()?, inp, skips)?;
                let kept = if ckpt_path.exists() {
                    format!(
                        "The last checkpoint before this step is {} (resume with {})",
                        ckpt_path.display(),
                        self.resume_command()
                    )
                } else {
                    "No checkpoint had been written yet".to_string()
                };
                return Err(Error::Numerical(format!(
                    "loss is {} at step {step} (epoch {}, batch {}); {place}. {kept}",
                    stats.loss_sum,
                    epoch + 1,
                    progress.batch + 1,
                )));
            }
            progress.loss_sum += stats.loss_sum;
            progress.correct += stats.correct;
            progress.seen += idx.len();
            progress.batch += 1;
            progress.seconds += dt;
            self.total_images += idx.len();
            self.total_train_secs += dt;
            let (pf, pp) = methods::passes_per_image(cfg);
            let p = progress.passes.get_or_insert((0, 0));
            *p = (p.0 + pf * idx.len() as u64, p.1 + pp * idx.len() as u64);
            if self.readout {
                let (f, e) = backend.take_readout_counts()?;
                let r = progress.readout.get_or_insert((0, 0.0));
                *r = (r.0 + f, r.1 + e);
            }
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.1}% {:.0} img/s",
                progress.loss_sum / progress.seen as f64,
                100.0 * progress.correct as f64 / progress.seen as f64,
                progress.seen as f64 / progress.seconds.max(1e-9)
            ));
            if let Some(every) = opts.checkpoint_every {
                if progress.batch < batches && self.last_save.elapsed().as_secs_f64() >= every {
                    self.save(backend.state()?, progress)?;
                    self.last_save = Instant::now();
                }
            }
        }
        Ok(())
    }

    /// The end of an epoch: the test pass, the epoch's metrics (a line, `metrics.csv`,
    /// `confusion.csv`) and its checkpoint.
    fn end_epoch(
        &mut self,
        backend: &mut dyn Backend,
        progress: &mut Progress,
        epoch_start: Instant,
        secs_before: f64,
    ) -> Result<()> {
        let (net, cfg, test, opts) = (self.net, self.cfg, self.test, self.opts);
        let (bar, epoch) = (&self.bar, progress.epoch);
        let e = match evaluate(backend, cfg, test, Some(&opts.stop)) {
            Ok(e) => e,
            // The epoch's steps are all done: resuming evaluates it and goes on.
            Err(e) => return Err(self.stopped(backend, progress, e, "in the test pass")?),
        };
        let (model_accuracy, hardware_accuracy) =
            match system_accuracies(net, backend, test, Some(&opts.stop), e.accuracy) {
                Ok(a) => a,
                Err(Error::Interrupted(_)) => {
                    bar.abandon();
                    self.save(backend.state()?, progress)?;
                    return Err(self.interrupted(progress, "in the test pass"));
                }
                Err(e) => return Err(e),
            };
        let m = EpochMetrics {
            model_accuracy: Some(model_accuracy),
            hardware_accuracy: Some(hardware_accuracy),
            epoch: epoch + 1,
            train_loss: progress.loss_sum / progress.seen.max(1) as f64,
            train_accuracy: progress.correct as f64 / progress.seen.max(1) as f64,
            test_accuracy: e.accuracy,
            images_per_second: progress.seen as f64 / progress.seconds.max(1e-9),
            seconds: epoch_start.elapsed().as_secs_f64() + secs_before,
            test_loss: Some(e.loss),
            camera_frames: progress.readout.map(|r| r.0),
            photoelectrons: progress
                .readout
                .filter(|_| cfg.hardware.readout_shot_noise.is_some())
                .map(|r| r.1),
            forward_passes: progress.passes.map(|p| p.0),
            probe_passes: progress.passes.map(|p| p.1),
            // Against a lab the exact gradient is unknown: no cosine is recorded.
            gradient_cosine: match self.lab {
                Some(_) => None,
                None => Some(self.fidelity(backend)?),
            },
        };
        self.say(format!(
            "epoch {:>3}: train loss {:.4}, train accuracy {:.2}%, test loss {:.4}, test accuracy {:.2}%, {:.0} images/s",
            m.epoch,
            m.train_loss,
            100.0 * m.train_accuracy,
            e.loss,
            100.0 * m.test_accuracy,
            m.images_per_second
        ));
        progress.history.push(m);
        *progress = Progress {
            epoch: epoch + 1,
            history: std::mem::take(&mut progress.history),
            initial: progress.initial,
            initial_systems: progress.initial_systems,
            ..Default::default()
        };
        crate::io::atomic_write(
            &opts.out.join("metrics.csv"),
            metrics_csv(
                progress.initial,
                progress.initial_systems,
                &progress.history,
            )
            .as_bytes(),
        )?;
        crate::io::atomic_write(
            &opts.out.join("confusion.csv"),
            confusion_csv(&e.confusion).as_bytes(),
        )?;
        self.save(backend.state()?, progress)?;
        self.last_save = Instant::now();
        Ok(())
    }

    /// The run's summary: the last epoch's metrics, the throughput over this session's steps.
    fn summary(&self, backend: &mut dyn Backend, progress: &Progress) -> Summary {
        let cfg = self.cfg;
        let last = progress.history.last().cloned().unwrap_or(EpochMetrics {
            epoch: 0,
            train_loss: f64::NAN,
            train_accuracy: 0.0,
            test_accuracy: 0.0,
            images_per_second: 0.0,
            seconds: 0.0,
            test_loss: None,
            model_accuracy: None,
            hardware_accuracy: None,
            camera_frames: None,
            photoelectrons: None,
            forward_passes: None,
            probe_passes: None,
            gradient_cosine: None,
        });
        Summary {
            train_loss: last.train_loss,
            train_accuracy: last.train_accuracy,
            test_accuracy: last.test_accuracy,
            model_accuracy: last.model_accuracy,
            hardware_accuracy: last.hardware_accuracy,
            target: Some(cfg.train.target.name().into()),
            images_per_second: if self.total_train_secs > 0.0 {
                self.total_images as f64 / self.total_train_secs
            } else {
                last.images_per_second
            },
            seconds: self.elapsed(),
            backend: backend.name(),
            epochs: progress.history.len(),
            run_dir: self.opts.out.display().to_string(),
            method: Some(cfg.train.method.name().into()),
            forward_passes: Some(
                progress
                    .history
                    .iter()
                    .filter_map(|m| m.forward_passes)
                    .sum(),
            ),
            probe_passes: Some(progress.history.iter().filter_map(|m| m.probe_passes).sum()),
            gradient_cosine: last.gradient_cosine,
            lab: self.lab.as_ref().map(|l| l.name.clone()),
        }
    }

    /// The cosine similarity of the method's update to the exact gradient at the backend's
    /// state, on the first batch of the training set in its stored order
    /// ([`methods::gradient_cosine`]).
    fn fidelity(&self, backend: &mut dyn Backend) -> Result<f64> {
        let state = backend.state()?;
        let n = self.batch.min(self.n_train);
        let idx: Vec<usize> = (0..n).collect();
        let mut input = vec![0.0f32; n * self.per];
        encode(self.cfg, self.train, &idx, &mut input);
        let labels: Vec<u8> = idx.iter().map(|&i| self.train.labels[i]).collect();
        methods::gradient_cosine(self.net, &state, &input, &labels, state.step)
    }
}
