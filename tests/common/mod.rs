//! Shared helpers for the integration tests: seeded random fields, naive DFT, tolerances.
#![allow(dead_code)]

use num_complex::Complex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wavetrain::Real;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Random complex samples with real and imaginary parts in [−1, 1), never all zero.
pub fn random_field<T: Real>(n: usize, seed: u64) -> Vec<Complex<T>> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            Complex::new(
                T::of(r.random_range(-1.0..1.0)),
                T::of(r.random_range(-1.0..1.0)),
            )
        })
        .collect()
}

pub fn random_real<T: Real>(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<T> {
    let mut r = rng(seed);
    (0..n).map(|_| T::of(r.random_range(lo..hi))).collect()
}

/// Naive unitary 2-D DFT in f64 of one `nx × ny` image.
pub fn naive_dft2(x: &[Complex<f64>], nx: usize, ny: usize, inverse: bool) -> Vec<Complex<f64>> {
    let sgn = if inverse { 1.0 } else { -1.0 };
    let mut out = vec![Complex::new(0.0, 0.0); nx * ny];
    for ky in 0..ny {
        for kx in 0..nx {
            let mut acc = Complex::new(0.0, 0.0);
            for y in 0..ny {
                for xx in 0..nx {
                    let ph = sgn
                        * 2.0
                        * std::f64::consts::PI
                        * ((kx * xx) as f64 / nx as f64 + (ky * y) as f64 / ny as f64);
                    acc += x[y * nx + xx] * Complex::from_polar(1.0, ph);
                }
            }
            out[ky * nx + kx] = acc / ((nx * ny) as f64).sqrt();
        }
    }
    out
}

pub fn rms<T: Real>(x: &[Complex<T>]) -> f64 {
    (x.iter().map(|v| v.norm_sqr().f64()).sum::<f64>() / x.len() as f64).sqrt()
}

/// Relative-plus-absolute closeness: `|x − y| ≤ max(r·(|x| + |y|), a)` element-wise; the absolute
/// floor `a` is given relative to the RMS of `want`. Panics with the worst element.
pub fn assert_close<T: Real, U: Real>(
    got: &[Complex<T>],
    want: &[Complex<U>],
    r: f64,
    a_rel: f64,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let a = a_rel * rms(want).max(1e-300);
    let mut worst = (0.0f64, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let g = Complex::new(g.re.f64(), g.im.f64());
        let w = Complex::new(w.re.f64(), w.im.f64());
        let d = (g - w).norm();
        let tol = (r * (g.norm() + w.norm())).max(a);
        assert!(
            d.is_finite(),
            "{what}: non-finite at {i}: got {g}, want {w}"
        );
        if d / tol > worst.0 {
            worst = (d / tol, i);
        }
    }
    assert!(
        worst.0 <= 1.0,
        "{what}: element {} off by {:.3}× the tolerance: got {}, want {}",
        worst.1,
        worst.0,
        got[worst.1],
        want[worst.1]
    );
}

pub fn to_f64<T: Real>(x: &[Complex<T>]) -> Vec<Complex<f64>> {
    x.iter()
        .map(|v| Complex::new(v.re.f64(), v.im.f64()))
        .collect()
}

/// Bilinear product Σ x·y.
pub fn bilinear<T: Real>(x: &[Complex<T>], y: &[Complex<T>]) -> Complex<f64> {
    x.iter()
        .zip(y)
        .map(|(a, b)| Complex::new(a.re.f64(), a.im.f64()) * Complex::new(b.re.f64(), b.im.f64()))
        .sum()
}

/// Sesquilinear product Σ conj(x)·y.
pub fn inner<T: Real>(x: &[Complex<T>], y: &[Complex<T>]) -> Complex<f64> {
    x.iter()
        .zip(y)
        .map(|(a, b)| Complex::new(a.re.f64(), -a.im.f64()) * Complex::new(b.re.f64(), b.im.f64()))
        .sum()
}

pub fn power<T: Real>(x: &[Complex<T>]) -> f64 {
    x.iter().map(|v| v.norm_sqr().f64()).sum()
}

/// Runs the `wavetrain` binary with `args`.
pub fn wavetrain_bin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wavetrain"))
        .args(args)
        .output()
        .expect("run wavetrain")
}

/// The standard error of a run, as text.
pub fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last stdout line of a run, parsed as JSON.
pub fn last_json(o: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.lines().last().expect("a JSON line")).expect("valid JSON")
}

/// The rows of a `sweep.csv` (header included) without the columns that are measurements of
/// the machine or name the folder (`seconds`, `images_per_second`, `run_dir`): what two sweeps
/// of the same grid must agree on, whichever machines ran them.
pub fn sweep_results(csv: &str) -> Vec<Vec<String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let keep: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| !["seconds", "images_per_second", "run_dir"].contains(h))
        .map(|(i, _)| i)
        .collect();
    std::iter::once(header.join(","))
        .chain(lines.map(str::to_string))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            keep.iter()
                .map(|&i| f.get(i).unwrap_or(&"").to_string())
                .collect()
        })
        .collect()
}

/// The text of a file, or a panic naming it.
pub fn read_text(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The exact gradient of a field network (`f64` CPU engine, `GradientMode::Exact`) against
/// central finite differences of the batch's mean loss, for every parameter: each relative to
/// the largest gradient within 1e-6. `what` names the case in messages.
pub fn check_field_gradient_fd(
    net: &wavetrain::network::Network,
    state: &wavetrain::network::State,
    x: &[f32],
    labels: &[u8],
    what: &str,
) {
    let mut e = wavetrain::cpu::CpuField::<f64>::new(net, state).unwrap();
    e.set_gradient(wavetrain::model::GradientMode::Exact);
    e.forward(x, None);
    e.loss(labels);
    e.backward(None);
    let grads = e.grads.clone();
    let base = e.params.clone();
    let gmax = grads.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(gmax > 1e-4, "{what}: gradient vanishes: {gmax}");
    let h = 1e-6;
    let mut worst = 0.0f64;
    for (p, gp) in grads.iter().enumerate() {
        for (j, &g) in gp.iter().enumerate() {
            let mut eval = |d: f64| {
                e.params = base.clone();
                e.params[p][j] += d;
                e.refresh_masks();
                e.forward(x, None);
                e.loss(labels).loss_sum / labels.len() as f64
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            let err = (fd - g).abs() / gmax;
            worst = worst.max(err);
            assert!(
                err < 1e-6,
                "{what}: param {p}[{j}]: probe {g:.6e}, finite difference {fd:.6e}"
            );
        }
    }
    eprintln!("{what}: worst error {worst:.2e} of the largest gradient");
}
