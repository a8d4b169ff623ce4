// Parameter updates in place (mirrors src/cpu/optimizer.rs): SGD and Adam (Kingma & Ba 2015).
// The bias corrections c1 = 1/(1−β₁ᵗ), c2 = 1/(1−β₂ᵗ) are computed on the host in f64 per step.

// Rust twin: wavetrain::gpu::uniforms::OptimizerParams.
struct OptimizerParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    c1: f32,
    c2: f32,
    _pad3: f32,
    _pad4: f32,
}

@group(0) @binding(0) var<uniform> p: OptimizerParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

// p ← p − lr·g.
@compute @workgroup_size(256)
fn sgd_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if i >= p.len {
        return;
    }
    params[i] = params[i] - p.lr * grads[i];
}

// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·(m·c1)/(√(v·c2) + ε).
@compute @workgroup_size(256)
fn adam_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if i >= p.len {
        return;
    }
    let g = grads[i];
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] - p.lr * (mi * p.c1) / (sqrt(vi * p.c2) + p.eps);
}
