//! The small commands: `absorber`, `sampling` and `presets`.

use std::path::PathBuf;

use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::{Error, Result};

#[derive(clap::Args)]
pub struct AbsorberArgs {
    /// Optical depth α₀ (intensity, on resonance).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub od: f64,
    /// Absorber model: thin or beer-lambert.
    #[arg(long, default_value = "thin")]
    pub model: AbsorberModel,
    /// First input amplitude z.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub from: f64,
    /// Last input amplitude z (included when on the step grid).
    #[arg(long, default_value_t = 16.0, allow_negative_numbers = true)]
    pub to: f64,
    /// Step in z.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub step: f64,
    /// Also draw g, t_probe and g_exact against z into this PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SamplingArgs {
    /// Grid width in pixels.
    #[arg(long, default_value_t = 128)]
    pub nx: usize,
    /// Grid height in pixels (defaults to nx).
    #[arg(long)]
    pub ny: Option<usize>,
    /// Pixel pitch in metres.
    #[arg(long, default_value_t = 8e-6)]
    pub pitch: f64,
    /// Wavelength in metres.
    #[arg(long, default_value_t = 780e-9)]
    pub wavelength: f64,
    /// Propagation distance in metres (> 0).
    #[arg(long, allow_negative_numbers = true)]
    pub distance: f64,
    /// Zero-padding factor (≥ 1).
    #[arg(long, default_value_t = 2.0)]
    pub pad: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn absorber(a: AbsorberArgs) -> Result<()> {
    if !(a.od.is_finite() && a.od >= 0.0) {
        return Err(Error::config(
            "--od",
            format!("optical depth must be a finite number ≥ 0, got {}", a.od),
        ));
    }
    if !(a.from.is_finite() && a.to.is_finite()) {
        return Err(Error::config("--from/--to", "must be finite numbers"));
    }
    if !(a.step.is_finite() && a.step > 0.0) {
        return Err(Error::config(
            "--step",
            format!("must be a positive number, got {}", a.step),
        ));
    }
    if a.to < a.from {
        return Err(Error::config(
            "--to",
            format!("{} is below --from {}: give --to ≥ --from", a.to, a.from),
        ));
    }
    let n = ((a.to - a.from) / a.step + 1e-9).floor() as u64 + 1;
    if n > 10_000_000 {
        return Err(Error::config(
            "--step",
            format!("{n} points is too many: use a larger step"),
        ));
    }
    let abs = Absorber::new(a.od, a.model);
    let mut out = String::from("z,g,t_probe,g_exact,ratio\n");
    let (mut g, mut t, mut ge) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let z = a.from + i as f64 * a.step;
        let (gz, tz, gez) = abs.response(z);
        out.push_str(&format!("{z},{gz:.9},{tz:.9},{gez:.9},{:.9}\n", gez / tz));
        g.push((z, gz));
        t.push((z, tz));
        ge.push((z, gez));
    }
    if let Some(path) = &a.plot {
        use wavetrain::plot::{line_plot, Series};
        line_plot(
            path,
            &format!(
                "Saturable absorber, {} model, α₀ = {}",
                wavetrain::train::pictures::absorber_name(a.model),
                a.od
            ),
            "input field amplitude z (z² = I/I_sat)",
            "",
            &[
                Series {
                    label: "g(z) output field",
                    points: g,
                },
                Series {
                    label: "t_probe (optical gradient)",
                    points: t,
                },
                Series {
                    label: "g'(z) exact derivative",
                    points: ge,
                },
            ],
        )?;
    }
    print!("{out}");
    Ok(())
}

pub fn sampling(a: SamplingArgs) -> Result<()> {
    let grid = wavetrain::Grid::new(a.nx, a.ny.unwrap_or(a.nx), a.pitch)?;
    if !(a.wavelength.is_finite() && a.wavelength > 0.0) {
        return Err(Error::config(
            "--wavelength",
            format!("must be a positive length in metres, got {}", a.wavelength),
        ));
    }
    if !(a.pad.is_finite() && (1.0..=8.0).contains(&a.pad)) {
        return Err(Error::config(
            "--pad",
            format!("padding factor must be between 1 and 8, got {}", a.pad),
        ));
    }
    if !(a.distance.is_finite() && a.distance > 0.0) {
        return Err(Error::config(
            "--distance",
            format!(
                "must be a positive, finite length in metres (the propagation from one plane to the next), got {}",
                a.distance
            ),
        ));
    }
    let r = wavetrain::optics::sampling_report(
        grid.nx,
        grid.ny,
        grid.dx,
        a.pad,
        a.wavelength,
        a.distance,
    );
    if a.json {
        println!("{}", serde_json::to_string(&r).unwrap_or_default());
    } else {
        println!("distance            {:.6} m", r.distance);
        println!(
            "band-limit cut-off  {:.4e} / {:.4e} cycles/m (Nyquist {:.4e})",
            r.cutoff.0, r.cutoff.1, r.nyquist
        );
        println!("spectrum kept       {:.1} %", 100.0 * r.kept_fraction);
        println!("evanescent          {:.1} %", 100.0 * r.evanescent_fraction);
        println!(
            "lateral spread      {:.4e} m (padding margin {:.4e} m)",
            r.lateral_spread, r.margin
        );
        let w = r.warnings();
        if w.is_empty() {
            println!("ok: the sampling represents this propagation");
        }
        for line in w {
            eprintln!("warning: {line}");
        }
    }
    Ok(())
}

pub fn presets(name: Option<String>) -> Result<()> {
    match name {
        Some(n) => {
            let (_, text) = wavetrain::presets::PRESETS
                .iter()
                .find(|(p, _)| *p == n)
                .ok_or_else(|| Error::config("preset", format!("unknown preset '{n}'")))?;
            print!("{text}");
        }
        None => {
            for (n, text) in wavetrain::presets::PRESETS {
                let first = text.lines().next().unwrap_or("").trim_start_matches("# ");
                println!("{n:<20} {first}");
            }
        }
    }
    Ok(())
}
