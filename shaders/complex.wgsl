// Complex arithmetic on vec2<f32> (x = real part, y = imaginary part), and the dispatch-index
// helper every kernel shares. Prepended to every other shader at load time (src/gpu/shaders.rs).

// 2π split for Cody–Waite reduction: TAU_HI has few mantissa bits, so k·TAU_HI is exact.
const TAU_HI: f32 = 6.28125;
const TAU_LO: f32 = 0.0019353071795864769;
const INV_TAU: f32 = 0.15915494309189535;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn cconj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

fn cnorm2(a: vec2<f32>) -> f32 {
    return a.x * a.x + a.y * a.y;
}

// −i·a.
fn cmul_neg_i(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.y, -a.x);
}

// +i·a.
fn cmul_i(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(-a.y, a.x);
}

// An angle reduced to [−π, π]: WGSL sin/cos are only accurate there.
fn reduce_angle(phi: f32) -> f32 {
    let k = round(phi * INV_TAU);
    return (phi - k * TAU_HI) - k * TAU_LO;
}

// e^{iφ} for any φ.
fn cexp_i(phi: f32) -> vec2<f32> {
    let r = reduce_angle(phi);
    return vec2<f32>(cos(r), sin(r));
}

// Linear workgroup index of a dispatch split over x and y (see gpu::kernel::split_groups): large
// jobs exceed the per-dimension workgroup limit.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
