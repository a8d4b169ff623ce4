//! The measured SLM gradient against the computed one (issue 26): for `d2nn-mnist` on a batch of
//! the bundled test images, the cosine similarity of the gradient a phase-stepping camera
//! measures (`hardware.readout`) to the exact product at the same probe strength, against the
//! photo-electrons one update collects, for several probe ratios. Prints a CSV.
//!
//!     cargo run --release --example readout_cosine > cosine.csv
use wavetrain::cpu::CpuField;
use wavetrain::model::{Config, ReadoutMethod};

/// The SLM gradients of one step (no update) and the photo-electrons it took.
fn gradients(cfg: &Config, input: &[f32], labels: &[u8]) -> wavetrain::Result<(Vec<f64>, f64)> {
    let net = cfg.resolve()?;
    let state = net.initial_state();
    let mut exec = CpuField::<f32>::new(&net, &state)?;
    exec.forward(input, None);
    exec.loss(labels);
    exec.backward(None);
    let g = exec.grads.iter().flatten().map(|&v| f64::from(v)).collect();
    Ok((g, exec.take_readout_counts().1))
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn main() -> wavetrain::Result<()> {
    let mut base = wavetrain::presets::preset("d2nn-mnist")?;
    base.train.batch = 16;
    let (_, test) = wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10)?;
    let idx: Vec<usize> = (0..16).collect();
    let mut input = vec![0.0f32; 16 * base.input_len()];
    wavetrain::data::encode(&base, &test, &idx, &mut input);
    let labels: Vec<u8> = idx.iter().map(|&i| test.labels[i]).collect();
    println!("probe_ratio,readout_shot_noise,photoelectrons_per_update,cosine");
    for ratio in [0.01, 0.1, 1.0] {
        let mut exact = base.clone();
        exact.hardware.probe_ratio = Some(ratio);
        let (g0, _) = gradients(&exact, &input, &labels)?;
        for n in [1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8] {
            let mut c = exact.clone();
            c.hardware.readout = ReadoutMethod::PhaseStepping;
            c.hardware.readout_shot_noise = Some(n);
            let (g, electrons) = gradients(&c, &input, &labels)?;
            println!("{ratio},{n:e},{electrons:.4e},{:.6}", cosine(&g, &g0));
        }
    }
    Ok(())
}
