//! Element-wise complex products for the free-space filter, with an AVX2/FMA path for `f32`
//! chosen at run time (`fmaddsub`: four products in about seven instructions, against about
//! fourteen for the compiler's own vectorisation of the interleaved layout).

use num_complex::Complex;

use crate::real::Real;

/// `v[i] ← v[i]·h[i]` (or `v[i]·conj(h[i])`) for `i < min(len)`.
#[inline]
pub fn mul_elementwise<T: Real>(v: &mut [Complex<T>], h: &[Complex<T>], conj: bool) {
    T::mul_elementwise(v, h, conj)
}

/// The portable loop (every precision; the reference for the AVX2 path).
#[inline(always)]
pub(crate) fn mul_scalar<T: Real>(v: &mut [Complex<T>], h: &[Complex<T>], conj: bool) {
    if conj {
        for (a, b) in v.iter_mut().zip(h) {
            *a = *a * b.conj();
        }
    } else {
        for (a, b) in v.iter_mut().zip(h) {
            *a = *a * b;
        }
    }
}

/// `f32` products: AVX2 and FMA when the processor has them, else [`mul_scalar`].
#[inline]
pub(crate) fn mul_f32(v: &mut [Complex<f32>], h: &[Complex<f32>], conj: bool) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features the function needs were detected just above.
        unsafe { mul_f32_avx2(v, h, conj) };
        return;
    }
    mul_scalar(v, h, conj)
}

/// Four products per iteration: with `a = (ar, ai)` and `b = (br, bi)`,
/// `fmaddsub(a, br, swap(a)·bi) = (ar·br − ai·bi, ai·br + ar·bi)`; `conj` negates `bi`.
///
/// # Safety
/// The processor must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mul_f32_avx2(v: &mut [Complex<f32>], h: &[Complex<f32>], conj: bool) {
    use std::arch::x86_64::*;
    let n = v.len().min(h.len());
    let quads = n / 4;
    let vp = v.as_mut_ptr() as *mut f32;
    let hp = h.as_ptr() as *const f32;
    let sign = _mm256_set1_ps(if conj { -1.0 } else { 1.0 });
    for q in 0..quads {
        // SAFETY: `q < n/4`, so the eight floats at `8q` lie inside both slices (a
        // `Complex<f32>` is two `f32`s, `#[repr(C)]`); unaligned loads and stores.
        unsafe {
            let a = _mm256_loadu_ps(vp.add(8 * q));
            let b = _mm256_loadu_ps(hp.add(8 * q));
            let br = _mm256_moveldup_ps(b);
            let bi = _mm256_mul_ps(_mm256_movehdup_ps(b), sign);
            let swapped = _mm256_permute_ps::<0b1011_0001>(a);
            let r = _mm256_fmaddsub_ps(a, br, _mm256_mul_ps(swapped, bi));
            _mm256_storeu_ps(vp.add(8 * q), r);
        }
    }
    mul_scalar(&mut v[4 * quads..n], &h[4 * quads..n], conj);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_products_match_the_portable_loop() {
        // Lengths around the 4-wide step, both directions, values of mixed sign and scale.
        for n in [0usize, 1, 3, 4, 5, 8, 127, 128, 130] {
            let v: Vec<Complex<f32>> = (0..n)
                .map(|i| Complex::new((i as f32 * 0.37).sin() * 3.0, (i as f32 * 1.3).cos()))
                .collect();
            let h: Vec<Complex<f32>> = (0..n)
                .map(|i| Complex::new((i as f32 * 0.11).cos(), -(i as f32 * 0.7).sin() * 2.0))
                .collect();
            for conj in [false, true] {
                let (mut a, mut b) = (v.clone(), v.clone());
                mul_f32(&mut a, &h, conj);
                mul_scalar(&mut b, &h, conj);
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    let tol = 1e-6 * (1.0 + y.norm());
                    assert!(
                        (x - y).norm() <= tol,
                        "n {n} conj {conj} at {i}: {x} vs {y}"
                    );
                }
                // And against the definition in f64.
                for (i, x) in a.iter().enumerate() {
                    let hv = if conj { h[i].conj() } else { h[i] };
                    let want = Complex::new(v[i].re as f64, v[i].im as f64)
                        * Complex::new(hv.re as f64, hv.im as f64);
                    let d = Complex::new(x.re as f64, x.im as f64) - want;
                    assert!(d.norm() <= 1e-6 * (1.0 + want.norm()), "n {n} at {i}");
                }
            }
        }
    }
}
