//! numpy `.npy` files (format version 1.0: magic, little-endian header length, a Python-literal
//! header dict, then the data in C order), written and read for real 2-D arrays so that an
//! exported height map or a capture's pattern opens with `numpy.load` and reads back here.
//!
//! The format is numpy's own "NEP 1" (`numpy/lib/format.py`): `\x93NUMPY`, major 1, minor 0,
//! a `u16` header length, and the header padded with spaces to a multiple of 64 bytes in all
//! and ended by `\n`.

use std::path::Path;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The bytes of a `.npy` file holding `data` (little-endian `f64`, C order) of shape
/// `[rows, cols]`.
///
/// # Panics
/// When `data.len() != rows * cols` (a caller bug).
pub fn encode_f64(data: &[f64], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(data.len(), rows * cols, "npy: data does not fit its shape");
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 bytes.
    let used = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - used % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A 2-D real array read from a `.npy` file: values as `f64`, and its shape `[rows, cols]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Array2 {
    /// Values in C order.
    pub data: Vec<f64>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// The value of `key` in a numpy header dict (`'key': value`), up to the next top-level comma.
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Parses `.npy` bytes holding a 2-D little-endian `f8` or `f4` array in C order; `path` names
/// the file in errors ([`Error::Data`]).
pub fn decode(bytes: &[u8], path: &Path) -> Result<Array2> {
    let bad = |m: String| Error::Data {
        path: path.to_path_buf(),
        message: m,
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a numpy .npy file (no \\x93NUMPY magic)".into()));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(bad(format!(
                "npy format version {v} is not supported (1, 2 or 3)"
            )))
        }
    };
    let header = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("the header is cut short or not text".into()))?;
    let descr = header_value(header, "descr").unwrap_or("");
    let size = match descr.trim_matches(['\'', '"']) {
        "<f8" => 8,
        "<f4" => 4,
        d => {
            return Err(bad(format!(
                "dtype {d:?}: expected little-endian float64 ('<f8') or float32 ('<f4')"
            )))
        }
    };
    if header_value(header, "fortran_order") != Some("False") {
        return Err(bad(
            "the array is not in C order (fortran_order must be False)".into(),
        ));
    }
    let shape: Vec<usize> = header_value(header, "shape")
        .map(|s| s.trim_matches(['(', ')']))
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| t.parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .and_then(|r| r.ok())
        .ok_or_else(|| bad("the header has no readable 'shape'".into()))?;
    let [rows, cols] = shape[..] else {
        return Err(bad(format!(
            "shape {shape:?}: expected a 2-D array (rows, cols)"
        )));
    };
    let body = &bytes[start + len..];
    let want = rows.checked_mul(cols).and_then(|n| n.checked_mul(size));
    if want != Some(body.len()) {
        return Err(bad(format!(
            "{} data bytes for shape ({rows}, {cols}) of {size}-byte values: the file is truncated or padded",
            body.len()
        )));
    }
    let data = if size == 8 {
        body.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    } else {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)
            .collect()
    };
    Ok(Array2 { data, rows, cols })
}

/// Reads a 2-D `.npy` file ([`decode`]).
pub fn read(path: &Path) -> Result<Array2> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_alignment() {
        let v: Vec<f64> = (0..12).map(|i| i as f64 * 0.25 - 1.0).collect();
        let b = encode_f64(&v, 3, 4);
        let len = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + len) % 64, 0);
        assert_eq!(b[10 + len - 1], b'\n');
        let a = decode(&b, Path::new("x.npy")).expect("decodes");
        assert_eq!((a.rows, a.cols), (3, 4));
        assert_eq!(a.data, v);
    }

    #[test]
    fn refuses_bad_files() {
        let p = Path::new("x.npy");
        let mut b = encode_f64(&[1.0, 2.0], 1, 2);
        b.pop();
        assert!(decode(&b, p).unwrap_err().to_string().contains("truncated"));
        assert!(decode(b"hello world", p).is_err());
        let mut c = encode_f64(&[1.0, 2.0], 1, 2);
        let s = String::from_utf8_lossy(&c[10..]).replace("<f8", ">f8");
        c.truncate(10);
        c.extend_from_slice(s.as_bytes());
        assert!(decode(&c, p).unwrap_err().to_string().contains("dtype"));
    }
}
