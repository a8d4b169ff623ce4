//! The lab in the loop of `wavetrain.train(..., lab=obj)`: the training thread's side
//! ([`ChannelLab`], a [`wavetrain::train::lab::Lab`] that sends each call over the run's
//! channel) and the calling thread's ([`perform`], which makes the call holding the GIL,
//! through `wavetrain.lab._call` and its time-out, and converts the arrays). The user's lab code
//! thus never runs on the training thread: it runs on the thread that called `train`
//! (notebooks, instrument drivers), or on a daemon thread of `wavetrain.lab` when
//! `lab_timeout` is set, and Ctrl-C keeps working.

use std::sync::mpsc;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wavetrain::train::lab::{Lab, LabOutput};
use wavetrain::{Error, Result};

use crate::train::Msg;

/// Which method of the lab a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabMethod {
    Forward,
    Probe,
}

impl LabMethod {
    pub fn name(self) -> &'static str {
        match self {
            LabMethod::Forward => "forward",
            LabMethod::Probe => "probe",
        }
    }
}

/// One call of the lab, as the trainer asks it.
pub struct LabCall {
    pub method: LabMethod,
    /// Parameters in `Network::param_elements` order.
    pub params: Vec<Vec<f32>>,
    /// Encoded inputs `[batch][ny][nx]`.
    pub input: Vec<f32>,
    pub batch: usize,
    /// `∂L/∂P`, `[batch][classes]` (probe only).
    pub upstream: Vec<f32>,
}

/// What a call returned.
pub enum LabAnswer {
    Output(LabOutput),
    Grads(Vec<Vec<f32>>),
}

/// The lab's name and whether it has a probe, read on the calling thread before the run.
#[derive(Clone, Debug)]
pub struct LabHandle {
    pub name: String,
    pub probe: bool,
}

/// The lab as the training thread sees it: each call a message to the calling thread.
pub struct ChannelLab {
    handle: LabHandle,
    tx: mpsc::Sender<Msg>,
}

impl ChannelLab {
    pub fn new(handle: LabHandle, tx: mpsc::Sender<Msg>) -> Self {
        ChannelLab { handle, tx }
    }

    fn call(&self, call: LabCall) -> Result<LabAnswer> {
        let method = call.method.name();
        let (rtx, rrx) = mpsc::channel();
        let gone = || {
            Error::Lab(format!(
                "{}.{method}: the thread that called wavetrain.train stopped answering",
                self.handle.name
            ))
        };
        self.tx.send(Msg::Lab(call, rtx)).map_err(|_| gone())?;
        rrx.recv().map_err(|_| gone())?
    }
}

impl Lab for ChannelLab {
    fn name(&self) -> String {
        self.handle.name.clone()
    }
    fn forward(&mut self, params: &[Vec<f32>], input: &[f32], batch: usize) -> Result<LabOutput> {
        match self.call(LabCall {
            method: LabMethod::Forward,
            params: params.to_vec(),
            input: input.to_vec(),
            batch,
            upstream: Vec::new(),
        })? {
            LabAnswer::Output(o) => Ok(o),
            LabAnswer::Grads(_) => Err(Error::Lab("forward answered with gradients".into())),
        }
    }
    fn has_probe(&self) -> bool {
        self.handle.probe
    }
    fn probe(
        &mut self,
        params: &[Vec<f32>],
        input: &[f32],
        batch: usize,
        upstream: &[f32],
    ) -> Result<Vec<Vec<f32>>> {
        match self.call(LabCall {
            method: LabMethod::Probe,
            params: params.to_vec(),
            input: input.to_vec(),
            batch,
            upstream: upstream.to_vec(),
        })? {
            LabAnswer::Grads(g) => Ok(g),
            LabAnswer::Output(_) => Err(Error::Lab("probe answered with a readout".into())),
        }
    }
}

/// The network's geometry the calls need: the trainable elements' names and shapes, the
/// grid, the classes.
pub struct Geometry {
    pub names: Vec<String>,
    pub shapes: Vec<[usize; 2]>,
    pub ny: usize,
    pub nx: usize,
    pub classes: usize,
}

impl Geometry {
    pub fn of(net: &wavetrain::network::Network) -> Self {
        let cfg = net.config();
        Geometry {
            names: net
                .param_elements()
                .iter()
                .map(|&e| net.element_name(e).unwrap_or("element").to_string())
                .collect(),
            shapes: net.param_shapes(),
            ny: cfg.optics.ny,
            nx: cfg.optics.nx,
            classes: cfg.readout.classes,
        }
    }
}

/// The lab's name and probe, checked: `lab` must have a callable `forward`
/// (`wavetrain.lab._describe`).
pub fn describe(py: Python<'_>, lab: &Bound<'_, PyAny>) -> PyResult<LabHandle> {
    let (name, probe): (String, bool) = py
        .import("wavetrain.lab")?
        .call_method1("_describe", (lab,))?
        .extract()?;
    Ok(LabHandle { name, probe })
}

/// Makes `call` on `lab` (holding the GIL), with `timeout` seconds at most when given, and
/// converts its result; a Python exception (the lab's, a time-out, a wrong shape) is returned
/// as it is.
pub fn perform(
    py: Python<'_>,
    lab: &Bound<'_, PyAny>,
    call: &LabCall,
    g: &Geometry,
    timeout: Option<f64>,
) -> PyResult<LabAnswer> {
    let masks = PyDict::new(py);
    for ((name, shape), p) in g.names.iter().zip(&g.shapes).zip(&call.params) {
        masks.set_item(name, PyArray1::from_slice(py, p).reshape(*shape)?)?;
    }
    let input = PyArray1::from_slice(py, &call.input).reshape([call.batch, g.ny, g.nx])?;
    let module = py.import("wavetrain.lab")?;
    match call.method {
        LabMethod::Forward => {
            let out = module.call_method1("_forward", (lab, masks, input, g.classes, timeout))?;
            let (v, shape) = crate::arrays::typed::<f32>(&out)
                .ok_or_else(|| crate::errors::value("lab.forward: not a float32 array"))?;
            Ok(LabAnswer::Output(if shape.len() == 3 {
                LabOutput::Frames(v)
            } else {
                LabOutput::Powers(v)
            }))
        }
        LabMethod::Probe => {
            let upstream =
                PyArray1::from_slice(py, &call.upstream).reshape([call.batch, g.classes])?;
            let names = g.names.clone();
            let out =
                module.call_method1("_probe", (lab, masks, input, upstream, names, timeout))?;
            let arrays: Vec<Bound<'_, PyAny>> = out.extract()?;
            let mut grads = Vec::with_capacity(arrays.len());
            for a in &arrays {
                let (v, _) = crate::arrays::typed::<f32>(a)
                    .ok_or_else(|| crate::errors::value("lab.probe: not a float32 array"))?;
                grads.push(v);
            }
            Ok(LabAnswer::Grads(grads))
        }
    }
}
