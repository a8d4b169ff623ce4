//! Diagnostics computed on a network and a state with the CPU reference engine, whichever
//! backend trained it: the operating point of each absorber, the first element whose output is
//! not finite, and the field at every plane. Above both backends, so a GPU run is diagnosed by
//! the same code as a CPU one.

use num_complex::Complex32;

use crate::cpu::{CpuDense, CpuField};
use crate::error::Result;
use crate::network::{Network, State};

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
