// The element-wise parts of a dense (matrix–vector) optical network on the GPU (mirrors
// src/cpu/dense.rs; the products themselves run in matmul.wgsl): per-row gains, the activations
// on signed real amplitudes (saturable absorber g(z) = z·t(z²), ReLU) with their optical or exact
// probe factors, the loss on the output amplitudes, and the SLM's view of the weights.

// Rust twin: wavetrain::gpu::uniforms::DenseParams.
struct DenseParams {
    // Elements the kernel covers.
    len: u32,
    // Row length: output size for row gains, classes for the loss.
    n: u32,
    // Activation: 0 thin absorber, 1 Beer–Lambert absorber, 2 ReLU. Loss: 0 cross-entropy, 1 MSE.
    kind: u32,
    // Probe: 1 exact derivative, 0 optical (t of the pump). Weights: 1 for an optical layer.
    flag: u32,
    // Loss: images of the batch that are real (the rest is padding).
    valid: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // Absorber α₀ (f32).
    od: f32,
    // Loss: 1/τ. Weights: SLM levels 2^bits − 1, or 0 for full precision.
    scale: f32,
    // Loss: 1/valid.
    inv_valid: f32,
    // Probe: peak probe intensity at the absorber (units of I_sat; 0: a weak probe); the
    // probe's peak |b| is read from dst2[0].
    probe_power: f32,
}

@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst2: array<f32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return group_index(wid, nwg) * 256u + lid;
}

// dst[b][i] *= aux[i]: the gain·r_i of each multiplier row (pump output, or probe entering it).
@compute @workgroup_size(256)
fn scale_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    dst[i] = dst[i] * aux[i % p.n];
}

// Pump: dst = g(src), g(z) = z·t(z²) for an absorber, max(z, 0) for ReLU.
@compute @workgroup_size(256)
fn activate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    let z = src[i];
    if p.kind == 2u {
        dst[i] = max(z, 0.0);
    } else {
        dst[i] = z * saturable(z * z, p.od, p.kind).x;
    }
}

// Probe: dst = f·src with z = aux the pump entering the activation; f = t(z²) (optical: the weak
// probe sees the pump-saturated absorber), g'(z) = t + 2z²·t'(z²) (exact), or the ReLU's step.
@compute @workgroup_size(256)
fn activate_probe(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    let z = aux[i];
    let b = src[i];
    if p.kind == 2u {
        dst[i] = select(0.0, b, z > 0.0);
        return;
    }
    let s = z * z;
    if p.flag == 0u && p.probe_power > 0.0 && dst2[0] > 0.0 {
        // A probe that is not weak saturates the absorber too: t(z² + (c·b)²), its peak
        // intensity scaled to probe_power (as src/cpu/dense.rs).
        let pb = b * (sqrt(p.probe_power) / dst2[0]);
        dst[i] = b * saturable(s + pb * pb, p.od, p.kind).x;
        return;
    }
    let tds = saturable(s, p.od, p.kind);
    if p.flag == 1u {
        dst[i] = b * (tds.x + 2.0 * s * tds.y);
    } else {
        dst[i] = b * tds.x;
    }
}

// Loss on the output amplitudes src = y[batch][classes], one thread per image: MSE
// Σ(y − onehot)² with ∂L/∂y = 2(y − onehot), or cross-entropy −log softmax(y/τ)_label with
// ∂L/∂y = (softmax − onehot)/τ; both times 1/valid into dst. dst2[b] = (loss, hit). Padding
// images (b ≥ valid) get zero gradient and no loss.
@compute @workgroup_size(64)
fn dense_loss(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    let k = p.n;
    if b * k >= p.len {
        return;
    }
    let row = b * k;
    if b >= p.valid {
        for (var j = 0u; j < k; j++) {
            dst[row + j] = 0.0;
        }
        dst2[2u * b] = 0.0;
        dst2[2u * b + 1u] = 0.0;
        return;
    }
    let lab = labels[b];
    var best = 0u;
    for (var j = 1u; j < k; j++) {
        if src[row + j] > src[row + best] {
            best = j;
        }
    }
    var loss = 0.0;
    if p.kind == 1u {
        for (var j = 0u; j < k; j++) {
            let e = src[row + j] - select(0.0, 1.0, j == lab);
            loss += e * e;
            dst[row + j] = 2.0 * e * p.inv_valid;
        }
    } else {
        let zmax = src[row + best] * p.scale;
        var denom = 0.0;
        for (var j = 0u; j < k; j++) {
            denom += exp(src[row + j] * p.scale - zmax);
        }
        loss = -(src[row + lab] * p.scale - zmax - log(denom));
        for (var j = 0u; j < k; j++) {
            let sm = exp(src[row + j] * p.scale - zmax) / denom;
            dst[row + j] = (sm - select(0.0, 1.0, j == lab)) * p.scale * p.inv_valid;
        }
    }
    dst2[2u * b] = loss;
    dst2[2u * b + 1u] = select(0.0, 1.0, best == lab);
}

// The weights the SLM shows: an optical layer (flag 1) keeps its full-precision copy dst in
// [−1, 1] and shows it quantised to p.scale levels (when p.scale > 0) in dst2; a digital layer
// shows its weights as they are.
@compute @workgroup_size(256)
fn show_weights(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    var w = dst[i];
    if p.flag == 1u {
        w = clamp(w, -1.0, 1.0);
        dst[i] = w;
        if p.scale > 0.0 {
            w = round((w + 1.0) * 0.5 * p.scale) / p.scale * 2.0 - 1.0;
        }
    }
    dst2[i] = w;
}

// The pixel cross-talk of an optical layer's weight SLM (mirrors network::dense::weight_crosstalk:
// K_out·W·K_inᵀ, K tridiagonal [c, 1 − 2c, c], nothing beyond the matrix's edges), along each row
// (the input index; p.n = n_in, p.od = c): dst2 = (1 − 2c)·dst + c·(left + right).
@compute @workgroup_size(256)
fn crosstalk_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    let c = p.od;
    let keep = 1.0 - (c + c);
    let j = i % p.n;
    var left = 0.0;
    var right = 0.0;
    if j > 0u {
        left = dst[i - 1u];
    }
    if j + 1u < p.n {
        right = dst[i + 1u];
    }
    dst2[i] = keep * dst[i] + c * (left + right);
}

// The cross-talk along each column (the output index), after crosstalk_rows:
// dst = (1 − 2c)·dst2 + c·(above + below).
@compute @workgroup_size(256)
fn crosstalk_cols(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = index(wid, nwg, lid);
    if i >= p.len {
        return;
    }
    let c = p.od;
    let keep = 1.0 - (c + c);
    var above = 0.0;
    var below = 0.0;
    if i >= p.n {
        above = dst2[i - p.n];
    }
    if i + p.n < p.len {
        below = dst2[i + p.n];
    }
    dst[i] = keep * dst2[i] + c * (above + below);
}
