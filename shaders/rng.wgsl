// Philox4x32-10 and its uniforms and normals (mirrors src/rng.rs, which documents the counter
// layout and cites the algorithm: Salmon, Moraes, Dror & Shaw, SC'11). Shared by every shader
// that draws noise; the CPU and the GPU draw the same u32 for the same key and counter.

// The high 32 bits of a·b. WGSL has no 64-bit integers: the product is built from 16-bit halves
// (the middle partial sums fit in 32 bits: at most 3·(2^16 − 1)).
fn rng_mulhi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let mid = ((a_lo * b_lo) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

// Philox4x32-10: the four u32 of block `ctr` under `key` (rng::philox4x32_10).
fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = ctr;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if round > 0u {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let hi0 = rng_mulhi(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = rng_mulhi(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// A uniform in (0, 1] from the top 24 bits of x (rng::uniform).
fn rng_uniform(x: u32) -> f32 {
    return f32((x >> 8u) + 1u) * (1.0 / 16777216.0);
}

// ln x for a normal f32 x > 0 (rng::ln_unit: the same operations in the same order; WGSL's
// log and cos may differ from the CPU's in more than their last bits).
fn rng_ln(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    var e = i32((bits >> 23u) & 0xffu) - 127;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
    if m > 1.4142135 {
        m = m * 0.5;
        e = e + 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    return 2.0 * s + 2.0 * s * p + f32(e) * 0.6931472;
}

// (cos 2πt, sin 2πt) for t in [−½, ½] turns (rng::cos_sin_turns).
fn rng_cos_sin_turns(t: f32) -> vec2<f32> {
    let q = floor(4.0 * t + 0.5);
    let x = 6.2831855 * (t - 0.25 * q);
    let x2 = x * x;
    let c = 1.0 + x2 * (-1.0 / 2.0 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0
        + x2 * (1.0 / 40320.0 + x2 * (-1.0 / 3628800.0)))));
    let s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0
        + x2 * (1.0 / 362880.0 + x2 * (-1.0 / 39916800.0))))));
    let k = ((i32(q) % 4) + 4) % 4;
    if k == 0 {
        return vec2<f32>(c, s);
    } else if k == 1 {
        return vec2<f32>(-s, c);
    } else if k == 2 {
        return vec2<f32>(-c, -s);
    }
    return vec2<f32>(s, -c);
}

// Two standard normals by Box–Muller (rng::box_muller).
fn rng_box_muller(x0: u32, x1: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * rng_ln(rng_uniform(x0)));
    return r * rng_cos_sin_turns(rng_uniform(x1) - 0.5);
}

// Four standard normals from block `ctr` under `key` (rng::normals).
fn rng_normals(key: vec2<u32>, ctr: vec4<u32>) -> vec4<f32> {
    let x = philox4x32_10(ctr, key);
    return vec4<f32>(rng_box_muller(x.x, x.y), rng_box_muller(x.z, x.w));
}
