//! Optimisers (shaders/optimizer.wgsl): `Sgd` and four `Adam` steps against `cpu::sgd_step` and
//! `cpu::adam_step`.

use libtest_mimic::Failed;
use wavetrain::cpu;
use wavetrain::gpu::{Adam, GpuBuffer, Sgd};

use crate::common::*;
use crate::support::*;
use crate::Ctx;

pub fn optimizers(ctx: &Ctx) -> Result<(), Failed> {
    let n = 1000;
    let p0: Vec<f32> = random_real(n, -3.0, 3.0, 90);
    let p = GpuBuffer::from_slice(ctx, "p", &p0)?;
    let g = GpuBuffer::from_slice(ctx, "g", &vec![0.0f32; n])?;
    let sgd = Sgd::new(ctx, &p, &g, 0.05)?;
    let mut want = p0.clone();
    let grads: Vec<f32> = random_real(n, -1.0, 1.0, 91);
    g.upload(ctx, &grads);
    run(ctx, |e| sgd.encode(e))?;
    cpu::sgd_step(&mut want, &grads, 0.05);
    real_close(&p.read(ctx)?, &want, 1e-7, 1e-7, "sgd");

    let cfg = wavetrain::network::AdamConfig::default();
    let (m, v) = (
        GpuBuffer::from_slice(ctx, "m", &vec![0.0f32; n])?,
        GpuBuffer::from_slice(ctx, "v", &vec![0.0f32; n])?,
    );
    p.upload(ctx, &p0);
    let adam = Adam::new(ctx, &p, &g, &m, &v, &cfg)?;
    let (mut wp, mut wm, mut wv) = (p0.clone(), vec![0.0f32; n], vec![0.0f32; n]);
    for t in 1..=4u64 {
        let grads: Vec<f32> = random_real(n, -1.0, 1.0, 100 + t);
        g.upload(ctx, &grads);
        adam.set_step(ctx, t);
        run(ctx, |e| adam.encode(e))?;
        cpu::adam_step(&mut wp, &grads, &mut wm, &mut wv, t, &cfg);
    }
    real_close(&p.read(ctx)?, &wp, 1e-6, 1e-6, "adam params");
    real_close(&m.read(ctx)?, &wm, 1e-6, 1e-7, "adam m");
    real_close(&v.read(ctx)?, &wv, 1e-6, 1e-7, "adam v");
    Ok(())
}
