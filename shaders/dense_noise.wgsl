// The noise of a dense network's imperfect system on the GPU (mirrors `mvm_errors` and
// `measure` of src/cpu/dense.rs), drawn from the counter generator (shaders/rng.wgsl) at counter
// [step, word1, 0, element]: exactly the CPU's numbers. Each acts on the first `len` elements
// (the batch's real images); `full[slot]` holds the batch's largest |x| (`max_abs`), the noise's
// and the camera's scale.

// Rust twin: wavetrain::gpu::uniforms::DenseNoiseParams.
struct DenseNoiseParams {
    len: u32,
    slot: u32,
    key0: u32,
    key1: u32,
    step: u32,
    word1: u32,
    _pad0: u32,
    _pad1: u32,
    // mvm_errors: signal error σ_s. measure_beam: photo-electrons at full scale (0: none).
    a: f32,
    // mvm_errors: noise error σ_n. measure_beam: read noise.
    b: f32,
    // measure_beam: 2^bits − 1 (0: no quantisation).
    c: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: DenseNoiseParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> full: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

// full[slot] = max_{i < len} |x[i]|, one workgroup.
@compute @workgroup_size(256)
fn max_abs(@builtin(local_invocation_index) lid: u32) {
    var m = 0.0;
    for (var i = lid; i < p.len; i += 256u) {
        m = max(m, abs(x[i]));
    }
    partial[lid] = m;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if lid < s {
            partial[lid] = max(partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
    }
    if lid == 0u {
        full[p.slot] = partial[0];
    }
}

// The papers' matrix–vector errors, in place: x ← x·(1 + σ_s·ξ₁) + σ_n·max|x|·ξ₂.
@compute @workgroup_size(256)
fn mvm_errors(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if i >= p.len {
        return;
    }
    let z = rng_normals(vec2<u32>(p.key0, p.key1), vec4<u32>(p.step, p.word1, 0u, i));
    x[i] = x[i] * (1.0 + p.a * z.x) + p.b * full[p.slot] * z.y;
}

// What a camera reports for a beam of signed amplitudes (coherent detection) into out: the
// intensity relative to the batch's brightest pixel gets shot noise √(i/n)·ξ₁, read noise σ·ξ₂,
// is clamped to [0, 1] and quantised; the amplitude keeps its sign. Padding elements are 0.
@compute @workgroup_size(256)
fn measure_beam(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if i >= arrayLength(&out) {
        return;
    }
    let f = full[p.slot];
    if i >= p.len || f == 0.0 {
        out[i] = select(x[i], 0.0, i >= p.len);
        return;
    }
    let z = rng_normals(vec2<u32>(p.key0, p.key1), vec4<u32>(p.step, p.word1, 0u, i));
    let a = x[i] / f;
    var v = a * a;
    if p.a > 0.0 {
        v += sqrt(v / p.a) * z.x;
    }
    if p.b > 0.0 {
        v += p.b * z.y;
    }
    v = clamp(v, 0.0, 1.0);
    if p.c > 0.0 {
        v = floor(v * p.c + 0.5) / p.c;
    }
    // The sign of a (Rust's signum: +1 at 0).
    out[i] = select(-1.0, 1.0, a >= 0.0) * sqrt(v) * f;
}
