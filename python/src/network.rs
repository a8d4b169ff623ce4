//! `wavetrain.Network`: a resolved network and its parameters, from a preset, a TOML config
//! or a checkpoint; its readout, planes and gradients on numpy arrays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use wavetrain::backend::Backend;
use wavetrain::model::{Config, GradientMode};
use wavetrain::network::{Network, State};

use crate::arrays::{check_finite, input, typed, Input};
use crate::errors::{config, guard, value, OrPy};

/// A compute engine cached by a network for `forward` (built on first use).
type Engine = Box<dyn Backend + Send>;

/// A network ready to run: its resolved config and its parameters.
#[pyclass(module = "wavetrain._core", name = "Network", frozen)]
pub struct PyNetwork {
    pub net: Arc<Network>,
    pub state: Arc<State>,
    engines: Mutex<Vec<(String, Engine)>>,
    /// GPU executors of `vjp`, one per (gradient mode, system), built on first use.
    #[cfg(feature = "gpu")]
    vjp_engines: Mutex<Vec<(String, wavetrain::gpu::GpuBackend)>>,
}

impl PyNetwork {
    pub fn new(net: Network, state: State) -> Self {
        PyNetwork {
            net: Arc::new(net),
            state: Arc::new(state),
            engines: Mutex::new(Vec::new()),
            #[cfg(feature = "gpu")]
            vjp_engines: Mutex::new(Vec::new()),
        }
    }

    fn fresh(py: Python<'_>, cfg: Config) -> PyResult<Self> {
        let net = cfg.resolve().or_py(py)?;
        let state = net.initial_state();
        Ok(PyNetwork::new(net, state))
    }

    /// The encoded inputs `[batch][input_len]` of `obj` and the batch size.
    fn encoded(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        what: &str,
        single: bool,
    ) -> PyResult<(Vec<f32>, usize)> {
        let cfg = self.net.config();
        let per = self.net.input_len();
        match input(obj, what, single)? {
            Input::Pixels {
                pixels,
                count,
                rows,
                cols,
            } => {
                if let Some(task) = cfg.input.task {
                    return Err(config(
                        py,
                        "input.task",
                        format!(
                            "this network takes the points of the generated '{}' task, not images: pass a float array (batch, {per}) of encoded inputs",
                            task.name()
                        ),
                    ));
                }
                let split = wavetrain::data::Split {
                    images: wavetrain::data::Images {
                        count,
                        rows,
                        cols,
                        pixels,
                    },
                    labels: vec![0; count],
                    points: Vec::new(),
                };
                let idx: Vec<usize> = (0..count).collect();
                let mut out = vec![0.0f32; count * per];
                py.detach(|| wavetrain::data::encode(cfg, &split, &idx, &mut out));
                Ok((out, count))
            }
            Input::Encoded { values, shape } => {
                let want = input_shape(&self.net);
                let ok = if single {
                    shape == want
                        || (shape.len() == want.len() + 1
                            && shape[0] == 1
                            && shape[1..] == want[..])
                } else {
                    shape.len() == want.len() + 1 && shape[1..] == want[..]
                };
                if !ok {
                    let w: Vec<String> = want.iter().map(|v| v.to_string()).collect();
                    return Err(value(format!(
                        "{what}: encoded inputs of this network have shape ({}{}), got {shape:?}",
                        if single { "" } else { "batch, " },
                        w.join(", ")
                    )));
                }
                let batch = values.len() / per.max(1);
                Ok((values, batch))
            }
        }
    }

    /// The engine `choice` (`cpu` or `gpu`) for this network, built once.
    fn with_engine<R>(
        &self,
        choice: &str,
        f: impl FnOnce(&mut dyn Backend) -> wavetrain::Result<R>,
    ) -> wavetrain::Result<R> {
        let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        let at = match engines.iter().position(|(c, _)| c == choice) {
            Some(i) => i,
            None => {
                let e: Engine = match choice {
                    // "cpu:params": a second CPU engine whose parameters `forward(params=…)`
                    // replaces at every call, leaving the network's own engine as it is.
                    "cpu" | "cpu:params" => {
                        Box::new(wavetrain::cpu::CpuBackend::new(&self.net, &self.state)?)
                    }
                    #[cfg(feature = "gpu")]
                    _ => {
                        let req = wavetrain::gpu::AdapterRequest {
                            name: None,
                            allow_software: true,
                        };
                        Box::new(wavetrain::gpu::GpuBackend::new(
                            &req,
                            &self.net,
                            &self.state,
                        )?)
                    }
                    #[cfg(not(feature = "gpu"))]
                    _ => return Err(wavetrain::Error::Gpu(
                        "this build of the Python package has no GPU support: use backend=\"cpu\""
                            .into(),
                    )),
                };
                engines.push((choice.to_string(), e));
                engines.len() - 1
            }
        };
        f(engines[at].1.as_mut())
    }

    /// Readout `[batch][classes]` of encoded inputs on `backend`, timed by the engine itself
    /// (seconds of `predict`).
    fn predict(
        &self,
        py: Python<'_>,
        x: &[f32],
        backend: &str,
        precision: &str,
    ) -> PyResult<(Vec<f32>, f64)> {
        let backend = match backend {
            "cpu" | "gpu" => backend,
            "auto" => "cpu",
            other => {
                return Err(config(
                    py,
                    "backend",
                    format!("unknown backend '{other}': use cpu or gpu"),
                ))
            }
        };
        match precision {
            "f32" => py
                .detach(|| {
                    self.with_engine(backend, |e| {
                        let t0 = std::time::Instant::now();
                        let out = e.predict(x)?;
                        Ok((out, t0.elapsed().as_secs_f64()))
                    })
                })
                .or_py(py),
            "f64" => Err(config(
                py,
                "precision",
                "f64 runs on the CPU reference engine only: use backend=\"cpu\"",
            )),
            other => Err(config(
                py,
                "precision",
                format!("unknown precision '{other}': use f32 or f64"),
            )),
        }
    }
}

/// The shape of one encoded input: `(ny, nx)` for a field network, `(input_len,)` for a dense
/// one.
fn input_shape(net: &Network) -> Vec<usize> {
    if net.is_dense() {
        vec![net.input_len()]
    } else {
        let o = &net.config().optics;
        vec![o.ny, o.nx]
    }
}

/// A Python value as `--set` would take it on the command line.
fn set_value(py: Python<'_>, key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.extract::<bool>() {
        return Ok(b.to_string());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_string());
    }
    if v.extract::<i64>().is_ok() || v.extract::<f64>().is_ok() {
        return Ok(v.repr()?.to_string());
    }
    Err(config(
        py,
        key,
        format!(
            "the value {} is not a number, a string or a bool: overrides take the values of --set KEY=VALUE",
            v.repr().map(|r| r.to_string()).unwrap_or_default()
        ),
    ))
}

/// `(key, value)` pairs of `overrides` then `kwargs`, as `--set` takes them.
pub fn override_pairs(
    py: Python<'_>,
    overrides: Option<&Bound<'_, PyDict>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for d in [overrides, kwargs].into_iter().flatten() {
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                value("override keys must be strings such as \"od\" or \"train.lr\"")
            })?;
            let val = set_value(py, &key, &v)?;
            out.push((key, val));
        }
    }
    Ok(out)
}

/// `cfg` with every override applied, as `--set` applies them.
pub fn apply_overrides(
    py: Python<'_>,
    mut cfg: Config,
    pairs: &[(String, String)],
) -> PyResult<Config> {
    for (k, v) in pairs {
        cfg = cfg.set(k, v).or_py(py)?;
    }
    Ok(cfg)
}

/// Inputs at full precision for `vjp` and `forward`'s exact path.
enum Full {
    F32(Vec<f32>),
    F64(Vec<f64>),
    C(Vec<num_complex::Complex<f64>>),
}

impl Full {
    fn as_input(&self) -> wavetrain::diagnose::VjpInput<'_> {
        use wavetrain::diagnose::VjpInput;
        match self {
            Full::F32(x) => VjpInput::Real(x),
            Full::F64(x) => VjpInput::Real64(x),
            Full::C(x) => VjpInput::Complex(x),
        }
    }
}

impl PyNetwork {
    /// Gradients per trainable element as `{name: float64 array shaped as params()}`.
    fn grads_dict<'py>(
        &self,
        py: Python<'py>,
        grads: Vec<Vec<f64>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for ((e, shape), g) in self
            .net
            .param_elements()
            .iter()
            .zip(self.net.param_shapes())
            .zip(grads)
        {
            let name = self.net.element_name(*e).unwrap_or("element");
            d.set_item(name, PyArray1::from_vec(py, g).reshape(shape)?)?;
        }
        Ok(d)
    }

    /// The GPU executor of `net` in gradient `mode` on its own system, built once per mode and
    /// system and kept (for `vjp` and `forward` with `params` on the GPU).
    #[cfg(feature = "gpu")]
    fn with_gpu_engine<R>(
        &self,
        net: &wavetrain::network::Network,
        mode: GradientMode,
        f: impl FnOnce(&mut wavetrain::gpu::GpuBackend) -> wavetrain::Result<R>,
    ) -> wavetrain::Result<R> {
        let key = format!("{mode:?}:{}", net.system().name());
        let mut engines = self.vjp_engines.lock().unwrap_or_else(|p| p.into_inner());
        let at = match engines.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let mut cfg = net.config().clone();
                cfg.train.gradient = mode;
                let n = cfg.resolve()?.on(net.system())?;
                let req = wavetrain::gpu::AdapterRequest {
                    name: None,
                    allow_software: true,
                };
                let e = wavetrain::gpu::GpuBackend::new(&req, &n, &self.state)?;
                engines.push((key, e));
                engines.len() - 1
            }
        };
        f(&mut engines[at].1)
    }

    /// `vjp` on the GPU: the parameter gradients of `net` (the system asked for, in `mode`) by
    /// the GPU executor's pump and probe passes, its executor built once per mode and system
    /// and given `params` (or the network's) at every call. Single precision, real inputs.
    #[allow(clippy::too_many_arguments)]
    fn vjp_gpu(
        &self,
        py: Python<'_>,
        x: &Full,
        up: &[f64],
        net: &wavetrain::network::Network,
        mode: wavetrain::model::GradientMode,
        params: Option<&[Vec<f64>]>,
        precision: &str,
    ) -> PyResult<Vec<Vec<f64>>> {
        if precision != "f32" {
            return Err(config(
                py,
                "precision",
                "the GPU runs in single precision: pass precision=\"f32\" with backend=\"gpu\"",
            ));
        }
        let Full::F32(x) = x else {
            return Err(config(
                py,
                "backend",
                "the GPU's vector–Jacobian product takes real float32 inputs (or uint8 images); complex or float64 inputs run on the CPU: backend=\"cpu\"",
            ));
        };
        #[cfg(feature = "gpu")]
        {
            let p32: Vec<Vec<f32>> = match params {
                Some(p) => p
                    .iter()
                    .map(|v| v.iter().map(|&a| a as f32).collect())
                    .collect(),
                None => self.state.params.clone(),
            };
            let up32: Vec<f32> = up.iter().map(|&v| v as f32).collect();
            let grads = py
                .detach(|| {
                    self.with_gpu_engine(net, mode, |e| {
                        e.set_params(&p32)?;
                        e.vjp(x, &up32)
                    })
                })
                .or_py(py)?;
            Ok(grads
                .into_iter()
                .map(|g| g.into_iter().map(f64::from).collect())
                .collect())
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = (x, up, net, mode, params);
            Err(crate::errors::to_py(
                py,
                wavetrain::Error::Gpu(
                    "this build of the Python package has no GPU support: use backend=\"cpu\""
                        .into(),
                ),
            ))
        }
    }
}

impl PyNetwork {
    /// `obj` as full-precision inputs: complex fields (field networks), float64 values kept in
    /// double precision, else as [`encoded`](Self::encoded) gives them; with the batch size.
    fn full_inputs(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        what: &str,
    ) -> PyResult<(Full, usize)> {
        let want = input_shape(&self.net);
        let batch = |shape: &[usize]| -> PyResult<usize> {
            if shape.len() == want.len() + 1 && shape[1..] == want[..] {
                Ok(shape[0])
            } else {
                let w: Vec<String> = want.iter().map(|v| v.to_string()).collect();
                Err(value(format!(
                    "{what}: inputs of this network have shape (batch, {}), got {shape:?}",
                    w.join(", ")
                )))
            }
        };
        let complex = typed::<num_complex::Complex<f64>>(obj).or_else(|| {
            typed::<num_complex::Complex<f32>>(obj).map(|(v, s)| {
                (
                    v.iter()
                        .map(|z| num_complex::Complex::new(z.re as f64, z.im as f64))
                        .collect(),
                    s,
                )
            })
        });
        if let Some((v, s)) = complex {
            if self.net.is_dense() {
                return Err(config(
                    py,
                    what,
                    "a dense network takes real input amplitudes: complex fields are for field (diffractive) networks",
                ));
            }
            let b = batch(&s)?;
            check_finite(v.iter().map(|z| z.re.is_finite() && z.im.is_finite()), what)?;
            return Ok((Full::C(v), b));
        }
        if let Some((v, s)) = typed::<f64>(obj) {
            let b = batch(&s)?;
            check_finite(v.iter().map(|z| z.is_finite()), what)?;
            return Ok((Full::F64(v), b));
        }
        let (x, b) = self.encoded(py, obj, what, false)?;
        Ok((Full::F32(x), b))
    }

    /// Full-precision parameters: the state's, with the arrays of `params` (by element name,
    /// any float dtype, not rounded to float32) in their place.
    fn params64(
        &self,
        py: Python<'_>,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<Vec<Vec<f64>>>> {
        let Some(d) = params else {
            return Ok(None);
        };
        let mut out: Vec<Vec<f64>> = self
            .state
            .params
            .iter()
            .map(|p| p.iter().map(|&v| v as f64).collect())
            .collect();
        let names: Vec<String> = self
            .net
            .param_elements()
            .iter()
            .map(|&e| self.net.element_name(e).unwrap_or("element").to_string())
            .collect();
        for (k, v) in d.iter() {
            let key: String = k
                .extract()
                .map_err(|_| value("params: keys must be element names (see params())"))?;
            let i = names.iter().position(|n| *n == key).ok_or_else(|| {
                config(
                    py,
                    "params",
                    format!("'{key}' has no parameters: the trainable elements are {names:?}"),
                )
            })?;
            let (vals, _) = typed::<f64>(&v)
                .or_else(|| {
                    typed::<f32>(&v).map(|(x, s)| (x.iter().map(|&a| a as f64).collect(), s))
                })
                .ok_or_else(|| {
                    value(format!(
                        "{key}: parameters must be a float32 or float64 array"
                    ))
                })?;
            if vals.len() != out[i].len() {
                return Err(value(format!(
                    "{key}: {} values given, the element has {}",
                    vals.len(),
                    out[i].len()
                )));
            }
            check_finite(vals.iter().map(|v| v.is_finite()), &key)?;
            out[i] = vals;
        }
        Ok(Some(out))
    }
}

fn gradient_mode(py: Python<'_>, g: &str) -> PyResult<GradientMode> {
    g.parse().map_err(|e: String| config(py, "gradient", e))
}

#[pymethods]
impl PyNetwork {
    /// A built-in network (`wavetrain presets` lists them), with `overrides` applied as
    /// `--set KEY=VALUE` applies them (`od=10`, `train.lr=0.01`, `elements[3].od=1`), given as
    /// a dict and/or keyword arguments. Parameters start from the config's initialisation.
    #[staticmethod]
    #[pyo3(signature = (name = "d2nn-mnist", overrides = None, **kwargs))]
    fn preset(
        py: Python<'_>,
        name: &str,
        overrides: Option<&Bound<'_, PyDict>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        guard(py, "Network.preset", || {
            let pairs = override_pairs(py, overrides, kwargs)?;
            let cfg = wavetrain::presets::preset(name).or_py(py)?;
            Self::fresh(py, apply_overrides(py, cfg, &pairs)?)
        })
    }

    /// A network from a TOML config: a path to a file (str or os.PathLike), or the TOML text
    /// itself; `overrides` as in `preset`.
    #[staticmethod]
    #[pyo3(signature = (source, overrides = None, **kwargs))]
    fn from_toml(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        overrides: Option<&Bound<'_, PyDict>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        guard(py, "Network.from_toml", || {
            let pairs = override_pairs(py, overrides, kwargs)?;
            let cfg = match source.cast::<PyString>() {
                Ok(s) => {
                    let text = s.to_string();
                    let p = Path::new(&text);
                    // A file that exists is read; else TOML syntax (a line break, `=`, a
                    // `[table]` header) makes it text, even on one line; anything else is a path.
                    if p.is_file() || !text.contains(['\n', '=', '[']) {
                        Config::from_file(p).or_py(py)?
                    } else {
                        Config::from_toml(&text, "<toml text>").or_py(py)?
                    }
                }
                Err(_) => {
                    let p: PathBuf = source.extract().map_err(|_| {
                        value("source must be TOML text or a path (str or os.PathLike)")
                    })?;
                    Config::from_file(&p).or_py(py)?
                }
            };
            Self::fresh(py, apply_overrides(py, cfg, &pairs)?)
        })
    }

    /// The network and trained parameters of a checkpoint (`checkpoint.safetensors`, or a run
    /// folder holding one).
    #[staticmethod]
    fn from_checkpoint(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(py, "Network.from_checkpoint", || {
            let file = if path.is_dir() {
                path.join("checkpoint.safetensors")
            } else {
                path
            };
            let ck = py
                .detach(|| wavetrain::checkpoint::Checkpoint::load(&file))
                .or_py(py)?;
            Ok(PyNetwork::new(ck.network, ck.state))
        })
    }

    /// The network of a checkpoint (or a run folder) running the masks read back from an
    /// exported folder (`wavetrain.export`) in place of its trained ones: from the SLM bitmaps
    /// (`kind="slm"`, the default when there are some) or the height maps (`kind="height"`).
    /// The checkpoint must be the one the masks came from (its SHA-256 is checked, as is every
    /// exported file's); the network's own SLM response (phase_range, phase_bits, phase_lut) is
    /// cleared, as the exported levels already went through it.
    #[staticmethod]
    #[pyo3(signature = (checkpoint, masks, *, kind = None))]
    fn from_masks(
        py: Python<'_>,
        checkpoint: PathBuf,
        masks: PathBuf,
        kind: Option<&str>,
    ) -> PyResult<Self> {
        guard(py, "Network.from_masks", || {
            let kind = crate::export::mask_kind(py, kind)?;
            let (_, net, state) = py
                .detach(|| {
                    let m = wavetrain::export::read_masks(&masks, kind)?;
                    wavetrain::export::with_masks(&checkpoint, &m)
                })
                .or_py(py)?;
            Ok(PyNetwork::new(net, state))
        })
    }

    /// The config's name.
    #[getter]
    fn name(&self) -> String {
        self.net.config().name.clone()
    }

    /// The resolved config as TOML text (what a run folder's config.toml holds).
    #[getter]
    fn toml(&self) -> String {
        self.net.config().to_toml()
    }

    /// The resolved config as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(self.net.config())
            .map_err(|e| value(format!("cannot convert the config: {e}")))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// True for a network of dense (matrix–vector) layers, False for a field (diffractive) one.
    #[getter]
    fn is_dense(&self) -> bool {
        self.net.is_dense()
    }

    /// Number of classes (detectors, or outputs of a dense network).
    #[getter]
    fn classes(&self) -> usize {
        self.net.config().readout.classes
    }

    /// Shape of one encoded input: (ny, nx) for a field network, (input_len,) for a dense one.
    #[getter]
    fn input_shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, input_shape(&self.net))
    }

    /// Every element's name ("elements[i] KIND"), in config order.
    #[getter]
    fn elements(&self) -> Vec<String> {
        (0..self.net.config().elements.len())
            .filter_map(|i| self.net.element_name(i).map(String::from))
            .collect()
    }

    /// The trainable parameters, {element name: float32 array}: phases (rad) or amplitude
    /// transmissions (dimensionless, |w| ≤ 1) of each SLM, (sy, sx); weights of each dense
    /// layer (dimensionless), (out, in).
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(py, "Network.params", || {
            let d = PyDict::new(py);
            for ((e, shape), p) in self
                .net
                .param_elements()
                .iter()
                .zip(self.net.param_shapes())
                .zip(&self.state.params)
            {
                let a = PyArray1::from_vec(py, p.clone()).reshape(shape)?;
                d.set_item(self.net.element_name(*e).unwrap_or("element"), a)?;
            }
            Ok(d)
        })
    }

    /// A copy of this network with some parameters replaced, {element name: array of the shape
    /// `params()` gives} (the optimiser state is kept).
    fn with_params(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        guard(py, "Network.with_params", || {
            let mut state = (*self.state).clone();
            let names: Vec<String> = self
                .net
                .param_elements()
                .iter()
                .map(|&e| self.net.element_name(e).unwrap_or("element").to_string())
                .collect();
            let shapes = self.net.param_shapes();
            for (k, v) in params.iter() {
                let key: String = k
                    .extract()
                    .map_err(|_| value("parameter names must be strings"))?;
                let i = names.iter().position(|n| *n == key).ok_or_else(|| {
                    value(format!(
                        "'{key}' has no parameters: the trainable elements are {}",
                        names.join(", ")
                    ))
                })?;
                crate::arrays::ndarray(&v, &key)?;
                let (vals, shape) = typed::<f32>(&v)
                    .or_else(|| {
                        typed::<f64>(&v).map(|(x, s)| (x.iter().map(|&a| a as f32).collect(), s))
                    })
                    .ok_or_else(|| {
                        value(format!(
                            "{key}: parameters must be a float32 or float64 array"
                        ))
                    })?;
                if shape != shapes[i] {
                    return Err(value(format!(
                        "{key}: parameters of shape {:?} expected, got {shape:?}",
                        shapes[i]
                    )));
                }
                check_finite(vals.iter().map(|v| v.is_finite()), &key)?;
                state.params[i] = vals;
            }
            self.net.check_state(&state).or_py(py)?;
            Ok(PyNetwork::new((*self.net).clone(), state))
        })
    }

    /// Inputs encoded as the trainer encodes them: uint8 images (batch, rows, cols) resampled
    /// and placed on the grid (field networks: (batch, ny, nx) amplitudes, √I/I_sat) or to
    /// `input.size` squared amplitudes (dense networks: (batch, input_len)).
    fn encode<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, "Network.encode", || {
            let (x, b) = self.encoded(py, images, "images", false)?;
            let mut shape = vec![b];
            shape.extend(input_shape(&self.net));
            Ok(PyArray1::from_vec(py, x).reshape(shape)?.into_any())
        })
    }

    /// Readout of a batch: detector powers (field networks, Σ|E|²·dx² over each detector, in
    /// units of I_sat·m²) or output field amplitudes (dense networks, √I_sat units), float32
    /// (batch, classes); float64 with precision="f64". `images`: uint8 (batch, rows, cols), encoded
    /// as in training, float32/float64 encoded inputs (batch, *input_shape), or complex64/
    /// complex128 input fields (batch, ny, nx) of a field network (phase objects, holograms;
    /// |E|² = I/I_sat, taken as given). `backend`: cpu or gpu; `precision`: f32, or f64 (the CPU
    /// reference engine in double precision; float64 inputs then stay in double precision).
    /// `params`: {element name: float array} evaluated instead of the network's parameters,
    /// at full precision (CPU). Complex inputs and `params` run on the CPU engine.
    #[pyo3(signature = (images, *, backend = "cpu", precision = "f32", params = None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        backend: &str,
        precision: &str,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, "Network.forward", || {
            let k = self.classes();
            let complex = typed::<num_complex::Complex<f64>>(images).is_some()
                || typed::<num_complex::Complex<f32>>(images).is_some();
            let wide = precision == "f64" && typed::<f64>(images).is_some();
            let kept =
                matches!(backend, "cpu" | "auto") || (cfg!(feature = "gpu") && backend == "gpu");
            if params.is_some() && !complex && precision == "f32" && kept {
                // Parameters given, in single precision (the torch layer's forward): an engine
                // kept for this (on the CPU a second one, on the GPU the executor `vjp` keeps),
                // its buffers reused, given them at every call; on the CPU the same executor
                // and the same rounding as the reference path below.
                let (x, b) = self.encoded(py, images, "images", false)?;
                let p32: Vec<Vec<f32>> = self
                    .params64(py, params)?
                    .unwrap_or_default()
                    .iter()
                    .map(|v| v.iter().map(|&a| a as f32).collect())
                    .collect();
                let run = |e: &mut dyn Backend| -> wavetrain::Result<Vec<f32>> {
                    e.set_params(&p32)?;
                    e.predict(&x)
                };
                let out = if b == 0 {
                    Vec::new()
                } else if backend == "gpu" {
                    #[cfg(feature = "gpu")]
                    let out = py.detach(|| {
                        let mode = self.net.config().train.gradient;
                        self.with_gpu_engine(&self.net, mode, |e| run(e))
                    });
                    #[cfg(not(feature = "gpu"))]
                    let out: wavetrain::Result<Vec<f32>> = Err(wavetrain::Error::Gpu(
                        "this build of the Python package has no GPU support: use backend=\"cpu\""
                            .into(),
                    ));
                    out.or_py(py)?
                } else {
                    py.detach(|| self.with_engine("cpu:params", run))
                        .or_py(py)?
                };
                return Ok(PyArray1::from_vec(py, out).reshape([b, k])?.into_any());
            }
            if complex || wide || params.is_some() {
                // Complex fields, float64 inputs at f64, or full-precision parameters: the CPU
                // reference engine, nothing rounded.
                if !matches!(backend, "cpu" | "auto") {
                    return Err(config(
                        py,
                        "backend",
                        "complex inputs, float64 inputs at f64 and params at f64 run on the CPU reference engine: use backend=\"cpu\" (params with float32 inputs at precision=\"f32\" run on the GPU)",
                    ));
                }
                let (x, b) = self.full_inputs(py, images, "images")?;
                let p64 = self.params64(py, params)?;
                let (net, state) = (&self.net, &self.state);
                let out = if b == 0 {
                    Vec::new()
                } else {
                    py.detach(|| match precision {
                        "f32" => wavetrain::diagnose::readout_at::<f32>(
                            net,
                            state,
                            p64.as_deref(),
                            x.as_input(),
                        ),
                        "f64" => wavetrain::diagnose::readout_at::<f64>(
                            net,
                            state,
                            p64.as_deref(),
                            x.as_input(),
                        ),
                        other => Err(wavetrain::Error::config(
                            "precision",
                            format!("unknown precision '{other}': use f32 or f64"),
                        )),
                    })
                    .or_py(py)?
                };
                if precision == "f64" {
                    return Ok(PyArray1::from_vec(py, out).reshape([b, k])?.into_any());
                }
                let out: Vec<f32> = out.iter().map(|&v| v as f32).collect();
                return Ok(PyArray1::from_vec(py, out).reshape([b, k])?.into_any());
            }
            let (x, b) = self.encoded(py, images, "images", false)?;
            if precision == "f64" && matches!(backend, "cpu" | "auto") {
                // The CPU reference engine in double precision, float64 out (finite differences).
                let out = if b == 0 {
                    Vec::new()
                } else {
                    let (net, state) = (&self.net, &self.state);
                    py.detach(|| wavetrain::diagnose::readout::<f64>(net, state, &x))
                        .or_py(py)?
                };
                return Ok(PyArray1::from_vec(py, out).reshape([b, k])?.into_any());
            }
            let out = if b == 0 {
                Vec::new()
            } else {
                self.predict(py, &x, backend, precision)?.0
            };
            Ok(PyArray1::from_vec(py, out).reshape([b, k])?.into_any())
        })
    }

    /// `forward` timed by the engine: `(readout, seconds)`, the seconds being those of the
    /// engine's own call (encoding excluded), for the overhead benchmark.
    #[pyo3(signature = (images, *, backend = "cpu"))]
    fn _forward_timed<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        backend: &str,
    ) -> PyResult<(Bound<'py, PyAny>, f64, f64)> {
        guard(py, "Network._forward_timed", || {
            let t0 = std::time::Instant::now();
            let (x, b) = self.encoded(py, images, "images", false)?;
            let encode = t0.elapsed().as_secs_f64();
            let (out, secs) = self.predict(py, &x, backend, "f32")?;
            let k = self.classes();
            Ok((
                PyArray1::from_vec(py, out).reshape([b, k])?.into_any(),
                encode,
                secs,
            ))
        })
    }

    /// The field leaving every element for one input (uint8 image (rows, cols) or encoded
    /// (ny, nx)): [(element name, complex64 array (ny, nx)), …] in pump order, the input
    /// first as ("input", …); amplitudes with |E|² = I/I_sat, on the grid of pitch
    /// `optics.pitch` (m; after a 2f lens, λf/(N·dx)). Field networks only.
    fn planes<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(py, "Network.planes", || {
            if self.net.is_dense() {
                return Err(config(
                    py,
                    "network",
                    "a dense network has no field planes: planes() is for field (diffractive) networks",
                ));
            }
            let (x, _) = self.encoded(py, image, "image", true)?;
            let o = &self.net.config().optics;
            let (ny, nx) = (o.ny, o.nx);
            let (net, state) = (&self.net, &self.state);
            let planes = py
                .detach(|| wavetrain::diagnose::planes(net, state, &x))
                .or_py(py)?;
            let list = PyList::empty(py);
            let input: Vec<num_complex::Complex32> = x
                .iter()
                .map(|&a| num_complex::Complex32::new(a, 0.0))
                .collect();
            list.append(("input", PyArray1::from_vec(py, input).reshape([ny, nx])?))?;
            for (name, f) in planes {
                list.append((name, PyArray1::from_vec(py, f).reshape([ny, nx])?))?;
            }
            Ok(list)
        })
    }

    /// Gradients of the batch's mean training loss (dimensionless), {element name: array
    /// shaped as params()}, in loss per unit of the parameter (per rad for a phase SLM),
    /// without updating anything: through the absorbers as `gradient` says ("optical": the
    /// probe's transmission, what the hardware measures; "exact": the true derivative).
    /// `precision`: f32 (float32 arrays) or f64 (float64 arrays, the reference engine in double
    /// precision).
    #[pyo3(signature = (images, labels, *, gradient = "optical", precision = "f32"))]
    fn gradients<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
        gradient: &str,
        precision: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, "Network.gradients", || {
            let mode = gradient_mode(py, gradient)?;
            let (x, b) = self.encoded(py, images, "images", false)?;
            if b == 0 {
                return Err(value("images: an empty batch has no gradient"));
            }
            let y = crate::arrays::labels(labels, self.classes(), b)?;
            let (net, state) = (&self.net, &self.state);
            let grads =
                match precision {
                    "f32" => py
                        .detach(|| wavetrain::diagnose::gradients::<f32>(net, state, &x, &y, mode)),
                    "f64" => py
                        .detach(|| wavetrain::diagnose::gradients::<f64>(net, state, &x, &y, mode)),
                    other => {
                        return Err(config(
                            py,
                            "precision",
                            format!("unknown precision '{other}': use f32 or f64"),
                        ))
                    }
                }
                .or_py(py)?
                .1;
            let d = PyDict::new(py);
            for ((e, shape), g) in self
                .net
                .param_elements()
                .iter()
                .zip(self.net.param_shapes())
                .zip(grads)
            {
                let name = self.net.element_name(*e).unwrap_or("element");
                if precision == "f64" {
                    d.set_item(name, PyArray1::from_vec(py, g).reshape(shape)?)?;
                } else {
                    let g: Vec<f32> = g.iter().map(|&v| v as f32).collect();
                    d.set_item(name, PyArray1::from_vec(py, g).reshape(shape)?)?;
                }
            }
            Ok(d)
        })
    }

    /// A vector–Jacobian product: for an upstream gradient `upstream` (float, (batch, classes))
    /// on the readout `y` (detector powers of a field network in I_sat·m², output amplitudes of a
    /// dense one), the gradient of `Σ upstream·y` with respect to every parameter ({element
    /// name: float64 array shaped as params()}, summed over the batch) and to the inputs
    /// (float64, the inputs' encoded shape; for complex inputs complex128 `∂/∂Re + i·∂/∂Im`).
    /// `inputs`: uint8 images (the gradient is then with respect to their encoded amplitudes),
    /// float32/float64 encoded inputs (float64 kept in double precision) or complex64/complex128
    /// input fields (field networks). `gradient`: "exact" or "optical" (through the absorbers
    /// as the probe sees them). `system`: "model" or "hardware" (absent: the network's own).
    /// `params`: {element name: float array} evaluated instead of the network's (full
    /// precision). On the CPU reference engine in `precision` f64 (or f32).
    #[pyo3(signature = (inputs, upstream, *, gradient = "exact", system = None, params = None,
        precision = "f64", backend = "cpu"))]
    #[allow(clippy::too_many_arguments)]
    #[allow(clippy::too_many_arguments)]
    fn vjp<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        upstream: &Bound<'py, PyAny>,
        gradient: &str,
        system: Option<&str>,
        params: Option<&Bound<'py, PyDict>>,
        precision: &str,
        backend: &str,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>)> {
        guard(py, "Network.vjp", || {
            let mode = gradient_mode(py, gradient)?;
            let (x, b) = self.full_inputs(py, inputs, "inputs")?;
            if b == 0 {
                return Err(value("inputs: an empty batch has no gradient"));
            }
            let k = self.classes();
            let (up, shape) = typed::<f64>(upstream)
                .or_else(|| {
                    typed::<f32>(upstream).map(|(v, s)| (v.iter().map(|&a| a as f64).collect(), s))
                })
                .ok_or_else(|| {
                    value("upstream: give a float32 or float64 array (batch, classes)")
                })?;
            if shape != [b, k] {
                return Err(value(format!(
                    "upstream: shape ({b}, {k}) expected (batch, classes), got {shape:?}"
                )));
            }
            check_finite(up.iter().map(|v| v.is_finite()), "upstream")?;
            let net = match system {
                None => (*self.net).clone(),
                Some(s) => {
                    let sys: wavetrain::network::System =
                        s.parse().map_err(|e: String| config(py, "system", e))?;
                    if sys == wavetrain::network::System::PhysicsAware {
                        return Err(config(
                            py,
                            "system",
                            "a vector–Jacobian product is of one system: give model or hardware",
                        ));
                    }
                    self.net.on(sys).or_py(py)?
                }
            };
            let p64 = self.params64(py, params)?;
            match backend {
                "cpu" | "auto" => {}
                "gpu" => {
                    let grads = self.vjp_gpu(py, &x, &up, &net, mode, p64.as_deref(), precision)?;
                    let d = self.grads_dict(py, grads)?;
                    return Ok((d, py.None().into_bound(py)));
                }
                other => {
                    return Err(config(
                        py,
                        "backend",
                        format!("unknown backend '{other}': use cpu or gpu"),
                    ))
                }
            }
            let state = &self.state;
            let (grads, gx) = py
                .detach(|| match precision {
                    "f32" => wavetrain::diagnose::vjp::<f32>(
                        &net,
                        state,
                        p64.as_deref(),
                        x.as_input(),
                        &up,
                        mode,
                    ),
                    "f64" => wavetrain::diagnose::vjp::<f64>(
                        &net,
                        state,
                        p64.as_deref(),
                        x.as_input(),
                        &up,
                        mode,
                    ),
                    other => Err(wavetrain::Error::config(
                        "precision",
                        format!("unknown precision '{other}': use f32 or f64"),
                    )),
                })
                .or_py(py)?;
            let d = self.grads_dict(py, grads)?;
            let mut shape = vec![b];
            shape.extend(input_shape(&self.net));
            let gx = match x {
                Full::C(_) => PyArray1::from_vec(py, gx).reshape(shape)?.into_any(),
                _ => {
                    let re: Vec<f64> = gx.iter().map(|z| z.re).collect();
                    PyArray1::from_vec(py, re).reshape(shape)?.into_any()
                }
            };
            Ok((d, gx))
        })
    }

    fn __repr__(&self) -> String {
        let shape: Vec<String> = input_shape(&self.net)
            .iter()
            .map(|v| v.to_string())
            .collect();
        format!(
            "Network('{}', {} network, input ({}), {} classes, {} trainable elements)",
            self.net.config().name,
            if self.net.is_dense() {
                "dense"
            } else {
                "field"
            },
            shape.join(", "),
            self.classes(),
            self.state.params.len()
        )
    }
}
