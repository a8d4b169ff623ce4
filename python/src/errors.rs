//! The library's errors as Python exceptions, and the guard that keeps a Rust panic from
//! crossing into Python.
//!
//! The exception classes live in `wavetrain/_errors.py` (so that `ConfigError` can derive from
//! both `WavetrainError` and `ValueError`); this module raises them by name.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyPermissionError, PyRuntimeError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyType;
use wavetrain::Error;

/// An exception of class `name` from `wavetrain._errors` carrying `msg`.
pub fn named(py: Python<'_>, name: &str, msg: String) -> PyErr {
    let class = py
        .import("wavetrain._errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(c) => PyErr::from_type(c, msg),
        // Only when the package's Python half is missing (the extension imported on its own).
        Err(_) => PyRuntimeError::new_err(format!("{name}: {msg}")),
    }
}

/// The Python exception for a library error, with the CLI's message.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        Error::Config { .. } => named(py, "ConfigError", msg),
        Error::Data { .. } => named(py, "DataError", msg),
        Error::Checkpoint { .. } => named(py, "CheckpointError", msg),
        Error::Gpu(_) => named(py, "GpuError", msg),
        Error::Numerical(_) => named(py, "NumericalFault", msg),
        Error::Interrupted(_) => PyKeyboardInterrupt::new_err(msg),
        Error::Lab(_) => named(py, "LabError", msg),
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
    }
}

/// A `ConfigError` naming the argument `key`, as the library names a config key.
pub fn config(py: Python<'_>, key: &str, message: impl Into<String>) -> PyErr {
    to_py(py, Error::config(key, message))
}

/// A `ValueError` about an argument (a bad array: dtype, shape, layout, values).
pub fn value(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// The text of a panic payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Runs `f`, the body of the Python entry point `place`, turning a Rust panic into a
/// `wavetrain.InternalError` that names the place (instead of PyO3's `PanicException`, which
/// derives from `BaseException` and so escapes `except Exception`).
pub fn guard<T>(py: Python<'_>, place: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(named(
            py,
            "InternalError",
            format!(
                "internal error in wavetrain.{place}: {} (a bug: please report it with the call that caused it)",
                panic_text(p.as_ref())
            ),
        )),
    }
}

/// Converts a library result inside an entry point.
pub trait OrPy<T> {
    /// The value, or the error as a Python exception.
    fn or_py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrPy<T> for wavetrain::Result<T> {
    fn or_py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
