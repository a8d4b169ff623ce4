//! Trainable parameters and optimiser state: what a checkpoint stores and every backend reads
//! and hands back, in `f32`.

use crate::real::Real;

/// Trainable parameters and optimiser state, in f32 for checkpoints and backends alike.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// One vector per trainable SLM.
    pub params: Vec<Vec<f32>>,
    /// Adam first moments (empty for SGD).
    pub m: Vec<Vec<f32>>,
    /// Adam second moments (empty for SGD).
    pub v: Vec<Vec<f32>>,
    /// Optimiser steps taken.
    pub step: u64,
}

impl State {
    /// Parameters `params` with zeroed Adam moments, before the first step.
    pub fn fresh(params: Vec<Vec<f32>>) -> Self {
        let zeros: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
        State {
            m: zeros.clone(),
            v: zeros,
            params,
            step: 0,
        }
    }

    /// The state of an engine running in precision `T`, rounded to f32.
    pub fn from_engine<T: Real>(params: &[Vec<T>], m: &[Vec<T>], v: &[Vec<T>], step: u64) -> Self {
        let cvt = |v: &[Vec<T>]| -> Vec<Vec<f32>> {
            v.iter()
                .map(|p| p.iter().map(|x| x.f64() as f32).collect())
                .collect()
        };
        State {
            params: cvt(params),
            m: cvt(m),
            v: cvt(v),
            step,
        }
    }

    /// One of the state's tensor lists (`params`, `m` or `v`) in precision `T`.
    pub fn to_engine<T: Real>(v: &[Vec<f32>]) -> Vec<Vec<T>> {
        v.iter()
            .map(|p| p.iter().map(|&x| T::of(x as f64)).collect())
            .collect()
    }
}
