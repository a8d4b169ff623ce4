//! Other ways than backpropagation to find a dense network's update (`train.method`; the
//! comparison of issue 27): direct feedback alignment and PEPITA, on the system the executor
//! runs (its forward passes through the imperfect hardware, with its noise).
//!
//! **DFA** (Nøkland, NeurIPS 2016; on optical hardware: Launay et al., arXiv 2006.01475;
//! Filipovich et al., Optica 9, 1323 (2022)): the output error `e = ∂L/∂y` reaches the output
//! of every hidden dense layer `l` through a fixed random matrix `B_l` (`n_out × classes`)
//! instead of back through the later layers: `δ_l = (B_l·e)` through the activations right after
//! the layer (the probe factor of `train.gradient`: the pump-set transmission `t` for an
//! optical absorber, `g'(z)` for exact, the ReLU's step), then the row gains, and
//! `ΔW_l = δ_l·ãᵀ` with `ã` the pump at the weight SLM, as backpropagation's. The last layer
//! gets `e` itself. `B_l` has entries uniform in `±s/√classes` (`s = train.feedback_scale`).
//!
//! **PEPITA** (Dellaferrera & Kreiman, ICML 2022, Algorithm 1): a first forward pass gives the
//! error `e`; a second runs on the input modulated by it, `x' = x + e·Fᵀ` (`F`: `n_in × classes`,
//! uniform in `±s·0.05·√(6/n_in)`, the paper's choice); the update of a hidden layer is
//! `ΔW_l = (h_l − h'_l)·h'_{l−1}ᵀ` (`h_l`: the layer's output after its activations in the
//! first pass, `h'` in the modulated one; `h'_{l−1}`: the pump at its weight SLM in the second
//! pass), the last layer's `e·h'_{L−1}ᵀ`, each averaged over the batch like `e`. No probe pass.
//!
//! Both draw their matrices from the counter generator keyed by `train.seed` (purpose
//! `Feedback`, `sub` = layer), so a resumed run, which has the seed, redraws them exactly.

use super::*;
use crate::model::Method;
use crate::rng::{philox4x32_10, uniform};

/// `rows × cols` values uniform in `±a`, drawn from block `[0, word1(0, Feedback, sub), r, c/4]`.
fn uniform_matrix<T: Real>(seed: u64, sub: usize, rows: usize, cols: usize, a: f64) -> Vec<T> {
    let key = key_of(seed);
    let w = word1(0, Purpose::Feedback, sub as u32);
    let mut m = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let x = philox4x32_10([0, w, r as u32, (c / 4) as u32], key)[c % 4];
            m.push(T::of((2.0 * f64::from(uniform(x)) - 1.0) * a));
        }
    }
    m
}

impl<T: Real> CpuDense<T> {
    /// The fixed random matrices of `method` (module doc): per dense layer, DFA's `B_l` for
    /// every layer but the last; PEPITA's `F` as layer 0's entry. Empty for other methods.
    pub(super) fn draw_feedback(
        &self,
        method: Method,
        seed: u64,
        scale: f64,
    ) -> Vec<Option<Vec<T>>> {
        let k = self.classes;
        let last = self.layers.len().saturating_sub(1);
        match method {
            Method::Dfa => self
                .layers
                .iter()
                .enumerate()
                .map(|(l, layer)| {
                    (l < last)
                        .then(|| uniform_matrix(seed, l, layer.n_out, k, scale / (k as f64).sqrt()))
                })
                .collect(),
            Method::Pepita => {
                let n0 = self.layers.first().map_or(0, |l| l.n_in);
                let a = scale * 0.05 * (6.0 / n0.max(1) as f64).sqrt();
                vec![Some(uniform_matrix(seed, 0, n0, k, a))]
            }
            _ => Vec::new(),
        }
    }

    /// Replaces the feedback matrix of layer `l` (`n_out × classes` for DFA, `n_in × classes`
    /// at `l = 0` for PEPITA): tests set it to the forward weights' transpose, where DFA equals
    /// backpropagation.
    ///
    /// # Panics
    /// If the method has no matrix there or its size differs.
    pub fn set_feedback(&mut self, l: usize, m: &[T]) {
        let f = self.feedback[l]
            .as_mut()
            .expect("set_feedback: the method has no matrix for this layer");
        assert_eq!(f.len(), m.len(), "set_feedback: size");
        f.copy_from_slice(m);
    }

    /// The update direction of `method` on one batch, into [`Self::grads`], without applying
    /// it (the optimiser does: [`Self::update`]): backpropagation's gradient, DFA's or PEPITA's
    /// (module doc). Returns the batch statistics of the (first) forward pass.
    ///
    /// # Panics
    /// If the method is SPSA (it has no per-layer rule: `train::methods` runs it on any
    /// backend).
    pub fn estimate(&mut self, method: Method, x: &[T], labels: &[u8]) -> LossStats {
        if rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none() {
            return rayon::scope(|_| self.estimate(method, x, labels));
        }
        self.evals = 0;
        self.forward(x);
        let stats = self.loss(labels);
        if !stats.loss_sum.is_finite() {
            return stats;
        }
        match method {
            Method::Backprop => self.backward(),
            Method::Dfa => self.dfa_backward(),
            Method::Pepita => self.pepita(x),
            Method::Spsa => panic!("CpuDense::estimate: SPSA runs on the backend, not per layer"),
        }
        stats
    }

    /// `(stage, layer)` of every dense stage, in pump order.
    fn dense_stages(&self) -> Vec<(usize, usize)> {
        self.stages
            .iter()
            .enumerate()
            .filter_map(|(si, (_, s))| match s {
                DenseStage::Dense(l) => Some((si, *l)),
                _ => None,
            })
            .collect()
    }

    /// The pump at dense layer `l`'s weight SLM: `C·a` with column cross-talk, else the layer's
    /// input.
    fn pump_at(&self, si: usize, l: usize) -> &[T] {
        if self.layers[l].coupling.is_some() {
            &self.coupled[l]
        } else {
            &self.acts[si]
        }
    }

    /// `grads[l] = bᵀ·ã` (`b`: `batch × n_out`, the probe at the SLM after the row gains).
    fn outer_into(&mut self, l: usize, b: &[T], pump: &[T]) {
        let (n_in, n_out, batch) = (self.layers[l].n_in, self.layers[l].n_out, self.batch);
        let mut g = std::mem::take(&mut self.grads[l]);
        g.resize(n_out * n_in, T::zero());
        gemm(
            b,
            (batch, n_out),
            pump,
            (batch, n_in),
            (true, false),
            &mut g,
        );
        self.grads[l] = g;
    }

    /// DFA's updates from the stored `∂L/∂y` (module doc).
    fn dfa_backward(&mut self) {
        let (batch, k) = (self.batch, self.classes);
        let dense = self.dense_stages();
        let last = dense.len().saturating_sub(1);
        for (j, &(si, l)) in dense.iter().enumerate() {
            let n_out = self.layers[l].n_out;
            let mut b = vec![T::zero(); batch * n_out];
            if j == last {
                b.copy_from_slice(&self.dl_dy);
            } else {
                let f = self.feedback[l]
                    .as_ref()
                    .expect("DFA draws a matrix per hidden layer");
                gemm(
                    &self.dl_dy,
                    (batch, k),
                    f,
                    (n_out, k),
                    (false, true),
                    &mut b,
                );
            }
            // Through the activations right after the layer, as the probe would be.
            let next = dense.get(j + 1).map_or(self.stages.len(), |d| d.0);
            for s in (si + 1..next).rev() {
                self.activation_probe(s, &mut b);
            }
            for row in b.chunks_mut(n_out) {
                for (v, &g) in row.iter_mut().zip(&self.layers[l].row_gain) {
                    *v = *v * g;
                }
            }
            let pump = self.pump_at(si, l).to_vec();
            self.outer_into(l, &b, &pump);
        }
    }

    /// The probe factor of activation stage `s` applied to `b` (optical: the pump-set
    /// transmission; exact: `g'(z)`; ReLU: its step).
    fn activation_probe(&self, s: usize, b: &mut [T]) {
        let a = &self.acts[s];
        match &self.stages[s].1 {
            DenseStage::Absorber(ab) => match self.gradient {
                GradientMode::Optical => {
                    for (bv, &t) in b.iter_mut().zip(&self.trans[s]) {
                        *bv = *bv * t;
                    }
                }
                GradientMode::Exact => {
                    for (bv, &z) in b.iter_mut().zip(a) {
                        let s = z * z;
                        let (t, dt) = ab.transmission_and_slope(s);
                        *bv = *bv * (t + T::of(2.0) * s * dt);
                    }
                }
            },
            DenseStage::Relu => {
                for (bv, &z) in b.iter_mut().zip(a) {
                    if z <= T::zero() {
                        *bv = T::zero();
                    }
                }
            }
            DenseStage::Dense(_) => {}
        }
    }

    /// PEPITA's updates (module doc): the first pass has run on `x` and stored `∂L/∂y`.
    fn pepita(&mut self, x: &[T]) {
        let (batch, k) = (self.batch, self.classes);
        let e = self.dl_dy.clone();
        // h_l of the first pass: the input of every dense stage after the first.
        let first: Vec<Vec<T>> = self.acts.clone();
        let n0 = self.layers.first().map_or(0, |l| l.n_in);
        let f = self.feedback[0].as_ref().expect("PEPITA draws F");
        let mut xm = vec![T::zero(); batch * n0];
        gemm(&e, (batch, k), f, (n0, k), (false, true), &mut xm);
        for (m, &v) in xm.iter_mut().zip(x) {
            *m = *m + v;
        }
        self.forward(&xm);
        let inv_b = T::of(1.0 / batch as f64);
        let dense = self.dense_stages();
        for (j, &(si, l)) in dense.iter().enumerate() {
            let b: Vec<T> = match dense.get(j + 1) {
                // The layer's output after its activations: the next dense stage's input.
                Some(&(next, _)) => first[next]
                    .iter()
                    .zip(&self.acts[next])
                    .map(|(&h, &hm)| (h - hm) * inv_b)
                    .collect(),
                None => e.clone(),
            };
            let pump = self.pump_at(si, l).to_vec();
            self.outer_into(l, &b, &pump);
        }
    }
}
