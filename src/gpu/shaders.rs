//! The WGSL sources, embedded at build time: each op's file with `shaders/complex.wgsl` and its
//! load-time constants prepended.

/// `shaders/complex.wgsl`: complex helpers shared by every other shader.
pub const COMPLEX: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/complex.wgsl"));

/// Helper files shared by several op shaders (file `shaders/{name}.wgsl`), prepended after the
/// complex helpers to the shaders that use them ([`USES`]).
pub const SHARED: &[(&str, &str)] = &[
    (
        "saturable",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/saturable.wgsl"
        )),
    ),
    (
        "rng",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/rng.wgsl")),
    ),
];

/// Which op shader uses which shared helper file.
pub const USES: &[(&str, &str)] = &[
    ("absorber", "saturable"),
    ("dense", "saturable"),
    ("rng_draw", "rng"),
    ("detect_noise", "rng"),
    ("dense_noise", "rng"),
    ("readout", "rng"),
];

/// Every op shader by name (file `shaders/{name}.wgsl`), without the complex helpers.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "fft",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/fft.wgsl")),
    ),
    (
        "propagate",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/propagate.wgsl"
        )),
    ),
    (
        "modulate",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/modulate.wgsl"
        )),
    ),
    (
        "absorber",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/absorber.wgsl"
        )),
    ),
    (
        "detect",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/detect.wgsl")),
    ),
    (
        "lens",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/lens.wgsl")),
    ),
    (
        "matmul",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/matmul.wgsl")),
    ),
    (
        "optimizer",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/optimizer.wgsl"
        )),
    ),
    (
        "copy",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/copy.wgsl")),
    ),
    (
        "loss",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/loss.wgsl")),
    ),
    (
        "dense",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/dense.wgsl")),
    ),
    (
        "slm",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/slm.wgsl")),
    ),
    (
        "rng_draw",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/rng_draw.wgsl"
        )),
    ),
    (
        "detect_noise",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/detect_noise.wgsl"
        )),
    ),
    (
        "dense_noise",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/dense_noise.wgsl"
        )),
    ),
    (
        "readout",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/readout.wgsl")),
    ),
];

/// Load-time constants each shader needs, with the values used when none are given (the FFT's
/// workgroup tile, in complex samples).
pub const DEFAULT_CONSTS: &[(&str, &str, u32)] = &[("fft", "TILE", 1024)];

/// The full source of shader `name`: its load-time constants (`consts`, defaults for the rest),
/// then `complex.wgsl`, then the shared helpers it uses ([`USES`]), then the shader's file. `None` for an unknown name.
pub fn source(name: &str, consts: &[(&str, u32)]) -> Option<String> {
    let body = SHADERS.iter().find(|(n, _)| *n == name)?.1;
    let mut out = String::new();
    for &(shader, key, default) in DEFAULT_CONSTS {
        if shader == name {
            let v = consts
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(default, |&(_, v)| v);
            out.push_str(&format!("const {key}: u32 = {v}u;\n"));
        }
    }
    out.push_str(COMPLEX);
    out.push('\n');
    for &(shader, lib) in USES {
        if shader == name {
            if let Some((_, text)) = SHARED.iter().find(|(n, _)| *n == lib) {
                out.push_str(text);
                out.push('\n');
            }
        }
    }
    out.push_str(body);
    Some(out)
}
