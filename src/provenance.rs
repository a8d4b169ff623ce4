//! What produced a run, written into its folder as `provenance.json`: the program version and
//! git commit, the full command line, when and where it ran (host, CPU, threads, backend), and
//! the data files read with their sizes and SHA-256. A resumed run appends its own session and
//! must read the same data.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The file name inside a run folder.
pub const FILE: &str = "provenance.json";

/// One data file read by the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataFile {
    /// The file's name inside the data folder.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// The data a run trains and tests on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataRecord {
    /// `"files"` (IDX files of `dir`), `"bundled"` (the bundled MNIST subset, also in `dir`), or
    /// `"generated"` (a 2-D task drawn from the config's seed; no files).
    pub source: String,
    /// The data folder, absolute.
    pub dir: Option<String>,
    /// Every IDX file of that folder (names with `idx` and `ubyte`), sorted by name.
    pub files: Vec<DataFile>,
    /// The dataset's name when it was given by name (`--data fashion-mnist`); the folder it
    /// resolved to is `dir`. Absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// One process that trained the run (the first, then each resume).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// `wavetrain 0.1.0`.
    pub program: String,
    /// The git commit of the build (`-dirty` when the tree had changes; `unknown` without git).
    pub git_commit: String,
    /// The command line, as given.
    pub command: Vec<String>,
    /// Start time, UTC (`YYYYMMDD-HHMMSS`).
    pub started: String,
    /// Host name.
    pub host: String,
    /// CPU model and the CPU engine's threads.
    pub cpu: String,
    /// The backend that ran (`cpu (2 threads)`, or the GPU adapter).
    pub backend: String,
}

/// The record of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// The data every session read.
    pub data: DataRecord,
    /// The sessions, first to last.
    pub sessions: Vec<Session>,
}

impl Session {
    /// This process, on `backend`.
    pub fn now(backend: &str) -> Session {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Session {
            program: format!("wavetrain {}", env!("CARGO_PKG_VERSION")),
            git_commit: env!("WAVETRAIN_GIT_COMMIT").to_string(),
            command: std::env::args().collect(),
            started: crate::rundir::utc_stamp(std::time::SystemTime::now()),
            host,
            cpu: format!("{cpu_model}, {} threads", rayon::current_num_threads()),
            backend: backend.to_string(),
        }
    }
}

/// SHA-256 of a file, hex, and its size.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl DataRecord {
    /// The record of the data folder `dir` (`bundled` says whether it is the bundled subset).
    pub fn of_dir(dir: &Path, bundled: bool) -> Result<DataRecord> {
        let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .map(|n| n.to_string_lossy())
                        .is_some_and(|n| n.contains("idx") && n.contains("ubyte"))
            })
            .collect();
        names.sort();
        let files = names
            .iter()
            .map(|p| {
                let (sha256, bytes) = sha256_file(p)?;
                Ok(DataFile {
                    name: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    bytes,
                    sha256,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DataRecord {
            source: if bundled { "bundled" } else { "files" }.into(),
            dir: Some(abs.display().to_string()),
            files,
            dataset: None,
        })
    }

    /// This record with the dataset name it was given by (`None`: a folder).
    pub fn named(mut self, dataset: Option<String>) -> DataRecord {
        self.dataset = dataset;
        self
    }

    /// A generated task: no files.
    pub fn generated() -> DataRecord {
        DataRecord {
            source: "generated".into(),
            dir: None,
            files: Vec::new(),
            dataset: None,
        }
    }
}

impl Provenance {
    /// Reads `provenance.json` of run folder `dir` (`None` when the run has none: an older one).
    pub fn load(dir: &Path) -> Result<Option<Provenance>> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Checkpoint {
                    path,
                    message: format!(
                        "unreadable provenance record ({e}): restore it or start a new run"
                    ),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes `provenance.json` into run folder `dir`, atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        crate::io::atomic_write(&dir.join(FILE), text.as_bytes())
    }

    /// Checks that `now` is the data this run was trained on, naming what changed. The folder
    /// and the files' checksums decide; whether it was named by dataset or by folder does not.
    pub fn check_same_data(&self, now: &DataRecord) -> Result<()> {
        let (a, b) = (&self.data, now);
        if (&a.source, &a.dir, &a.files) == (&b.source, &b.dir, &b.files) {
            return Ok(());
        }
        let what = if self.data.dir != now.dir {
            format!(
                "it was trained on {} and this command reads {}",
                self.data.dir.as_deref().unwrap_or(&self.data.source),
                now.dir.as_deref().unwrap_or(&now.source)
            )
        } else {
            "the data files changed since it started (their SHA-256 differ)".to_string()
        };
        Err(Error::config(
            "--data",
            format!("this run cannot continue on other data: {what}; resume with the run's own data, or start a new run"),
        ))
    }
}
