//! Reader for IDX files (the MNIST format: LeCun et al.), gzipped or raw.
//!
//! Header: two zero bytes, a type code (`0x08` = unsigned byte), the number of dimensions, then one
//! big-endian `u32` per dimension. Images are `idx3` (`count × rows × cols`), labels `idx1`. Every
//! declared size is checked against the bytes actually present before anything is allocated from it.
//!
//! Files are read as a stream ([`read_idx`]), gzipped ones through the decompressor: the header
//! comes first and is checked against the limits ([`MAX_BYTES`], image sides 1–4096) before any
//! data is read; then exactly the bytes it declares are read, and one more read must find the end
//! of the file. A header over the limit is refused without decompressing the rest; a file that
//! holds more data than its header declares (a zero-padded or concatenated file) is refused
//! without reading the surplus into memory; a short one is refused as truncated. Each error names
//! the file. [`parse_images`] and [`parse_labels`] check bytes already in memory the same way.
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The largest file (after decompression) the reader accepts: 4 GiB.
pub const MAX_BYTES: u64 = 4 << 30;

/// Images of one split: `count` images of `rows × cols` bytes, row-major.
#[derive(Clone, Debug)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Pixel values, `count·rows·cols` bytes.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.rows * self.cols;
        &self.pixels[i * n..(i + 1) * n]
    }
}

fn data_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file, decompressing gzip when the content starts with the gzip magic. This holds
/// the whole (decompressed) file in memory; [`read_images`] and [`read_labels`] stream instead.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_maybe_gz(path, raw)
}

/// Decompresses `raw` if it is gzip, with a size cap.
pub fn decode_maybe_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| gzip_err(path, e))?;
        if out.len() as u64 > MAX_BYTES {
            return Err(data_err(path, "decompressed data exceeds 4 GiB"));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn gzip_err(path: &Path, e: std::io::Error) -> Error {
    data_err(
        path,
        format!("gzip data is corrupt or truncated ({e}); re-download the file"),
    )
}

fn kind_of(want_dims: u8) -> &'static str {
    if want_dims == 3 {
        "image (idx3)"
    } else {
        "label (idx1)"
    }
}

/// Checks the first four bytes of an IDX file: magic, element type, number of dimensions.
fn check_magic(path: &Path, b: &[u8], want_dims: u8) -> Result<()> {
    let kind = kind_of(want_dims);
    if b.len() < 4 {
        return Err(data_err(
            path,
            format!(
                "{} bytes is too short for an IDX header: expected an {kind} file",
                b.len()
            ),
        ));
    }
    if b[0] != 0 || b[1] != 0 {
        return Err(data_err(path, format!("bad magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file (expected 0000080{want_dims})", b[0], b[1], b[2], b[3])));
    }
    if b[2] != 0x08 {
        return Err(data_err(
            path,
            format!(
                "element type 0x{:02x} is not supported: expected unsigned bytes (0x08)",
                b[2]
            ),
        ));
    }
    if b[3] != want_dims {
        return Err(data_err(
            path,
            format!(
                "has {} dimensions, expected {want_dims}: is this the {kind} file?",
                b[3]
            ),
        ));
    }
    Ok(())
}

/// The dimensions in `b` (big-endian `u32`s) and their product in bytes (saturating).
fn dims_of(b: &[u8]) -> (Vec<usize>, u64) {
    let dims: Vec<usize> = b
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let total = dims.iter().fold(1u64, |t, &d| t.saturating_mul(d as u64));
    (dims, total)
}

/// Image sides must be 1–4096 pixels.
fn check_image_dims(path: &Path, dims: &[usize]) -> Result<()> {
    if dims[1] == 0 || dims[2] == 0 || dims[1] > 4096 || dims[2] > 4096 {
        return Err(data_err(
            path,
            format!(
                "image size {}×{} is not supported (1–4096 pixels a side)",
                dims[1], dims[2]
            ),
        ));
    }
    Ok(())
}

fn truncated(path: &Path, dims: &[usize], total: u64, have: u64) -> Error {
    data_err(path, format!("header declares {dims:?} = {total} bytes of data but the file holds {have}: the file is truncated or corrupt"))
}

fn surplus(path: &Path, dims: &[usize], total: u64, extra: Option<u64>) -> Error {
    let extra = extra.map_or_else(|| "more bytes".to_string(), |n| format!("{n} bytes"));
    data_err(path, format!("holds more data than its header declares ({dims:?} = {total} bytes, then {extra}): the file is padded, concatenated or corrupt; use the original file"))
}

/// Parses an IDX header: returns the dimensions and the offset of the data.
fn header(path: &Path, bytes: &[u8], want_dims: u8) -> Result<(Vec<usize>, usize)> {
    check_magic(path, bytes, want_dims)?;
    let off = 4 + 4 * want_dims as usize;
    if bytes.len() < off {
        return Err(data_err(path, "truncated IDX header"));
    }
    let (dims, total) = dims_of(&bytes[4..off]);
    let have = (bytes.len() - off) as u64;
    if have < total {
        return Err(truncated(path, &dims, total, have));
    }
    if have > total {
        return Err(surplus(path, &dims, total, Some(have - total)));
    }
    Ok((dims, off))
}

/// Fills `buf` from `r` as far as the stream goes; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Streams one IDX file; `read_err` turns a failed read into the error to report.
fn stream_idx(
    path: &Path,
    mut r: impl Read,
    want_dims: u8,
    raw_len: Option<u64>,
    read_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<(Vec<usize>, Vec<u8>)> {
    let off = 4 + 4 * want_dims as usize;
    let mut head = vec![0u8; off];
    let n = fill(&mut r, &mut head[..4]).map_err(read_err)?;
    check_magic(path, &head[..n], want_dims)?;
    if fill(&mut r, &mut head[4..]).map_err(read_err)? < off - 4 {
        return Err(data_err(path, "truncated IDX header"));
    }
    let (dims, total) = dims_of(&head[4..]);
    if total.saturating_add(off as u64) > MAX_BYTES {
        return Err(data_err(path, format!("header declares {dims:?} = {total} bytes of data, over the limit of {MAX_BYTES} bytes (4 GiB) a file: the file is corrupt or not an IDX file")));
    }
    if want_dims == 3 {
        check_image_dims(path, &dims)?;
    }
    if let Some(len) = raw_len {
        let have = len.saturating_sub(off as u64);
        if have < total {
            return Err(truncated(path, &dims, total, have));
        }
        if have > total {
            return Err(surplus(path, &dims, total, Some(have - total)));
        }
    }
    // Grows with the data actually present (a short file allocates only what it holds).
    let mut data = Vec::with_capacity(total.min(64 << 20) as usize);
    (&mut r)
        .take(total)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if (data.len() as u64) < total {
        return Err(truncated(path, &dims, total, data.len() as u64));
    }
    // One more read must find the end (for gzip this also checks the CRC and length trailer).
    if fill(&mut r, &mut [0u8; 1]).map_err(read_err)? > 0 {
        return Err(surplus(path, &dims, total, None));
    }
    Ok((dims, data))
}

/// Reads one IDX file of `want_dims` dimensions (3 for images, 1 for labels) from `reader`, which
/// yields its decompressed bytes; `path` names it in errors. The header is read and checked
/// against the limits first, then exactly the data it declares; a stream that goes on after that
/// is refused without reading the rest. Returns the dimensions and the data.
pub fn read_idx(path: &Path, reader: impl Read, want_dims: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    stream_idx(path, reader, want_dims, None, &|e| {
        data_err(path, format!("could not be read ({e})"))
    })
}

/// Opens `path` and streams it (through the gzip decompressor when it starts with the gzip
/// magic) into [`stream_idx`].
fn read_file(path: &Path, want_dims: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut r = std::io::BufReader::new(file);
    let start = r.fill_buf().map_err(|e| Error::io(path, e))?;
    if start.starts_with(&GZIP_MAGIC) {
        stream_idx(
            path,
            flate2::bufread::GzDecoder::new(r),
            want_dims,
            None,
            &|e| gzip_err(path, e),
        )
    } else {
        stream_idx(path, r, want_dims, Some(len), &|e| Error::io(path, e))
    }
}

/// Reads an IDX image file (raw or gzipped), streaming: see the module doc.
pub fn read_images(path: &Path) -> Result<Images> {
    let (dims, pixels) = read_file(path, 3)?;
    Ok(Images {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Reads an IDX label file (raw or gzipped), streaming; every label must be below `classes`.
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>> {
    let (_, labels) = read_file(path, 1)?;
    check_labels(path, &labels, classes)?;
    Ok(labels)
}

fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<()> {
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(data_err(
            path,
            format!(
                "label {l} at index {i} is out of range: expected 0..{}",
                classes - 1
            ),
        ));
    }
    Ok(())
}

/// Parses IDX image bytes (already decompressed).
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Images> {
    let (dims, off) = header(path, bytes, 3)?;
    check_image_dims(path, &dims)?;
    Ok(Images {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: bytes[off..].to_vec(),
    })
}

/// Parses IDX label bytes (already decompressed); every label must be below `classes`.
pub fn parse_labels(path: &Path, bytes: &[u8], classes: usize) -> Result<Vec<u8>> {
    let (_, off) = header(path, bytes, 1)?;
    let labels = bytes[off..].to_vec();
    check_labels(path, &labels, classes)?;
    Ok(labels)
}

/// A labelled split.
#[derive(Clone, Debug)]
pub struct Split {
    /// The images.
    pub images: Images,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Points `(x, y)` of a generated 2-D task (empty for image data).
    pub points: Vec<[f32; 2]>,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Reads an image file and its label file and checks they match.
pub fn read_split(images: &Path, labels: &Path, classes: usize) -> Result<Split> {
    let im = read_images(images)?;
    let lb = read_labels(labels, classes)?;
    if im.count != lb.len() {
        return Err(data_err(
            labels,
            format!(
                "{} labels for {} images in {}: the files do not belong together",
                lb.len(),
                im.count,
                images.display()
            ),
        ));
    }
    if im.count == 0 {
        return Err(data_err(images, "holds no images"));
    }
    Ok(Split {
        images: im,
        labels: lb,
        points: Vec::new(),
    })
}

/// Finds `stem` in `dir` as `stem` or `stem.gz`.
fn find(dir: &Path, stems: &[&str]) -> Option<PathBuf> {
    for s in stems {
        for cand in [dir.join(s), dir.join(format!("{s}.gz"))] {
            if cand.is_file() {
                return Some(cand);
            }
        }
    }
    None
}

/// The train and test splits of a folder holding MNIST-format files: the standard names
/// (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, as MNIST, Fashion-MNIST and KMNIST ship them) or the bundled subset's
/// (`mnist5k-train-…`, `mnist5k-test-…`).
pub fn read_dir(dir: &Path, classes: usize) -> Result<(Split, Split)> {
    if !dir.is_dir() {
        return Err(data_err(dir, "is not a folder: --data expects a folder with train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)"));
    }
    let need = |stems: &[&str]| {
        find(dir, stems).ok_or_else(|| {
            data_err(
                dir,
                format!(
                    "no {} (or .gz) in this folder: --data expects the standard MNIST file names",
                    stems[0]
                ),
            )
        })
    };
    let tri = need(&[
        "train-images-idx3-ubyte",
        "train-images.idx3-ubyte",
        "mnist5k-train-images-idx3-ubyte",
    ])?;
    let trl = need(&[
        "train-labels-idx1-ubyte",
        "train-labels.idx1-ubyte",
        "mnist5k-train-labels-idx1-ubyte",
    ])?;
    let tei = need(&[
        "t10k-images-idx3-ubyte",
        "t10k-images.idx3-ubyte",
        "mnist5k-test-images-idx3-ubyte",
    ])?;
    let tel = need(&[
        "t10k-labels-idx1-ubyte",
        "t10k-labels.idx1-ubyte",
        "mnist5k-test-labels-idx1-ubyte",
    ])?;
    let train = read_split(&tri, &trl, classes)?;
    let test = read_split(&tei, &tel, classes)?;
    if train.images.rows != test.images.rows || train.images.cols != test.images.cols {
        return Err(data_err(
            &tei,
            "test images differ in size from the training images",
        ));
    }
    Ok((train, test))
}

/// The bundled MNIST subset's four files (file name, bytes), compiled into every binary so that
/// an installed CLI or Python package finds its default data without the source checkout.
pub const BUNDLED_FILES: [(&str, &[u8]); 4] = [
    (
        "mnist5k-train-images-idx3-ubyte.gz",
        include_bytes!("../../data/mnist5k-train-images-idx3-ubyte.gz"),
    ),
    (
        "mnist5k-train-labels-idx1-ubyte.gz",
        include_bytes!("../../data/mnist5k-train-labels-idx1-ubyte.gz"),
    ),
    (
        "mnist5k-test-images-idx3-ubyte.gz",
        include_bytes!("../../data/mnist5k-test-images-idx3-ubyte.gz"),
    ),
    (
        "mnist5k-test-labels-idx1-ubyte.gz",
        include_bytes!("../../data/mnist5k-test-labels-idx1-ubyte.gz"),
    ),
];

/// Whether `dir` holds the bundled subset's four files, byte for byte.
fn holds_bundled(dir: &Path) -> bool {
    BUNDLED_FILES
        .iter()
        .all(|(name, bytes)| std::fs::read(dir.join(name)).is_ok_and(|b| b == *bytes))
}

/// Writes the bundled subset's files into `dir` (created if needed), each atomically (a
/// temporary file, then a rename), leaving alone those already there and intact: safe when two
/// processes unpack into the same folder at once.
pub fn unpack_bundled(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in BUNDLED_FILES {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            continue;
        }
        crate::io::atomic_write(&path, bytes)?;
    }
    Ok(())
}

/// The folder of the bundled MNIST subset: `$WAVETRAIN_DATA`, else `data/` of the source
/// checkout the binary was built from when it still holds the files, else the copy compiled
/// into the binary, unpacked (once) into the user's cache (`$XDG_CACHE_HOME/wavetrain/`, else
/// `~/.cache/wavetrain/`, else the temporary folder): the default data works after the
/// checkout is moved or deleted, and for an installed package.
pub fn bundled_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WAVETRAIN_DATA") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    bundled_dir_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data"), &cache)
}

/// [`bundled_dir`] with the checkout's data folder `src` and the cache folder `cache` given.
pub fn bundled_dir_from(src: &Path, cache: &Path) -> PathBuf {
    if holds_bundled(src) {
        return src.to_path_buf();
    }
    let unpacked = cache
        .join("wavetrain")
        .join(format!("bundled-data-{}", env!("CARGO_PKG_VERSION")));
    match unpack_bundled(&unpacked) {
        Ok(()) => unpacked,
        // Nowhere to unpack (a read-only home, a full disk): the error of reading this folder
        // names it.
        Err(_) => PathBuf::from("data"),
    }
}
