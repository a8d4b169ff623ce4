//! Diagnostics computed on a network and a state with the CPU reference engine, whichever
//! backend trained it: the operating point of each absorber, the first element whose output is
//! not finite, the field at every plane, and readouts and gradients without a training step
//! (for the Python bindings' `forward` and `gradients`). Above both backends, so a GPU run is diagnosed by
//! the same code as a CPU one.

use num_complex::Complex32;

use crate::cpu::{CpuDense, CpuField};
use crate::error::Result;
use crate::loss::LossStats;
use crate::model::GradientMode;
use crate::network::{Network, State};
use crate::real::Real;

/// Mean `s = I/I_sat` entering each absorber (pump order) for encoded inputs: field networks
/// average over the pixels that carry light (above 1e-3 of the brightest), dense networks over
/// every amplitude.
pub fn absorber_intensity(net: &Network, state: &State, input: &[f32]) -> Result<Vec<f64>> {
    Ok(if net.is_dense() {
        CpuDense::<f32>::new(net, state)?.absorber_intensity(input)
    } else {
        CpuField::<f32>::new(net, state)?.absorber_intensity(input)
    })
}

/// Name (`"elements[i] KIND"`) of the first element whose output holds a NaN or an infinity for
/// these inputs, or `None` when every field is finite.
pub fn locate_fault(net: &Network, state: &State, input: &[f32]) -> Result<Option<String>> {
    let at = if net.is_dense() {
        CpuDense::<f32>::new(net, state)?.locate_fault(input)
    } else {
        CpuField::<f32>::new(net, state)?.locate_fault(input)
    };
    Ok(at.and_then(|i| net.element_name(i).map(String::from)))
}

/// The field leaving every element of a field network (pump order, the whole batch of encoded
/// inputs `[batch][ny][nx]`), each with the element's name.
pub fn planes(
    net: &Network,
    state: &State,
    input: &[f32],
) -> Result<Vec<(String, Vec<Complex32>)>> {
    let mut exec = CpuField::<f32>::new(net, state)?;
    let mut out = Vec::new();
    let mut keep = |i: usize, f: &[Complex32]| {
        let name = net.element_name(i).unwrap_or("element").to_string();
        out.push((name, f.to_vec()));
    };
    exec.forward(input, Some(&mut keep));
    Ok(out)
}

/// Readout values `[batch][classes]` (detector powers, or output amplitudes of a dense network)
/// for encoded inputs, on the CPU reference engine in precision `T` (`f64` for finite
/// differences; the parameters are those of `state`, in `f32`).
pub fn readout<T: Real>(net: &Network, state: &State, input: &[f32]) -> Result<Vec<f64>> {
    Ok(if net.is_dense() {
        let x: Vec<T> = input.iter().map(|&v| T::of(v as f64)).collect();
        CpuDense::<T>::new(net, state)?
            .forward(&x)
            .iter()
            .map(|v| v.f64())
            .collect()
    } else {
        CpuField::<T>::new(net, state)?
            .forward(input, None)
            .iter()
            .map(|v| v.f64())
            .collect()
    })
}

/// The inputs of a vector–Jacobian product or of [`readout_at`]: encoded real amplitudes
/// (images as training encodes them; dense networks: the input vector), in f32 or f64, or
/// complex input fields of a field network (`|E|² = I/I_sat`).
#[derive(Clone, Copy, Debug)]
pub enum VjpInput<'a> {
    /// Real amplitudes, batch × input length.
    Real(&'a [f32]),
    /// Real amplitudes in double precision, batch × input length.
    Real64(&'a [f64]),
    /// Complex fields, batch × `ny·nx` (field networks).
    Complex(&'a [num_complex::Complex<f64>]),
}

/// A CPU executor of `net` in precision `T` whose parameters are `params` (full precision,
/// [`Network::param_elements`] order) when given, else the state's.
enum Exec<T: Real> {
    Field(Box<CpuField<T>>),
    Dense(Box<CpuDense<T>>),
}

impl<T: Real> Exec<T> {
    fn new(net: &Network, state: &State, params: Option<&[Vec<f64>]>) -> Result<Self> {
        let shapes: Vec<usize> = state.params.iter().map(Vec::len).collect();
        if let Some(p) = params {
            let got: Vec<usize> = p.iter().map(Vec::len).collect();
            if got != shapes {
                return Err(crate::Error::config(
                    "params",
                    format!(
                        "parameter tensors of {got:?} values given; the network has {shapes:?}"
                    ),
                ));
            }
        }
        let conv = |p: &[Vec<f64>]| -> Vec<Vec<T>> {
            p.iter()
                .map(|v| v.iter().map(|&x| T::of(x)).collect())
                .collect()
        };
        Ok(if net.is_dense() {
            let mut e = CpuDense::<T>::new(net, state)?;
            if let Some(p) = params {
                e.params = conv(p);
                e.refresh_weights();
            }
            Exec::Dense(Box::new(e))
        } else {
            let mut e = CpuField::<T>::new(net, state)?;
            if let Some(p) = params {
                e.params = conv(p);
                e.refresh_masks();
            }
            Exec::Field(Box::new(e))
        })
    }

    /// The readout of a batch.
    fn forward(&mut self, input: VjpInput<'_>) -> Result<Vec<f64>> {
        use num_complex::Complex;
        let out: &[T] = match (self, input) {
            (Exec::Dense(e), VjpInput::Real(x)) => {
                let x: Vec<T> = x.iter().map(|&v| T::of(v as f64)).collect();
                e.forward(&x)
            }
            (Exec::Dense(e), VjpInput::Real64(x)) => {
                let x: Vec<T> = x.iter().map(|&v| T::of(v)).collect();
                e.forward(&x)
            }
            (Exec::Dense(_), VjpInput::Complex(_)) => {
                return Err(crate::Error::config(
                    "input",
                    "a dense network takes real input amplitudes, not complex fields",
                ))
            }
            (Exec::Field(e), VjpInput::Real(x)) => e.forward(x, None),
            (Exec::Field(e), VjpInput::Real64(x)) => {
                let x: Vec<Complex<T>> = x
                    .iter()
                    .map(|&v| Complex::new(T::of(v), T::zero()))
                    .collect();
                e.forward_complex(&x, None)
            }
            (Exec::Field(e), VjpInput::Complex(x)) => {
                let x: Vec<Complex<T>> = x
                    .iter()
                    .map(|z| Complex::new(T::of(z.re), T::of(z.im)))
                    .collect();
                e.forward_complex(&x, None)
            }
        };
        Ok(out.iter().map(|v| v.f64()).collect())
    }
}

/// The readout (detector powers, or a dense network's output amplitudes; batch × classes) of
/// `input` on the CPU reference engine in precision `T`, with the parameters `params` (full
/// precision) when given: what [`vjp`] differentiates.
pub fn readout_at<T: Real>(
    net: &Network,
    state: &State,
    params: Option<&[Vec<f64>]>,
    input: VjpInput<'_>,
) -> Result<Vec<f64>> {
    Exec::<T>::new(net, state, params)?.forward(input)
}

/// A vector–Jacobian product's result: the gradient with respect to every trainable tensor and
/// to the input.
pub type Vjp = (Vec<Vec<f64>>, Vec<num_complex::Complex<f64>>);

/// A vector–Jacobian product: the gradient of `L = Σ upstream·y` (y the detector powers of a
/// field network, the output amplitudes of a dense one, as [`readout_at`] gives them) with
/// respect to every trainable tensor (in [`Network::param_elements`] order, summed over the
/// batch) and to the input (`∂L/∂Re u + i·∂L/∂Im u` per input value; its real part is the
/// gradient with respect to real amplitudes). `net` is evaluated on its own system
/// ([`Network::on`]) with `params` (full precision) when given, through the absorbers as `mode`
/// says, on the CPU reference engine in precision `T`.
pub fn vjp<T: Real>(
    net: &Network,
    state: &State,
    params: Option<&[Vec<f64>]>,
    input: VjpInput<'_>,
    upstream: &[f64],
    mode: GradientMode,
) -> Result<Vjp> {
    use num_complex::Complex;
    let mut cfg = net.config().clone();
    cfg.train.gradient = mode;
    let net = cfg.resolve()?.on(net.system())?.with_probe_to_input();
    let up: Vec<T> = upstream.iter().map(|&v| T::of(v)).collect();
    let to64 = |g: &[Vec<T>]| -> Vec<Vec<f64>> {
        g.iter()
            .map(|p| p.iter().map(|v| v.f64()).collect())
            .collect()
    };
    let mut exec = Exec::<T>::new(&net, state, params)?;
    if let Exec::Dense(e) = &mut exec {
        e.request_input_gradient();
    }
    exec.forward(input)?;
    Ok(match exec {
        Exec::Dense(mut e) => {
            e.set_output_gradient(&up);
            e.backward();
            let g = e.input_grad.take().unwrap_or_default();
            (
                to64(&e.grads),
                g.iter().map(|v| Complex::new(v.f64(), 0.0)).collect(),
            )
        }
        Exec::Field(mut e) => {
            e.set_output_gradient(&up);
            e.backward(None);
            // δL = 2·Re Σ b·δu: ∂L/∂Re u = 2·Re b, ∂L/∂Im u = −2·Im b.
            let g = e
                .probe_field()
                .iter()
                .map(|b| Complex::new(2.0 * b.re.f64(), -2.0 * b.im.f64()))
                .collect();
            (to64(&e.grads), g)
        }
    })
}

/// The gradient of the batch's mean training loss with respect to every trainable tensor (in
/// [`Network::param_elements`] order), with the loss statistics, for encoded inputs and their
/// labels, through the absorbers as `mode` says (the probe's transmission, or the exact
/// derivative), on the CPU reference engine in precision `T`. Nothing is updated: this is the
/// gradient a training step would apply.
pub fn gradients<T: Real>(
    net: &Network,
    state: &State,
    input: &[f32],
    labels: &[u8],
    mode: GradientMode,
) -> Result<(LossStats, Vec<Vec<f64>>)> {
    let mut cfg = net.config().clone();
    cfg.train.gradient = mode;
    let net = cfg.resolve()?;
    let to64 = |g: &[Vec<T>]| -> Vec<Vec<f64>> {
        g.iter()
            .map(|p| p.iter().map(|v| v.f64()).collect())
            .collect()
    };
    Ok(if net.is_dense() {
        let x: Vec<T> = input.iter().map(|&v| T::of(v as f64)).collect();
        let mut exec = CpuDense::<T>::new(&net, state)?;
        exec.forward(&x);
        let stats = exec.loss(labels);
        exec.backward();
        (stats, to64(&exec.grads))
    } else {
        let mut exec = CpuField::<T>::new(&net, state)?;
        exec.forward(input, None);
        let stats = exec.loss(labels);
        exec.backward(None);
        (stats, to64(&exec.grads))
    })
}
