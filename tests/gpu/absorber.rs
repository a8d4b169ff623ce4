//! Saturable absorbers (shaders/absorber.wgsl): `AbsorberPump` (with and without saving its
//! input) and `AbsorberProbe` (linearised and exact) against `cpu::absorber_pump` and
//! `cpu::absorber_probe`, thin and Beer–Lambert models.

use libtest_mimic::Failed;
use num_complex::Complex32;
use wavetrain::cpu;
use wavetrain::gpu::{AbsorberProbe, AbsorberPump, Field, GpuContext};
use wavetrain::optics::{Absorber, AbsorberModel};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

fn check_absorber(
    ctx: &GpuContext,
    model: AbsorberModel,
    od: f64,
    seed: u64,
) -> Result<(), Failed> {
    let (nx, ny, batch) = (64, 32, 2);
    // Intensities from ~0 to ~18 I_sat, around the knee at s = 1.
    let v: Vec<Complex32> = random_field::<f32>(nx * ny * batch, seed)
        .iter()
        .map(|z| z * 3.0)
        .collect();
    let b: Vec<Complex32> = random_field(nx * ny * batch, seed + 1);
    let ab = Absorber::new(od, model);
    let f = Field::from_slice(ctx, "v", nx, ny, batch, &v)?;
    let saved = Field::from_slice(ctx, "saved", nx, ny, batch, &vec![NAN; v.len()])?;
    let pump = AbsorberPump::new(ctx, &f, &ab, Some(&saved))?;
    run(ctx, |e| pump.encode(e))?;
    let mut want = v.clone();
    cpu::absorber_pump(&mut want, &ab);
    assert_close(
        &f.read(ctx)?,
        &want,
        1e-5,
        1e-6,
        &format!("absorber pump {model:?}"),
    );
    assert_eq!(saved.read(ctx)?, v, "saved pump input");
    let plain = Field::from_slice(ctx, "v2", nx, ny, batch, &v)?;
    let op = AbsorberPump::new(ctx, &plain, &ab, None)?;
    run(ctx, |e| op.encode(e))?;
    assert_close(
        &plain.read(ctx)?,
        &want,
        1e-5,
        1e-6,
        "absorber pump without save",
    );
    for exact in [false, true] {
        let probe = Field::from_slice(ctx, "b", nx, ny, batch, &b)?;
        let op = AbsorberProbe::new(ctx, &probe, &saved, &ab, exact)?;
        run(ctx, |e| op.encode(e))?;
        let mut want = b.clone();
        cpu::absorber_probe(&mut want, &v, &ab, exact);
        assert_close(
            &probe.read(ctx)?,
            &want,
            2e-5,
            1e-6,
            &format!("absorber probe {model:?} exact={exact}"),
        );
    }
    Ok(())
}
pub fn absorber_thin(ctx: &Ctx) -> Result<(), Failed> {
    check_absorber(ctx, AbsorberModel::Thin, 10.0, 60)
}
pub fn absorber_beer_lambert(ctx: &Ctx) -> Result<(), Failed> {
    check_absorber(ctx, AbsorberModel::BeerLambert, 4.0, 61)?;
    check_absorber(ctx, AbsorberModel::BeerLambert, 10.0, 62)
}
