//! Parameter sweeps: one network trained over the Cartesian product of config values, runs in
//! parallel where the machine allows, each in its own folder (so an interrupted sweep resumes
//! where it stopped), one CSV of results and a plot of test accuracy against the first swept
//! axis that is not a seed (the papers' accuracy-vs-optical-depth figure; seed axes are averaged,
//! with error bars).
//!
//! Records a researcher can trust:
//!
//! - **Each key is swept by one axis.** Two axes that set the same config value are refused
//!   before any work ([`check_axes`]), aliases included: `od` and `model` are every absorber's
//!   (`elements[i].od`), `gain`, `fidelity`, … every dense layer's, `lr`, `seed`, `gradient`,
//!   `epochs`, `batch` are `train.*`, `intensity` and `task` are `input.*`, and the `relu` and
//!   `linear` baselines of an `activation` axis replace (or remove) the absorbers, and `relu`
//!   also sets the dense fidelity, the loss, the temperature, the hardware and the name. Values
//!   given twice within an axis (`0,0`, `1,1.0`: compared as TOML values) are refused, and so
//!   are two points that would share a run folder. Every point's config is checked to hold the
//!   values of its labels ([`point_config`]), so each row of `sweep.csv` says what its run
//!   trained with (the run folder's `config.toml` is that config).
//! - **The sweep folder is the sweep's own.** `out` must be new, empty, or hold the same sweep
//!   (its `sweep.toml`, the base config and the axes, matches): that resumes it. A folder of
//!   other files, a training run's folder included, is refused and nothing is written there.
//! - **A failed sweep leaves no debris.** A bad point is found before anything is written; when
//!   a run fails or the sweep is stopped (Ctrl-C, [`SweepOptions::stop`]), the other runs stop
//!   at a checkpoint, and only finished runs (`summary.json`) and resumable checkpoints with
//!   some progress stay. When none does and this sweep made the folder (or found it empty), what
//!   it wrote is removed again. A stopped sweep returns [`Error::Interrupted`] saying how many
//!   runs finished and can resume; rerunning the same command resumes it.
//! - **Beyond one machine.** [`run_part`] trains one shard of the grid ([`shard`]: point `k` of
//!   [`grid`]'s order is shard `k mod N`'s), many processes sharing one folder: `sweep.toml`
//!   and the shard count (`shards.json`) are written once (linked into place complete) and
//!   checked by every later shard, each run folder is locked by the process training it (an OS
//!   lock: it dies with its process, so a killed shard rerun resumes its runs), shards leave
//!   nothing half-done in the shared folder when they fail (only their own empty run folders
//!   are removed), and whichever shard finds every point finished writes the results under the
//!   folder's merge lock ([`mod@merge`], also `sweep --merge DIR`, through the code a one-machine
//!   sweep writes its results with). [`submit`] writes the Slurm and Kubernetes job files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::{Activation, Config};
use crate::network::Network;
use crate::run::{make_backend, train_run, BackendChoice};
use crate::rundir::RunDir;
use crate::train::{RunOptions, Summary};

pub mod merge;
pub mod shard;
pub mod submit;

pub use merge::{merge, Merged, Missing, PointState};
pub use shard::{Shard, ShardSpec, ShardsRecord};

/// One swept key and its values, as text (`od` → `["0.1", "1"]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Config key (see [`Config::set`]) or `activation`.
    pub key: String,
    /// Values in order.
    pub values: Vec<String>,
}

/// One finished run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The value of each axis, in axis order.
    pub values: Vec<String>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
    /// Test accuracy on the ideal model (absent in sweeps of older versions).
    #[serde(default)]
    pub model_accuracy: Option<f64>,
    /// Test accuracy on the imperfect system (absent in sweeps of older versions).
    #[serde(default)]
    pub hardware_accuracy: Option<f64>,
    /// Training accuracy of the last epoch.
    pub train_accuracy: f64,
    /// Mean training loss of the last epoch.
    pub train_loss: f64,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Training throughput.
    pub images_per_second: f64,
    /// Run folder.
    pub run_dir: String,
}

/// Settings of a sweep.
pub struct SweepOptions {
    /// Sweep folder: `sweep.csv`, `sweep.png` and `runs/`.
    pub out: PathBuf,
    /// Runs at a time.
    pub jobs: usize,
    /// Backend of every run.
    pub backend: BackendChoice,
    /// Print one line per finished run.
    pub progress: bool,
    /// Set when the user asked to stop.
    pub stop: Arc<AtomicBool>,
}

/// The config of one point of the grid, checked to hold the value of each of its labels
/// (setting an axis's value again changes nothing: no other axis overwrote it).
pub fn point_config(base: &Config, axes: &[Axis], values: &[String]) -> Result<Config> {
    let mut cfg = base.clone();
    let mut act = None;
    for (a, v) in axes.iter().zip(values) {
        if a.key == "activation" {
            act = Some(
                v.parse::<Activation>()
                    .map_err(|e| Error::config("activation", e))?,
            );
        } else {
            cfg = cfg.set(&a.key, v)?;
        }
    }
    if let Some(a) = act {
        cfg = cfg.with_activation(a)?;
    }
    for (a, v) in axes.iter().zip(values) {
        if a.key != "activation" && !cfg.set(&a.key, v).is_ok_and(|c| c == cfg) {
            return Err(Error::config(
                &a.key,
                format!(
                    "the run {} would not be trained with {} = {v} (another axis changes it): sweep each config value in one axis only",
                    folder_name(axes, values),
                    a.key
                ),
            ));
        }
    }
    Ok(cfg)
}

/// Every point of the grid, first axis slowest.
pub fn grid(axes: &[Axis]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v.clone());
                    q
                })
            })
            .collect();
    }
    out
}

fn folder_name(axes: &[Axis], values: &[String]) -> String {
    let s: Vec<String> = axes
        .iter()
        .zip(values)
        .map(|(a, v)| format!("{}={}", a.key, v))
        .collect();
    s.join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=.-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// One step of a config path an axis writes: a table key, one list entry, or every element of a
/// type (the shorthands `od`, `gain`, … and the baselines).
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Every(&'static str),
}

/// The config paths an axis writes, as [`Config::set`] and [`Config::with_activation`] apply it.
fn written_paths(axis: &Axis) -> Vec<Vec<Step>> {
    use crate::model::{shorthand_table, ABSORBER_SHORTHANDS, DENSE_SHORTHANDS};
    use Step::{Every, Key};
    let k = |s: &str| Key(s.to_string());
    let key = axis.key.as_str();
    match key {
        "activation" => {
            // The choice itself, so that two activation axes meet.
            let mut out = vec![vec![k("activation")]];
            let relu = axis.values.iter().any(|v| v == "relu");
            if relu || axis.values.iter().any(|v| v == "linear") {
                out.push(vec![k("elements"), Every("absorber")]);
                out.push(vec![k("name")]);
            }
            if axis.values.iter().any(|v| v == "linear") {
                out.push(vec![k("elements"), Every("relu")]);
            }
            if relu {
                out.push(vec![k("elements"), Every("dense"), k("fidelity")]);
                out.push(vec![k("readout"), k("loss")]);
                out.push(vec![k("readout"), k("temperature")]);
                out.push(vec![k("hardware")]);
            }
            out
        }
        _ if ABSORBER_SHORTHANDS.contains(&key) => {
            vec![vec![k("elements"), Every("absorber"), k(key)]]
        }
        _ if DENSE_SHORTHANDS.contains(&key) => {
            vec![vec![k("elements"), Every("dense"), k(key)]]
        }
        _ if shorthand_table(key).is_some() => {
            vec![vec![k(shorthand_table(key).unwrap_or("train")), k(key)]]
        }
        _ => {
            let mut path = Vec::new();
            for part in key.split('.') {
                match part.split_once('[') {
                    Some((name, rest)) => {
                        path.push(k(name));
                        match rest.trim_end_matches(']').trim().parse::<usize>() {
                            Ok(i) => path.push(Step::Index(i)),
                            Err(_) => path.push(k(rest)),
                        }
                    }
                    None => path.push(k(part)),
                }
            }
            vec![path]
        }
    }
}

/// Whether two written paths touch the same value: equal steps until one path ends. An element
/// index and "every element of a type" meet when the base config's element is of that type.
fn overlap(a: &[Step], b: &[Step], types: &[String]) -> bool {
    for (x, y) in a.iter().zip(b) {
        let same = match (x, y) {
            (Step::Every(t), Step::Index(i)) | (Step::Index(i), Step::Every(t)) => {
                types.get(*i).is_none_or(|have| have == t)
            }
            _ => x == y,
        };
        if !same {
            return false;
        }
    }
    true
}

fn show_path(p: &[Step]) -> String {
    let mut s = String::new();
    for step in p {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
            Step::Every(t) => s.push_str(&format!("[every {t}]")),
        }
    }
    s
}

/// A value as [`Config::set`] reads it (TOML, a bare word as a string), numbers as `f64`, so
/// that `1` and `1.0` compare equal.
fn parsed_value(v: &str) -> toml::Value {
    let v = toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()));
    match v {
        toml::Value::Integer(i) => toml::Value::Float(i as f64),
        other => other,
    }
}

/// Refuses, before any work, axes a sweep could not label truthfully: two axes that write the
/// same config value (aliases included, see the module doc), a value given twice within an axis,
/// or two points that would share a run folder. `flags[i]`, where given, names axis `i` in the
/// messages as the user wrote it (`--od`, `--set train.lr`); otherwise `--set KEY`.
pub fn check_axes(base: &Config, axes: &[Axis], flags: &[String]) -> Result<()> {
    let flag = |i: usize| {
        flags
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("--set {}", axes[i].key))
    };
    for (i, a) in axes.iter().enumerate() {
        if a.values.is_empty() {
            return Err(Error::config(flag(i), "the axis has no values"));
        }
        let parsed: Vec<toml::Value> = a.values.iter().map(|v| parsed_value(v)).collect();
        for j in 0..parsed.len() {
            for k in 0..j {
                if parsed[j] == parsed[k] {
                    let what = if a.values[j] == a.values[k] {
                        format!("{} is given twice", a.values[j])
                    } else {
                        format!(
                            "{} and {} are the same value given twice",
                            a.values[k], a.values[j]
                        )
                    };
                    return Err(Error::config(
                        flag(i),
                        format!(
                            "{what}: the runs would be the same run under one folder; give each value once"
                        ),
                    ));
                }
            }
        }
    }
    let types: Vec<String> = toml::Value::try_from(base)
        .ok()
        .and_then(|r| r.get("elements").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            e.get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let written: Vec<Vec<Vec<Step>>> = axes.iter().map(written_paths).collect();
    for j in 0..axes.len() {
        for i in 0..j {
            let hit = written[i].iter().find_map(|p| {
                written[j].iter().find(|q| overlap(p, q, &types)).map(|q| {
                    if q.len() >= p.len() {
                        q
                    } else {
                        p
                    }
                })
            });
            let Some(path) = hit else { continue };
            let (fi, fj) = (flag(i), flag(j));
            let msg = if axes[i].key == "activation" || axes[j].key == "activation" {
                format!(
                    "both set {}: the relu and linear baselines replace or remove the absorbers (relu also sets the dense fidelity, the loss, the temperature, the hardware and the name), so rows labelled with the other axis would not say what those runs trained with; sweep the baselines in a sweep of their own",
                    show_path(path)
                )
            } else {
                format!(
                    "both set {}: one axis would overwrite the other and the rows would be labelled with values the runs were not trained with; give all the values in one axis",
                    show_path(path)
                )
            };
            return Err(Error::config(format!("{fi} and {fj}"), msg));
        }
    }
    let points = grid(axes);
    let label = |p: &[String]| -> String {
        axes.iter()
            .zip(p)
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (n, p) in points.iter().enumerate() {
        let name = folder_name(axes, p);
        if let Some(&m) = seen.get(&name) {
            return Err(Error::config(
                "sweep",
                format!(
                    "the points {} and {} would share the run folder runs/{name} (a folder name keeps letters, digits and =.-_ only): write the values differently",
                    label(&points[m]),
                    label(p)
                ),
            ));
        }
        seen.insert(name, n);
    }
    Ok(())
}

/// The CSV of finished rows: axis keys, then the metrics.
pub fn csv(axes: &[Axis], rows: &[Row]) -> String {
    let mut s: String = axes
        .iter()
        .map(|a| a.key.clone())
        .collect::<Vec<_>>()
        .join(",");
    s.push_str(",test_accuracy,train_accuracy,train_loss,seconds,images_per_second,run_dir,model_accuracy,hardware_accuracy\n");
    let opt = |v: Option<f64>| v.map(|a| format!("{a:.4}")).unwrap_or_default();
    for r in rows {
        s.push_str(&format!(
            "{},{:.4},{:.4},{:.6},{:.2},{:.1},{},{},{}\n",
            r.values.join(","),
            r.test_accuracy,
            r.train_accuracy,
            r.train_loss,
            r.seconds,
            r.images_per_second,
            r.run_dir,
            opt(r.model_accuracy),
            opt(r.hardware_accuracy),
        ));
    }
    s
}

fn is_seed(key: &str) -> bool {
    key == "seed" || key == "train.seed"
}

/// An axis on the training method: the plot draws one curve per method.
fn is_method(key: &str) -> bool {
    key == "method" || key == "train.method"
}

/// What [`plot`] draws: the x axis (the first axis that is not a seed nor `train.method`;
/// numeric values as numbers, on a log scale when positive and spanning a decade, anything else
/// as categories) and one curve per combination of the other axes (always one per training
/// method, even when the method is the only axis and so the x axis too), each point the mean test accuracy over the `seed` axes
/// (wherever they sit in `axes`) with the sample standard deviation as its error bar. With only
/// seed axes, the first is the x axis and nothing is averaged. Also returns the number of seeds
/// averaged per point (1: none).
pub fn plot_data(
    axes: &[Axis],
    rows: &[Row],
) -> (crate::plot::XAxis, Vec<crate::plot::Curve>, usize) {
    plot_data_of(axes, rows, Metric::Test)
}

/// Which accuracy of a [`Row`] a sweep's plot shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `test_accuracy`: on the system each run trained on.
    Test,
    /// `model_accuracy`: on the ideal model.
    Model,
    /// `hardware_accuracy`: on the imperfect system.
    Hardware,
}

impl Metric {
    /// The metric of a `sweep.csv` column name.
    pub fn of_column(name: &str) -> Option<Metric> {
        match name {
            "test_accuracy" => Some(Metric::Test),
            "model_accuracy" => Some(Metric::Model),
            "hardware_accuracy" => Some(Metric::Hardware),
            _ => None,
        }
    }

    /// In words, for axis labels and titles.
    pub fn words(self) -> &'static str {
        match self {
            Metric::Test => "test accuracy",
            Metric::Model => "model accuracy",
            Metric::Hardware => "hardware accuracy",
        }
    }

    /// The row's value (rows without the column: not plotted).
    pub fn of(self, r: &Row) -> Option<f64> {
        match self {
            Metric::Test => Some(r.test_accuracy),
            Metric::Model => r.model_accuracy,
            Metric::Hardware => r.hardware_accuracy,
        }
    }

    /// What a sweep's `sweep.png` shows: the hardware accuracy when the sweep studies the
    /// imperfect system (an axis on a `hardware.*` key or on `train.target`) and every run
    /// reports it, else the test accuracy.
    pub fn for_sweep(axes: &[Axis], rows: &[Row]) -> Metric {
        let studies_hardware = axes.iter().any(|a| {
            let k = a.key.as_str();
            k.starts_with("hardware.") || k == "train.target" || k == "target"
        });
        if studies_hardware
            && !rows.is_empty()
            && rows.iter().all(|r| r.hardware_accuracy.is_some())
        {
            Metric::Hardware
        } else {
            Metric::Test
        }
    }
}

/// [`plot_data`] of any [`Metric`].
pub fn plot_data_of(
    axes: &[Axis],
    rows: &[Row],
    metric: Metric,
) -> (crate::plot::XAxis, Vec<crate::plot::Curve>, usize) {
    use crate::plot::{Curve, Point, XAxis};
    // The x axis: the first that is neither a seed nor the training method (one curve per
    // method), else the first that is not a seed.
    let xi = axes
        .iter()
        .position(|a| !is_seed(&a.key) && !is_method(&a.key))
        .or_else(|| axes.iter().position(|a| !is_seed(&a.key)))
        .unwrap_or(0);
    let per_method = axes.get(xi).is_some_and(|a| is_method(&a.key));
    let Some(first) = axes.get(xi) else {
        return (
            XAxis::Categories {
                label: String::new(),
                names: Vec::new(),
            },
            Vec::new(),
            1,
        );
    };
    let averaged = |i: usize| i != xi && is_seed(&axes[i].key);
    let xs: Vec<f64> = first
        .values
        .iter()
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
        .collect();
    let numeric = xs.len() == first.values.len();
    let log = numeric
        && xs.iter().all(|&x| x > 0.0)
        && xs.iter().cloned().fold(0.0, f64::max)
            >= 10.0 * xs.iter().cloned().fold(f64::MAX, f64::min);
    let axis = if numeric {
        XAxis::Numeric {
            label: first.key.clone(),
            log,
        }
    } else {
        XAxis::Categories {
            label: first.key.clone(),
            names: first.values.clone(),
        }
    };
    // Per curve: label and, per x, the accuracies.
    type Acc = (String, Vec<(f64, Vec<f64>)>);
    let mut groups: Vec<Acc> = Vec::new();
    let mut seeds = 1;
    for r in rows {
        let Some(v) = r.values.get(xi) else { continue };
        let Some(acc) = metric.of(r) else { continue };
        let x = if numeric {
            match v.trim().parse::<f64>() {
                Ok(x) => x,
                Err(_) => continue,
            }
        } else {
            match first.values.iter().position(|c| c == v) {
                Some(i) => i as f64,
                None => continue,
            }
        };
        let label: Vec<String> = axes
            .iter()
            .zip(&r.values)
            .enumerate()
            .filter(|&(i, _)| (i != xi || per_method) && !averaged(i))
            .map(|(_, (a, v))| format!("{}={v}", a.key))
            .collect();
        let label = if label.is_empty() {
            metric.words().to_string()
        } else {
            label.join(", ")
        };
        let g = match groups.iter_mut().position(|(l, _)| *l == label) {
            Some(i) => &mut groups[i],
            None => {
                groups.push((label, Vec::new()));
                groups.last_mut().expect("just pushed")
            }
        };
        match g.1.iter_mut().find(|p| p.0 == x) {
            Some(p) => p.1.push(acc),
            None => g.1.push((x, vec![acc])),
        }
    }
    let curves = groups
        .into_iter()
        .map(|(label, pts)| {
            let mut points: Vec<Point> = pts
                .into_iter()
                .map(|(x, a)| {
                    let n = a.len() as f64;
                    seeds = seeds.max(a.len());
                    let mean = a.iter().sum::<f64>() / n;
                    let err = if a.len() > 1 {
                        (a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
                    } else {
                        0.0
                    };
                    Point { x, y: mean, err }
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Curve { label, points }
        })
        .collect();
    (axis, curves, seeds)
}

/// Test accuracy against the first axis that is not a seed (see [`plot_data`]): numeric axes as
/// numbers (log scale when spanning decades), categorical ones (tasks, modes, activations) as
/// categories; `seed` axes averaged, with error bars of one standard deviation.
pub fn plot(path: &Path, title: &str, axes: &[Axis], rows: &[Row]) -> Result<()> {
    plot_metric(path, title, axes, rows, Metric::Test)
}

/// [`plot`] of any [`Metric`], named on the y axis.
pub fn plot_metric(
    path: &Path,
    title: &str,
    axes: &[Axis],
    rows: &[Row],
    metric: Metric,
) -> Result<()> {
    if axes.is_empty() {
        return Ok(());
    }
    let (axis, curves, seeds) = plot_data_of(axes, rows, metric);
    let y = if seeds > 1 {
        format!("{} (mean ± s.d. over {seeds} seeds)", metric.words())
    } else {
        metric.words().to_string()
    };
    crate::plot::xy_plot(path, title, &axis, &y, &curves)
}

/// Settings of a sweep beyond [`SweepOptions`]: which share of the grid this process trains,
/// and how often its runs checkpoint.
#[derive(Clone, Debug)]
pub struct PartOptions {
    /// The points this process trains ([`Shard::WHOLE`]: every one). With more than one shard
    /// nothing but the runs is written, until every point is finished: then the shard that
    /// finds them all finished merges ([`merge()`]).
    pub shard: Shard,
    /// Mid-epoch checkpoints of every run after this many seconds of training
    /// ([`RunOptions::checkpoint_every`]).
    pub checkpoint_every: f64,
    /// The command of a shard without its `--shard`, recorded in the folder for the merge's
    /// rerun hints (empty: not recorded).
    pub command: String,
}

impl Default for PartOptions {
    fn default() -> Self {
        PartOptions {
            shard: Shard::WHOLE,
            checkpoint_every: crate::train::CHECKPOINT_EVERY,
            command: String::new(),
        }
    }
}

/// What [`run_part`] did.
#[derive(Debug)]
pub struct PartDone {
    /// The finished rows of this shard's points, in grid order.
    pub rows: Vec<Row>,
    /// Whether this process wrote the sweep's results (`sweep.csv`, `sweep.png`, the panels):
    /// always for a whole sweep, for a shard when it found every point finished.
    pub merged: bool,
}

/// Runs the sweep. `load` gives the train and test splits of a config. Finished runs (a
/// `summary.json` in their folder) are read back, interrupted ones resume from their checkpoint.
/// The axes ([`check_axes`]), every point's config and `opts.out` (`claim_out`) are checked
/// before anything is written; a failed or stopped sweep keeps only finished runs and resumable
/// checkpoints (see the module doc).
pub fn run(
    base: &Config,
    axes: &[Axis],
    opts: &SweepOptions,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<Vec<Row>> {
    run_part(base, axes, opts, &PartOptions::default(), load).map(|d| d.rows)
}

/// [`run`] for the share `part.shard` of the grid (see [`shard`]): the folder's description
/// (`sweep.toml`) and shard count (`shards.json`) are written once by whichever shard comes
/// first and checked by every other; each run folder is locked by the process training it.
pub fn run_part(
    base: &Config,
    axes: &[Axis],
    opts: &SweepOptions,
    part: &PartOptions,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<PartDone> {
    check_part(base, axes, part)?;
    let points = grid(axes);
    // Check every config before any work starts (every shard checks the whole grid, so that
    // a bad point fails every shard alike).
    let nets: Vec<Network> = points
        .iter()
        .map(|p| point_config(base, axes, p)?.resolve())
        .collect::<Result<_>>()?;
    let sharded = part.shard.count > 1;
    let runs = opts.out.join("runs");
    let was = claim_out(&opts.out, &identity(base, axes), sharded)?;
    if sharded {
        let rec = ShardsRecord {
            count: part.shard.count,
            command: part.command.clone(),
        };
        shard::claim_count(&opts.out, &rec)?;
    }
    let mine = part.shard.points(points.len());
    let results: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; points.len()]);
    let maps: Mutex<Vec<Option<Vec<f64>>>> = Mutex::new(vec![None; points.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let record = |e: Error| record_error(&first_err, e);
    let worker = || loop {
        if opts.stop.load(Ordering::SeqCst) {
            return;
        }
        let n = next.fetch_add(1, Ordering::SeqCst);
        let Some(&i) = mine.get(n) else { return };
        let r = run_point(&nets[i], &points[i], axes, &runs, opts, part, load);
        match r {
            Ok((row, map)) => {
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                if opts.progress {
                    let of = if sharded {
                        format!("{}, shard {}", mine.len(), part.shard)
                    } else {
                        points.len().to_string()
                    };
                    eprintln!(
                        "[{n}/{of}] {}: test accuracy {:.2}% ({:.1} s)",
                        folder_name(axes, &points[i]).replace('_', " "),
                        100.0 * row.test_accuracy,
                        row.seconds
                    );
                }
                if let Ok(mut g) = results.lock() {
                    g[i] = Some(row);
                }
                if let Ok(mut g) = maps.lock() {
                    g[i] = map;
                }
                // A shard writes no sweep.csv of its own: the merge writes the sweep's.
                if !sharded {
                    if let Err(e) = write_csv(&opts.out, axes, &results) {
                        record(e);
                    }
                }
            }
            Err(e) => {
                // Recorded before the others are stopped, so that their interruptions do not
                // take this error's place.
                record(e);
                opts.stop.store(true, Ordering::SeqCst);
                return;
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(mine.len()) {
            s.spawn(worker);
        }
    });
    let failed = first_err.into_inner().ok().flatten();
    let finished = done.load(Ordering::SeqCst);
    if failed.is_some() || finished < mine.len() {
        let dirs: Vec<PathBuf> = mine
            .iter()
            .map(|&i| runs.join(folder_name(axes, &points[i])))
            .collect();
        let (kept_done, kept_ckpt) = tidy(&opts.out, &dirs, was, sharded);
        return Err(match failed {
            Some(Error::Interrupted(_)) | None => {
                Error::Interrupted(stopped_message(&opts.out, mine.len(), kept_done, kept_ckpt))
            }
            Some(other) => other,
        });
    }
    let rows: Vec<Row> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    if sharded {
        // The last shard to finish merges: under the folder's merge lock, whichever shard
        // finds every point finished writes the results (one that finishes while another
        // still trains finds a point missing and leaves it to that one).
        let merged = merge::merge_if_complete(&opts.out, base, axes, &nets, opts.backend, load)?;
        return Ok(PartDone { rows, merged });
    }
    let maps: Vec<Option<Vec<f64>>> = maps.into_inner().unwrap_or_default();
    let all: Vec<Option<Row>> = rows.iter().cloned().map(Some).collect();
    let _lock = merge::MergeLock::take(&opts.out)?;
    write_results(&opts.out, base, axes, &nets, &all, &maps)?;
    Ok(PartDone { rows, merged: true })
}

/// Refuses a part with no axis, a bad axis or a negative `checkpoint_every`.
fn check_part(base: &Config, axes: &[Axis], part: &PartOptions) -> Result<()> {
    if axes.is_empty() {
        return Err(Error::config(
            "sweep",
            "nothing to sweep: give at least one axis, e.g. --od 0.1,1,10 or --set train.lr=0.01,0.1",
        ));
    }
    check_axes(base, axes, &[])?;
    if !(part.checkpoint_every.is_finite() && part.checkpoint_every >= 0.0) {
        return Err(Error::config(
            "--checkpoint-every",
            format!(
                "must be a number of seconds ≥ 0, got {}",
                part.checkpoint_every
            ),
        ));
    }
    Ok(())
}

/// Records a run's error in `first_err`: the first error wins, except that a run's own failure
/// wins over the interruptions it causes in the runs next to it.
fn record_error(first_err: &Mutex<Option<Error>>, e: Error) {
    if let Ok(mut f) = first_err.lock() {
        let replace = match &*f {
            None => true,
            Some(Error::Interrupted(_)) => !matches!(e, Error::Interrupted(_)),
            Some(_) => false,
        };
        if replace {
            *f = Some(e);
        }
    }
}

/// `sweep.csv` of the rows finished so far (one entry a point, in grid order).
fn write_csv(out: &Path, axes: &[Axis], results: &Mutex<Vec<Option<Row>>>) -> Result<()> {
    // Holding the lock while writing keeps the CSV's writers in order.
    let guard = results
        .lock()
        .map_err(|_| Error::config("sweep", "a run panicked"))?;
    let rows: Vec<Row> = guard.iter().flatten().cloned().collect();
    crate::io::atomic_write(&out.join("sweep.csv"), csv(axes, &rows).as_bytes())?;
    drop(guard);
    Ok(())
}

/// Writes a sweep's results from its rows and decision maps (one entry a point, in grid
/// order): `sweep.csv` of the finished rows, and when every point is finished `sweep.png` and,
/// when every point has a decision map, `decision_boundaries.png`. A one-machine sweep and a
/// merge of shards both write through here.
fn write_results(
    out: &Path,
    base: &Config,
    axes: &[Axis],
    nets: &[Network],
    rows: &[Option<Row>],
    maps: &[Option<Vec<f64>>],
) -> Result<()> {
    let finished: Vec<Row> = rows.iter().flatten().cloned().collect();
    crate::io::atomic_write(&out.join("sweep.csv"), csv(axes, &finished).as_bytes())?;
    if finished.len() < rows.len() || finished.is_empty() {
        return Ok(());
    }
    let metric = Metric::for_sweep(axes, &finished);
    plot_metric(
        &out.join("sweep.png"),
        &format!("{}: {}", base.name, metric.words()),
        axes,
        &finished,
        metric,
    )?;
    if maps.len() == rows.len() && maps.iter().all(Option::is_some) && !maps.is_empty() {
        use crate::plot::images;
        use crate::train::pictures::boundary_panel;
        let points = grid(axes);
        let ps: Vec<_> = maps
            .iter()
            .zip(&points)
            .zip(nets)
            .filter_map(|((m, p), net)| {
                let title = axes
                    .iter()
                    .zip(p)
                    .map(|(a, v)| format!("{}={v}", a.key))
                    .collect::<Vec<_>>()
                    .join(", ");
                m.as_ref()
                    .map(|m| boundary_panel(title, m, net.config().input.task))
            })
            .collect();
        let cols = axes.last().map(|a| a.values.len()).unwrap_or(3).clamp(1, 6);
        images(
            &out.join("decision_boundaries.png"),
            &format!("{}: decision boundaries and test points", base.name),
            &ps,
            cols,
        )?;
    }
    Ok(())
}

/// The sweep's identity, its `sweep.toml`: a rerun with the same command resumes, a different
/// one is refused.
fn identity(base: &Config, axes: &[Axis]) -> String {
    format!(
        "{}{IDENTITY_AXES}{}",
        base.to_toml(),
        axes.iter()
            .map(|a| format!("{} = {}", a.key, a.values.join(",")))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// What separates the base config from the axes in `sweep.toml`.
const IDENTITY_AXES: &str = "\n# axes\n";

/// The base config and the axes of the sweep folder `out`, read back from its `sweep.toml`
/// (and checked to write the same `sweep.toml` again).
pub fn read_sweep(out: &Path) -> Result<(Config, Vec<Axis>)> {
    let path = out.join("sweep.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(
                "--merge",
                format!(
                    "{} holds no sweep (no sweep.toml): give the folder a sweep or its shards wrote into (their --out)",
                    out.display()
                ),
            ))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let unreadable = |why: String| {
        Error::config(
            "--merge",
            format!(
                "{} cannot be read back ({why}): it was not written by this version of wavetrain; rerun the sweep's command on one machine instead",
                path.display()
            ),
        )
    };
    let (cfg_text, axes_text) = text
        .rsplit_once(IDENTITY_AXES)
        .ok_or_else(|| unreadable("no axes".into()))?;
    let base = Config::from_toml(cfg_text, &path.display().to_string())
        .map_err(|e| unreadable(e.to_string()))?;
    let axes: Vec<Axis> = axes_text
        .lines()
        .map(|l| {
            l.split_once(" = ")
                .map(|(k, v)| Axis {
                    key: k.to_string(),
                    values: v.split(',').map(str::to_string).collect(),
                })
                .ok_or_else(|| unreadable(format!("the axis line '{l}'")))
        })
        .collect::<Result<_>>()?;
    if identity(&base, &axes) != text {
        return Err(unreadable("it does not round-trip".into()));
    }
    Ok((base, axes))
}

/// Refuses, without writing anything, a sweep folder [`run`] would refuse: `out` must be new,
/// empty, or hold this same sweep (its `sweep.toml`).
pub fn check_out(out: &Path, base: &Config, axes: &[Axis]) -> Result<()> {
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(out, e)),
        Ok(m) if !m.is_dir() => Err(not_a_folder(out)),
        Ok(_) => inspect_out(out, &identity(base, axes)).map(|_| ()),
    }
}

/// [`check_out`], and for a shard of `count` shards that a folder already started records the
/// same count.
pub fn check_out_shard(out: &Path, base: &Config, axes: &[Axis], count: usize) -> Result<()> {
    check_out(out, base, axes)?;
    if count > 1 {
        if let Some(rec) = shard::read_record(out)? {
            shard::check_count(out, &rec, count)?;
        }
    }
    Ok(())
}

/// Claims `out` for a sweep without training anything: the folder, `runs/`, `sweep.toml` and,
/// with `count` shards, `shards.json` (with `command`), as the first shard would. Used when
/// job scripts are written ([`submit`]), so that a folder the shards would refuse is refused
/// at submission.
pub fn prepare(
    out: &Path,
    base: &Config,
    axes: &[Axis],
    count: usize,
    command: &str,
) -> Result<()> {
    check_axes(base, axes, &[])?;
    for p in grid(axes) {
        point_config(base, axes, &p)?.resolve()?;
    }
    claim_out(out, &identity(base, axes), true)?;
    if count > 1 {
        shard::claim_count(
            out,
            &ShardsRecord {
                count,
                command: command.to_string(),
            },
        )?;
    }
    Ok(())
}

fn not_a_folder(out: &Path) -> Error {
    Error::config(
        "--out",
        format!(
            "{} is a file, not a folder: give a new or empty folder for the sweep",
            out.display()
        ),
    )
}

/// What the sweep folder was before this sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutWas {
    /// It did not exist: this sweep made it.
    Missing,
    /// An empty folder.
    Empty,
    /// The folder of this same sweep (its `sweep.toml` matches): a resume.
    Same,
}

/// Checks that `out` is a new folder, an empty one or that of the sweep `ident` (its
/// `sweep.toml`), and only then makes it, its `sweep.toml` and its `runs/`. `sweep.toml` is
/// written once (linked into place complete, [`shard::write_once`]) before anything else, so
/// that of two processes starting on one new folder at once one writes it and the other finds
/// it (and is refused if its sweep is another). With `shared` (shards) nothing is removed
/// again when this fails: another shard may be using the folder.
fn claim_out(out: &Path, ident: &str, shared: bool) -> Result<OutWas> {
    let was = match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OutWas::Missing,
        Err(e) => return Err(Error::io(out, e)),
        Ok(m) if !m.is_dir() => return Err(not_a_folder(out)),
        Ok(_) => inspect_out(out, ident)?,
    };
    let runs = out.join("runs");
    let made = std::fs::create_dir_all(out)
        .map_err(|e| Error::io(out, e))
        .and_then(|_| match was {
            OutWas::Same => Ok(()),
            _ => match shard::write_once(&out.join("sweep.toml"), ident.as_bytes())? {
                None => Ok(()),
                Some(other) if other == ident => Ok(()),
                Some(_) => Err(different_sweep(out)),
            },
        })
        .and_then(|_| std::fs::create_dir_all(&runs).map_err(|e| Error::io(&runs, e)));
    if let Err(e) = made {
        if !shared {
            tidy(out, &[], was, false);
        }
        return Err(e);
    }
    Ok(was)
}

fn different_sweep(out: &Path) -> Error {
    Error::config(
        "--out",
        format!(
            "{} holds a different sweep (see its sweep.toml): choose another folder",
            out.display()
        ),
    )
}

/// An existing folder as a sweep folder: empty, this same sweep, or refused (another sweep,
/// a training run's folder, other files), saying what it holds. Temporary files of a write
/// under way (`.NAME.tmp`) do not count.
fn inspect_out(out: &Path, ident: &str) -> Result<OutWas> {
    let ident_path = out.join("sweep.toml");
    match std::fs::read_to_string(&ident_path) {
        Ok(old) if old == ident => return Ok(OutWas::Same),
        Ok(_) => return Err(different_sweep(out)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&ident_path, e)),
    }
    let mut names: Vec<String> = std::fs::read_dir(out)
        .and_then(|d| {
            d.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .map_err(|e| Error::io(out, e))?;
    names.retain(|n| !(n.starts_with('.') && n.ends_with(".tmp")));
    if names.iter().any(|n| n == "sweep.toml") {
        // Linked into place (complete) by a sweep that started at the same moment, since the
        // read above: judge the folder by it.
        return match std::fs::read_to_string(&ident_path) {
            Ok(old) if old == ident => Ok(OutWas::Same),
            Ok(_) => Err(different_sweep(out)),
            Err(e) => Err(Error::io(&ident_path, e)),
        };
    }
    if names.is_empty() {
        return Ok(OutWas::Empty);
    }
    names.sort();
    let run_files: Vec<&str> = ["config.toml", "metrics.csv", "checkpoint.safetensors"]
        .into_iter()
        .filter(|f| names.iter().any(|n| n == f))
        .collect();
    let msg = if !run_files.is_empty() {
        format!(
            "{} is a training run's folder (it holds {}), not a sweep's: a sweep writes sweep.toml, sweep.csv and runs/ into a folder of its own; give a new or empty --out",
            out.display(),
            run_files.join(", ")
        )
    } else {
        let more = match names.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        format!(
            "{} is not empty and holds no sweep (no sweep.toml; it has {}{more}): the sweep's sweep.csv and runs/ would be mixed with these files; give a new or empty --out, or the folder of this same sweep to resume it",
            out.display(),
            names[..names.len().min(5)].join(", ")
        )
    };
    Err(Error::config("--out", msg))
}

/// After a failed or stopped sweep: removes the run folders among `dirs` that hold neither a
/// finished run (`summary.json`) nor a checkpoint, and that no other process holds (their
/// `run.lock`); when no run is kept, the sweep folder was new or empty before this sweep and
/// it is not `shared` by shards, removes what the sweep wrote there, and the folder itself
/// when this sweep made it. Returns the finished and the resumable runs kept.
fn tidy(out: &Path, dirs: &[PathBuf], was: OutWas, shared: bool) -> (usize, usize) {
    let (mut finished, mut resumable) = (0, 0);
    for d in dirs {
        if d.join("summary.json").exists() {
            finished += 1;
        } else if d.join("checkpoint.safetensors").exists() {
            resumable += 1;
        } else if d.exists() {
            // Removed only while this process holds its lock: a folder another process is
            // starting a run in stays.
            if let Ok(lock) = RunDir::open_existing(d) {
                if !d.join("checkpoint.safetensors").exists() {
                    let _ = std::fs::remove_dir_all(d);
                }
                drop(lock);
            }
        }
    }
    if finished + resumable == 0 && was != OutWas::Same && !shared {
        // `remove_dir` removes empty folders only: anything else put there stays.
        let _ = std::fs::remove_dir(out.join("runs"));
        for f in [
            "sweep.toml",
            "sweep.csv",
            "sweep.png",
            "decision_boundaries.png",
            merge::MERGE_LOCK,
        ] {
            let _ = std::fs::remove_file(out.join(f));
        }
        if was == OutWas::Missing {
            let _ = std::fs::remove_dir(out);
        }
    }
    (finished, resumable)
}

/// What a stopped sweep kept, and how to resume it.
fn stopped_message(out: &Path, runs: usize, finished: usize, resumable: usize) -> String {
    if finished + resumable == 0 {
        let removed = if out.exists() {
            String::new()
        } else {
            format!(" (removed {}, which it had made)", out.display())
        };
        return format!(
            "sweep stopped before any of its {runs} runs made progress; nothing was kept{removed}"
        );
    }
    let csv = if finished > 0 && out.join("sweep.csv").exists() {
        format!(" (in {})", out.join("sweep.csv").display())
    } else {
        String::new()
    };
    format!(
        "sweep stopped: {finished} of {runs} runs finished{csv}, {resumable} can resume from a checkpoint in {}; run the same command again to resume",
        out.join("runs").display()
    )
}

/// A finished run of the sweep, read back from its folder `dir` (`summary.json`): its row
/// and, for a 2-D task, its decision map, drawn again from its checkpoint (the data is only
/// needed for that). `None` when the run is not finished.
fn finished_point(
    net: &Network,
    values: &[String],
    dir: &Path,
    backend: BackendChoice,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<Option<(Row, Option<Vec<f64>>)>> {
    let cfg = net.config();
    let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
        return Ok(None);
    };
    let Ok(s) = serde_json::from_str::<Summary>(&text) else {
        return Ok(None);
    };
    let ckpt = dir.join("checkpoint.safetensors");
    let map = if cfg.input.task.is_some() && ckpt.exists() {
        let (_, test) = load(cfg)?;
        let ck = crate::checkpoint::Checkpoint::load(&ckpt)?;
        let mut b = make_backend(backend, None, &ck.network, &ck.state)?;
        Some(crate::train::decision_map(cfg, b.as_mut(), &test)?)
    } else {
        None
    };
    Ok(Some((row_of(values, &s, dir), map)))
}

fn run_point(
    net: &Network,
    values: &[String],
    axes: &[Axis],
    runs: &Path,
    opts: &SweepOptions,
    part: &PartOptions,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<(Row, Option<Vec<f64>>)> {
    let cfg = net.config();
    let dir = runs.join(folder_name(axes, values));
    if let Some(done) = finished_point(net, values, &dir, opts.backend, load)? {
        return Ok(done);
    }
    // The run folder is this process's while it trains the point: a second process (the same
    // shard started twice, or a whole sweep next to the shards) is refused. The lock is the
    // OS's (released when the process dies, however it dies), so a resubmitted shard finds it
    // free.
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let _lock = RunDir::open_existing(&dir).map_err(|e| match e {
        Error::Config { message, .. } => Error::config(
            "sweep",
            format!("{message} (is a shard of this sweep running twice, or a whole sweep next to its shards?)"),
        ),
        other => other,
    })?;
    // Finished by another process while this one waited for the lock.
    if let Some(done) = finished_point(net, values, &dir, opts.backend, load)? {
        return Ok(done);
    }
    let summary_path = dir.join("summary.json");
    let ckpt = dir.join("checkpoint.safetensors");
    let (train, test) = load(cfg)?;
    let resume = if ckpt.exists() {
        let ck = crate::checkpoint::Checkpoint::load(&ckpt)?;
        if ck.config() != cfg {
            return Err(Error::config(
                "sweep",
                format!(
                    "{} holds a run of a different config: remove it or choose another --out",
                    dir.display()
                ),
            ));
        }
        if opts.progress {
            eprintln!(
                "{}: resuming from its checkpoint after {} epochs and {} batches",
                folder_name(axes, values).replace('_', " "),
                ck.progress.epoch,
                ck.progress.batch
            );
        }
        Some(ck)
    } else {
        // A folder without a checkpoint is a run that never got anywhere: start it again
        // (keeping the lock this process holds).
        clear_except_lock(&dir)?;
        None
    };
    let fresh = resume.is_none();
    let state = match &resume {
        Some(ck) => ck.state.clone(),
        None => net.initial_state(),
    };
    let mut backend = make_backend(opts.backend, None, net, &state)?;
    let ro = RunOptions {
        out: dir.clone(),
        progress: false,
        stop: opts.stop.clone(),
        resume: resume.map(|c| c.progress),
        pictures: true,
        checkpoint_every: Some(part.checkpoint_every),
    };
    let s = train_run(net, backend.as_mut(), &train, &test, &ro).inspect_err(|e| {
        // A fresh run stopped before its first batch keeps a checkpoint of nothing.
        if fresh && matches!(e, Error::Interrupted(_)) {
            let nothing = crate::checkpoint::Checkpoint::load(&ckpt)
                .is_ok_and(|c| c.progress.epoch == 0 && c.progress.batch == 0);
            if nothing {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    })?;
    crate::io::atomic_write(
        &summary_path,
        serde_json::to_string_pretty(&s)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    let map = if cfg.input.task.is_some() {
        Some(crate::train::decision_map(cfg, backend.as_mut(), &test)?)
    } else {
        None
    };
    Ok((row_of(values, &s, &dir), map))
}

/// Removes everything in `dir` but its lock file.
fn clear_except_lock(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.file_name().is_some_and(|n| n == crate::rundir::LOCK_FILE) {
            continue;
        }
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

fn row_of(values: &[String], s: &Summary, dir: &Path) -> Row {
    Row {
        values: values.to_vec(),
        test_accuracy: s.test_accuracy,
        model_accuracy: s.model_accuracy,
        hardware_accuracy: s.hardware_accuracy,
        train_accuracy: s.train_accuracy,
        train_loss: s.train_loss,
        seconds: s.seconds,
        images_per_second: s.images_per_second,
        run_dir: dir.display().to_string(),
    }
}
