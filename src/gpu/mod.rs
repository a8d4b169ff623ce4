//! The GPU engine (wgpu/WGSL): the only module that touches wgpu.
