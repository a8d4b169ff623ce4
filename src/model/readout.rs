//! The readout's geometry: detector regions on the output plane and their automatic layout.
//!
//! Layout ([`layout_regions`]): square detectors of side `d` with gaps `g = ⌈d/2⌉` (at least 1),
//! `p = d + g` apart; ten classes sit in rows of 3, 4 and 3, other counts in rows of `⌈√n⌉`. The
//! block of rows is centred vertically with `y0 = ⌊(ny − h)/2⌋`, and each row horizontally with
//! `x0 = ⌊(nx − w_row)/2⌋`, where `w_row = count·p − g` and `h = rows·p − g`, all in whole
//! pixels. A row of width `w` starting at `x0` is centred on pixel `x0 + (w − 1)/2`, while the
//! optical axis (`x = 0`, DESIGN §2) is pixel `nx/2`. For the default `d2nn-mnist` (64², `d = 6`,
//! `g = 3`, `p = 9`): the 3-detector rows span columns 20–43 (centre 31.5), the 4-detector row
//! columns 15–47 (centre 31), and the rows start at y = 20, 29, 38 (the block spans rows 20–43,
//! centre 31.5). The optical axis is pixel 32, so the block sits half a pixel (the 4-detector
//! row one pixel) towards the origin. Rows of odd and even pixel width cannot share one centre
//! on whole pixels, so no whole-pixel layout of 3-4-3 rows is centred on the axis; the layout is
//! kept as it is (changing it would change every trained result) and
//! `readout.regions` places detectors exactly where they are wanted.

use serde::{Deserialize, Serialize};

use super::Config;
use crate::error::{Error, Result};

/// A rectangular detector region in grid pixels: columns `x0..x0+w`, rows `y0..y0+h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
}

impl Region {
    /// True when the region lies inside an `nx × ny` grid and is not empty.
    pub fn fits(&self, nx: usize, ny: usize) -> bool {
        self.w > 0 && self.h > 0 && self.x0 + self.w <= nx && self.y0 + self.h <= ny
    }
}

impl Config {
    /// The detector regions: the explicit list, or the automatic layout.
    pub fn regions(&self) -> Result<Vec<Region>> {
        let r = &self.readout;
        if !r.regions.is_empty() {
            if r.regions.len() != r.classes {
                return Err(Error::config(
                    "readout.regions",
                    format!(
                        "{} regions for {} classes: give one region per class",
                        r.regions.len(),
                        r.classes
                    ),
                ));
            }
            return Ok(r.regions.clone());
        }
        layout_regions(r.classes, r.detector_size, self.optics.nx, self.optics.ny)
            .ok_or_else(|| Error::config("readout.detector_size", format!("{} detectors of {} pixels do not fit the {}×{} grid: use smaller detectors or a larger grid", r.classes, r.detector_size, self.optics.nx, self.optics.ny)))
    }
}

/// Square detectors of side `d`: 3-4-3 rows for 10 classes, otherwise rows of `⌈√n⌉`, centred,
/// with gaps of `d/2` (rounded up). `None` when they do not fit.
pub fn layout_regions(n: usize, d: usize, nx: usize, ny: usize) -> Option<Vec<Region>> {
    if d == 0 {
        return None;
    }
    let rows: Vec<usize> = if n == 10 {
        vec![3, 4, 3]
    } else {
        let per = (n as f64).sqrt().ceil() as usize;
        let mut v = vec![per; n / per];
        if !n.is_multiple_of(per) {
            v.push(n % per);
        }
        v
    };
    let gap = d.div_ceil(2).max(1);
    let pitch = d + gap;
    let widest = *rows.iter().max()?;
    let (w, h) = (widest * pitch - gap, rows.len() * pitch - gap);
    if w > nx || h > ny {
        return None;
    }
    let y0 = (ny - h) / 2;
    let mut out = Vec::with_capacity(n);
    for (ri, &count) in rows.iter().enumerate() {
        let rw = count * pitch - gap;
        let x0 = (nx - rw) / 2;
        for c in 0..count {
            out.push(Region {
                x0: x0 + c * pitch,
                y0: y0 + ri * pitch,
                w: d,
                h: d,
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions the module doc states for the default network.
    #[test]
    fn default_layout_is_where_the_doc_says() {
        let r = layout_regions(10, 6, 64, 64).unwrap();
        let rows: Vec<(usize, usize, usize)> = [0..3, 3..7, 7..10]
            .into_iter()
            .map(|k| {
                let row = &r[k];
                (row[0].x0, row[row.len() - 1].x0 + 6 - 1, row[0].y0)
            })
            .collect();
        assert_eq!(rows, vec![(20, 43, 20), (15, 47, 29), (20, 43, 38)]);
        assert!(r.iter().all(|g| g.w == 6 && g.h == 6));
    }
}
