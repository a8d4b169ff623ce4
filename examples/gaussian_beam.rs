//! Propagates a Gaussian beam through several distances with the CPU engine, prints the measured
//! second-moment width against the analytic `w(z) = w₀·√(1 + (z/z_R)²)`, and writes a picture of
//! the intensity along z (a cut through y = 0 at each distance) to `out/gaussian_beam.png`.
//!
//! Run: `cargo run --release --example gaussian_beam`

use num_complex::Complex;
use wavetrain::cpu::Propagator;
use wavetrain::plot::{panels, Panel};
use wavetrain::Grid;

fn main() -> wavetrain::Result<()> {
    let wavelength = 780e-9;
    let grid = Grid::new(256, 256, 4e-6)?;
    let w0 = 40e-6;
    let z_r = std::f64::consts::PI * w0 * w0 / wavelength;
    let beam: Vec<Complex<f64>> = (0..grid.len())
        .map(|i| {
            let (x, y) = (grid.x(i % grid.nx), grid.y(i / grid.nx));
            Complex::new((-(x * x + y * y) / (w0 * w0)).exp(), 0.0)
        })
        .collect();
    println!("Rayleigh range z_R = {:.3} mm", z_r * 1e3);
    println!(
        "{:>8} {:>12} {:>12} {:>8}",
        "z (mm)", "w meas (µm)", "w theo (µm)", "err %"
    );
    let steps = 64;
    let z_max = 3.0 * z_r;
    let mut cut = vec![0.0; steps * grid.nx];
    for s in 0..steps {
        let z = z_max * s as f64 / (steps - 1) as f64;
        let mut f = beam.clone();
        Propagator::<f64>::new(&grid, wavelength, z, 2.0, true).apply(&mut f);
        let (mut m0, mut m2) = (0.0, 0.0);
        for (i, v) in f.iter().enumerate() {
            let x = grid.x(i % grid.nx);
            m0 += v.norm_sqr();
            m2 += v.norm_sqr() * x * x;
        }
        let row = grid.ny / 2;
        for m in 0..grid.nx {
            cut[s * grid.nx + m] = f[row * grid.nx + m].norm_sqr();
        }
        if s % 9 == 0 || s == steps - 1 {
            let w = 2.0 * (m2 / m0).sqrt();
            let theo = w0 * (1.0 + (z / z_r).powi(2)).sqrt();
            println!(
                "{:8.3} {:12.3} {:12.3} {:8.3}",
                z * 1e3,
                w * 1e6,
                theo * 1e6,
                100.0 * (w / theo - 1.0)
            );
        }
    }
    // Normalise each row to its peak so the spreading is visible along z.
    for s in 0..steps {
        let row = &mut cut[s * grid.nx..(s + 1) * grid.nx];
        let peak = row.iter().copied().fold(0.0, f64::max);
        row.iter_mut().for_each(|v| *v /= peak);
    }
    std::fs::create_dir_all("out").map_err(|e| wavetrain::Error::io("out", e))?;
    let path = std::path::Path::new("out/gaussian_beam.png");
    panels(
        path,
        &format!(
            "Gaussian beam, w0 = {} µm, z = 0 … {:.1} mm (top → bottom)",
            w0 * 1e6,
            z_max * 1e3
        ),
        &[Panel {
            title: "|E|² along x (row-normalised)".into(),
            data: &cut,
            nx: grid.nx,
            ny: steps,
            cyclic: false,
        }],
        1,
    )?;
    println!("wrote {}", path.display());
    Ok(())
}
