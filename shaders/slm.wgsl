// The SLM of a real device (mirrors src/optics/slm.rs, whose module doc defines the map): the
// shown transmission of a phase SLM from its commanded phases (response per SLM pixel with its
// slope, a lookup table as a storage buffer; upsampling to the grid; separable Gaussian
// smoothing of the shown phase with replicated edges; fill-factor coverage and the dead zone),
// and that map's gradient from the probe–pump correlation on the grid (the smoothing's exact
// transpose, the sum over each pixel's samples, the chain rule through the response).
//
// Buffers per SLM: resp (ψ, a, dψ/dφ, da/dφ) per SLM pixel; tmp and psi (grid, f32: the row
// pass and the shown phase); mask (grid, complex); work and da (grid, f32: the gradient's
// passes).

// Rust twin: wavetrain::gpu::uniforms::SlmParams.
struct SlmParams {
    nx: u32,
    ny: u32,
    // Grid samples per SLM pixel side.
    k: u32,
    sx: u32,
    sy: u32,
    batch: u32,
    // Smoothing kernel radius (weights has 2·radius + 1 values).
    radius: u32,
    // Lookup-table rows (0: no table, the phase range applies).
    lut_len: u32,
    // Levels over one turn, 2^phase_bits (0: continuous).
    levels: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // Phase reached for a commanded full turn (radians).
    range: f32,
    _pad3: f32,
    _pad4: f32,
    _pad5: f32,
}

const TAU: f32 = 6.2831853071795864769;

@group(0) @binding(0) var<uniform> p: SlmParams;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> resp: array<vec4<f32>>;
// (level, phase, amplitude, 0) per table row.
@group(0) @binding(3) var<storage, read> lut: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
// Coverage of each of the k × k samples of a pixel.
@group(0) @binding(5) var<storage, read> cover: array<f32>;
@group(0) @binding(6) var<storage, read_write> tmp: array<f32>;
@group(0) @binding(7) var<storage, read_write> psi: array<f32>;
@group(0) @binding(8) var<storage, read_write> mask: array<vec2<f32>>;
@group(0) @binding(9) var<storage, read> pump: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read> probe: array<vec2<f32>>;
@group(0) @binding(11) var<storage, read_write> work: array<f32>;
@group(0) @binding(12) var<storage, read_write> da: array<f32>;
@group(0) @binding(13) var<storage, read_write> grad: array<f32>;
// The probe–pump correlation on the grid when a camera measured it (shaders/readout.wgsl).
@group(0) @binding(14) var<storage, read> measured: array<vec2<f32>>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return group_index(wid, nwg) * 256u + lid;
}

// The SLM pixel holding grid sample (x, y).
fn pixel_of(x: u32, y: u32) -> u32 {
    return (y / p.k) * p.sx + x / p.k;
}

fn coverage_of(x: u32, y: u32) -> f32 {
    return cover[(y % p.k) * p.k + x % p.k];
}

// (ψ, a, dψ/dw, da/dw) of the table at the wrapped commanded phase w (Lut::at).
fn lut_at(w: f32) -> vec4<f32> {
    let n = p.lut_len;
    let l0 = lut[0].x;
    let span = lut[n - 1u].x - l0;
    let lam = l0 + w / TAU * span;
    // The segment holding λ: the last row whose level is ≤ λ, at most the next-to-last.
    var i = 0u;
    for (var j = 1u; j + 1u < n; j++) {
        if lut[j].x <= lam {
            i = j;
        }
    }
    let a = lut[i];
    let b = lut[i + 1u];
    let t = (lam - a.x) / (b.x - a.x);
    let s = span / TAU / (b.x - a.x);
    return vec4<f32>(a.y + t * (b.y - a.y), a.z + t * (b.z - a.z), (b.y - a.y) * s, (b.z - a.z) * s);
}

// resp[q] = (ψ, a, dψ/dφ, da/dφ) of SLM pixel q (Response::eval: wrap, quantise, respond).
@compute @workgroup_size(256)
fn slm_response(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = index(wid, nwg, lid);
    if q >= p.sx * p.sy {
        return;
    }
    let phi = params[q];
    var w = phi - TAU * floor(phi / TAU);
    if w >= TAU || w < 0.0 {
        w = 0.0;
    }
    if p.levels > 0u {
        let l = f32(p.levels);
        // Rounding half away from zero (w ≥ 0), as Rust's f64::round.
        var lv = floor(w * l / TAU + 0.5);
        if lv >= l {
            lv = lv - l;
        }
        w = TAU / l * lv;
    }
    if p.lut_len >= 2u {
        resp[q] = lut_at(w);
    } else {
        resp[q] = vec4<f32>(w * p.range / TAU, 1.0, p.range / TAU, 0.0);
    }
}

// Row pass of the smoothing of the upsampled shown phase: tmp = (rows ⊛ w)(ψ↑).
@compute @workgroup_size(256)
fn slm_smooth_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    let x = i32(g % p.nx);
    let y = g / p.nx;
    let r = i32(p.radius);
    var acc = 0.0;
    for (var j = 0; j <= 2 * r; j++) {
        let sx = u32(clamp(x + j - r, 0, i32(p.nx) - 1));
        acc += weights[j] * resp[pixel_of(sx, y)].x;
    }
    tmp[g] = acc;
}

// Column pass: psi = (columns ⊛ w)(tmp), the shown phase on the grid.
@compute @workgroup_size(256)
fn slm_smooth_cols(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    let x = g % p.nx;
    let y = i32(g / p.nx);
    let r = i32(p.radius);
    var acc = 0.0;
    for (var j = 0; j <= 2 * r; j++) {
        let sy = u32(clamp(y + j - r, 0, i32(p.ny) - 1));
        acc += weights[j] * tmp[sy * p.nx + x];
    }
    psi[g] = acc;
}

// mask = c·a·e^{iψ} + (1 − c), the dead zone unmodulated.
@compute @workgroup_size(256)
fn slm_mask(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    let x = g % p.nx;
    let y = g / p.nx;
    let c = coverage_of(x, y);
    let a = resp[pixel_of(x, y)].y;
    mask[g] = cexp_i(psi[g]) * (c * a) + vec2<f32>(1.0 - c, 0.0);
}

// From the correlation c_g of grid sample g and g' = c·c_g: work = ∂L/∂ψ_g = −2·Im(a·e^{iψ}·g')
// and da = ∂L/∂a_g = 2·Re(e^{iψ}·g').
fn grad_grid_at(g: u32, cg: vec2<f32>) {
    let x = g % p.nx;
    let y = g / p.nx;
    let gg = cg * coverage_of(x, y);
    let e = cmul(cexp_i(psi[g]), gg);
    work[g] = -2.0 * resp[pixel_of(x, y)].y * e.y;
    da[g] = 2.0 * e.x;
}

// On the grid, with c_g = Σ_batch b·v.
@compute @workgroup_size(256)
fn slm_grad_grid(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    let n = p.nx * p.ny;
    if g >= n {
        return;
    }
    var cg = vec2<f32>(0.0, 0.0);
    for (var b = 0u; b < p.batch; b++) {
        cg += cmul(probe[b * n + g], pump[b * n + g]);
    }
    grad_grid_at(g, cg);
}

// On the grid, with c_g measured by the hardware's camera (`measured`).
@compute @workgroup_size(256)
fn slm_grad_grid_measured(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    grad_grid_at(g, measured[g]);
}

// The transpose of the row pass (replicated edges): tmp[y][m] = Σ_{i, j: clamp(i+j−r) = m}
// w_j·work[y][i].
@compute @workgroup_size(256)
fn slm_grad_rows_t(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    let m = i32(g % p.nx);
    let row = (g / p.nx) * p.nx;
    let r = i32(p.radius);
    let last = i32(p.nx) - 1;
    var acc = 0.0;
    for (var i = max(0, m - r); i <= min(last, m + r); i++) {
        for (var j = 0; j <= 2 * r; j++) {
            if clamp(i + j - r, 0, last) == m {
                acc += weights[j] * work[row + u32(i)];
            }
        }
    }
    tmp[g] = acc;
}

// The transpose of the column pass: work[m][x] = Σ_{i, j: clamp(i+j−r) = m} w_j·tmp[i][x].
@compute @workgroup_size(256)
fn slm_grad_cols_t(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.nx * p.ny {
        return;
    }
    let x = g % p.nx;
    let m = i32(g / p.nx);
    let r = i32(p.radius);
    let last = i32(p.ny) - 1;
    var acc = 0.0;
    for (var i = max(0, m - r); i <= min(last, m + r); i++) {
        for (var j = 0; j <= 2 * r; j++) {
            if clamp(i + j - r, 0, last) == m {
                acc += weights[j] * tmp[u32(i) * p.nx + x];
            }
        }
    }
    work[g] = acc;
}

// grad[q] = dψ/dφ·Σ_pixel ∂L/∂ψ + da/dφ·Σ_pixel ∂L/∂a over the k × k samples of SLM pixel q.
@compute @workgroup_size(256)
fn slm_grad_down(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = index(wid, nwg, lid);
    if q >= p.sx * p.sy {
        return;
    }
    let px = q % p.sx;
    let py = q / p.sx;
    var dp = 0.0;
    var dq = 0.0;
    for (var y = py * p.k; y < (py + 1u) * p.k; y++) {
        for (var x = px * p.k; x < (px + 1u) * p.k; x++) {
            dp += work[y * p.nx + x];
            dq += da[y * p.nx + x];
        }
    }
    let s = resp[q];
    grad[q] = s.z * dp + s.w * dq;
}
