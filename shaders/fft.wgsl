// Batched 1-D FFT passes over "lines" (the rows or the columns of a batch of images), Stockham
// autosort, radix 4 with one radix-2 stage for odd log2(n). Mirrors src/cpu/fft.rs (one 2-D
// transform = a row pass and a column pass) and the fused passes of src/cpu/propagate.rs.
//
// A line `l` of padded length n is read from `src` at
//     img·src_img + other·src_line + (i − src_off)·src_elem,   src_off ≤ i < src_off + src_len,
// with img = l / lines_per_img and other = l % lines_per_img, and is zero elsewhere (zero padding).
// It is written back likewise to `dst` for dst_off ≤ i < dst_off + dst_len (the crop), times
// `scale`. Twiddles w_t = e^{−2πi·t/n} come from the host (f64, rounded once) at twiddle_off.
// With `premul` the lines are image rows and each loaded sample is first multiplied by an SLM
// (or lens) mask of k×k macro-pixels: element e = i − src_off of line `other` is pixel
// (x = e, y = other) and takes mask[(y/k)·sx + x/k], as shaders/modulate.wgsl's `modulate` (the
// modulation fused into the first row pass of the free-space step that follows it).
// With `postabs` each stored (cropped, scaled) sample w goes through a thin saturable absorber
// of optical depth abs_od, as shaders/absorber.wgsl's pump: dst = t(|w|²)·w with
// t(s) = exp(−(α₀/2)/(1+s)) (the thin model of shaders/saturable.wgsl, the same f32 operations);
// postabs = 2 also keeps the absorber's input, abs_slot = w, at the same index as dst (the probe
// pass needs it). The absorber fused into the last pass of the free-space step before it.
//
// `fft_shared` does a whole line in workgroup memory (TILE complex values, set at load time, hold
// TILE/n lines); in mode 1 it transforms, multiplies by the transfer function h, and transforms
// back, all in one pass. Lines too long for workgroup memory use the global-memory passes below
// (gather, one dispatch per radix-2 stage, scatter), with the transfer-function multiply of
// propagation in shaders/propagate.wgsl between the two transforms.

// Rust twin: wavetrain::gpu::uniforms::FftParams.
struct FftParams {
    n: u32,
    log2n: u32,
    lines: u32,
    lines_per_img: u32,
    src_img: u32,
    src_line: u32,
    src_elem: u32,
    src_off: u32,
    src_len: u32,
    dst_img: u32,
    dst_line: u32,
    dst_elem: u32,
    dst_off: u32,
    dst_len: u32,
    twiddle_off: u32,
    // 0: forward (e^{−2πi kn/N}), 1: inverse.
    inverse: u32,
    // 0: one transform; 1: transform, multiply by h (conj(h) if conj_h), inverse transform.
    mode: u32,
    h_line: u32,
    h_elem: u32,
    conj_h: u32,
    scale: f32,
    // Global path: the radix-2 stage this dispatch runs (ns = 2^stage).
    stage: u32,
    // 1: adjacent invocations load/store adjacent lines (columns: coalesced), 0: adjacent
    // elements of a line (rows).
    lines_fast: u32,
    // 1: multiply each loaded sample by mask[(other/mask_k)·mask_sx + (i − src_off)/mask_k].
    premul: u32,
    mask_k: u32,
    mask_sx: u32,
    // 0: store w = v·scale; 1: store t(|w|²)·w (thin absorber of optical depth abs_od);
    // 2: that, and abs_slot = w.
    postabs: u32,
    abs_od: f32,
}

@group(0) @binding(0) var<uniform> p: FftParams;
@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> twiddle: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> h: array<vec2<f32>>;
// The pre-multiplying mask (a dummy buffer when premul = 0).
@group(0) @binding(5) var<storage, read> mask: array<vec2<f32>>;
// The absorber input kept on store (a dummy buffer unless postabs = 2).
@group(0) @binding(6) var<storage, read_write> abs_slot: array<vec2<f32>>;

const WG: u32 = 256u;
// Values each thread holds between barriers (TILE ≥ 4·WG, set by the host).
const PER: u32 = TILE / WG;

var<workgroup> tile: array<vec2<f32>, TILE>;

fn load(l: u32, i: u32) -> vec2<f32> {
    if i < p.src_off || i >= p.src_off + p.src_len {
        return vec2<f32>(0.0, 0.0);
    }
    let img = l / p.lines_per_img;
    let other = l % p.lines_per_img;
    let e = i - p.src_off;
    let v = src[img * p.src_img + other * p.src_line + e * p.src_elem];
    if p.premul == 1u {
        return cmul(v, mask[(other / p.mask_k) * p.mask_sx + e / p.mask_k]);
    }
    return v;
}

fn store(l: u32, i: u32, v: vec2<f32>) {
    if i < p.dst_off || i >= p.dst_off + p.dst_len {
        return;
    }
    let img = l / p.lines_per_img;
    let other = l % p.lines_per_img;
    let at = img * p.dst_img + other * p.dst_line + (i - p.dst_off) * p.dst_elem;
    let w = v * p.scale;
    if p.postabs == 0u {
        dst[at] = w;
        return;
    }
    if p.postabs == 2u {
        abs_slot[at] = w;
    }
    // saturable(cnorm2(w), abs_od, 0u).x of shaders/saturable.wgsl, inlined.
    let q = 1.0 / (1.0 + cnorm2(w));
    let t = exp(-0.5 * p.abs_od * q);
    dst[at] = w * t;
}

fn transfer(l: u32, i: u32) -> vec2<f32> {
    let other = l % p.lines_per_img;
    let hv = h[other * p.h_line + i * p.h_elem];
    if p.conj_h == 1u {
        return cconj(hv);
    }
    return hv;
}

fn tw(t: u32, inv: bool) -> vec2<f32> {
    let w = twiddle[p.twiddle_off + t];
    if inv {
        return cconj(w);
    }
    return w;
}

// One radix-2 Stockham stage over every line in the tile, in place (values staged in registers).
fn stage2(ns: u32, inv: bool, lid: u32) {
    let n = p.n;
    let half = n / 2u;
    var r: array<vec2<f32>, PER>;
    for (var b = 0u; b < PER / 2u; b++) {
        let q = lid + b * WG;
        let line = q / half;
        let j = q % half;
        let base = line * n;
        let k = j % ns;
        let v0 = tile[base + j];
        let v1 = cmul(tile[base + j + half], tw(k * (n / (2u * ns)), inv));
        r[2u * b] = v0 + v1;
        r[2u * b + 1u] = v0 - v1;
    }
    workgroupBarrier();
    for (var b = 0u; b < PER / 2u; b++) {
        let q = lid + b * WG;
        let line = q / half;
        let j = q % half;
        let idx = line * n + (j / ns) * 2u * ns + j % ns;
        tile[idx] = r[2u * b];
        tile[idx + ns] = r[2u * b + 1u];
    }
    workgroupBarrier();
}

// One radix-4 Stockham stage over every line in the tile, in place.
fn stage4(ns: u32, inv: bool, lid: u32) {
    let n = p.n;
    let quarter = n / 4u;
    let step = n / (4u * ns);
    var r: array<vec2<f32>, PER>;
    for (var b = 0u; b < PER / 4u; b++) {
        let q = lid + b * WG;
        let line = q / quarter;
        let j = q % quarter;
        let base = line * n + j;
        let k = j % ns;
        let v0 = tile[base];
        let v1 = cmul(tile[base + quarter], tw(k * step, inv));
        let v2 = cmul(tile[base + 2u * quarter], tw(2u * k * step, inv));
        let v3 = cmul(tile[base + 3u * quarter], tw(3u * k * step, inv));
        let a0 = v0 + v2;
        let a1 = v0 - v2;
        let a2 = v1 + v3;
        var a3 = cmul_neg_i(v1 - v3);
        if inv {
            a3 = -a3;
        }
        r[4u * b] = a0 + a2;
        r[4u * b + 1u] = a1 + a3;
        r[4u * b + 2u] = a0 - a2;
        r[4u * b + 3u] = a1 - a3;
    }
    workgroupBarrier();
    for (var b = 0u; b < PER / 4u; b++) {
        let q = lid + b * WG;
        let line = q / quarter;
        let j = q % quarter;
        let k = j % ns;
        let idx = line * n + (j / ns) * 4u * ns + k;
        tile[idx] = r[4u * b];
        tile[idx + ns] = r[4u * b + 1u];
        tile[idx + 2u * ns] = r[4u * b + 2u];
        tile[idx + 3u * ns] = r[4u * b + 3u];
    }
    workgroupBarrier();
}

fn transform(inv: bool, lid: u32) {
    var ns = 1u;
    if (p.log2n & 1u) == 1u {
        stage2(1u, inv, lid);
        ns = 2u;
    }
    while ns < p.n {
        stage4(ns, inv, lid);
        ns *= 4u;
    }
}

// Tile slot t as (line within the tile, element): see FftParams.lines_fast.
fn slot(t: u32, per_tile: u32) -> vec2<u32> {
    if p.lines_fast == 1u {
        return vec2<u32>(t % per_tile, t / per_tile);
    }
    return vec2<u32>(t / p.n, t % p.n);
}

@compute @workgroup_size(256)
fn fft_shared(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Every invocation of a workgroup takes the same branch here, so the barriers below stay in
    // uniform control flow; lines past the end are computed on zeros and never stored.
    let per_tile = TILE / p.n;
    let first = group_index(wid, nwg) * per_tile;
    for (var e = 0u; e < PER; e++) {
        let s = slot(lid + e * WG, per_tile);
        let l = first + s.x;
        var v = vec2<f32>(0.0, 0.0);
        if l < p.lines {
            v = load(l, s.y);
        }
        tile[s.x * p.n + s.y] = v;
    }
    workgroupBarrier();
    transform(p.inverse == 1u, lid);
    if p.mode == 1u {
        for (var e = 0u; e < PER; e++) {
            let s = slot(lid + e * WG, per_tile);
            let l = first + s.x;
            if l < p.lines {
                let t = s.x * p.n + s.y;
                tile[t] = cmul(tile[t], transfer(l, s.y));
            }
        }
        workgroupBarrier();
        transform(p.inverse != 1u, lid);
    }
    for (var e = 0u; e < PER; e++) {
        let s = slot(lid + e * WG, per_tile);
        let l = first + s.x;
        if l < p.lines {
            store(l, s.y, tile[s.x * p.n + s.y]);
        }
    }
}

// ---- Global-memory path: work buffers laid out [line][n]. ----

// dst[l·n + i] = padded line l, element i.
@compute @workgroup_size(256)
fn fft_gather(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * WG + lid;
    if g >= p.lines * p.n {
        return;
    }
    dst[g] = load(g / p.n, g % p.n);
}

// One radix-2 Stockham stage from src to dst, ns = 2^stage; direction from `inverse`.
@compute @workgroup_size(256)
fn fft_stage(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let half = p.n / 2u;
    let g = group_index(wid, nwg) * WG + lid;
    if g >= p.lines * half {
        return;
    }
    let ns = 1u << p.stage;
    let line = g / half;
    let j = g % half;
    let base = line * p.n;
    let k = j % ns;
    let v0 = src[base + j];
    let v1 = cmul(src[base + j + half], tw(k * (p.n / (2u * ns)), p.inverse == 1u));
    let idx = base + (j / ns) * 2u * ns + k;
    dst[idx] = v0 + v1;
    dst[idx + ns] = v0 - v1;
}

// Writes work line l (src[l·n + i]) to its place in dst, cropped and scaled.
@compute @workgroup_size(256)
fn fft_scatter(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * WG + lid;
    if g >= p.lines * p.n {
        return;
    }
    store(g / p.n, g % p.n, src[g]);
}
