//! The pictures of a run: learning curves, and for field networks the trained SLMs and the
//! detector-plane intensity of one test digit per class; for dense networks the first-layer
//! weights or the decision boundary of a 2-D task. Every image has physical axes (µm on the
//! optical planes, the task's coordinates for a decision map) and a colour bar with its unit;
//! phases use a cyclic map, intensities a sequential one, signed weights a diverging one centred
//! on zero.

use std::path::Path;

use super::eval::{decision_map, BOUNDARY_EXTENT, BOUNDARY_SIDE};
use crate::backend::Backend;
use crate::checkpoint::EpochMetrics;
use crate::data::{encode, Split};
use crate::error::Result;
use crate::loss::argmax;
use crate::model::{Config, Element, GradientMode, Task};
use crate::network::{Network, ParamKind};
use crate::optics::AbsorberModel;
use crate::plot::{ColorMap, Image, LegendEntry, Level, Overlay, Span};

/// Outline colour of the detectors in `outputs.png`, and of the predicted class's detector.
pub const DETECTOR_COLOR: [u8; 3] = [0, 255, 255];
/// Outline colour of the detector of the predicted class.
pub const PREDICTED_COLOR: [u8; 3] = [0, 255, 0];

/// The gradient mode as text: `optical gradient`, `exact gradient`.
pub fn gradient_name(g: GradientMode) -> &'static str {
    match g {
        GradientMode::Optical => "optical gradient",
        GradientMode::Exact => "exact gradient",
    }
}

/// The absorber model as text: `thin`, `Beer–Lambert`.
pub fn absorber_name(m: AbsorberModel) -> &'static str {
    match m {
        AbsorberModel::Thin => "thin",
        AbsorberModel::BeerLambert => "Beer–Lambert",
    }
}

/// The task as text and the names of its two classes.
pub fn task_names(t: Task) -> (&'static str, [&'static str; 2]) {
    match t {
        Task::Rings => ("rings", ["disc", "ring"]),
        Task::Moons => ("moons", ["upper moon", "lower moon"]),
        Task::Spirals => ("spirals", ["arm 1", "arm 2"]),
    }
}

/// The panel of a [`decision_map`]: the two classes' regions in light colours, the test points
/// (the map's values `0` and `1`) as dots, axes in the task's coordinates and a legend naming
/// the classes.
pub fn boundary_panel(title: String, map: &[f64], task: Option<Task>) -> Image<'_> {
    let n = BOUNDARY_SIDE;
    let names = task
        .map(|t| task_names(t).1)
        .unwrap_or(["class 0", "class 1"]);
    let (point0, point1) = ([33, 102, 172], [204, 60, 0]);
    let mut p = Image::new(
        title,
        map,
        n,
        n,
        ColorMap::Levels(vec![
            Level {
                value: 0.35,
                color: [198, 219, 239],
                label: format!("class 0 ({}) predicted", names[0]),
            },
            Level {
                value: 0.65,
                color: [253, 208, 162],
                label: format!("class 1 ({}) predicted", names[1]),
            },
        ]),
    );
    p.x = Some(Span {
        from: -BOUNDARY_EXTENT,
        to: BOUNDARY_EXTENT,
        label: "x".into(),
    });
    p.y = Some(Span {
        from: BOUNDARY_EXTENT,
        to: -BOUNDARY_EXTENT,
        label: "y".into(),
    });
    for (i, &v) in map.iter().enumerate() {
        if v == 0.0 || v == 1.0 {
            p.overlays.push(Overlay::Dot {
                x: (i % n) as f64 + 0.5,
                y: (i / n) as f64 + 0.5,
                color: if v == 1.0 { point1 } else { point0 },
            });
        }
    }
    p.legend = vec![
        LegendEntry {
            color: point0,
            dot: true,
            label: format!("test points of class 0 ({})", names[0]),
        },
        LegendEntry {
            color: point1,
            dot: true,
            label: format!("test points of class 1 ({})", names[1]),
        },
    ];
    p
}

/// A centred µm axis over `n` samples of pitch `dx` metres: the optical axis at sample `n/2`;
/// `up` puts larger values at the top (a y axis).
fn um_span(n: usize, dx: f64, label: &str, up: bool) -> Span {
    let half = n as f64 / 2.0;
    let (a, b) = ((-half - 0.5) * dx * 1e6, (n as f64 - half - 0.5) * dx * 1e6);
    if up {
        Span {
            from: -a,
            to: -b,
            label: label.into(),
        }
    } else {
        Span {
            from: a,
            to: b,
            label: label.into(),
        }
    }
}

fn physical_axes(p: &mut Image<'_>, dx: f64) {
    p.x = Some(um_span(p.nx, dx, "x (µm)", false));
    p.y = Some(um_span(p.ny, dx, "y (µm)", true));
}

/// Writes `learning_curves.png` and, for field networks, `masks.png` (the trained SLMs) and
/// `outputs.png` (input and detector-plane intensity of the first test image of every class,
/// with the detector regions outlined); for dense networks `weights.png` or, on 2-D tasks,
/// `decision_boundary.png`.
pub fn write_pictures(
    net: &Network,
    backend: &mut dyn Backend,
    test: &Split,
    history: &[EpochMetrics],
    out: &Path,
) -> Result<()> {
    use crate::plot::{xy_plot, Curve, Point, XAxis};
    let cfg = net.config();
    if net.is_dense() {
        dense_pictures(cfg, backend, test, history, out)?;
    } else {
        field_pictures(net, backend, test, out)?;
    }
    if !history.is_empty() {
        let pts = |f: &dyn Fn(&EpochMetrics) -> f64| {
            history
                .iter()
                .map(|m| Point {
                    x: m.epoch as f64,
                    y: f(m),
                    err: 0.0,
                })
                .collect::<Vec<_>>()
        };
        xy_plot(
            &out.join("learning_curves.png"),
            &format!("{}: accuracy after each epoch", cfg.name),
            &XAxis::Numeric {
                label: "epoch".into(),
                log: false,
            },
            "accuracy",
            &[
                Curve {
                    label: "train accuracy (during the epoch)".into(),
                    points: pts(&|m| m.train_accuracy),
                },
                Curve {
                    label: "test accuracy".into(),
                    points: pts(&|m| m.test_accuracy),
                },
            ],
        )?;
    }
    Ok(())
}

/// Dense networks: `decision_boundary.png` for 2-D tasks, `weights.png` (the first layer's
/// weights of up to 10 hidden units, as images, on one diverging scale centred on zero) for
/// image inputs.
fn dense_pictures(
    cfg: &Config,
    backend: &mut dyn Backend,
    test: &Split,
    history: &[EpochMetrics],
    out: &Path,
) -> Result<()> {
    use crate::plot::images;
    if let Some(task) = cfg.input.task {
        let map = decision_map(cfg, backend, test)?;
        let acc = history
            .last()
            .map(|m| format!(", test accuracy {:.1}%", 100.0 * m.test_accuracy))
            .unwrap_or_default();
        let title = format!(
            "{}, {}{acc}",
            task_names(task).0,
            gradient_name(cfg.train.gradient)
        );
        images(
            &out.join("decision_boundary.png"),
            &format!("{}: decision boundary", cfg.name),
            &[boundary_panel(title, &map, Some(task))],
            1,
        )?;
        return Ok(());
    }
    let state = backend.state()?;
    let s = cfg.input.size;
    let w = &state.params[0];
    let n_in = cfg.input_len();
    let n_out = w.len() / n_in.max(1);
    let units = n_out.min(10);
    let data: Vec<Vec<f64>> = (0..units)
        .map(|u| {
            w[u * n_in..(u + 1) * n_in]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    let m = data
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let m = if m > 0.0 { m } else { 1.0 };
    let (nx, ny) = (s, n_in / s.max(1));
    let ps: Vec<Image> = data
        .iter()
        .enumerate()
        .map(|(u, d)| {
            let mut p = Image::new(format!("hidden unit {u}"), d, nx, ny, ColorMap::Diverging);
            p.range = Some((-m, m));
            p.bar = Some("weight w".into());
            p.x = Some(Span {
                from: 0.0,
                to: nx as f64,
                label: "input column".into(),
            });
            p.y = Some(Span {
                from: 0.0,
                to: ny as f64,
                label: "input row".into(),
            });
            p
        })
        .collect();
    images(
        &out.join("weights.png"),
        &format!(
            "{}: first-layer weights ({n_in} inputs → {n_out} units; first {units} units; blue < 0 < red)",
            cfg.name
        ),
        &ps,
        5,
    )?;
    Ok(())
}

/// The pitch (metres) and distance from the input (metres) of every element's input plane.
fn planes_of(cfg: &Config) -> Vec<(f64, f64)> {
    let (mut dx, mut z) = (cfg.optics.pitch, 0.0);
    let mut out = Vec::new();
    for el in &cfg.elements {
        out.push((dx, z));
        match *el {
            Element::FreeSpace { distance } => z += distance,
            Element::Fourier { focal_length } => {
                dx = crate::optics::lens::fourier_pitch(
                    cfg.optics.nx,
                    dx,
                    cfg.optics.wavelength,
                    focal_length,
                );
                z += 2.0 * focal_length;
            }
            _ => {}
        }
    }
    out
}

/// `masks.png` (the trained SLMs, phases wrapped to [−π, π)) and `outputs.png`.
fn field_pictures(
    net: &Network,
    backend: &mut dyn Backend,
    test: &Split,
    out: &Path,
) -> Result<()> {
    use crate::plot::images;
    let cfg = net.config();
    let state = backend.state()?;
    let plan = net.field("pictures")?;
    let planes = planes_of(cfg);
    // Phases wrapped to [−π, π); amplitudes as they are.
    let data: Vec<Vec<f64>> = plan
        .params
        .iter()
        .zip(&state.params)
        .map(|(s, p)| {
            p.iter()
                .map(|&v| {
                    let v = v as f64;
                    if s.kind == ParamKind::Phase {
                        (v + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI)
                            - std::f64::consts::PI
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect();
    let ps: Vec<Image> = plan
        .params
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(i, (s, d))| {
            let (dx, z) = planes
                .get(s.element)
                .copied()
                .unwrap_or((cfg.optics.pitch, 0.0));
            let phase = s.kind == ParamKind::Phase;
            let mut p = Image::new(
                format!(
                    "SLM {}: {} at z = {:.1} mm",
                    i + 1,
                    if phase { "phase" } else { "amplitude" },
                    z * 1e3
                ),
                d,
                s.sx,
                s.sy,
                if phase {
                    ColorMap::Cyclic
                } else {
                    ColorMap::Diverging
                },
            );
            if phase {
                p.bar = Some("phase (rad)".into());
            } else {
                p.range = Some((-1.0, 1.0));
                p.bar = Some("amplitude transmission".into());
            }
            physical_axes(&mut p, dx * s.k as f64);
            p
        })
        .collect();
    images(
        &out.join("masks.png"),
        &format!("{}: trained SLMs", cfg.name),
        &ps,
        5,
    )?;
    output_pictures(net, backend, &state, test, out)
}

/// `outputs.png`: the input and the detector-plane intensity for the first test image of every
/// class, with the detectors outlined and the prediction.
fn output_pictures(
    net: &Network,
    backend: &mut dyn Backend,
    state: &crate::network::State,
    test: &Split,
    out: &Path,
) -> Result<()> {
    use crate::plot::images;
    let cfg = net.config();
    let plan = net.field("pictures")?;
    // Input and detector-plane intensity for the first test image of every class.
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let k = cfg.readout.classes;
    let picks: Vec<usize> = (0..k)
        .filter_map(|c| test.labels.iter().position(|&l| l as usize == c))
        .collect();
    if picks.is_empty() {
        return Ok(());
    }
    let mut input = vec![0.0f32; picks.len() * nx * ny];
    encode(cfg, test, &picks, &mut input);
    let out_field = crate::diagnose::planes(net, state, &input)?
        .pop()
        .map(|(_, f)| f)
        .unwrap_or_default();
    let powers = backend.predict(&input)?;
    let regions = net.regions();
    let mut imgs: Vec<Vec<f64>> = Vec::new();
    for b in 0..picks.len() {
        imgs.push(
            input[b * nx * ny..(b + 1) * nx * ny]
                .iter()
                .map(|&a| (a as f64).powi(2))
                .collect(),
        );
        imgs.push(
            out_field[b * nx * ny..(b + 1) * nx * ny]
                .iter()
                .map(|v| v.norm_sqr() as f64)
                .collect(),
        );
    }
    let mut ps = Vec::new();
    let mut correct = 0;
    for (b, &i) in picks.iter().enumerate() {
        let row = &powers[b * k..(b + 1) * k];
        let pred = argmax(row);
        let label = test.labels[i] as usize;
        correct += usize::from(pred == label);
        let mut p = Image::new(
            format!("class {label}: input"),
            &imgs[2 * b],
            nx,
            ny,
            ColorMap::Sequential,
        );
        p.bar = Some("intensity (I/I_sat)".into());
        physical_axes(&mut p, cfg.optics.pitch);
        ps.push(p);
        let mut p = Image::new(
            format!(
                "class {label}: detector plane, predicted {pred} ({})",
                if pred == label { "right" } else { "wrong" }
            ),
            &imgs[2 * b + 1],
            nx,
            ny,
            ColorMap::Sequential,
        );
        p.bar = Some("intensity (I/I_sat)".into());
        physical_axes(&mut p, plan.out_dx);
        p.overlays = regions
            .iter()
            .enumerate()
            .map(|(c, r)| Overlay::Rect {
                x0: r.x0 as f64,
                y0: r.y0 as f64,
                w: r.w as f64,
                h: r.h as f64,
                color: if c == pred {
                    PREDICTED_COLOR
                } else {
                    DETECTOR_COLOR
                },
                label: Some(c.to_string()),
            })
            .collect();
        ps.push(p);
    }
    images(
        &out.join("outputs.png"),
        &format!(
            "{}: the first test image of each class and its detector-plane intensity \
             (detectors outlined and numbered by class, the predicted one in green; {correct} of {} right)",
            cfg.name,
            picks.len()
        ),
        &ps,
        4,
    )?;
    Ok(())
}
