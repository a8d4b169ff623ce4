//! The vector–Jacobian product (`diagnose::vjp`, issue 29): for an upstream gradient `u` on the
//! readout, the gradient of `Σ u·y` with respect to every parameter and to the input, against
//! central finite differences of the f64 engine (field networks on the model and on an imperfect
//! system, real and complex inputs; a dense network), and, with `u = ∂L/∂P` of the built-in
//! loss, equal to `diagnose::gradients` for both gradient modes.
mod common;
use common::*;

use num_complex::Complex;
use wavetrain::cpu::{CpuDense, CpuField};
use wavetrain::diagnose::{gradients, vjp, VjpInput};
use wavetrain::model::{Config, GradientMode};
use wavetrain::network::{Network, State, System};

/// phase (k=2) → free space → absorber → phase → free space, 16 × 16, four detectors; free space
/// first, so that the input gradient passes an element before the first SLM.
fn field_config(hw: &str) -> Config {
    Config::from_toml(
        &format!(
            r#"
name = "vjp"
[optics]
wavelength = 780e-9
pitch = 4e-6
nx = 16
ny = 16
[input]
intensity = 2.0
size = 12
[[elements]]
type = "free-space"
distance = 100e-6
[[elements]]
type = "phase"
macro_pixel = 2
[[elements]]
type = "free-space"
distance = 200e-6
[[elements]]
type = "absorber"
od = 2.0
[[elements]]
type = "phase"
[[elements]]
type = "free-space"
distance = 120e-6
[readout]
classes = 4
detector_size = 3
[train]
batch = 2
[hardware]
{hw}
"#
        ),
        "t",
    )
    .unwrap()
}

fn random_state(net: &Network) -> State {
    let mut s = net.initial_state();
    for (i, p) in s.params.iter_mut().enumerate() {
        *p = random_real(p.len(), 0.2, 2.5, 40 + i as u64);
    }
    s
}

/// `Σ u·P` of the f64 engine for complex inputs and parameters.
fn objective(e: &mut CpuField<f64>, x: &[Complex<f64>], u: &[f64]) -> f64 {
    e.forward_complex(x, None)
        .iter()
        .zip(u)
        .map(|(p, w)| p * w)
        .sum()
}

fn check_field(net: &Network, what: &str) {
    let st = random_state(net);
    let n = 16 * 16;
    let b = 2;
    let re = random_real::<f64>(b * n, 0.0, 1.2, 5);
    let im = random_real::<f64>(b * n, -0.5, 0.5, 6);
    let x: Vec<Complex<f64>> = re
        .iter()
        .zip(&im)
        .map(|(&a, &c)| Complex::new(a, c))
        .collect();
    // Powers are in I_sat·m² (Σ|E|²·dx²): an upstream of order 1/dx² gives gradients of order 1.
    let u: Vec<f64> = random_real::<f64>(b * 4, -1.0, 1.0, 7)
        .iter()
        .map(|v| v / 16e-12)
        .collect();
    let (gp, gx) = vjp::<f64>(
        net,
        &st,
        None,
        VjpInput::Complex(&x),
        &u,
        GradientMode::Exact,
    )
    .unwrap();
    let mut cfg = net.config().clone();
    cfg.train.gradient = GradientMode::Exact;
    let fd_net = cfg.resolve().unwrap().on(net.system()).unwrap();
    let mut e = CpuField::<f64>::new(&fd_net, &st).unwrap();
    let base = e.params.clone();
    let h = 1e-6;
    let gmax = gp.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(gmax > 1e-6, "{what}: {gmax}");
    let mut worst: f64 = 0.0;
    for (p, g) in gp.iter().enumerate() {
        for j in (0..g.len()).step_by(7) {
            let mut f = |d: f64| {
                e.params = base.clone();
                e.params[p][j] += d;
                e.refresh_masks();
                objective(&mut e, &x, &u)
            };
            let fd = (f(h) - f(-h)) / (2.0 * h);
            worst = worst.max((fd - g[j]).abs() / gmax);
        }
    }
    assert!(worst < 1e-6, "{what}: parameters: worst {worst:.2e}");
    e.params = base.clone();
    e.refresh_masks();
    let xmax = gx.iter().fold(0.0f64, |m, z| m.max(z.norm()));
    assert!(xmax > 1e-6, "{what}: input gradient vanishes");
    let mut worst: f64 = 0.0;
    for i in (0..x.len()).step_by(13) {
        for (k, dir) in [Complex::new(1.0, 0.0), Complex::new(0.0, 1.0)]
            .into_iter()
            .enumerate()
        {
            let mut f = |d: f64| {
                let mut y = x.clone();
                y[i] += dir * d;
                objective(&mut e, &y, &u)
            };
            let fd = (f(h) - f(-h)) / (2.0 * h);
            let got = if k == 0 { gx[i].re } else { gx[i].im };
            worst = worst.max((fd - got).abs() / xmax);
        }
    }
    assert!(worst < 1e-6, "{what}: input: worst {worst:.2e}");
    // Real amplitudes: the real part of the complex gradient.
    let xr: Vec<f32> = re.iter().map(|&v| v as f32).collect();
    let (gp2, gx2) =
        vjp::<f64>(net, &st, None, VjpInput::Real(&xr), &u, GradientMode::Exact).unwrap();
    let xr64: Vec<Complex<f64>> = xr.iter().map(|&v| Complex::new(v as f64, 0.0)).collect();
    let (gp3, gx3) = vjp::<f64>(
        net,
        &st,
        None,
        VjpInput::Complex(&xr64),
        &u,
        GradientMode::Exact,
    )
    .unwrap();
    assert_eq!(gp2, gp3, "{what}");
    for (a, b) in gx2.iter().zip(&gx3) {
        assert_eq!(a.re, b.re);
    }
}

#[test]
fn field_vjp_matches_finite_differences_on_the_model_and_the_hardware() {
    check_field(&field_config("").resolve().unwrap(), "ideal");
    let hw = "shifts = [[3e-6, -2e-6], [1e-6, 2.5e-6]]\ndistance_errors = [4e-6, -6e-6, 5e-6]\n\
              fringing = 0.3\nod_errors = [0.1]";
    let net = field_config(hw).resolve().unwrap();
    check_field(&net, "hardware");
    // On the model of the same config: the ideal system's gradient, not the hardware's.
    check_field(
        &net.on(System::Model).unwrap(),
        "model of an imperfect config",
    );
}

#[test]
fn with_the_losss_own_upstream_the_vjp_is_the_training_gradient() {
    let net = field_config("").resolve().unwrap();
    let st = random_state(&net);
    let x = random_real::<f32>(2 * 256, 0.0, 1.2, 9);
    let labels = [1u8, 3];
    for mode in [GradientMode::Exact, GradientMode::Optical] {
        let (_, want) = gradients::<f64>(&net, &st, &x, &labels, mode).unwrap();
        let mut e = CpuField::<f64>::new(&net, &st).unwrap();
        let p = e.forward(&x, None).to_vec();
        let mut dl_dp = vec![0.0; p.len()];
        let c = net.config();
        wavetrain::loss::loss_and_grad(
            &p,
            &labels,
            4,
            c.readout.loss,
            c.readout.temperature,
            &mut dl_dp,
        );
        let (got, _) = vjp::<f64>(&net, &st, None, VjpInput::Real(&x), &dl_dp, mode).unwrap();
        for (a, b) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{mode:?}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn dense_vjp_matches_finite_differences() {
    let cfg = wavetrain::presets::preset("paper-2layer").unwrap();
    let net = cfg.resolve().unwrap();
    let st = {
        let mut s = net.initial_state();
        for (i, p) in s.params.iter_mut().enumerate() {
            *p = random_real(p.len(), -0.9, 0.9, 60 + i as u64);
        }
        s
    };
    let b = 2;
    let n_in = net.input_len();
    let x = random_real::<f32>(b * n_in, 0.1, 1.0, 11);
    let u = random_real::<f64>(b * 2, -1.0, 1.0, 12);
    let (gp, gx) =
        vjp::<f64>(&net, &st, None, VjpInput::Real(&x), &u, GradientMode::Exact).unwrap();
    assert_eq!(gx.len(), x.len());
    let mut cfg = net.config().clone();
    cfg.train.gradient = GradientMode::Exact;
    let mut e = CpuDense::<f64>::new(&cfg.resolve().unwrap(), &st).unwrap();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let base = e.params.clone();
    let obj = |e: &mut CpuDense<f64>, x: &[f64]| -> f64 {
        e.forward(x).iter().zip(&u).map(|(y, w)| y * w).sum()
    };
    let h = 1e-6;
    for (p, g) in gp.iter().enumerate() {
        for (j, &gj) in g.iter().enumerate() {
            e.params = base.clone();
            e.params[p][j] += h;
            e.refresh_weights();
            let a = obj(&mut e, &x64);
            e.params[p][j] -= 2.0 * h;
            e.refresh_weights();
            let c = obj(&mut e, &x64);
            let fd = (a - c) / (2.0 * h);
            assert!(
                (fd - gj).abs() < 1e-6 * (1.0 + fd.abs()),
                "w{p}[{j}]: {gj} vs {fd}"
            );
        }
    }
    e.params = base;
    e.refresh_weights();
    for i in 0..x64.len() {
        let mut y = x64.clone();
        y[i] += h;
        let a = obj(&mut e, &y);
        y[i] -= 2.0 * h;
        let c = obj(&mut e, &y);
        let fd = (a - c) / (2.0 * h);
        assert!(
            (fd - gx[i].re).abs() < 1e-6 * (1.0 + fd.abs()),
            "x[{i}]: {} vs {fd}",
            gx[i].re
        );
    }
    let e = vjp::<f64>(
        &net,
        &st,
        None,
        VjpInput::Complex(&[Complex::new(1.0, 0.0)]),
        &u,
        GradientMode::Exact,
    )
    .unwrap_err();
    assert!(e.to_string().contains("complex"), "{e}");
}
