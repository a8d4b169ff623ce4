// The 2f lens (mirrors src/cpu/lens.rs): the centred unitary DFT is (−1)^{nx/2+ny/2}·D·F·D with
// D = diag((−1)^{x+y}), so the lens is this checkerboard, an FFT of shaders/fft.wgsl (with the
// sign, the unitary scale and the pitch rescale dx/dx_out folded into its scale), and the
// checkerboard again.

// Rust twin: wavetrain::gpu::uniforms::GridParams.
struct GridParams {
    nx: u32,
    ny: u32,
    // Complex samples in the whole batch.
    len: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: GridParams;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<f32>>;

// data[b][y][x] ·= (−1)^{x+y}.
@compute @workgroup_size(256)
fn checkerboard(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.len {
        return;
    }
    let x = g % p.nx;
    let y = (g / p.nx) % p.ny;
    if ((x + y) & 1u) == 1u {
        data[g] = -data[g];
    }
}
