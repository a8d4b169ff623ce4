//! `wavetrain calibrate`: fitting the digital twin's `[hardware]` to captures. A hidden
//! imperfect system is drawn, captured (`wavetrain capture`), and fitted from the nominal
//! config: the drawn shifts, distance errors and fringing are recovered from noiseless captures
//! (shifts within 0.01 pixel) and from noisy ones within four reported standard errors; a
//! synthetic lookup table within 0.05 rad at every level (9 knots); the absorbers' optical depths; a
//! camera's unknown gain. The written section drops into a config and gives back the fitted
//! system; bad options exit 2 naming the flag; captures of another system are refused.
mod common;
use common::*;

use std::f64::consts::TAU;
use std::path::Path;

use wavetrain::calibrate::{self, CalibrateOptions, Calibration, Group};
use wavetrain::capture::{self, CaptureOptions, PatternSet};
use wavetrain::model::Config;
use wavetrain::network::FieldHardware;

/// The nominal system: two phase SLMs, three free-space steps, one absorber, 32×32.
const NOMINAL: &str = r#"
name = "cal"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 32
ny = 32
padding = 2.0
band_limit = true

[input]
intensity = 20.0
size = 20

[[elements]]
type = "free-space"
distance = 2e-3

[[elements]]
type = "phase"

[[elements]]
type = "free-space"
distance = 2e-3

[[elements]]
type = "absorber"
od = 2.0
model = "thin"

[[elements]]
type = "phase"

[[elements]]
type = "free-space"
distance = 2e-3

[readout]
classes = 10
detector_size = 3
"#;

/// The hidden system's `[hardware]`.
const HIDDEN: &str = r#"
[hardware]
shifts = [[2.4e-6, -3.6e-6], [-5.2e-6, 1.6e-6]]
distance_errors = [30e-6, -45e-6, 25e-6]
fringing = 0.55
"#;

fn captured(dir: &Path, hardware: &str, noise: bool) -> capture::Captures {
    let net = Config::from_toml(&format!("{NOMINAL}{hardware}"), "hidden")
        .unwrap()
        .resolve()
        .unwrap();
    let opts = CaptureOptions {
        patterns: vec![
            PatternSet::Blank,
            PatternSet::Gratings,
            PatternSet::Defocus,
            PatternSet::Random,
        ],
        slm_planes: false,
        noise,
        exposure: None,
        seed: 3,
    };
    let out = dir.join("caps");
    capture::capture(&net, &net.initial_state(), None, None, &opts, &out).unwrap();
    capture::read_captures(&out).unwrap()
}

fn fit(caps: &capture::Captures, groups: &[Group], nominal: &str) -> Calibration {
    let net = Config::from_toml(nominal, "nominal")
        .unwrap()
        .resolve()
        .unwrap();
    let opts = CalibrateOptions {
        fit: groups.to_vec(),
        iterations: 30,
        lut_knots: 9,
    };
    let mut seen = 0;
    let cal = calibrate::calibrate(&net, caps, &opts, &mut |_| seen += 1).unwrap();
    assert!(seen >= 2, "progress reports the start and each iteration");
    cal
}

/// The hidden system of `hardware` as explicit values.
fn truth(hardware: &str) -> FieldHardware {
    let net = Config::from_toml(&format!("{NOMINAL}{hardware}"), "hidden")
        .unwrap()
        .resolve()
        .unwrap();
    let plan = net.field("test").unwrap();
    FieldHardware::of_config(net.config(), &plan.places).unwrap()
}

fn param<'a>(cal: &'a Calibration, name: &str) -> &'a calibrate::Parameter {
    cal.parameters
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

#[test]
fn noiseless_captures_recover_shifts_distances_and_fringing() {
    let t = tempfile::tempdir().unwrap();
    let caps = captured(t.path(), HIDDEN, false);
    let cal = fit(
        &caps,
        &[Group::Shifts, Group::Distances, Group::Fringing],
        NOMINAL,
    );
    let h = truth(HIDDEN);
    assert!(cal.converged);
    for (i, s) in h.slms.iter().enumerate() {
        for a in 0..2 {
            let p = param(&cal, &format!("hardware.shifts[{i}][{a}]"));
            assert!(
                (p.value - s.shift_px[a]).abs() < 0.01,
                "shift {i},{a}: {} vs {} px",
                p.value,
                s.shift_px[a]
            );
            assert_eq!(p.start, 0.0);
        }
        assert!((cal.system.slms[i].shift[0] - s.shift[0]).abs() < 0.01 * 8e-6);
    }
    for j in 0..3 {
        let p = param(&cal, &format!("hardware.distance_errors[{j}]"));
        let want = h.distances[j] - 2e-3;
        assert!(
            (p.value - want).abs() < 0.5e-6,
            "{j}: {} vs {want}",
            p.value
        );
    }
    assert!((param(&cal, "hardware.fringing").value - 0.55).abs() < 0.01);
    // The frames are reproduced (16-bit levels) where the nominal system missed them by far.
    for f in &cal.frames {
        assert!(f.after < 2e-3, "{f:?}");
    }
    let mean_before = cal.frames.iter().map(|f| f.before).sum::<f64>() / cal.frames.len() as f64;
    assert!(mean_before > 0.05, "{mean_before}");
    assert!(cal.cost < 1e-4 * cal.start_cost);
}

#[test]
fn noisy_captures_recover_within_the_reported_uncertainty() {
    let t = tempfile::tempdir().unwrap();
    let noisy = format!("{HIDDEN}shot_noise = 2000.0\nread_noise = 0.002\n");
    let caps = captured(t.path(), &noisy, true);
    let cal = fit(
        &caps,
        &[Group::Shifts, Group::Distances, Group::Fringing],
        NOMINAL,
    );
    let h = truth(HIDDEN);
    let mut want = Vec::new();
    for s in &h.slms {
        want.extend(s.shift_px);
    }
    want.extend(h.distances.iter().map(|d| d - 2e-3));
    want.push(0.55);
    assert_eq!(want.len(), cal.parameters.len());
    let mut worst: f64 = 0.0;
    for (p, w) in cal.parameters.iter().zip(&want) {
        let s = p
            .sigma
            .unwrap_or_else(|| panic!("{} unconstrained", p.name));
        assert!(s > 0.0 && s.is_finite(), "{p:?}");
        worst = worst.max((p.value - w).abs() / s);
        assert!(
            (p.value - w).abs() < 4.0 * s,
            "{}: {} vs {w} (σ {s})",
            p.name,
            p.value
        );
    }
    // The noise is felt: not every error is far below its standard error, and shifts stay within
    // a tenth of a pixel.
    assert!(worst > 0.05, "{worst}");
    for p in cal.parameters.iter().filter(|p| p.unit == "pixels") {
        assert!(p.sigma.unwrap() < 0.1, "{p:?}");
    }
}

/// A measured-looking non-linear table: 92 % of a turn, a power 1.25 curve.
fn lut_csv() -> String {
    let mut s = String::from("level,phase\n");
    for l in 0..256 {
        let v = TAU * 0.92 * (l as f64 / 255.0).powf(1.25);
        s.push_str(&format!("{l},{v}\n"));
    }
    s
}

#[test]
fn a_synthetic_lut_and_the_optical_depths_are_recovered() {
    let t = tempfile::tempdir().unwrap();
    let lut = t.path().join("lut.csv");
    std::fs::write(&lut, lut_csv()).unwrap();
    let hidden = format!(
        "{HIDDEN}phase_lut = {:?}\nod_errors = [0.12]\n",
        lut.display().to_string()
    );
    let caps = captured(t.path(), &hidden, false);
    let cal = fit(
        &caps,
        &[
            Group::Shifts,
            Group::Distances,
            Group::Fringing,
            Group::PhaseLut,
            Group::Od,
        ],
        NOMINAL,
    );
    let fitted = cal.lut.as_ref().expect("a fitted table");
    assert_eq!(fitted.level.len(), 9);
    assert_eq!(fitted.phase[0], 0.0);
    // The table at every drive level the controller uses, against the hidden one.
    let resp = |l: &wavetrain::optics::Lut| wavetrain::optics::Response {
        range: TAU,
        bits: None,
        lut: Some(l.clone()),
    };
    let truth_table = wavetrain::optics::Lut::parse(&lut_csv(), "t").unwrap();
    let mut worst: f64 = 0.0;
    for l in 0..255 {
        let w = TAU * l as f64 / 255.0;
        let a = resp(fitted).eval(w).0;
        let b = resp(&truth_table).eval(w).0;
        worst = worst.max((a - b).abs());
    }
    assert!(worst < 0.05, "worst phase error {worst} rad");
    let od = param(&cal, "hardware.od_errors[0]");
    assert!((od.value - 0.12).abs() < 0.005, "{od:?}");
    assert_eq!(cal.hardware.od_errors.len(), 1);
    assert!(cal.hardware.phase_range.is_none());
    // The nominal linear table is far off, so the fit did the work.
    let linear = wavetrain::optics::Lut::linear(256);
    let off = (0..255)
        .map(|l| {
            let w = TAU * l as f64 / 255.0;
            (resp(&linear).eval(w).0 - resp(&truth_table).eval(w).0).abs()
        })
        .fold(0.0, f64::max);
    assert!(off > 0.3, "{off}");
}

#[test]
fn an_uncalibrated_cameras_gain_is_fitted() {
    let t = tempfile::tempdir().unwrap();
    let caps = captured(t.path(), HIDDEN, false);
    // A camera whose scale is off by 2.5: the manifest's scale (not checksummed data) changes.
    let mut scaled = caps.clone();
    for f in scaled.frames.iter_mut() {
        f.iter_mut().for_each(|v| *v *= 2.5);
    }
    let hidden_cfg = format!("{NOMINAL}{HIDDEN}");
    let cal = fit(&scaled, &[Group::Gain], &hidden_cfg);
    assert!((cal.gain - 2.5).abs() < 1e-3, "{}", cal.gain);
    assert!(cal.frames.iter().all(|f| f.after < 2e-3));
}

#[test]
fn the_written_section_drops_into_a_config() {
    let t = tempfile::tempdir().unwrap();
    let lut = t.path().join("lut.csv");
    std::fs::write(&lut, lut_csv()).unwrap();
    let hidden = format!("{HIDDEN}phase_lut = {:?}\n", lut.display().to_string());
    let caps = captured(t.path(), &hidden, false);
    let cal = fit(
        &caps,
        &[
            Group::Shifts,
            Group::Distances,
            Group::Fringing,
            Group::PhaseLut,
        ],
        NOMINAL,
    );
    let out = t.path().join("twin.toml");
    let w = calibrate::write(&cal, &caps, &out, "hardware").unwrap();
    assert_eq!(
        w.lut.as_deref(),
        Some(t.path().join("twin.lut.csv").as_path())
    );
    for f in [&w.toml, &w.report, &w.picture] {
        assert!(std::fs::metadata(f).unwrap().len() > 0, "{}", f.display());
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("[hardware]"), "{text}");
    assert!(!text.contains("shot_noise"), "{text}");
    // The twin config: the nominal one with the section; its system is the fitted one.
    let twin = Config::from_toml(&format!("{NOMINAL}{text}"), "twin")
        .unwrap()
        .resolve()
        .unwrap();
    let got = FieldHardware::of_config(twin.config(), &twin.field("t").unwrap().places).unwrap();
    for (a, b) in got.slms.iter().zip(&cal.system.slms) {
        assert!((a.shift_px[0] - b.shift_px[0]).abs() < 1e-9);
        assert!((a.shift_px[1] - b.shift_px[1]).abs() < 1e-9);
        assert!((a.model.fringing - b.model.fringing).abs() < 1e-12);
        let (la, lb) = (
            a.model.response.lut.as_ref().unwrap(),
            b.model.response.lut.as_ref().unwrap(),
        );
        for (x, y) in la.phase.iter().zip(&lb.phase) {
            assert!((x - y).abs() < 1e-9);
        }
    }
    for (a, b) in got.distances.iter().zip(&cal.system.distances) {
        assert!((a - b).abs() < 1e-15);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&w.report).unwrap()).unwrap();
    assert_eq!(report["format"], "wavetrain-calibration-1");
    assert_eq!(
        report["parameters"].as_array().unwrap().len(),
        cal.parameters.len()
    );
    assert_eq!(
        report["frames"].as_array().unwrap().len(),
        caps.frames.len()
    );
}

#[test]
fn captures_of_another_system_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let caps = captured(t.path(), HIDDEN, false);
    let opts = CalibrateOptions::default();
    // Another grid.
    let other = NOMINAL
        .replace("nx = 32\nny = 32", "nx = 16\nny = 16")
        .replace("size = 20", "size = 10")
        .replace("detector_size = 3", "detector_size = 1");
    let net = Config::from_toml(&other, "o").unwrap().resolve().unwrap();
    let e = calibrate::calibrate(&net, &caps, &opts, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("grid"), "{e}");
    // One SLM fewer: the frames name an element this network lacks (or a pattern drives an
    // element that is no SLM of it).
    let fewer = NOMINAL.replacen("[[elements]]\ntype = \"phase\"\n\n", "", 1);
    let net = Config::from_toml(&fewer, "f").unwrap().resolve().unwrap();
    let e = calibrate::calibrate(&net, &caps, &opts, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("not an SLM")
            || e.to_string().contains("the network has 5 elements"),
        "{e}"
    );
    // A dense network.
    let net = wavetrain::presets::preset("paper-mlp")
        .unwrap()
        .resolve()
        .unwrap();
    let e = calibrate::calibrate(&net, &caps, &opts, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("dense"), "{e}");
}

#[test]
fn bad_options_exit_2_naming_the_flag() {
    let t = tempfile::tempdir().unwrap();
    let caps = captured(t.path(), HIDDEN, false);
    let cfg = t.path().join("nominal.toml");
    std::fs::write(&cfg, NOMINAL).unwrap();
    let (c, d) = (cfg.display().to_string(), caps.dir.display().to_string());
    let out = t.path().join("twin.toml").display().to_string();
    let dir = t.path().display().to_string();
    for (extra, flag) in [
        (vec!["--fit", "shifts,tilt"], "--fit"),
        (vec!["--fit", ""], "--fit"),
        (vec!["--iterations", "0"], "--iterations"),
        (vec!["--section", "model"], "--section"),
        (
            vec!["--fit", "phase_lut", "--lut-knots", "2"],
            "--lut-knots",
        ),
    ] {
        let mut args = vec!["calibrate", "--config", &c, "--captures", &d, "--out", &out];
        args.extend(extra.iter().copied());
        let r = wavetrain_bin(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    // An output that is a folder.
    let r = wavetrain_bin(&[
        "calibrate",
        "--config",
        &c,
        "--captures",
        &d,
        "--out",
        &dir,
        "--iterations",
        "1",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("--out"), "{err}");
    assert!(!t.path().join("twin.toml").exists());
    // A missing captures folder names the manifest it looked for.
    let r = wavetrain_bin(&[
        "calibrate",
        "--config",
        &c,
        "--captures",
        &dir,
        "--out",
        &out,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_ne!(r.status.code(), Some(0));
    assert!(err.contains("captures.json"), "{err}");
    // A tampered frame is refused by its checksum.
    let f = caps.dir.join(&caps.manifest.frames[3].png.file);
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x40;
    std::fs::write(&f, bytes).unwrap();
    let r = wavetrain_bin(&["calibrate", "--config", &c, "--captures", &d, "--out", &out]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_ne!(r.status.code(), Some(0));
    assert!(
        err.to_lowercase().contains("sha-256") || err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn the_cli_fits_and_writes_every_file() {
    let t = tempfile::tempdir().unwrap();
    let caps = captured(t.path(), HIDDEN, false);
    let cfg = t.path().join("nominal.toml");
    std::fs::write(&cfg, NOMINAL).unwrap();
    let out = t.path().join("fit").join("twin.toml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let r = wavetrain_bin(&[
        "calibrate",
        "--config",
        &cfg.display().to_string(),
        "--captures",
        &caps.dir.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--section",
        "twin",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{err}");
    assert!(err.contains("iteration"), "progress on stderr: {err}");
    let line: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(line["misfit_after"].as_f64().unwrap() < 2e-3, "{line}");
    assert!(line["misfit_before"].as_f64().unwrap() > 0.05, "{line}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("[twin]"), "{text}");
    for f in ["twin.calibration.json", "twin.calibration.png"] {
        assert!(out.with_file_name(f).exists(), "{f}");
    }
}
