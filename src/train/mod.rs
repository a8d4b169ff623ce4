//! The trainer: epochs of pump/probe steps on a backend, metrics, checkpoints; evaluation
//! ([`eval`]) and pictures ([`pictures`](mod@pictures)).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, EpochMetrics, Progress};
use crate::data::{encode, epoch_order, Split};
use crate::error::{Error, Result};
use crate::network::{Network, State};

pub mod eval;
pub mod pictures;

pub use eval::{absorber_report, decision_map, evaluate, BOUNDARY_SIDE};
pub use pictures::write_pictures;

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
    net: &Network,
    train: &Split,
    test: &Split,
    backend: &mut dyn Backend,
    opts: &RunOptions,
) -> Result<Summary> {
    let cfg = net.config();
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
        Checkpoint::write(&ckpt_path, net, &state, progress)
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
                let at = crate::diagnose::locate_fault(net, &backend.state()?, inp)?;
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
        write_pictures(net, backend, test, &progress.history, &opts.out)?;
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
