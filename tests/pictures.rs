//! The pictures say what the data says: read back as PNG, a negative weight is not drawn like
//! zero, detector outlines are drawn on all four edges over the data, outputs.png shows every
//! class; the sweep plot's categorical axes have the values as ticks and a seed axis is averaged
//! wherever it sits.

use std::path::Path;

use wavetrain::cpu::CpuBackend;
use wavetrain::data::{Images, Split};
use wavetrain::model::Config;
use wavetrain::train::write_pictures;

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Connected components (4-neighbour) of the pixels for which `hit` holds, as bounding boxes
/// `(x0, y0, x1, y1)` inclusive, with their pixel counts.
fn components(img: &image::RgbImage, hit: impl Fn([u8; 3]) -> bool) -> Vec<([u32; 4], usize)> {
    let (w, h) = img.dimensions();
    let mut seen = vec![false; (w * h) as usize];
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize;
            if seen[i] || !hit(img.get_pixel(x, y).0) {
                continue;
            }
            let mut stack = vec![(x, y)];
            seen[i] = true;
            let mut bb = [x, y, x, y];
            let mut n = 0;
            while let Some((px, py)) = stack.pop() {
                n += 1;
                bb = [bb[0].min(px), bb[1].min(py), bb[2].max(px), bb[3].max(py)];
                let nb = [
                    (px.wrapping_sub(1), py),
                    (px + 1, py),
                    (px, py.wrapping_sub(1)),
                    (px, py + 1),
                ];
                for (qx, qy) in nb {
                    if qx < w && qy < h {
                        let j = (qy * w + qx) as usize;
                        if !seen[j] && hit(img.get_pixel(qx, qy).0) {
                            seen[j] = true;
                            stack.push((qx, qy));
                        }
                    }
                }
            }
            out.push((bb, n));
        }
    }
    out
}

/// A small 10-class field network: 32 × 32 grid, one phase SLM between two free-space steps,
/// 3 × 3 detectors.
fn field_net() -> Config {
    Config::from_toml(
        r#"
name = "tiny-field"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 32
ny = 32
[input]
intensity = 100.0
size = 20
[[elements]]
type = "free-space"
distance = 1e-3
[[elements]]
type = "phase"
init_std = 0.5
[[elements]]
type = "free-space"
distance = 1e-3
[readout]
classes = 10
detector_size = 3
"#,
        "test",
    )
    .unwrap()
}

/// `n` 28 × 28 images, image `i` of class `i % 10`, a bright square at a class-dependent place.
fn digits(n: usize) -> Split {
    let mut pixels = vec![0u8; n * 28 * 28];
    for i in 0..n {
        let c = i % 10;
        let (r0, c0) = (4 + 2 * (c / 4), 4 + 4 * (c % 4));
        for r in r0..r0 + 8 {
            for col in c0..c0 + 6 {
                pixels[i * 784 + r * 28 + col] = 255;
            }
        }
    }
    Split {
        images: Images {
            count: n,
            rows: 28,
            cols: 28,
            pixels,
        },
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        points: Vec::new(),
    }
}

/// Pure-ish detector outline colours: cyan (every detector) or green (the predicted one), never
/// produced by the intensity colour map.
fn outline(p: [u8; 3]) -> bool {
    p[0] < 40 && p[1] > 200 && (p[2] > 200 || p[2] < 40)
}

#[test]
fn outputs_png_has_one_output_panel_per_class_with_outlined_detectors() {
    let cfg = field_net();
    let net = cfg.resolve().unwrap();
    let state = net.initial_state();
    let mut backend = CpuBackend::new(&net, &state).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_pictures(&net, &mut backend, &digits(20), &[], dir.path()).unwrap();
    let img = rgb(&dir.path().join("outputs.png"));
    // Every detector outline is one closed rectangle: a component whose bounding box has outline
    // pixels on all four edges.
    let boxes: Vec<[u32; 4]> = components(&img, outline)
        .into_iter()
        .filter(|&([x0, y0, x1, y1], _)| {
            x1 > x0 + 3
                && y1 > y0 + 3
                && [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
                    .iter()
                    .all(|&(x, y)| outline(img.get_pixel(x, y).0))
        })
        .map(|(b, _)| b)
        .collect();
    assert_eq!(
        boxes.len(),
        100,
        "10 output images × 10 outlined detectors expected in outputs.png, found {} closed outlines",
        boxes.len()
    );
    // The pixel in the middle of an outline keeps the data colour (it is not an outline pixel).
    for [x0, y0, x1, y1] in &boxes {
        let c = img.get_pixel((x0 + x1) / 2, (y0 + y1) / 2).0;
        assert!(
            !outline(c),
            "the inside of the detector at ({x0}, {y0}) is overdrawn"
        );
    }
}

/// The paper-mlp network with first-layer weights −0.5 on the top third of every unit's image,
/// 0 in the middle third, +0.5 in the bottom third.
#[test]
fn weights_png_draws_negative_zero_and_positive_weights_differently() {
    let cfg = wavetrain::presets::preset("paper-mlp").unwrap();
    let net = cfg.resolve().unwrap();
    let mut state = net.initial_state();
    let n_in = cfg.input_len();
    for (i, w) in state.params[0].iter_mut().enumerate() {
        let row = (i % n_in) / cfg.input.size;
        *w = match 3 * row / cfg.input.size {
            0 => -0.5,
            1 => 0.0,
            _ => 0.5,
        };
    }
    let mut backend = CpuBackend::new(&net, &state).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_pictures(&net, &mut backend, &digits(10), &[], dir.path()).unwrap();
    let img = rgb(&dir.path().join("weights.png"));
    // Large uniform blocks of colour: the three thirds of the ten unit images.
    let mut colours: Vec<[u8; 3]> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for p in img.pixels() {
        match colours.iter().position(|c| *c == p.0) {
            Some(i) => counts[i] += 1,
            None => {
                colours.push(p.0);
                counts.push(1);
            }
        }
    }
    let white = [255u8, 255, 255];
    let mut big: Vec<([u8; 3], usize)> = colours
        .into_iter()
        .zip(counts)
        .filter(|&(c, n)| c != white && n > 10 * 400)
        .collect();
    big.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    assert!(
        big.len() >= 3,
        "negative, zero and positive weights should fill three different colours, found {big:?}"
    );
}

use wavetrain::plot::{images, x_ticks, ColorMap, Image, Overlay, XAxis};
use wavetrain::sweep::{plot_data, Axis, Row};

/// The centre pixel of sample `(sx, sy)` of panel `i`.
fn sample_px(
    img: &image::RgbImage,
    l: &wavetrain::plot::Layout,
    i: usize,
    nx: usize,
    ny: usize,
    sx: usize,
    sy: usize,
) -> [u8; 3] {
    let (x, y, w, h) = l.images[i];
    let px = x + ((2 * sx + 1) as u32 * w) / (2 * nx as u32);
    let py = y + ((2 * sy + 1) as u32 * h) / (2 * ny as u32);
    img.get_pixel(px, py).0
}

#[test]
fn a_negative_weight_is_not_drawn_like_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.png");
    let data = [-0.5, 0.0, 0.5];
    let mut p = Image::new("w", &data, 3, 1, ColorMap::Diverging);
    p.bar = Some("weight".into());
    let l = images(&path, "weights", &[p], 1).unwrap();
    let img = rgb(&path);
    let [neg, zero, pos] = [0, 1, 2].map(|i| sample_px(&img, &l, 0, 3, 1, i, 0));
    assert_ne!(neg, zero, "negative drawn like zero");
    assert_ne!(pos, zero, "positive drawn like zero");
    assert_ne!(neg, pos, "negative drawn like positive");
    // Centred on zero: −0.5 and +0.5 are equally far from the zero colour.
    let d = |a: [u8; 3], b: [u8; 3]| {
        (0..3)
            .map(|k| (a[k] as f64 - b[k] as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (dn, dp) = (d(neg, zero), d(pos, zero));
    assert!(
        (dn - dp).abs() < 0.35 * dn.max(dp),
        "not centred on zero: {neg:?} {zero:?} {pos:?}"
    );
}

#[test]
fn a_detector_outline_has_four_edges_and_keeps_the_data_inside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.png");
    let n = 20;
    let data = vec![0.5; n * n];
    let mut p = Image::new("o", &data, n, n, ColorMap::Sequential);
    p.range = Some((0.0, 1.0));
    let c = [0u8, 255, 255];
    p.overlays.push(Overlay::Rect {
        x0: 5.0,
        y0: 6.0,
        w: 8.0,
        h: 6.0,
        color: c,
        label: None,
    });
    let l = images(&path, "outline", &[p], 1).unwrap();
    let img = rgb(&path);
    let data_colour = sample_px(&img, &l, 0, n, n, 1, 1);
    let (x, y, w, h) = l.images[0];
    let px = |s: f64| x + (s * w as f64 / n as f64).round() as u32;
    let py = |s: f64| y + (s * h as f64 / n as f64).round() as u32;
    let (l0, r0, t0, b0) = (px(5.0), px(13.0) - 1, py(6.0), py(12.0) - 1);
    let (mx, my) = ((l0 + r0) / 2, (t0 + b0) / 2);
    for (name, qx, qy) in [
        ("left", l0, my),
        ("right", r0, my),
        ("top", mx, t0),
        ("bottom", mx, b0),
    ] {
        assert_eq!(img.get_pixel(qx, qy).0, c, "{name} edge not drawn");
    }
    assert_eq!(
        img.get_pixel(mx, my).0,
        data_colour,
        "the inside of the outline lost the data colour"
    );
}

#[test]
fn categorical_axes_tick_their_values_and_numeric_ones_are_numbers() {
    let names: Vec<String> = ["rings", "moons", "spirals"].map(String::from).to_vec();
    let axis = XAxis::Categories {
        label: "task".into(),
        names: names.clone(),
    };
    let (_, ticks) = x_ticks(&axis, &[0.0, 1.0, 2.0]);
    assert_eq!(
        ticks,
        vec![
            (0.0, "rings".to_string()),
            (1.0, "moons".into()),
            (2.0, "spirals".into())
        ]
    );
    // Log scale over decades: one tick per decade, labelled with the value.
    let (_, ticks) = x_ticks(
        &XAxis::Numeric {
            label: "od".into(),
            log: true,
        },
        &[0.1, 1.0, 10.0],
    );
    let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["0.1", "1", "10"]);
}

fn row(values: &[&str], acc: f64) -> Row {
    Row {
        values: values.iter().map(|s| s.to_string()).collect(),
        test_accuracy: acc,
        model_accuracy: None,
        hardware_accuracy: None,
        train_accuracy: acc,
        train_loss: 0.0,
        seconds: 0.0,
        images_per_second: 0.0,
        run_dir: String::new(),
    }
}

#[test]
fn a_seed_axis_given_first_is_averaged_with_error_bars() {
    let axes = vec![
        Axis {
            key: "seed".into(),
            values: vec!["0".into(), "1".into()],
        },
        Axis {
            key: "task".into(),
            values: vec!["rings".into(), "moons".into()],
        },
    ];
    let rows = vec![
        row(&["0", "rings"], 0.9),
        row(&["0", "moons"], 0.7),
        row(&["1", "rings"], 0.8),
        row(&["1", "moons"], 0.5),
    ];
    let (axis, curves, seeds) = plot_data(&axes, &rows);
    assert_eq!(
        axis,
        XAxis::Categories {
            label: "task".into(),
            names: vec!["rings".into(), "moons".into()]
        },
        "the x axis is the task, as categories"
    );
    assert_eq!(seeds, 2);
    assert_eq!(curves.len(), 1, "one curve, the seeds averaged: {curves:?}");
    let p = &curves[0].points;
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].x, 0.0);
    assert!(
        (p[0].y - 0.85).abs() < 1e-12 && (p[1].y - 0.6).abs() < 1e-12,
        "{p:?}"
    );
    assert!((p[0].err - 0.05f64.hypot(0.05)).abs() < 1e-9, "{p:?}");
    assert!((p[1].err - (0.02f64).sqrt()).abs() < 1e-9, "{p:?}");
}

#[test]
fn a_hardware_study_plots_the_hardware_accuracy_one_curve_per_target() {
    use wavetrain::sweep::{plot_data_of, Metric};
    let axes = vec![
        Axis {
            key: "hardware.shift_std".into(),
            values: vec!["0".into(), "8e-6".into()],
        },
        Axis {
            key: "train.target".into(),
            values: vec!["model".into(), "hardware".into()],
        },
    ];
    // test_accuracy is each run's own system: the ideal model for target=model.
    let mut rows = Vec::new();
    for (vals, test, hw) in [
        (["0", "model"], 0.7, 0.7),
        (["0", "hardware"], 0.7, 0.7),
        (["8e-6", "model"], 0.7, 0.3),
        (["8e-6", "hardware"], 0.68, 0.68),
    ] {
        let mut r = row(&vals, test);
        r.model_accuracy = Some(test);
        r.hardware_accuracy = Some(hw);
        rows.push(r);
    }
    assert_eq!(Metric::for_sweep(&axes, &rows), Metric::Hardware);
    let (_, curves, _) = plot_data_of(&axes, &rows, Metric::Hardware);
    assert_eq!(curves.len(), 2, "{curves:?}");
    let model = curves
        .iter()
        .find(|c| c.label == "train.target=model")
        .unwrap();
    assert_eq!(
        model.points[1].y, 0.3,
        "the deployed masks' accuracy: {model:?}"
    );
    // A sweep that does not study the hardware, or rows of an older version without the
    // column, keep the test accuracy.
    let mut old = rows.clone();
    old[0].hardware_accuracy = None;
    assert_eq!(Metric::for_sweep(&axes, &old), Metric::Test);
    let plain = vec![Axis {
        key: "od".into(),
        values: vec!["1".into()],
    }];
    assert_eq!(Metric::for_sweep(&plain, &rows), Metric::Test);
    // The picture is drawn with the metric named on its axis.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.png");
    wavetrain::sweep::plot_metric(&path, "study", &axes, &rows, Metric::Hardware).unwrap();
    assert!(rgb(&path).width() > 100);
}

#[test]
fn a_method_axis_gives_one_curve_per_method() {
    // Given first, the method still does not become the x axis while another axis exists.
    let axes = vec![
        Axis {
            key: "train.method".into(),
            values: vec!["backprop".into(), "spsa".into()],
        },
        Axis {
            key: "od".into(),
            values: vec!["1".into(), "10".into()],
        },
    ];
    let rows = vec![
        row(&["backprop", "1"], 0.9),
        row(&["backprop", "10"], 0.8),
        row(&["spsa", "1"], 0.5),
        row(&["spsa", "10"], 0.4),
    ];
    let (axis, curves, _) = plot_data(&axes, &rows);
    assert!(
        matches!(&axis, XAxis::Numeric { label, .. } if label == "od"),
        "{axis:?}"
    );
    let labels: Vec<&str> = curves.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["train.method=backprop", "train.method=spsa"]);
    // Alone, the method is the x axis and still one curve per method.
    let (axis, curves, _) = plot_data(&axes[..1], &[row(&["backprop"], 0.9), row(&["spsa"], 0.5)]);
    assert!(matches!(axis, XAxis::Categories { .. }), "{axis:?}");
    assert_eq!(curves.len(), 2, "{curves:?}");
    assert_eq!(curves[1].points[0].x, 1.0);
}
