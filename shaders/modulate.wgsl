// Diagonal masks (mirrors src/cpu/modulate.rs): SLM masks built from phases or signed amplitudes,
// the modulation itself (pump and probe action of every diagonal element, k×k macro-pixels), and
// the SLM parameter gradients with the batch/macro-pixel reduction fused in.
//
// Gradients (DESIGN §4), with v the pump entering the mask, b the probe arriving at it and
// c = Σ_{batch, macro-pixel} b·v: phase ∂L/∂φ = −2·Im(e^{iφ}·c), amplitude ∂L/∂w = 2·Re(c).

// Rust twin: wavetrain::gpu::uniforms::ModulateParams.
struct ModulateParams {
    nx: u32,
    ny: u32,
    // Macro-pixel side in grid pixels.
    k: u32,
    // SLM pixels along x and y: nx/k, ny/k.
    sx: u32,
    sy: u32,
    batch: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ModulateParams;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> mask: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> mask_out: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> pump: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> probe: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> grad: array<f32>;

// mask = e^{iφ} per SLM pixel (φ reduced to [−π, π] first).
@compute @workgroup_size(256)
fn mask_from_phase(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.sx * p.sy {
        return;
    }
    mask_out[g] = cexp_i(params[g]);
}

// mask = w + 0i per SLM pixel.
@compute @workgroup_size(256)
fn mask_from_amplitude(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.sx * p.sy {
        return;
    }
    mask_out[g] = vec2<f32>(params[g], 0.0);
}

// data[b][y][x] ·= mask[y/k][x/k].
@compute @workgroup_size(256)
fn modulate(
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
    data[g] = cmul(data[g], mask[(y / p.k) * p.sx + x / p.k]);
}

// c = Σ_{batch} Σ_{k×k pixels of SLM pixel q} b·v (the mask correlation of src/cpu/modulate.rs).
fn correlation(q: u32) -> vec2<f32> {
    let px = q % p.sx;
    let py = q / p.sx;
    var c = vec2<f32>(0.0, 0.0);
    for (var b = 0u; b < p.batch; b++) {
        for (var y = py * p.k; y < (py + 1u) * p.k; y++) {
            let row = (b * p.ny + y) * p.nx;
            for (var x = px * p.k; x < (px + 1u) * p.k; x++) {
                c += cmul(probe[row + x], pump[row + x]);
            }
        }
    }
    return c;
}

// grad[q] = ∂L/∂φ_q = −2·Im(e^{iφ_q}·c_q).
@compute @workgroup_size(256)
fn slm_phase_grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = group_index(wid, nwg) * 256u + lid;
    if q >= p.sx * p.sy {
        return;
    }
    grad[q] = -2.0 * cmul(cexp_i(params[q]), correlation(q)).y;
}

// grad[q] = ∂L/∂w_q = 2·Re(c_q).
@compute @workgroup_size(256)
fn slm_amplitude_grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = group_index(wid, nwg) * 256u + lid;
    if q >= p.sx * p.sy {
        return;
    }
    grad[q] = 2.0 * correlation(q).x;
}
