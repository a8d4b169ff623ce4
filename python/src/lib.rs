//! `wavetrain._core`: the Python extension module of the `wavetrain` package (PyO3). It binds
//! the library's public API (not the CLI): free-space propagation, the absorber's response, the
//! sampling report, IDX files, `network::PyNetwork`, `train::train` and the export and capture
//! functions (`export`). The Python half
//! (`python/wavetrain/`) re-exports it with the exception classes and `Run`.
//!
//! Every entry point runs its body inside `errors::guard` (a Rust panic becomes
//! `wavetrain.InternalError` naming the function) and releases the GIL while it computes.

use std::path::PathBuf;

use num_complex::{Complex32, Complex64};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wavetrain::optics::{Absorber, AbsorberModel};
use wavetrain::Real;

mod arrays;
mod errors;
mod export;
mod lab;
mod network;
mod train;

use arrays::{check_finite, ndarray, typed};
use errors::{config, guard, value, OrPy};

/// Checks the optical parameters of a free-space step as `wavetrain sampling` does.
fn check_step(
    py: Python<'_>,
    wavelength: f64,
    distance: f64,
    padding: f64,
    positive: bool,
) -> PyResult<()> {
    if !(wavelength.is_finite() && wavelength > 0.0) {
        return Err(config(
            py,
            "wavelength",
            format!("must be a positive length in metres, got {wavelength}"),
        ));
    }
    if !(padding.is_finite() && (1.0..=8.0).contains(&padding)) {
        return Err(config(
            py,
            "padding",
            format!("padding factor must be between 1 and 8, got {padding}"),
        ));
    }
    let ok = distance.is_finite() && (!positive || distance > 0.0);
    if !ok {
        return Err(config(
            py,
            "distance",
            format!(
                "must be a {}finite length in metres, got {distance}",
                if positive { "positive, " } else { "" }
            ),
        ));
    }
    Ok(())
}

/// Propagates `data` (`[batch][ny][nx]`) in place in precision `T`.
fn propagate_in<T: Real>(
    data: &mut [num_complex::Complex<T>],
    grid: &wavetrain::Grid,
    wavelength: f64,
    distance: f64,
    padding: f64,
    band_limit: bool,
) {
    let mut p =
        wavetrain::cpu::Propagator::<T>::new(grid, wavelength, distance, padding, band_limit);
    p.apply(data);
}

/// Free-space propagation by the band-limited angular spectrum method, as the engine runs it:
/// `field` complex64 (f32 engine) or complex128 (f64 engine), (ny, nx) or (batch, ny, nx),
/// field amplitudes with |E|² = I/I_sat, on a grid of pixel pitch `pitch` (m), over
/// `distance` (m; negative: backwards) at `wavelength` (m), zero-padded by the factor `padding`
/// (1–8), with the Matsushima–Shimobaba band limit when `band_limit`. Returns a new array of the
/// same dtype, shape and units; the global carrier e^{ikz} is dropped.
#[pyfunction]
#[pyo3(signature = (field, *, pitch, wavelength, distance, padding = 2.0, band_limit = true))]
fn propagate<'py>(
    py: Python<'py>,
    field: &Bound<'py, PyAny>,
    pitch: f64,
    wavelength: f64,
    distance: f64,
    padding: f64,
    band_limit: bool,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "propagate", || {
        let a = ndarray(field, "field")?;
        check_step(py, wavelength, distance, padding, false)?;
        let shape: Vec<usize> = numpy::PyUntypedArrayMethods::shape(&a).to_vec();
        let (ny, nx) = match shape.as_slice() {
            [ny, nx] | [_, ny, nx] => (*ny, *nx),
            _ => {
                return Err(value(format!(
                    "field must have shape (ny, nx) or (batch, ny, nx), got {shape:?}"
                )))
            }
        };
        let grid = wavetrain::Grid::new(nx, ny, pitch).or_py(py)?;
        if wavelength > 1e-3 {
            return Err(config(
                py,
                "wavelength",
                format!("{wavelength} m is longer than a millimetre: lengths are in metres (780 nm is 780e-9)"),
            ));
        }
        // What `sampling()` would warn about (a band limit that keeps little of the spectrum,
        // light wrapping around the window), as Python warnings.
        if distance != 0.0 {
            let r = wavetrain::optics::sampling_report(
                grid.nx,
                grid.ny,
                grid.dx,
                padding,
                wavelength,
                distance.abs(),
            );
            let warnings = py.import("warnings")?;
            for w in r.warnings() {
                warnings.call_method1("warn", (format!("propagate: {w}"),))?;
            }
        }
        if let Some((mut v, _)) = typed::<Complex32>(field) {
            check_finite(
                v.iter().map(|c| c.re.is_finite() && c.im.is_finite()),
                "field",
            )?;
            if !v.is_empty() {
                py.detach(|| {
                    propagate_in(&mut v, &grid, wavelength, distance, padding, band_limit)
                });
            }
            return Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any());
        }
        if let Some((mut v, _)) = typed::<Complex64>(field) {
            check_finite(
                v.iter().map(|c| c.re.is_finite() && c.im.is_finite()),
                "field",
            )?;
            if !v.is_empty() {
                py.detach(|| {
                    propagate_in(&mut v, &grid, wavelength, distance, padding, band_limit)
                });
            }
            return Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any());
        }
        Err(value(format!(
            "field has dtype {}: pass a complex64 (f32 engine) or complex128 (f64 engine) array, e.g. field.astype(np.complex64)",
            arrays::dtype_name(&a)
        )))
    })
}

/// The saturable absorber's response to input field amplitudes `z` (z² = I/I_sat) as
/// `wavetrain absorber` prints it: `(g, t_probe, g_exact)`, float64 arrays of `z`'s shape
/// (floats for a number) — the output field amplitude (√I_sat units, as `z`), the weak probe's
/// field transmission (dimensionless; the optical derivative) and the true derivative dg/dz
/// (dimensionless). `od`: the optical depth α₀ on resonance (dimensionless, ≥ 0); `model`:
/// "thin" or "beer-lambert".
#[pyfunction]
#[pyo3(signature = (z, *, od = 10.0, model = "thin"))]
fn absorber<'py>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
    od: f64,
    model: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    guard(py, "absorber", || {
        if !(od.is_finite() && od >= 0.0) {
            return Err(config(
                py,
                "od",
                format!("optical depth must be a finite number ≥ 0, got {od}"),
            ));
        }
        let model: AbsorberModel = model.parse().map_err(|e: String| config(py, "model", e))?;
        let np = py.import("numpy")?;
        let kw = PyDict::new(py);
        kw.set_item("dtype", "float64")?;
        kw.set_item("order", "C")?;
        let arr = np.call_method("asarray", (z,), Some(&kw)).map_err(|_| {
            value("z must be a number or an array of numbers (input field amplitudes)")
        })?;
        let (zs, shape) = typed::<f64>(&arr).ok_or_else(|| value("z must hold real numbers"))?;
        check_finite(zs.iter().map(|v| v.is_finite()), "z")?;
        let abs = Absorber::new(od, model);
        let (mut g, mut t, mut ge) = (
            Vec::with_capacity(zs.len()),
            Vec::with_capacity(zs.len()),
            Vec::with_capacity(zs.len()),
        );
        for &zi in &zs {
            let (a, b, c) = abs.response(zi);
            g.push(a);
            t.push(b);
            ge.push(c);
        }
        let out = |v: Vec<f64>| -> PyResult<Bound<'py, PyAny>> {
            if shape.is_empty() {
                // A number in, numbers out.
                return Ok(pyo3::types::PyFloat::new(py, v[0]).into_any());
            }
            Ok(PyArray1::from_vec(py, v).reshape(shape.clone())?.into_any())
        };
        Ok((out(g)?, out(t)?, out(ge)?))
    })
}

/// Whether an `nx × ny` grid (pixels) of pitch `pitch` (m) can represent a free-space step of
/// `distance` (m) at `wavelength` (m), zero-padded by the factor `padding`, as
/// `wavetrain sampling --json` reports it: `cutoff` and `nyquist` (cycles/m),
/// `kept_fraction` and `evanescent_fraction` (0–1), `lateral_spread` and `margin` (m),
/// `wraparound_likely` and `aliasing_likely` (bools), plus `warnings`, the lines it prints.
#[pyfunction]
#[pyo3(signature = (*, nx, pitch, wavelength, distance, padding = 2.0, ny = None))]
fn sampling<'py>(
    py: Python<'py>,
    nx: usize,
    pitch: f64,
    wavelength: f64,
    distance: f64,
    padding: f64,
    ny: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "sampling", || {
        let grid = wavetrain::Grid::new(nx, ny.unwrap_or(nx), pitch).or_py(py)?;
        check_step(py, wavelength, distance, padding, true)?;
        let r = wavetrain::optics::sampling_report(
            grid.nx, grid.ny, grid.dx, padding, wavelength, distance,
        );
        let text = serde_json::to_string(&r).map_err(|e| value(format!("report: {e}")))?;
        let d = py.import("json")?.call_method1("loads", (text,))?;
        d.set_item("warnings", r.warnings())?;
        Ok(d)
    })
}

/// An IDX file (MNIST format, optionally gzip-compressed) as a numpy array: images
/// uint8 (count, rows, cols), labels uint8 (count,).
#[pyfunction]
fn load_idx<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "load_idx", || {
        let bytes = py
            .detach(|| wavetrain::data::idx::read_maybe_gz(&path))
            .or_py(py)?;
        if bytes.len() >= 4 && bytes[3] == 1 {
            let l = wavetrain::data::idx::parse_labels(&path, &bytes, 256).or_py(py)?;
            return Ok(PyArray1::from_vec(py, l).into_any());
        }
        let im = wavetrain::data::idx::parse_images(&path, &bytes).or_py(py)?;
        Ok(PyArray1::from_vec(py, im.pixels)
            .reshape([im.count, im.rows, im.cols])?
            .into_any())
    })
}

/// The built-in presets, {name: TOML text}.
#[pyfunction]
fn presets(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (n, t) in wavetrain::presets::PRESETS {
        d.set_item(*n, *t)?;
    }
    Ok(d)
}

/// The folder of the bundled MNIST subset the package reads when no data is given.
#[pyfunction]
fn bundled_data() -> PathBuf {
    wavetrain::data::idx::bundled_dir()
}

/// Panics inside the guard (for the test that a Rust panic reaches Python as
/// `wavetrain.InternalError`, not as `PanicException`).
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    guard(py, "_panic_for_test", || {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 1;
        let _ = v[i];
        Ok(())
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(propagate, m)?)?;
    m.add_function(wrap_pyfunction!(absorber, m)?)?;
    m.add_function(wrap_pyfunction!(sampling, m)?)?;
    m.add_function(wrap_pyfunction!(load_idx, m)?)?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(bundled_data, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(export::export, m)?)?;
    m.add_function(wrap_pyfunction!(export::read_masks, m)?)?;
    m.add_function(wrap_pyfunction!(export::evaluate_masks, m)?)?;
    m.add_function(wrap_pyfunction!(export::capture, m)?)?;
    m.add_function(wrap_pyfunction!(export::read_captures, m)?)?;
    m.add_function(wrap_pyfunction!(export::calibrate, m)?)?;
    m.add_class::<network::PyNetwork>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
