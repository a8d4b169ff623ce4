// The saturable absorber's field transmission t(s) and its slope dt/ds (mirrors
// src/optics/absorber.rs), shared by the field absorber (absorber.wgsl) and the dense network's
// real-amplitude absorber (dense.wgsl).
//
// thin: t = exp(−(α₀/2)/(1+s)); Beer–Lambert: s_out = W₀(s·e^{s−α₀}) solved in log space by
// Newton's method (4 steps in f32, exactly as optics::absorber::beer_lambert_log_out), t = √(s_out/s).

// w = ln s_out, the root of w + e^w = c (see beer_lambert_log_out).
fn beer_lambert_log_out(c: f32) -> f32 {
    var w: f32;
    if c < 1.0 {
        w = c - exp(c);
    } else {
        w = log(c - log(c));
    }
    for (var i = 0u; i < 4u; i++) {
        let ew = exp(w);
        w = w - (w + ew - c) / (1.0 + ew);
    }
    return w;
}

// (t(s), dt/ds) of an absorber of optical depth od; model 0: thin, 1: Beer–Lambert.
fn saturable(s: f32, od: f32, model: u32) -> vec2<f32> {
    if model == 0u {
        let q = 1.0 / (1.0 + s);
        let t = exp(-0.5 * od * q);
        return vec2<f32>(t, t * 0.5 * od * q * q);
    }
    let t0 = exp(-0.5 * od);
    // Below this the cell is linear to machine precision: s_out = s·e^{−α₀}.
    if s <= 1e-30 {
        return vec2<f32>(t0, t0 * 0.5 * (1.0 - t0 * t0));
    }
    let ln_s = log(s);
    let w = beer_lambert_log_out(ln_s + s - od);
    let s_out = exp(w);
    let t = exp(0.5 * (w - ln_s));
    return vec2<f32>(t, t * (s - s_out) / (2.0 * s * (1.0 + s_out)));
}
