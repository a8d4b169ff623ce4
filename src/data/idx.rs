//! Reader for IDX files (the MNIST format: LeCun et al.), gzipped or raw.
//!
//! Header: two zero bytes, a type code (`0x08` = unsigned byte), the number of dimensions, then one
//! big-endian `u32` per dimension. Images are `idx3` (`count × rows × cols`), labels `idx1`. Every
//! declared size is checked against the bytes actually present before anything is allocated from it.

use std::io::Read;
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

/// Reads a whole file, decompressing gzip when the content starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_maybe_gz(path, raw)
}

/// Decompresses `raw` if it is gzip, with a size cap.
pub fn decode_maybe_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                data_err(
                    path,
                    format!("gzip data is corrupt or truncated ({e}); re-download the file"),
                )
            })?;
        if out.len() as u64 > MAX_BYTES {
            return Err(data_err(path, "decompressed data exceeds 4 GiB"));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX header: returns the dimensions and the offset of the data.
fn header(path: &Path, bytes: &[u8], want_dims: u8) -> Result<(Vec<usize>, usize)> {
    let kind = if want_dims == 3 {
        "image (idx3)"
    } else {
        "label (idx1)"
    };
    if bytes.len() < 4 {
        return Err(data_err(
            path,
            format!(
                "{} bytes is too short for an IDX header: expected an {kind} file",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(data_err(path, format!("bad magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file (expected 0000080{want_dims})", bytes[0], bytes[1], bytes[2], bytes[3])));
    }
    if bytes[2] != 0x08 {
        return Err(data_err(
            path,
            format!(
                "element type 0x{:02x} is not supported: expected unsigned bytes (0x08)",
                bytes[2]
            ),
        ));
    }
    if bytes[3] != want_dims {
        return Err(data_err(
            path,
            format!(
                "has {} dimensions, expected {want_dims}: is this the {kind} file?",
                bytes[3]
            ),
        ));
    }
    let off = 4 + 4 * want_dims as usize;
    if bytes.len() < off {
        return Err(data_err(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..want_dims as usize)
        .map(|i| {
            u32::from_be_bytes([
                bytes[4 + 4 * i],
                bytes[5 + 4 * i],
                bytes[6 + 4 * i],
                bytes[7 + 4 * i],
            ]) as usize
        })
        .collect();
    let mut total: u64 = 1;
    for &d in &dims {
        total = total.saturating_mul(d as u64);
    }
    let have = (bytes.len() - off) as u64;
    if total != have {
        return Err(data_err(path, format!("header declares {dims:?} = {total} bytes of data but the file holds {have}: the file is truncated or corrupt")));
    }
    Ok((dims, off))
}

/// Parses IDX image bytes (already decompressed).
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Images> {
    let (dims, off) = header(path, bytes, 3)?;
    if dims[1] == 0 || dims[2] == 0 || dims[1] > 4096 || dims[2] > 4096 {
        return Err(data_err(
            path,
            format!(
                "image size {}×{} is not supported (1–4096 pixels a side)",
                dims[1], dims[2]
            ),
        ));
    }
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
    let im = parse_images(images, &read_maybe_gz(images)?)?;
    let lb = parse_labels(labels, &read_maybe_gz(labels)?, classes)?;
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

/// The folder of the bundled MNIST subset: `$WAVETRAIN_DATA`, else `data/` next to the crate
/// (the source checkout), else `data/` in the working directory.
pub fn bundled_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WAVETRAIN_DATA") {
        return PathBuf::from(d);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    if src.is_dir() {
        src
    } else {
        PathBuf::from("data")
    }
}
