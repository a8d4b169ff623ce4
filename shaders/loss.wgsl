// Electronic readout on the GPU (mirrors src/loss.rs): per image, the loss on the normalised
// detector powers p_k = P_k/ΣP and ∂L/∂P, so that a whole training step needs no readback but
// the per-image loss and hit.
//
// Cross-entropy: z = p/τ, L = −log softmax(z)_y, g = softmax(z) − onehot(y), scale 1/τ.
// MSE: L = Σ(p − onehot)², g = 2(p − onehot), scale 1.
// ∂L/∂P_j = (1/valid)·scale·(g_j − Σ_k g_k p_k)/ΣP. Images b ≥ valid (padding of a short last
// batch) get zero gradient and no loss.

// Rust twin: wavetrain::gpu::uniforms::LossParams.
struct LossParams {
    batch: u32,
    classes: u32,
    valid: u32,
    // 0: cross-entropy, 1: MSE.
    kind: u32,
    // 1/τ (f32).
    inv_temp: f32,
    // 1/valid (f32).
    inv_valid: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> powers: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dl_dp: array<f32>;
// [batch][2]: loss, 1.0 if the brightest detector is the label.
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

fn g_of(j: u32, pj: f32, y: u32, zmax: f32, denom: f32) -> f32 {
    let hot = select(0.0, 1.0, j == y);
    if p.kind == 0u {
        return exp(pj * p.inv_temp - zmax) / denom - hot;
    }
    return 2.0 * (pj - hot);
}

@compute @workgroup_size(64)
fn loss(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if b >= p.batch {
        return;
    }
    let k = p.classes;
    let off = b * k;
    if b >= p.valid {
        for (var j = 0u; j < k; j++) {
            dl_dp[off + j] = 0.0;
        }
        stats[2u * b] = 0.0;
        stats[2u * b + 1u] = 0.0;
        return;
    }
    let y = labels[b];
    var s = 0.0;
    var arg = 0u;
    for (var j = 0u; j < k; j++) {
        s += powers[off + j];
        if powers[off + j] > powers[off + arg] {
            arg = j;
        }
    }
    s = max(s, 1e-30);
    var zmax = -3.0e38;
    for (var j = 0u; j < k; j++) {
        zmax = max(zmax, powers[off + j] / s * p.inv_temp);
    }
    var denom = 0.0;
    var l = 0.0;
    for (var j = 0u; j < k; j++) {
        let pj = powers[off + j] / s;
        denom += exp(pj * p.inv_temp - zmax);
        let e = pj - select(0.0, 1.0, j == y);
        l += e * e;
    }
    var scale = 1.0;
    if p.kind == 0u {
        l = -(powers[off + y] / s * p.inv_temp - zmax - log(denom));
        scale = p.inv_temp;
    }
    var gp = 0.0;
    for (var j = 0u; j < k; j++) {
        let pj = powers[off + j] / s;
        gp += g_of(j, pj, y, zmax, denom) * pj;
    }
    for (var j = 0u; j < k; j++) {
        let pj = powers[off + j] / s;
        dl_dp[off + j] = p.inv_valid * scale * (g_of(j, pj, y, zmax, denom) - gp) / s;
    }
    stats[2u * b] = l;
    stats[2u * b + 1u] = select(0.0, 1.0, arg == y);
}
