// The saturable absorber (mirrors src/cpu/absorber.rs and the formulas of src/optics/absorber.rs):
// pump u = t(s)·v with s = |v|², the optical probe b_v = t(s)·b_u, and the exact transpose
// b_v = t·b_u + 2·t'(s)·Re(b_u·v)·conj(v) for comparison.
//
// The transmission t(s) and its slope come from shaders/saturable.wgsl. The `_map` entry points
// are the same with a per-sample optical depth α₀(x, y) read from od_map (one ny × nx plane,
// shared by every image: the imperfect system's non-uniform absorber, src/cpu/hardware.rs).

// Rust twin: wavetrain::gpu::uniforms::AbsorberParams.
struct AbsorberParams {
    len: u32,
    // 0: thin, 1: Beer–Lambert.
    model: u32,
    // Probe: 0 optical, 1 exact.
    exact: u32,
    // Samples per image (nx·ny): the od_map index is g % plane.
    plane: u32,
    // α₀ (f32).
    od: f32,
    _pad1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> p: AbsorberParams;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> saved: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> pump_in: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> od_map: array<f32>;
// The physical probe's scale σ of each image (a probe of finite strength, hardware.probe_ratio).
@group(0) @binding(5) var<storage, read> scales: array<f32>;

// (t(s), dt/ds) of this op's absorber (shaders/saturable.wgsl).
fn transmission_and_slope(s: f32) -> vec2<f32> {
    return saturable(s, p.od, p.model);
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return group_index(wid, nwg) * 256u + lid;
}

// Pump: data = t(|data|²)·data.
@compute @workgroup_size(256)
fn absorber_pump(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let v = data[g];
    data[g] = v * transmission_and_slope(cnorm2(v)).x;
}

// Pump that also keeps the field entering the absorber (saved = v) for the probe pass.
@compute @workgroup_size(256)
fn absorber_pump_save(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let v = data[g];
    saved[g] = v;
    data[g] = v * transmission_and_slope(cnorm2(v)).x;
}

// Probe, in place on data = b_u, given the pump field pump_in = v that entered the absorber.
@compute @workgroup_size(256)
fn absorber_probe(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let b = data[g];
    let v = pump_in[g];
    let tds = transmission_and_slope(cnorm2(v));
    if p.exact == 1u {
        let re = cmul(b, v).x;
        data[g] = b * tds.x + cconj(v) * (2.0 * tds.y * re);
    } else {
        data[g] = b * tds.x;
    }
}

// Pump with an optical-depth map: data = t_{α₀(x)}(|data|²)·data.
@compute @workgroup_size(256)
fn absorber_pump_map(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let v = data[g];
    data[g] = v * saturable(cnorm2(v), od_map[g % p.plane], p.model).x;
}

// Pump with an optical-depth map that also keeps the field entering the absorber.
@compute @workgroup_size(256)
fn absorber_pump_map_save(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let v = data[g];
    saved[g] = v;
    data[g] = v * saturable(cnorm2(v), od_map[g % p.plane], p.model).x;
}

// Probe through an absorber with an optical-depth map (optical or exact, as absorber_probe).
@compute @workgroup_size(256)
fn absorber_probe_map(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let b = data[g];
    let v = pump_in[g];
    let tds = saturable(cnorm2(v), od_map[g % p.plane], p.model);
    if p.exact == 1u {
        let re = cmul(b, v).x;
        data[g] = b * tds.x + cconj(v) * (2.0 * tds.y * re);
    } else {
        data[g] = b * tds.x;
    }
}

// The optical probe of finite strength (mirrors absorber_probe_saturating in
// src/cpu/absorber.rs): the counter-propagating pump and probe saturate the absorber together,
// b ← t(|v|² + σ²|b|²)·b with σ the scale of the image's physical probe.
@compute @workgroup_size(256)
fn absorber_probe_sat(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let b = data[g];
    let sigma = scales[g / p.plane];
    let s = cnorm2(pump_in[g]) + sigma * sigma * cnorm2(b);
    data[g] = b * transmission_and_slope(s).x;
}

// As absorber_probe_sat, with an optical-depth map.
@compute @workgroup_size(256)
fn absorber_probe_sat_map(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = index(wid, nwg, lid);
    if g >= p.len {
        return;
    }
    let b = data[g];
    let sigma = scales[g / p.plane];
    let s = cnorm2(pump_in[g]) + sigma * sigma * cnorm2(b);
    data[g] = b * saturable(s, od_map[g % p.plane], p.model).x;
}
