//! Gradients of DESIGN §4 against central finite differences in f64 on a small chain:
//! phase SLM → free space → absorber → amplitude SLM → free space → detectors.
mod common;
use common::*;
use num_complex::Complex;
use wavetrain::cpu::{self, Propagator};
use wavetrain::model::Region;
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Grid;

struct Chain {
    grid: Grid,
    p: Propagator<f64>,
    absorber: Absorber,
    regions: Vec<Region>,
    weights: Vec<f64>,
    input: Vec<Complex<f64>>,
}

const K_PHASE: usize = 2;
const K_AMP: usize = 4;

impl Chain {
    fn new(model: AbsorberModel, od: f64) -> Self {
        let grid = Grid::new(16, 16, 4e-6).unwrap();
        let regions = vec![
            Region {
                x0: 2,
                y0: 3,
                w: 4,
                h: 3,
            },
            Region {
                x0: 9,
                y0: 8,
                w: 5,
                h: 6,
            },
            Region {
                x0: 1,
                y0: 11,
                w: 3,
                h: 4,
            },
        ];
        let batch = 2;
        Chain {
            p: Propagator::new(&grid, 780e-9, 300e-6, 2.0, true),
            absorber: Absorber::new(od, model),
            weights: random_real(batch * regions.len(), -1.0, 1.0, 40),
            input: random_field(grid.len() * batch, 41)
                .iter()
                .map(|v| v * 1.5)
                .collect(),
            grid,
            regions,
        }
    }

    /// Forward pass; returns the loss and the saved fields (SLM inputs, absorber input, output).
    #[allow(clippy::type_complexity)]
    fn forward(&mut self, phase: &[f64], amp: &[f64]) -> (f64, [Vec<Complex<f64>>; 3]) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let mut u = self.input.clone();
        cpu::modulate(&mut u, nx, ny, &cpu::phase_mask(phase), K_PHASE);
        self.p.apply(&mut u);
        let v_abs = u.clone();
        cpu::absorber_pump(&mut u, &self.absorber);
        let v_amp = u.clone();
        cpu::modulate(&mut u, nx, ny, &cpu::amplitude_mask(amp), K_AMP);
        self.p.apply(&mut u);
        // Loss: Σ c·P + Σ P² (nonlinear in the powers, so dL/dP varies).
        let pw = cpu::detect(&u, nx, ny, &self.regions, self.grid.dx);
        let scale = 1.0 / (self.grid.dx * self.grid.dx);
        let loss = pw
            .iter()
            .zip(&self.weights)
            .map(|(p, c)| c * p * scale + (p * scale).powi(2))
            .sum();
        (loss, [v_abs, v_amp, u])
    }

    fn gradients(&mut self, phase: &[f64], amp: &[f64], exact: bool) -> (Vec<f64>, Vec<f64>) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let (_, [v_abs, v_amp, out]) = self.forward(phase, amp);
        let scale = 1.0 / (self.grid.dx * self.grid.dx);
        let pw = cpu::detect(&out, nx, ny, &self.regions, self.grid.dx);
        let dl_dp: Vec<f64> = pw
            .iter()
            .zip(&self.weights)
            .map(|(p, c)| c * scale + 2.0 * p * scale * scale)
            .collect();
        let mut b = vec![Complex::new(0.0, 0.0); out.len()];
        cpu::detect_probe(&out, nx, ny, &self.regions, self.grid.dx, &dl_dp, &mut b);
        self.p.apply(&mut b);
        let g_amp = cpu::amplitude_grad(&cpu::mask_correlation(&v_amp, &b, nx, ny, K_AMP));
        cpu::modulate(&mut b, nx, ny, &cpu::amplitude_mask(amp), K_AMP);
        cpu::absorber_probe(&mut b, &v_abs, &self.absorber, exact);
        self.p.apply(&mut b);
        let g_phase = cpu::phase_grad(
            phase,
            &cpu::mask_correlation(&self.input, &b, nx, ny, K_PHASE),
        );
        (g_phase, g_amp)
    }
}

fn check_model(model: AbsorberModel) {
    let mut c = Chain::new(model, 5.0);
    let phase: Vec<f64> = random_real(64, -3.0, 3.0, 42);
    let amp: Vec<f64> = random_real(16, -1.0, 1.0, 43);
    let (gp, ga) = c.gradients(&phase, &amp, true);
    let h = 1e-5;
    let mut worst: f64 = 0.0;
    let gmax = gp.iter().chain(&ga).fold(0.0f64, |m, g| m.max(g.abs()));
    for j in 0..phase.len() {
        let (mut a, mut b) = (phase.clone(), phase.clone());
        a[j] += h;
        b[j] -= h;
        let fd = (c.forward(&a, &amp).0 - c.forward(&b, &amp).0) / (2.0 * h);
        let err = (fd - gp[j]).abs() / gmax;
        worst = worst.max(err);
        assert!(
            err < 1e-6,
            "{model:?} phase {j}: probe {} vs FD {fd}",
            gp[j]
        );
    }
    for j in 0..amp.len() {
        let (mut a, mut b) = (amp.clone(), amp.clone());
        a[j] += h;
        b[j] -= h;
        let fd = (c.forward(&phase, &a).0 - c.forward(&phase, &b).0) / (2.0 * h);
        let err = (fd - ga[j]).abs() / gmax;
        worst = worst.max(err);
        assert!(
            err < 1e-6,
            "{model:?} amplitude {j}: probe {} vs FD {fd}",
            ga[j]
        );
    }
    assert!(gmax > 1e-3, "gradients should not vanish: {gmax}");
    eprintln!("{model:?}: worst relative gradient error {worst:.2e}");
}

#[test]
fn exact_probe_matches_finite_differences_thin() {
    check_model(AbsorberModel::Thin);
}

#[test]
fn exact_probe_matches_finite_differences_beer_lambert() {
    check_model(AbsorberModel::BeerLambert);
}

#[test]
fn optical_probe_equals_exact_only_without_absorption() {
    let phase: Vec<f64> = random_real(64, -3.0, 3.0, 44);
    let amp: Vec<f64> = random_real(16, -1.0, 1.0, 45);
    let mut c0 = Chain::new(AbsorberModel::Thin, 0.0);
    let (o, e) = (
        c0.gradients(&phase, &amp, false),
        c0.gradients(&phase, &amp, true),
    );
    for (x, y) in o.0.iter().zip(&e.0).chain(o.1.iter().zip(&e.1)) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()));
    }
    let mut c5 = Chain::new(AbsorberModel::Thin, 5.0);
    let (o, e) = (
        c5.gradients(&phase, &amp, false),
        c5.gradients(&phase, &amp, true),
    );
    let diff: f64 = o.0.iter().zip(&e.0).map(|(x, y)| (x - y).abs()).sum();
    let norm: f64 = e.0.iter().map(|y| y.abs()).sum();
    assert!(
        diff > 1e-3 * norm,
        "optical and exact gradients should differ at α₀ = 5"
    );
    // Downstream of the absorber the two modes agree exactly.
    for (x, y) in o.1.iter().zip(&e.1) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()));
    }
}
