//! `RngDraw` (shaders/rng.wgsl): the GPU's Philox4x32-10 draws the CPU's u32 exactly and its
//! normals to a few f32 ulp, for random keys and counters (and the known-answer vectors).

use libtest_mimic::Failed;
use rand::{Rng, SeedableRng};
use wavetrain::gpu::{self, GpuBuffer};
use wavetrain::rng;

use crate::support::*;
use crate::Ctx;

pub fn rng_matches_cpu(ctx: &Ctx) -> Result<(), Failed> {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(26);
    let mut items: Vec<u32> = vec![
        0,
        0,
        0,
        0,
        0,
        0, //
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX, //
        0xa4093822,
        0x299f31d0,
        0x243f6a88,
        0x85a308d3,
        0x13198a2e,
        0x03707344,
    ];
    let n = 100_003;
    while items.len() < 6 * n {
        items.push(r.random());
    }
    let src = GpuBuffer::from_slice(ctx, "items", &items)?;
    let bits = GpuBuffer::from_slice(ctx, "bits", &vec![[0xdead_beef_u32; 4]; n])?;
    let normals = GpuBuffer::from_slice(ctx, "normals", &vec![[f32::NAN; 4]; n])?;
    let op = gpu::RngDraw::new(ctx, &src, &bits, &normals)?;
    run(ctx, |e| op.encode(e))?;
    let (gb, gn) = (bits.read(ctx)?, normals.read(ctx)?);
    assert_eq!(gb[0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    assert_eq!(gb[2], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
    let mut worst = 0.0f32;
    for i in 0..n {
        let o = &items[6 * i..6 * i + 6];
        let (key, ctr) = ([o[0], o[1]], [o[2], o[3], o[4], o[5]]);
        assert_eq!(gb[i], rng::philox4x32_10(ctr, key), "item {i}");
        let want = rng::normals(key, ctr);
        for (g, c) in gn[i].iter().zip(want) {
            // A few ulp of the value, or of 1 near zero (sin/cos of an angle near ±π/2, 0, ±π).
            let err = (g - c).abs() / (f32::EPSILON * c.abs().max(1.0));
            worst = worst.max(err);
            if err > 16.0 {
                return Err(format!("item {i}: GPU normal {g}, CPU {c} ({err:.1} ulp)").into());
            }
        }
    }
    eprintln!("rng: worst normal difference {worst:.2} ulp over {n} draws");
    Ok(())
}
