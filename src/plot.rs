//! Pictures: line and point plots (numeric or categorical x, error bars) and false-colour images
//! with physical axes, colour bars and outlines drawn on top, rendered in memory with plotters and
//! written atomically as PNG. The font (DejaVu Sans, Bitstream Vera licence) is bundled so that
//! plots work on machines without fontconfig.

use std::f64::consts::PI;
use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

// ---------------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------------

/// About `max_n` round tick values (1, 2 or 5 × 10ᵏ apart) inside `[lo, hi]`.
pub fn nice_ticks(lo: f64, hi: f64, max_n: usize) -> Vec<f64> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) || hi - lo < 1e-300 {
        return vec![lo];
    }
    let raw = (hi - lo) / max_n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// A tick value as text with as many decimals as the spacing `step` needs (`−` for minus).
pub fn tick_label(v: f64, step: f64) -> String {
    let dec = if step > 0.0 && step < 1.0 {
        (-step.log10() - 1e-9).ceil().max(0.0) as usize
    } else {
        0
    };
    let s = if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-4) {
        format!("{v:.1e}")
    } else {
        format!("{v:.dec$}")
    };
    s.replace('-', "−")
}

fn labelled(ticks: Vec<f64>) -> Vec<(f64, String)> {
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        ticks.first().map(|v| v.abs()).unwrap_or(1.0)
    };
    ticks
        .into_iter()
        .map(|v| (v, tick_label(v, step)))
        .collect()
}

/// Ticks at multiples of π/2 within `[lo, hi]`, labelled `−π`, `−π/2`, `0`, `π/2`, `π`, ….
fn pi_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (a, b) = (
        (lo / (PI / 2.0) - 1e-9).ceil() as i64,
        (hi / (PI / 2.0) + 1e-9).floor() as i64,
    );
    (a..=b)
        .map(|k| {
            let s = match k {
                0 => "0".to_string(),
                1 => "π/2".into(),
                -1 => "−π/2".into(),
                2 => "π".into(),
                -2 => "−π".into(),
                k if k % 2 == 0 => format!("{}π", k / 2).replace('-', "−"),
                k => format!("{k}π/2").replace('-', "−"),
            };
            (k as f64 * PI / 2.0, s)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Line and point plots
// ---------------------------------------------------------------------------------------------

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
    let curves: Vec<Curve> = series
        .iter()
        .map(|s| Curve {
            label: s.label.to_string(),
            points: s
                .points
                .iter()
                .map(|&(x, y)| Point { x, y, err: 0.0 })
                .collect(),
        })
        .collect();
    xy_plot(
        path,
        title,
        &XAxis::Numeric {
            label: x_label.to_string(),
            log: false,
        },
        y_label,
        &curves,
    )
}

/// The x axis of an [`xy_plot`].
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    /// Numbers; with `log` the points' `x` are the values themselves, drawn on a log scale.
    Numeric {
        /// Axis label.
        label: String,
        /// Logarithmic scale (all `x > 0`).
        log: bool,
    },
    /// Categories: point `x = i` stands for `names[i]`; the ticks are the names.
    Categories {
        /// Axis label.
        label: String,
        /// One name per category, in order.
        names: Vec<String>,
    },
}

/// One point of a [`Curve`]: `y ± err` at `x` (`err = 0`: no error bar).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Position (category index for categorical axes).
    pub x: f64,
    /// Value.
    pub y: f64,
    /// Half-length of the error bar.
    pub err: f64,
}

/// One named curve of an [`xy_plot`].
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// Points, in x order.
    pub points: Vec<Point>,
}

/// The x range and the ticks `(position, label)` of an axis over points at `xs`: categories get
/// one tick per name at integer positions, log axes one per decade (labelled with the value, not
/// its logarithm), numeric axes round values.
pub fn x_ticks(axis: &XAxis, xs: &[f64]) -> ((f64, f64), Vec<(f64, String)>) {
    match axis {
        XAxis::Categories { names, .. } => (
            (-0.5, names.len().max(1) as f64 - 0.5),
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64, n.clone()))
                .collect(),
        ),
        XAxis::Numeric { log, .. } => {
            let fin: Vec<f64> = xs
                .iter()
                .copied()
                .filter(|x| x.is_finite() && (!log || *x > 0.0))
                .collect();
            let (mut x0, mut x1) = fin
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            if x0 > x1 {
                (x0, x1) = if *log { (1.0, 10.0) } else { (0.0, 1.0) };
            }
            if *log {
                let (l0, l1) = (
                    x0.log10().floor(),
                    x1.log10().ceil().max(x0.log10().floor() + 1.0),
                );
                let ticks = (l0 as i32..=l1 as i32)
                    .map(|k| {
                        let v = 10f64.powi(k);
                        (v.log10(), tick_label(v, v))
                    })
                    .collect();
                let pad = 0.05 * (x1.log10() - x0.log10()).max(0.2);
                ((x0.log10() - pad, x1.log10() + pad), ticks)
            } else {
                if x1 - x0 < 1e-12 {
                    (x0, x1) = (x0 - 0.5, x1 + 0.5);
                }
                let pad = 0.04 * (x1 - x0);
                ((x0 - pad, x1 + pad), labelled(nice_ticks(x0, x1, 8)))
            }
        }
    }
}

/// Curves with optional error bars over a numeric (linear or log) or categorical x axis, written
/// to `path` as PNG. Lines join the points of numeric axes; categorical points are joined too
/// (one curve per combination of the other settings) but the axis only has the category ticks.
pub fn xy_plot(path: &Path, title: &str, x: &XAxis, y_label: &str, curves: &[Curve]) -> Result<()> {
    ensure_font();
    let (w, h) = (900u32, 600u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let log = matches!(x, XAxis::Numeric { log: true, .. });
    let tx = |v: f64| if log { v.log10() } else { v };
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let xs: Vec<f64> = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.x))
            .collect();
        let ((x0, x1), ticks) = x_ticks(x, &xs);
        let (mut y0, mut y1) = (f64::MAX, f64::MIN);
        for p in curves.iter().flat_map(|c| c.points.iter()) {
            if p.y.is_finite() {
                let e = if p.err.is_finite() { p.err } else { 0.0 };
                (y0, y1) = (y0.min(p.y - e), y1.max(p.y + e));
            }
        }
        if y0 > y1 {
            (y0, y1) = (0.0, 1.0);
        }
        let pad = ((y1 - y0) * 0.08).max(1e-3);
        // Headroom above the data for the legend (one line per curve), so that it hides nothing.
        let top = if curves.len() > 1 {
            pad + (y1 - y0 + 2.0 * pad) * 0.055 * (curves.len() as f64 + 0.5)
        } else {
            pad
        };
        let x_desc = match x {
            XAxis::Numeric { label, log: true } => format!("{label} (log scale)"),
            XAxis::Numeric { label, .. } | XAxis::Categories { label, .. } => label.clone(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + top))
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_label)
            .x_labels(0)
            .disable_x_mesh()
            .y_label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        // The x ticks: exactly the positions and labels of `x_ticks` (categories, decades).
        let ybot = y0 - pad;
        for (v, text) in &ticks {
            if *v < x0 || *v > x1 {
                continue;
            }
            let (px, py) = chart.backend_coord(&(*v, ybot));
            root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                .map_err(|e| plot_err(path, e))?;
            root.draw_text(
                text,
                &("sans-serif", 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
                (px, py + 7),
            )
            .map_err(|e| plot_err(path, e))?;
        }
        let categorical = matches!(x, XAxis::Categories { .. });
        for (i, c) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            // Categories: no lines between them; curves side by side around each category.
            let shift = if categorical {
                (i as f64 - (curves.len() as f64 - 1.0) / 2.0) * 0.06
            } else {
                0.0
            };
            let pts: Vec<(f64, f64, f64)> = c
                .points
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite() && (!log || p.x > 0.0))
                .map(|p| {
                    (
                        tx(p.x) + shift,
                        p.y,
                        if p.err.is_finite() { p.err } else { 0.0 },
                    )
                })
                .collect();
            if !categorical {
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|&(x, y, _)| (x, y)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| plot_err(path, e))?;
            }
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y, _)| Circle::new((x, y), 4, color.filled())),
                )
                .map_err(|e| plot_err(path, e))?
                .label(c.label.as_str())
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (20, 0)], color.stroke_width(2))
                        + Circle::new((10, 0), 4, color.filled())
                });
            // Error bars: a vertical line with caps, a few pixels wide whatever the scale.
            let cap = 0.012 * (x1 - x0);
            for &(x, y, e) in pts.iter().filter(|p| p.2 > 0.0) {
                let lines = [
                    vec![(x, y - e), (x, y + e)],
                    vec![(x - cap, y - e), (x + cap, y - e)],
                    vec![(x - cap, y + e), (x + cap, y + e)],
                ];
                chart
                    .draw_series(
                        lines
                            .into_iter()
                            .map(|l| PathElement::new(l, color.stroke_width(2))),
                    )
                    .map_err(|e| plot_err(path, e))?;
            }
        }
        if curves.len() > 1 {
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| plot_err(path, e))?;
        }
        root.present().map_err(|e| plot_err(path, e))?;
    }
    save_rgb(path, w, h, buf)
}

// ---------------------------------------------------------------------------------------------
// False-colour panels
// ---------------------------------------------------------------------------------------------

/// How values become colours.
#[derive(Clone, Debug, PartialEq)]
pub enum ColorMap {
    /// Intensities: black → purple → orange → yellow from `0` (or the range's low end) up.
    Sequential,
    /// Phases: the colour wheel over `[−π, π)`, equal colours at `−π` and `π`.
    Cyclic,
    /// Signed values: blue (negative) → light grey (zero) → red (positive), centred on zero.
    Diverging,
    /// A few discrete levels: each value takes the colour of the nearest level; a legend names
    /// them instead of a colour bar.
    Levels(Vec<Level>),
}

/// One level of [`ColorMap::Levels`].
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    /// Value.
    pub value: f64,
    /// Colour.
    pub color: [u8; 3],
    /// Legend text.
    pub label: String,
}

/// A physical axis of a panel: the coordinate of the image's first and last sample edges
/// (left → right, top → bottom: `from > to` for a y axis pointing up).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Coordinate at the left (top) edge of the first sample.
    pub from: f64,
    /// Coordinate at the right (bottom) edge of the last sample.
    pub to: f64,
    /// Axis label with its unit, e.g. `x (µm)`.
    pub label: String,
}

/// Something drawn on top of a panel's image, in sample coordinates (`0..nx`, `0..ny`, the top
/// left corner of sample `(i, j)` is `(i, j)`).
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    /// A rectangle outline (all four edges) around samples `x0..x0+w`, `y0..y0+h`, with an
    /// optional label above it.
    Rect {
        /// First column.
        x0: f64,
        /// First row.
        y0: f64,
        /// Width in samples.
        w: f64,
        /// Height in samples.
        h: f64,
        /// Outline colour.
        color: [u8; 3],
        /// Text above the rectangle.
        label: Option<String>,
    },
    /// A filled dot with a white rim at `(x, y)`.
    Dot {
        /// Column coordinate.
        x: f64,
        /// Row coordinate.
        y: f64,
        /// Fill colour.
        color: [u8; 3],
    },
}

/// One legend entry below a panel: a square swatch or a dot, and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    /// Colour.
    pub color: [u8; 3],
    /// A dot (test points) instead of a square (regions).
    pub dot: bool,
    /// Text.
    pub label: String,
}

/// One false-colour panel with its colour map, colour bar, axes, overlays and legend: `data` is
/// row-major `ny × nx`.
#[derive(Clone, Debug)]
pub struct Image<'a> {
    /// Caption above the panel (wrapped to the panel's width).
    pub title: String,
    /// Values, row-major.
    pub data: &'a [f64],
    /// Width in samples.
    pub nx: usize,
    /// Height in samples.
    pub ny: usize,
    /// The colour map.
    pub map: ColorMap,
    /// Colour range; `None`: `[0, max]` (sequential), `[−π, π]` (cyclic), `[−m, m]` with
    /// `m = max |v|` (diverging).
    pub range: Option<(f64, f64)>,
    /// Colour-bar label (quantity and unit); `None`: no colour bar.
    pub bar: Option<String>,
    /// Physical x axis; `None`: no x axis.
    pub x: Option<Span>,
    /// Physical y axis; `None`: no y axis.
    pub y: Option<Span>,
    /// Outlines and markers drawn over the image.
    pub overlays: Vec<Overlay>,
    /// Legend entries below the axes (besides those of a [`ColorMap::Levels`] map).
    pub legend: Vec<LegendEntry>,
}

impl<'a> Image<'a> {
    /// A panel without axes, colour bar or overlays.
    pub fn new(
        title: impl Into<String>,
        data: &'a [f64],
        nx: usize,
        ny: usize,
        map: ColorMap,
    ) -> Self {
        Image {
            title: title.into(),
            data,
            nx,
            ny,
            map,
            range: None,
            bar: None,
            x: None,
            y: None,
            overlays: Vec::new(),
            legend: Vec::new(),
        }
    }

    /// The colour range the panel maps.
    pub fn color_range(&self) -> (f64, f64) {
        if let Some(r) = self.range {
            return r;
        }
        let fin = || self.data.iter().copied().filter(|v| v.is_finite());
        match &self.map {
            ColorMap::Cyclic => (-PI, PI),
            ColorMap::Sequential => {
                let hi = fin().fold(0.0f64, f64::max);
                (0.0, if hi > 0.0 { hi } else { 1.0 })
            }
            ColorMap::Diverging => {
                let m = fin().fold(0.0f64, |a, v| a.max(v.abs()));
                let m = if m > 0.0 { m } else { 1.0 };
                (-m, m)
            }
            ColorMap::Levels(l) => {
                let lo = l.iter().map(|l| l.value).fold(f64::MAX, f64::min);
                let hi = l.iter().map(|l| l.value).fold(f64::MIN, f64::max);
                (lo.min(hi), hi.max(lo))
            }
        }
    }

    /// The colour of value `v` in this panel.
    pub fn color_of(&self, v: f64) -> [u8; 3] {
        self.color_in(v, self.color_range())
    }

    /// [`Image::color_of`] with the panel's range given (computed once for a whole image: it
    /// is a pass over the data).
    pub fn color_in(&self, v: f64, (lo, hi): (f64, f64)) -> [u8; 3] {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        match &self.map {
            ColorMap::Levels(l) => l
                .iter()
                .min_by(|a, b| (a.value - v).abs().total_cmp(&(b.value - v).abs()))
                .map(|l| l.color)
                .unwrap_or([128, 128, 128]),
            m => colormap(if v.is_finite() { t } else { 0.0 }, m),
        }
    }
}

/// The colour at `t ∈ [0, 1]` of the range of a (non-level) map.
fn colormap(t: f64, map: &ColorMap) -> [u8; 3] {
    let lerp = |a: [f64; 3], b: [f64; 3], s: f64| -> [u8; 3] {
        [0, 1, 2].map(|i| {
            (255.0 * (a[i] + (b[i] - a[i]) * s))
                .round()
                .clamp(0.0, 255.0) as u8
        })
    };
    match map {
        ColorMap::Cyclic => {
            let c = HSLColor(t.rem_euclid(1.0), 0.8, 0.5).to_rgba();
            [c.0, c.1, c.2]
        }
        ColorMap::Diverging => {
            // Blue → light grey → red, symmetric about the centre (zero).
            let (neg, mid, pos) = ([0.13, 0.30, 0.75], [0.93, 0.93, 0.93], [0.75, 0.08, 0.12]);
            let t = t.clamp(0.0, 1.0);
            if t < 0.5 {
                lerp(neg, mid, t / 0.5)
            } else {
                lerp(mid, pos, (t - 0.5) / 0.5)
            }
        }
        _ => {
            // A perceptually ordered ramp black → purple → orange → yellow ("inferno"-like).
            let v = t.clamp(0.0, 1.0);
            let r = (255.0 * (1.5 * v).min(1.0)) as u8;
            let g = (255.0 * (v * v)) as u8;
            let b = (255.0 * (0.6 * (PI * v).sin()).max(0.0)) as u8;
            [r, g, b]
        }
    }
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Where the panels went in the picture: the image rectangle `(x, y, w, h)` of each panel, in PNG
/// pixels, and the picture's size.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Image rectangle of each panel.
    pub images: Vec<(u32, u32, u32, u32)>,
}

const TITLE_FONT: u32 = 15;
const TICK_FONT: u32 = 12;
const LABEL_FONT: u32 = 13;

/// Splits `text` into lines no wider than `width` pixels (at `size`), at spaces or after commas.
fn wrap(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    text: &str,
    size: u32,
    width: u32,
) -> Vec<String> {
    let font = TextStyle::from(("sans-serif", size).into_font());
    let fits = |s: &str| {
        area.estimate_text_size(s, &font)
            .map(|(w, _)| w <= width)
            .unwrap_or(true)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let cand = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if fits(&cand) || cur.is_empty() {
            cur = cand;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = word.to_string();
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Ticks `(position in [0, 1] along the span, label)` of a physical axis.
fn span_ticks(s: &Span) -> Vec<(f64, String)> {
    let (lo, hi) = (s.from.min(s.to), s.from.max(s.to));
    labelled(nice_ticks(lo, hi, 5))
        .into_iter()
        .map(|(v, l)| ((v - s.from) / (s.to - s.from), l))
        .collect()
}

/// The drawing area of one figure (an in-memory RGB bitmap).
type Canvas<'b> = DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>;

/// The longer side of every panel's image, pixels.
const IMAGE_SIDE: f64 = 220.0;

/// A panel's image size in pixels: the longer side [`IMAGE_SIDE`], the aspect of the data.
fn image_size(p: &Image) -> (u32, u32) {
    let m = p.nx.max(p.ny).max(1) as f64;
    (
        ((IMAGE_SIDE * p.nx as f64 / m).round() as u32).max(1),
        ((IMAGE_SIDE * p.ny as f64 / m).round() as u32).max(1),
    )
}

/// A panel's legend: the labelled levels of a [`ColorMap::Levels`] map, then its own entries.
fn legend_items(p: &Image) -> Vec<LegendEntry> {
    let mut v: Vec<LegendEntry> = match &p.map {
        ColorMap::Levels(l) => l
            .iter()
            .filter(|l| !l.label.is_empty())
            .map(|l| LegendEntry {
                color: l.color,
                dot: false,
                label: l.label.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    v.extend(p.legend.iter().cloned());
    v
}

/// Where everything of an [`images`] figure goes: cells in rows of `cols`, each with the title
/// lines, the image with its margins for axes and colour bar, and the legend below.
struct Grid {
    cols: usize,
    /// The largest panel image.
    img_w: u32,
    img_h: u32,
    /// Margins of the image inside its cell (y axis, x axis).
    left: u32,
    bottom: u32,
    cell_w: u32,
    cell_h: u32,
    /// Height reserved for the panels' titles.
    title_h: u32,
    /// Height of the figure's heading.
    head: u32,
    width: u32,
    height: u32,
    /// Each panel's title, wrapped to its cell.
    title_lines: Vec<Vec<String>>,
    /// The figure's heading, wrapped to the width.
    head_lines: Vec<String>,
}

impl Grid {
    fn new(title: &str, panels: &[Image<'_>], cols: usize) -> Grid {
        let cols = cols.max(1).min(panels.len().max(1));
        let rows = panels.len().div_ceil(cols).max(1);
        let img_w = panels.iter().map(|p| image_size(p).0).max().unwrap_or(1);
        let img_h = panels.iter().map(|p| image_size(p).1).max().unwrap_or(1);
        let any = |f: &dyn Fn(&Image) -> bool| panels.iter().any(f);
        let left = if any(&|p| p.y.is_some()) { 62 } else { 10 };
        let bottom = if any(&|p| p.x.is_some()) { 44 } else { 8 };
        let right = if any(&|p| p.bar.is_some()) { 96 } else { 14 };
        // Space between neighbouring cells.
        let gap = 24u32;
        let cell_w = left + img_w + right + gap;
        let legend_rows = panels
            .iter()
            .map(|p| legend_items(p).len())
            .max()
            .unwrap_or(0) as u32;
        let legend_h = if legend_rows > 0 {
            legend_rows * 17 + 6
        } else {
            0
        };
        // Titles: wrapped to the cell; every cell reserves the most lines any title needs.
        let width = (cell_w * cols as u32).max(320);
        let mut probe = vec![255u8; (width * 40 * 3) as usize];
        let (title_lines, head_lines): (Vec<Vec<String>>, Vec<String>) = {
            let area = BitMapBackend::with_buffer(&mut probe, (width, 40)).into_drawing_area();
            (
                panels
                    .iter()
                    .map(|p| wrap(&area, &p.title, TITLE_FONT, cell_w - 12))
                    .collect(),
                wrap(&area, title, 20, width - 16),
            )
        };
        let t_lines = title_lines.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
        let title_h = t_lines * (TITLE_FONT + 4) + 6;
        let cell_h = title_h + img_h + bottom + legend_h + 10;
        let head = head_lines.len() as u32 * 26 + 14;
        Grid {
            cols,
            img_w,
            img_h,
            left,
            bottom,
            cell_w,
            cell_h,
            title_h,
            head,
            width,
            height: rows as u32 * cell_h + head,
            title_lines,
            head_lines,
        }
    }

    /// The top left corner of panel `pi`'s cell.
    fn cell(&self, pi: usize) -> (u32, u32) {
        (
            (pi % self.cols) as u32 * self.cell_w,
            (pi / self.cols) as u32 * self.cell_h + self.head,
        )
    }
}

/// Several panels in rows of `cols`, each with its own colour range, colour bar, axes, overlays
/// and legend, written as one PNG; returns where each panel's image went.
pub fn images(path: &Path, title: &str, panels: &[Image<'_>], cols: usize) -> Result<Layout> {
    ensure_font();
    let grid = Grid::new(title, panels, cols);
    let (w, h) = (grid.width, grid.height);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let mut images = Vec::new();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let e = |e| plot_err(path, e);
        root.fill(&WHITE).map_err(e)?;
        for (i, line) in grid.head_lines.iter().enumerate() {
            root.draw_text(
                line,
                &("sans-serif", 20).into_font().color(&BLACK),
                (10, 8 + 26 * i as i32),
            )
            .map_err(e)?;
        }
        for (pi, p) in panels.iter().enumerate() {
            images.push(draw_panel(&root, &grid, pi, p).map_err(e)?);
        }
        root.present().map_err(e)?;
    }
    save_rgb(path, w, h, buf)?;
    Ok(Layout {
        width: w,
        height: h,
        images,
    })
}

/// A drawing error of plotters' bitmap backend.
type DrawError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// Panel `pi` in its cell: title, image, overlays, frame, axes, colour bar and legend; returns
/// the image's rectangle.
fn draw_panel(
    root: &Canvas,
    grid: &Grid,
    pi: usize,
    p: &Image,
) -> std::result::Result<(u32, u32, u32, u32), DrawError> {
    let (cx, cy) = grid.cell(pi);
    for (k, line) in grid.title_lines[pi].iter().enumerate() {
        root.draw_text(
            line,
            &("sans-serif", TITLE_FONT).into_font().color(&BLACK),
            (
                cx as i32 + 6,
                cy as i32 + 4 + k as i32 * (TITLE_FONT as i32 + 4),
            ),
        )?;
    }
    let (pw, ph) = image_size(p);
    let (ix, iy) = (
        (cx + grid.left + (grid.img_w - pw) / 2) as i32,
        (cy + grid.title_h + (grid.img_h - ph) / 2) as i32,
    );
    // The image, nearest sample per pixel.
    let range = p.color_range();
    for py in 0..ph {
        let sy = ((py as usize * p.ny) / ph as usize).min(p.ny.saturating_sub(1));
        for px in 0..pw {
            let sx = ((px as usize * p.nx) / pw as usize).min(p.nx.saturating_sub(1));
            let v = p.data.get(sy * p.nx + sx).copied().unwrap_or(f64::NAN);
            root.draw_pixel((ix + px as i32, iy + py as i32), &rgb(p.color_in(v, range)))?;
        }
    }
    draw_overlays(root, p, (ix, iy), (pw, ph))?;
    // A frame just outside the image.
    root.draw(&Rectangle::new(
        [(ix - 1, iy - 1), (ix + pw as i32, iy + ph as i32)],
        BLACK.stroke_width(1),
    ))?;
    draw_axes(root, p, cx, (ix, iy), (pw, ph))?;
    if let Some(bar_label) = &p.bar {
        draw_colour_bar(root, p, bar_label, (ix, iy), (pw, ph))?;
    }
    // Legend below the axes.
    let ly0 = cy as i32 + (grid.title_h + grid.img_h + grid.bottom) as i32 + 4;
    draw_legend(root, &legend_items(p), (cx as i32 + 8, ly0))?;
    Ok((ix as u32, iy as u32, pw, ph))
}

/// The overlays of a panel whose image is at `(ix, iy)` and `(pw, ph)` pixels large.
fn draw_overlays(
    root: &Canvas,
    p: &Image,
    (ix, iy): (i32, i32),
    (pw, ph): (u32, u32),
) -> std::result::Result<(), DrawError> {
    let to_px = |sx: f64, sy: f64| {
        (
            ix + (sx * pw as f64 / p.nx.max(1) as f64).round() as i32,
            iy + (sy * ph as f64 / p.ny.max(1) as f64).round() as i32,
        )
    };
    for o in &p.overlays {
        match o {
            Overlay::Rect {
                x0,
                y0,
                w: rw,
                h: rh,
                color,
                label: text,
            } => {
                let (l, t) = to_px(*x0, *y0);
                let (r, b) = to_px(x0 + rw, y0 + rh);
                root.draw(&Rectangle::new(
                    [(l, t), (r - 1, b - 1)],
                    rgb(*color).stroke_width(1),
                ))?;
                if let Some(text) = text {
                    root.draw_text(
                        text,
                        &("sans-serif", 10)
                            .into_font()
                            .color(&WHITE)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                        ((l + r) / 2, t - 1),
                    )?;
                }
            }
            Overlay::Dot { x, y, color } => {
                let c = to_px(*x, *y);
                root.draw(&Circle::new(c, 3, WHITE.filled()))?;
                root.draw(&Circle::new(c, 2, rgb(*color).filled()))?;
            }
        }
    }
    Ok(())
}

/// The physical axes of a panel (cell at column `cx`): ticks outside the frame, labels in
/// physical units.
fn draw_axes(
    root: &Canvas,
    p: &Image,
    cx: u32,
    (ix, iy): (i32, i32),
    (pw, ph): (u32, u32),
) -> std::result::Result<(), DrawError> {
    let tick = ("sans-serif", TICK_FONT).into_font().color(&BLACK);
    let label = ("sans-serif", LABEL_FONT).into_font().color(&BLACK);
    if let Some(s) = &p.x {
        for (t, text) in span_ticks(s) {
            let x = ix + (t * pw as f64).round() as i32;
            let yb = iy + ph as i32;
            root.draw(&PathElement::new(vec![(x, yb), (x, yb + 4)], BLACK))?;
            root.draw_text(
                &text,
                &tick.pos(Pos::new(HPos::Center, VPos::Top)),
                (x, yb + 6),
            )?;
        }
        root.draw_text(
            &s.label,
            &label.pos(Pos::new(HPos::Center, VPos::Top)),
            (ix + pw as i32 / 2, iy + ph as i32 + 22),
        )?;
    }
    if let Some(s) = &p.y {
        for (t, text) in span_ticks(s) {
            let y = iy + (t * ph as f64).round() as i32;
            root.draw(&PathElement::new(vec![(ix - 5, y), (ix - 1, y)], BLACK))?;
            root.draw_text(
                &text,
                &tick.pos(Pos::new(HPos::Right, VPos::Center)),
                (ix - 7, y),
            )?;
        }
        root.draw_text(
            &s.label,
            &label
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Center, VPos::Top)),
            (cx as i32 + 4, iy + ph as i32 / 2),
        )?;
    }
    Ok(())
}

/// A panel's colour bar right of its image: the map over its range, ticks and the quantity with
/// its unit.
fn draw_colour_bar(
    root: &Canvas,
    p: &Image,
    bar_label: &str,
    (ix, iy): (i32, i32),
    (pw, ph): (u32, u32),
) -> std::result::Result<(), DrawError> {
    let tick = ("sans-serif", TICK_FONT).into_font().color(&BLACK);
    let label = ("sans-serif", LABEL_FONT).into_font().color(&BLACK);
    let (lo, hi) = p.color_range();
    let (bx, bw) = (ix + pw as i32 + 12, 14);
    for py in 0..ph as i32 {
        let v = hi - (hi - lo) * (py as f64 + 0.5) / ph as f64;
        root.draw(&PathElement::new(
            vec![(bx, iy + py), (bx + bw - 1, iy + py)],
            rgb(p.color_in(v, (lo, hi))),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(bx - 1, iy - 1), (bx + bw, iy + ph as i32)],
        BLACK.stroke_width(1),
    ))?;
    let ticks = if p.map == ColorMap::Cyclic {
        pi_ticks(lo, hi)
    } else {
        labelled(nice_ticks(lo, hi, 5))
    };
    for (v, text) in ticks {
        let y = iy + ((hi - v) / (hi - lo) * ph as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(bx + bw - 4, y), (bx + bw - 1, y)],
            BLACK,
        ))?;
        root.draw_text(
            &text,
            &tick.pos(Pos::new(HPos::Left, VPos::Center)),
            (bx + bw + 4, y),
        )?;
    }
    root.draw_text(
        bar_label,
        &label
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Center, VPos::Top)),
        (ix + pw as i32 + 88, iy + ph as i32 / 2),
    )
}

/// Legend entries one below the other from `(x, y0)`: a swatch or a dot, then the text.
fn draw_legend(
    root: &Canvas,
    items: &[LegendEntry],
    (x, y0): (i32, i32),
) -> std::result::Result<(), DrawError> {
    let label = ("sans-serif", LABEL_FONT).into_font().color(&BLACK);
    for (k, item) in items.iter().enumerate() {
        let y = y0 + 17 * k as i32;
        if item.dot {
            root.draw(&Circle::new((x + 6, y + 7), 4, rgb(item.color).filled()))?;
        } else {
            root.draw(&Rectangle::new(
                [(x, y + 1), (x + 12, y + 13)],
                rgb(item.color).filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x, y + 1), (x + 12, y + 13)],
                BLACK.stroke_width(1),
            ))?;
        }
        root.draw_text(
            &item.label,
            &label.pos(Pos::new(HPos::Left, VPos::Top)),
            (x + 18, y),
        )?;
    }
    Ok(())
}

/// A plain false-colour panel (no axes, no colour bar): `data` is row-major `ny × nx`. See
/// [`Image`] for panels with axes, colour bars and overlays.
pub struct Panel<'a> {
    /// Caption above the panel.
    pub title: String,
    /// Values, row-major.
    pub data: &'a [f64],
    /// Width in samples.
    pub nx: usize,
    /// Height in samples.
    pub ny: usize,
    /// Colour map: `false` = intensity (sequential, `[0, max]`), `true` = cyclic phase (`[−π, π)`).
    pub cyclic: bool,
}

/// Plain panels side by side in rows of `cols` (see [`images`]).
pub fn panels(path: &Path, title: &str, panels: &[Panel<'_>], cols: usize) -> Result<Layout> {
    let ims: Vec<Image> = panels
        .iter()
        .map(|p| {
            Image::new(
                p.title.clone(),
                p.data,
                p.nx,
                p.ny,
                if p.cyclic {
                    ColorMap::Cyclic
                } else {
                    ColorMap::Sequential
                },
            )
        })
        .collect();
    images(path, title, &ims, cols)
}
