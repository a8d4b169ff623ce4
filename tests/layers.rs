//! The layer rules of ARCHITECTURE.md, enforced: every module of `src/` imports only from its own
//! layer or the layers below it, the two backends never import each other, and every module has
//! a layer. Reads the sources as text; fails naming the file, the line and the rule it breaks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, bottom up (ARCHITECTURE.md).
const LAYERS: &[&[&str]] = &[
    &["lib", "error", "real", "rng", "grid", "io", "fft"],
    &["optics"],
    &["model"],
    &["network", "loss"],
    &["backend"],
    &["cpu", "gpu"],
    &["diagnose"],
    &[
        "train",
        "checkpoint",
        "rundir",
        "provenance",
        "data",
        "plot",
        "presets",
        "export",
        "capture",
        "calibrate",
    ],
    &["launch", "run", "sweep", "bench", "bin"],
];

/// Pairs of modules that must not import each other although their layers allow it.
const APART: &[(&str, &str)] = &[("cpu", "gpu"), ("gpu", "cpu")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a source file belongs to (`src/cpu/field.rs` → `cpu`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel
        .components()
        .next()
        .expect("non-empty path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules `line` names through `crate::` (code only: comments are skipped by the
/// caller). `use crate::{a, b::c}` names `a` and `b`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // `wavetrain::crate::` does not exist; `$crate::` in macros is not ours to check.
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every violation in the tree under `src`, as `file:line: message`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in &files {
        let from = module_of(src, file);
        let Some(from_layer) = layer_of(&from) else {
            out.push(format!(
                "{}: module '{from}' has no layer: add it to ARCHITECTURE.md and LAYERS",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // A trailing comment is not code either.
            let code = match code.find("//") {
                Some(i) => &code[..i],
                None => code,
            };
            for to in crate_refs(code) {
                // Items of the crate root (`crate::Result`, `crate::Grid`) are layer 1.
                let to_layer = layer_of(&to).unwrap_or(0);
                let at = format!("{}:{}", file.display(), n + 1);
                if to_layer > from_layer {
                    out.push(format!(
                        "{at}: '{from}' (layer {}) uses crate::{to} (layer {}): a module imports only from layers below it",
                        from_layer + 1,
                        to_layer + 1
                    ));
                }
                if APART.contains(&(from.as_str(), to.as_str())) {
                    out.push(format!(
                        "{at}: '{from}' uses crate::{to}: the backends never import each other"
                    ));
                }
            }
        }
    }
    out
}

/// `WAVETRAIN_LAYERS_SRC=DIR` checks another tree instead (e.g. an older commit's `src/`, to
/// see the rules fail on it).
#[test]
fn modules_import_only_from_layers_below() {
    let src = std::env::var_os("WAVETRAIN_LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let v = violations(&src);
    assert!(v.is_empty(), "layer rules broken:\n{}", v.join("\n"));
}

/// The checker itself: it must see today's kinds of back-import, in a scratch tree.
#[test]
fn the_checker_finds_back_imports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src");
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "gpu/field.rs",
        "use crate::cpu::{AdamConfig, CpuNetwork};\n",
    );
    write(
        "optics/propagation.rs",
        "    use crate::cpu::{Direction, Fft2};\n",
    );
    write("model/mod.rs", "use crate::cpu::Region;\n");
    write(
        "cpu/field.rs",
        "// crate::train in a comment is fine\nuse crate::{network, train::Backend};\n",
    );
    write("real.rs", "        crate::cpu::simd::exp_f32(v)\n");
    write(
        "network/field.rs",
        "use crate::model::Config; // crate::gpu here is a comment\n",
    );
    write("newthing.rs", "use crate::error::Result;\n");
    let v = violations(&src);
    let has = |s: &str| v.iter().any(|m| m.contains(s));
    assert!(
        has("gpu/field.rs:1: 'gpu' uses crate::cpu: the backends never import each other"),
        "{v:#?}"
    );
    assert!(
        has("optics/propagation.rs:1: 'optics' (layer 2) uses crate::cpu"),
        "{v:#?}"
    );
    assert!(
        has("model/mod.rs:1: 'model' (layer 3) uses crate::cpu"),
        "{v:#?}"
    );
    assert!(
        has("cpu/field.rs:2: 'cpu' (layer 6) uses crate::train"),
        "{v:#?}"
    );
    assert!(has("real.rs:1: 'real' (layer 1) uses crate::cpu"), "{v:#?}");
    assert!(has("module 'newthing' has no layer"), "{v:#?}");
    assert!(!v.iter().any(|m| m.contains("network/field.rs")), "{v:#?}");
    let by_file: BTreeMap<&str, usize> = v.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.split(':').next().unwrap_or("")).or_default() += 1;
        m
    });
    assert_eq!(by_file.len(), 6, "{by_file:?}");
}
