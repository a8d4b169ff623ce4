// Raw draws of the counter-based generator (shaders/rng.wgsl) for given keys and counters: the
// check that the CPU (src/rng.rs) and the GPU draw the same numbers. Item i reads
// `[key0, key1, c0, c1, c2, c3]` and writes its four u32 and its four normals.

// Rust twin: wavetrain::gpu::uniforms::LenParams.
struct LenParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: LenParams;
@group(0) @binding(1) var<storage, read> items: array<u32>;
@group(0) @binding(2) var<storage, read_write> bits: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> gauss: array<vec4<f32>>;

@compute @workgroup_size(256)
fn draw(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.len {
        return;
    }
    let o = 6u * g;
    let key = vec2<u32>(items[o], items[o + 1u]);
    let ctr = vec4<u32>(items[o + 2u], items[o + 3u], items[o + 4u], items[o + 5u]);
    bits[g] = philox4x32_10(ctr, key);
    gauss[g] = rng_normals(key, ctr);
}
