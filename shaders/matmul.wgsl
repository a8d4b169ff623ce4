// Real matrix products for fully connected optical layers (mirrors src/cpu/matmul.rs), as one
// tiled kernel C[m][n] = Σ_k A(m, k)·B(k, n) with strided operands:
//   pump      z = W a:     C = z[batch][out],  A = a[batch][in],  B(j, i) = W[i][j]
//   probe     b_a = Wᵀ b:  C = b_a[batch][in], A = b[batch][out], B(i, j) = W[i][j]
//   gradient  dW = δ aᵀ:   C = dW[out][in],    A(i, b) = δ[b][i], B(b, j) = a[b][j]
// The k loop runs in order, like the CPU mirror, so both sum in the same order.

// Rust twin: wavetrain::gpu::uniforms::MatMulParams.
struct MatMulParams {
    m: u32,
    n: u32,
    k: u32,
    // A(r, c) = a[r·a_row + c·a_col]; B(r, c) = b[r·b_row + c·b_col]; C is row-major, n wide.
    a_row: u32,
    a_col: u32,
    b_row: u32,
    b_col: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: MatMulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const T: u32 = 16u;
var<workgroup> a_tile: array<array<f32, 16>, 16>;
var<workgroup> b_tile: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn matmul(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row = wid.y * T + lid.y;
    let col = wid.x * T + lid.x;
    var acc = 0.0;
    let tiles = (p.k + T - 1u) / T;
    for (var t = 0u; t < tiles; t++) {
        let ka = t * T + lid.x;
        let kb = t * T + lid.y;
        var av = 0.0;
        if row < p.m && ka < p.k {
            av = a[row * p.a_row + ka * p.a_col];
        }
        var bv = 0.0;
        if kb < p.k && col < p.n {
            bv = b[kb * p.b_row + col * p.b_col];
        }
        a_tile[lid.y][lid.x] = av;
        b_tile[lid.y][lid.x] = bv;
        workgroupBarrier();
        for (var j = 0u; j < T; j++) {
            acc += a_tile[lid.y][j] * b_tile[j][lid.x];
        }
        workgroupBarrier();
    }
    if row < p.m && col < p.n {
        c[row * p.n + col] = acc;
    }
}
