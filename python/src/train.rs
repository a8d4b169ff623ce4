//! `wavetrain.train`: one training run into a run folder, by the library path `wavetrain
//! train` takes (config, data and provenance as the CLI assembles them, then
//! `wavetrain::run::train_run_observed`), so the folder and its metrics are the CLI's.
//!
//! The run trains on a thread of its own while the calling thread waits with the GIL released,
//! taking it back every 50 ms to run Python's signal handlers: Ctrl-C (a `KeyboardInterrupt`)
//! sets the run's stop flag, the trainer finishes its step and writes a checkpoint, and the
//! `KeyboardInterrupt` is raised again here with the way to resume. The epoch callback runs on
//! the calling thread while the trainer waits for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wavetrain::checkpoint::{Checkpoint, EpochMetrics};
use wavetrain::model::Config;
use wavetrain::provenance::Provenance;
use wavetrain::{Error, Result};

use crate::errors::{guard, named, to_py, OrPy};
use crate::lab::{LabAnswer, LabCall};
use crate::network::override_pairs;

/// The train and test splits of `cfg`, as the CLI loads them: its generated task, or the IDX
/// files of `dir` (the bundled MNIST subset when absent); errors name `data`.
pub(crate) fn load_data(
    dir: Option<&PathBuf>,
    cfg: &Config,
) -> Result<(wavetrain::data::Split, wavetrain::data::Split)> {
    wavetrain::launch::load_data(dir, cfg, "data")
}

/// The dotted key a `--set` key means (its shorthands for training settings expanded).
fn full_key(k: &str) -> String {
    match wavetrain::model::shorthand_table(k) {
        Some(table) => format!("{table}.{k}"),
        None => k.to_string(),
    }
}

/// What `train` was asked, as keyword arguments.
pub struct TrainArgs {
    pub preset: Option<String>,
    pub config: Option<PathBuf>,
    /// The config as TOML text (`train(config=<TOML text>)`), instead of a file.
    pub config_text: Option<String>,
    pub resume: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub epochs: Option<usize>,
    pub seed: Option<u64>,
    pub batch: Option<usize>,
    pub lr: Option<f64>,
    pub max_train: Option<usize>,
    pub gradient: Option<String>,
    pub activation: Option<String>,
    pub backend: String,
    pub adapter: Option<String>,
    pub set: Vec<(String, String)>,
    pub checkpoint_every: Option<f64>,
    /// The name of the lab in the loop (`lab=`), if one is given.
    pub lab: Option<String>,
}

impl TrainArgs {
    /// The argument and config key of each run-changing argument given.
    fn arg_keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut v = Vec::new();
        let given = [
            (self.gradient.is_some(), "gradient", "train.gradient"),
            (self.epochs.is_some(), "epochs", "train.epochs"),
            (self.max_train.is_some(), "max_train", "train.max_train"),
            (self.batch.is_some(), "batch", "train.batch"),
            (self.lr.is_some(), "lr", "train.lr"),
            (self.seed.is_some(), "seed", "train.seed"),
        ];
        for (on, arg, key) in given {
            if on {
                v.push((arg, key));
            }
        }
        v
    }

    /// A call that reads as the one made, for provenance.json.
    fn command(&self) -> String {
        let mut parts = Vec::new();
        let mut s = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        let q = |p: &Option<PathBuf>| p.as_ref().map(|p| format!("{:?}", p.display().to_string()));
        s("preset", self.preset.as_ref().map(|p| format!("{p:?}")));
        s("config", q(&self.config));
        s(
            "config",
            self.config_text.as_ref().map(|_| "<TOML text>".to_string()),
        );
        s("resume", q(&self.resume));
        s("data", q(&self.data));
        s("out", q(&self.out));
        s("epochs", self.epochs.map(|v| v.to_string()));
        s("seed", self.seed.map(|v| v.to_string()));
        s("batch", self.batch.map(|v| v.to_string()));
        s("lr", self.lr.map(|v| v.to_string()));
        s("max_train", self.max_train.map(|v| v.to_string()));
        s("gradient", self.gradient.as_ref().map(|v| format!("{v:?}")));
        s(
            "activation",
            self.activation.as_ref().map(|v| format!("{v:?}")),
        );
        s("backend", Some(format!("{:?}", self.backend)));
        s("lab", self.lab.as_ref().map(|n| format!("<{n}>")));
        if !self.set.is_empty() {
            let kv: Vec<String> = self
                .set
                .iter()
                .map(|(k, v)| format!("{k:?}: {v:?}"))
                .collect();
            s("overrides", Some(format!("{{{}}}", kv.join(", "))));
        }
        format!("wavetrain.train({})", parts.join(", "))
    }
}

use wavetrain::launch::Prepared;

/// The CLI's `train` up to the backend: the config from a preset, a file or a run folder, the
/// arguments and overrides applied (conflicts refused as the CLI refuses them), the data read
/// and checked against the run's provenance, the run folder created or opened.
fn prepare(a: &TrainArgs) -> Result<Prepared> {
    if a.resume.is_some() {
        let mut given: Vec<&str> = a
            .arg_keys()
            .into_iter()
            .map(|(f, _)| f)
            .filter(|f| *f != "epochs")
            .collect();
        if !a.set.is_empty() {
            given.push("overrides");
        }
        if a.activation.is_some() {
            given.push("activation");
        }
        if let Some(f) = given.first() {
            return Err(Error::config(
                *f,
                format!(
                    "resume continues a run with the settings it was started with; {} would train the rest with others (only epochs may extend a run): start a new run instead",
                    given.join(", ")
                ),
            ));
        }
        if a.preset.is_some() || a.config.is_some() || a.config_text.is_some() {
            return Err(Error::config(
                if a.preset.is_some() {
                    "preset"
                } else {
                    "config"
                },
                "resume continues the run's own network: give resume alone",
            ));
        }
    }
    if a.config.is_some() && a.config_text.is_some() {
        return Err(Error::config(
            "config",
            "give a TOML file or TOML text, not both",
        ));
    }
    if a.preset.is_some() && (a.config.is_some() || a.config_text.is_some()) {
        return Err(Error::config("config", "give preset or config, not both"));
    }
    for (k, v) in &a.set {
        let key = full_key(k);
        if let Some((arg, _)) = a.arg_keys().into_iter().find(|(_, kk)| *kk == key) {
            return Err(Error::config(
                arg,
                format!("both {arg} and overrides {{{k:?}: {v:?}}} set {key}: give one of them"),
            ));
        }
    }
    if let Some(c) = a.checkpoint_every {
        if !(c.is_finite() && c >= 0.0) {
            return Err(Error::config(
                "checkpoint_every",
                format!("must be a number of seconds ≥ 0, got {c}"),
            ));
        }
    }
    let (mut cfg, resume, record) = if let Some(dir) = &a.resume {
        let path = dir.join("checkpoint.safetensors");
        if dir.is_dir() && !path.exists() {
            return Err(Error::config(
                "resume",
                format!(
                    "{} has no checkpoint yet (the run stopped before its first save): start it again with out={:?}",
                    dir.display(),
                    dir.display().to_string()
                ),
            ));
        }
        let ck = Checkpoint::load(&path)?;
        (ck.config().clone(), Some(ck), Provenance::load(dir)?)
    } else if let Some(path) = &a.config {
        (Config::from_file(path)?, None, None)
    } else if let Some(text) = &a.config_text {
        (Config::from_toml(text, "<TOML text>")?, None, None)
    } else {
        (
            wavetrain::presets::preset(a.preset.as_deref().unwrap_or(wavetrain::presets::DEFAULT))?,
            None,
            None,
        )
    };
    if let Some(g) = &a.gradient {
        cfg.train.gradient = g
            .parse()
            .map_err(|e: String| Error::config("gradient", e))?;
    }
    wavetrain::model::TrainOverrides {
        epochs: a.epochs,
        max_train: a.max_train,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
    }
    .apply(
        &mut cfg.train,
        resume.as_ref().map(|ck| ck.progress.epoch),
        "epochs",
        |e| format!("epochs={e}"),
    )?;
    for (k, v) in &a.set {
        cfg = cfg.set(k, v)?;
    }
    if let Some(act) = &a.activation {
        let act: wavetrain::model::Activation = act
            .parse()
            .map_err(|e: String| Error::config("activation", e))?;
        cfg = cfg.with_activation(act)?;
    }
    // A dataset name (`data="fashion-mnist"`) resolves as the CLI's `--data NAME` does: looked
    // up in the catalog's folders and its files checked against their SHA-256.
    let data = match &a.data {
        Some(d) => {
            let (dir, ds) = wavetrain::data::catalog::resolve(d, false)?;
            Some((dir, ds.map(|ds| ds.name.to_string())))
        }
        None => None,
    };
    wavetrain::launch::prepare(wavetrain::launch::Start {
        cfg,
        resume: a.resume.clone().zip(resume),
        record,
        data,
        out: a.out.clone(),
        data_arg: "data",
    })
}

/// What the training thread tells the waiting one.
pub(crate) enum Msg {
    /// An epoch ended (metrics written, checkpoint saved); the trainer waits for an answer.
    Epoch(EpochMetrics),
    /// A call of the lab in the loop, which the waiting thread makes (holding the GIL) and
    /// answers on `reply`; the trainer waits for it.
    Lab(LabCall, mpsc::Sender<Result<LabAnswer>>),
}

/// The training itself, on its own thread: the backend, provenance, the absorbers' operating
/// points, then `train_run_observed`.
#[allow(clippy::too_many_arguments)]
fn run(
    p: &Prepared,
    choice: wavetrain::run::BackendChoice,
    adapter: Option<String>,
    command: String,
    progress: bool,
    pictures: bool,
    checkpoint_every: Option<f64>,
    lab: Option<crate::lab::LabHandle>,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Msg>,
    ack: mpsc::Receiver<()>,
) -> Result<wavetrain::train::Summary> {
    let mut backend: Box<dyn wavetrain::backend::Backend> = match lab {
        Some(l) => {
            let lab = Box::new(crate::lab::ChannelLab::new(l, tx.clone()));
            Box::new(wavetrain::train::lab::LabBackend::new(
                &p.net, &p.state, lab,
            )?)
        }
        None => wavetrain::run::make_backend(choice, adapter.as_deref(), &p.net, &p.state)?,
    };
    p.begin(&backend.name(), Some(command), progress)?;
    let opts = p.options(progress, stop, pictures, checkpoint_every);
    let mut on_epoch = |m: &EpochMetrics| {
        if tx.send(Msg::Epoch(m.clone())).is_ok() {
            let _ = ack.recv();
        }
    };
    wavetrain::run::train_run_observed(
        &p.net,
        backend.as_mut(),
        &p.train_set,
        &p.test_set,
        &opts,
        &mut on_epoch,
    )
}

/// An epoch's metrics as the dict the callback receives (the columns of metrics.csv).
fn metrics_dict<'py>(py: Python<'py>, m: &EpochMetrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("epoch", m.epoch)?;
    d.set_item("train_loss", m.train_loss)?;
    d.set_item("train_accuracy", m.train_accuracy)?;
    d.set_item("test_accuracy", m.test_accuracy)?;
    d.set_item("images_per_second", m.images_per_second)?;
    d.set_item("seconds", m.seconds)?;
    d.set_item("test_loss", m.test_loss)?;
    d.set_item("model_accuracy", m.model_accuracy)?;
    d.set_item("hardware_accuracy", m.hardware_accuracy)?;
    Ok(d)
}

/// Trains as `wavetrain train` does; returns the summary (the CLI's `--json` line) as a dict.
#[pyfunction]
#[pyo3(signature = (*, preset = None, config = None, config_text = None, resume = None, data = None, out = None,
    epochs = None, seed = None, batch = None, lr = None, max_train = None, gradient = None,
    activation = None, backend = "auto", adapter = None, overrides = None, progress = true,
    pictures = true, checkpoint_every = None, callback = None, lab = None, lab_timeout = None))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    preset: Option<String>,
    config: Option<PathBuf>,
    config_text: Option<String>,
    resume: Option<PathBuf>,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    seed: Option<u64>,
    batch: Option<usize>,
    lr: Option<f64>,
    max_train: Option<usize>,
    gradient: Option<String>,
    activation: Option<String>,
    backend: &str,
    adapter: Option<String>,
    overrides: Option<&Bound<'py, PyDict>>,
    progress: bool,
    pictures: bool,
    checkpoint_every: Option<f64>,
    callback: Option<Bound<'py, PyAny>>,
    lab: Option<Bound<'py, PyAny>>,
    lab_timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "train", || {
        let choice: wavetrain::run::BackendChoice = backend
            .parse()
            .map_err(|e: String| crate::errors::config(py, "backend", e))?;
        if let Some(cb) = &callback {
            if !cb.is_callable() {
                return Err(crate::errors::config(
                    py,
                    "callback",
                    "must be callable: f(epoch_metrics: dict)",
                ));
            }
        }
        let handle = lab_handle(py, lab.as_ref(), lab_timeout, backend)?;
        let args = TrainArgs {
            preset,
            config,
            config_text,
            resume,
            data,
            out,
            epochs,
            seed,
            batch,
            lr,
            max_train,
            gradient,
            activation,
            backend: backend.to_string(),
            adapter,
            set: override_pairs(py, overrides, None)?,
            checkpoint_every,
            lab: handle.as_ref().map(|h| h.name.clone()),
        };
        let command = args.command();
        if let Some(dir) = &args.resume {
            // A run against a lab resumes only with one, a simulated run only without.
            wavetrain::train::lab::check_resume(dir, args.lab.as_deref()).or_py(py)?;
        }
        let prepared = py.detach(|| prepare(&args)).or_py(py)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Msg>();
        let (ack_tx, ack_rx) = mpsc::channel::<()>();
        let geometry = crate::lab::Geometry::of(&prepared.net);
        let prepared = Arc::new(prepared);
        let worker = {
            let (p, stop, adapter) = (prepared.clone(), stop.clone(), args.adapter.clone());
            let handle = handle.clone();
            std::thread::Builder::new()
                .name("wavetrain-train".into())
                .spawn(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(
                            &p,
                            choice,
                            adapter,
                            command,
                            progress,
                            pictures,
                            checkpoint_every,
                            handle,
                            stop,
                            tx,
                            ack_rx,
                        )
                    }))
                })
                .map_err(|e| {
                    to_py(
                        py,
                        Error::Gpu(format!("cannot start the training thread: {e}")),
                    )
                })?
        };
        let lab = lab.map(|obj| {
            let name = handle.as_ref().map_or_else(String::new, |h| h.name.clone());
            (obj, geometry, lab_timeout, name)
        });
        let Waited { raised, lab_error } =
            wait(py, rx, &ack_tx, &stop, callback.as_ref(), lab.as_ref());
        let joined = py.detach(|| worker.join());
        let result = match joined {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) | Err(panic) => std::panic::resume_unwind(panic),
        };
        let prepared = Arc::try_unwrap(prepared).ok();
        if result.is_err() {
            if let Some(p) = &prepared {
                if p.fresh {
                    p.dir.discard_if_empty();
                }
            }
        }
        drop(prepared);
        if let Some(e) = raised {
            if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                let msg = match &result {
                    Err(Error::Interrupted(m)) => {
                        format!("{m} (from Python: wavetrain.train(resume=...) with that folder)")
                    }
                    Err(other) => format!("interrupted; the run then failed: {other}"),
                    Ok(s) => format!(
                        "interrupted after the run had finished: its folder {} is complete",
                        s.run_dir
                    ),
                };
                return Err(PyKeyboardInterrupt::new_err(msg));
            }
            return Err(e);
        }
        if let (Err(Error::Lab(m)), Some(cause)) = (&result, lab_error) {
            // The lab's own exception (or the time-out) is the cause of the LabError raised.
            let class =
                if cause.is_instance(py, &py.import("wavetrain._errors")?.getattr("LabTimeout")?) {
                    "LabTimeout"
                } else {
                    "LabError"
                };
            let e = named(py, class, format!("lab: {m}"));
            e.set_cause(py, Some(cause));
            return Err(e);
        }
        let summary = result.or_py(py)?;
        let text = serde_json::to_string(&summary)
            .map_err(|e| named(py, "InternalError", format!("summary: {e}")))?;
        py.import("json")?.call_method1("loads", (text,))
    })
}

/// The lab of `lab=`, described and checked with its time-out, before anything is prepared.
fn lab_handle(
    py: Python<'_>,
    lab: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
    backend: &str,
) -> PyResult<Option<crate::lab::LabHandle>> {
    if let Some(t) = timeout {
        if !(t.is_finite() && t > 0.0) {
            return Err(crate::errors::config(
                py,
                "lab_timeout",
                format!("must be a number of seconds > 0, got {t}"),
            ));
        }
        if lab.is_none() {
            return Err(crate::errors::config(
                py,
                "lab_timeout",
                "is the time-out of a lab's calls: give lab= too, or drop lab_timeout",
            ));
        }
    }
    let Some(lab) = lab else { return Ok(None) };
    if backend == "gpu" {
        return Err(crate::errors::config(
            py,
            "backend",
            "a run against a lab computes the model on the CPU: use backend=\"auto\" or \"cpu\"",
        ));
    }
    crate::lab::describe(py, lab).map(Some)
}

/// What the wait for the training thread ended with.
struct Waited {
    /// An exception of the calling thread (Ctrl-C, the callback's) that stopped the run.
    raised: Option<PyErr>,
    /// The exception of the lab's call that stopped the run.
    lab_error: Option<PyErr>,
}

/// Waits for the training thread with the GIL released, taking it back every 50 ms to run
/// signal handlers, and to run the epoch callback and the lab's calls when asked.
fn wait(
    py: Python<'_>,
    mut rx: mpsc::Receiver<Msg>,
    ack_tx: &mpsc::Sender<()>,
    stop: &AtomicBool,
    callback: Option<&Bound<'_, PyAny>>,
    lab: Option<&(Bound<'_, PyAny>, crate::lab::Geometry, Option<f64>, String)>,
) -> Waited {
    let mut raised: Option<PyErr> = None;
    let mut lab_error: Option<PyErr> = None;
    loop {
        // `&mut`: a Receiver is Send, not Sync.
        let rx = &mut rx;
        let msg = py.detach(move || rx.recv_timeout(Duration::from_millis(50)));
        match msg {
            Ok(Msg::Epoch(m)) => {
                if raised.is_none() {
                    if let Some(cb) = callback {
                        let r = metrics_dict(py, &m).and_then(|d| cb.call1((d,)).map(|_| ()));
                        if let Err(e) = r {
                            raised = Some(e);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
                let _ = ack_tx.send(());
            }
            Ok(Msg::Lab(call, reply)) => {
                let method = call.method.name();
                let answer = match (lab, &raised) {
                    (_, Some(_)) => Err(Error::Interrupted(format!("stopped before lab.{method}"))),
                    (None, None) => Err(Error::Lab(format!("no lab to call {method} on"))),
                    (Some((obj, g, timeout, name)), None) => {
                        match crate::lab::perform(py, obj, &call, g, *timeout) {
                            Ok(a) => Ok(a),
                            Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                                stop.store(true, Ordering::SeqCst);
                                raised = Some(e);
                                Err(Error::Interrupted(format!("Ctrl-C during lab.{method}")))
                            }
                            Err(e) => {
                                let text =
                                    format!("{name}.{method} raised {}", lab_error_text(py, &e));
                                lab_error = Some(e);
                                Err(Error::Lab(text))
                            }
                        }
                    }
                };
                let _ = reply.send(answer);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Err(e) = py.check_signals() {
            stop.store(true, Ordering::SeqCst);
            if raised.is_none() {
                raised = Some(e);
            }
        }
    }
    Waited { raised, lab_error }
}

/// `ExceptionClass: message` of a lab call's exception.
fn lab_error_text(py: Python<'_>, e: &PyErr) -> String {
    let class = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "exception".into());
    format!("{class}: {}", e.value(py))
}
