//! Sampling geometry: grid size, pixel pitch, coordinates and FFT-order frequencies.

use crate::error::{Error, Result};

/// A square-pixel sampling grid of `nx × ny` pixels at pitch `dx` metres.
///
/// Coordinates are centred: `x_m = (m − nx/2)·dx`. Spatial frequencies are in unshifted FFT order:
/// `f_k = k/(nx·dx)` for `k < nx/2`, `(k − nx)/(nx·dx)` otherwise (`k = nx/2` is the negative
/// Nyquist frequency).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// Pixels along x (fastest-varying index).
    pub nx: usize,
    /// Pixels along y.
    pub ny: usize,
    /// Pixel pitch in metres.
    pub dx: f64,
}

/// The largest grid side the engine accepts.
pub const MAX_SIDE: usize = 16384;

impl Grid {
    /// A grid after checking its sizes and pitch.
    pub fn new(nx: usize, ny: usize, dx: f64) -> Result<Self> {
        for (key, n) in [("grid.nx", nx), ("grid.ny", ny)] {
            if n < 2 {
                return Err(Error::config(
                    key,
                    format!("{n} pixels is too small: use at least 2 (a power of two such as 64 or 128 works on every backend)"),
                ));
            }
            if n > MAX_SIDE {
                return Err(Error::config(
                    key,
                    format!("{n} pixels is larger than the supported {MAX_SIDE}"),
                ));
            }
        }
        if !(dx.is_finite() && dx > 0.0) {
            return Err(Error::config(
                "grid.pitch",
                format!("pixel pitch must be a positive length in metres, got {dx}"),
            ));
        }
        Ok(Grid { nx, ny, dx })
    }

    /// Number of pixels in one image.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// Always false: a grid has at least 2×2 pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Centred x coordinate of column `m`.
    pub fn x(&self, m: usize) -> f64 {
        (m as f64 - (self.nx / 2) as f64) * self.dx
    }

    /// Centred y coordinate of row `n`.
    pub fn y(&self, n: usize) -> f64 {
        (n as f64 - (self.ny / 2) as f64) * self.dx
    }

    /// Spatial frequency of FFT bin `k` along x (cycles per metre).
    pub fn fx(&self, k: usize) -> f64 {
        fft_freq(k, self.nx, self.dx)
    }

    /// Spatial frequency of FFT bin `k` along y (cycles per metre).
    pub fn fy(&self, k: usize) -> f64 {
        fft_freq(k, self.ny, self.dx)
    }

    /// Physical width along x in metres.
    pub fn width(&self) -> f64 {
        self.nx as f64 * self.dx
    }

    /// Physical height along y in metres.
    pub fn height(&self) -> f64 {
        self.ny as f64 * self.dx
    }
}

/// Frequency of bin `k` of an `n`-point DFT with sample spacing `d`, in unshifted order.
pub fn fft_freq(k: usize, n: usize, d: f64) -> f64 {
    let k = k as f64;
    let nf = n as f64;
    if (k as usize) < n / 2 {
        k / (nf * d)
    } else {
        (k - nf) / (nf * d)
    }
}

/// Padded length for a side of `n` pixels with padding factor `pad` (≥ 1): `ceil(n·pad)`, rounded
/// up to even so that the centred crop is symmetric.
pub fn padded_len(n: usize, pad: f64) -> usize {
    let p = (n as f64 * pad).ceil() as usize;
    let p = p.max(n);
    p + (p - n) % 2
}
