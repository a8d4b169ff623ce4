//! `wavetrain data fetch`: downloads a dataset's files from its address (or a mirror), resumable,
//! checksummed and atomic.
//!
//! Each file is downloaded into `NAME.gz.part` beside its final name. A transfer that breaks off
//! leaves the part file; the next attempt (in the same run, up to `retries` times, or a later
//! run of the same command) asks the server for the rest with an HTTP `Range: bytes=N-` request
//! and appends what a `206 Partial Content` answer brings (a server that answers `200` sends the
//! whole file again, which replaces the part). A finished part file is checked against the
//! dataset's SHA-256 and size ([`super::catalog`]), flushed to disk and renamed to its final name:
//! a reader never sees a half-written or unchecked file under that name. A part file whose
//! checksum differs is deleted (resuming it could never succeed) and the error names the file.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::catalog::{self, Dataset};
use crate::error::{Error, Result};

/// How to fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The folder the files go into (created if absent).
    pub dir: PathBuf,
    /// The base address to download from instead of the dataset's own (`{mirror}/{file}.gz`).
    pub mirror: Option<String>,
    /// Check each file against the dataset's SHA-256 (off: `--no-verify`, for private sets
    /// served under a known name).
    pub verify: bool,
    /// How many times a broken transfer is resumed within this run.
    pub retries: usize,
    /// Longest wait for the connection and for each read.
    pub timeout: Duration,
    /// Show a progress bar on stderr (hidden when stderr is not a terminal).
    pub progress: bool,
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was already in the folder (and checked, when verifying).
    Present,
    /// Downloaded: its size, and the byte it resumed from when a part file was continued.
    Downloaded {
        /// Size of the file.
        bytes: u64,
        /// The first byte asked for with `Range`, when the download resumed.
        resumed_from: Option<u64>,
    },
}

/// The address of file `name` under base `base`.
pub fn url_of(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

/// Downloads the four files of `ds` into `opts.dir`: see the module doc. Files already present
/// are kept (when verifying, they must match: a file that differs is refused, naming it, rather
/// than overwritten).
pub fn fetch(ds: &Dataset, opts: &FetchOptions) -> Result<Vec<(PathBuf, Outcome)>> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| Error::io(&opts.dir, e))?;
    let base = opts.mirror.as_deref().unwrap_or(ds.url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(opts.timeout))
        .timeout_per_read(Some(opts.timeout))
        .user_agent(format!("wavetrain/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut done = Vec::new();
    for f in &ds.files {
        let dest = opts.dir.join(f.gz_name());
        if catalog::file_in(&opts.dir, f).is_some() {
            if opts.verify {
                let (path, check) = catalog::check_file(&opts.dir, f)?;
                if !check.ok() {
                    let path = path.unwrap_or(dest);
                    return Err(Error::Data {
                        message: format!(
                            "is already in the folder but is not {}'s file ({check:?}); delete it and run the fetch again",
                            ds.name
                        ),
                        path,
                    });
                }
            }
            done.push((dest, Outcome::Present));
            continue;
        }
        let url = url_of(base, &f.gz_name());
        let expect = opts.verify.then_some(*f);
        let outcome = download(&agent, &url, &dest, expect, ds, opts)?;
        done.push((dest, outcome));
    }
    Ok(done)
}

/// `bytes=START-END/TOTAL` of a `Content-Range` header: `START`.
fn range_start(v: &str) -> Option<u64> {
    v.trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Why a transfer stopped before the end.
enum Broken {
    /// Worth another try from where the part file ends (network trouble).
    Retry(String),
    /// Not worth retrying (the server refuses the file; the disk fails).
    Fatal(Error),
}

/// One request for the rest of `part`; returns the byte it resumed from (`Some` for a `206`).
fn attempt(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    bar: &indicatif::ProgressBar,
) -> std::result::Result<Option<u64>, Broken> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        // Nothing past `have`: the part file is already whole; the checksum will judge it.
        Err(ureq::Error::StatusCode(416)) if have > 0 => return Ok(Some(have)),
        Err(ureq::Error::StatusCode(code)) => {
            return Err(Broken::Fatal(Error::Data {
                path: part.to_path_buf(),
                message: format!("the server answered HTTP {code} for {url}: check the address (--mirror, WAVETRAIN_DATA_MIRROR)"),
            }))
        }
        Err(e) => return Err(Broken::Retry(format!("could not reach {url} ({e})"))),
    };
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let partial = resp.status().as_u16() == 206;
    let start = if partial {
        header("content-range")
            .as_deref()
            .and_then(range_start)
            .unwrap_or(u64::MAX)
    } else {
        0
    };
    if partial && start != have {
        // A range other than the one asked for: start over rather than splice bytes wrongly.
        let _ = std::fs::remove_file(part);
        return Err(Broken::Retry(format!(
            "{url} answered with bytes from {start} when asked for {have}; starting again"
        )));
    }
    let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let io_err = |e: std::io::Error| Broken::Fatal(Error::io(part, e));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(partial)
        .truncate(!partial)
        .open(part)
        .map_err(io_err)?;
    if let Some(n) = length {
        bar.set_length(start + n);
    }
    bar.set_position(start);
    let mut body = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    let broke = loop {
        match body.read(&mut buf) {
            Ok(0) => break None,
            Ok(k) => {
                file.write_all(&buf[..k]).map_err(io_err)?;
                got += k as u64;
                bar.inc(k as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e.to_string()),
        }
    };
    // What arrived is kept (flushed) either way, so that the next attempt resumes after it.
    file.sync_all().map_err(io_err)?;
    let short = length.is_some_and(|n| got < n);
    match (broke, short) {
        (Some(e), _) => Err(Broken::Retry(format!(
            "the transfer of {url} broke off after {} bytes ({e})",
            start + got
        ))),
        (None, true) => Err(Broken::Retry(format!(
            "the connection to {url} closed after {} of {} bytes",
            start + got,
            start + length.unwrap_or(0)
        ))),
        (None, false) => Ok(partial.then_some(start)),
    }
}

/// Downloads `url` to `dest` through `dest.part`, resuming a part file left by an earlier
/// attempt; checks it against `expect` (size and SHA-256) before the rename.
fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    expect: Option<catalog::DataFile>,
    ds: &Dataset,
    opts: &FetchOptions,
) -> Result<Outcome> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let part = dest.with_file_name(format!("{name}.part"));
    let bar = if opts.progress {
        indicatif::ProgressBar::new(expect.map_or(0, |f| f.gz_bytes))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(name.clone());
    if let Some(f) = expect {
        // A part file longer than the file can only be wrong: start it again.
        if std::fs::metadata(&part).is_ok_and(|m| m.len() > f.gz_bytes) {
            let _ = std::fs::remove_file(&part);
        }
    }
    let mut resumed_from = None;
    let mut tries = 0;
    loop {
        let whole =
            expect.is_some_and(|f| std::fs::metadata(&part).is_ok_and(|m| m.len() == f.gz_bytes));
        if whole {
            break;
        }
        match attempt(agent, url, &part, &bar) {
            Ok(r) => {
                resumed_from = resumed_from.or(r);
                break;
            }
            Err(Broken::Fatal(e)) => {
                bar.abandon();
                return Err(e);
            }
            Err(Broken::Retry(why)) if tries < opts.retries => {
                tries += 1;
                let note = format!("{why}; resuming (try {tries} of {})", opts.retries);
                // A hidden bar (stderr not a terminal) prints nothing: say it plainly then.
                if bar.is_hidden() {
                    eprintln!("{note}");
                } else {
                    bar.println(note);
                }
                std::thread::sleep(Duration::from_millis(200 * tries as u64));
            }
            Err(Broken::Retry(why)) => {
                bar.abandon();
                let kept = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
                let resume = if kept > 0 {
                    format!(
                        " The {kept} bytes received are kept in {}: run the same command again to resume.",
                        part.display()
                    )
                } else {
                    String::new()
                };
                return Err(Error::Data {
                    path: dest.to_path_buf(),
                    message: format!(
                        "{why}.{resume} Without the internet: {}; or copy the files into {} by hand.",
                        ds.install,
                        opts.dir.display()
                    ),
                });
            }
        }
    }
    bar.finish_and_clear();
    let file = std::fs::File::open(&part).map_err(|e| Error::io(&part, e))?;
    let (sha, bytes) = catalog::sha256_reader(file).map_err(|e| Error::io(&part, e))?;
    if let Some(f) = expect {
        if sha != f.gz_sha256 && !same_data(&part, &f) {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Data {
                path: dest.to_path_buf(),
                message: format!(
                    "downloaded from {url} is not {}'s file: SHA-256 {sha} ({bytes} bytes), expected {} ({} bytes). The transfer was truncated or corrupted, or the server (or mirror) serves another file; the download was deleted. Run the fetch again, or pass --no-verify for a private set.",
                    ds.name, f.gz_sha256, f.gz_bytes
                ),
            });
        }
    }
    std::fs::rename(&part, dest).map_err(|e| Error::io(dest, e))?;
    if let Some(d) = dest.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = d.sync_all();
    }
    Ok(Outcome::Downloaded {
        bytes,
        resumed_from,
    })
}

/// True when the gzip file `path` decompresses to the published IDX bytes of `f` (a mirror that
/// recompressed the same data).
fn same_data(path: &Path, f: &catalog::DataFile) -> bool {
    let Some(want) = f.raw_sha256 else {
        return false;
    };
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let dec = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    catalog::sha256_reader(dec.take(f.raw_bytes + 1)).is_ok_and(|(s, _)| s == want)
}
