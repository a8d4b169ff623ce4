//! Physics oracles for the CPU engine (DESIGN §6): Parseval, propagation group laws, Gaussian beam
//! width, Talbot self-imaging, 2f focusing, absorber values, transpose and adjoint tests.
mod common;
use common::*;
use num_complex::Complex;
use wavetrain::cpu::{
    self, transform_axes, transform_axes_for, transform_size, ColumnEngine, Lens2f, Propagator,
};
use wavetrain::fft::{AxisFft, FftSizes};
use wavetrain::optics::lens::thin_lens_phase;
use wavetrain::optics::{transfer_function, Absorber, AbsorberModel};
use wavetrain::Grid;

const LAMBDA: f64 = 780e-9;

fn gaussian(grid: &Grid, w0: f64, batch: usize) -> Vec<Complex<f64>> {
    let mut v = Vec::with_capacity(grid.len() * batch);
    for _ in 0..batch {
        for n in 0..grid.ny {
            for m in 0..grid.nx {
                let r2 = grid.x(m).powi(2) + grid.y(n).powi(2);
                v.push(Complex::new((-r2 / (w0 * w0)).exp(), 0.0));
            }
        }
    }
    v
}

/// Second-moment beam width `w = 2·√⟨x²⟩` along x, at pitch `dx`, with centred coordinates.
fn beam_width_x(f: &[Complex<f64>], nx: usize, ny: usize, dx: f64) -> f64 {
    let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for n in 0..ny {
        for m in 0..nx {
            let i = f[n * nx + m].norm_sqr();
            let x = (m as f64 - (nx / 2) as f64) * dx;
            m0 += i;
            m1 += i * x;
            m2 += i * x * x;
        }
    }
    let mean = m1 / m0;
    2.0 * (m2 / m0 - mean * mean).sqrt()
}

#[test]
fn parseval_for_propagation_lens_and_masks() {
    // Periodic (pad 1) propagation without evanescent content is exactly unitary.
    let grid = Grid::new(64, 48, 8e-6).unwrap();
    let x: Vec<Complex<f64>> = random_field(grid.len() * 2, 1);
    let mut y = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, 5e-3, 1.0, false).apply(&mut y);
    assert!(
        (power(&y) - power(&x)).abs() < 1e-10 * power(&x),
        "propagation"
    );

    let grid_sq = Grid::new(64, 64, 8e-6).unwrap();
    let x: Vec<Complex<f64>> = random_field(grid_sq.len(), 2);
    let mut y = x.clone();
    let mut lens = Lens2f::<f64>::new(64, 64, 8e-6, LAMBDA, 0.1);
    lens.apply(&mut y);
    // Power Σ|E|²·dx² is conserved at the new pitch.
    let p_in = power(&x) * 8e-6f64.powi(2);
    let p_out = power(&y) * lens.pitch_out().powi(2);
    assert!(
        (p_in - p_out).abs() < 1e-10 * p_in,
        "lens: {p_in} vs {p_out}"
    );

    let phase: Vec<f64> = random_real(32 * 24, -10.0, 10.0, 3);
    let mut y = x[..64 * 48].to_vec();
    cpu::modulate(&mut y, 64, 48, &cpu::phase_mask(&phase), 2);
    assert!(
        (power(&y) - power(&x[..64 * 48])).abs() < 1e-10 * power(&y),
        "phase mask"
    );
}

#[test]
fn transfer_function_inverts_on_propagating_modes() {
    let (n, dx, z) = (64, 0.3e-6, 20e-6); // dx < λ/2: some modes are evanescent
    let hp = transfer_function(n, n, dx, LAMBDA, z, false);
    let hm = transfer_function(n, n, dx, LAMBDA, -z, false);
    let mut propagating = 0;
    for ky in 0..n {
        for kx in 0..n {
            let f2 = wavetrain::grid::fft_freq(kx, n, dx).powi(2)
                + wavetrain::grid::fft_freq(ky, n, dx).powi(2);
            let i = ky * n + kx;
            if f2 < 1.0 / (LAMBDA * LAMBDA) {
                propagating += 1;
                assert!((hp[i] * hm[i] - 1.0).norm() < 1e-12);
            } else {
                // Evanescent: decaying both ways.
                assert!(hp[i].norm() < 1.0 && hp[i].im == 0.0);
            }
        }
    }
    assert!(propagating > 100 && propagating < n * n);
}

#[test]
fn propagation_group_laws() {
    let grid = Grid::new(32, 32, 6e-6).unwrap();
    let x: Vec<Complex<f64>> = random_field(grid.len(), 4);
    // P(−z)·P(z) = 1 (no evanescent modes at this pitch; periodic window).
    let mut y = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, 3e-3, 1.0, false).apply(&mut y);
    Propagator::<f64>::new(&grid, LAMBDA, -3e-3, 1.0, false).apply(&mut y);
    assert_close(&y, &x, 1e-10, 1e-10, "P(-z)P(z)");
    // P(z1)·P(z2) = P(z1 + z2) without band limit.
    let mut a = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, 1e-3, 1.0, false).apply(&mut a);
    Propagator::<f64>::new(&grid, LAMBDA, 2.5e-3, 1.0, false).apply(&mut a);
    let mut b = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, 3.5e-3, 1.0, false).apply(&mut b);
    assert_close(&a, &b, 1e-10, 1e-10, "P(z1)P(z2)");
    // The adjoint of the padded, band-limited step is backward propagation on what it keeps.
    let mut c = x.clone();
    let mut p = Propagator::<f64>::new(&grid, LAMBDA, 2e-3, 2.0, true);
    p.apply(&mut c);
    assert!(
        power(&c) < power(&x) * (1.0 + 1e-12),
        "padded step cannot create power"
    );
}

#[test]
fn gaussian_beam_width_follows_analytic_law() {
    let grid = Grid::new(256, 256, 4e-6).unwrap();
    let w0 = 50e-6;
    let zr = std::f64::consts::PI * w0 * w0 / LAMBDA;
    let x = gaussian(&grid, w0, 1);
    for z in [0.0, 5e-3, 10e-3, 20e-3, 30e-3] {
        let mut y = x.clone();
        Propagator::<f64>::new(&grid, LAMBDA, z, 2.0, true).apply(&mut y);
        let w = beam_width_x(&y, grid.nx, grid.ny, grid.dx);
        let want = w0 * (1.0 + (z / zr).powi(2)).sqrt();
        assert!(
            (w / want - 1.0).abs() < 0.01,
            "z = {z}: width {w:.4e}, analytic {want:.4e}"
        );
    }
}

#[test]
fn talbot_self_imaging_of_a_cosine_grating() {
    // A cosine grating has orders 0 and ±1 only; it re-images exactly where their phases differ
    // by 2π: z_T = λ / (1 − √(1 − λ²/Λ²)) (the exact, non-paraxial Talbot distance).
    let n = 64;
    let dx = 2e-6;
    let period = 16.0 * dx; // 4 periods across the periodic window
    let grid = Grid::new(n, 8, dx).unwrap();
    let x: Vec<Complex<f64>> = (0..grid.len())
        .map(|i| {
            Complex::new(
                1.0 + 0.5 * (2.0 * std::f64::consts::PI * grid.x(i % n) / period).cos(),
                0.0,
            )
        })
        .collect();
    let zt = LAMBDA / (1.0 - (1.0 - (LAMBDA / period).powi(2)).sqrt());
    let mut y = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, zt, 1.0, false).apply(&mut y);
    assert_close(&y, &x, 1e-9, 1e-9, "Talbot image");
    // Half way the image is shifted by half a period: contrast reversed.
    let mut h = x.clone();
    Propagator::<f64>::new(&grid, LAMBDA, zt / 2.0, 1.0, false).apply(&mut h);
    let shifted: Vec<Complex<f64>> = (0..grid.len())
        .map(|i| {
            Complex::new(
                1.0 - 0.5 * (2.0 * std::f64::consts::PI * grid.x(i % n) / period).cos(),
                0.0,
            )
        })
        .collect();
    let intens = |v: &[Complex<f64>]| {
        v.iter()
            .map(|c| Complex::new(c.norm_sqr(), 0.0))
            .collect::<Vec<_>>()
    };
    assert_close(
        &intens(&h),
        &intens(&shifted),
        1e-9,
        1e-9,
        "half-Talbot intensity",
    );
}

#[test]
fn lens_focuses_gaussian_to_analytic_waist() {
    let n = 256;
    let dx = 10e-6;
    let f = 0.2;
    let w0 = 0.4e-3;
    let grid = Grid::new(n, n, dx).unwrap();
    let mut y = gaussian(&grid, w0, 1);
    let mut lens = Lens2f::<f64>::new(n, n, dx, LAMBDA, f);
    lens.apply(&mut y);
    let w = beam_width_x(&y, n, n, lens.pitch_out());
    let want = LAMBDA * f / (std::f64::consts::PI * w0);
    assert!(
        (w / want - 1.0).abs() < 0.01,
        "focus waist {w:.4e} vs {want:.4e}"
    );
}

#[test]
fn thin_lens_phase_focuses_like_the_2f_lens() {
    // A thin lens then free space f reproduces the 2f intensity pattern's width.
    let n = 256;
    let dx = 4e-6;
    let f = 20e-3;
    let w0 = 0.2e-3;
    let grid = Grid::new(n, n, dx).unwrap();
    let mut y = gaussian(&grid, w0, 1);
    let phase = thin_lens_phase(&grid, LAMBDA, f);
    let mask: Vec<Complex<f64>> = phase.iter().map(|&p| Complex::from_polar(1.0, p)).collect();
    cpu::modulate(&mut y, n, n, &mask, 1);
    Propagator::<f64>::new(&grid, LAMBDA, f, 2.0, true).apply(&mut y);
    let w = beam_width_x(&y, n, n, dx);
    let want = LAMBDA * f / (std::f64::consts::PI * w0);
    assert!(
        (w / want - 1.0).abs() < 0.02,
        "thin-lens focus {w:.4e} vs {want:.4e}"
    );
}

#[test]
fn absorber_values_of_design_notes() {
    let a = Absorber::new(10.0, AbsorberModel::Thin);
    let rel = |x: f64, y: f64| ((x - y) / y).abs();
    let (g, t, gp) = a.response(1.0);
    assert!(
        rel(g, 0.082085) < 1e-5 && rel(t, 0.082085) < 1e-5 && rel(gp, 0.28730) < 1e-5,
        "{g} {t} {gp}"
    );
    let (g, t, gp) = a.response(3.0);
    assert!(
        rel(g, 1.8196) < 1e-4 && rel(t, 0.60653) < 1e-5 && rel(gp, 1.1524) < 1e-4,
        "{g} {t} {gp}"
    );
    let (_, t, _) = a.response(0.0);
    assert!(rel(t, (-5f64).exp()) < 1e-12);
    // The ratio g'/t peaks at 1 + α₀/4 at |z| = 1 (thin model).
    let (_, t1, gp1) = a.response(1.0);
    assert!(rel(gp1 / t1, 3.5) < 1e-12);
    for z in [0.5, 0.9, 1.1, 2.0] {
        let (_, t, gp) = a.response(z);
        assert!(gp / t < 3.5);
    }
}

#[test]
fn absorber_limits() {
    for model in [AbsorberModel::Thin, AbsorberModel::BeerLambert] {
        let a = Absorber::new(6.0, model);
        let t0: f64 = a.transmission(1e-12);
        assert!((t0 - (-3f64).exp()).abs() < 1e-9, "{model:?} s→0: {t0}");
        let tinf: f64 = a.transmission(1e7);
        assert!((tinf - 1.0).abs() < 1e-6, "{model:?} s→∞: {tinf}");
        let t32: f32 = a.transmission(1e-12f32);
        assert!((t32 as f64 - (-3f64).exp()).abs() < 1e-6);
    }
}

#[test]
fn beer_lambert_solves_its_equation() {
    for od in [0.1, 1.0, 10.0, 30.0] {
        let a = Absorber::new(od, AbsorberModel::BeerLambert);
        for s in [1e-8, 1e-3, 0.1, 1.0, 3.0, 10.0, 100.0, 1e4] {
            let t: f64 = a.transmission(s);
            let s_out = t * t * s;
            let resid = (s_out / s).ln() + s_out - s + od;
            assert!(resid.abs() < 1e-9, "od {od}, s {s}: residual {resid}");
            // f32 path agrees with f64 to f32 precision.
            let t32: f32 = a.transmission(s as f32);
            assert!(
                (t32 as f64 - t).abs() < 2e-6 * t.max(1e-3),
                "f32 od {od} s {s}: {t32} vs {t}"
            );
        }
    }
    assert!((wavetrain::optics::absorber::lambert_w0(1.0) - 0.567_143_290_409_783_8).abs() < 1e-14);
    let e = std::f64::consts::E;
    assert!((wavetrain::optics::absorber::lambert_w0(e) - 1.0).abs() < 1e-14);
}

#[test]
fn beer_lambert_and_thin_agree_for_small_od() {
    let od = 0.01;
    let thin = Absorber::new(od, AbsorberModel::Thin);
    let bl = Absorber::new(od, AbsorberModel::BeerLambert);
    for s in [0.0, 0.1, 1.0, 5.0, 50.0] {
        let (a, b): (f64, f64) = (thin.transmission(s), bl.transmission(s));
        assert!((a - b).abs() < od * od, "s {s}: thin {a}, Beer–Lambert {b}");
    }
    // ... and differ for a thick cell.
    let (a, b): (f64, f64) = (
        Absorber::new(10.0, AbsorberModel::Thin).transmission(1.0),
        Absorber::new(10.0, AbsorberModel::BeerLambert).transmission(1.0),
    );
    assert!((a - b).abs() > 1e-3);
}

#[test]
fn absorber_slopes_match_finite_differences() {
    for model in [AbsorberModel::Thin, AbsorberModel::BeerLambert] {
        let a = Absorber::new(7.0, model);
        for s in [0.0f64, 0.05, 0.7, 1.0, 4.0, 40.0] {
            let h = 1e-6 * (1.0 + s);
            let (_, d): (f64, f64) = a.transmission_and_slope(s);
            let fd = if s == 0.0 {
                (a.transmission(h) - a.transmission(0.0f64)) / h
            } else {
                (a.transmission(s + h) - a.transmission(s - h)) / (2.0 * h)
            };
            assert!(
                (d - fd).abs() < 1e-6 * (1.0 + d.abs()) + if s == 0.0 { 1e-5 } else { 0.0 },
                "{model:?} s {s}: {d} vs {fd}"
            );
        }
        // Beer–Lambert exact derivative g' = t (1+s)/(1+s_out).
        if model == AbsorberModel::BeerLambert {
            let z: f64 = 1.3;
            let (_, t, gp) = a.response(z);
            let s_out = t * t * z * z;
            assert!((gp - t * (1.0 + z * z) / (1.0 + s_out)).abs() < 1e-12);
        }
    }
}

#[test]
fn kept_transmission_gives_the_optical_probe() {
    for model in [AbsorberModel::Thin, AbsorberModel::BeerLambert] {
        let a = Absorber::new(6.0, model);
        // Intensities from far below to far above saturation, over more than one parallel chunk.
        let v: Vec<Complex<f32>> = random_field::<f32>(9000, 31)
            .into_iter()
            .enumerate()
            .map(|(i, c)| c * (0.01 + (i % 97) as f32 * 0.05))
            .collect();
        let b: Vec<Complex<f32>> = random_field(v.len(), 32);
        let (mut pumped, mut kept) = (v.clone(), Vec::new());
        cpu::absorber_pump_keep(&mut pumped, &a, &mut kept);
        let mut plain = v.clone();
        cpu::absorber_pump(&mut plain, &a);
        assert_eq!(pumped, plain, "{model:?}: pump with and without keeping t");
        let mut want = b.clone();
        cpu::absorber_probe(&mut want, &v, &a, false);
        let mut got = b.clone();
        cpu::absorber_probe_kept(&mut got, &kept);
        assert_eq!(got, want, "{model:?}: optical probe from kept t");
        // The exact transpose differs: the kept transmission is the optical probe only.
        let mut exact = b.clone();
        cpu::absorber_probe(&mut exact, &v, &a, true);
        assert_ne!(exact, want, "{model:?}");
    }
}

/// Transpose (bilinear) and adjoint (sesquilinear) dot-product tests for a linear operator.
fn check_linear(
    n_in: usize,
    apply: &mut dyn FnMut(&mut Vec<Complex<f64>>),
    adjoint: &mut dyn FnMut(&mut Vec<Complex<f64>>),
    what: &str,
) {
    let x: Vec<Complex<f64>> = random_field(n_in, 11);
    let y: Vec<Complex<f64>> = random_field(n_in, 12);
    let (mut mx, mut my, mut ahy) = (x.clone(), y.clone(), y.clone());
    apply(&mut mx);
    apply(&mut my);
    adjoint(&mut ahy);
    // ⟨Mx, y⟩_bilinear = ⟨x, Mᵀy⟩_bilinear with Mᵀ = M (the probe pass).
    let (l, r) = (bilinear(&mx, &y), bilinear(&x, &my));
    assert!(
        (l - r).norm() < 1e-10 * l.norm().max(1.0),
        "{what} transpose: {l} vs {r}"
    );
    // ⟨Mx, y⟩ = ⟨x, Mᴴy⟩.
    let (l, r) = (inner(&mx, &y), inner(&x, &ahy));
    assert!(
        (l - r).norm() < 1e-10 * l.norm().max(1.0),
        "{what} adjoint: {l} vs {r}"
    );
}

#[test]
fn linear_elements_pass_transpose_and_adjoint_tests() {
    let grid = Grid::new(24, 16, 1e-6).unwrap(); // fine pitch: evanescent modes and band limit active
    let (nx, ny) = (grid.nx, grid.ny);
    for (pad, bl) in [(1.0, false), (2.0, true), (1.5, true)] {
        let mut p = Propagator::<f64>::new(&grid, LAMBDA, 40e-6, pad, bl);
        let mut q = Propagator::<f64>::new(&grid, LAMBDA, 40e-6, pad, bl);
        check_linear(
            grid.len() * 2,
            &mut |v| p.apply(v),
            &mut |v| q.apply_adjoint(v),
            &format!("propagation pad {pad} band limit {bl}"),
        );
    }
    let mut l = Lens2f::<f64>::new(16, 16, 5e-6, LAMBDA, 0.05);
    let mut l2 = Lens2f::<f64>::new(16, 16, 5e-6, LAMBDA, 0.05);
    check_linear(
        256 * 3,
        &mut |v| l.apply(v),
        &mut |v| l2.apply_adjoint(v),
        "2f lens",
    );
    let phase: Vec<f64> = random_real(12 * 8, -3.0, 3.0, 8);
    let m = cpu::phase_mask(&phase);
    let mconj: Vec<Complex<f64>> = m.iter().map(|c| c.conj()).collect();
    check_linear(
        nx * ny,
        &mut |v| cpu::modulate(v, nx, ny, &m, 2),
        &mut |v| cpu::modulate(v, nx, ny, &mconj, 2),
        "phase SLM",
    );
    let w: Vec<f64> = random_real(6 * 4, -1.0, 1.0, 9);
    let a = cpu::amplitude_mask(&w);
    check_linear(
        nx * ny * 2,
        &mut |v| cpu::modulate(v, nx, ny, &a, 4),
        &mut |v| cpu::modulate(v, nx, ny, &a, 4),
        "amplitude SLM",
    );
}

#[test]
fn f32_propagation_matches_f64() {
    let grid = Grid::new(96, 64, 8e-6).unwrap();
    let x64: Vec<Complex<f64>> = random_field(grid.len() * 3, 21);
    let x32: Vec<Complex<f32>> = x64
        .iter()
        .map(|c| Complex::new(c.re as f32, c.im as f32))
        .collect();
    let (mut a, mut b) = (x64.clone(), x32.clone());
    Propagator::<f64>::new(&grid, LAMBDA, 4e-3, 2.0, true).apply(&mut a);
    Propagator::<f32>::new(&grid, LAMBDA, 4e-3, 2.0, true).apply(&mut b);
    assert_close(&b, &a, 1e-5, 1e-5, "f32 vs f64 propagation");
}

/// The padded-grid step written out with naive DFTs: pad, `F`, multiply by `H`, `F⁻¹`, crop.
fn textbook_propagation(
    x: &[Complex<f64>],
    grid: &Grid,
    z: f64,
    pad: f64,
    band_limit: bool,
) -> Vec<Complex<f64>> {
    let (nx, ny) = (grid.nx, grid.ny);
    let (px, py) = (
        wavetrain::grid::padded_len(nx, pad),
        wavetrain::grid::padded_len(ny, pad),
    );
    let (ox, oy) = ((px - nx) / 2, (py - ny) / 2);
    let h = transfer_function(px, py, grid.dx, LAMBDA, z, band_limit);
    let mut padded = vec![Complex::new(0.0, 0.0); px * py];
    for y in 0..ny {
        for xx in 0..nx {
            padded[(y + oy) * px + xx + ox] = x[y * nx + xx];
        }
    }
    let mut f = naive_dft2(&padded, px, py, false);
    for (v, hv) in f.iter_mut().zip(&h) {
        *v *= hv;
    }
    let back = naive_dft2(&f, px, py, true);
    let mut out = vec![Complex::new(0.0, 0.0); nx * ny];
    for y in 0..ny {
        for xx in 0..nx {
            out[y * nx + xx] = back[(y + oy) * px + xx + ox];
        }
    }
    out
}

#[test]
fn transform_sizes_follow_the_cost_rule() {
    use FftSizes::*;
    // 100-point transforms (factors of 5) give way to 108-point ones (2·50 − 1 = 99 ≤ 108) run
    // as two of rustfft's 54-point kernels each: fewer spectrum columns than 128.
    assert_eq!(
        transform_axes(50, 50, 100, 100, Auto),
        (AxisFft::halves(108), AxisFft::halves(108))
    );
    // Halving a power of two saves nothing that pays for its twiddles.
    assert_eq!(
        transform_axes(64, 64, 128, 128, Auto),
        (AxisFft::whole(128), AxisFft::whole(128))
    );
    // Only fast half lengths are candidates: 80 = 2·40 is not halved (40 points cost as much
    // as 64).
    assert!(!transform_axes(40, 40, 80, 80, Auto).0.halves);
    // 200 points (8·25) cost more than 216 = 8·27 (measured 302 and 228 ns), which still holds
    // 2·100 − 1 = 199 offsets: 100 rows of 216 points; but 216 columns of 256 points cost less
    // than of 216 (196–211 ns against 213–228 ns a line).
    assert_eq!(
        transform_axes(100, 100, 200, 200, Auto),
        (AxisFft::whole(216), AxisFft::whole(256))
    );
    // A 3-smooth length is only a candidate below the power of two: 2·60 − 1 = 119 → 128 (the
    // 3-smooth 144 is above it), and the padded 120 = 8·15 is kept or replaced by 128.
    let (lx, _) = transform_size(60, 60, 120, 120, Auto);
    assert!(lx == 120 || lx == 128, "{lx}");
    // Lengths of 2s and 3s, and powers of two, are kept.
    assert_eq!(transform_size(96, 96, 192, 192, Auto), (192, 192));
    assert_eq!(transform_size(72, 72, 144, 144, Auto), (144, 144));
    assert_eq!(transform_size(64, 64, 128, 128, Auto), (128, 128));
    assert_eq!(transform_size(500, 250, 1000, 500, Auto), (1024, 512));
    // A large padding shrinks to the cheapest length that still holds the kernel.
    assert_eq!(transform_size(50, 50, 200, 200, Auto), (108, 108));
    assert_eq!(transform_size(60, 60, 240, 240, Auto), (128, 128));
    // The GPU takes a power of two always; the reference takes the padded grid always.
    assert_eq!(transform_size(48, 64, 96, 128, PowerOfTwo), (128, 128));
    assert_eq!(transform_size(50, 50, 100, 100, Padded), (100, 100));
    // A small padding whose power of two would be far larger keeps its own length.
    assert_eq!(transform_size(50, 50, 56, 56, Auto), (56, 56));
    assert_eq!(transform_size(50, 50, 60, 60, PowerOfTwo), (128, 128));
    let (x, y) = transform_axes(50, 50, 100, 100, PowerOfTwo);
    assert!(!x.halves && !y.halves, "the GPU never halves");
    // Exact axes are taken as given, and refused when they cannot hold the field.
    let exact = Exact(AxisFft::halves(100), AxisFft::whole(99));
    assert_eq!(
        transform_axes(50, 50, 100, 100, exact),
        (AxisFft::halves(100), AxisFft::whole(99))
    );
    for bad in [
        Exact(AxisFft::whole(98), AxisFft::whole(128)),
        Exact(AxisFft::halves(99), AxisFft::whole(128)),
        Exact(AxisFft::halves(98), AxisFft::whole(128)),
    ] {
        let r = std::panic::catch_unwind(|| transform_axes(50, 50, 100, 100, bad));
        assert!(r.is_err(), "{bad:?} accepted");
    }
}

#[test]
fn strip_costs_choose_power_of_two_columns() {
    use ColumnEngine::*;
    use FftSizes::*;
    for lanes in [16, 8] {
        let strips = Strips { lanes };
        // With the column pass across columns, 128-point columns (one strip pass each) beat two
        // 54-point halves through rustfft and the transposes; the rows keep their halves.
        assert_eq!(
            transform_axes_for(50, 50, 100, 100, Auto, strips),
            (AxisFft::halves(108), AxisFft::whole(128)),
            "{lanes} lanes"
        );
        assert_eq!(
            transform_axes_for(100, 100, 200, 200, Auto, strips),
            (AxisFft::whole(216), AxisFft::whole(256)),
            "{lanes} lanes"
        );
        // A padding below 2× cannot run strips (the pass needs the upper half of a column
        // empty), and a length that is no power of two never does; both cost as before.
        for (n, p) in [(50, 56), (60, 120)] {
            let (_, y) = transform_axes_for(n, n, p, p, Padded, strips);
            assert!(!y.suits_strips(n), "{n} in {p}: {y:?}");
            assert_eq!(
                transform_axes_for(n, n, p, p, Padded, strips),
                transform_axes(n, n, p, p, Padded)
            );
        }
    }
    // Rustfft's columns: the choices of `transform_axes`.
    for (n, p) in [(50, 100), (100, 200), (64, 128), (60, 120)] {
        assert_eq!(
            transform_axes_for(n, n, p, p, Auto, Lines),
            transform_axes(n, n, p, p, Auto)
        );
    }
    assert!(AxisFft::whole(128).suits_strips(64));
    assert!(!AxisFft::whole(128).suits_strips(65));
    assert!(!AxisFft::halves(128).suits_strips(50));
    assert!(!AxisFft::whole(4).suits_strips(2));
}

/// The `f32` column pass vectorised across columns (AVX-512) against the `f64` padded-grid
/// step: every path (pass by pass, one image per task, inside a task), forward and adjoint, rows
/// whole and in halves, partial strips (widths that are not multiples of 16).
#[test]
fn strip_columns_apply_the_padded_grids_operator() {
    let Some(lanes) = cpu::strip_lanes() else {
        eprintln!(
            "SKIPPED: neither AVX-512F nor AVX2 here (or WAVETRAIN_NO_STRIPS is set), so f32 \
             steps run rustfft's columns, which transform_grid_applies_the_padded_grids_operator \
             covers"
        );
        return;
    };
    let cases = [
        (50, 50, 2.0, 8e-6, 3e-3, true, FftSizes::Auto),
        (24, 16, 2.0, 1e-6, 40e-6, true, FftSizes::Auto),
        (20, 14, 3.0, 2e-6, 200e-6, false, FftSizes::Auto),
        (
            33,
            40,
            2.0,
            4e-6,
            1e-3,
            true,
            FftSizes::Exact(AxisFft::whole(65), AxisFft::whole(128)),
        ),
        (
            30,
            20,
            2.0,
            4e-6,
            1e-3,
            true,
            FftSizes::Exact(AxisFft::halves(64), AxisFft::whole(64)),
        ),
    ];
    let many = 2 * rayon::current_num_threads() + 1;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (nx, ny, pad, dx, z, bl, sizes) in cases {
        let grid = Grid::new(nx, ny, dx).unwrap();
        let x: Vec<Complex<f64>> = random_field(grid.len() * many, 70 + nx as u64);
        let x32: Vec<Complex<f32>> = x
            .iter()
            .map(|v| Complex::new(v.re as f32, v.im as f32))
            .collect();
        let mut want = x.clone();
        let mut want_adj = x.clone();
        let mut reference =
            Propagator::<f64>::with_sizes(&grid, LAMBDA, z, pad, bl, FftSizes::Padded);
        reference.apply(&mut want);
        reference.apply_adjoint(&mut want_adj);
        let mut p = Propagator::<f32>::with_sizes(&grid, LAMBDA, z, pad, bl, sizes);
        let what = format!("{nx}×{ny} pad {pad} on {:?} ({sizes:?})", p.transform());
        assert_eq!(p.column_engine(), ColumnEngine::Strips { lanes }, "{what}");
        let two = 2 * grid.len();
        for (path, n) in [("passes", two), ("image per task", x.len())] {
            let mut got = x32[..n].to_vec();
            p.apply(&mut got);
            assert_close(&got, &want[..n], 1e-5, 1e-5, &format!("{what} {path}"));
            let mut got = x32[..n].to_vec();
            p.apply_adjoint(&mut got);
            assert_close(
                &got,
                &want_adj[..n],
                1e-5,
                1e-5,
                &format!("adjoint {what} {path}"),
            );
        }
        let mut got = x32[..two].to_vec();
        let mut scratch = cpu::PropScratch::new();
        pool.install(|| p.apply_with(&mut got, &mut scratch));
        assert_close(&got, &want[..two], 1e-5, 1e-5, &format!("{what} in a task"));
    }
}

#[test]
fn transform_grid_applies_the_padded_grids_operator() {
    // (grid, pad, pitch, distance): 2× padding, a wrap-around padding below 2×, a wide padding
    // that shrinks, and unequal sides; fine pitches keep evanescent modes and the band limit busy.
    let cases = [
        (50, 50, 2.0, 8e-6, 3e-3, true),
        (24, 16, 1.5, 1e-6, 40e-6, true),
        (20, 14, 3.0, 2e-6, 200e-6, false),
        (30, 20, 1.2, 4e-6, 1e-3, true),
    ];
    // Batches of 2 run pass by pass across the cores; a batch of 2·threads + 1 runs one image
    // per task; inside a rayon task the images run one after another.
    let many = 2 * rayon::current_num_threads() + 1;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (nx, ny, pad, dx, z, bl) in cases {
        let grid = Grid::new(nx, ny, dx).unwrap();
        let x: Vec<Complex<f64>> = random_field(grid.len() * many, 40 + nx as u64);
        let mut want = x.clone();
        let mut want_adj = x.clone();
        let mut reference =
            Propagator::<f64>::with_sizes(&grid, LAMBDA, z, pad, bl, FftSizes::Padded);
        assert_eq!(reference.transform(), reference.padded());
        reference.apply(&mut want);
        reference.apply_adjoint(&mut want_adj);
        // Every axis whole and in halves: at the padded length when it is even and holds the
        // halves, and at the smallest even length ≥ 2n (light and zeros in each half).
        let axes = |n: usize, p: usize| {
            let mut a = vec![AxisFft::halves(2 * n + 2)];
            if p.is_multiple_of(2) && p >= 2 * n {
                a.push(AxisFft::halves(p));
            }
            a.push(AxisFft::whole(2 * n - 1));
            a
        };
        let (qx, qy) = reference.padded();
        let mut all = vec![FftSizes::Auto, FftSizes::PowerOfTwo];
        for x in axes(nx, qx) {
            for y in axes(ny, qy) {
                all.push(FftSizes::Exact(x, y));
            }
        }
        for sizes in all {
            let mut p = Propagator::<f64>::with_sizes(&grid, LAMBDA, z, pad, bl, sizes);
            let what = format!("{nx}×{ny} pad {pad} on {:?} ({sizes:?})", p.transform());
            if sizes == FftSizes::PowerOfTwo {
                let (lx, ly) = p.transform();
                assert!(lx.is_power_of_two() && ly.is_power_of_two(), "{what}");
                assert_ne!(p.transform(), p.padded(), "{what}: the case moves no grid");
            }
            let two = 2 * grid.len();
            for (path, n) in [("passes", two), ("image per task", x.len())] {
                let mut got = x[..n].to_vec();
                p.apply(&mut got);
                assert_close(&got, &want[..n], 1e-12, 1e-12, &format!("{what} {path}"));
                let mut got = x[..n].to_vec();
                p.apply_adjoint(&mut got);
                assert_close(
                    &got,
                    &want_adj[..n],
                    1e-12,
                    1e-12,
                    &format!("adjoint {what} {path}"),
                );
            }
            let mut got = x[..two].to_vec();
            let mut scratch = cpu::PropScratch::new();
            pool.install(|| p.apply_with(&mut got, &mut scratch));
            assert_close(
                &got,
                &want[..two],
                1e-12,
                1e-12,
                &format!("{what} in a task"),
            );
        }
    }
    // The padded-grid reference itself against naive DFTs (every fast path is compared with it).
    let grid = Grid::new(12, 10, 2e-6).unwrap();
    for pad in [2.0, 1.5] {
        let x: Vec<Complex<f64>> = random_field(grid.len(), 7);
        let want = textbook_propagation(&x, &grid, 150e-6, pad, true);
        for sizes in [FftSizes::Padded, FftSizes::Auto, FftSizes::PowerOfTwo] {
            let mut got = x.clone();
            Propagator::<f64>::with_sizes(&grid, LAMBDA, 150e-6, pad, true, sizes).apply(&mut got);
            assert_close(
                &got,
                &want,
                1e-11,
                1e-11,
                &format!("textbook pad {pad} {sizes:?}"),
            );
        }
    }
}
