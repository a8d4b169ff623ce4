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

fn is_seed(key: &str) -> bool {
    key == "seed" || key == "train.seed"
}

/// What [`plot`] draws: the x axis (the first axis that is not a seed; numeric values as numbers,
/// on a log scale when positive and spanning a decade, anything else as categories) and one curve
/// per combination of the other axes, each point the mean test accuracy over the `seed` axes
/// (wherever they sit in `axes`) with the sample standard deviation as its error bar. With only
/// seed axes, the first is the x axis and nothing is averaged. Also returns the number of seeds
/// averaged per point (1: none).
pub fn plot_data(
    axes: &[Axis],
    rows: &[Row],
) -> (crate::plot::XAxis, Vec<crate::plot::Curve>, usize) {
    use crate::plot::{Curve, Point, XAxis};
    let xi = axes.iter().position(|a| !is_seed(&a.key)).unwrap_or(0);
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
            .filter(|&(i, _)| i != xi && !averaged(i))
            .map(|(_, (a, v))| format!("{}={v}", a.key))
            .collect();
        let label = if label.is_empty() {
            "test accuracy".to_string()
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
            Some(p) => p.1.push(r.test_accuracy),
            None => g.1.push((x, vec![r.test_accuracy])),
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
    if axes.is_empty() {
        return Ok(());
    }
    let (axis, curves, seeds) = plot_data(axes, rows);
    let y = if seeds > 1 {
        format!("test accuracy (mean ± s.d. over {seeds} seeds)")
    } else {
        "test accuracy".to_string()
    };
    crate::plot::xy_plot(path, title, &axis, &y, &curves)
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
        use crate::plot::images;
        use crate::train::pictures::boundary_panel;
        let ps: Vec<_> = maps
            .iter()
            .zip(&points)
            .zip(&nets)
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
            &opts.out.join("decision_boundaries.png"),
            &format!("{}: decision boundaries and test points", base.name),
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
