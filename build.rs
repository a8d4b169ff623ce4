//! Records the git commit the binary is built from (`WAVETRAIN_GIT_COMMIT`, with `-dirty` when
//! the work tree has changes), for the provenance of every run; `unknown` without git.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        _ => "unknown".into(),
    };
    println!("cargo:rustc-env=WAVETRAIN_GIT_COMMIT={commit}");
    // Watch only files that exist: cargo reruns a build script on every build while one of its
    // watched paths is missing. A worktree keeps HEAD and index in its own git dir but the
    // branch refs in the common one, where a ref may also be packed (a fresh clone's often are).
    let watch = |path: std::path::PathBuf| {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    };
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        let dir = std::path::PathBuf::from(dir);
        watch(dir.join("HEAD"));
        watch(dir.join("index"));
        let common = git(&["rev-parse", "--git-common-dir"])
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dir.clone());
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(common.join(&r));
        }
        watch(common.join("packed-refs"));
    }
    println!("cargo:rerun-if-changed=build.rs");
}
