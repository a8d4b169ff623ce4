//! WGSL shader validation (placeholder).
