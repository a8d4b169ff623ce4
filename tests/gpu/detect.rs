//! Detector regions (shaders/detect.wgsl): `Detect` and `DetectProbe` against `cpu::detect` and
//! `cpu::detect_probe`, with overlapping regions; a region off the grid is refused.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{Detect, DetectProbe, Field, GpuBuffer, Regions};
use wavetrain::model::Region;

use crate::common::*;
use crate::support::*;
use crate::Ctx;

fn regions() -> Vec<Region> {
    vec![
        Region {
            x0: 2,
            y0: 3,
            w: 10,
            h: 5,
        },
        Region {
            x0: 30,
            y0: 0,
            w: 34,
            h: 32,
        },
        Region {
            x0: 0,
            y0: 20,
            w: 1,
            h: 1,
        },
        Region {
            x0: 8,
            y0: 4,
            w: 20,
            h: 20,
        }, // overlaps the first
    ]
}
pub fn detect_and_probe_64x32(ctx: &Ctx) -> Result<(), Failed> {
    let (nx, ny, batch, dx) = (64, 32, 3, 8e-6);
    let u: Vec<Complex32> = random_field(nx * ny * batch, 70);
    let regs = regions();
    let r = Regions::new(ctx, &regs, nx, ny)?;
    let f = Field::from_slice(ctx, "u", nx, ny, batch, &u)?;
    let powers = nan_buf(ctx, "powers", batch * regs.len())?;
    let det = Detect::new(ctx, &f, &r, dx, &powers)?;
    let dl: Vec<f32> = random_real(batch * regs.len(), -1.0, 1.0, 71);
    let dl_dp = GpuBuffer::from_slice(ctx, "dl_dp", &dl)?;
    let probe = Field::from_slice(ctx, "probe", nx, ny, batch, &vec![NAN; u.len()])?;
    let inj = DetectProbe::new(ctx, &f, &r, dx, &dl_dp, &probe)?;
    run(ctx, |e| {
        det.encode(e);
        inj.encode(e);
    })?;
    let want = cpu::detect(&u, nx, ny, &regs, dx);
    real_close(&powers.read(ctx)?, &want, 1e-5, 1e-6, "detect");
    let mut want = vec![Complex32::new(0.0, 0.0); u.len()];
    cpu::detect_probe(&u, nx, ny, &regs, dx, &dl, &mut want);
    assert_close(&probe.read(ctx)?, &want, 1e-6, 1e-7, "detect probe");
    assert!(Regions::new(
        ctx,
        &[Region {
            x0: 60,
            y0: 0,
            w: 5,
            h: 1
        }],
        nx,
        ny
    )
    .is_err());
    Ok(())
}
