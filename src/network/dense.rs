//! The plan of a dense (matrix–vector) network as plain data: its stages in pump order (dense
//! layers, absorbers, ReLUs) and what each layer does to light (row gains, column cross-talk of
//! the wave-optics multiplier), shared by the CPU and GPU executors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::State;
use crate::model::{Config, Element, Fidelity};
use crate::optics::{Absorber, Multiplier};
use crate::real::Real;

/// One stage of a dense network, in pump order.
#[derive(Clone, Debug)]
pub enum DenseStage {
    /// The dense layer of this index.
    Dense(usize),
    /// A saturable absorber on the real amplitudes.
    Absorber(Absorber),
    /// A digital ReLU.
    Relu,
}

/// What a dense layer does to light, shared by the CPU and GPU executors.
#[derive(Clone, Debug)]
pub struct DenseLayerSpec {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// How the layer is simulated.
    pub fidelity: Fidelity,
    /// `C` (`n_in × n_in`, row-major) when the layer has column cross-talk (wave fidelity with a
    /// finite aperture).
    pub coupling: Option<Vec<f64>>,
    /// `gain·r_i`, one per output row.
    pub row_gain: Vec<f64>,
}

/// A dense network's stages in pump order, each with its config index, and its layers.
#[derive(Clone, Debug)]
pub struct DensePlan {
    /// `(config index, stage)` in pump order.
    pub stages: Vec<(usize, DenseStage)>,
    /// The dense layers, in order.
    pub layers: Vec<DenseLayerSpec>,
    /// The fixed miscalibration of the imperfect system (`hardware.weight_error`,
    /// `gain_error`): per layer, the factor `(1 + σ_g·ξ_l)·(1 + σ_w·ξ_ij)` of each weight
    /// (`[out][in]`; digital layers none), drawn once from `hardware.seed` (ChaCha8 stream 4 for
    /// the weights, 5 for the gains); `None` when both are 0.
    pub miscalibration: Option<Vec<Option<Vec<f64>>>>,
    /// The drawn gain factor of each layer (1 for none).
    pub gain_factors: Vec<f64>,
    /// Pixel cross-talk of the imperfect system's weight SLMs (`hardware.crosstalk`, 0: none),
    /// applied to every optical layer after the miscalibration; see [`weight_crosstalk`].
    pub crosstalk: f64,
}

impl DensePlan {
    /// The `(in, out)` of each dense layer.
    pub fn dims(&self) -> Vec<(usize, usize)> {
        self.layers.iter().map(|l| (l.n_in, l.n_out)).collect()
    }

    /// Index of the first dense layer's stage: the probe stops there.
    pub fn first_dense(&self) -> usize {
        self.first_dense_stage()
    }

    /// The imperfect system as JSON (`hardware.json`): the drawn miscalibration (`layers`) and
    /// the weight SLMs' cross-talk kernel (`crosstalk`), `None` without either.
    pub fn miscalibration_record(&self) -> Option<serde_json::Value> {
        let mut rec = serde_json::Map::new();
        if let Some(m) = self.miscalibration.as_ref() {
            rec.insert(
                "layers".into(),
                serde_json::json!(m
                    .iter()
                    .zip(&self.gain_factors)
                    .map(|(w, g)| {
                        let summary = w.as_ref().map(|w| {
                            let n = w.len() as f64;
                            let mean = w.iter().sum::<f64>() / n;
                            let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                            serde_json::json!({"mean": mean, "std": sd})
                        });
                        serde_json::json!({"gain_factor": g, "weight_factor": summary})
                    })
                    .collect::<Vec<_>>()),
            );
        }
        if self.crosstalk != 0.0 {
            let c = self.crosstalk;
            rec.insert(
                "crosstalk".into(),
                serde_json::json!({"c": c, "kernel": [c, 1.0 - 2.0 * c, c]}),
            );
        }
        (!rec.is_empty()).then_some(serde_json::Value::Object(rec))
    }

    fn first_dense_stage(&self) -> usize {
        self.stages
            .iter()
            .position(|(_, s)| matches!(s, DenseStage::Dense(_)))
            .unwrap_or(0)
    }
}

/// The plan of a validated dense `cfg` ([`Config::resolve`]).
pub(crate) fn build(cfg: &Config) -> DensePlan {
    let dims = cfg.dense_dims();
    let mut stages = Vec::new();
    let mut layers = Vec::new();
    for (i, e) in cfg.elements.iter().enumerate() {
        match *e {
            Element::Dense {
                fidelity,
                gain,
                fill_factor,
                na,
                fanout_focal_length,
                samples,
                ..
            } => {
                let (n_in, n_out) = dims[layers.len()];
                let (coupling, rows) = if fidelity == Fidelity::Wave {
                    let mul = Multiplier {
                        wavelength: cfg.optics.wavelength,
                        pitch: cfg.optics.pitch,
                        fill_factor,
                        na,
                        fanout_focal_length,
                        samples,
                    };
                    let c = na.map(|_| mul.coupling_matrix(n_in));
                    (c, mul.row_gains(n_out))
                } else {
                    (None, vec![1.0; n_out])
                };
                stages.push((i, DenseStage::Dense(layers.len())));
                layers.push(DenseLayerSpec {
                    n_in,
                    n_out,
                    fidelity,
                    coupling,
                    row_gain: rows.iter().map(|r| r * gain).collect(),
                });
            }
            Element::Absorber { od, model } => {
                stages.push((i, DenseStage::Absorber(Absorber::new(od, model))))
            }
            Element::Relu => stages.push((i, DenseStage::Relu)),
            _ => unreachable!("validated dense network"),
        }
    }
    let h = &cfg.hardware;
    let mut gain_factors = vec![1.0; layers.len()];
    let miscalibration = if h.weight_error != 0.0 || h.gain_error != 0.0 {
        let mut rw = ChaCha8Rng::seed_from_u64(h.seed);
        rw.set_stream(4);
        let mut rg = ChaCha8Rng::seed_from_u64(h.seed);
        rg.set_stream(5);
        Some(
            layers
                .iter()
                .zip(gain_factors.iter_mut())
                .map(|(l, gf)| {
                    if l.fidelity == Fidelity::Digital {
                        return None;
                    }
                    let xg: f64 = rg.sample(StandardNormal);
                    *gf = 1.0 + h.gain_error * xg;
                    let g = *gf;
                    Some(
                        (0..l.n_in * l.n_out)
                            .map(|_| {
                                let x: f64 = rw.sample(StandardNormal);
                                g * (1.0 + h.weight_error * x)
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    } else {
        None
    };
    DensePlan {
        stages,
        layers,
        miscalibration,
        gain_factors,
        crosstalk: h.crosstalk,
    }
}

/// Pixel cross-talk of a weight SLM (`hardware.crosstalk = c`), in place on the matrix it shows
/// (`[out][in]`, row-major): `W ← K_out·W·K_inᵀ` with `K` tridiagonal `[c, 1 − 2c, c]`.
///
/// The multiplier shows its weight matrix on an SLM, one region of pixels per weight (Spall et
/// al., Opt. Lett. 45, 5752 (2020); Adv. Photon. 7, 016004 (2025)); the fringing field of a
/// liquid-crystal pixel reaches into its neighbours, so the shown pattern is the commanded one
/// smoothed by a small kernel (issue 18's pixel cross-talk of LCoS devices, which the field
/// networks model as `hardware.fringing`). Here the kernel is the nearest-neighbour one between
/// weight regions, separable along the rows and columns of the matrix: each weight keeps
/// `1 − 2c` of its field along each axis and gives `c` to each neighbour (`c²` reaches the
/// diagonal ones). The kernel sums to 1, so a uniform pattern stays uniform inside the matrix; at its edges
/// the share that leaks beyond the matrix is lost (the pixels around it show 0). All entries are
/// ≥ 0 and sum to 1, so `|w| ≤ 1` stays true. `K` is symmetric, so the same call maps the
/// gradient of the shown matrix back to the commanded one (`∂L/∂W = K_out·G·K_in`).
///
/// `prev` is scratch (resized to `n_in`); nothing is allocated once it has grown.
///
/// # Panics
/// If `w` is not `n_out·n_in` long.
pub fn weight_crosstalk<T: Real>(c: T, w: &mut [T], n_out: usize, n_in: usize, prev: &mut Vec<T>) {
    assert_eq!(
        w.len(),
        n_out * n_in,
        "weight_crosstalk: a {n_out}×{n_in} matrix holds {} values, got {}",
        n_out * n_in,
        w.len()
    );
    let keep = T::one() - (c + c);
    // Along each row (the input index): the original left neighbour is carried along.
    for row in w.chunks_mut(n_in.max(1)) {
        let mut left = T::zero();
        for j in 0..row.len() {
            let here = row[j];
            let right = if j + 1 < row.len() {
                row[j + 1]
            } else {
                T::zero()
            };
            row[j] = keep * here + c * (left + right);
            left = here;
        }
    }
    // Along each column (the output index): `prev` holds the original row above; the row below
    // is not yet overwritten.
    prev.clear();
    prev.resize(n_in, T::zero());
    for i in 0..n_out {
        for j in 0..n_in {
            let here = w[i * n_in + j];
            let below = if i + 1 < n_out {
                w[(i + 1) * n_in + j]
            } else {
                T::zero()
            };
            w[i * n_in + j] = keep * here + c * (prev[j] + below);
            prev[j] = here;
        }
    }
}

/// Initial state of a dense network: weights `N(0, init_std²)` (default `1/√in`), clipped to
/// `[−1, 1]` for optical layers, drawn from `cfg.train.seed`.
pub(crate) fn initial_state(cfg: &Config) -> State {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.train.seed);
    let dims = cfg.dense_dims();
    let mut params = Vec::new();
    let mut li = 0;
    for e in &cfg.elements {
        if let Element::Dense {
            init_std, fidelity, ..
        } = *e
        {
            let (n_in, n_out) = dims[li];
            li += 1;
            let std = init_std.unwrap_or(1.0 / (n_in as f64).sqrt());
            let bound = if fidelity == Fidelity::Digital {
                f64::INFINITY
            } else {
                1.0
            };
            params.push(
                (0..n_in * n_out)
                    .map(|_| {
                        let x: f64 = rng.sample(StandardNormal);
                        (x * std).clamp(-bound, bound) as f32
                    })
                    .collect::<Vec<f32>>(),
            );
        }
    }
    State::fresh(params)
}
