//! Pictures: line plots and false-colour field images, rendered in memory with plotters and
//! written atomically as PNG. The font (DejaVu Sans, Bitstream Vera licence) is bundled so that
//! plots work on machines without fontconfig.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Error, Result};

static FONT: Once = Once::new();

fn ensure_font() {
    FONT.call_once(|| {
        // The bundled bytes are a valid TrueType font; failure would only lose text in plots.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../data/DejaVuSans.ttf"),
        );
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path, std::io::Error::other(format!("drawing failed: {e}")))
}

fn save_rgb(path: &Path, w: u32, h: u32, buf: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| plot_err(path, "pixel buffer of the wrong size"))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| plot_err(path, e))?;
    crate::io::atomic_write(path, &png)
}

/// One named curve.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points `(x, y)`.
    pub points: Vec<(f64, f64)>,
}

/// A line plot of several series, written to `path` as PNG.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<()> {
    ensure_font();
    let (w, h) = (900u32, 600u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let pts = series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-12 {
            x1 = x0 + 1.0;
        }
        let pad = ((y1 - y0) * 0.05).max(1e-12);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points
                        .iter()
                        .copied()
                        .filter(|(x, y)| x.is_finite() && y.is_finite()),
                    color.stroke_width(2),
                ))
                .map_err(|e| plot_err(path, e))?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        root.present().map_err(|e| plot_err(path, e))?;
    }
    save_rgb(path, w, h, buf)
}

/// One false-colour panel: `data` is row-major `ny × nx`.
pub struct Panel<'a> {
    /// Caption above the panel.
    pub title: String,
    /// Values, row-major.
    pub data: &'a [f64],
    /// Width in samples.
    pub nx: usize,
    /// Height in samples.
    pub ny: usize,
    /// Colour map: `false` = intensity (black → yellow), `true` = cyclic phase.
    pub cyclic: bool,
}

fn colormap(v: f64, cyclic: bool) -> RGBColor {
    if cyclic {
        let h = v.rem_euclid(1.0);
        let c = HSLColor(h, 0.8, 0.5).to_rgba();
        RGBColor(c.0, c.1, c.2)
    } else {
        // A perceptually ordered ramp black → purple → orange → yellow ("inferno"-like).
        let v = v.clamp(0.0, 1.0);
        let r = (255.0 * (1.5 * v).min(1.0)) as u8;
        let g = (255.0 * (v * v)) as u8;
        let b = (255.0 * (0.6 * (std::f64::consts::PI * v).sin()).max(0.0)) as u8;
        RGBColor(r, g, b)
    }
}

/// Several panels side by side in rows of `cols`, each scaled to its own range (cyclic panels map
/// `[−π, π)` around the colour wheel), written as one PNG.
pub fn panels(path: &Path, title: &str, panels: &[Panel<'_>], cols: usize) -> Result<()> {
    ensure_font();
    let cols = cols.max(1).min(panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let cell = 220u32;
    let aspect = panels
        .iter()
        .map(|p| p.nx as f64 / p.ny.max(1) as f64)
        .fold(1.0f64, f64::max)
        .min(4.0);
    let cell_w = (cell as f64 * aspect) as u32;
    let head = 40u32;
    let (w, h) = (cols as u32 * cell_w, rows as u32 * (cell + 24) + head);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        root.draw_text(
            title,
            &("sans-serif", 20).into_font().color(&BLACK),
            (10, 10),
        )
        .map_err(|e| plot_err(path, e))?;
        for (i, p) in panels.iter().enumerate() {
            let (cx, cy) = (
                (i % cols) as u32 * cell_w,
                (i / cols) as u32 * (cell + 24) + head,
            );
            root.draw_text(
                &p.title,
                &("sans-serif", 14).into_font().color(&BLACK),
                (cx as i32 + 6, cy as i32 + 2),
            )
            .map_err(|e| plot_err(path, e))?;
            let (lo, hi) = if p.cyclic {
                (-std::f64::consts::PI, std::f64::consts::PI)
            } else {
                let hi = p
                    .data
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(0.0f64, f64::max);
                (0.0, if hi > 0.0 { hi } else { 1.0 })
            };
            let (side_w, side_h) = (cell_w - 12, cell - 12);
            let scale = (side_w as f64 / p.nx as f64).min(side_h as f64 / p.ny as f64);
            for py in 0..side_h {
                for px in 0..side_w {
                    let (sx, sy) = ((px as f64 / scale) as usize, (py as f64 / scale) as usize);
                    if sx >= p.nx || sy >= p.ny {
                        continue;
                    }
                    let v = p.data[sy * p.nx + sx];
                    let c = colormap((v - lo) / (hi - lo), p.cyclic);
                    root.draw_pixel((cx as i32 + 6 + px as i32, cy as i32 + 20 + py as i32), &c)
                        .map_err(|e| plot_err(path, e))?;
                }
            }
        }
        root.present().map_err(|e| plot_err(path, e))?;
    }
    save_rgb(path, w, h, buf)
}
