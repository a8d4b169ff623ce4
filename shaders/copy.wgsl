// A plain copy, dst[i] = src[i] over complex samples: the reference kernel for measuring the
// memory bandwidth the other passes are compared with.

// Rust twin: wavetrain::gpu::uniforms::LenParams.
struct LenParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: LenParams;
@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<f32>>;

@compute @workgroup_size(256)
fn copy(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.len {
        return;
    }
    dst[g] = src[g];
}
