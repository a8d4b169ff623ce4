//! Issue 28, items 1–2: masks exported to SLM bitmaps and fabrication files and read back;
//! simulated captures. Round trips (levels bit-exact for a linear map, phases within the
//! quantisation step, an inverse lookup table within the table's resolution), the height
//! formula, a closed STL whose volume is the height map's integral, refused checksums and
//! paths, bad options (exit 2 naming the flag), and captures against the simulation's planes.
mod common;
use common::*;

use std::collections::HashMap;
use std::f64::consts::{PI, TAU};
use std::path::{Path, PathBuf};

use rand::Rng;
use wavetrain::capture::{self, CaptureOptions, PatternSet};
use wavetrain::checkpoint::{Checkpoint, Progress};
use wavetrain::export::{
    self, npy, slm, stl, ExportOptions, HeightOptions, LutChoice, MaskKind, SlmOptions,
};
use wavetrain::model::Config;
use wavetrain::network::{State, System};
use wavetrain::optics::Lut;

const TINY: &str = r#"
name = "tiny"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 16
ny = 16
padding = 2.0
band_limit = true

[input]
intensity = 2.0
size = 10

[[elements]]
type = "free-space"
distance = 1e-3

[[elements]]
type = "phase"
init_std = 0.7

[[elements]]
type = "free-space"
distance = 1e-3

[[elements]]
type = "absorber"
od = 3.0
model = "thin"

[[elements]]
type = "phase"
init_std = 0.7
macro_pixel = 2

[[elements]]
type = "free-space"
distance = 1e-3

[readout]
classes = 10
detector_size = 2
loss = "cross-entropy"
temperature = 0.05

[train]
seed = 7
"#;

/// A checkpoint of `toml` whose SLMs hold random phases over several turns (seeded).
fn checkpoint(dir: &Path, toml: &str, seed: u64) -> PathBuf {
    let net = Config::from_toml(toml, "test").unwrap().resolve().unwrap();
    let mut r = rng(seed);
    let params: Vec<Vec<f32>> = net
        .param_shapes()
        .iter()
        .map(|s| {
            (0..s[0] * s[1])
                .map(|_| r.random_range(-9.0..9.0))
                .collect()
        })
        .collect();
    let path = dir.join(format!("ck{seed}.safetensors"));
    Checkpoint::write(&path, &net, &State::fresh(params), &Progress::default()).unwrap();
    path
}

fn slm_opts(bits: u32) -> ExportOptions {
    ExportOptions {
        slm: Some(SlmOptions {
            bits,
            ..SlmOptions::default()
        }),
        height: None,
    }
}

fn trained(ck: &Path) -> Vec<Vec<f64>> {
    Checkpoint::load(ck)
        .unwrap()
        .state
        .params
        .iter()
        .map(|p| p.iter().map(|&v| v as f64).collect())
        .collect()
}

#[test]
fn linear_bitmaps_round_trip_bit_exact() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 1);
    let phases = trained(&ck);
    for bits in [8u32, 10, 12, 16] {
        let out = t.path().join(format!("x{bits}"));
        let m = export::export(&ck, &out, &slm_opts(bits)).unwrap();
        assert_eq!(m.slms.len(), 2);
        assert_eq!(
            m.source.sha256,
            export::sha256_hex(&std::fs::read(&ck).unwrap())
        );
        let back = export::read_masks(&out, None).unwrap();
        assert_eq!(back.kind, MaskKind::Slm);
        for (j, (e, p)) in back.phases.iter().enumerate() {
            assert_eq!(*e, m.slms[j].element);
            let half = slm::linear_half_step(bits);
            let mut worst: f64 = 0.0;
            for (a, b) in phases[j].iter().zip(p) {
                let d = slm::circle_distance(*a, *b);
                worst = worst.max(d);
                assert!(
                    d <= half * (1.0 + 1e-9),
                    "{bits} bits: {a} read back as {b}"
                );
            }
            assert!((worst - m.slms[j].bitmap.as_ref().unwrap().max_phase_error).abs() < 1e-12);
            // The PNG holds exactly the linear levels.
            let b = m.slms[j].bitmap.as_ref().unwrap();
            let bytes = std::fs::read(out.join(&b.png.file)).unwrap();
            let (v, w, h) = export::read_png_grey(&bytes, Path::new("x")).unwrap();
            let [sx, sy] = m.slms[j].size;
            assert_eq!((w, h), (sx, sy));
            let want: Vec<u32> = phases[j]
                .iter()
                .map(|&p| slm::linear_level(p, bits))
                .collect();
            assert_eq!(v, want, "{bits} bits: levels");
            assert!(v.iter().all(|&l| l < 1 << bits));
        }
        // Exporting the read-back phases gives the same files, bit for bit.
        let net = Checkpoint::load(&ck).unwrap().network;
        let params = back
            .phases
            .iter()
            .map(|(_, p)| p.iter().map(|&v| v as f32).collect())
            .collect();
        let ck2 = t.path().join(format!("back{bits}.safetensors"));
        Checkpoint::write(&ck2, &net, &State::fresh(params), &Progress::default()).unwrap();
        let out2 = t.path().join(format!("y{bits}"));
        let m2 = export::export(&ck2, &out2, &slm_opts(bits)).unwrap();
        for (a, b) in m.slms.iter().zip(&m2.slms) {
            let (a, b) = (a.bitmap.as_ref().unwrap(), b.bitmap.as_ref().unwrap());
            assert_eq!(
                a.png.sha256, b.png.sha256,
                "{bits} bits: levels changed on a round trip"
            );
        }
    }
}

#[test]
fn panel_offset_fill_and_replication() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 2);
    let phases = trained(&ck);
    let out = t.path().join("panel");
    let opts = ExportOptions {
        slm: Some(SlmOptions {
            bits: 12,
            panel: Some([70, 50]),
            offset: Some([5, 1]),
            fill: 777,
            replicate: 3,
            ..SlmOptions::default()
        }),
        height: None,
    };
    let m = export::export(&ck, &out, &opts).unwrap();
    let e = &m.slms[0];
    let b = e.bitmap.as_ref().unwrap();
    let (v, w, h) = export::read_png_grey(
        &std::fs::read(out.join(&b.png.file)).unwrap(),
        Path::new("x"),
    )
    .unwrap();
    assert_eq!((w, h), (70, 50));
    let [sx, sy] = e.size;
    for y in 0..h {
        for x in 0..w {
            let inside = (5..5 + 3 * sx).contains(&x) && (1..1 + 3 * sy).contains(&y);
            let want = if inside {
                slm::linear_level(phases[0][((y - 1) / 3) * sx + (x - 5) / 3], 12)
            } else {
                777
            };
            assert_eq!(v[y * w + x], want, "({x}, {y})");
        }
    }
    let back = export::read_masks(&out, None).unwrap();
    for (a, b) in phases[0].iter().zip(&back.phases[0].1) {
        assert!(slm::circle_distance(*a, *b) <= slm::linear_half_step(12) * (1.0 + 1e-9));
    }
    // The default places the mask in the middle of the panel.
    let out2 = t.path().join("centred");
    let mut o2 = opts.clone();
    if let Some(s) = o2.slm.as_mut() {
        s.offset = None;
    }
    let m2 = export::export(&ck, &out2, &o2).unwrap();
    assert_eq!(
        m2.slms[0].bitmap.as_ref().unwrap().offset,
        [(70 - 48) / 2, (50 - 48) / 2]
    );
}

/// A measured-looking table: a gamma-like, slightly wavy response over 2.2π on 256 levels,
/// with an amplitude dip, sampled every 5 levels.
fn measured_lut() -> Lut {
    let mut lut = Lut {
        level: Vec::new(),
        phase: Vec::new(),
        amplitude: Vec::new(),
    };
    for l in (0..=255).step_by(5) {
        let u = l as f64 / 255.0;
        lut.level.push(l as f64);
        lut.phase
            .push(0.3 + 2.2 * PI * u.powf(1.4) + 0.15 * (9.0 * u).sin());
        lut.amplitude.push(1.0 - 0.1 * (PI * u).sin());
    }
    lut
}

#[test]
fn inverse_lut_within_the_tables_resolution() {
    let lut = measured_lut();
    let inv = slm::InverseLut::new(&lut).unwrap();
    let res = inv.resolution();
    assert!(res > 0.0 && res < 0.2, "resolution {res}");
    let mut r = rng(3);
    for _ in 0..20_000 {
        let target: f64 = r.random_range(-20.0..20.0);
        let l = inv.level(target);
        assert!(l <= 255);
        let shown = slm::lut_at(&lut, l as f64).0;
        let err = slm::circle_distance(shown, target);
        assert!(
            err <= res / 2.0 + 1e-12,
            "target {target}: level {l} shows {shown}, error {err} > {}",
            res / 2.0
        );
        // No other level is nearer (brute force).
        let best = (0..=255u32)
            .map(|k| slm::circle_distance(slm::lut_at(&lut, k as f64).0, target))
            .fold(f64::INFINITY, f64::min);
        assert!(err <= best + 1e-12, "target {target}: {err} vs best {best}");
    }
    // A non-monotonic table (the phase folds back) still finds the nearest level, the lower one
    // of equal phases.
    let fold = Lut {
        level: vec![0.0, 10.0, 20.0],
        phase: vec![0.0, 4.0, 0.0],
        amplitude: vec![1.0; 3],
    };
    let inv = slm::InverseLut::new(&fold).unwrap();
    assert_eq!(inv.level(2.0), 5);
    assert_eq!(inv.level(0.0), 0);
    // A table short of a turn gives the nearest end for a phase it cannot show.
    let short = Lut {
        level: vec![0.0, 255.0],
        phase: vec![0.0, 1.5 * PI],
        amplitude: vec![1.0; 2],
    };
    let inv = slm::InverseLut::new(&short).unwrap();
    assert_eq!(inv.level(1.6 * PI), 255);
    assert_eq!(inv.level(1.9 * PI), 0);
}

#[test]
fn lut_export_reads_back_through_the_stored_table() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 4);
    let phases = trained(&ck);
    let lut = measured_lut();
    let csv: String = std::iter::once("level,phase,amplitude\n".to_string())
        .chain(
            (0..lut.level.len())
                .map(|i| format!("{},{},{}\n", lut.level[i], lut.phase[i], lut.amplitude[i])),
        )
        .collect();
    let file = t.path().join("lut.csv");
    std::fs::write(&file, csv).unwrap();
    let out = t.path().join("lut");
    let opts = ExportOptions {
        slm: Some(SlmOptions {
            bits: 8,
            lut: LutChoice::File(file.clone()),
            ..SlmOptions::default()
        }),
        height: None,
    };
    let m = export::export(&ck, &out, &opts).unwrap();
    assert_eq!(m.lut.as_ref().unwrap().level, lut.level);
    let res = slm::InverseLut::new(&lut).unwrap().resolution();
    // The table file is no longer needed to read the folder back.
    std::fs::remove_file(&file).unwrap();
    let back = export::read_masks(&out, None).unwrap();
    for (j, (_, p)) in back.phases.iter().enumerate() {
        for (a, b) in phases[j].iter().zip(p) {
            assert!(slm::circle_distance(*a, *b) <= res / 2.0 + 1e-9);
        }
        assert!(m.slms[j].bitmap.as_ref().unwrap().max_phase_error <= res / 2.0 + 1e-9);
    }
    // A table whose levels do not fit the bit depth is refused, naming --lut.
    std::fs::write(&file, "level,phase\n0,0\n1023,6.3\n").unwrap();
    let e = export::export(&ck, &t.path().join("bad"), &opts).unwrap_err();
    assert!(e.to_string().contains("--lut") && e.exit_code() == 2, "{e}");
}

#[test]
fn height_maps_follow_the_formula() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 5);
    let phases = trained(&ck);
    let (n, lambda) = (1.52, 780e-9);
    let turn = lambda / (n - 1.0);
    for step in [None, Some(turn / 10.0), Some(40e-9)] {
        let out = t
            .path()
            .join(format!("h{}", step.map_or(0.0, |s| s * 1e9) as u32));
        let opts = ExportOptions {
            slm: None,
            height: Some(HeightOptions {
                index: n,
                wavelength: None,
                step,
                base: 0.5e-3,
            }),
        };
        let m = export::export(&ck, &out, &opts).unwrap();
        assert_eq!(m.settings.height.as_ref().unwrap().wavelength, lambda);
        for (j, e) in m.slms.iter().enumerate() {
            let h = e.height.as_ref().unwrap();
            assert!((h.turn_height - turn).abs() < 1e-20);
            let a = npy::read(&out.join(&h.npy.file)).unwrap();
            assert_eq!((a.rows, a.cols), (e.size[1], e.size[0]));
            let (png, w, hh) = export::read_png_grey(
                &std::fs::read(out.join(&h.png.file)).unwrap(),
                Path::new("x"),
            )
            .unwrap();
            assert_eq!((w, hh), (e.size[0], e.size[1]));
            for (i, (&phi, &z)) in phases[j].iter().zip(&a.data).enumerate() {
                let exact = slm::wrap(phi) * lambda / (TAU * (n - 1.0));
                assert!((0.0..turn).contains(&z), "height {z} outside one turn");
                match step {
                    None => {
                        assert!((z - exact).abs() <= 1e-15, "{z} vs {exact}");
                        assert!(
                            (png[i] as f64 * h.png_scale - z).abs() <= h.png_scale / 2.0 + 1e-18
                        );
                    }
                    Some(s) => {
                        let q = (z / s).round();
                        assert!((z - q * s).abs() < 1e-18, "{z} is not on the {s} grid");
                        assert_eq!(png[i] as f64, q);
                        // Within half a step of the exact height, on the circle of one turn.
                        let d = (z - exact).abs().min(turn - (z - exact).abs());
                        assert!(d <= s / 2.0 + 1e-15, "{z} vs {exact}: {d}");
                    }
                }
            }
            // The phase read back is within half a step (in phase) of the trained one.
            let back = export::read_masks(&out, None).unwrap();
            assert_eq!(back.kind, MaskKind::Height);
            let tol = step.map_or(1e-9, |s| PI * s / turn + 1e-9);
            for (a, b) in phases[j].iter().zip(&back.phases[j].1) {
                assert!(slm::circle_distance(*a, *b) <= tol);
            }
        }
    }
}

/// Directed-edge counts of a mesh, keyed by the vertices' exact f32 bits.
fn edges(tris: &[[[f32; 3]; 3]]) -> HashMap<([u32; 3], [u32; 3]), usize> {
    let key = |v: [f32; 3]| v.map(f32::to_bits);
    let mut m = HashMap::new();
    for t in tris {
        for k in 0..3 {
            *m.entry((key(t[k]), key(t[(k + 1) % 3]))).or_insert(0) += 1;
        }
    }
    m
}

fn check_closed(tris: &[[[f32; 3]; 3]], saddle_free: bool) {
    let e = edges(tris);
    for (&(a, b), &n) in &e {
        let back = e.get(&(b, a)).copied().unwrap_or(0);
        assert_eq!(n, back, "edge {a:?}→{b:?} used {n} times, its reverse {back}: not closed or not consistently oriented");
        if saddle_free {
            assert_eq!(n, 1, "edge {a:?}→{b:?} shared by {} triangles", n + back);
        } else if n != 1 {
            // Only where blocks touch along a vertical segment (a checkerboard corner).
            assert!(
                a[0] == b[0] && a[1] == b[1] && n == 2,
                "edge {a:?}→{b:?} used {n} times"
            );
        }
    }
    // No degenerate triangle.
    for t in tris {
        assert!(t[0] != t[1] && t[1] != t[2] && t[0] != t[2]);
    }
}

#[test]
fn stl_is_closed_and_holds_the_height_maps_volume() {
    let (pitch, base) = (16e-6, 0.3e-3);
    let mut r = rng(6);
    let cases: Vec<(usize, usize, Vec<f64>, bool)> = vec![
        // A ramp (no two neighbours equal, no checkerboard corners).
        (
            5,
            7,
            (0..35)
                .map(|i| ((i % 7) * 5 + i / 7) as f64 * 1e-7)
                .collect(),
            true,
        ),
        // Random heights on 6 levels (equal neighbours, checkerboard corners).
        (
            9,
            11,
            (0..99)
                .map(|_| r.random_range(0..6) as f64 * 2e-7)
                .collect(),
            false,
        ),
        // Continuous random heights.
        (
            12,
            8,
            (0..96).map(|_| r.random_range(0.0..1.5e-6)).collect(),
            false,
        ),
        // One pixel, and a flat map.
        (1, 1, vec![4e-7], true),
        (3, 2, vec![0.0; 6], true),
        // An explicit checkerboard.
        (2, 2, vec![1e-6, 0.0, 0.0, 1e-6], false),
    ];
    for (rows, cols, h, saddle_free) in cases {
        let tris = stl::mesh(&h, rows, cols, pitch, base, 1e3);
        let bytes = stl::encode(&tris, "test");
        assert!(!bytes.starts_with(b"solid"));
        let back = stl::decode(&bytes).unwrap();
        assert_eq!(back.len(), tris.len());
        check_closed(&back, saddle_free);
        let want: f64 = h.iter().map(|&z| (base + z) * pitch * pitch).sum::<f64>() * 1e9;
        let got = stl::volume(&back);
        assert!(
            (got - want).abs() <= 1e-5 * want,
            "{rows}x{cols}: volume {got} mm³, Σ(base+h)p² = {want}"
        );
    }
    // The size of a 200 × 200 layer of continuous heights.
    let h: Vec<f64> = (0..40_000).map(|_| r.random_range(0.0..1.5e-6)).collect();
    let tris = stl::mesh(&h, 200, 200, 8e-6, 1e-3, 1e3);
    let mb = (84 + 50 * tris.len()) as f64 / 1e6;
    assert!(mb < 25.0, "200×200: {} triangles, {mb:.1} MB", tris.len());
    eprintln!(
        "200×200 continuous heights: {} triangles, {mb:.1} MB",
        tris.len()
    );
}

#[test]
fn export_writes_stl_matching_its_height_map() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 7);
    let out = t.path().join("fab");
    let opts = ExportOptions {
        slm: Some(SlmOptions::default()),
        height: Some(HeightOptions {
            index: 1.5,
            wavelength: Some(633e-9),
            step: Some(50e-9),
            base: 1e-3,
        }),
    };
    let m = export::export(&ck, &out, &opts).unwrap();
    for e in &m.slms {
        let h = e.height.as_ref().unwrap();
        let a = npy::read(&out.join(&h.npy.file)).unwrap();
        let tris = stl::decode(&std::fs::read(out.join(&h.stl.file)).unwrap()).unwrap();
        assert_eq!(tris.len(), h.stl_triangles);
        check_closed(&tris, false);
        let want: f64 = a
            .data
            .iter()
            .map(|&z| (1e-3 + z) * e.pitch * e.pitch)
            .sum::<f64>()
            * 1e9;
        assert!((stl::volume(&tris) - want).abs() <= 1e-5 * want);
        assert!((e.pitch - e.macro_pixel as f64 * 8e-6).abs() < 1e-18);
    }
    // Both kinds were written: the bitmaps are read by default, the heights on request.
    assert_eq!(export::read_masks(&out, None).unwrap().kind, MaskKind::Slm);
    assert_eq!(
        export::read_masks(&out, Some(MaskKind::Height))
            .unwrap()
            .kind,
        MaskKind::Height
    );
}

#[test]
fn changed_files_and_escaping_paths_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 8);
    let out = t.path().join("x");
    export::export(&ck, &out, &slm_opts(8)).unwrap();
    // A changed bitmap.
    let png = out.join("slm2.png");
    let mut b = std::fs::read(&png).unwrap();
    let orig = b.clone();
    let last = b.len() - 20;
    b[last] ^= 1;
    std::fs::write(&png, &b).unwrap();
    let e = export::read_masks(&out, None).unwrap_err();
    assert!(
        e.to_string().contains("slm2.png") && e.to_string().contains("SHA-256"),
        "{e}"
    );
    std::fs::write(&png, &orig).unwrap();
    let masks = export::read_masks(&out, None).unwrap();
    // Another checkpoint than the source.
    let other = checkpoint(t.path(), TINY, 9);
    let e = export::with_masks(&other, &masks).unwrap_err();
    assert!(matches!(e, wavetrain::Error::Checkpoint { .. }), "{e}");
    assert!(e.to_string().contains("exported from a checkpoint"), "{e}");
    // A manifest naming a file outside the folder.
    let mpath = out.join("export.json");
    let text = std::fs::read_to_string(&mpath).unwrap();
    std::fs::write(&mpath, text.replace("\"slm1.png\"", "\"../slm1.png\"")).unwrap();
    let e = export::read_masks(&out, None).unwrap_err();
    assert!(e.to_string().contains("not inside its folder"), "{e}");
    std::fs::write(&mpath, text.replace("\"slm1.png\"", "\"/etc/passwd\"")).unwrap();
    assert!(export::read_masks(&out, None)
        .unwrap_err()
        .to_string()
        .contains("not inside"));
    std::fs::write(&mpath, text.replace("wavetrain-export-1", "other-1")).unwrap();
    assert!(export::read_masks(&out, None)
        .unwrap_err()
        .to_string()
        .contains("format tag"));
}

#[test]
fn export_is_atomic_and_refuses_a_used_folder() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 10);
    let out = t.path().join("used");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "x").unwrap();
    let e = export::export(&ck, &out, &slm_opts(8)).unwrap_err();
    assert!(e.to_string().contains("--out") && e.exit_code() == 2, "{e}");
    assert_eq!(std::fs::read_to_string(out.join("keep.txt")).unwrap(), "x");
    // An empty folder is used; a failing export (panel too small) leaves nothing behind.
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    export::export(&ck, &empty, &slm_opts(8)).unwrap();
    assert!(empty.join("export.json").is_file());
    let mut small = slm_opts(8);
    if let Some(s) = small.slm.as_mut() {
        s.panel = Some([10, 10]);
    }
    let e = export::export(&ck, &t.path().join("never"), &small).unwrap_err();
    assert!(e.to_string().contains("--panel"), "{e}");
    let names: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("never") || n.contains("tmpdir")),
        "{names:?}"
    );
}

fn cli(args: &[&str]) -> std::process::Output {
    wavetrain_bin(args)
}

#[test]
fn bad_options_exit_2_naming_the_flag() {
    let t = tempfile::tempdir().unwrap();
    let ck = checkpoint(t.path(), TINY, 11);
    let c = ck.display().to_string();
    let out = t.path().join("o").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--slm-bits", "9"], "--slm-bits"),
        (&["--height"], "--index"),
        (&["--height", "--index", "0.9"], "--index"),
        (&["--height", "--index", "1.5", "--base", "0"], "--base"),
        (&["--height", "--index", "1.5", "--step=-1e-9"], "--step"),
        (&["--height", "--index", "1.5", "--step", "1e-12"], "--step"),
        (
            &["--height", "--index", "1.5", "--wavelength=-1"],
            "--wavelength",
        ),
        (&["--index", "1.5"], "--index"),
        (&["--panel", "10x10"], "--panel"),
        (&["--panel", "wide"], "--panel"),
        (&["--panel", "64x64", "--offset", "60,0"], "--offset"),
        (&["--offset", "1"], "--offset"),
        (&["--fill", "256"], "--fill"),
        (&["--replicate", "0"], "--replicate"),
        (&["--lut", "config"], "--lut"),
        (&["--lut", "/no/such/table.csv"], "--lut"),
        (
            &["--height", "--index", "1.5", "--panel", "64x64"],
            "--slm-bits",
        ),
    ];
    for (extra, flag) in cases {
        let mut args = vec!["export", &c, "--out", &out];
        args.extend_from_slice(extra);
        let r = cli(&args);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {}", stderr_of(&r));
        assert!(stderr_of(&r).contains(flag), "{extra:?}: {}", stderr_of(&r));
        assert!(!Path::new(&out).exists(), "{extra:?} left {out}");
    }
    // A missing checkpoint is an I/O error naming it.
    let r = cli(&["export", "/no/such.safetensors", "--out", &out]);
    assert_eq!(r.status.code(), Some(5), "{}", stderr_of(&r));
    // Capture: bad pattern sets and exposure.
    let cfg = t.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let cf = cfg.display().to_string();
    for (extra, flag) in [
        (vec!["--patterns", "stripes"], "--patterns"),
        (vec!["--patterns", "inputs:0"], "--patterns"),
        (vec!["--patterns", ""], "--patterns"),
        (vec!["--exposure=-1"], "--exposure"),
    ] {
        let mut args = vec!["capture", "--config", &cf, "--out", &out];
        args.extend(extra.iter().copied());
        let r = cli(&args);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {}", stderr_of(&r));
        assert!(stderr_of(&r).contains(flag), "{extra:?}: {}", stderr_of(&r));
    }
    let r = cli(&["capture", "--out", &out]);
    assert_eq!(r.status.code(), Some(2));
    assert!(stderr_of(&r).contains("--config"));
}

#[test]
fn eval_with_masks_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let r = cli(&[
        "train",
        "--config",
        &{
            let p = t.path().join("tiny.toml");
            std::fs::write(&p, TINY).unwrap();
            p.display().to_string()
        },
        "--backend",
        "cpu",
        "--epochs",
        "1",
        "--max-train",
        "64",
        "--batch",
        "32",
        "--no-pictures",
        "--json",
        "--out",
        &run.display().to_string(),
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let ck = run.join("checkpoint.safetensors").display().to_string();
    let x16 = t.path().join("x16").display().to_string();
    let r = cli(&[
        "export",
        &run.display().to_string(),
        "--out",
        &x16,
        "--slm-bits",
        "16",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let m = last_json(&r);
    assert_eq!(m["slms"].as_array().unwrap().len(), 2);
    let r = cli(&[
        "eval",
        "--checkpoint",
        &ck,
        "--masks",
        &x16,
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let j = last_json(&r);
    // 16-bit levels change the phases by < 5e-5 rad: the accuracy is the checkpoint's.
    assert_eq!(j["accuracy"], j["masks_accuracy"], "{j}");
    let plain = cli(&["eval", "--checkpoint", &ck, "--backend", "cpu", "--json"]);
    assert_eq!(last_json(&plain)["accuracy"], j["accuracy"]);
    // A 1-bit-like coarse export changes the readout (a different loss).
    let x8 = t.path().join("x8").display().to_string();
    let r = cli(&[
        "export", &ck, "--out", &x8, "--height", "--index", "1.5", "--step", "2e-7",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let r = cli(&[
        "eval",
        "--checkpoint",
        &ck,
        "--masks",
        &x8,
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let k = last_json(&r);
    assert_eq!(k["masks_from"], "height");
    assert_ne!(k["masks_loss"], k["loss"]);
    // The masks of another checkpoint are refused (exit 4), naming the file.
    let other = checkpoint(t.path(), TINY, 12).display().to_string();
    let r = cli(&[
        "eval",
        "--checkpoint",
        &other,
        "--masks",
        &x16,
        "--backend",
        "cpu",
    ]);
    assert_eq!(r.status.code(), Some(4), "{}", stderr_of(&r));
    assert!(stderr_of(&r).contains(&other));
    // A changed file is refused (exit 3), naming it.
    let f = Path::new(&x16).join("slm1.png");
    let mut b = std::fs::read(&f).unwrap();
    let n = b.len() - 20;
    b[n] ^= 4;
    std::fs::write(&f, b).unwrap();
    let r = cli(&[
        "eval",
        "--checkpoint",
        &ck,
        "--masks",
        &x16,
        "--backend",
        "cpu",
    ]);
    assert_eq!(r.status.code(), Some(3), "{}", stderr_of(&r));
    assert!(stderr_of(&r).contains("slm1.png"));
}

/// TINY with a known imperfect system: shifted SLMs, distance errors and fringing.
fn tiny_hw(extra: &str) -> String {
    format!(
        "{TINY}\n[hardware]\nseed = 3\nshifts = [[4e-6, -2e-6], [-9e-6, 3e-6]]\ndistance_errors = [1e-4, -5e-5, 0.0]\nfringing = 0.3\n{extra}"
    )
}

#[test]
fn noiseless_captures_are_the_simulations_planes() {
    let t = tempfile::tempdir().unwrap();
    let toml = tiny_hw("shot_noise = 1000.0\nread_noise = 0.01\n");
    let net = Config::from_toml(&toml, "t").unwrap().resolve().unwrap();
    let state = net.initial_state();
    let data = wavetrain::data::read_dir(&wavetrain::data::idx::bundled_dir(), 10)
        .unwrap()
        .1;
    let opts = CaptureOptions {
        patterns: vec![
            PatternSet::Blank,
            PatternSet::Gratings,
            PatternSet::Defocus,
            PatternSet::Random,
            PatternSet::Inputs(3),
        ],
        slm_planes: true,
        noise: false,
        exposure: None,
        seed: 1,
    };
    let out = t.path().join("cap");
    let m = capture::capture(&net, &state, None, Some(&data), &opts, &out).unwrap();
    // 1 blank + 2 SLMs × (4 gratings + 2 defocus + 2 random) + 3 inputs, 3 planes each.
    assert_eq!(m.patterns.len(), 1 + 2 * 8 + 3);
    assert_eq!(m.frames.len(), 3 * m.patterns.len());
    assert_eq!(m.camera.bits, 16);
    assert!(m.camera.shot_noise.is_none() && m.camera.read_noise == 0.0);
    let caps = capture::read_captures(&out).unwrap();
    let hw = net.on(System::Hardware).unwrap();
    let plan = hw.field("t").unwrap().clone();
    for (f, img) in m.frames.iter().zip(&caps.frames) {
        let p = &m.patterns[f.pattern];
        // Rebuild the pattern's SLM phases and input from the folder's own files.
        let mut st = state.clone();
        for (i, s) in plan.params.iter().enumerate() {
            st.params[i] = vec![0.0; s.len()];
            if let Some(r) = p.phases.iter().find(|r| r.element == s.element) {
                let a = npy::read(&out.join(&r.phases.file)).unwrap();
                assert_eq!((a.rows, a.cols), (s.sy, s.sx));
                st.params[i] = a.data.iter().map(|&v| v as f32).collect();
            }
        }
        let input = npy::read(&out.join(&p.input.amplitude.file)).unwrap();
        let x: Vec<f32> = input.data.iter().map(|&v| v as f32).collect();
        let planes = wavetrain::diagnose::planes(&hw, &st, &x).unwrap();
        let field = &planes[f.element].1;
        let peak = field
            .iter()
            .map(|z| z.norm_sqr() as f64)
            .fold(0.0, f64::max);
        assert!(peak > 0.0);
        for (got, z) in img.iter().zip(field) {
            let want = z.norm_sqr() as f64;
            assert!(
                (got - want).abs() <= f.scale / 2.0 * (1.0 + 1e-9) + 1e-12 * peak,
                "{}: {got} vs {want} (scale {})",
                f.png.file,
                f.scale
            );
        }
        if f.plane == "detector" {
            assert_eq!(f.element, 5);
        }
    }
    // The imperfections matter: the blank detector frame differs from the ideal model's.
    let ideal = net.on(System::Model).unwrap();
    let st0 = State::fresh(state.params.iter().map(|p| vec![0.0; p.len()]).collect());
    let white = npy::read(&out.join(&m.patterns[0].input.amplitude.file)).unwrap();
    let x: Vec<f32> = white.data.iter().map(|&v| v as f32).collect();
    let f0 = &wavetrain::diagnose::planes(&ideal, &st0, &x).unwrap()[5].1;
    let blank = m
        .frames
        .iter()
        .position(|f| f.pattern == 0 && f.plane == "detector")
        .unwrap();
    let diff: f64 = caps.frames[blank]
        .iter()
        .zip(f0)
        .map(|(a, z)| (a - z.norm_sqr() as f64).abs())
        .sum();
    assert!(
        diff > 1e3 * m.frames[blank].scale,
        "the hardware frame equals the model's"
    );
}

#[test]
fn captures_with_noise_camera_bits_and_hostile_folders() {
    let t = tempfile::tempdir().unwrap();
    let toml = tiny_hw("shot_noise = 200.0\nread_noise = 0.02\ncamera_bits = 10\n");
    let net = Config::from_toml(&toml, "t").unwrap().resolve().unwrap();
    let state = net.initial_state();
    let mk = |noise: bool, name: &str| {
        let opts = CaptureOptions {
            patterns: vec![PatternSet::Blank, PatternSet::Gratings],
            slm_planes: false,
            noise,
            exposure: None,
            seed: 0,
        };
        let out = t.path().join(name);
        let m = capture::capture(&net, &state, None, None, &opts, &out).unwrap();
        (m, capture::read_captures(&out).unwrap(), out)
    };
    let (m1, c1, out) = mk(true, "noisy");
    let (_, c0, _) = mk(false, "clean");
    let (_, c2, _) = mk(true, "noisy2");
    assert_eq!(m1.camera.max_value, 1023);
    assert_eq!(m1.camera.shot_noise, Some(200.0));
    // Noise is drawn (frames differ from the clean ones) and reproducible (same seed, same frames).
    assert_eq!(c1.frames, c2.frames);
    assert_ne!(c1.frames, c0.frames);
    // Its size: the read noise (σ = 0.02 of full scale) dominates the dark pixels.
    let f = &m1.frames[0];
    let dark: Vec<f64> = c1.frames[0]
        .iter()
        .zip(&c0.frames[0])
        .filter(|(_, &b)| b == 0.0)
        .map(|(a, _)| a / (f.scale * 1023.0))
        .collect();
    assert!(!dark.is_empty());
    let mean = dark.iter().sum::<f64>() / dark.len() as f64;
    // Clamped at 0, a N(0, σ²) reading has mean σ/√(2π) ≈ 0.008.
    assert!((0.004..0.012).contains(&mean), "mean dark level {mean}");
    // inputs:N without data is refused, naming --patterns.
    let opts = CaptureOptions {
        patterns: vec![PatternSet::Inputs(2)],
        slm_planes: false,
        noise: false,
        exposure: None,
        seed: 0,
    };
    let e = capture::capture(&net, &state, None, None, &opts, &t.path().join("n")).unwrap_err();
    assert!(e.to_string().contains("--patterns"), "{e}");
    // A changed frame, a path outside the folder and a frame of the wrong size are refused.
    let mpath = out.join("captures.json");
    let text = std::fs::read_to_string(&mpath).unwrap();
    let frame = out.join(&m1.frames[1].png.file);
    let orig = std::fs::read(&frame).unwrap();
    let mut b = orig.clone();
    let n = b.len() - 20;
    b[n] ^= 2;
    std::fs::write(&frame, &b).unwrap();
    let e = capture::read_captures(&out).unwrap_err();
    assert!(e.to_string().contains(&m1.frames[1].png.file), "{e}");
    std::fs::write(&frame, &orig).unwrap();
    std::fs::write(
        &mpath,
        text.replace("\"frames/f00001.png\"", "\"../f00001.png\""),
    )
    .unwrap();
    assert!(capture::read_captures(&out)
        .unwrap_err()
        .to_string()
        .contains("not inside"));
    std::fs::write(
        &mpath,
        text.replace("\"grid\": [\n    16,", "\"grid\": [\n    8,"),
    )
    .unwrap();
    assert!(capture::read_captures(&out)
        .unwrap_err()
        .to_string()
        .contains("the grid is 8x16"));
    std::fs::write(&mpath, &text).unwrap();
    capture::read_captures(&out).unwrap();
    // A used folder is refused, naming --out.
    let opts = CaptureOptions {
        patterns: vec![PatternSet::Blank],
        slm_planes: false,
        noise: false,
        exposure: Some(1e-9),
        seed: 0,
    };
    let e = capture::capture(&net, &state, None, None, &opts, &out).unwrap_err();
    assert!(e.to_string().contains("--out"), "{e}");
    // A fixed exposure clips and says how many pixels.
    let m = capture::capture(&net, &state, None, None, &opts, &t.path().join("clip")).unwrap();
    assert!(m.frames[0].saturated > 0);
}

#[test]
fn capture_cli_with_a_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("hw.toml");
    std::fs::write(&cfg, tiny_hw("")).unwrap();
    let ck = checkpoint(t.path(), &tiny_hw(""), 13);
    let out = t.path().join("cap");
    let r = cli(&[
        "capture",
        "--config",
        &cfg.display().to_string(),
        "--checkpoint",
        &ck.display().to_string(),
        "--patterns",
        "blank,inputs:4",
        "--out",
        &out.display().to_string(),
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let j = last_json(&r);
    assert_eq!(j["frames"], 5);
    let c = capture::read_captures(&out).unwrap();
    let m = &c.manifest;
    assert_eq!(
        m.checkpoint.as_ref().unwrap().sha256,
        export::sha256_hex(&std::fs::read(&ck).unwrap())
    );
    // The input patterns show the checkpoint's masks, stored once and shared.
    let inputs: Vec<_> = m.patterns.iter().filter(|p| p.name == "input").collect();
    assert_eq!(inputs.len(), 4);
    assert_eq!(inputs[0].phases, inputs[3].phases);
    assert_eq!(inputs[2].input.index, Some(2));
    let trained = trained(&ck);
    let a = npy::read(&out.join(&inputs[0].phases[1].phases.file)).unwrap();
    assert_eq!(a.data, trained[1]);
}
