//! Interference read-out of the product `a·b` of two fields with a camera: phase-stepping or
//! heterodyne frames, camera noise on each frame, the product recovered from the frames.
//!
//! This is how the hardware measures an SLM's gradient (the pump `a = u` leaving the SLM
//! interfering with the probe `b` arriving at it, DESIGN §4: `∂L/∂φ = −2·Im(b·u)`), and any other
//! product of two beams a training method needs measured. One camera pixel sees the sums over
//! the pixels it integrates ([`Beams`]); frame `k` of `N` is
//!
//! `I_k = A + B + 2·g·Re(C·e^{−i(θ_k + δ)})`, `θ_k = 2πk/N`,
//!
//! with `A = Σ|a|²`, `B = Σ|b|²`, `C = Σ a·b`. Phase stepping (the reference phase set to `θ_k`
//! for each frame) has `g = 1`, `δ = 0`. Heterodyne detection (the probe frequency-shifted, the
//! camera integrating the beat over `N` equal buckets of one period: Wyant, Appl. Opt. 14, 2622
//! (1975)) has `g = sinc(π/N) = sin(π/N)/(π/N)` and `δ = π/N` (the bucket's mean phase).
//! The N-bucket synchronous-detection sum (Bruning et al., Appl. Opt. 13, 2693 (1974); Creath,
//! Prog. Opt. 26, 349 (1988)) `S = (1/N)·Σ_k I_k·e^{iθ_k}` cancels the constant terms
//! (`Σ_k e^{iθ_k} = 0`) and the conjugate term (`Σ_k e^{2iθ_k} = 0`, which needs `N ≥ 3`), leaving
//! `S = g·e^{−iδ}·C`; the estimate is `Ĉ = S·e^{iδ}/g`, exact for every `N ≥ 3` without noise.
//!
//! **Camera noise** (the detectors' model of `cpu::field`, per frame): the frames of one
//! measurement (one SLM, one image) are scaled so that the brightest frame pixel is full scale
//! `I_fs`; each frame pixel `i = I/I_fs` gets shot noise `√(i/n)·ξ₁` (`n` photo-electrons at full
//! scale: Poisson approximated by a Gaussian of variance equal to the mean, good from a few
//! electrons on), read noise `σ·ξ₂`, is clamped to `[0, 1]` and quantised to `2^bits − 1` steps.
//! With independent frame noises of variance `v_k` (in intensity units), the estimate's noise is
//! `(e^{iδ}/(gN))·Σ_k ε_k·e^{iθ_k}`, so `Var(Re Ĉ) = Σ_k v_k·cos²(θ_k + δ)/(gN)²` and
//! `Var(Im Ĉ) = Σ_k v_k·sin²(θ_k + δ)/(gN)²`: with shot noise alone `v_k = I_k·I_fs/n`, and when
//! the frames are nearly equal (`I_k ≈ A + B`) each part is `(A + B)·I_fs/(2·g²·N·n)`. More
//! frames or more electrons shrink it as `1/(N·n)`.

use num_complex::Complex;

/// How the frames are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The reference phase stepped by `2π/N` between frames.
    PhaseStepping,
    /// The probe frequency-shifted; each frame integrates a `1/N` bucket of the beat period.
    Heterodyne,
}

/// The camera and its frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    /// Phase stepping or heterodyne.
    pub detection: Detection,
    /// Frames per measurement, `N ≥ 3`.
    pub steps: usize,
    /// Photo-electrons at full scale (shot noise), if any.
    pub shot: Option<f64>,
    /// Read noise relative to full scale.
    pub read: f64,
    /// ADC bit depth, if any.
    pub bits: Option<u32>,
}

impl Camera {
    /// True when the frames are measured exactly.
    pub fn noiseless(&self) -> bool {
        self.shot.is_none() && self.read == 0.0 && self.bits.is_none()
    }

    /// Gain `g` and phase `δ` of the cross term in the frames (module doc).
    pub fn cross_term(&self) -> (f64, f64) {
        match self.detection {
            Detection::PhaseStepping => (1.0, 0.0),
            Detection::Heterodyne => {
                let x = std::f64::consts::PI / self.steps as f64;
                (x.sin() / x, x)
            }
        }
    }
}

/// What one camera pixel integrates: `A = Σ|a|²`, `B = Σ|b|²`, `C = Σ a·b` over its pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Beams {
    /// Power of the first beam on the camera pixel.
    pub a2: f64,
    /// Power of the second beam on the camera pixel.
    pub b2: f64,
    /// The product the measurement recovers.
    pub ab: Complex<f64>,
}

impl Beams {
    /// Adds one pixel's fields.
    pub fn add(&mut self, a: Complex<f64>, b: Complex<f64>) {
        self.a2 += a.norm_sqr();
        self.b2 += b.norm_sqr();
        self.ab += a * b;
    }
}

/// Frame `k` of camera pixel `p` (module doc), without noise.
pub fn frame(p: &Beams, k: usize, cam: &Camera) -> f64 {
    let (g, delta) = cam.cross_term();
    let theta = std::f64::consts::TAU * k as f64 / cam.steps as f64;
    let ph = Complex::from_polar(1.0, -(theta + delta));
    (p.a2 + p.b2 + 2.0 * g * (p.ab * ph).re).max(0.0)
}

/// Measures `C` of every camera pixel of one measurement into `out` (resized) and returns the
/// photo-electrons the frames collected (0 without shot noise, whose `n` sets the scale).
/// `normals(k, p)` gives two independent standard normals for frame `k` of pixel `p` (shot, read;
/// the caller keys them on its counter, [`crate::rng`]), asked for only when there is noise.
///
/// # Panics
/// If `cam.steps < 3` (a caller bug: the config refuses it).
pub fn measure(
    pixels: &[Beams],
    cam: &Camera,
    mut normals: impl FnMut(usize, usize) -> [f32; 2],
    out: &mut Vec<Complex<f64>>,
) -> f64 {
    let n = cam.steps;
    assert!(n >= 3, "interferometry::measure: {n} frames (needs ≥ 3)");
    let (g, delta) = cam.cross_term();
    let phases: Vec<Complex<f64>> = (0..n)
        .map(|k| Complex::from_polar(1.0, std::f64::consts::TAU * k as f64 / n as f64))
        .collect();
    let full = if cam.noiseless() {
        0.0
    } else {
        let mut m = 0.0f64;
        for p in pixels {
            for k in 0..n {
                m = m.max(frame(p, k, cam));
            }
        }
        m
    };
    let levels = cam.bits.map(|b| ((1u64 << b) - 1) as f64);
    let undo = Complex::from_polar(1.0 / (g * n as f64), delta);
    let mut electrons = 0.0;
    out.clear();
    out.extend(pixels.iter().enumerate().map(|(ip, p)| {
        let mut s = Complex::new(0.0, 0.0);
        for (k, ph) in phases.iter().enumerate() {
            let mut i = frame(p, k, cam);
            if full > 0.0 {
                let mut x = i / full;
                let z = normals(k, ip);
                if let Some(ne) = cam.shot {
                    electrons += x * ne;
                    x += (x / ne).sqrt() * f64::from(z[0]);
                }
                x += cam.read * f64::from(z[1]);
                x = x.clamp(0.0, 1.0);
                if let Some(q) = levels {
                    x = (x * q).round() / q;
                }
                i = x * full;
            }
            s += ph * i;
        }
        s * undo
    }));
    electrons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(detection: Detection, steps: usize) -> Camera {
        Camera {
            detection,
            steps,
            shot: None,
            read: 0.0,
            bits: None,
        }
    }

    /// Without noise every N ≥ 3 recovers C to round-off, for both detections.
    #[test]
    fn noiseless_recovers_the_product() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut px = vec![Beams::default(); 50];
        for p in px.iter_mut() {
            for _ in 0..4 {
                p.add(Complex::new(next(), next()), Complex::new(next(), next()));
            }
        }
        for det in [Detection::PhaseStepping, Detection::Heterodyne] {
            for n in 3..=8 {
                let mut out = Vec::new();
                let e = measure(&px, &cam(det, n), |_, _| unreachable!(), &mut out);
                assert_eq!(e, 0.0);
                for (p, z) in px.iter().zip(&out) {
                    let scale = p.a2 + p.b2;
                    assert!(
                        (z - p.ab).norm() < 1e-14 * scale,
                        "{det:?} N={n}: {z} vs {}",
                        p.ab
                    );
                }
            }
        }
    }

    /// N = 2 cannot separate the conjugate term: the recovery would fail (why ≥ 3 is required).
    #[test]
    fn two_frames_are_not_enough() {
        let p = Beams {
            a2: 1.0,
            b2: 1.0,
            ab: Complex::new(0.3, 0.4),
        };
        let c = cam(Detection::PhaseStepping, 2);
        let s: Complex<f64> = (0..2)
            .map(|k| frame(&p, k, &c) * Complex::from_polar(1.0, std::f64::consts::PI * k as f64))
            .sum::<Complex<f64>>()
            / 2.0;
        assert!((s - p.ab).norm() > 0.1, "{s}");
    }
}
