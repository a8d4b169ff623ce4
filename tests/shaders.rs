//! Every WGSL shader (with `complex.wgsl` and its load-time constants prepended) parses and
//! validates with naga, and every uniform struct has the size of its `#[repr(C)]` Rust twin.
//! Needs no GPU.

use wavetrain::gpu::shaders::{source, SHADERS, SHARED, USES};
use wavetrain::gpu::uniforms::TWINS;

fn parse(name: &str, consts: &[(&str, u32)]) -> naga::Module {
    let src = source(name, consts).expect("known shader");
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&src)));
    module
}

#[test]
fn every_shader_parses_and_validates() {
    for (name, _) in SHADERS {
        let m = parse(name, &[]);
        assert!(
            m.entry_points
                .iter()
                .all(|e| e.stage == naga::ShaderStage::Compute),
            "{name}: only compute entry points"
        );
        assert!(!m.entry_points.is_empty(), "{name}: no entry point");
    }
}

#[test]
fn fft_validates_at_every_tile_size() {
    for tile in [1024u32, 2048, 4096, 8192] {
        parse("fft", &[("TILE", tile)]);
    }
}

#[test]
fn every_file_in_shaders_is_embedded() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let stem = name
            .strip_suffix(".wgsl")
            .expect("only .wgsl files in shaders/");
        assert!(
            stem == "complex"
                || SHADERS.iter().any(|(n, _)| *n == stem)
                || SHARED.iter().any(|(n, _)| *n == stem),
            "{name} is not embedded in gpu::shaders::SHADERS or SHARED"
        );
    }
}

#[test]
fn uniform_structs_match_their_rust_twins() {
    for &(shader, name, rust_size) in TWINS {
        let m = parse(shader, &[]);
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(m.to_ctx()).unwrap();
        let (handle, _) = m
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{shader}.wgsl has no struct {name}"));
        let wgsl_size = layouter[handle].size as usize;
        assert_eq!(
            wgsl_size, rust_size,
            "{shader}.wgsl {name}: WGSL {wgsl_size} bytes, Rust {rust_size}"
        );
        assert_eq!(
            rust_size % 16,
            0,
            "{name}: uniform sizes are kept to multiples of 16 bytes"
        );
        // The WGSL struct names its twin.
        let file = SHADERS.iter().find(|(n, _)| *n == shader).unwrap().1;
        assert!(
            file.contains(&format!("Rust twin: wavetrain::gpu::uniforms::{name}.")),
            "{shader}.wgsl: struct {name} does not name its Rust twin"
        );
    }
    // Every struct in a shader's uniform binding has a twin.
    for (shader, _) in SHADERS {
        let m = parse(shader, &[]);
        for (_, var) in m.global_variables.iter() {
            if var.space == naga::AddressSpace::Uniform {
                let ty = m.types[var.ty].name.clone().unwrap_or_default();
                assert!(
                    TWINS.iter().any(|&(s, n, _)| s == *shader && n == ty),
                    "{shader}.wgsl: uniform struct {ty} has no Rust twin in gpu::uniforms::TWINS"
                );
            }
        }
    }
}

#[test]
fn shared_helpers_are_known_and_used() {
    for &(shader, lib) in USES {
        assert!(
            SHADERS.iter().any(|(n, _)| *n == shader),
            "USES names an unknown shader '{shader}'"
        );
        assert!(
            SHARED.iter().any(|(n, _)| *n == lib),
            "USES names an unknown helper file '{lib}'"
        );
        let src = source(shader, &[]).unwrap();
        let first_fn = SHARED
            .iter()
            .find(|(n, _)| *n == lib)
            .unwrap()
            .1
            .lines()
            .find(|l| l.starts_with("fn "))
            .unwrap();
        assert!(src.contains(first_fn), "{shader}.wgsl does not get {lib}");
    }
    for (lib, _) in SHARED {
        assert!(
            USES.iter().any(|(_, l)| l == lib),
            "{lib}.wgsl is shared but no shader uses it"
        );
    }
}
