//! A run folder owned by one process: created atomically, locked for the run's life with an OS
//! file lock (`run.lock`, which holds the owner's PID), and refused to a second writer with a
//! message naming the holder. Default folder names are readable: `NAME-YYYYMMDD-HHMMSS-XXXX`
//! (UTC date and time, four hex digits from the PID and a counter).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Files a run writes before its first checkpoint: a folder holding only these (and no live
/// lock) is a run that never got going, and may be started again.
const STARTUP_FILES: &[&str] = &[LOCK_FILE, "config.toml", "provenance.json"];

/// An exclusively owned run folder; the lock is released when this is dropped.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    created: bool,
    _lock: File,
}

impl RunDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process created the folder (so it may remove it again on early failure).
    pub fn created(&self) -> bool {
        self.created
    }

    /// A new folder `parent/NAME-YYYYMMDD-HHMMSS-XXXX` for a run called `name` (a validated
    /// config name), created atomically: a folder of that name that exists already is never
    /// reused.
    pub fn create_default(parent: &Path, name: &str) -> Result<RunDir> {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let stamp = utc_stamp(std::time::SystemTime::now());
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..64 {
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let suffix =
                (std::process::id().wrapping_mul(2_654_435_761) ^ n.wrapping_mul(40_503)) & 0xffff;
            let path = parent.join(format!("{name}-{stamp}-{suffix:04x}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Self::lock(path, true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::config(
            "--out",
            format!(
                "could not make a new run folder in {}: give one with --out",
                parent.display()
            ),
        ))
    }

    /// The folder `path` for a new run: created if it does not exist; an existing one must be
    /// empty, or hold only what a run writes before its first checkpoint (a run that was killed
    /// before it saved anything), and no other process may hold it.
    pub fn create_at(path: &Path) -> Result<RunDir> {
        let created = match std::fs::create_dir(path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
                true
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        if !path.is_dir() {
            return Err(Error::config(
                "--out",
                format!(
                    "{} exists and is not a folder: choose a new folder",
                    path.display()
                ),
            ));
        }
        let dir = Self::lock(path.to_path_buf(), created)?;
        if !created {
            let others = foreign_entries(path)?;
            if !others.is_empty() {
                return Err(Error::config(
                    "--out",
                    format!(
                        "{} already exists and is not empty ({}): choose a new folder, or continue it with --resume",
                        path.display(),
                        others.join(", ")
                    ),
                ));
            }
        }
        Ok(dir)
    }

    /// The existing run folder `path`, to continue a run in it.
    pub fn open_existing(path: &Path) -> Result<RunDir> {
        if !path.is_dir() {
            return Err(Error::config(
                "--resume",
                format!("{} is not a run folder", path.display()),
            ));
        }
        Self::lock(path.to_path_buf(), false)
    }

    /// Takes the folder's lock, or says who holds it.
    fn lock(path: PathBuf, created: bool) -> Result<RunDir> {
        let lock_path = path.join(LOCK_FILE);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = f.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {holder}")
                };
                return Err(Error::config(
                    "run folder",
                    format!(
                        "{} is in use by {who} (its {LOCK_FILE} is locked): wait for that run to finish or stop it, or choose another folder",
                        path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        // The PID of the holder, for the message a second writer gets.
        let write = (|| -> std::io::Result<()> {
            f.set_len(0)?;
            f.rewind()?;
            write!(f, "{}", std::process::id())?;
            f.flush()
        })();
        write.map_err(|e| Error::io(&lock_path, e))?;
        Ok(RunDir {
            path,
            created,
            _lock: f,
        })
    }

    /// Removes the folder if this process created it and it holds no checkpoint yet (a fresh
    /// run that failed before saving anything), so that the same `--out` can be used again.
    pub fn discard_if_empty(&self) {
        if self.created && !self.path.join("checkpoint.safetensors").exists() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Entries of `dir` other than those a run writes before its first checkpoint.
fn foreign_entries(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let name = e
            .map_err(|e| Error::io(dir, e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        let temp = name.starts_with('.') && name.ends_with(".tmp");
        if !STARTUP_FILES.contains(&name.as_str()) && !temp {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_083_200 + 3_723);
        assert_eq!(utc_stamp(t), "20261201-010203");
    }

    #[test]
    fn second_owner_is_refused_with_the_pid() {
        let d = tempfile::tempdir().unwrap();
        let a = RunDir::create_at(&d.path().join("run")).unwrap();
        assert!(a.created());
        let e = RunDir::open_existing(a.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        drop(a);
        RunDir::open_existing(&d.path().join("run")).unwrap();
    }

    #[test]
    fn a_folder_of_other_files_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("notes.txt"), "mine").unwrap();
        let e = RunDir::create_at(d.path()).unwrap_err().to_string();
        assert!(e.contains("notes.txt") && e.contains("not empty"), "{e}");
        // A run that never saved (config.toml and its lock only) may be started again.
        let r = d.path().join("r");
        std::fs::create_dir(&r).unwrap();
        std::fs::write(r.join("config.toml"), "x").unwrap();
        std::fs::write(r.join(LOCK_FILE), "1").unwrap();
        RunDir::create_at(&r).unwrap();
    }
}
