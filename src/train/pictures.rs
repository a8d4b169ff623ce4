//! The pictures of a run: learning curves, and for field networks the trained SLMs and the
//! detector-plane intensity of test digits; for dense networks the first-layer weights or the
//! decision boundary of a 2-D task.

use std::path::Path;

use super::eval::{decision_map, BOUNDARY_SIDE};
use crate::backend::Backend;
use crate::checkpoint::EpochMetrics;
use crate::data::{encode, Split};
use crate::error::Result;
use crate::loss::argmax;
use crate::model::Config;
use crate::network::{Network, ParamKind};

/// Writes `learning_curves.png` and, for field networks, `masks.png` (the trained SLMs) and
/// `outputs.png` (detector-plane intensity for a few test digits, with the detector regions);
/// for dense networks `weights.png` or, on 2-D tasks, `decision_boundary.png`.
pub fn write_pictures(
    net: &Network,
    backend: &mut dyn Backend,
    test: &Split,
    history: &[EpochMetrics],
    out: &Path,
) -> Result<()> {
    use crate::plot::{line_plot, Series};
    let cfg = net.config();
    if net.is_dense() {
        dense_pictures(cfg, backend, test, out)?;
    } else {
        field_pictures(net, backend, test, out)?;
    }
    if !history.is_empty() {
        let pts = |f: &dyn Fn(&EpochMetrics) -> f64| {
            history
                .iter()
                .map(|m| (m.epoch as f64, f(m)))
                .collect::<Vec<_>>()
        };
        line_plot(
            &out.join("learning_curves.png"),
            &format!("{}: learning curves", cfg.name),
            "epoch",
            "accuracy",
            &[
                Series {
                    label: "train accuracy",
                    points: pts(&|m| m.train_accuracy),
                },
                Series {
                    label: "test accuracy",
                    points: pts(&|m| m.test_accuracy),
                },
            ],
        )?;
    }
    Ok(())
}

/// Dense networks: `decision_boundary.png` for 2-D tasks, `weights.png` (the first layer's
/// weights of up to 10 hidden units, as images) for image inputs.
fn dense_pictures(cfg: &Config, backend: &mut dyn Backend, test: &Split, out: &Path) -> Result<()> {
    use crate::plot::{panels, Panel};
    if cfg.input.task.is_some() {
        let map = decision_map(cfg, backend, test)?;
        return panels(
            &out.join("decision_boundary.png"),
            &format!("{}: decision boundary and test points", cfg.name),
            &[Panel {
                title: format!("{} ({:?} gradient)", cfg.name, cfg.train.gradient),
                data: &map,
                nx: BOUNDARY_SIDE,
                ny: BOUNDARY_SIDE,
                cyclic: false,
            }],
            1,
        );
    }
    let state = backend.state()?;
    let s = cfg.input.size;
    let w = &state.params[0];
    let n_in = cfg.input_len();
    let units = (w.len() / n_in).min(10);
    let data: Vec<Vec<f64>> = (0..units)
        .map(|u| {
            w[u * n_in..(u + 1) * n_in]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    let ps: Vec<Panel> = data
        .iter()
        .enumerate()
        .map(|(u, d)| Panel {
            title: format!("unit {u}"),
            data: d,
            nx: s,
            ny: s,
            cyclic: false,
        })
        .collect();
    panels(
        &out.join("weights.png"),
        &format!("{}: first-layer weights", cfg.name),
        &ps,
        5,
    )
}

fn field_pictures(
    net: &Network,
    backend: &mut dyn Backend,
    test: &Split,
    out: &Path,
) -> Result<()> {
    use crate::plot::{panels, Panel};
    let cfg = net.config();
    let state = backend.state()?;
    let plan = net.field("pictures")?;
    let data: Vec<Vec<f64>> = state
        .params
        .iter()
        .map(|p| p.iter().map(|&v| v as f64).collect())
        .collect();
    let ps: Vec<Panel> = plan
        .params
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(i, (s, d))| Panel {
            title: format!(
                "SLM {} ({})",
                i + 1,
                if s.kind == ParamKind::Phase {
                    "phase"
                } else {
                    "amplitude"
                }
            ),
            data: d,
            nx: s.sx,
            ny: s.sy,
            cyclic: s.kind == ParamKind::Phase,
        })
        .collect();
    let wrapped: Vec<Vec<f64>> = ps
        .iter()
        .map(|p| {
            if p.cyclic {
                p.data
                    .iter()
                    .map(|v| {
                        (v + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI)
                            - std::f64::consts::PI
                    })
                    .collect()
            } else {
                p.data.to_vec()
            }
        })
        .collect();
    let ps: Vec<Panel> = ps
        .into_iter()
        .zip(&wrapped)
        .map(|(p, w)| Panel { data: w, ..p })
        .collect();
    panels(
        &out.join("masks.png"),
        &format!("{}: trained SLMs", cfg.name),
        &ps,
        5,
    )?;

    // Output-plane intensity for the first test image of each of a few classes.
    let (nx, ny) = (cfg.optics.nx, cfg.optics.ny);
    let mut picks = Vec::new();
    for c in 0..cfg.readout.classes.min(5) {
        if let Some(i) = test.labels.iter().position(|&l| l as usize == c) {
            picks.push(i);
        }
    }
    let mut input = vec![0.0f32; picks.len() * nx * ny];
    encode(cfg, test, &picks, &mut input);
    let out_field = crate::diagnose::planes(net, &state, &input)?
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
        let mut o: Vec<f64> = out_field[b * nx * ny..(b + 1) * nx * ny]
            .iter()
            .map(|v| v.norm_sqr() as f64)
            .collect();
        let peak = o.iter().copied().fold(0.0, f64::max);
        for r in regions {
            for x in r.x0..r.x0 + r.w {
                o[r.y0 * nx + x] = peak;
                o[(r.y0 + r.h - 1) * nx + x] = peak;
            }
        }
        imgs.push(o);
    }
    let k = cfg.readout.classes;
    let mut ps = Vec::new();
    for (b, &i) in picks.iter().enumerate() {
        let row = &powers[b * k..(b + 1) * k];
        let pred = argmax(row);
        ps.push(Panel {
            title: format!("input, label {}", test.labels[i]),
            data: &imgs[2 * b],
            nx,
            ny,
            cyclic: false,
        });
        ps.push(Panel {
            title: format!("output, predicted {pred}"),
            data: &imgs[2 * b + 1],
            nx,
            ny,
            cyclic: false,
        });
    }
    panels(
        &out.join("outputs.png"),
        &format!("{}: test digits and detector-plane intensity", cfg.name),
        &ps,
        4,
    )?;

    Ok(())
}
