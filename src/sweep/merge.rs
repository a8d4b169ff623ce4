//! Merging a sweep folder that shards wrote into: every finished run is read back (its
//! `summary.json`, and its checkpoint for a 2-D task's decision map) and the sweep's results
//! are written through the same code as a one-machine sweep's, so the merged `sweep.csv` is the
//! one-machine sweep's (its `seconds` and `images_per_second` columns are wall-clock
//! measurements, and `run_dir` names the folder as given). Points not finished are listed with
//! their shard and the command that reruns it.
//!
//! The merge holds the folder's `merge.lock` (an OS file lock) while it reads and writes, so
//! two merges (the last two shards to finish, a shard and the merge job) never write at once,
//! and of two shards that finish at the same moment the one that takes the lock second finds
//! the other's runs finished and merges.

use std::fs::File;
use std::path::Path;

use super::{finished_point, folder_name, grid, point_config, read_sweep, write_results, Axis};
use super::{Row, Shard, ShardsRecord};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::Config;
use crate::network::Network;
use crate::run::BackendChoice;

/// The lock file a merge holds in the sweep folder.
pub const MERGE_LOCK: &str = "merge.lock";

/// The sweep folder's merge lock, held until dropped.
pub(crate) struct MergeLock(#[allow(dead_code)] File);

impl MergeLock {
    /// Waits for and takes the merge lock of the sweep folder `out`.
    pub(crate) fn take(out: &Path) -> Result<MergeLock> {
        let path = out.join(MERGE_LOCK);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        f.lock().map_err(|e| Error::io(&path, e))?;
        Ok(MergeLock(f))
    }
}

/// Where a point that is not finished stands.
#[derive(Clone, Debug, PartialEq)]
pub enum PointState {
    /// No run folder: never started, or stopped before it saved anything.
    NotStarted,
    /// A run folder without a checkpoint: starting now, or killed before its first one.
    Started,
    /// A checkpoint: it resumes from there (`epoch` epochs and `batch` batches done; `None`
    /// when the checkpoint cannot be read).
    Resumable(Option<(usize, usize)>),
}

impl std::fmt::Display for PointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointState::NotStarted => write!(f, "not started"),
            PointState::Started => write!(f, "started, no checkpoint yet"),
            PointState::Resumable(Some((e, b))) => write!(
                f,
                "stopped after {e} epochs and {b} batches; resumes from its checkpoint"
            ),
            PointState::Resumable(None) => write!(f, "has an unreadable checkpoint"),
        }
    }
}

/// A point of the grid that is not finished.
#[derive(Clone, Debug)]
pub struct Missing {
    /// Its position in the grid order.
    pub index: usize,
    /// `key=value` of each axis.
    pub label: String,
    /// The shard that owns it, when the folder records a shard count.
    pub shard: Option<Shard>,
    /// Where it stands.
    pub state: PointState,
}

/// What a merge found.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Points in the grid.
    pub points: usize,
    /// The finished rows, in grid order.
    pub rows: Vec<Row>,
    /// The points not finished, in grid order.
    pub missing: Vec<Missing>,
    /// The folder's shard record, if shards wrote into it.
    pub record: Option<ShardsRecord>,
}

impl Merged {
    /// Whether every point is finished.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The points not finished, one a line, and the commands that rerun them: each shard with
    /// missing points (`COMMAND --shard I/N`, from the folder's record), and the array's tasks
    /// when the folder holds the Slurm script [`submit`](super::submit) wrote.
    pub fn report(&self, out: &Path) -> String {
        let mut s = format!(
            "{} of {} points of {} are not finished:\n",
            self.missing.len(),
            self.points,
            out.display()
        );
        for m in &self.missing {
            let shard = m
                .shard
                .map(|sh| format!(" (shard {sh})"))
                .unwrap_or_default();
            s.push_str(&format!("  {}{shard}: {}\n", m.label, m.state));
        }
        let Some(rec) = &self.record else {
            s.push_str(
                "Rerun the sweep's command (the same --out): it trains what is missing and resumes what stopped.\n",
            );
            return s;
        };
        let mut shards: Vec<usize> = self
            .missing
            .iter()
            .filter_map(|m| m.shard.map(|sh| sh.index))
            .collect();
        shards.dedup();
        shards.sort_unstable();
        shards.dedup();
        let base = if rec.command.is_empty() {
            "<the sweep's command>".to_string()
        } else {
            rec.command.clone()
        };
        s.push_str("Rerun them (each resumes what stopped):\n");
        for i in &shards {
            s.push_str(&format!("  {base} --shard {i}/{}\n", rec.count));
        }
        let script = out.join(super::submit::SLURM_DIR).join("shards.sbatch");
        if script.exists() {
            let list: Vec<String> = shards.iter().map(|i| i.to_string()).collect();
            s.push_str(&format!(
                "or resubmit those array tasks: sbatch --array={} {}\n",
                list.join(","),
                script.display()
            ));
        }
        s
    }
}

/// Merges the sweep folder `out`: reads its sweep (`sweep.toml`), every finished run, and
/// writes `sweep.csv` of the finished rows and, when every point is finished, `sweep.png` and
/// the decision-boundary panels, as a one-machine sweep does. `backend` draws the decision
/// maps; `load` gives a config's data (for those maps only).
pub fn merge(
    out: &Path,
    backend: BackendChoice,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<Merged> {
    let (base, axes) = read_sweep(out)?;
    let nets: Vec<Network> = grid(&axes)
        .iter()
        .map(|p| point_config(&base, &axes, p)?.resolve())
        .collect::<Result<_>>()?;
    let _lock = MergeLock::take(out)?;
    collect(out, &base, &axes, &nets, backend, load)
}

/// Merges when every point of the sweep is finished (see the module doc); returns whether it
/// did.
pub(crate) fn merge_if_complete(
    out: &Path,
    base: &Config,
    axes: &[Axis],
    nets: &[Network],
    backend: BackendChoice,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<bool> {
    let _lock = MergeLock::take(out)?;
    let runs = out.join("runs");
    let all = grid(axes).iter().all(|p| {
        runs.join(folder_name(axes, p))
            .join("summary.json")
            .exists()
    });
    if !all {
        return Ok(false);
    }
    Ok(collect(out, base, axes, nets, backend, load)?.complete())
}

fn collect(
    out: &Path,
    base: &Config,
    axes: &[Axis],
    nets: &[Network],
    backend: BackendChoice,
    load: &(dyn Fn(&Config) -> Result<(Split, Split)> + Sync),
) -> Result<Merged> {
    let record = super::shard::read_record(out)?;
    let points = grid(axes);
    let runs = out.join("runs");
    let mut rows = Vec::with_capacity(points.len());
    let mut maps = Vec::with_capacity(points.len());
    let mut missing = Vec::new();
    for (i, (p, net)) in points.iter().zip(nets).enumerate() {
        let dir = runs.join(folder_name(axes, p));
        match finished_point(net, p, &dir, backend, load)? {
            Some((row, map)) => {
                rows.push(Some(row));
                maps.push(map);
            }
            None => {
                rows.push(None);
                maps.push(None);
                let ckpt = dir.join("checkpoint.safetensors");
                let state = if ckpt.exists() {
                    PointState::Resumable(
                        crate::checkpoint::Checkpoint::load(&ckpt)
                            .ok()
                            .map(|c| (c.progress.epoch, c.progress.batch)),
                    )
                } else if dir.exists() {
                    PointState::Started
                } else {
                    PointState::NotStarted
                };
                missing.push(Missing {
                    index: i,
                    label: axes
                        .iter()
                        .zip(p)
                        .map(|(a, v)| format!("{}={v}", a.key))
                        .collect::<Vec<_>>()
                        .join(" "),
                    shard: record.as_ref().map(|r| Shard {
                        index: Shard::owner(i, r.count),
                        count: r.count,
                    }),
                    state,
                });
            }
        }
    }
    write_results(out, base, axes, nets, &rows, &maps)?;
    Ok(Merged {
        points: points.len(),
        rows: rows.into_iter().flatten().collect(),
        missing,
        record,
    })
}
