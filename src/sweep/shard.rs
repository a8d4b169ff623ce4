//! Shards: a share of a sweep's grid, for one task of a cluster job (a Slurm array task, a
//! Kubernetes indexed-job pod) writing into a sweep folder on a shared file system.
//!
//! - **Which points.** The grid is expanded in [`grid`](super::grid)'s order (the first axis
//!   slowest, the last fastest, each axis's values in the order given); point `k` (counting
//!   from 0 in that order) belongs to shard `k mod N`. So every point is trained by exactly one
//!   of the shards `0/N … (N−1)/N`, for any `N`, and neighbouring points (often the seeds of
//!   one configuration) are spread over the shards.
//! - **`--shard auto`.** In a Slurm array task the index is `SLURM_ARRAY_TASK_ID −
//!   SLURM_ARRAY_TASK_MIN` (divided by `SLURM_ARRAY_TASK_STEP` when the array has a step) and
//!   the count `SLURM_ARRAY_TASK_COUNT` (else `(MAX − MIN)/STEP + 1`). With `auto/N` the count is
//!   `N` and the index is the task's own number, `SLURM_ARRAY_TASK_ID` or Kubernetes'
//!   `JOB_COMPLETION_INDEX`: a task resubmitted on its own (`sbatch --array=2 …`) is still
//!   shard 2 of `N`, which is why the scripts [`submit`](super::submit) writes use `auto/N`.
//!   Kubernetes gives no count, so there `auto/N` is required.
//! - **The count is the folder's.** The first shard to start records the count in the sweep
//!   folder (`shards.json`, written once); a shard with another count is refused, since its
//!   points would overlap other shards' points.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file of a sweep folder that records its shard count and the command of its shards.
pub const SHARDS_FILE: &str = "shards.json";

/// One share of a grid: the points `k` with `k mod count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0 ≤ index < count`.
    pub index: usize,
    /// How many shards the grid is split into.
    pub count: usize,
}

impl Shard {
    /// The whole grid (what a sweep without `--shard` trains).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// A shard, checked: `count ≥ 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(Error::config(
                "--shard",
                "the shard count must be at least 1 (I/N with N ≥ 1)",
            ));
        }
        if index >= count {
            return Err(Error::config(
                "--shard",
                format!(
                    "shard index {index} is out of range for {count} shards: the shards are 0 to {} (I/N with I < N)",
                    count - 1
                ),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether point `k` of the grid belongs to this shard.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    /// The points of a grid of `n` points that belong to this shard, in grid order.
    pub fn points(&self, n: usize) -> Vec<usize> {
        (self.index..n).step_by(self.count).collect()
    }

    /// The shard that owns point `k` among `count` shards.
    pub fn owner(k: usize, count: usize) -> usize {
        k % count.max(1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `--shard` says: a fixed shard, or one to take from the scheduler's environment (with
/// the count given or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`.
    Fixed(Shard),
    /// `auto` (count from Slurm) or `auto/N`.
    Auto(Option<usize>),
}

impl std::str::FromStr for ShardSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<ShardSpec> {
        let s = s.trim();
        let bad = || {
            Error::config(
                "--shard",
                format!("'{s}' is not I/N (e.g. 0/4), auto or auto/N"),
            )
        };
        let num = |t: &str| t.trim().parse::<usize>().map_err(|_| bad());
        if s == "auto" {
            return Ok(ShardSpec::Auto(None));
        }
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let count = num(b)?;
        if a.trim() == "auto" {
            if count == 0 {
                return Err(Error::config(
                    "--shard",
                    "auto/0: the shard count must be at least 1",
                ));
            }
            return Ok(ShardSpec::Auto(Some(count)));
        }
        Ok(ShardSpec::Fixed(Shard::new(num(a)?, count)?))
    }
}

impl ShardSpec {
    /// The shard, for `auto` from the environment `env` (a variable's value by name; see the
    /// module doc for which variables).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        let count = match *self {
            ShardSpec::Fixed(s) => return Ok(s),
            ShardSpec::Auto(c) => c,
        };
        let var = |name: &str| -> Result<Option<usize>> {
            match env(name) {
                None => Ok(None),
                Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                    Error::config("--shard", format!("{name}={v} is not a whole number ≥ 0"))
                }),
            }
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID")? {
            if let Some(n) = count {
                return Shard::new(id, n).map_err(|_| {
                    Error::config(
                        "--shard",
                        format!(
                            "SLURM_ARRAY_TASK_ID={id} is out of range for auto/{n}: submit the array as --array=0-{} (the task ids are the shard indices)",
                            n - 1
                        ),
                    )
                });
            }
            let min = var("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = var("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            let n = match (var("SLURM_ARRAY_TASK_COUNT")?, var("SLURM_ARRAY_TASK_MAX")?) {
                (Some(n), _) => n,
                (None, Some(max)) if max >= min => (max - min) / step + 1,
                _ => {
                    return Err(Error::config(
                        "--shard",
                        "auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is: give the count, --shard auto/N",
                    ))
                }
            };
            if id < min || (id - min) % step != 0 {
                return Err(Error::config(
                    "--shard",
                    format!("auto: SLURM_ARRAY_TASK_ID={id} is not in the array (SLURM_ARRAY_TASK_MIN={min}, step {step})"),
                ));
            }
            return Shard::new((id - min) / step, n);
        }
        if let Some(i) = var("JOB_COMPLETION_INDEX")? {
            let Some(n) = count else {
                return Err(Error::config(
                    "--shard",
                    format!("auto: JOB_COMPLETION_INDEX={i} is set (a Kubernetes indexed job), which gives no shard count: give it, --shard auto/N with N the job's completions"),
                ));
            };
            return Shard::new(i, n).map_err(|_| {
                Error::config(
                    "--shard",
                    format!("JOB_COMPLETION_INDEX={i} is out of range for auto/{n}: the job's completions must be {n}"),
                )
            });
        }
        let job = if env("SLURM_JOB_ID").is_some() {
            " (this is a Slurm job, but not an array job: submit it with sbatch --array=0-(N-1))"
        } else {
            ""
        };
        Err(Error::config(
            "--shard",
            format!("auto: neither SLURM_ARRAY_TASK_ID (a Slurm array task) nor JOB_COMPLETION_INDEX (a Kubernetes indexed job) is set{job}: run it as one of those, or give the shard, --shard I/N"),
        ))
    }
}

/// What a sweep folder records about its shards (`shards.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardsRecord {
    /// The shard count every shard of this folder uses.
    pub count: usize,
    /// The command of a shard without its `--shard` (shell words), for the merge's rerun
    /// hints; empty when unknown.
    #[serde(default)]
    pub command: String,
}

/// Writes `bytes` to `path` only if no file is there: a complete temporary file beside it is
/// linked to `path` (a hard link fails when `path` exists, atomically, on local and network
/// file systems). Returns what `path` held when it existed already.
pub(crate) fn write_once(path: &Path, bytes: &[u8]) -> Result<Option<String>> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let linked = (|| -> std::io::Result<bool> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(true) => {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(None)
        }
        Ok(false) => std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| Error::io(path, e)),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The shard record of the sweep folder `out`, if it has one.
pub fn read_record(out: &Path) -> Result<Option<ShardsRecord>> {
    let path = out.join(SHARDS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::config(
                SHARDS_FILE,
                format!(
                    "{} is not a shard record ({e}): it is written by the first shard of a sweep; remove it only if no shard of this sweep runs",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Refuses a shard count other than the one the folder records.
pub(crate) fn check_count(out: &Path, rec: &ShardsRecord, count: usize) -> Result<()> {
    if rec.count != count {
        return Err(Error::config(
            "--shard",
            format!(
                "{} was started with {} shards (its {SHARDS_FILE}), not {count}: give --shard I/{} (or auto/{}), so that the shards' points do not overlap",
                out.display(),
                rec.count,
                rec.count,
                rec.count
            ),
        ));
    }
    Ok(())
}

/// Records `rec` in the sweep folder `out` unless a record is there already; either way the
/// count must be `rec.count`.
pub(crate) fn claim_count(out: &Path, rec: &ShardsRecord) -> Result<()> {
    let text = serde_json::to_string_pretty(rec).unwrap_or_default() + "\n";
    if write_once(&out.join(SHARDS_FILE), text.as_bytes())?.is_some() {
        let old = read_record(out)?.ok_or_else(|| {
            Error::io(
                out.join(SHARDS_FILE),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        check_count(out, &old, rec.count)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k: &str| v.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    proptest! {
        /// Every point of any grid shape lands in exactly one of the N shards, for N = 1…7,
        /// and each shard's points are those `k mod N` says.
        #[test]
        fn every_point_in_exactly_one_shard(dims in proptest::collection::vec(1usize..5, 1..4)) {
            let axes: Vec<super::super::Axis> = dims
                .iter()
                .enumerate()
                .map(|(i, &n)| super::super::Axis {
                    key: format!("k{i}"),
                    values: (0..n).map(|v| v.to_string()).collect(),
                })
                .collect();
            let points = super::super::grid(&axes);
            prop_assert_eq!(points.len(), dims.iter().product::<usize>());
            for count in 1..=7 {
                let mut hits = vec![0usize; points.len()];
                for index in 0..count {
                    let s = Shard::new(index, count).unwrap();
                    for k in s.points(points.len()) {
                        prop_assert!(s.owns(k));
                        prop_assert_eq!(Shard::owner(k, count), index);
                        hits[k] += 1;
                    }
                }
                prop_assert!(hits.iter().all(|&h| h == 1), "N = {}: {:?}", count, hits);
            }
        }
    }

    #[test]
    fn grid_order_is_first_axis_slowest() {
        let ax = |k: &str, v: &[&str]| super::super::Axis {
            key: k.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        let g = super::super::grid(&[ax("a", &["1", "2"]), ax("b", &["x", "y", "z"])]);
        let flat: Vec<String> = g.iter().map(|p| p.join("")).collect();
        assert_eq!(flat, ["1x", "1y", "1z", "2x", "2y", "2z"]);
        // Shard 1 of 4 trains points 1 and 5.
        assert_eq!(Shard::new(1, 4).unwrap().points(6), [1, 5]);
    }

    #[test]
    fn specs_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            "2/5".parse::<ShardSpec>().unwrap(),
            ShardSpec::Fixed(Shard { index: 2, count: 5 })
        );
        assert_eq!("auto".parse::<ShardSpec>().unwrap(), ShardSpec::Auto(None));
        assert_eq!(
            "auto/3".parse::<ShardSpec>().unwrap(),
            ShardSpec::Auto(Some(3))
        );
        for (bad, says) in [
            ("5/5", "out of range"),
            ("0/0", "at least 1"),
            ("x/2", "is not I/N"),
            ("3", "is not I/N"),
            ("auto/0", "at least 1"),
            ("-1/2", "is not I/N"),
        ] {
            let e = bad.parse::<ShardSpec>().unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert!(e.to_string().contains("--shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn auto_reads_slurm_and_kubernetes_variables() {
        let auto = ShardSpec::Auto(None);
        let s = |pairs: &[(&str, &str)], spec: ShardSpec| spec.resolve(&env_of(pairs));
        // A Slurm array 0-3.
        let a = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(s(&a, auto).unwrap(), Shard { index: 2, count: 4 });
        // An array 5-8 counts from its minimum; without COUNT the count is MAX − MIN + 1.
        let b = [
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "8"),
        ];
        assert_eq!(s(&b, auto).unwrap(), Shard { index: 1, count: 4 });
        // With a step: 0-6:2 is 0, 2, 4, 6.
        let c = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(s(&c, auto).unwrap(), Shard { index: 2, count: 4 });
        // auto/N: the task id itself, so a task resubmitted alone (--array=2) is still 2/4.
        let alone = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
        ];
        assert_eq!(
            s(&alone, ShardSpec::Auto(Some(4))).unwrap(),
            Shard { index: 2, count: 4 }
        );
        let e = s(&alone, ShardSpec::Auto(Some(2))).unwrap_err().to_string();
        assert!(
            e.contains("out of range") && e.contains("--array=0-1"),
            "{e}"
        );
        // Kubernetes: the index, with the count given.
        let k = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(
            s(&k, ShardSpec::Auto(Some(5))).unwrap(),
            Shard { index: 3, count: 5 }
        );
        let e = s(&k, auto).unwrap_err().to_string();
        assert!(e.contains("auto/N"), "{e}");
        let e = s(&k, ShardSpec::Auto(Some(3))).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        // Nothing set, a plain Slurm job, and garbage.
        let e = s(&[], auto).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID") && e.contains("--shard I/N"),
            "{e}"
        );
        let e = s(&[("SLURM_JOB_ID", "7")], auto).unwrap_err().to_string();
        assert!(e.contains("not an array job"), "{e}");
        let e = s(&[("SLURM_ARRAY_TASK_ID", "x")], auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID=x"), "{e}");
        // A fixed shard ignores the environment.
        let fixed = ShardSpec::Fixed(Shard { index: 1, count: 2 });
        assert_eq!(s(&a, fixed).unwrap(), Shard { index: 1, count: 2 });
    }

    #[test]
    fn the_count_is_written_once_and_another_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let rec = |count| ShardsRecord {
            count,
            command: "wavetrain sweep".into(),
        };
        claim_count(d.path(), &rec(3)).unwrap();
        claim_count(d.path(), &rec(3)).unwrap();
        let e = claim_count(d.path(), &rec(4)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("3 shards") && msg.contains("I/3"), "{msg}");
        assert_eq!(read_record(d.path()).unwrap().unwrap().count, 3);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        // Many writers at once: exactly one wins, every one reads the winner's text.
        let p = d.path().join("once");
        let got: Vec<Option<String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let p = p.clone();
                    s.spawn(move || write_once(&p, format!("{i}").as_bytes()).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(got.iter().filter(|g| g.is_none()).count(), 1);
        let winner = std::fs::read_to_string(&p).unwrap();
        assert!(got.iter().flatten().all(|g| *g == winner));
    }
}
