// Detectors (mirrors src/cpu/detect.rs): power in rectangular regions, P[b][k] = Σ_k |u|²·dx²
// (one workgroup per image and region, a tree reduction in workgroup memory), and the probe a
// detector loss injects, b = conj(Σ_k ∂L/∂P_k · u · dx² · 1_k), zero outside the regions.

// Rust twin: wavetrain::gpu::uniforms::DetectParams.
struct DetectParams {
    nx: u32,
    ny: u32,
    batch: u32,
    regions: u32,
    // dx² (f32).
    area: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: DetectParams;
@group(0) @binding(1) var<storage, read> field: array<vec2<f32>>;
// (x0, y0, w, h) per region, as cpu::detect::Region.
@group(0) @binding(2) var<storage, read> region: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> powers: array<f32>;
@group(0) @binding(4) var<storage, read> dl_dp: array<f32>;
@group(0) @binding(5) var<storage, read_write> probe: array<vec2<f32>>;

var<workgroup> partial: array<f32, 256>;

// powers[b·regions + k] for workgroup b·regions + k.
@compute @workgroup_size(256)
fn detect(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let job = group_index(wid, nwg);
    // Uniform across the workgroup, so the barriers below stay in uniform control flow.
    if job >= p.batch * p.regions {
        return;
    }
    let b = job / p.regions;
    let r = region[job % p.regions];
    let img = b * p.nx * p.ny;
    var acc = 0.0;
    for (var t = lid; t < r.z * r.w; t += 256u) {
        let x = r.x + t % r.z;
        let y = r.y + t / r.z;
        acc += cnorm2(field[img + y * p.nx + x]);
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if lid < s {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        powers[job] = partial[0] * p.area;
    }
}

// probe[b][y][x] = conj(u)·Σ_{k ∋ (x,y)} dl_dp[b][k]·dx².
@compute @workgroup_size(256)
fn detect_probe(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.nx * p.ny * p.batch {
        return;
    }
    let x = g % p.nx;
    let y = (g / p.nx) % p.ny;
    let b = g / (p.nx * p.ny);
    let u = cconj(field[g]);
    var acc = vec2<f32>(0.0, 0.0);
    for (var k = 0u; k < p.regions; k++) {
        let r = region[k];
        if x >= r.x && x < r.x + r.z && y >= r.y && y < r.y + r.w {
            acc += u * (dl_dp[b * p.regions + k] * p.area);
        }
    }
    probe[g] = acc;
}
