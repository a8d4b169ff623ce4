//! One run end to end, as `train` and every point of a `sweep` do it: the backend chosen for the
//! network (`--backend`), the memory check before any work, and the training run itself with
//! its folder. Above the trainer and both backends.

use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::data::Split;
use crate::error::{Error, Result};
use crate::network::{Network, Op, Plan, State};
use crate::train::{RunOptions, Summary};

/// What `--backend` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// A hardware GPU if one exists, else the CPU.
    Auto,
    /// A GPU adapter (software adapters such as lavapipe accepted).
    Gpu,
    /// The CPU engine.
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => Err(format!("unknown backend '{s}': use auto, gpu or cpu")),
        }
    }
}

fn cpu(net: &Network, state: &State) -> Result<Box<dyn Backend>> {
    Ok(Box::new(CpuBackend::new(net, state)?))
}

/// A synthetic batch of `net`'s input (values in `[0, 1)`, labels cycling over the classes):
/// what the `auto` trial times, since a step's cost does not depend on the images.
fn trial_batch(net: &Network) -> (Vec<f32>, Vec<u8>) {
    let cfg = net.config();
    let b = cfg.train.batch;
    let x = (0..b * cfg.input_len())
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 1000) as f32 / 1000.0)
        .collect();
    let classes = cfg.readout.classes.max(1);
    let l = (0..b).map(|i| (i % classes) as u8).collect();
    (x, l)
}

/// Seconds of one training step of `backend` on `(x, l)`: the median of up to three timed steps
/// after one warm-up (which compiles pipelines, fills caches); a warm-up already slower than
/// `beat` seconds by 4× ends the trial at once (the other backend has won).
fn time_steps(backend: &mut dyn Backend, x: &[f32], l: &[u8], beat: Option<f64>) -> Result<f64> {
    let t0 = std::time::Instant::now();
    backend.train_step(x, l)?;
    let warm = t0.elapsed().as_secs_f64();
    if beat.is_some_and(|b| warm > 4.0 * b) {
        return Ok(warm);
    }
    let mut t = Vec::new();
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        backend.train_step(x, l)?;
        t.push(t0.elapsed().as_secs_f64());
        if t.iter().sum::<f64>() > 5.0 {
            break;
        }
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

/// What the `auto` trial measured: a training step on the GPU and on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoTrial {
    /// The backend's name (`gpu (adapter, api)`).
    pub gpu: String,
    /// Seconds a step took on the GPU.
    pub gpu_s: f64,
    /// Seconds a step took on the CPU.
    pub cpu_s: f64,
}

impl AutoTrial {
    /// True when the GPU was the faster.
    pub fn gpu_wins(&self) -> bool {
        self.gpu_s < self.cpu_s
    }

    /// The decision in words, for stderr.
    pub fn describe(&self) -> String {
        format!(
            "auto: one training step took {:.3} ms on {} and {:.3} ms on the CPU ({} threads): training on the {}",
            1e3 * self.gpu_s,
            self.gpu,
            1e3 * self.cpu_s,
            rayon::current_num_threads(),
            if self.gpu_wins() { "GPU" } else { "CPU" }
        )
    }
}

/// Times a training step of `net` on `gpu` and on the CPU (each from `state`, on a synthetic
/// batch); the backends it built are dropped, so the chosen one starts afresh from `state`.
pub fn auto_trial(gpu: &mut dyn Backend, net: &Network, state: &State) -> Result<AutoTrial> {
    let (x, l) = trial_batch(net);
    let gpu_s = time_steps(gpu, &x, &l, None)?;
    let mut c = CpuBackend::new(net, state)?;
    let cpu_s = time_steps(&mut c, &x, &l, Some(gpu_s))?;
    Ok(AutoTrial {
        gpu: gpu.name(),
        gpu_s,
        cpu_s,
    })
}

/// Builds the backend for `net` starting from `state`.
///
/// `auto`: without a hardware GPU (or a named adapter), or for a network the GPU executor cannot
/// run, the CPU. Otherwise it decides by measurement, not by assumption: one training step is
/// timed on each ([`auto_trial`]: a warm-up, then the median of up to three steps, on a
/// synthetic batch of the network's size), the faster one is built afresh from `state`, and the
/// decision is printed on stderr with both times. (Which wins depends on the network: the
/// papers' small dense networks are dominated on a GPU by one submission and readback per step,
/// large diffractive grids by arithmetic.) A GPU that fails to open or to run the trial falls
/// back to the CPU, saying why. `gpu` fails with a clear error instead.
pub fn make_backend(
    choice: BackendChoice,
    adapter: Option<&str>,
    net: &Network,
    state: &State,
) -> Result<Box<dyn Backend>> {
    if choice == BackendChoice::Auto {
        if let Err(e) = net.check_gpu() {
            // What the GPU cannot run (SLM shifts on a grid whose sides are not powers of two,
            // train.method = dfa or pepita) runs on the CPU.
            if adapter.is_some() {
                eprintln!("auto: training on the CPU: {e}");
            }
            return cpu(net, state);
        }
    }
    if choice == BackendChoice::Gpu {
        net.check_gpu()?;
    }
    match choice {
        BackendChoice::Cpu => cpu(net, state),
        #[cfg(feature = "gpu")]
        BackendChoice::Gpu => {
            let req = crate::gpu::AdapterRequest {
                name: adapter.map(String::from),
                allow_software: true,
            };
            Ok(Box::new(crate::gpu::GpuBackend::new(&req, net, state)?))
        }
        #[cfg(feature = "gpu")]
        BackendChoice::Auto => {
            if adapter.is_none() && crate::gpu::auto_adapter().is_none() {
                return cpu(net, state);
            }
            let req = crate::gpu::AdapterRequest {
                name: adapter.map(String::from),
                allow_software: adapter.is_some(),
            };
            let trial = crate::gpu::GpuBackend::new(&req, net, state)
                .and_then(|mut g| auto_trial(&mut g, net, state));
            match trial {
                Ok(t) => {
                    eprintln!("{}", t.describe());
                    if t.gpu_wins() {
                        Ok(Box::new(crate::gpu::GpuBackend::new(&req, net, state)?))
                    } else {
                        cpu(net, state)
                    }
                }
                Err(e) => {
                    eprintln!("warning: GPU unavailable ({e}); using the CPU");
                    cpu(net, state)
                }
            }
        }
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Gpu => {
            let _ = adapter;
            Err(Error::Gpu("this build has no GPU support (feature `gpu` is off): rebuild with default features or use --backend cpu".into()))
        }
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Auto => cpu(net, state),
    }
}

/// Trains `net` on `backend` into `opts.out` ([`crate::train::train`]), creating the folder;
/// a fresh run (no `opts.resume`) that fails before its first checkpoint removes the folder it
/// made, so that the same `--out` can be used again.
pub fn train_run(
    net: &Network,
    backend: &mut dyn Backend,
    train: &Split,
    test: &Split,
    opts: &RunOptions,
) -> Result<Summary> {
    train_run_observed(net, backend, train, test, opts, &mut |_| {})
}

/// [`train_run`], calling `on_epoch` after each epoch ([`crate::train::train_observed`]).
pub fn train_run_observed(
    net: &Network,
    backend: &mut dyn Backend,
    train: &Split,
    test: &Split,
    opts: &RunOptions,
    on_epoch: &mut dyn FnMut(&crate::checkpoint::EpochMetrics),
) -> Result<Summary> {
    let fresh = opts.resume.is_none();
    let made = fresh && !opts.out.exists();
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    crate::train::train_observed(net, train, test, backend, opts, on_epoch).inspect_err(|_| {
        if made && !opts.out.join("checkpoint.safetensors").exists() {
            let _ = std::fs::remove_dir_all(&opts.out);
        }
    })
}

/// Bytes the buffers of a training step of `cfg` need on the CPU, by formula (8 bytes a complex
/// sample), plus parameters, gradients and Adam moments. Dense networks: every activation (twice:
/// pump and probe) and the weights, gradients and moments. Field networks: the field, the probe,
/// the saved fields the gradient mode keeps (the optical gradient keeps each absorber's
/// transmission, one `f32` per sample, instead of the field entering it), and the free-space
/// working buffers of each chunk of the batch (four chunks per thread, each with its own): the
/// `ny` padded rows twice (`2·ny·lx`), a group of eight padded columns twice (`16·ly`) and the
/// FFT scratch, at the transform lengths `lx × ly` the step runs.
pub fn training_memory(net: &Network) -> u64 {
    let cfg = net.config();
    let b = cfg.train.batch as u64;
    let plan = match net.plan() {
        Plan::Dense(d) => {
            let dims = d.dims();
            let w: u64 = dims.iter().map(|(i, o)| (i * o) as u64).sum();
            let acts: u64 =
                cfg.input_len() as u64 + dims.iter().map(|(_, o)| 2 * *o as u64).sum::<u64>();
            return 4u64.saturating_mul(4 * w + 2 * b.saturating_mul(acts));
        }
        Plan::Field(p) => p,
    };
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let n = (nx * ny) as u64;
    let f = 8u64.saturating_mul(b).saturating_mul(n);
    let params: u64 = plan.params.iter().map(|p| p.len() as u64).sum();
    let optical = cfg.train.gradient == crate::model::GradientMode::Optical;
    let absorber_saves = plan
        .pump
        .iter()
        .filter(|s| matches!(s.op, Op::Absorber { .. }) && s.save.is_some())
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
        use crate::cpu::{transform_size_for, ColumnEngine};
        use crate::fft::FftSizes;
        let engine = ColumnEngine::for_precision::<f32>();
        let (lx, ly) = transform_size_for(nx, ny, qx, qy, FftSizes::Auto, engine);
        // Row buffers (in and out), 16 lines of columns (8 padded and their spectra, or a strip's
        // two planes of 16 lanes), and rustfft's scratch.
        let per_chunk = 2 * ny * lx + 16 * ly + lx.max(ly);
        let chunks = (4 * rayon::current_num_threads().max(1)).min(cfg.train.batch.max(1));
        8u64.saturating_mul((per_chunk * chunks) as u64)
    };
    f.saturating_mul(2 + slots as u64)
        .saturating_add(4u64.saturating_mul(b).saturating_mul(n) * kept_t as u64)
        .saturating_add(scratch)
        .saturating_add(16 * params)
}

/// Refuses, before any work, a configuration whose buffers ([`training_memory`]) would not fit
/// in the memory this machine has available (Linux `MemAvailable`; no check elsewhere).
pub fn check_memory(net: &Network) -> Result<()> {
    let cfg = net.config();
    let need = training_memory(net);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use std::path::Path;

    /// The field-network formula, term by term, on the issue-6 comparison network (five phase
    /// layers, four thin absorbers, 50×50 field, 2× padding, batch 64).
    #[test]
    fn training_memory_counts_what_the_cpu_executor_keeps() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/d2nn-50.toml");
        let optical = Config::from_file(&path).unwrap();
        let exact = optical.set("train.gradient", "exact").unwrap();
        let mem = |c: &Config| training_memory(&c.resolve().unwrap());
        let (b, n) = (64u64, 2500u64);
        // The exact gradient saves the field entering each of the 4 absorbers (8 bytes a
        // sample); the optical one keeps its transmission instead (4 bytes a sample).
        let diff = mem(&exact) - mem(&optical);
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
            per_sample(mem(&optical), 64),
            2 * per_sample(mem(&half), 32)
        );
    }
}
