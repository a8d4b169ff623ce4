//! `#[repr(C)]` twins of the WGSL uniform structs: each names its WGSL struct, and each WGSL
//! struct names its twin here; `tests/shaders.rs` checks that their sizes agree.

use bytemuck::{Pod, Zeroable};

/// Twin of WGSL `FftParams` in `shaders/fft.wgsl`: one pass of 1-D FFTs over lines (rows or
/// columns), with zero padding on load, crop and scale on store, and the fused transfer-function
/// multiply of propagation, the optional mask multiply on load (`premul`) and the optional thin
/// absorber on store (`postabs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FftParams {
    pub n: u32,
    pub log2n: u32,
    pub lines: u32,
    pub lines_per_img: u32,
    pub src_img: u32,
    pub src_line: u32,
    pub src_elem: u32,
    pub src_off: u32,
    pub src_len: u32,
    pub dst_img: u32,
    pub dst_line: u32,
    pub dst_elem: u32,
    pub dst_off: u32,
    pub dst_len: u32,
    pub twiddle_off: u32,
    pub inverse: u32,
    pub mode: u32,
    pub h_line: u32,
    pub h_elem: u32,
    pub conj_h: u32,
    pub scale: f32,
    pub stage: u32,
    pub lines_fast: u32,
    pub premul: u32,
    pub mask_k: u32,
    pub mask_sx: u32,
    pub postabs: u32,
    pub abs_od: f32,
}

/// Twin of WGSL `TransferParams` in `shaders/propagate.wgsl`: the transfer-function multiply of
/// the global-memory propagation path.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct TransferParams {
    pub lines: u32,
    pub n: u32,
    pub lines_per_img: u32,
    pub h_line: u32,
    pub h_elem: u32,
    pub conj_h: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Twin of WGSL `GridParams` in `shaders/lens.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GridParams {
    pub nx: u32,
    pub ny: u32,
    pub len: u32,
    pub _pad0: u32,
}

/// Twin of WGSL `LenParams` in `shaders/copy.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LenParams {
    pub len: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Twin of WGSL `ModulateParams` in `shaders/modulate.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ModulateParams {
    pub nx: u32,
    pub ny: u32,
    pub k: u32,
    pub sx: u32,
    pub sy: u32,
    pub batch: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Twin of WGSL `AbsorberParams` in `shaders/absorber.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AbsorberParams {
    pub len: u32,
    pub model: u32,
    pub exact: u32,
    /// Samples per image (`nx·ny`), for the optical-depth map.
    pub plane: u32,
    pub od: f32,
    pub _pad1: f32,
    pub _pad2: f32,
    pub _pad3: f32,
}

/// Twin of WGSL `SlmParams` in `shaders/slm.wgsl`: the device model of one SLM.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SlmParams {
    pub nx: u32,
    pub ny: u32,
    pub k: u32,
    pub sx: u32,
    pub sy: u32,
    pub batch: u32,
    pub radius: u32,
    pub lut_len: u32,
    pub levels: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
    pub range: f32,
    pub _pad3: f32,
    pub _pad4: f32,
    pub _pad5: f32,
}

/// Twin of WGSL `DenseParams` in `shaders/dense.wgsl`: the element-wise kernels of a dense
/// network (row gains, activations and their probes, the amplitude loss, the shown weights).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DenseParams {
    pub len: u32,
    pub n: u32,
    pub kind: u32,
    pub flag: u32,
    pub valid: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
    pub od: f32,
    pub scale: f32,
    pub inv_valid: f32,
    pub probe_power: f32,
}

/// Twin of WGSL `DenseNoiseParams` in `shaders/dense_noise.wgsl`: one noisy measurement of a
/// dense network (its elements, the slot of its scale, the random key and counter words, and
/// the noise parameters `a`, `b`, `c`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DenseNoiseParams {
    pub len: u32,
    pub slot: u32,
    pub key0: u32,
    pub key1: u32,
    pub step: u32,
    pub word1: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub _pad2: f32,
}

/// Twin of WGSL `LossParams` in `shaders/loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LossParams {
    pub batch: u32,
    pub classes: u32,
    pub valid: u32,
    pub kind: u32,
    pub inv_temp: f32,
    pub inv_valid: f32,
    pub _pad0: f32,
    pub _pad1: f32,
}

/// Twin of WGSL `DetectParams` in `shaders/detect.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DetectParams {
    pub nx: u32,
    pub ny: u32,
    pub batch: u32,
    pub regions: u32,
    pub area: f32,
    pub _pad0: f32,
    pub _pad1: f32,
    pub _pad2: f32,
}

/// Twin of WGSL `NoiseParams` in `shaders/detect_noise.wgsl`: the detectors' noise and the
/// random counter of one pass.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct NoiseParams {
    pub batch: u32,
    pub regions: u32,
    pub key0: u32,
    pub key1: u32,
    pub step: u32,
    pub word1: u32,
    pub shot: f32,
    pub read: f32,
    pub levels: f32,
    pub _pad0: f32,
    pub _pad1: f32,
    pub _pad2: f32,
}

/// Twin of WGSL `MatMulParams` in `shaders/matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MatMulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub a_row: u32,
    pub a_col: u32,
    pub b_row: u32,
    pub b_col: u32,
    pub _pad0: u32,
}

/// Twin of WGSL `OptimizerParams` in `shaders/optimizer.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct OptimizerParams {
    pub len: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub c1: f32,
    pub c2: f32,
    pub _pad3: f32,
    pub _pad4: f32,
}

/// Every twin as `(shader, WGSL struct name, size of the Rust struct in bytes)`.
pub const TWINS: &[(&str, &str, usize)] = &[
    (
        "readout",
        "ReadoutParams",
        std::mem::size_of::<ReadoutParams>(),
    ),
    ("loss", "LossParams", std::mem::size_of::<LossParams>()),
    ("dense", "DenseParams", std::mem::size_of::<DenseParams>()),
    (
        "dense_noise",
        "DenseNoiseParams",
        std::mem::size_of::<DenseNoiseParams>(),
    ),
    ("slm", "SlmParams", std::mem::size_of::<SlmParams>()),
    ("fft", "FftParams", std::mem::size_of::<FftParams>()),
    (
        "propagate",
        "TransferParams",
        std::mem::size_of::<TransferParams>(),
    ),
    ("lens", "GridParams", std::mem::size_of::<GridParams>()),
    ("copy", "LenParams", std::mem::size_of::<LenParams>()),
    ("rng_draw", "LenParams", std::mem::size_of::<LenParams>()),
    (
        "detect_noise",
        "NoiseParams",
        std::mem::size_of::<NoiseParams>(),
    ),
    (
        "modulate",
        "ModulateParams",
        std::mem::size_of::<ModulateParams>(),
    ),
    (
        "absorber",
        "AbsorberParams",
        std::mem::size_of::<AbsorberParams>(),
    ),
    (
        "detect",
        "DetectParams",
        std::mem::size_of::<DetectParams>(),
    ),
    (
        "matmul",
        "MatMulParams",
        std::mem::size_of::<MatMulParams>(),
    ),
    (
        "optimizer",
        "OptimizerParams",
        std::mem::size_of::<OptimizerParams>(),
    ),
];

/// Twin of WGSL `ReadoutParams` in `shaders/readout.wgsl`: one SLM's camera read-out (its
/// grid, output cells and camera pixels, the frames, the random key and counter words, and the
/// camera's noise).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ReadoutParams {
    pub nx: u32,
    pub ny: u32,
    pub kc: u32,
    pub side: u32,
    pub batch: u32,
    pub steps: u32,
    pub rho: u32,
    pub mode: u32,
    pub key0: u32,
    pub key1: u32,
    pub step: u32,
    pub word1: u32,
    pub slot: u32,
    pub noisy: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub undo_re: f32,
    pub undo_im: f32,
    pub shot: f32,
    pub read: f32,
    pub levels: f32,
    pub ratio: f32,
    pub _pad2: f32,
    pub _pad3: f32,
}
