// What the imperfect system's detectors report (mirrors `measure` in src/cpu/field.rs): per
// image, each detector power relative to the brightest (the camera's full scale) gets shot noise
// √(i/n)·ξ₁ and read noise σ·ξ₂, is clamped to [0, 1] and quantised to `levels` steps, in place.
// ξ₁, ξ₂ are the first two normals of the counter generator (shaders/rng.wgsl) at counter
// [step, word1, image, detector], exactly the CPU's draws. One thread per image.

// Rust twin: wavetrain::gpu::uniforms::NoiseParams.
struct NoiseParams {
    batch: u32,
    regions: u32,
    key0: u32,
    key1: u32,
    step: u32,
    word1: u32,
    // Photo-electrons at full scale (0: no shot noise).
    shot: f32,
    // Read noise relative to full scale.
    read: f32,
    // 2^bits − 1 (0: no quantisation).
    levels: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: NoiseParams;
@group(0) @binding(1) var<storage, read_write> powers: array<f32>;

@compute @workgroup_size(256)
fn detect_noise(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let img = group_index(wid, nwg) * 256u + lid;
    if img >= p.batch {
        return;
    }
    let o = img * p.regions;
    var full = 0.0;
    for (var k = 0u; k < p.regions; k++) {
        full = max(full, powers[o + k]);
    }
    if full <= 0.0 {
        return;
    }
    let key = vec2<u32>(p.key0, p.key1);
    for (var d = 0u; d < p.regions; d++) {
        let z = rng_normals(key, vec4<u32>(p.step, p.word1, img, d));
        var i = powers[o + d] / full;
        if p.shot > 0.0 {
            i += sqrt(i / p.shot) * z.x;
        }
        if p.read > 0.0 {
            i += p.read * z.y;
        }
        i = clamp(i, 0.0, 1.0);
        if p.levels > 0.0 {
            // floor(x + ½): the CPU's round (half away from zero) for x ≥ 0.
            i = floor(i * p.levels + 0.5) / p.levels;
        }
        powers[o + d] = i * full;
    }
}
