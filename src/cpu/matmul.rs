//! Real matrix products for fully connected optical layers on the CPU (mirrors
//! `shaders/matmul.wgsl`): pump `z = W a`, probe `b_a = Wᵀ b_z`, gradient `dW = δ aᵀ` summed
//! over the batch (DESIGN §3–4).
//!
//! `W` is row-major `[out][in]`; activations are `[batch][in]`, outputs `[batch][out]`. Every
//! sum runs in index order, as in the shader, so both backends round alike.

use rayon::prelude::*;

use crate::real::Real;

/// Pump: `z[b][i] = Σ_j W[i][j]·a[b][j]`, returned as `[batch][out]`.
///
/// # Panics
/// If `w` is not `out_dim·in_dim` long or `a` is not a whole batch of `in_dim` values.
pub fn matmul_forward<T: Real>(w: &[T], a: &[T], out_dim: usize, in_dim: usize) -> Vec<T> {
    check(w.len(), a.len(), out_dim, in_dim, in_dim);
    let batch = a.len() / in_dim.max(1);
    let mut z = vec![T::zero(); batch * out_dim];
    z.par_chunks_mut(out_dim.max(1))
        .zip(a.par_chunks(in_dim.max(1)))
        .for_each(|(zb, ab)| {
            for (i, zi) in zb.iter_mut().enumerate() {
                let row = &w[i * in_dim..(i + 1) * in_dim];
                let mut acc = T::zero();
                for (wij, aj) in row.iter().zip(ab) {
                    acc = acc + *wij * *aj;
                }
                *zi = acc;
            }
        });
    z
}

/// Probe: `b_a[b][j] = Σ_i W[i][j]·b_z[b][i]`, returned as `[batch][in]`.
///
/// # Panics
/// If `w` is not `out_dim·in_dim` long or `b_z` is not a whole batch of `out_dim` values.
pub fn matmul_transpose<T: Real>(w: &[T], b_z: &[T], out_dim: usize, in_dim: usize) -> Vec<T> {
    check(w.len(), b_z.len(), out_dim, in_dim, out_dim);
    let batch = b_z.len() / out_dim.max(1);
    let mut out = vec![T::zero(); batch * in_dim];
    out.par_chunks_mut(in_dim.max(1))
        .zip(b_z.par_chunks(out_dim.max(1)))
        .for_each(|(ob, bb)| {
            for (j, oj) in ob.iter_mut().enumerate() {
                let mut acc = T::zero();
                for (i, bi) in bb.iter().enumerate() {
                    acc = acc + w[i * in_dim + j] * *bi;
                }
                *oj = acc;
            }
        });
    out
}

/// Gradient: `dW[i][j] = Σ_b δ[b][i]·a[b][j]`, returned as `[out][in]`.
///
/// # Panics
/// If `delta` (`[batch][out]`) and `a` (`[batch][in]`) are not whole batches of the same size.
pub fn matmul_grad<T: Real>(delta: &[T], a: &[T], out_dim: usize, in_dim: usize) -> Vec<T> {
    let batch = a.len() / in_dim.max(1);
    if in_dim == 0
        || out_dim == 0
        || !a.len().is_multiple_of(in_dim)
        || delta.len() != batch * out_dim
    {
        bad_grad(delta.len(), a.len(), out_dim, in_dim);
    }
    let mut dw = vec![T::zero(); out_dim * in_dim];
    dw.par_chunks_mut(in_dim).enumerate().for_each(|(i, row)| {
        for (j, v) in row.iter_mut().enumerate() {
            let mut acc = T::zero();
            for b in 0..batch {
                acc = acc + delta[b * out_dim + i] * a[b * in_dim + j];
            }
            *v = acc;
        }
    });
    dw
}

fn check(w: usize, x: usize, out_dim: usize, in_dim: usize, per: usize) {
    if out_dim == 0 || in_dim == 0 || w != out_dim * in_dim || !x.is_multiple_of(per) {
        bad_sizes(w, x, out_dim, in_dim, per);
    }
}

#[cold]
#[inline(never)]
fn bad_sizes(w: usize, x: usize, out_dim: usize, in_dim: usize, per: usize) -> ! {
    panic!(
        "matmul: W of {w} values for a {out_dim}×{in_dim} layer (expected {}), input of {x} values is not a whole batch of {per}",
        out_dim * in_dim
    )
}

#[cold]
#[inline(never)]
fn bad_grad(delta: usize, a: usize, out_dim: usize, in_dim: usize) -> ! {
    panic!("matmul_grad: δ of {delta} values and a of {a} values are not batches of {out_dim} and {in_dim}")
}
