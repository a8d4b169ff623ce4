//! Parameter sweeps: one network trained over the Cartesian product of config values, runs in
//! parallel where the machine allows, each in its own folder (so an interrupted sweep resumes
//! where it stopped), one CSV of results and a plot of test accuracy against the first swept
//! value (the papers' accuracy-vs-optical-depth figure).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::{Activation, Config};
use crate::network::Network;
use crate::run::{make_backend, train_run, BackendChoice};
use crate::train::{RunOptions, Summary};

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

/// The config of one point of the grid.
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

/// The CSV of finished rows: axis keys, then the metrics.
pub fn csv(axes: &[Axis], rows: &[Row]) -> String {
    let mut s: String = axes
        .iter()
        .map(|a| a.key.clone())
        .collect::<Vec<_>>()
        .join(",");
    s.push_str(",test_accuracy,train_accuracy,train_loss,seconds,images_per_second,run_dir\n");
    for r in rows {
        s.push_str(&format!(
            "{},{:.4},{:.4},{:.6},{:.2},{:.1},{}\n",
            r.values.join(","),
            r.test_accuracy,
            r.train_accuracy,
            r.train_loss,
            r.seconds,
            r.images_per_second,
            r.run_dir
        ));
    }
    s
}

/// Test accuracy against the first axis: one curve per combination of the other axes (a
/// `seed` axis is averaged), logarithmic x when the values are positive and span a decade.
pub fn plot(path: &Path, title: &str, axes: &[Axis], rows: &[Row]) -> Result<()> {
    use crate::plot::{line_plot, Series};
    let Some(first) = axes.first() else {
        return Ok(());
    };
    let xs: Vec<f64> = first
        .values
        .iter()
        .filter_map(|v| v.parse::<f64>().ok())
        .collect();
    let numeric = xs.len() == first.values.len();
    let log = numeric
        && xs.iter().all(|&x| x > 0.0)
        && xs.iter().cloned().fold(0.0, f64::max)
            >= 10.0 * xs.iter().cloned().fold(f64::MAX, f64::min);
    let xval = |i: usize, v: &str| -> f64 {
        match (numeric, v.parse::<f64>()) {
            (true, Ok(x)) if log => x.log10(),
            (true, Ok(x)) => x,
            _ => i as f64,
        }
    };
    // Per curve: label and points (x, accuracy sum, count).
    type Curve = (String, Vec<(f64, f64, usize)>);
    let mut groups: Vec<Curve> = Vec::new();
    for r in rows {
        let label: Vec<String> = axes
            .iter()
            .zip(&r.values)
            .skip(1)
            .filter(|(a, _)| a.key != "seed" && a.key != "train.seed")
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect();
        let label = if label.is_empty() {
            "test accuracy".to_string()
        } else {
            label.join(", ")
        };
        let xi = first
            .values
            .iter()
            .position(|v| *v == r.values[0])
            .unwrap_or(0);
        let x = xval(xi, &r.values[0]);
        let g = match groups.iter_mut().find(|(l, _)| *l == label) {
            Some(g) => g,
            None => {
                groups.push((label, Vec::new()));
                groups.last_mut().expect("just pushed")
            }
        };
        match g.1.iter_mut().find(|p| p.0 == x) {
            Some(p) => {
                p.1 += r.test_accuracy;
                p.2 += 1;
            }
            None => g.1.push((x, r.test_accuracy, 1)),
        }
    }
    let series: Vec<Series> = groups
        .iter()
        .map(|(l, pts)| {
            let mut p: Vec<(f64, f64)> = pts.iter().map(|&(x, s, n)| (x, s / n as f64)).collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                label: l,
                points: p,
            }
        })
        .collect();
    let xl = if log {
        format!("log10({})", first.key)
    } else if numeric {
        first.key.clone()
    } else {
        format!("{} ({})", first.key, first.values.join(", "))
    };
    line_plot(path, title, &xl, "test accuracy", &series)
}

/// Runs the sweep. `load` gives the train and test splits of a config. Finished runs (a
/// `summary.json` in their folder) are read back, interrupted ones resume from their checkpoint.
pub fn run(
    base: &Config,
    axes: &[Axis],
    opts: &SweepOptions,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<Vec<Row>> {
    if axes.is_empty() {
        return Err(Error::config(
            "sweep",
            "nothing to sweep: give at least one axis, e.g. --od 0.1,1,10 or --set train.lr=0.01,0.1",
        ));
    }
    let points = grid(axes);
    // Check every config before any work starts.
    let nets: Vec<Network> = points
        .iter()
        .map(|p| point_config(base, axes, p)?.resolve())
        .collect::<Result<_>>()?;
    let runs = opts.out.join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| Error::io(&runs, e))?;
    // The sweep's identity: a rerun with the same command resumes, a different one is refused.
    let ident = format!(
        "{}\n# axes\n{}",
        base.to_toml(),
        axes.iter()
            .map(|a| format!("{} = {}", a.key, a.values.join(",")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let ident_path = opts.out.join("sweep.toml");
    match std::fs::read_to_string(&ident_path) {
        Ok(old) if old != ident => {
            return Err(Error::config(
                "--out",
                format!(
                    "{} holds a different sweep (see its sweep.toml): choose another folder",
                    opts.out.display()
                ),
            ))
        }
        Ok(_) => {}
        Err(_) => crate::io::atomic_write(&ident_path, ident.as_bytes())?,
    }
    let results: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; points.len()]);
    let maps: Mutex<Vec<Option<Vec<f64>>>> = Mutex::new(vec![None; points.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let write_outputs = |final_pass: bool| -> Result<()> {
        // Holding the lock while writing keeps the CSV's writers in order.
        let guard = results
            .lock()
            .map_err(|_| Error::config("sweep", "a run panicked"))?;
        let rows: Vec<Row> = guard.iter().flatten().cloned().collect();
        crate::io::atomic_write(&opts.out.join("sweep.csv"), csv(axes, &rows).as_bytes())?;
        if final_pass && !rows.is_empty() {
            plot(
                &opts.out.join("sweep.png"),
                &format!("{}: test accuracy", base.name),
                axes,
                &rows,
            )?;
        }
        drop(guard);
        Ok(())
    };
    let worker = || loop {
        if opts.stop.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= points.len() {
            return;
        }
        let r = run_point(&nets[i], &points[i], axes, &runs, opts, load);
        match r {
            Ok((row, map)) => {
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                if opts.progress {
                    eprintln!(
                        "[{n}/{}] {}: test accuracy {:.2}% ({:.1} s)",
                        points.len(),
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
                if let Err(e) = write_outputs(false) {
                    if let Ok(mut f) = first_err.lock() {
                        f.get_or_insert(e);
                    }
                }
            }
            Err(e) => {
                opts.stop.store(true, Ordering::SeqCst);
                if let Ok(mut f) = first_err.lock() {
                    f.get_or_insert(e);
                }
                return;
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(points.len()) {
            s.spawn(worker);
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(match e {
            Error::Interrupted(_) => Error::Interrupted(format!(
                "sweep stopped; finished runs are in {}. Run the same command again to resume",
                opts.out.join("sweep.csv").display()
            )),
            other => other,
        });
    }
    write_outputs(true)?;
    let maps: Vec<Option<Vec<f64>>> = maps.into_inner().unwrap_or_default();
    if maps.iter().all(Option::is_some) && !maps.is_empty() {
        use crate::plot::{panels, Panel};
        let titles: Vec<String> = points
            .iter()
            .map(|p| folder_name(axes, p).replace('_', " "))
            .collect();
        let ps: Vec<Panel> = maps
            .iter()
            .zip(&titles)
            .filter_map(|(m, t)| {
                m.as_ref().map(|m| Panel {
                    title: t.clone(),
                    data: m,
                    nx: crate::train::BOUNDARY_SIDE,
                    ny: crate::train::BOUNDARY_SIDE,
                    cyclic: false,
                })
            })
            .collect();
        let cols = axes.last().map(|a| a.values.len()).unwrap_or(3).clamp(1, 6);
        panels(
            &opts.out.join("decision_boundaries.png"),
            &format!("{}: decision boundaries", base.name),
            &ps,
            cols,
        )?;
    }
    Ok(results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

fn run_point(
    net: &Network,
    values: &[String],
    axes: &[Axis],
    runs: &Path,
    opts: &SweepOptions,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<(Row, Option<Vec<f64>>)> {
    let cfg = net.config();
    let dir = runs.join(folder_name(axes, values));
    let summary_path = dir.join("summary.json");
    let ckpt = dir.join("checkpoint.safetensors");
    if let Ok(text) = std::fs::read_to_string(&summary_path) {
        if let Ok(s) = serde_json::from_str::<Summary>(&text) {
            // A finished run: the data is only needed again to redraw a 2-D decision boundary.
            let map = if cfg.input.task.is_some() && ckpt.exists() {
                let (_, test) = load(cfg)?;
                let ck = crate::checkpoint::Checkpoint::load(&ckpt)?;
                let mut b = make_backend(opts.backend, None, &ck.network, &ck.state)?;
                Some(crate::train::decision_map(cfg, b.as_mut(), &test)?)
            } else {
                None
            };
            return Ok((row_of(values, &s, &dir), map));
        }
    }
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
        Some(ck)
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        None
    };
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
        checkpoint_every: Some(crate::train::CHECKPOINT_EVERY),
    };
    let s = train_run(net, backend.as_mut(), &train, &test, &ro)?;
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

fn row_of(values: &[String], s: &Summary, dir: &Path) -> Row {
    Row {
        values: values.to_vec(),
        test_accuracy: s.test_accuracy,
        train_accuracy: s.train_accuracy,
        train_loss: s.train_loss,
        seconds: s.seconds,
        images_per_second: s.images_per_second,
        run_dir: dir.display().to_string(),
    }
}
