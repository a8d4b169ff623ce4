//! `wavetrain data`: the datasets known by name (list), their download (fetch) and the check of a
//! folder's files against their published checksums (verify).

use std::path::PathBuf;

use clap::Subcommand;
use wavetrain::data::catalog::{self, Check, Dataset};
use wavetrain::data::fetch::{self, FetchOptions, Outcome};
use wavetrain::{Error, Result};

#[derive(clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// List the datasets known by name (`--data NAME`), where each is found on this machine and
    /// the SHA-256 of its files.
    List,
    /// Download a dataset's four files from its address (or --mirror), resumable and checked
    /// against their SHA-256; prints what to install where there is no internet.
    Fetch {
        /// The dataset (see `wavetrain data list`).
        name: String,
        /// The folder to put the files in; default $WAVETRAIN_DATA_DIR/NAME when that is set,
        /// else the user's cache (~/.cache/wavetrain/NAME), where `--data NAME` finds them.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Download from this base address instead of the dataset's own (the files are
        /// {URL}/train-images-idx3-ubyte.gz and so on); default $WAVETRAIN_DATA_MIRROR when set.
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        /// Keep files whose SHA-256 differs from the dataset's (a private set served under a
        /// known name).
        #[arg(long)]
        no_verify: bool,
        /// How many times a broken transfer is resumed (HTTP Range) before giving up; a later
        /// run of the same command resumes as well.
        #[arg(long, default_value_t = 3)]
        retries: usize,
        /// Seconds to wait for the connection and for each read.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// Check a dataset's files against their published SHA-256: a folder (which dataset it holds
    /// is recognised from its files, or given with --dataset) or a dataset name (the folder
    /// `--data NAME` would use). Names every file that is missing or differs; exit 3 if any.
    Verify {
        /// A folder, or a dataset name.
        target: PathBuf,
        /// The dataset the folder should hold.
        #[arg(long, value_name = "NAME")]
        dataset: Option<String>,
    },
}

fn named(name: &str, key: &str) -> Result<&'static Dataset> {
    catalog::dataset(name).ok_or_else(|| {
        Error::config(
            key,
            format!(
                "unknown dataset '{name}': choose one of {} (see `wavetrain data list`)",
                catalog::names()
            ),
        )
    })
}

pub fn data(a: DataArgs) -> Result<()> {
    match a.command {
        DataCommand::List => list(),
        DataCommand::Fetch {
            name,
            to,
            mirror,
            no_verify,
            retries,
            timeout,
        } => {
            let ds = named(&name, "NAME")?;
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err(Error::config(
                    "--timeout",
                    format!("must be a positive number of seconds, got {timeout}"),
                ));
            }
            let dir = match to {
                Some(d) => d,
                None => catalog::default_fetch_dir(ds.name)?,
            };
            let mirror = mirror.or_else(|| {
                std::env::var("WAVETRAIN_DATA_MIRROR")
                    .ok()
                    .filter(|v| !v.is_empty())
            });
            eprintln!(
                "fetching {} from {} into {}",
                ds.name,
                mirror.as_deref().unwrap_or(ds.url),
                dir.display()
            );
            let opts = FetchOptions {
                dir: dir.clone(),
                mirror,
                verify: !no_verify,
                retries,
                timeout: std::time::Duration::from_secs_f64(timeout),
                progress: true,
            };
            for (path, outcome) in fetch::fetch(ds, &opts)? {
                match outcome {
                    Outcome::Present => eprintln!("{}: already there", path.display()),
                    Outcome::Downloaded {
                        bytes,
                        resumed_from: Some(from),
                    } => eprintln!(
                        "{}: {bytes} bytes (resumed from byte {from})",
                        path.display()
                    ),
                    Outcome::Downloaded { bytes, .. } => {
                        eprintln!("{}: {bytes} bytes", path.display())
                    }
                }
            }
            let checked = if no_verify {
                "not checked (--no-verify)"
            } else {
                "SHA-256 checked"
            };
            println!(
                "{} is in {} ({checked}); train on it with --data {}",
                ds.name,
                dir.display(),
                if opts.dir == catalog::default_fetch_dir(ds.name).unwrap_or_default() {
                    ds.name.to_string()
                } else {
                    dir.display().to_string()
                }
            );
            Ok(())
        }
        DataCommand::Verify { target, dataset } => verify(target, dataset),
    }
}

fn list() -> Result<()> {
    for ds in catalog::DATASETS {
        let found = catalog::search_dirs(ds.name)
            .into_iter()
            .find(|(d, _)| catalog::is_complete(ds, d))
            .map_or("not on this machine".to_string(), |(d, why)| {
                format!("{} ({why})", d.display())
            });
        println!("{}: {}", ds.name, ds.title);
        println!(
            "  {} training / {} test images; found: {found}",
            ds.sizes.0, ds.sizes.1
        );
        println!("  source: {}", ds.source);
        println!("  {}", ds.citation);
        for f in &ds.files {
            println!(
                "  {:<30} {:>10} bytes  sha256 {}",
                f.gz_name(),
                f.gz_bytes,
                f.gz_sha256
            );
        }
    }
    let dirs: Vec<String> = catalog::search_dirs("NAME")
        .iter()
        .map(|(d, why)| format!("{} ({why})", d.display()))
        .collect();
    println!("--data NAME looks in: {}", dirs.join(", "));
    Ok(())
}

fn verify(target: PathBuf, dataset: Option<String>) -> Result<()> {
    let by_name = target.to_str().and_then(catalog::dataset);
    let (ds, dir) = match (by_name, &dataset) {
        (Some(ds), None) => (ds, catalog::locate(ds)?),
        _ => {
            if !target.is_dir() {
                return Err(Error::config(
                    "TARGET",
                    format!(
                        "{} is neither a folder nor a dataset name ({})",
                        target.display(),
                        catalog::names()
                    ),
                ));
            }
            let ds = match &dataset {
                Some(n) => named(n, "--dataset")?,
                None => catalog::identify(&target)?.ok_or_else(|| Error::Data {
                    path: target.clone(),
                    message: format!(
                        "none of its files has the SHA-256 of a file of a known dataset ({}): they are corrupt or another dataset's; say which it should be with --dataset NAME to see each file's checksum",
                        catalog::names()
                    ),
                })?,
            };
            (ds, target.clone())
        }
    };
    println!("{} in {}:", ds.name, dir.display());
    let mut bad = Vec::new();
    for (stem, path, check) in catalog::check_dir(ds, &dir)? {
        let shown = path.as_ref().map_or_else(
            || format!("{stem}(.gz)"),
            |p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            },
        );
        let what = match &check {
            Check::Canonical => "ok (the canonical file)".to_string(),
            Check::SameData => "ok (same IDX data as the canonical file)".to_string(),
            Check::Missing => "MISSING".to_string(),
            Check::Unverifiable => {
                "UNVERIFIABLE (uncompressed, and no checksum of the uncompressed file is published)"
                    .to_string()
            }
            Check::Mismatch(m) => format!("DIFFERS: {m}"),
        };
        println!("  {shown:<30} {what}");
        if !check.ok() {
            bad.push(path.unwrap_or_else(|| dir.join(format!("{stem}.gz"))));
        }
    }
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(Error::Data {
            path: first.clone(),
            message: format!(
                "{} of {}'s files {} not match the published SHA-256 ({}): fetch them again (`wavetrain data fetch {} --to {}`)",
                bad.len(),
                ds.name,
                if bad.len() == 1 { "does" } else { "do" },
                bad.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                ds.name,
                dir.display()
            ),
        }),
    }
}
