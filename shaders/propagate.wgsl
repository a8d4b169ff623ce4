// Free-space propagation (mirrors src/cpu/propagate.rs): pad, FFT, multiply by the band-limited
// angular-spectrum transfer function H (computed on the host in f64, scaled by 1/(px·py) and
// uploaded once as f32), inverse FFT, crop. The forward row FFTs, the fused column
// FFT·H·inverse-FFT and the inverse row FFTs with the crop are passes of shaders/fft.wgsl
// (`fft_shared`, mode 1). When a padded column is too long for workgroup memory the column pass
// runs in global memory, and this kernel does the multiply between its two transforms.
//
// The probe pass applies the same operator (it is symmetric); the adjoint uses conj(H).

// Rust twin: wavetrain::gpu::uniforms::TransferParams.
struct TransferParams {
    // Number of padded spectral lines (columns) in the work buffer, each n long.
    lines: u32,
    n: u32,
    lines_per_img: u32,
    // H index of element i of line l: (l % lines_per_img)·h_line + i·h_elem.
    h_line: u32,
    h_elem: u32,
    conj_h: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: TransferParams;
@group(0) @binding(1) var<storage, read_write> work: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> h: array<vec2<f32>>;

@compute @workgroup_size(256)
fn propagate_transfer(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg) * 256u + lid;
    if g >= p.lines * p.n {
        return;
    }
    let l = g / p.n;
    let i = g % p.n;
    var hv = h[(l % p.lines_per_img) * p.h_line + i * p.h_elem];
    if p.conj_h == 1u {
        hv = cconj(hv);
    }
    work[g] = cmul(work[g], hv);
}
