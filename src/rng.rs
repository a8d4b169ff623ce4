//! A counter-based random generator, Philox4x32-10, and its uniforms and normals, identical on the
//! CPU and in `shaders/rng.wgsl`, so that both backends draw the same noise value for value.
//!
//! Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
//! SC'11, §4.3): a keyed bijection of a 128-bit counter, ten rounds of two 32×32→64-bit products
//! (multipliers `0xD2511F53`, `0xCD9E8D57`) whose high halves are xored with the other words and
//! the round key, the key bumped by the Weyl constants `0x9E3779B9`, `0xBB67AE85` between rounds.
//! Checked against the known-answer vectors of the authors' Random123 library (`kat_vectors`).
//! A draw is a pure function of (key, counter): no state, any order, any thread.
//!
//! **Counter layout** (the one place it is written down). Key = the seed split into its low and
//! high 32 bits ([`key_of`]): `hardware.seed` for a field network's noise, `train.seed` for a
//! dense network's (each what its noise was seeded by before). Counter = `[c0, c1, c2, c3]`:
//!
//! | word | holds |
//! |---|---|
//! | `c0` | the optimiser step (low 32 bits) |
//! | `c1` | `pass << 24 | purpose << 16 | sub`: `pass` the pump passes since that step (0 for the step itself, 1, 2, … for evaluations; 8 bits), `purpose` which noise ([`Purpose`]), `sub` an index inside it (16 bits: readout SLM × frames + frame) |
//! | `c2` | the image's index in the batch |
//! | `c3` | the pixel, element or camera-pixel index |
//!
//! One block gives four u32, hence four normals ([`normals`]); a draw that needs more than four
//! numbers per (image, element) uses another `sub`.
//!
//! **Uniforms**: `u = ((x >> 8) + 1)·2⁻²⁴`, the top 24 bits of `x`, in `(0, 1]` (never 0, so
//! `ln u` is finite), exact in f32. **Normals**: Box–Muller on two uniforms, in f32 and in this
//! order on both sides: `r = √(−2·ln u₀)`, `θ = 2π·(u₁ − ½)`, `(r·cos θ, r·sin θ)`, with our own
//! logarithm, cosine and sine in plain f32 arithmetic ([`box_muller`]). The CPU and the GPU agree
//! exactly on the u32 and to a few f32 ulp on the normals (a fused multiply–add or a division
//! may round differently).

/// Philox4x32 multipliers (Salmon et al. 2011, table 2).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
/// Weyl key increments: the golden ratio and √3 − 1 in 32-bit fixed point.
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: the four u32 of block `ctr` under `key`.
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The Philox key of a 64-bit seed: its low and high 32 bits.
pub fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// A uniform in `(0, 1]` from the top 24 bits of `x`: `((x >> 8) + 1)·2⁻²⁴` (exact in f32).
pub fn uniform(x: u32) -> f32 {
    ((x >> 8) + 1) as f32 * (1.0 / 16_777_216.0)
}

/// Two standard normals from two u32 by Box–Muller, in f32 (the module doc gives the order):
/// `r = √(−2·ln u₀)`, `θ = 2π·(u₁ − ½)`, `(r·cos θ, r·sin θ)`, with the logarithm, sine and
/// cosine of [`ln_unit`] and [`cos_sin_turns`] (plain f32 arithmetic that the shader repeats
/// operation for operation; the platforms' own `ln`, `cos` and `sin` differ in their last bits,
/// and WGSL allows `cos` an absolute error of 2⁻¹¹).
pub fn box_muller(x0: u32, x1: u32) -> [f32; 2] {
    let r = (-2.0 * ln_unit(uniform(x0))).sqrt();
    let [c, s] = cos_sin_turns(uniform(x1) - 0.5);
    [r * c, r * s]
}

/// `ln x` for a normal f32 `x > 0`: `x = m·2^e` with `m` in `[√½, √2)` (from the bits), then
/// `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`, `|s| ≤ 0.172`, by its series to `s⁹` (the next
/// term, `2s¹¹/11 < 2·10⁻⁹`, is below f32 round-off).
pub fn ln_unit(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    2.0 * s + 2.0 * s * p + e as f32 * std::f32::consts::LN_2
}

/// `(cos 2πt, sin 2πt)` for `t` in `[−½, ½]` (turns): the quadrant `q = ⌊4t + ½⌋` taken out
/// exactly, `x = 2π·(t − q/4)` in `[−π/4, π/4]`, Taylor polynomials to `x¹⁰` (cosine) and `x¹¹`
/// (sine) (remainders below 2·10⁻¹⁰), then rotated by `q` quarter turns.
pub fn cos_sin_turns(t: f32) -> [f32; 2] {
    let q = (4.0 * t + 0.5).floor();
    let x = std::f32::consts::TAU * (t - 0.25 * q);
    let x2 = x * x;
    let c = 1.0
        + x2 * (-1.0 / 2.0
            + x2 * (1.0 / 24.0
                + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
    let s = x
        * (1.0
            + x2 * (-1.0 / 6.0
                + x2 * (1.0 / 120.0
                    + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0 + x2 * (-1.0 / 39_916_800.0))))));
    match (q as i32).rem_euclid(4) {
        0 => [c, s],
        1 => [-s, c],
        2 => [-c, -s],
        _ => [s, -c],
    }
}

/// Four standard normals from block `ctr` under `key`: Box–Muller on words (0, 1) and (2, 3).
pub fn normals(key: [u32; 2], ctr: [u32; 4]) -> [f32; 4] {
    let x = philox4x32_10(ctr, key);
    let a = box_muller(x[0], x[1]);
    let b = box_muller(x[2], x[3]);
    [a[0], a[1], b[0], b[1]]
}

/// Which noise a draw belongs to (counter word `c1`, bits 16..24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Field networks: the output detectors' shot and read noise (`sub` = the pump pass since
    /// the step, 1 for the step's own, 16 bits; `c3` = detector).
    Detector = 1,
    /// Field networks: the read-out camera frames of the SLM gradient (`sub` = SLM × frames +
    /// frame, `c3` = camera pixel).
    ReadoutFrame = 2,
    /// Dense networks: the matrix–vector outputs' signal and noise errors (`sub` = 2·layer for
    /// the pump, whose `pass` counts, 2·layer + 1 for the probe; `c2` = 0, `c3` = element of
    /// the batch's `[image][output]`).
    DenseOutput = 3,
    /// Dense networks: the camera noise on the measured beams (`sub` = 2·layer for the pump,
    /// 2·layer + 1 for the probe; `c3` = element).
    DenseBeam = 4,
    /// Training methods: SPSA's perturbation signs (`sub` = the sample; `c2` = parameter
    /// vector, `c3` = element / 128, one bit each).
    Spsa = 5,
    /// Training methods: DFA's and PEPITA's fixed random matrices (`c0` = 0, `sub` = layer;
    /// `c2` = row, `c3` = column / 4).
    Feedback = 6,
}

/// Counter word `c1`: pass, purpose and sub-index (see the module doc).
///
/// # Panics
/// If `pass ≥ 256` or `sub ≥ 65536` (a caller bug: the layout has 8 and 16 bits for them).
pub fn word1(pass: u32, purpose: Purpose, sub: u32) -> u32 {
    assert!(
        pass < 256 && sub < 65_536,
        "rng::word1: pass {pass} (< 256) or sub {sub} (< 65536) out of range"
    );
    pass << 24 | (purpose as u32) << 16 | sub
}

/// The counter of one draw: `[step, word1(pass, purpose, sub), image, element]`.
pub fn counter(
    step: u64,
    pass: u32,
    purpose: Purpose,
    sub: u32,
    image: usize,
    element: usize,
) -> [u32; 4] {
    [
        step as u32,
        word1(pass, purpose, sub),
        image as u32,
        element as u32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123 `kat_vectors`, philox4x32 10 rows: counter, key → output.
    #[test]
    fn philox_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0; 4],
                [0; 2],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (c, k, want) in kat {
            assert_eq!(philox4x32_10(c, k), want, "counter {c:x?} key {k:x?}");
        }
    }

    /// Our logarithm and turns-trigonometry against the f64 library functions.
    #[test]
    fn ln_and_trig_are_accurate() {
        for i in 0..100_000u32 {
            let x = uniform(i.wrapping_mul(2_654_435_761));
            let want = f64::from(x).ln();
            let got = f64::from(ln_unit(x));
            assert!(
                (got - want).abs() <= 4.0 * f64::from(f32::EPSILON) * want.abs().max(1.0),
                "ln {x}: {got} vs {want}"
            );
            let t = x - 0.5;
            let [c, s] = cos_sin_turns(t);
            let a = std::f64::consts::TAU * f64::from(t);
            assert!((f64::from(c) - a.cos()).abs() < 4e-7, "cos {t}");
            assert!((f64::from(s) - a.sin()).abs() < 4e-7, "sin {t}");
        }
    }

    #[test]
    fn uniform_range_is_open_at_zero() {
        assert_eq!(uniform(0), 1.0 / 16_777_216.0);
        assert_eq!(uniform(u32::MAX), 1.0);
        assert_eq!(uniform(255), uniform(0));
    }

    /// Mean, variance and a tail of the normals over many counters.
    #[test]
    fn normals_are_standard() {
        let key = key_of(0x1234_5678_9abc_def0);
        let n = 50_000;
        let (mut s1, mut s2, mut tail) = (0.0f64, 0.0f64, 0usize);
        for i in 0..n {
            for z in normals(key, [7, 1, 0, i]) {
                let z = f64::from(z);
                s1 += z;
                s2 += z * z;
                tail += usize::from(z.abs() > 1.959_964);
            }
        }
        let m = f64::from(4 * n);
        let (mean, var) = (s1 / m, s2 / m - (s1 / m).powi(2));
        // Standard errors: 1/√m for the mean, √(2/m) for the variance.
        assert!(mean.abs() < 4.0 / m.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 4.0 * (2.0 / m).sqrt(), "variance {var}");
        let p = tail as f64 / m;
        assert!(
            (p - 0.05).abs() < 4.0 * (0.05 * 0.95 / m).sqrt(),
            "P(|z| > 1.96) = {p}"
        );
    }

    #[test]
    fn counter_words_keep_their_fields_apart() {
        let c = counter(5, 3, Purpose::ReadoutFrame, 17, 9, 1000);
        assert_eq!(c, [5, 3 << 24 | 2 << 16 | 17, 9, 1000]);
        assert_ne!(
            word1(0, Purpose::Detector, 0),
            word1(0, Purpose::ReadoutFrame, 0)
        );
    }
}
