//! One training run assembled one way, for the CLI's `wavetrain train` and the Python
//! `wavetrain.train` alike: from the config the caller built (a preset, a file or TOML text, a
//! resumed run's, with its flags applied), the data is resolved, read and checked against the
//! run's provenance, the checkpoint's position against the data, the run folder created or
//! opened ([`prepare`]); then, once the caller has its backend, the session is recorded and the
//! absorbers' operating points reported ([`Prepared::begin`]). The callers differ only in how
//! they parse their arguments, name them in messages, and wait for the run.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::checkpoint::{Checkpoint, Progress};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::Config;
use crate::network::{Network, State};
use crate::provenance::{DataRecord, Provenance, Session};
use crate::rundir::RunDir;
use crate::train::RunOptions;

/// The train and test splits of `cfg`: its generated task, or the IDX files of `dir` (the
/// bundled MNIST subset when absent). `data_arg` is how the caller names its data argument in
/// messages (`--data`, `data`).
pub fn load_data(dir: Option<&PathBuf>, cfg: &Config, data_arg: &str) -> Result<(Split, Split)> {
    if let Some(task) = cfg.input.task {
        if let Some(d) = dir {
            return Err(Error::config(
                data_arg,
                format!(
                    "the network trains on the generated '{}' task (input.task), not on files in {}: drop {data_arg} or input.task",
                    task.name(),
                    d.display()
                ),
            ));
        }
        return Ok(crate::data::tasks::splits(
            task,
            cfg.input.points,
            cfg.input.jitter,
            cfg.train.seed,
        ));
    }
    let d = dir.cloned().unwrap_or_else(crate::data::idx::bundled_dir);
    crate::data::read_dir(&d, cfg.readout.classes)
}

/// What the data of `cfg` is, in words: the folder given, the bundled subset (with its folder),
/// or the generated task.
pub fn data_description(dir: Option<&PathBuf>, cfg: &Config) -> String {
    match (dir, cfg.input.task) {
        (Some(d), _) => d.display().to_string(),
        (None, Some(t)) => format!("the generated {} task", t.name()),
        (None, None) => format!(
            "the bundled MNIST subset ({})",
            crate::data::idx::bundled_dir().display()
        ),
    }
}

/// Where a run starts, as the caller has decided it.
pub struct Start {
    /// The config, the caller's flags and overrides applied.
    pub cfg: Config,
    /// The run folder continued and its checkpoint (a resumed run).
    pub resume: Option<(PathBuf, Checkpoint)>,
    /// The continued run's `provenance.json`, when it has one.
    pub record: Option<Provenance>,
    /// The data argument resolved (a folder, and the dataset's name when given by name).
    pub data: Option<(PathBuf, Option<String>)>,
    /// The run folder of a new run (absent: `runs/NAME-…`).
    pub out: Option<PathBuf>,
    /// How the caller names its data argument in messages (`--data`, `data`).
    pub data_arg: &'static str,
}

/// A run ready for its backend: the network and the state it starts from, the data, the
/// provenance record, the progress it resumes from, the run folder (owned by this process).
pub struct Prepared {
    pub net: Network,
    pub state: State,
    pub train_set: Split,
    pub test_set: Split,
    pub provenance: Provenance,
    pub resume: Option<Progress>,
    pub dir: RunDir,
    /// A new run (its folder is removed again if it fails before its first checkpoint).
    pub fresh: bool,
    /// The data folder read (absent: the bundled subset or the generated task).
    pub data_dir: Option<PathBuf>,
}

/// The run of `s`, checked and ready: the network resolved and its memory checked, the data
/// read (a resumed run's recorded folder when none is given) and checked against the run's
/// provenance, the checkpoint's position against this data and batch, the sampling warnings
/// printed, the run folder created or opened.
pub fn prepare(s: Start) -> Result<Prepared> {
    let Start {
        cfg,
        resume,
        record,
        data,
        out,
        data_arg,
    } = s;
    let net = cfg.resolve()?;
    crate::run::check_memory(&net)?;
    let (data_dir, named): (Option<PathBuf>, Option<String>) = match (data, &record) {
        (Some((d, name)), _) => (Some(d), name),
        (None, Some(p)) if p.data.source == "files" => (
            p.data.dir.as_ref().map(PathBuf::from),
            p.data.dataset.clone(),
        ),
        _ => (None, None),
    };
    let given = data_dir.is_some();
    let (train_set, test_set) = load_data(data_dir.as_ref(), &cfg, data_arg)?;
    let data_now = match (&data_dir, cfg.input.task) {
        (_, Some(_)) => DataRecord::generated(),
        (Some(d), None) => DataRecord::of_dir(d, false)?.named(named),
        (None, None) => DataRecord::of_dir(&crate::data::idx::bundled_dir(), true)?,
    };
    match &record {
        Some(p) => p.check_same_data(&data_now)?,
        None if resume.is_some() && given => eprintln!(
            "warning: this run has no provenance.json (an older version wrote it): the data of {} cannot be checked against the data it was started on",
            data_description(data_dir.as_ref(), &cfg)
        ),
        None => {}
    }
    if let Some((d, ck)) = &resume {
        // The checkpoint's position (after the data check) must be one this data and batch reach.
        let n = cfg
            .train
            .max_train
            .unwrap_or(train_set.len())
            .min(train_set.len());
        ck.check_position(
            &d.join("checkpoint.safetensors"),
            n.div_ceil(cfg.train.batch),
        )?;
    }
    for w in cfg.sampling_warnings() {
        eprintln!("warning: {w}");
    }
    // The run folder, owned by this process from here on (a second writer is refused).
    let dir = match (&resume, &out) {
        (Some((d, _)), _) => RunDir::open_existing(d)?,
        (None, Some(o)) => RunDir::create_at(o)?,
        (None, None) => RunDir::create_default(Path::new("runs"), &cfg.name)?,
    };
    let state = match &resume {
        Some((_, ck)) => ck.state.clone(),
        None => net.initial_state(),
    };
    Ok(Prepared {
        provenance: record.unwrap_or(Provenance {
            data: data_now,
            sessions: Vec::new(),
        }),
        fresh: resume.is_none(),
        resume: resume.map(|(_, c)| c.progress),
        net,
        state,
        train_set,
        test_set,
        dir,
        data_dir,
    })
}

impl Prepared {
    /// The session starts on `backend` (its name): recorded in `provenance.json` (with
    /// `command` in place of this process's arguments when given), and, when `say`, the
    /// run's line and the absorbers' mean operating points on stderr; the absorbers'
    /// warnings always.
    pub fn begin(&self, backend: &str, command: Option<String>, say: bool) -> Result<()> {
        let mut prov = self.provenance.clone();
        let mut session = Session::now(backend);
        if let Some(c) = command {
            session.command = vec![c];
        }
        prov.sessions.push(session);
        prov.save(self.dir.path())?;
        let cfg = self.net.config();
        if say {
            eprintln!(
                "training {} on {} ({} train / {} test images), backend: {}, run folder: {}",
                cfg.name,
                data_description(self.data_dir.as_ref(), cfg),
                cfg.train
                    .max_train
                    .unwrap_or(self.train_set.len())
                    .min(self.train_set.len()),
                self.test_set.len(),
                backend,
                self.dir.path().display()
            );
        }
        let (s, warnings) = crate::train::absorber_report(&self.net, &self.state, &self.train_set)?;
        if !s.is_empty() && say {
            let list: Vec<String> = s.iter().map(|v| format!("{v:.3}")).collect();
            eprintln!(
                "mean s = I/I_sat entering each absorber (first batch): [{}]",
                list.join(", ")
            );
        }
        for w in warnings {
            eprintln!("warning: {w}");
        }
        Ok(())
    }

    /// The trainer's options for this run: its folder, the progress it resumes from, and the
    /// caller's choices (mid-epoch checkpoints every `checkpoint_every` seconds of training,
    /// default [`crate::train::CHECKPOINT_EVERY`]).
    pub fn options(
        &self,
        progress: bool,
        stop: Arc<AtomicBool>,
        pictures: bool,
        checkpoint_every: Option<f64>,
    ) -> RunOptions {
        RunOptions {
            out: self.dir.path().to_path_buf(),
            progress,
            stop,
            resume: self.resume.clone(),
            pictures,
            checkpoint_every: Some(checkpoint_every.unwrap_or(crate::train::CHECKPOINT_EVERY)),
        }
    }
}
