//! numpy arrays in and out: dtype, shape, layout and value checks that end in a clear
//! `ValueError` (never a crash), and the conversions to the library's buffers.

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::value;

/// `obj` as a C-contiguous numpy array, or a `ValueError` naming `what`.
pub fn ndarray<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyUntypedArray>> {
    let a = obj.cast::<PyUntypedArray>().map_err(|_| {
        let t = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        value(format!(
            "{what} must be a numpy array, got {t}: pass np.asarray(...)"
        ))
    })?;
    if !a.is_c_contiguous() {
        return Err(value(format!(
            "{what} is not C-contiguous (a transposed or strided view): pass np.ascontiguousarray({what})"
        )));
    }
    Ok(a.clone())
}

/// The dtype of `a` as numpy names it (`uint8`, `float32`, …).
pub fn dtype_name(a: &Bound<'_, PyUntypedArray>) -> String {
    a.dtype()
        .getattr("name")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "?".into())
}

/// The elements of `obj` if it is an array of dtype `T` (C-contiguous), with its shape.
pub fn typed<T: numpy::Element + Copy>(obj: &Bound<'_, PyAny>) -> Option<(Vec<T>, Vec<usize>)> {
    let a = obj.cast::<PyArrayDyn<T>>().ok()?;
    let r = a.try_readonly().ok()?;
    let s = r.as_slice().ok()?;
    Some((s.to_vec(), r.shape().to_vec()))
}

/// A `ValueError` unless every value is finite, naming the first that is not.
pub fn check_finite<I: Iterator<Item = bool>>(finite: I, what: &str) -> PyResult<()> {
    for (i, ok) in finite.enumerate() {
        if !ok {
            return Err(value(format!(
                "{what} holds a NaN or an infinity (flat index {i}): the engine needs finite values"
            )));
        }
    }
    Ok(())
}

/// What a batch of inputs holds: images to encode as the trainer does, or values already
/// encoded for the network.
pub enum Input {
    /// `count` images of `rows × cols` pixels, 0–255.
    Pixels {
        /// Row-major pixels, image after image.
        pixels: Vec<u8>,
        /// Number of images.
        count: usize,
        /// Image height.
        rows: usize,
        /// Image width.
        cols: usize,
    },
    /// Encoded values, `[batch][input_len]`.
    Encoded {
        /// The values.
        values: Vec<f32>,
        /// The array's shape.
        shape: Vec<usize>,
    },
}

/// Reads a batch of inputs: `uint8` images `(B, rows, cols)` (or one `(rows, cols)` image when
/// `single`), or `float32`/`float64` values already encoded.
pub fn input(obj: &Bound<'_, PyAny>, what: &str, single: bool) -> PyResult<Input> {
    let a = ndarray(obj, what)?;
    if let Some((pixels, shape)) = typed::<u8>(obj) {
        let (count, rows, cols) = match (single, shape.as_slice()) {
            (false, [b, r, c]) => (*b, *r, *c),
            (true, [r, c]) => (1, *r, *c),
            (true, [1, r, c]) => (1, *r, *c),
            _ => {
                return Err(value(format!(
                    "{what}: uint8 images must have shape {} (got {shape:?})",
                    if single {
                        "(rows, cols)"
                    } else {
                        "(batch, rows, cols)"
                    }
                )))
            }
        };
        if rows == 0 || cols == 0 {
            return Err(value(format!(
                "{what}: images of {rows}×{cols} pixels hold nothing"
            )));
        }
        return Ok(Input::Pixels {
            pixels,
            count,
            rows,
            cols,
        });
    }
    let (values, shape) = if let Some((v, s)) = typed::<f32>(obj) {
        (v, s)
    } else if let Some((v, s)) = typed::<f64>(obj) {
        (v.iter().map(|&x| x as f32).collect(), s)
    } else {
        return Err(value(format!(
            "{what} has dtype {}: pass uint8 images (pixels 0–255, encoded as the trainer encodes them) or float32/float64 values already encoded for the network (see Network.encode)",
            dtype_name(&a)
        )));
    };
    check_finite(values.iter().map(|v| v.is_finite()), what)?;
    Ok(Input::Encoded { values, shape })
}

/// Labels as class indices below `classes`.
pub fn labels(obj: &Bound<'_, PyAny>, classes: usize, batch: usize) -> PyResult<Vec<u8>> {
    let v: Vec<i64> = obj
        .extract()
        .map_err(|_| value("labels must be a sequence or 1-D array of integer class indices"))?;
    if v.len() != batch {
        return Err(value(format!(
            "{} labels for {batch} inputs: give one label per input",
            v.len()
        )));
    }
    v.iter()
        .enumerate()
        .map(|(i, &l)| {
            if l < 0 || l as usize >= classes {
                Err(value(format!(
                    "labels[{i}] = {l} is not a class of this network (0 to {})",
                    classes - 1
                )))
            } else {
                Ok(l as u8)
            }
        })
        .collect()
}
