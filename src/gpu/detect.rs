//! Detectors on the GPU (mirrors `src/cpu/detect.rs`, runs `shaders/detect.wgsl`): power per
//! rectangular region (a reduction, one workgroup per image and region) and the probe a detector
//! loss injects.

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{
    encode_pass, groups_for, read, split_groups, u32_of, uniform, write, Dispatch,
};
use super::uniforms::{DetectParams, NoiseParams};
use crate::error::{Error, Result};
use crate::model::Region;

/// Detector regions uploaded once, as `(x0, y0, w, h)` per region.
#[derive(Clone, Debug)]
pub struct Regions {
    buf: GpuBuffer<[u32; 4]>,
    nx: usize,
    ny: usize,
}

impl Regions {
    /// Uploads `regions` of an `nx × ny` grid; a region outside the grid is refused.
    pub fn new(ctx: &GpuContext, regions: &[Region], nx: usize, ny: usize) -> Result<Self> {
        if regions.is_empty() {
            return Err(Error::config(
                "detector.regions",
                "at least one region is needed",
            ));
        }
        let mut v = Vec::with_capacity(regions.len());
        for (i, r) in regions.iter().enumerate() {
            if !r.fits(nx, ny) {
                return Err(Error::config(
                    format!("detector.regions[{i}]"),
                    format!("{r:?} is empty or does not fit the {nx}×{ny} grid"),
                ));
            }
            v.push([r.x0 as u32, r.y0 as u32, r.w as u32, r.h as u32]);
        }
        Ok(Regions {
            buf: GpuBuffer::from_slice(ctx, "detect.regions", &v)?,
            nx,
            ny,
        })
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Always false: there is at least one region.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

fn params(ctx: &GpuContext, field: &Field, regions: &Regions, dx: f64) -> Result<wgpu::Buffer> {
    if (field.nx(), field.ny()) != (regions.nx, regions.ny) {
        bad_grid(field, regions);
    }
    let p = DetectParams {
        nx: field.nx() as u32,
        ny: field.ny() as u32,
        batch: field.batch() as u32,
        regions: regions.len() as u32,
        area: (dx * dx) as f32,
        ..Default::default()
    };
    u32_of("field samples", field.len())?;
    ctx.uniform("wavetrain.detect.params", &p)
}

/// Powers `P[b][k] = Σ_{region k} |u|²·dx²` into a `[batch][regions]` buffer (mirrors
/// [`crate::cpu::detect()`]).
pub struct Detect {
    dispatch: Dispatch,
}

impl Detect {
    /// Plans the detection of `field` into `powers` (`batch·regions` values, overwritten).
    ///
    /// # Panics
    /// If `powers` has the wrong length or the regions were made for another grid.
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        regions: &Regions,
        dx: f64,
        powers: &GpuBuffer<f32>,
    ) -> Result<Self> {
        let jobs = field.batch() * regions.len();
        if powers.len() != jobs {
            bad_len("Detect: powers", powers.len(), jobs);
        }
        let u = params(ctx, field, regions, dx)?;
        let dispatch = Dispatch::new(
            ctx,
            "detect",
            "detect",
            &[],
            &[
                uniform(0, &u),
                read(1, field.buffer()),
                read(2, regions.buf.buffer()),
                write(3, powers.buffer()),
            ],
            split_groups(ctx, jobs as u64)?,
        )?;
        Ok(Detect { dispatch })
    }

    /// Records the detection.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "detect", std::slice::from_ref(&self.dispatch));
    }
}

/// The probe a detector loss injects, `b = conj(Σ_k ∂L/∂P_k · u · dx² · 1_k)`, zero outside the
/// regions (mirrors [`crate::cpu::detect_probe`]).
pub struct DetectProbe {
    dispatch: Dispatch,
}

impl DetectProbe {
    /// Plans the probe from the pump field `u` at the detector and `dl_dp` (`[batch][regions]`)
    /// into `probe` (overwritten).
    ///
    /// # Panics
    /// If the sizes disagree.
    pub fn new(
        ctx: &GpuContext,
        u: &Field,
        regions: &Regions,
        dx: f64,
        dl_dp: &GpuBuffer<f32>,
        probe: &Field,
    ) -> Result<Self> {
        if !u.same_shape(probe) {
            bad_len("DetectProbe: probe", probe.len(), u.len());
        }
        if dl_dp.len() != u.batch() * regions.len() {
            bad_len("DetectProbe: dL/dP", dl_dp.len(), u.batch() * regions.len());
        }
        let p = params(ctx, u, regions, dx)?;
        let dispatch = Dispatch::new(
            ctx,
            "detect",
            "detect_probe",
            &[],
            &[
                uniform(0, &p),
                read(1, u.buffer()),
                read(2, regions.buf.buffer()),
                read(4, dl_dp.buffer()),
                write(5, probe.buffer()),
            ],
            groups_for(ctx, u.len())?,
        )?;
        Ok(DetectProbe { dispatch })
    }

    /// Records the probe injection.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "detect_probe", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_len(what: &str, got: usize, want: usize) -> ! {
    panic!("{what}: {got} values, expected {want}")
}

#[cold]
#[inline(never)]
fn bad_grid(field: &Field, regions: &Regions) -> ! {
    panic!(
        "detect: field is {}×{} but the regions were made for {}×{}",
        field.nx(),
        field.ny(),
        regions.nx,
        regions.ny
    )
}

/// The imperfect system's detector noise on the powers, in place (`shaders/detect_noise.wgsl`,
/// mirrors `measure` of `src/cpu/field.rs`, drawing the same numbers from [`crate::rng`]).
pub struct DetectNoise {
    dispatch: Dispatch,
    uniform: wgpu::Buffer,
    base: NoiseParams,
}

impl DetectNoise {
    /// The noise of `hw` (`shot_noise`, `read_noise`, `camera_bits`) on `powers`
    /// (`[batch][regions]`).
    ///
    /// # Panics
    /// If `powers` does not hold `batch × regions` values.
    pub fn new(
        ctx: &GpuContext,
        powers: &GpuBuffer<f32>,
        batch: usize,
        regions: usize,
        hw: &crate::model::Hardware,
    ) -> Result<Self> {
        assert_eq!(
            powers.len(),
            batch * regions,
            "DetectNoise: {} powers for {batch} images of {regions} detectors",
            powers.len()
        );
        let key = crate::rng::key_of(hw.seed);
        let base = NoiseParams {
            batch: u32_of("batch", batch)?,
            regions: u32_of("detectors", regions)?,
            key0: key[0],
            key1: key[1],
            shot: hw.shot_noise.unwrap_or(0.0) as f32,
            read: hw.read_noise as f32,
            levels: hw.camera_bits.map_or(0.0, |b| ((1u64 << b) - 1) as f32),
            ..Default::default()
        };
        let uniform_buf = ctx.uniform("wavetrain.detect_noise.params", &base)?;
        let dispatch = Dispatch::new(
            ctx,
            "detect_noise",
            "detect_noise",
            &[],
            &[uniform(0, &uniform_buf), write(1, powers.buffer())],
            groups_for(ctx, batch)?,
        )?;
        Ok(DetectNoise {
            dispatch,
            uniform: uniform_buf,
            base,
        })
    }

    /// Sets the random counter of the next pass: the optimiser step and the pump pass since it
    /// (1 for the step's own), as the CPU's executor counts them.
    pub fn set_counter(&self, ctx: &GpuContext, step: u64, pass: u64) {
        let p = NoiseParams {
            step: step as u32,
            word1: crate::rng::word1(0, crate::rng::Purpose::Detector, (pass & 0xffff) as u32),
            ..self.base
        };
        ctx.upload(&self.uniform, 0, &[p]);
    }

    /// Records the noise.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "detect_noise", std::slice::from_ref(&self.dispatch));
    }
}
