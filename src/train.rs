//! The trainer: epochs of pump/probe steps on a backend, metrics, checkpoints, pictures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, EpochMetrics, Progress};
use crate::cpu::{CpuNetwork, DenseNetwork, State};
use crate::data::{encode, epoch_order, Split};
use crate::error::{Error, Result};
use crate::loss::LossStats;
use crate::model::Config;

/// A compute engine that runs a network's plan.
pub trait Backend {
    /// Human-readable name, e.g. `"cpu (2 threads)"` or the GPU adapter.
    fn name(&self) -> String;
    /// One training step on encoded inputs `[batch][ny][nx]`.
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats>;
    /// Detector powers `[batch][classes]` for encoded inputs.
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>>;
    /// Parameters and optimiser state.
    fn state(&mut self) -> Result<State>;
    /// Mean `s = I/I_sat` entering each absorber for these inputs.
    fn absorber_intensity(&mut self, input: &[f32]) -> Result<Vec<f64>>;
    /// Name of the first element (pump order) producing a non-finite field for these inputs.
    fn locate_fault(&mut self, input: &[f32]) -> Result<Option<String>>;
}

/// The network a CPU backend runs.
pub enum CpuNet {
    /// A field on a grid (diffractive network).
    Field(Box<CpuNetwork<f32>>),
    /// Dense (matrix–vector) layers.
    Dense(Box<DenseNetwork<f32>>),
}

/// The CPU backend (f32).
pub struct CpuBackend {
    net: CpuNet,
    names: Vec<String>,
}

impl CpuBackend {
    /// A CPU backend for `cfg` starting from `state`.
    pub fn new(cfg: &Config, state: &State) -> Result<Self> {
        if cfg.is_dense() {
            Ok(CpuBackend {
                net: CpuNet::Dense(Box::new(DenseNetwork::new(cfg, state)?)),
                names: DenseNetwork::<f32>::element_names(cfg),
            })
        } else {
            Ok(CpuBackend {
                net: CpuNet::Field(Box::new(CpuNetwork::new(cfg, state)?)),
                names: crate::plan::Plan::new(cfg)?.names,
            })
        }
    }
    /// The underlying network.
    pub fn network(&mut self) -> &mut CpuNet {
        &mut self.net
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
    fn train_step(&mut self, input: &[f32], labels: &[u8]) -> Result<LossStats> {
        Ok(match &mut self.net {
            CpuNet::Field(n) => n.train_step(input, labels),
            CpuNet::Dense(n) => n.train_step(input, labels),
        })
    }
    fn predict(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        Ok(match &mut self.net {
            CpuNet::Field(n) => n.forward(input, None).to_vec(),
            CpuNet::Dense(n) => n.forward(input).to_vec(),
        })
    }
    fn state(&mut self) -> Result<State> {
        Ok(match &mut self.net {
            CpuNet::Field(n) => n.state(),
            CpuNet::Dense(n) => n.state(),
        })
    }
    fn absorber_intensity(&mut self, input: &[f32]) -> Result<Vec<f64>> {
        Ok(match &mut self.net {
            CpuNet::Field(n) => n.absorber_intensity(input),
            CpuNet::Dense(n) => n.absorber_intensity(input),
        })
    }
    fn locate_fault(&mut self, input: &[f32]) -> Result<Option<String>> {
        let at = match &mut self.net {
            CpuNet::Field(n) => n.locate_fault(input),
            CpuNet::Dense(n) => n.locate_fault(input),
        };
        Ok(at.and_then(|i| self.names.get(i).cloned()))
    }
}

/// Bytes the buffers of a training step of `cfg` need on the CPU, by formula (8 bytes a complex
/// sample), plus parameters, gradients and Adam moments. Dense networks: every activation (twice:
/// pump and probe) and the weights, gradients and moments. Field networks: the field, the probe,
/// the saved fields the gradient mode keeps (the optical gradient keeps each absorber's
/// transmission, one `f32` per sample, instead of the field entering it), and the free-space
/// working buffers of each chunk of the batch (four chunks per thread, each with its own): the
/// `ny` padded rows twice (`2·ny·lx`), a group of eight padded columns twice (`16·ly`) and the
/// FFT scratch, at the transform lengths `lx × ly` the step runs.
pub fn training_memory(cfg: &Config) -> Result<u64> {
    let b = cfg.train.batch as u64;
    if cfg.is_dense() {
        cfg.validate()?;
        let dims = cfg.dense_dims();
        let w: u64 = dims.iter().map(|(i, o)| (i * o) as u64).sum();
        let acts: u64 =
            cfg.input_len() as u64 + dims.iter().map(|(_, o)| 2 * *o as u64).sum::<u64>();
        return Ok(4u64.saturating_mul(4 * w + 2 * b.saturating_mul(acts)));
    }
    let plan = crate::plan::Plan::new(cfg)?;
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let n = (nx * ny) as u64;
    let f = 8u64.saturating_mul(b).saturating_mul(n);
    let params: u64 = plan.params.iter().map(|p| p.len() as u64).sum();
    let optical = cfg.train.gradient == crate::model::GradientMode::Optical;
    let absorber_saves = plan
        .pump
        .iter()
        .filter(|s| matches!(s.op, crate::plan::Op::Absorber { .. }) && s.save.is_some())
        .count();
    let (slots, kept_t) = if optical {
        (plan.slots - absorber_saves, plan.absorbers.len())
    } else {
        (plan.slots, 0)
    };
    let scratch = if plan.propagators.is_empty() {
        0
    } else {
        let (qx, qy) = (
            crate::grid::padded_len(nx, cfg.optics.padding),
            crate::grid::padded_len(ny, cfg.optics.padding),
        );
        use crate::optics::{transform_size_for, ColumnEngine, FftSizes};
        let engine = ColumnEngine::for_precision::<f32>();
        let (lx, ly) = transform_size_for(nx, ny, qx, qy, FftSizes::Auto, engine);
        // Row buffers (in and out), 16 lines of columns (8 padded and their spectra, or a strip's
        // two planes of 16 lanes), and rustfft's scratch.
        let per_chunk = 2 * ny * lx + 16 * ly + lx.max(ly);
        let chunks = (4 * rayon::current_num_threads().max(1)).min(cfg.train.batch.max(1));
        8u64.saturating_mul((per_chunk * chunks) as u64)
    };
    Ok(f.saturating_mul(2 + slots as u64)
        .saturating_add(4u64.saturating_mul(b).saturating_mul(n) * kept_t as u64)
        .saturating_add(scratch)
        .saturating_add(16 * params))
}

/// Refuses, before any work, a configuration whose buffers ([`training_memory`]) would not fit
/// in the memory this machine has available (Linux `MemAvailable`; no check elsewhere).
pub fn check_memory(cfg: &Config) -> Result<()> {
    let need = training_memory(cfg)?;
    let avail = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    if let Some(avail) = avail {
        if need > avail {
            let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
            return Err(Error::config(
                "train.batch",
                format!(
                    "a training step of batch {} needs about {:.1} GiB of buffers, but this machine has {:.1} GiB available: use a smaller batch (--batch) or grid",
                    cfg.train.batch,
                    gib(need),
                    gib(avail)
                ),
            ));
        }
    }
    Ok(())
}

/// Initial parameters for `cfg` (dense or field network), drawn from `cfg.train.seed`.
pub fn initial_state(cfg: &Config) -> Result<State> {
    if cfg.is_dense() {
        cfg.validate()?;
        Ok(crate::cpu::dense::init_state(cfg))
    } else {
        Ok(State::init(&crate::plan::Plan::new(cfg)?, cfg.train.seed))
    }
}

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
}

/// The final metrics of a run (the `--json` line).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Mean training loss of the last epoch.
    pub train_loss: f64,
    /// Training accuracy of the last epoch.
    pub train_accuracy: f64,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
    /// Mean training throughput over the run.
    pub images_per_second: f64,
    /// Total wall time, seconds.
    pub seconds: f64,
    /// Backend name.
    pub backend: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Run folder.
    pub run_dir: String,
}

/// Test-set accuracy and confusion matrix `[true][predicted]`.
pub fn evaluate(
    backend: &mut dyn Backend,
    cfg: &Config,
    split: &Split,
) -> Result<(f64, Vec<Vec<usize>>)> {
    let per = cfg.input_len();
    let k = cfg.readout.classes;
    let batch = cfg.train.batch.min(split.len()).max(1);
    let mut conf = vec![vec![0usize; k]; k];
    let mut input = vec![0.0f32; batch * per];
    let idx: Vec<usize> = (0..split.len()).collect();
    for chunk in idx.chunks(batch) {
        let inp = &mut input[..chunk.len() * per];
        encode(cfg, split, chunk, inp);
        let p = backend.predict(inp)?;
        for (b, &i) in chunk.iter().enumerate() {
            let row = &p[b * k..(b + 1) * k];
            let pred = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
            conf[split.labels[i] as usize][pred] += 1;
        }
    }
    let correct: usize = (0..k).map(|i| conf[i][i]).sum();
    Ok((correct as f64 / split.len() as f64, conf))
}

/// Absorber operating points for the first training batch, with a warning for each absorber that
/// is effectively linear (far below saturation: a plain attenuator; far above: transparent).
pub fn absorber_report(
    backend: &mut dyn Backend,
    cfg: &Config,
    train: &Split,
) -> Result<(Vec<f64>, Vec<String>)> {
    let n = cfg.train.batch.min(train.len());
    let idx: Vec<usize> = epoch_order(train.len(), cfg.train.seed, 0)[..n].to_vec();
    let mut input = vec![0.0f32; n * cfg.input_len()];
    encode(cfg, train, &idx, &mut input);
    let s = backend.absorber_intensity(&input)?;
    let mut warnings = Vec::new();
    for (i, &m) in s.iter().enumerate() {
        if m < 0.05 {
            warnings.push(format!("absorber {i}: mean s = {m:.3} I_sat is far below saturation: it acts as a plain attenuator (field × e^(−α₀/2)), not a nonlinearity; raise input.intensity"));
        } else if m > 50.0 {
            warnings.push(format!("absorber {i}: mean s = {m:.1} I_sat is far above saturation: it is nearly transparent and linear; lower input.intensity or raise the optical depth"));
        }
    }
    Ok((s, warnings))
}

fn metrics_csv(history: &[EpochMetrics]) -> String {
    let mut s =
        String::from("epoch,train_loss,train_accuracy,test_accuracy,images_per_second,seconds\n");
    for m in history {
        s.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.2},{:.3}\n",
            m.epoch,
            m.train_loss,
            m.train_accuracy,
            m.test_accuracy,
            m.images_per_second,
            m.seconds
        ));
    }
    s
}

/// Trains `cfg` on `train`, evaluating on `test` after every epoch; writes `config.toml`,
/// `metrics.csv`, `checkpoint.safetensors` and pictures into the run folder.
pub fn train(
    cfg: &Config,
    train: &Split,
    test: &Split,
    backend: &mut dyn Backend,
    opts: &RunOptions,
) -> Result<Summary> {
    let per = cfg.input_len();
    let n_train = cfg.train.max_train.unwrap_or(train.len()).min(train.len());
    let batch = cfg.train.batch;
    let batches = n_train.div_ceil(batch);
    let mut progress = opts.resume.clone().unwrap_or_default();
    let ckpt_path = opts.out.join("checkpoint.safetensors");
    crate::io::atomic_write(&opts.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let start = Instant::now();
    let mut input = vec![0.0f32; batch * per];
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
    let fault_step: Option<usize> = std::env::var("WAVETRAIN_FAULT_STEP")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut total_images = 0usize;
    let mut total_train_secs = 0.0f64;
    let save = |state: State, progress: &Progress| -> Result<()> {
        Checkpoint {
            config: cfg.clone(),
            state,
            progress: progress.clone(),
        }
        .save(&ckpt_path)
    };
    while progress.epoch < cfg.train.epochs {
        let epoch = progress.epoch;
        bar.set_prefix(format!("{}/{}", epoch + 1, cfg.train.epochs));
        let order = epoch_order(train.len(), cfg.train.seed, epoch);
        let order = &order[..n_train];
        let epoch_start = Instant::now();
        let secs_before = progress.seconds;
        while progress.batch < batches {
            if opts.stop.load(Ordering::SeqCst) {
                bar.abandon();
                save(backend.state()?, &progress)?;
                return Err(Error::Interrupted(format!(
                    "stopped at epoch {}, batch {}/{}; checkpoint written to {}. Resume with: wavetrain train --resume {}",
                    epoch + 1,
                    progress.batch,
                    batches,
                    ckpt_path.display(),
                    opts.out.display()
                )));
            }
            let idx = &order[progress.batch * batch..((progress.batch + 1) * batch).min(n_train)];
            let inp = &mut input[..idx.len() * per];
            encode(cfg, train, idx, inp);
            let labels: Vec<u8> = idx.iter().map(|&i| train.labels[i]).collect();
            if fault_step == Some(epoch * batches + progress.batch + 1) {
                // Testing hook (WAVETRAIN_FAULT_STEP): poison this step's input.
                inp[0] = f32::NAN;
            }
            let t0 = Instant::now();
            let stats = backend.train_step(inp, &labels)?;
            let dt = t0.elapsed().as_secs_f64();
            if !stats.loss_sum.is_finite() {
                bar.abandon();
                let step = epoch * batches + progress.batch + 1;
                let at = backend.locate_fault(inp)?;
                let place = match at {
                    Some(name) => format!("the field first became non-finite after {name}"),
                    None => "the fields are finite: the loss or a gradient overflowed (lower train.lr or input.intensity)".into(),
                };
                return Err(Error::Numerical(format!(
                    "loss is {} at step {step} (epoch {}, batch {}); {place}. The last good checkpoint (if any) is kept at {}",
                    stats.loss_sum,
                    epoch + 1,
                    progress.batch + 1,
                    ckpt_path.display()
                )));
            }
            progress.loss_sum += stats.loss_sum;
            progress.correct += stats.correct;
            progress.seen += idx.len();
            progress.batch += 1;
            progress.seconds += dt;
            total_images += idx.len();
            total_train_secs += dt;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.1}% {:.0} img/s",
                progress.loss_sum / progress.seen as f64,
                100.0 * progress.correct as f64 / progress.seen as f64,
                progress.seen as f64 / progress.seconds.max(1e-9)
            ));
        }
        let (test_acc, _) = evaluate(backend, cfg, test)?;
        let m = EpochMetrics {
            epoch: epoch + 1,
            train_loss: progress.loss_sum / progress.seen.max(1) as f64,
            train_accuracy: progress.correct as f64 / progress.seen.max(1) as f64,
            test_accuracy: test_acc,
            images_per_second: progress.seen as f64 / progress.seconds.max(1e-9),
            seconds: epoch_start.elapsed().as_secs_f64() + secs_before,
        };
        bar.println(format!(
            "epoch {:>3}: train loss {:.4}, train accuracy {:.2}%, test accuracy {:.2}%, {:.0} images/s",
            m.epoch,
            m.train_loss,
            100.0 * m.train_accuracy,
            100.0 * m.test_accuracy,
            m.images_per_second
        ));
        progress.history.push(m);
        progress = Progress {
            epoch: epoch + 1,
            history: std::mem::take(&mut progress.history),
            ..Default::default()
        };
        crate::io::atomic_write(
            &opts.out.join("metrics.csv"),
            metrics_csv(&progress.history).as_bytes(),
        )?;
        save(backend.state()?, &progress)?;
    }
    bar.finish_and_clear();
    if opts.pictures {
        pictures(cfg, backend, test, &progress.history, &opts.out)?;
    }
    let last = progress.history.last().cloned().unwrap_or(EpochMetrics {
        epoch: 0,
        train_loss: f64::NAN,
        train_accuracy: 0.0,
        test_accuracy: 0.0,
        images_per_second: 0.0,
        seconds: 0.0,
    });
    Ok(Summary {
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy,
        test_accuracy: last.test_accuracy,
        images_per_second: if total_train_secs > 0.0 {
            total_images as f64 / total_train_secs
        } else {
            last.images_per_second
        },
        seconds: start.elapsed().as_secs_f64(),
        backend: backend.name(),
        epochs: progress.history.len(),
        run_dir: opts.out.display().to_string(),
    })
}

/// Writes `learning_curves.png` and, for field networks, `masks.png` (the trained SLMs) and
/// `outputs.png` (detector-plane intensity for a few test digits, with the detector regions);
/// for dense networks `weights.png` or, on 2-D tasks, `decision_boundary.png`.
pub fn pictures(
    cfg: &Config,
    backend: &mut dyn Backend,
    test: &Split,
    history: &[EpochMetrics],
    out: &Path,
) -> Result<()> {
    use crate::plot::{line_plot, Series};
    if cfg.is_dense() {
        dense_pictures(cfg, backend, test, out)?;
    } else {
        field_pictures(cfg, backend, test, out)?;
    }
    if !history.is_empty() {
        let pts = |f: &dyn Fn(&EpochMetrics) -> f64| {
            history
                .iter()
                .map(|m| (m.epoch as f64, f(m)))
                .collect::<Vec<_>>()
        };
        line_plot(
            &out.join("learning_curves.png"),
            &format!("{}: learning curves", cfg.name),
            "epoch",
            "accuracy",
            &[
                Series {
                    label: "train accuracy",
                    points: pts(&|m| m.train_accuracy),
                },
                Series {
                    label: "test accuracy",
                    points: pts(&|m| m.test_accuracy),
                },
            ],
        )?;
    }
    Ok(())
}

/// Side of the decision-boundary picture in pixels, and the half-width of the plane it shows.
pub const BOUNDARY_SIDE: usize = 160;
const BOUNDARY_EXTENT: f64 = 1.4;

/// The decision map of a 2-class dense network over `[−1.4, 1.4]²` (`BOUNDARY_SIDE²` values,
/// row-major, `y` up): `0.65` where class 1 wins, `0.35` where class 0 wins, with the test points
/// drawn as `1` (class 1) and `0` (class 0), so that a picture shows both regions and both classes.
pub fn decision_map(cfg: &Config, backend: &mut dyn Backend, test: &Split) -> Result<Vec<f64>> {
    let n = BOUNDARY_SIDE;
    let amp = cfg.input.intensity.sqrt() as f32;
    let k = cfg.readout.classes;
    let mut map = vec![0.0f64; n * n];
    for row in 0..n {
        let y = BOUNDARY_EXTENT * (1.0 - 2.0 * (row as f64 + 0.5) / n as f64);
        let bias = (cfg.input.bias != 0.0).then_some(cfg.input.bias as f32);
        let input: Vec<f32> = (0..n)
            .flat_map(|c| {
                let x = BOUNDARY_EXTENT * (2.0 * (c as f64 + 0.5) / n as f64 - 1.0);
                [Some(x as f32 * amp), Some(y as f32 * amp), bias]
            })
            .flatten()
            .collect();
        let p = backend.predict(&input)?;
        for c in 0..n {
            let o = &p[c * k..(c + 1) * k];
            map[row * n + c] = if o[1] > o[0] { 0.65 } else { 0.35 };
        }
    }
    for (pt, &l) in test.points.iter().zip(&test.labels) {
        let c = ((pt[0] as f64 / BOUNDARY_EXTENT + 1.0) * 0.5 * n as f64).floor();
        let r = ((1.0 - pt[1] as f64 / BOUNDARY_EXTENT) * 0.5 * n as f64).floor();
        if (0.0..n as f64).contains(&c) && (0.0..n as f64).contains(&r) {
            map[r as usize * n + c as usize] = if l == 1 { 1.0 } else { 0.0 };
        }
    }
    Ok(map)
}

/// Dense networks: `decision_boundary.png` for 2-D tasks, `weights.png` (the first layer's
/// weights of up to 10 hidden units, as images) for image inputs.
fn dense_pictures(cfg: &Config, backend: &mut dyn Backend, test: &Split, out: &Path) -> Result<()> {
    use crate::plot::{panels, Panel};
    if cfg.input.task.is_some() {
        let map = decision_map(cfg, backend, test)?;
        return panels(
            &out.join("decision_boundary.png"),
            &format!("{}: decision boundary and test points", cfg.name),
            &[Panel {
                title: format!("{} ({:?} gradient)", cfg.name, cfg.train.gradient),
                data: &map,
                nx: BOUNDARY_SIDE,
                ny: BOUNDARY_SIDE,
                cyclic: false,
            }],
            1,
        );
    }
    let state = backend.state()?;
    let s = cfg.input.size;
    let w = &state.params[0];
    let n_in = cfg.input_len();
    let units = (w.len() / n_in).min(10);
    let data: Vec<Vec<f64>> = (0..units)
        .map(|u| {
            w[u * n_in..(u + 1) * n_in]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    let ps: Vec<Panel> = data
        .iter()
        .enumerate()
        .map(|(u, d)| Panel {
            title: format!("unit {u}"),
            data: d,
            nx: s,
            ny: s,
            cyclic: false,
        })
        .collect();
    panels(
        &out.join("weights.png"),
        &format!("{}: first-layer weights", cfg.name),
        &ps,
        5,
    )
}

fn field_pictures(cfg: &Config, backend: &mut dyn Backend, test: &Split, out: &Path) -> Result<()> {
    use crate::plot::{panels, Panel};
    let state = backend.state()?;
    let plan = crate::plan::Plan::new(cfg)?;
    let data: Vec<Vec<f64>> = state
        .params
        .iter()
        .map(|p| p.iter().map(|&v| v as f64).collect())
        .collect();
    let ps: Vec<Panel> = plan
        .params
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(i, (s, d))| Panel {
            title: format!(
                "SLM {} ({})",
                i + 1,
                if s.kind == crate::plan::ParamKind::Phase {
                    "phase"
                } else {
                    "amplitude"
                }
            ),
            data: d,
            nx: s.sx,
            ny: s.sy,
            cyclic: s.kind == crate::plan::ParamKind::Phase,
        })
        .collect();
    let wrapped: Vec<Vec<f64>> = ps
        .iter()
        .map(|p| {
            if p.cyclic {
                p.data
                    .iter()
                    .map(|v| {
                        (v + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI)
                            - std::f64::consts::PI
                    })
                    .collect()
            } else {
                p.data.to_vec()
            }
        })
        .collect();
    let ps: Vec<Panel> = ps
        .into_iter()
        .zip(&wrapped)
        .map(|(p, w)| Panel { data: w, ..p })
        .collect();
    panels(
        &out.join("masks.png"),
        &format!("{}: trained SLMs", cfg.name),
        &ps,
        5,
    )?;

    // Output-plane intensity for the first test image of each of a few classes.
    let mut cpu = CpuNetwork::<f32>::new(cfg, &state)?;
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let mut picks = Vec::new();
    for c in 0..cfg.readout.classes.min(5) {
        if let Some(i) = test.labels.iter().position(|&l| l as usize == c) {
            picks.push(i);
        }
    }
    let mut input = vec![0.0f32; picks.len() * nx * ny];
    encode(cfg, test, &picks, &mut input);
    let last = plan.pump.len() - 1;
    let mut out_field: Vec<Complex32> = Vec::new();
    let mut grab = |i: usize, f: &[Complex32]| {
        if i == last {
            out_field = f.to_vec();
        }
    };
    let powers = cpu.forward(&input, Some(&mut grab)).to_vec();
    let regions = cfg.regions()?;
    let mut imgs: Vec<Vec<f64>> = Vec::new();
    for b in 0..picks.len() {
        imgs.push(
            input[b * nx * ny..(b + 1) * nx * ny]
                .iter()
                .map(|&a| (a as f64).powi(2))
                .collect(),
        );
        let mut o: Vec<f64> = out_field[b * nx * ny..(b + 1) * nx * ny]
            .iter()
            .map(|v| v.norm_sqr() as f64)
            .collect();
        let peak = o.iter().copied().fold(0.0, f64::max);
        for r in &regions {
            for x in r.x0..r.x0 + r.w {
                o[r.y0 * nx + x] = peak;
                o[(r.y0 + r.h - 1) * nx + x] = peak;
            }
        }
        imgs.push(o);
    }
    let k = cfg.readout.classes;
    let mut ps = Vec::new();
    for (b, &i) in picks.iter().enumerate() {
        let row = &powers[b * k..(b + 1) * k];
        let pred = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
        ps.push(Panel {
            title: format!("input, label {}", test.labels[i]),
            data: &imgs[2 * b],
            nx,
            ny,
            cyclic: false,
        });
        ps.push(Panel {
            title: format!("output, predicted {pred}"),
            data: &imgs[2 * b + 1],
            nx,
            ny,
            cyclic: false,
        });
    }
    panels(
        &out.join("outputs.png"),
        &format!("{}: test digits and detector-plane intensity", cfg.name),
        &ps,
        4,
    )?;

    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field-network formula, term by term, on the issue-6 comparison network (five phase
    /// layers, four thin absorbers, 50×50 field, 2× padding, batch 64).
    #[test]
    fn training_memory_counts_what_the_cpu_executor_keeps() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/d2nn-50.toml");
        let optical = Config::from_file(&path).unwrap();
        let exact = optical.set("train.gradient", "exact").unwrap();
        let (b, n) = (64u64, 2500u64);
        // The exact gradient saves the field entering each of the 4 absorbers (8 bytes a
        // sample); the optical one keeps its transmission instead (4 bytes a sample).
        let diff = training_memory(&exact).unwrap() - training_memory(&optical).unwrap();
        assert_eq!(diff, 4 * b * n * (8 - 4));
        // Half the batch halves every per-sample term; the parameters (5 SLMs of 2,500 phases,
        // 16 bytes each with gradient and Adam moments) do not change, and the free-space
        // scratch is one set of buffers per chunk (4 chunks per thread, at most one per image):
        // 108-point rows (each two 54-point halves) and, with the column pass across columns
        // (AVX-512 or AVX2), a strip of 128-point columns, else 108-point ones.
        let half = optical.set("train.batch", "32").unwrap();
        let params = 16 * 5 * n;
        let (lx, ly) = (
            108u64,
            if crate::cpu::strip_lanes().is_some() {
                128u64
            } else {
                108
            },
        );
        let scratch = |batch: usize| {
            let chunks = (4 * rayon::current_num_threads()).min(batch) as u64;
            8 * chunks * (2 * 50 * lx + 16 * ly + lx.max(ly))
        };
        let per_sample = |m: u64, batch: usize| m - params - scratch(batch);
        assert_eq!(
            per_sample(training_memory(&optical).unwrap(), 64),
            2 * per_sample(training_memory(&half).unwrap(), 32)
        );
    }
}
