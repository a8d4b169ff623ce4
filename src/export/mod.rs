//! From the simulation to the bench: a checkpoint's trained phase masks exported as SLM
//! bitmaps (grey levels through the device's lookup table, placed on the panel) and as
//! fabrication files (height maps as 16-bit PNG and `.npy`, closed STL solids), with an
//! `export.json` manifest ([`manifest`]); and the way back, the phases read from such a folder
//! ([`read_masks`]) and the network that runs them ([`with_masks`]), so that the accuracy cost
//! of the export's quantisation is known before anything is built.
//!
//! An export is written as a whole ([`crate::io::atomic_write_dir`]): a reader sees no folder
//! or all of it. Reading back verifies every file's SHA-256 and the source checkpoint's, and
//! refuses file names that leave the folder.

pub mod height;
pub mod manifest;
pub mod npy;
pub mod slm;
pub mod stl;

use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::network::{Network, ParamKind, State};
use crate::optics::Lut;

pub use height::HeightMap;
pub use manifest::{sha256_hex, FileRef, Manifest};

/// Where an SLM's lookup table comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum LutChoice {
    /// `phase = 2π·level/2^bits`.
    Linear,
    /// The checkpoint config's `hardware.phase_lut` (the table the simulation used).
    Config,
    /// A `level,phase[,amplitude]` CSV file.
    File(PathBuf),
}

impl std::str::FromStr for LutChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "linear" => LutChoice::Linear,
            "config" => LutChoice::Config,
            p => LutChoice::File(PathBuf::from(p)),
        })
    }
}

/// The SLM-bitmap options (`--slm-bits`, `--lut`, `--panel`, `--offset`, `--fill`,
/// `--replicate`).
#[derive(Clone, Debug, PartialEq)]
pub struct SlmOptions {
    /// Bits per level: 8, 10, 12 or 16.
    pub bits: u32,
    /// The phase → level map.
    pub lut: LutChoice,
    /// Panel `[width, height]` (absent: the mask's own size).
    pub panel: Option<[usize; 2]>,
    /// The mask's top-left pixel on the panel `[x, y]` (absent: centred).
    pub offset: Option<[usize; 2]>,
    /// The level outside the mask.
    pub fill: u32,
    /// Panel pixels per SLM pixel along each axis (≥ 1): for a panel whose pixel is a fraction
    /// of the simulated SLM pixel.
    pub replicate: usize,
}

impl Default for SlmOptions {
    fn default() -> Self {
        SlmOptions {
            bits: 8,
            lut: LutChoice::Linear,
            panel: None,
            offset: None,
            fill: 0,
            replicate: 1,
        }
    }
}

/// The fabrication options (`--height --index N [--wavelength λ] [--step S] [--base B]`).
#[derive(Clone, Debug, PartialEq)]
pub struct HeightOptions {
    /// Refractive index of the material (> 1).
    pub index: f64,
    /// Design wavelength, metres (absent: the simulation's).
    pub wavelength: Option<f64>,
    /// Printer step, metres (absent: continuous).
    pub step: Option<f64>,
    /// Base plate thickness, metres (> 0).
    pub base: f64,
}

/// What to export: SLM bitmaps, height maps, or both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportOptions {
    /// SLM bitmaps.
    pub slm: Option<SlmOptions>,
    /// Fabrication files.
    pub height: Option<HeightOptions>,
}

/// Default base plate thickness, metres.
pub const DEFAULT_BASE: f64 = 1e-3;

impl ExportOptions {
    /// Checks the options that need no checkpoint; errors name the flag (exit code 2).
    pub fn check(&self) -> Result<()> {
        if self.slm.is_none() && self.height.is_none() {
            return Err(Error::config(
                "--slm-bits",
                "nothing to export: give --slm-bits for SLM bitmaps, --height for fabrication files, or both",
            ));
        }
        if let Some(s) = &self.slm {
            if ![8, 10, 12, 16].contains(&s.bits) {
                return Err(Error::config(
                    "--slm-bits",
                    format!(
                        "{} bits: give 8, 10, 12 or 16 (the bit depth of the SLM's drive levels)",
                        s.bits
                    ),
                ));
            }
            if s.fill >= 1 << s.bits {
                return Err(Error::config(
                    "--fill",
                    format!(
                        "level {} does not exist on a {}-bit panel (0 to {})",
                        s.fill,
                        s.bits,
                        (1u32 << s.bits) - 1
                    ),
                ));
            }
            if !(1..=64).contains(&s.replicate) {
                return Err(Error::config(
                    "--replicate",
                    format!(
                        "{}: give the panel pixels per simulated SLM pixel, 1 to 64",
                        s.replicate
                    ),
                ));
            }
            if let Some([w, h]) = s.panel {
                if w == 0 || h == 0 || w > 65_536 || h > 65_536 {
                    return Err(Error::config(
                        "--panel",
                        format!(
                            "{w}x{h}: give the panel's pixels as WIDTHxHEIGHT, each 1 to 65536"
                        ),
                    ));
                }
            }
        }
        if let Some(h) = &self.height {
            if !(h.index.is_finite() && h.index > 1.0 && h.index < 10.0) {
                return Err(Error::config(
                    "--index",
                    format!("{}: give the material's refractive index at the wavelength, above 1 (e.g. 1.5)", h.index),
                ));
            }
            if let Some(l) = h.wavelength {
                if !(l.is_finite() && l > 0.0 && l < 1e-2) {
                    return Err(Error::config(
                        "--wavelength",
                        format!("{l}: give the design wavelength in metres (e.g. 780e-9)"),
                    ));
                }
            }
            if !(h.base.is_finite() && h.base > 0.0 && h.base < 1.0) {
                return Err(Error::config(
                    "--base",
                    format!(
                        "{}: give the base plate's thickness in metres, above 0 (e.g. 1e-3)",
                        h.base
                    ),
                ));
            }
            if let Some(s) = h.step {
                if !(s.is_finite() && s > 0.0) {
                    return Err(Error::config(
                        "--step",
                        format!("{s}: give the printer's height step in metres, above 0"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The options as the CLI flags and the Python keywords give them; [`ExportFlags::options`]
/// turns them into [`ExportOptions`], naming the flag in every error.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportFlags {
    /// `--slm-bits`.
    pub slm_bits: Option<u32>,
    /// `--lut`: `linear`, `config` or a CSV file.
    pub lut: Option<String>,
    /// `--panel`.
    pub panel: Option<[usize; 2]>,
    /// `--offset`.
    pub offset: Option<[usize; 2]>,
    /// `--fill`.
    pub fill: u32,
    /// `--replicate`.
    pub replicate: usize,
    /// `--height`.
    pub height: bool,
    /// `--index`.
    pub index: Option<f64>,
    /// `--wavelength`.
    pub wavelength: Option<f64>,
    /// `--step`.
    pub step: Option<f64>,
    /// `--base`.
    pub base: f64,
}

impl Default for ExportFlags {
    fn default() -> Self {
        ExportFlags {
            slm_bits: None,
            lut: None,
            panel: None,
            offset: None,
            fill: 0,
            replicate: 1,
            height: false,
            index: None,
            wavelength: None,
            step: None,
            base: DEFAULT_BASE,
        }
    }
}

impl ExportFlags {
    /// The export these flags ask for, for the checkpoint of `source`: SLM bitmaps when
    /// `--slm-bits` is given or `--height` is not (8 bits by default), fabrication files with
    /// `--height`; the lookup table defaults to the checkpoint config's `phase_lut` when it has
    /// one, else linear.
    pub fn options(&self, source: &Path) -> Result<ExportOptions> {
        if !self.height {
            for (flag, given) in [
                ("--index", self.index.is_some()),
                ("--wavelength", self.wavelength.is_some()),
                ("--step", self.step.is_some()),
            ] {
                if given {
                    return Err(Error::config(
                        flag,
                        "is a fabrication setting: add --height",
                    ));
                }
            }
        }
        let slm = if self.slm_bits.is_some() || !self.height {
            let lut = match self.lut.as_deref() {
                Some(s) => s
                    .parse::<LutChoice>()
                    .map_err(|e| Error::config("--lut", e))?,
                None => match Checkpoint::load(&checkpoint_file(source)) {
                    Ok(ck) if ck.config().hardware.phase_lut.is_some() => LutChoice::Config,
                    _ => LutChoice::Linear,
                },
            };
            Some(SlmOptions {
                bits: self.slm_bits.unwrap_or(8),
                lut,
                panel: self.panel,
                offset: self.offset,
                fill: self.fill,
                replicate: self.replicate,
            })
        } else {
            if self.lut.is_some() || self.panel.is_some() || self.offset.is_some() {
                return Err(Error::config(
                    "--slm-bits",
                    "--lut, --panel and --offset shape SLM bitmaps: give --slm-bits too",
                ));
            }
            None
        };
        let height = if self.height {
            Some(HeightOptions {
                index: self.index.ok_or_else(|| {
                    Error::config(
                        "--index",
                        "--height needs the material's refractive index, e.g. --index 1.5",
                    )
                })?,
                wavelength: self.wavelength,
                step: self.step,
                base: self.base,
            })
        } else {
            None
        };
        let o = ExportOptions { slm, height };
        o.check()?;
        Ok(o)
    }
}

/// The checkpoint file of `source`: itself, or `source/checkpoint.safetensors` for a run folder.
pub fn checkpoint_file(source: &Path) -> PathBuf {
    if source.is_dir() {
        source.join("checkpoint.safetensors")
    } else {
        source.to_path_buf()
    }
}

/// An 8-bit (`bits ≤ 8`) or 16-bit grey PNG of `values` (`w × h`, row-major).
pub fn png_grey(values: &[u32], w: usize, h: usize, bits: u32) -> Result<Vec<u8>> {
    let mut png = Vec::new();
    let bad = |e: image::ImageError| Error::config("png", format!("cannot encode the PNG: {e}"));
    let (w32, h32) = (w as u32, h as u32);
    let cursor = &mut std::io::Cursor::new(&mut png);
    if bits <= 8 {
        let v: Vec<u8> = values.iter().map(|&x| x as u8).collect();
        image::GrayImage::from_raw(w32, h32, v)
            .ok_or_else(|| Error::config("png", "buffer size"))?
            .write_to(cursor, image::ImageFormat::Png)
            .map_err(bad)?;
    } else {
        let v: Vec<u16> = values.iter().map(|&x| x as u16).collect();
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w32, h32, v)
            .ok_or_else(|| Error::config("png", "buffer size"))?
            .write_to(cursor, image::ImageFormat::Png)
            .map_err(bad)?;
    }
    Ok(png)
}

/// The grey values of an 8- or 16-bit grey PNG (values as stored, not rescaled) with its width
/// and height; `path` names the file in errors ([`Error::Data`]).
pub fn read_png_grey(bytes: &[u8], path: &Path) -> Result<(Vec<u32>, usize, usize)> {
    let bad = |m: String| Error::Data {
        path: path.to_path_buf(),
        message: m,
    };
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| bad(format!("not a readable PNG ({e})")))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let v: Vec<u32> = match img {
        image::DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(u32::from).collect(),
        image::DynamicImage::ImageLuma16(b) => b.into_raw().into_iter().map(u32::from).collect(),
        other => {
            return Err(bad(format!(
                "a {:?} PNG: expected 8- or 16-bit grey levels",
                other.color()
            )))
        }
    };
    Ok((v, w, h))
}

/// The phase SLMs of a checkpoint's network: `(param index, element)`; refuses dense networks
/// and amplitude SLMs (their signed weights have no phase to export).
fn phase_slms(net: &Network, what: &str) -> Result<Vec<(usize, usize)>> {
    let plan = net.field(what)?;
    plan.params
        .iter()
        .enumerate()
        .map(|(i, p)| match p.kind {
            ParamKind::Phase => Ok((i, p.element)),
            ParamKind::Amplitude => Err(Error::config(
                format!("elements[{}]", p.element),
                format!("{what} writes phase masks; this element is an amplitude SLM (a signed weight, which no phase level or height shows)"),
            )),
        })
        .collect()
}

/// The lookup table of `choice` with its file's SHA-256 (`None` for linear).
fn load_lut(choice: &LutChoice, net: &Network) -> Result<Option<(Lut, String, String)>> {
    let path = match choice {
        LutChoice::Linear => return Ok(None),
        LutChoice::Config => PathBuf::from(net.config().hardware.phase_lut.as_ref().ok_or_else(|| {
            Error::config(
                "--lut",
                "'config' takes the checkpoint config's hardware.phase_lut, but it has none: give a table file, or linear",
            )
        })?),
        LutChoice::File(p) => p.clone(),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::config(
            "--lut",
            format!("cannot read the lookup table {}: {e}", path.display()),
        )
    })?;
    let lut = Lut::parse(&text, "--lut")?;
    Ok(Some((
        lut,
        path.display().to_string(),
        sha256_hex(text.as_bytes()),
    )))
}

/// Exports the phase masks of `source` (a checkpoint, or a run folder holding
/// `checkpoint.safetensors`) into the new folder `out` as `opts` says, atomically; returns the
/// manifest written to `out/export.json`.
pub fn export(source: &Path, out: &Path, opts: &ExportOptions) -> Result<Manifest> {
    opts.check()?;
    let file = checkpoint_file(source);
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let ck = Checkpoint::from_bytes(&bytes, &file)?;
    let net = &ck.network;
    let slms = phase_slms(net, "export")?;
    let plan = net.field("export")?;
    let cfg = net.config();
    let lut = match &opts.slm {
        Some(s) => load_lut(&s.lut, net)?,
        None => None,
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut entries = Vec::new();
    let inverse = inverse_lut(lut.as_ref(), opts)?;
    let hmap = height_map(opts, cfg)?;
    for (j, &(i, element)) in slms.iter().enumerate() {
        let spec = &plan.params[i];
        let (sx, sy, k) = (spec.sx, spec.sy, spec.k);
        let dx = plan.places.slms[i].1;
        let phases: Vec<f64> = ck.state.params[i].iter().map(|&p| p as f64).collect();
        let stem = format!("slm{}", j + 1);
        let mask = Mask {
            phases: &phases,
            sx,
            sy,
            k,
            dx,
            stem: &stem,
            element,
        };
        let bitmap = match &opts.slm {
            None => None,
            Some(s) => Some(slm_bitmap(
                s,
                lut.as_ref(),
                inverse.as_ref(),
                &mask,
                &mut files,
            )?),
        };
        let height = match (&opts.height, &hmap) {
            (Some(h), Some(m)) => Some(height_files(h, m, &mask, &mut files)?),
            _ => None,
        };
        entries.push(manifest::SlmEntry {
            element,
            name: net.element_name(element).unwrap_or("element").to_string(),
            size: [sx, sy],
            macro_pixel: k,
            pitch: k as f64 * dx,
            bitmap,
            height,
        });
    }
    let m = Manifest {
        format: manifest::FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        source: manifest::Source {
            checkpoint: source.display().to_string(),
            sha256: sha256_hex(&bytes),
            config_name: cfg.name.clone(),
        },
        wavelength: cfg.optics.wavelength,
        grid_pitch: cfg.optics.pitch,
        settings: manifest::Settings {
            slm: opts.slm.as_ref().map(|s| manifest::SlmSettings {
                bits: s.bits,
                lut: match &lut {
                    Some((_, p, _)) => p.clone(),
                    None => "linear".into(),
                },
                panel: s.panel,
                offset: s.offset,
                fill: s.fill,
                replicate: s.replicate,
            }),
            height: opts
                .height
                .as_ref()
                .zip(hmap)
                .map(|(h, m)| manifest::HeightSettings {
                    index: h.index,
                    wavelength: m.wavelength,
                    step: h.step,
                    base: h.base,
                    stl_units: "mm".into(),
                }),
        },
        lut: lut.as_ref().map(|(t, _, sha)| manifest::LutTable {
            level: t.level.clone(),
            phase: t.phase.clone(),
            amplitude: t.amplitude.clone(),
            sha256: sha.clone(),
        }),
        slms: entries,
    };
    let json = serde_json::to_string_pretty(&m)
        .map_err(|e| Error::config("export", format!("cannot write the manifest: {e}")))?;
    files.push((manifest::FILE.into(), json.into_bytes()));
    crate::io::atomic_write_dir(out, &files, "--out")?;
    Ok(m)
}

/// A phase mask being exported: its phases (radians, row-major), its size in SLM pixels, its
/// macro-pixel and grid pitch, its file stem and its element's index.
struct Mask<'a> {
    phases: &'a [f64],
    sx: usize,
    sy: usize,
    k: usize,
    dx: f64,
    stem: &'a str,
    element: usize,
}

/// The inverse of the lookup table, for the panel's bit depth (refused if the table's levels
/// run outside it); `None` for a linear mapping.
fn inverse_lut(
    lut: Option<&(Lut, String, String)>,
    opts: &ExportOptions,
) -> Result<Option<slm::InverseLut>> {
    Ok(match &lut {
        Some((t, _, _)) => {
            let bits = opts.slm.as_ref().map_or(8, |s| s.bits);
            let top = ((1u64 << bits) - 1) as f64;
            if t.level[0] < 0.0 || t.level[t.level.len() - 1] > top {
                return Err(Error::config(
                    "--lut",
                    format!(
                        "the table's levels run from {} to {}, outside the {bits}-bit panel's 0 to {top}: give the matching --slm-bits",
                        t.level[0],
                        t.level[t.level.len() - 1]
                    ),
                ));
            }
            Some(
                slm::InverseLut::new(t).ok_or_else(|| {
                    Error::config("--lut", "the table covers no whole drive level")
                })?,
            )
        }
        None => None,
    })
}

/// The height map of `--height` (the wavelength defaulting to the network's), with its step
/// checked against a full turn's height.
fn height_map(opts: &ExportOptions, cfg: &crate::model::Config) -> Result<Option<HeightMap>> {
    let hmap = opts.height.as_ref().map(|h| HeightMap {
        index: h.index,
        wavelength: h.wavelength.unwrap_or(cfg.optics.wavelength),
        step: h.step,
    });
    if let (Some(m), Some(s)) = (&hmap, hmap.and_then(|m| m.step)) {
        let n = m.turn() / s;
        if n > 65_535.0 || s >= m.turn() {
            return Err(Error::config(
                "--step",
                format!(
                    "{s} m against a full-turn height of {:.4e} m ({n:.1} steps): give a step between 1/65535 of it and less than it",
                    m.turn()
                ),
            ));
        }
    }
    Ok(hmap)
}

/// One SLM bitmap (levels through the lookup table's inverse or the linear mapping, placed on
/// the panel); its PNG goes into `files`.
fn slm_bitmap(
    s: &SlmOptions,
    lut: Option<&(Lut, String, String)>,
    inverse: Option<&slm::InverseLut>,
    mask: &Mask,
    files: &mut Vec<(String, Vec<u8>)>,
) -> Result<manifest::Bitmap> {
    let (phases, sx, sy, stem) = (mask.phases, mask.sx, mask.sy, mask.stem);
    let levels: Vec<u32> = match &inverse {
        Some(inv) => phases.iter().map(|&p| inv.level(p)).collect(),
        None => phases
            .iter()
            .map(|&p| slm::linear_level(p, s.bits))
            .collect(),
    };
    let shown = |l: u32| match &lut {
        Some((t, _, _)) => slm::lut_at(t, l as f64).0,
        None => slm::linear_phase(l, s.bits),
    };
    let max_err = phases
        .iter()
        .zip(&levels)
        .map(|(&p, &l)| slm::circle_distance(p, shown(l)))
        .fold(0.0, f64::max);
    let r = s.replicate;
    let (mw, mh) = (sx * r, sy * r);
    let [pw, ph] = s.panel.unwrap_or([mw, mh]);
    if mw > pw || mh > ph {
        return Err(Error::config(
            "--panel",
            format!("the {pw}x{ph} panel cannot hold {stem}'s {mw}x{mh} pixels ({sx}x{sy} SLM pixels × {r}): give a larger panel or a smaller --replicate"),
        ));
    }
    let [ox, oy] = s.offset.unwrap_or([(pw - mw) / 2, (ph - mh) / 2]);
    if ox + mw > pw || oy + mh > ph {
        return Err(Error::config(
            "--offset",
            format!("{ox},{oy} puts {stem}'s {mw}x{mh} pixels past the {pw}x{ph} panel's edge: give an offset of at most {},{}", pw - mw, ph - mh),
        ));
    }
    let mut panel = vec![s.fill; pw * ph];
    for y in 0..mh {
        for x in 0..mw {
            panel[(oy + y) * pw + ox + x] = levels[(y / r) * sx + x / r];
        }
    }
    let png = png_grey(&panel, pw, ph, s.bits)?;
    let name = format!("{stem}.png");
    let fr = FileRef::of(&name, &png);
    files.push((name, png));
    Ok(manifest::Bitmap {
        png: fr,
        bits: s.bits,
        panel: [pw, ph],
        offset: [ox, oy],
        replicate: r,
        fill: s.fill,
        mapping: if lut.is_some() { "lut" } else { "linear" }.into(),
        max_phase_error: max_err,
    })
}

/// One mask's height files (16-bit PNG, `.npy` in metres, STL in millimetres) into `files`.
fn height_files(
    h: &HeightOptions,
    m: &HeightMap,
    mask: &Mask,
    files: &mut Vec<(String, Vec<u8>)>,
) -> Result<manifest::Height> {
    let (phases, sx, sy, stem) = (mask.phases, mask.sx, mask.sy, mask.stem);
    let (k, dx, element) = (mask.k, mask.dx, mask.element);
    let hs: Vec<f64> = phases.iter().map(|&p| m.height(p)).collect();
    let max_err = phases
        .iter()
        .zip(&hs)
        .map(|(&p, &z)| slm::circle_distance(p, m.phase(z)))
        .fold(0.0, f64::max);
    let (scale, values): (f64, Vec<u32>) = match m.step {
        Some(st) => (
            st,
            phases.iter().map(|&p| m.steps(p).unwrap_or(0)).collect(),
        ),
        None => {
            let sc = m.turn() / 65_536.0;
            (
                sc,
                hs.iter()
                    .map(|&z| ((z / sc).round() as u32) % 65_536)
                    .collect(),
            )
        }
    };
    let png = png_grey(&values, sx, sy, 16)?;
    let npy = npy::encode_f64(&hs, sy, sx);
    let pitch = k as f64 * dx;
    let tris = stl::mesh(&hs, sy, sx, pitch, h.base, 1e3);
    let stl_bytes = stl::encode(&tris, &format!("wavetrain {stem} elements[{element}] mm"));
    let (pn, nn, sn) = (
        format!("{stem}-height.png"),
        format!("{stem}-height.npy"),
        format!("{stem}.stl"),
    );
    let entry = manifest::Height {
        png: FileRef::of(&pn, &png),
        png_scale: scale,
        npy: FileRef::of(&nn, &npy),
        stl: FileRef::of(&sn, &stl_bytes),
        stl_triangles: tris.len(),
        turn_height: m.turn(),
        max_phase_error: max_err,
    };
    files.push((pn, png));
    files.push((nn, npy));
    files.push((sn, stl_bytes));
    Ok(entry)
}

/// Which files of an export the phases are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// The SLM bitmaps (levels through the manifest's mapping).
    Slm,
    /// The height maps (`.npy`, metres, through the manifest's index and wavelength).
    Height,
}

impl std::str::FromStr for MaskKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "slm" => Ok(MaskKind::Slm),
            "height" => Ok(MaskKind::Height),
            _ => Err(format!("unknown mask kind '{s}': use slm or height")),
        }
    }
}

/// The phases read back from an exported folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Masks {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Which files the phases came from.
    pub kind: MaskKind,
    /// Per exported SLM (manifest order): its element and its phases `[sy][sx]` in `[0, 2π)`.
    pub phases: Vec<(usize, Vec<f64>)>,
}

/// Reads the phases back from the exported folder `dir`: from the SLM bitmaps (the default when
/// there are some) or the height maps (`kind`). Every file the manifest lists is checked
/// against its SHA-256 first; a mismatch, a file name that leaves the folder, a bitmap whose
/// size or replicated blocks do not match the manifest are refused ([`Error::Data`]).
pub fn read_masks(dir: &Path, kind: Option<MaskKind>) -> Result<Masks> {
    let m = Manifest::read(dir)?;
    let mpath = dir.join(manifest::FILE);
    let bad = |path: &Path, msg: String| Error::Data {
        path: path.to_path_buf(),
        message: msg,
    };
    // Every file first: a changed file is refused even when it is not the one read back.
    let mut contents = std::collections::HashMap::new();
    for e in &m.slms {
        let refs = e
            .bitmap
            .iter()
            .map(|b| &b.png)
            .chain(e.height.iter().flat_map(|h| [&h.png, &h.npy, &h.stl]));
        for r in refs {
            contents.insert(r.file.clone(), r.read(dir, &mpath)?);
        }
    }
    let kind = match kind {
        Some(k) => k,
        None if m.slms.iter().all(|e| e.bitmap.is_some()) => MaskKind::Slm,
        None => MaskKind::Height,
    };
    let lut = m.lut.as_ref().map(|t| Lut {
        level: t.level.clone(),
        phase: t.phase.clone(),
        amplitude: t.amplitude.clone(),
    });
    if let Some(t) = &lut {
        let ok = t.level.len() >= 2
            && t.level.len() == t.phase.len()
            && t.level.len() == t.amplitude.len()
            && t.level.windows(2).all(|w| w[0] < w[1]);
        if !ok {
            return Err(bad(&mpath, "its lookup table is malformed (levels must increase, one phase and amplitude per level)".into()));
        }
    }
    let mut phases = Vec::new();
    for e in &m.slms {
        let [sx, sy] = e.size;
        let p = match kind {
            MaskKind::Slm => {
                let b = e.bitmap.as_ref().ok_or_else(|| {
                    bad(
                        &mpath,
                        format!(
                            "{} has no SLM bitmap: read the height maps (--masks-from height)",
                            e.name
                        ),
                    )
                })?;
                let path = dir.join(&b.png.file);
                let (v, w, h) = read_png_grey(&contents[&b.png.file], &path)?;
                let r = b.replicate.max(1);
                let [ox, oy] = b.offset;
                if [w, h] != b.panel || ox + sx * r > w || oy + sy * r > h {
                    return Err(bad(&path, format!("is {w}x{h} with the mask at {ox},{oy}; the manifest says a {}x{} panel holding {sx}x{sy} pixels × {r}", b.panel[0], b.panel[1])));
                }
                let mut out = Vec::with_capacity(sx * sy);
                for y in 0..sy {
                    for x in 0..sx {
                        let at = |dy: usize, dx: usize| v[(oy + y * r + dy) * w + ox + x * r + dx];
                        let l = at(0, 0);
                        if (0..r).any(|dy| (0..r).any(|dx| at(dy, dx) != l)) {
                            return Err(bad(
                                &path,
                                format!(
                                    "SLM pixel ({x}, {y}) is not one level over its {r}x{r} block"
                                ),
                            ));
                        }
                        if l >= 1 << b.bits {
                            return Err(bad(
                                &path,
                                format!(
                                    "level {l} at SLM pixel ({x}, {y}) is beyond {} bits",
                                    b.bits
                                ),
                            ));
                        }
                        out.push(match (&lut, b.mapping.as_str()) {
                            (Some(t), "lut") => slm::lut_at(t, l as f64).0,
                            (_, "linear") => slm::linear_phase(l, b.bits),
                            (_, other) => {
                                return Err(bad(
                                    &mpath,
                                    format!(
                                        "mapping {other:?}: expected linear, or lut with a table"
                                    ),
                                ))
                            }
                        });
                    }
                }
                out
            }
            MaskKind::Height => {
                let h = e.height.as_ref().ok_or_else(|| {
                    bad(
                        &mpath,
                        format!(
                            "{} has no height map: read the SLM bitmaps (--masks-from slm)",
                            e.name
                        ),
                    )
                })?;
                let s =
                    m.settings.height.as_ref().ok_or_else(|| {
                        bad(&mpath, "has height maps but no height settings".into())
                    })?;
                let path = dir.join(&h.npy.file);
                let a = npy::decode(&contents[&h.npy.file], &path)?;
                if (a.rows, a.cols) != (sy, sx) {
                    return Err(bad(
                        &path,
                        format!(
                            "holds a ({}, {}) array; the manifest says ({sy}, {sx})",
                            a.rows, a.cols
                        ),
                    ));
                }
                let map = HeightMap {
                    index: s.index,
                    wavelength: s.wavelength,
                    step: s.step,
                };
                a.data.iter().map(|&z| map.phase(z)).collect()
            }
        };
        phases.push((e.element, p));
    }
    Ok(Masks {
        dir: dir.to_path_buf(),
        manifest: m,
        kind,
        phases,
    })
}

/// The checkpoint at `checkpoint` with the phases of `masks` in place of its trained ones: the
/// checkpoint (as loaded), and the network and state that run the exported masks.
///
/// The checkpoint must be the one the masks were exported from (its SHA-256 is checked,
/// [`Error::Checkpoint`] otherwise). The exported levels or heights already went through the
/// device's response (bit depth, lookup table), so the network's own SLM response
/// (`hardware.phase_range`, `phase_bits`, `phase_lut`) is cleared; every other imperfection
/// (shifts, distances, fringing, fill factor, absorbers, noise) stays.
pub fn with_masks(checkpoint: &Path, masks: &Masks) -> Result<(Checkpoint, Network, State)> {
    let file = checkpoint_file(checkpoint);
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let sha = sha256_hex(&bytes);
    if !sha.eq_ignore_ascii_case(&masks.manifest.source.sha256) {
        return Err(Error::Checkpoint {
            path: file,
            message: format!(
                "its SHA-256 is {sha}, but the masks in {} were exported from a checkpoint with SHA-256 {} ({}): give the checkpoint they came from",
                masks.dir.display(),
                masks.manifest.source.sha256,
                masks.manifest.source.checkpoint
            ),
        });
    }
    let ck = Checkpoint::from_bytes(&bytes, &file)?;
    let slms = phase_slms(&ck.network, "reading exported masks")?;
    let elements: Vec<usize> = slms.iter().map(|s| s.1).collect();
    let got: Vec<usize> = masks.phases.iter().map(|p| p.0).collect();
    if elements != got {
        return Err(Error::Data {
            path: masks.dir.join(manifest::FILE),
            message: format!("lists the SLMs of elements {got:?}; the checkpoint's network has phase SLMs at {elements:?}"),
        });
    }
    let mut cfg = ck.network.config().clone();
    cfg.hardware.phase_range = None;
    cfg.hardware.phase_bits = None;
    cfg.hardware.phase_lut = None;
    let net = cfg.resolve()?;
    let mut state = ck.state.clone();
    for ((i, _), (_, p)) in slms.iter().zip(&masks.phases) {
        if p.len() != state.params[*i].len() {
            return Err(Error::Data {
                path: masks.dir.join(manifest::FILE),
                message: format!(
                    "holds {} phases for SLM {i}, whose network has {}",
                    p.len(),
                    state.params[*i].len()
                ),
            });
        }
        state.params[*i] = p.iter().map(|&v| v as f32).collect();
    }
    net.check_state(&state)?;
    Ok((ck, net, state))
}

/// Test accuracies of a checkpoint's trained masks and of its exported ones.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MaskComparison {
    /// The trained masks on the run's own system.
    pub accuracy: f64,
    /// Their mean test loss.
    pub loss: f64,
    /// The trained masks on the ideal model.
    pub model_accuracy: f64,
    /// The trained masks on the imperfect system.
    pub hardware_accuracy: f64,
    /// The exported masks on the run's own system.
    pub masks_accuracy: f64,
    /// Their mean test loss.
    pub masks_loss: f64,
    /// The exported masks on the ideal model.
    pub masks_model_accuracy: f64,
    /// The exported masks on the imperfect system.
    pub masks_hardware_accuracy: f64,
}

/// [`MaskComparison`] on `test`, with the CPU engine: `ck` as loaded, `net` and `state` from
/// [`with_masks`].
pub fn compare(
    ck: &Checkpoint,
    net: &Network,
    state: &State,
    test: &crate::data::Split,
) -> Result<MaskComparison> {
    let run = |net: &Network, state: &State| -> Result<(f64, f64, f64, f64)> {
        let mut b = crate::cpu::CpuBackend::new(net, state)?;
        let e = crate::train::evaluate(&mut b, net.config(), test, None)?;
        let (m, h) = crate::train::system_accuracies(net, &mut b, test, None, e.accuracy)?;
        Ok((e.accuracy, e.loss, m, h))
    };
    let (accuracy, loss, model_accuracy, hardware_accuracy) = run(&ck.network, &ck.state)?;
    let (masks_accuracy, masks_loss, masks_model_accuracy, masks_hardware_accuracy) =
        run(net, state)?;
    Ok(MaskComparison {
        accuracy,
        loss,
        model_accuracy,
        hardware_accuracy,
        masks_accuracy,
        masks_loss,
        masks_model_accuracy,
        masks_hardware_accuracy,
    })
}
