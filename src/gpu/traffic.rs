//! A model of the global-memory traffic of GPU work, counted from the dispatch list: every
//! dispatch recorded while a [`count`] runs on this thread adds the bytes of the storage buffers
//! bound to it (a read-only binding once, a read-write binding twice: read and written), every
//! buffer-to-buffer copy twice its size; host uploads and readbacks are counted apart.
//!
//! **What the model says and what it does not.** It assumes each kernel touches each bound buffer
//! once, all of it: exact for the element-wise kernels and the line passes (one read and one write
//! of the field), an upper bound for kernels that read part of a buffer, and a lower bound for a
//! kernel that reads a buffer more than once (caches usually absorb that). Uniforms are not
//! counted. [`minimum_field_step`] is the floor the issue sets for a field network: one read and
//! one write of the field per pass that fits in workgroup memory, so the ratio of the two says how
//! many passes the executor spends beyond that floor. (An ideal SLM or a thin lens right before
//! free space already costs only its mask read: that step's first row pass multiplies it in; and
//! the pump's thin absorber right after free space only the write of its slot: that step's last
//! pass applies it.)

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::network::{FieldPlan, Op};

/// The counted traffic of some GPU work.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Traffic {
    /// Dispatches recorded.
    pub dispatches: u64,
    /// Bytes the dispatches move through global memory (the model above).
    pub kernel_bytes: u64,
    /// Bytes of buffer-to-buffer copies (read and written).
    pub copy_bytes: u64,
    /// Bytes uploaded from the host.
    pub upload_bytes: u64,
    /// Bytes read back to the host.
    pub readback_bytes: u64,
    /// Per kernel (`shader.entry`, or `copy`): dispatches and bytes.
    pub by_kernel: BTreeMap<String, (u64, u64)>,
}

impl Traffic {
    /// Device-side bytes: kernels and copies.
    pub fn device_bytes(&self) -> u64 {
        self.kernel_bytes + self.copy_bytes
    }
}

thread_local! {
    static TALLY: RefCell<Option<Traffic>> = const { RefCell::new(None) };
}

fn with(f: impl FnOnce(&mut Traffic)) {
    TALLY.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            f(t);
        }
    });
}

/// Runs `f`, counting the GPU work it records on this thread.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, Traffic) {
    let before = TALLY.with(|t| t.borrow_mut().replace(Traffic::default()));
    let r = f();
    let got = TALLY.with(|t| std::mem::replace(&mut *t.borrow_mut(), before));
    (r, got.unwrap_or_default())
}

pub(crate) fn note_dispatch(kernel: &str, bytes: u64) {
    with(|t| {
        t.dispatches += 1;
        t.kernel_bytes += bytes;
        let e = t.by_kernel.entry(kernel.to_string()).or_default();
        e.0 += 1;
        e.1 += bytes;
    });
}

/// Records a buffer-to-buffer copy of `bytes` into `enc`, counted.
pub(crate) fn copy(
    enc: &mut wgpu::CommandEncoder,
    from: &wgpu::Buffer,
    to: &wgpu::Buffer,
    bytes: u64,
) {
    with(|t| {
        t.copy_bytes += 2 * bytes;
        let e = t.by_kernel.entry("copy".to_string()).or_default();
        e.0 += 1;
        e.1 += 2 * bytes;
    });
    enc.copy_buffer_to_buffer(from, 0, to, 0, bytes);
}

pub(crate) fn note_upload(bytes: u64) {
    with(|t| t.upload_bytes += bytes);
}

pub(crate) fn note_readback(bytes: u64) {
    with(|t| t.readback_bytes += bytes);
}

/// Complex `f32` samples a workgroup holds at WebGPU's guaranteed minimum of workgroup memory
/// (16 KiB): a line at most this long is transformed in one pass.
pub const WORKGROUP_SAMPLES: usize = 2048;

/// The floor of the device traffic of one training step of a field network at `batch`, whose
/// free-space steps transform on the `sx × sy` (padded) grids `transform`: one read and one write
/// of the field per pass that fits in workgroup memory, everything element-wise fused into a
/// neighbouring pass. A free-space step with lines that fit ([`WORKGROUP_SAMPLES`]) is three
/// passes over the light it must touch: the row transform (reads the `nx × ny` field, writes
/// `sx × ny` row spectra: the padding rows are zero and never stored), the column transform ·
/// transfer function · inverse column transform as one pass (reads and writes `sx × ny`: only
/// the rows that hold light are read and only the rows the crop keeps are written), the inverse
/// row transform (reads `sx × ny`, writes `nx × ny`), plus one read of its transfer function; a
/// longer axis costs two more passes over its data. Per SLM: its mask read in the pump and the
/// probe, its gradient written. Per saved field (SLM inputs, absorber inputs): one write in the
/// pump, one read in the probe. Input and injected probe: one write each; detectors fused.
pub fn minimum_field_step(
    plan: &FieldPlan,
    nx: usize,
    ny: usize,
    transform: &[(usize, usize)],
    batch: usize,
) -> u64 {
    let field = (8 * nx * ny * batch) as u64;
    let cost = |op: Op| -> u64 {
        match op {
            Op::Propagate { prop } => {
                let (sx, sy) = transform.get(prop).copied().unwrap_or((nx, ny));
                let spectra = (8 * sx * ny.min(sy) * batch) as u64;
                // Row pass, column pass, inverse row pass.
                let mut b = (field + spectra) + 2 * spectra + (spectra + field);
                if sx > WORKGROUP_SAMPLES {
                    b += 2 * (field + spectra);
                }
                if sy > WORKGROUP_SAMPLES {
                    b += 2 * 2 * spectra;
                }
                b + (8 * sx * sy) as u64
            }
            // A 2f lens: one 2-D transform, a row and a column pass.
            Op::Fourier { .. } => 2 * 2 * field,
            // Masks: their reads are counted per SLM below; lenses and absorbers fuse.
            Op::Mask { .. } | Op::Lens { .. } | Op::Absorber { .. } => 0,
        }
    };
    // Input written, probe injected.
    let mut bytes = 2 * field;
    bytes += plan.pump.iter().map(|s| cost(s.op)).sum::<u64>();
    bytes += plan.probe.iter().map(|s| cost(s.op)).sum::<u64>();
    for p in &plan.params {
        // Mask read in the pump and the probe, gradient written.
        bytes += 2 * (8 * p.len()) as u64 + 4 * p.len() as u64;
    }
    // Each saved field written in the pump, read in the probe.
    bytes + 2 * field * plan.slots as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_is_per_thread_and_nests() {
        let ((), outer) = count(|| {
            note_dispatch("a.x", 10);
            let ((), inner) = count(|| note_dispatch("b.y", 5));
            assert_eq!(inner.kernel_bytes, 5);
            assert_eq!(inner.dispatches, 1);
            note_upload(3);
            note_readback(7);
        });
        assert_eq!(outer.dispatches, 1);
        assert_eq!(outer.kernel_bytes, 10);
        assert_eq!(outer.upload_bytes, 3);
        assert_eq!(outer.readback_bytes, 7);
        assert_eq!(outer.by_kernel["a.x"], (1, 10));
        // Outside a count nothing is recorded (and nothing fails).
        note_dispatch("c.z", 1);
        let ((), none) = count(|| {});
        assert_eq!(none, Traffic::default());
    }
}
