//! Parameter updates on the CPU (mirrors `shaders/optimizer.wgsl`): SGD and Adam, in place.

use crate::model::Optimizer;
use crate::network::{AdamConfig, State, UpdateRule};
use crate::real::Real;

/// `p ← p − lr·g`.
pub fn sgd_step<T: Real>(params: &mut [T], grads: &[T], lr: f64) {
    let lr = T::of(lr);
    for (p, g) in params.iter_mut().zip(grads) {
        *p = *p - lr * *g;
    }
}

/// One Adam step at 1-based step number `t`, updating `params`, `m` and `v` in place.
///
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
pub fn adam_step<T: Real>(
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    t: u64,
    cfg: &AdamConfig,
) {
    let (b1, b2) = (T::of(cfg.beta1), T::of(cfg.beta2));
    let one = T::one();
    let c1 = T::of(1.0 / (1.0 - cfg.beta1.powf(t as f64)));
    let c2 = T::of(1.0 / (1.0 - cfg.beta2.powf(t as f64)));
    let (lr, eps) = (T::of(cfg.lr), T::of(cfg.eps));
    for i in 0..params.len() {
        let g = grads[i];
        m[i] = b1 * m[i] + (one - b1) * g;
        v[i] = b2 * v[i] + (one - b2) * g * g;
        params[i] = params[i] - lr * (m[i] * c1) / ((v[i] * c2).sqrt() + eps);
    }
}

/// An executor's optimiser: the update rule, Adam's moments in the engine's precision and the
/// steps taken. Shared by the field and dense executors.
pub(crate) struct OptimizerState<T> {
    rule: UpdateRule,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
    step: u64,
}

impl<T: Real> OptimizerState<T> {
    /// The optimiser of `params` resumed from `state` (zero moments where `state` has none that
    /// fit `params`).
    pub(crate) fn new(rule: UpdateRule, state: &State, params: &[Vec<T>]) -> Self {
        let take = |v: &[Vec<f32>]| -> Vec<Vec<T>> {
            if v.len() == params.len() && v.iter().zip(params).all(|(a, p)| a.len() == p.len()) {
                State::to_engine(v)
            } else {
                params.iter().map(|p| vec![T::zero(); p.len()]).collect()
            }
        };
        OptimizerState {
            rule,
            m: take(&state.m),
            v: take(&state.v),
            step: state.step,
        }
    }

    /// One update of every tensor by its gradient; tensors with `bounded(i)` are clamped to
    /// `[−1, 1]` afterwards (amplitude SLMs, optical weights).
    pub(crate) fn apply(
        &mut self,
        params: &mut [Vec<T>],
        grads: &[Vec<T>],
        bounded: impl Fn(usize) -> bool,
    ) {
        self.step += 1;
        for i in 0..params.len() {
            match self.rule.optimizer {
                Optimizer::Adam => adam_step(
                    &mut params[i],
                    &grads[i],
                    &mut self.m[i],
                    &mut self.v[i],
                    self.step,
                    &self.rule.adam,
                ),
                Optimizer::Sgd => sgd_step(&mut params[i], &grads[i], self.rule.lr),
            }
            if bounded(i) {
                for w in params[i].iter_mut() {
                    *w = w.max(-T::one()).min(T::one());
                }
            }
        }
    }

    /// Parameters `params` with this optimiser's state, in f32.
    pub(crate) fn state(&self, params: &[Vec<T>]) -> State {
        State::from_engine(params, &self.m, &self.v, self.step)
    }

    /// Steps taken.
    pub(crate) fn step(&self) -> u64 {
        self.step
    }
}
