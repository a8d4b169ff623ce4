//! Files written so that a reader never sees half of one: temporary file, fsync, rename.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file beside it is written, flushed to disk and
/// renamed over `path`. On error the old content of `path` (if any) is untouched.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per process and per call, so concurrent writers of one file never share a temporary.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable where the platform allows it.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Writes a whole folder atomically: `files` (`(relative name, bytes)`, names with `/` make
/// subfolders) go into a temporary sibling folder, each fsynced, which is then renamed to
/// `out`. A reader sees either no `out` or all of it. `out` must not exist, or be an empty
/// folder (it is replaced); `flag` names the option that gave `out` in the error
/// ([`Error::Config`]) for an existing non-empty one. On error nothing is left behind.
pub fn atomic_write_dir(out: &Path, files: &[(String, Vec<u8>)], flag: &str) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::config(
                flag,
                format!(
                    "{} already exists and is not an empty folder: give a new folder, or remove it first",
                    out.display()
                ),
            ));
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = parent.join(format!(".{name}.{}.{n}.tmpdir", std::process::id()));
    let result = (|| -> std::result::Result<(), (std::path::PathBuf, std::io::Error)> {
        std::fs::create_dir(&tmp).map_err(|e| (tmp.clone(), e))?;
        for (rel, bytes) in files {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| (d.to_path_buf(), e))?;
            }
            let mut f = std::fs::File::create(&p).map_err(|e| (p.clone(), e))?;
            f.write_all(bytes).map_err(|e| (p.clone(), e))?;
            f.sync_all().map_err(|e| (p.clone(), e))?;
        }
        if out.exists() {
            // An empty folder: rename(2) replaces an empty directory, but not on every
            // platform; removing it first works everywhere.
            std::fs::remove_dir(out).map_err(|e| (out.to_path_buf(), e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| (out.to_path_buf(), e))?;
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err((path, e)) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
