// The hardware's read-out of an SLM's gradient (mirrors `read_out` and `inject` in
// src/cpu/field.rs and src/optics/interferometry.rs, whose module doc gives the formulas): the
// probe's scale per image, the camera frames of the pump a = ρ·v interfering with the physical
// probe σ·b, summed over each camera pixel, with the camera's noise drawn from the counter
// generator (the CPU's numbers), the product recovered by the synchronous-detection sum, and
// the SLM's correlation (or its gradient) from the estimates.
//
// Frame k of N: I_k = A + B + 2g·Re(C·e^{−i(θ_k + δ)}), A = Σ|a|², B = Σ|σb|², C = Σ a·σb;
// estimate Ĉ = (e^{iδ}/(gN))·Σ_k e^{iθ_k}·I_k. The phase factors come from the host in f64
// (`frames`): WGSL's cos and sin are too coarse for a recovery to round-off.

// Rust twin: wavetrain::gpu::uniforms::ReadoutParams.
struct ReadoutParams {
    nx: u32,
    ny: u32,
    // Side of an output cell of the correlation, in grid pixels (the SLM's macro-pixel for an
    // ideal phase SLM, 1 for a device model).
    kc: u32,
    // Side of a camera pixel in grid pixels (binning × macro-pixel).
    side: u32,
    batch: u32,
    // Frames per measurement, N.
    steps: u32,
    // 1: the pump is rotated by the SLM's mask (an ideal phase SLM), ρ = mask; 0: ρ = 1.
    rho: u32,
    // 0: write the correlation `corr`; 1: write the phase gradient −2·Im(e^{iφ}·c) to `grad`.
    mode: u32,
    key0: u32,
    key1: u32,
    // The optimiser step (c0) and word1(0, ReadoutFrame, SLM × 64) (c1 before the frame index).
    step: u32,
    word1: u32,
    // Offset of this SLM's images in `electrons`.
    slot: u32,
    // 1: the camera has noise (frames scaled to full scale, noise, clamp, quantise).
    noisy: u32,
    _pad0: u32,
    _pad1: u32,
    // e^{iδ}/(gN), the estimate's undo factor.
    undo_re: f32,
    undo_im: f32,
    // Photo-electrons at full scale (0: no shot noise).
    shot: f32,
    // Read noise relative to full scale.
    read: f32,
    // 2^bits − 1 (0: no quantisation).
    levels: f32,
    // The probe's peak amplitude relative to the pump's (probe_scale; 0: σ = 1).
    ratio: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> p: ReadoutParams;
@group(0) @binding(1) var<storage, read> pump: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> probe: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> mask: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> scales: array<f32>;
// Per image and camera pixel: (A, B, Re C, Im C), then (Re Ĉ, Im Ĉ)/(σ·cells) in .xy.
@group(0) @binding(5) var<storage, read_write> beams: array<vec4<f32>>;
// (cos θ_k, sin θ_k, Re, Im of 2g·e^{−i(θ_k + δ)}) per frame k.
@group(0) @binding(6) var<storage, read> frames: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> electrons: array<f32>;
@group(0) @binding(8) var<storage, read> params: array<f32>;
@group(0) @binding(9) var<storage, read_write> corr: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read_write> grad: array<f32>;

var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;

// Tree reductions over the workgroup: max into red_a, sum into red_b (both from lane values).
fn reduce(lid: u32) {
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if lid < s {
            red_a[lid] = max(red_a[lid], red_a[lid + s]);
            red_b[lid] = red_b[lid] + red_b[lid + s];
        }
    }
    workgroupBarrier();
}

// σ of each image (one workgroup per image): ratio·max|u|/max|b| at the detector plane, where
// `pump` is the field at the detectors and `probe` the injected probe; 1 without a ratio or for
// a dark probe (CpuField's inject).
@compute @workgroup_size(256)
fn probe_scale(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let img = group_index(wid, nwg);
    if img >= p.batch {
        return;
    }
    let n = p.nx * p.ny;
    var mu = 0.0;
    var mb = 0.0;
    for (var i = lid; i < n; i += 256u) {
        mu = max(mu, cnorm2(pump[img * n + i]));
        mb = max(mb, cnorm2(probe[img * n + i]));
    }
    red_a[lid] = mu;
    red_b[lid] = 0.0;
    reduce(lid);
    let peak_u = sqrt(red_a[0]);
    workgroupBarrier();
    red_a[lid] = mb;
    reduce(lid);
    let peak_b = sqrt(red_a[0]);
    if lid == 0u {
        if p.ratio > 0.0 && peak_b > 0.0 {
            scales[img] = p.ratio * peak_u / peak_b;
        } else {
            scales[img] = 1.0;
        }
    }
}

// ρ of grid sample (x, y): the mask of its output cell, or 1.
fn rho_at(x: u32, y: u32) -> vec2<f32> {
    if p.rho == 1u {
        return mask[(y / p.kc) * (p.nx / p.kc) + x / p.kc];
    }
    return vec2<f32>(1.0, 0.0);
}

// Frame k of camera pixel (A, B, C), without noise.
fn frame(q: vec4<f32>, k: u32) -> f32 {
    let f = frames[k];
    return max(q.x + q.y + (q.z * f.z - q.w * f.w), 0.0);
}

// The measurement of one SLM for one image (one workgroup per image): the camera pixels'
// beams, the full scale (the brightest frame pixel, with noise), the noisy frames and the
// estimates Ĉ/(σ·cells) into `beams`, and the photo-electrons the frames collected added to
// `electrons[slot + image]` (shot·N·Σ(A + B)/full: the frames of a pixel sum to N·(A + B)).
@compute @workgroup_size(256)
fn readout_measure(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let img = group_index(wid, nwg);
    if img >= p.batch {
        return;
    }
    let n = p.nx * p.ny;
    let cx = p.nx / p.side;
    let cy = p.ny / p.side;
    let cam = cx * cy;
    let sigma = scales[img];
    var top = 0.0;
    var sum = 0.0;
    for (var c = lid; c < cam; c += 256u) {
        let px = c % cx;
        let py = c / cx;
        var q = vec4<f32>(0.0);
        for (var y = py * p.side; y < (py + 1u) * p.side; y++) {
            for (var x = px * p.side; x < (px + 1u) * p.side; x++) {
                let i = img * n + y * p.nx + x;
                let a = cmul(pump[i], rho_at(x, y));
                let b = probe[i] * sigma;
                q += vec4<f32>(cnorm2(a), cnorm2(b), cmul(a, b));
            }
        }
        beams[img * cam + c] = q;
        sum += q.x + q.y;
        if p.noisy == 1u {
            for (var k = 0u; k < p.steps; k++) {
                top = max(top, frame(q, k));
            }
        }
    }
    red_a[lid] = top;
    red_b[lid] = sum;
    reduce(lid);
    let full = red_a[0];
    if lid == 0u && p.shot > 0.0 && full > 0.0 {
        electrons[p.slot + img] += p.shot * f32(p.steps) * red_b[0] / full;
    }
    let key = vec2<u32>(p.key0, p.key1);
    let cells = f32((p.side / p.kc) * (p.side / p.kc));
    for (var c = lid; c < cam; c += 256u) {
        let q = beams[img * cam + c];
        var s = vec2<f32>(0.0, 0.0);
        for (var k = 0u; k < p.steps; k++) {
            var i = frame(q, k);
            if full > 0.0 {
                var x = i / full;
                let z = rng_normals(key, vec4<u32>(p.step, p.word1 + k, img, c));
                if p.shot > 0.0 {
                    x += sqrt(x / p.shot) * z.x;
                }
                x += p.read * z.y;
                x = clamp(x, 0.0, 1.0);
                if p.levels > 0.0 {
                    // floor(x + ½): the CPU's round (half away from zero) for x ≥ 0.
                    x = floor(x * p.levels + 0.5) / p.levels;
                }
                i = x * full;
            }
            s += frames[k].xy * i;
        }
        let est = cmul(s, vec2<f32>(p.undo_re, p.undo_im)) / (sigma * cells);
        beams[img * cam + c] = vec4<f32>(est, 0.0, 0.0);
    }
}

// The SLM's correlation from the estimates (one thread per output cell o):
// c_o = Σ_images conj(ρ_o)·Ĉ_{camera pixel of o}, written to `corr` (mode 0), or the phase
// gradient −2·Im(e^{iφ_o}·c_o) to `grad` (mode 1).
@compute @workgroup_size(256)
fn readout_grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = group_index(wid, nwg) * 256u + lid;
    let ox = p.nx / p.kc;
    let oy = p.ny / p.kc;
    if o >= ox * oy {
        return;
    }
    let x = o % ox;
    let y = o / ox;
    let per = p.side / p.kc;
    let cx = p.nx / p.side;
    let cam = cx * (p.ny / p.side);
    let c = (y / per) * cx + x / per;
    var acc = vec2<f32>(0.0, 0.0);
    for (var img = 0u; img < p.batch; img++) {
        acc += beams[img * cam + c].xy;
    }
    var r = vec2<f32>(1.0, 0.0);
    if p.rho == 1u {
        r = mask[o];
    }
    let cc = cmul(cconj(r), acc);
    if p.mode == 1u {
        grad[o] = -2.0 * cmul(cexp_i(params[o]), cc).y;
    } else {
        corr[o] = cc;
    }
}
