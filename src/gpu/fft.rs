//! Batched unitary 2-D FFT on the GPU (mirrors `src/cpu/fft.rs`, runs `shaders/fft.wgsl`), and
//! the line passes that propagation and the 2f lens are built from.
//!
//! A *line pass* transforms every row (or every column) of a batch: Stockham autosort, radix 4
//! with one radix-2 stage for odd `log2 n`. A line that fits the workgroup memory is done in one
//! dispatch (`fft_shared`), zero-padding on load, cropping and scaling on store, and optionally
//! transform · transfer function · inverse transform fused. Longer lines run in global memory:
//! gather, one dispatch per radix-2 stage, scatter. Twiddles `e^{−2πi·t/n}` are computed on the
//! host in f64 and uploaded once per op. A row pass may multiply each sample it loads by a mask
//! of `k×k` macro-pixels first ([`Premul`]): the SLM or lens in front of a free-space step, fused
//! into that step's first pass. A pass may also put each sample it stores through a thin
//! saturable absorber ([`PostAbs`]), keeping the absorber's input: the pump's absorber right
//! after a free-space step, fused into that step's last pass.

use num_complex::Complex32;

use super::buffer::{Field, GpuBuffer};
use super::context::GpuContext;
use super::kernel::{
    encode_pass, groups_for, read, split_groups, u32_of, uniform, write, Dispatch,
};
use super::uniforms::{FftParams, TransferParams};
use crate::error::{Error, Result};
use crate::fft::Direction;

/// Smallest workgroup tile in complex samples (four per thread for the radix-4 stages).
const MIN_TILE: usize = 1024;
/// Largest workgroup tile (16 values per invocation).
const MAX_TILE: usize = 4096;
/// Longest line the engine transforms.
pub const MAX_FFT_LEN: usize = 1 << 16;

/// Checks that the GPU can transform lines of `n` samples: a power of two from 2 to
/// [`MAX_FFT_LEN`]. The error names the nearest sizes that work.
pub fn check_fft_len(what: &str, n: usize) -> Result<()> {
    if n.is_power_of_two() && (2..=MAX_FFT_LEN).contains(&n) {
        return Ok(());
    }
    let hint = if n > MAX_FFT_LEN {
        format!("use at most {MAX_FFT_LEN}")
    } else if n < 2 {
        "use at least 2".to_string()
    } else {
        let hi = n.next_power_of_two();
        format!("use {} or {hi}", hi / 2)
    };
    Err(Error::Gpu(format!(
        "{what} = {n}: the GPU FFT needs a power of two: {hint}"
    )))
}

/// Where the samples of line `l`, element `i` live in a buffer:
/// `img·(l / lines_per_img) + line·(l % lines_per_img) + elem·(i − off)` for `off ≤ i < off+len`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lines {
    pub img: usize,
    pub line: usize,
    pub elem: usize,
    pub off: usize,
    pub len: usize,
}

impl Lines {
    /// The rows of `nx × ny` images, padded or cropped to `n` with the data at `off`.
    pub(crate) fn rows(nx: usize, ny: usize, off: usize) -> Self {
        Lines {
            img: nx * ny,
            line: nx,
            elem: 1,
            off,
            len: nx,
        }
    }
    /// The columns of `nx × ny` images, padded or cropped with the data at `off`.
    pub(crate) fn cols(nx: usize, ny: usize, off: usize) -> Self {
        Lines {
            img: nx * ny,
            line: 1,
            elem: nx,
            off,
            len: ny,
        }
    }
}

/// A transfer function multiplied between a forward and an inverse transform: element `i` of line
/// `l` takes `h[(l % lines_per_img)·line + i·elem]`, conjugated when `conj`.
pub(crate) struct Transfer<'a> {
    pub h: &'a wgpu::Buffer,
    pub line: usize,
    pub elem: usize,
    pub conj: bool,
}

/// A mask multiplied into every sample a row pass loads (the modulation of
/// `shaders/modulate.wgsl`, fused): line `l` is image row `y = l % lines_per_img`, element
/// `x = i − src_at.off` of it takes `mask[(y/k)·sx + x/k]`.
pub(crate) struct Premul<'a> {
    pub mask: &'a wgpu::Buffer,
    pub k: usize,
    pub sx: usize,
}

/// A thin saturable absorber applied to every sample a pass stores (the pump of
/// `shaders/absorber.wgsl`, fused): the scaled sample `w` is written to `dst` as
/// `exp(−(α₀/2)/(1+|w|²))·w`, and `w` itself to `slot` (laid out as `dst`) when given.
pub(crate) struct PostAbs<'a> {
    /// α₀.
    pub od: f32,
    pub slot: Option<&'a wgpu::Buffer>,
}

/// One pass of 1-D transforms of length `n` over `lines` lines.
pub(crate) struct LinePass<'a> {
    pub n: usize,
    pub lines: usize,
    pub lines_per_img: usize,
    pub src: &'a wgpu::Buffer,
    pub src_at: Lines,
    pub dst: &'a wgpu::Buffer,
    pub dst_at: Lines,
    pub inverse: bool,
    pub scale: f64,
    pub transfer: Option<Transfer<'a>>,
    /// Rows only (`src_at.elem == 1`): a mask multiplied in on load.
    pub premul: Option<Premul<'a>>,
    /// A thin absorber applied on store.
    pub postabs: Option<PostAbs<'a>>,
}

/// Twiddle tables `w_t = e^{−2πi·t/n}`, `t < n`, for a set of lengths, in one buffer.
pub(crate) struct Twiddles {
    buf: GpuBuffer<Complex32>,
    offsets: Vec<(usize, usize)>,
    /// Bound in place of an absorber's slot where a pass keeps none (never written).
    no_slot: GpuBuffer<Complex32>,
}

impl Twiddles {
    pub(crate) fn new(ctx: &GpuContext, lens: &[usize]) -> Result<Self> {
        let mut table = Vec::new();
        let mut offsets: Vec<(usize, usize)> = Vec::new();
        for &n in lens {
            if offsets.iter().any(|&(m, _)| m == n) {
                continue;
            }
            offsets.push((n, table.len()));
            for t in 0..n {
                // Angle in f64, reduced exactly: t/n in [0, 1).
                let a = -2.0 * std::f64::consts::PI * (t as f64 / n as f64);
                table.push(Complex32::new(a.cos() as f32, a.sin() as f32));
            }
        }
        Ok(Twiddles {
            buf: GpuBuffer::from_slice(ctx, "fft.twiddles", &table)?,
            offsets,
            no_slot: GpuBuffer::new(ctx, "fft.no_slot", 1)?,
        })
    }

    fn offset(&self, n: usize) -> usize {
        self.offsets
            .iter()
            .find(|&&(m, _)| m == n)
            .map_or_else(|| missing_twiddles(n), |&(_, o)| o)
    }
}

#[cold]
#[inline(never)]
fn premul_on_columns(label: &str) -> ! {
    panic!("fft: {label}: a mask multiplied on load needs a row pass (elements adjacent)")
}

#[cold]
#[inline(never)]
fn missing_twiddles(n: usize) -> ! {
    panic!("fft: no twiddle table for length {n} (an op planned without it)")
}

/// Work buffers of the global-memory path, grown on demand and shared by an op's passes.
#[derive(Default)]
pub(crate) struct Work {
    bufs: Option<(GpuBuffer<Complex32>, GpuBuffer<Complex32>)>,
}

impl Work {
    fn get(&mut self, ctx: &GpuContext, len: usize) -> Result<(wgpu::Buffer, wgpu::Buffer)> {
        if let Some((a, b)) = &self.bufs {
            if a.len() >= len {
                return Ok((a.buffer().clone(), b.buffer().clone()));
            }
        }
        let a = GpuBuffer::new(ctx, "fft.work0", len)?;
        let b = GpuBuffer::new(ctx, "fft.work1", len)?;
        let out = (a.buffer().clone(), b.buffer().clone());
        self.bufs = Some((a, b));
        Ok(out)
    }
}

fn log2(n: usize) -> u32 {
    n.trailing_zeros()
}

/// Records the dispatches of one line pass.
pub(crate) fn line_pass(
    ctx: &GpuContext,
    label: &str,
    pass: &LinePass,
    tw: &Twiddles,
    work: &mut Work,
) -> Result<Vec<Dispatch>> {
    let n = pass.n;
    let total = pass.lines * n;
    u32_of("FFT samples per pass", total)?;
    let base = pass_params(pass, tw)?;
    if pass.premul.is_some() && pass.src_at.elem != 1 {
        premul_on_columns(label);
    }
    let twb = tw.buf.buffer();
    let binds = PassBinds {
        twb,
        // The mask a row pass multiplies in on load (bound to the twiddles, unread, when none).
        mask: pass.premul.as_ref().map_or(twb, |m| m.mask),
        mask_bytes: pass.premul.as_ref().map_or(0, |m| m.mask.size()),
        // The absorber's slot a pass writes on store (a dummy, never written, when none).
        slot: pass
            .postabs
            .as_ref()
            .and_then(|a| a.slot)
            .unwrap_or(tw.no_slot.buffer()),
        keeps_slot: pass.postabs.as_ref().is_some_and(|a| a.slot.is_some()),
    };
    let shared = ctx.fft_shared_bytes() as usize / 8;
    let strided = pass.src_at.elem != 1 || pass.dst_at.elem != 1;
    let mut tile = n.max(MIN_TILE);
    if strided {
        // Columns: several per workgroup, adjacent invocations on adjacent columns, so that
        // loads and stores touch contiguous memory. Capped to keep 16 values per invocation.
        while tile * 2 <= shared.min(MAX_TILE) {
            tile *= 2;
        }
    }
    let base = FftParams {
        lines_fast: (strided && tile > n) as u32,
        ..base
    };
    if tile <= shared {
        // One dispatch: every line of the tile in workgroup memory.
        return Ok(vec![shared_pass(ctx, label, pass, &base, tile, &binds)?]);
    }
    global_pass(ctx, label, pass, &base, &binds, work)
}

/// The uniform values of a line pass (`lines_fast` aside, which depends on the tile).
fn pass_params(pass: &LinePass, tw: &Twiddles) -> Result<FftParams> {
    let n = pass.n;
    Ok(FftParams {
        n: n as u32,
        log2n: log2(n),
        lines: pass.lines as u32,
        lines_per_img: pass.lines_per_img as u32,
        src_img: u32_of("image stride", pass.src_at.img)?,
        src_line: pass.src_at.line as u32,
        src_elem: pass.src_at.elem as u32,
        src_off: pass.src_at.off as u32,
        src_len: pass.src_at.len as u32,
        dst_img: u32_of("image stride", pass.dst_at.img)?,
        dst_line: pass.dst_at.line as u32,
        dst_elem: pass.dst_at.elem as u32,
        dst_off: pass.dst_at.off as u32,
        dst_len: pass.dst_at.len as u32,
        twiddle_off: tw.offset(n) as u32,
        inverse: pass.inverse as u32,
        mode: pass.transfer.is_some() as u32,
        h_line: pass.transfer.as_ref().map_or(0, |t| t.line as u32),
        h_elem: pass.transfer.as_ref().map_or(0, |t| t.elem as u32),
        conj_h: pass.transfer.as_ref().is_some_and(|t| t.conj) as u32,
        scale: pass.scale as f32,
        premul: pass.premul.is_some() as u32,
        mask_k: pass.premul.as_ref().map_or(1, |m| m.k as u32),
        mask_sx: pass.premul.as_ref().map_or(0, |m| m.sx as u32),
        postabs: pass
            .postabs
            .as_ref()
            .map_or(0, |a| if a.slot.is_some() { 2 } else { 1 }),
        abs_od: pass.postabs.as_ref().map_or(0.0, |a| a.od),
        ..Default::default()
    })
}

/// The buffers a line pass binds besides its source and destination.
#[derive(Clone, Copy)]
struct PassBinds<'a> {
    /// The twiddles (also bound, unread, in place of an absent transfer function).
    twb: &'a wgpu::Buffer,
    /// The mask a row pass multiplies in on load, and its bytes (0 when none).
    mask: &'a wgpu::Buffer,
    mask_bytes: u64,
    /// The absorber's slot a pass writes on store, and whether there is one.
    slot: &'a wgpu::Buffer,
    keeps_slot: bool,
}

/// A line pass as one dispatch, every line of a `tile` in workgroup memory.
fn shared_pass(
    ctx: &GpuContext,
    label: &str,
    pass: &LinePass,
    base: &FftParams,
    tile: usize,
    binds: &PassBinds,
) -> Result<Dispatch> {
    let n = pass.n;
    let PassBinds {
        twb,
        mask,
        mask_bytes,
        slot,
        keeps_slot,
    } = *binds;
    let u = ctx.uniform(&format!("wavetrain.{label}.params"), base)?;
    let h = pass.transfer.as_ref().map_or(twb, |t| t.h);
    let groups = split_groups(ctx, pass.lines.div_ceil(tile / n) as u64)?;
    // Traffic: the samples each line reads and writes (padding is made on load, the crop
    // on store), the line's twiddles, the transfer function and the pre-multiplying mask
    // once, and the absorber's input each stored sample keeps.
    let slot_samples = if keeps_slot { pass.dst_at.len } else { 0 };
    let bytes = 8 * (pass.lines * (pass.src_at.len + pass.dst_at.len + slot_samples) + n) as u64
        + pass.transfer.as_ref().map_or(0, |t| t.h.size())
        + mask_bytes;
    Ok(Dispatch::new(
        ctx,
        "fft",
        "fft_shared",
        &[("TILE", tile as u32)],
        &[
            uniform(0, &u),
            read(1, pass.src),
            write(2, pass.dst),
            read(3, twb),
            read(4, h),
            read(5, mask),
            write(6, slot),
        ],
        groups,
    )?
    .with_bytes(bytes))
}

/// A line pass in global memory: gather → stages → (transfer → inverse stages) → scatter.
fn global_pass(
    ctx: &GpuContext,
    label: &str,
    pass: &LinePass,
    base: &FftParams,
    binds: &PassBinds,
    work: &mut Work,
) -> Result<Vec<Dispatch>> {
    let (n, total, base) = (pass.n, pass.lines * pass.n, *base);
    let PassBinds {
        twb,
        mask,
        mask_bytes,
        slot,
        keeps_slot,
    } = *binds;
    let consts = [("TILE", MIN_TILE as u32)];
    let (w0, w1) = work.get(ctx, total)?;
    let all = groups_for(ctx, total)?;
    let half = groups_for(ctx, total / 2)?;
    let mut out = Vec::new();
    let u = ctx.uniform(&format!("wavetrain.{label}.gather"), &base)?;
    // Traffic: the source and the work buffer (read and written) whole, and the mask once (not
    // the dummy bound in its place).
    let gather_bytes = pass.src.size() + 2 * w0.size() + mask_bytes;
    out.push(
        Dispatch::new(
            ctx,
            "fft",
            "fft_gather",
            &consts,
            &[
                uniform(0, &u),
                read(1, pass.src),
                write(2, &w0),
                read(5, mask),
            ],
            all,
        )?
        .with_bytes(gather_bytes),
    );
    let mut cur = (w0, w1);
    // One dispatch per radix-2 stage, ping-ponging between the work buffers.
    let stages = |inverse: bool,
                  cur: &mut (wgpu::Buffer, wgpu::Buffer),
                  out: &mut Vec<Dispatch>|
     -> Result<()> {
        for s in 0..log2(n) {
            let p = FftParams {
                stage: s,
                inverse: inverse as u32,
                ..base
            };
            let u = ctx.uniform(&format!("wavetrain.{label}.stage{s}"), &p)?;
            out.push(Dispatch::new(
                ctx,
                "fft",
                "fft_stage",
                &consts,
                &[
                    uniform(0, &u),
                    read(1, &cur.0),
                    write(2, &cur.1),
                    read(3, twb),
                ],
                half,
            )?);
            *cur = (cur.1.clone(), cur.0.clone());
        }
        Ok(())
    };
    stages(pass.inverse, &mut cur, &mut out)?;
    if let Some(t) = &pass.transfer {
        let p = TransferParams {
            lines: base.lines,
            n: base.n,
            lines_per_img: base.lines_per_img,
            h_line: t.line as u32,
            h_elem: t.elem as u32,
            conj_h: t.conj as u32,
            ..Default::default()
        };
        let u = ctx.uniform(&format!("wavetrain.{label}.transfer"), &p)?;
        out.push(Dispatch::new(
            ctx,
            "propagate",
            "propagate_transfer",
            &[],
            &[uniform(0, &u), write(1, &cur.0), read(2, t.h)],
            all,
        )?);
        stages(!pass.inverse, &mut cur, &mut out)?;
    }
    let u = ctx.uniform(&format!("wavetrain.{label}.scatter"), &base)?;
    // Traffic: the work buffer read and the destination (read and written) whole, and the
    // absorber's slot written once (not the dummy bound in its place).
    let scatter_bytes =
        cur.0.size() + 2 * pass.dst.size() + if keeps_slot { slot.size() } else { 0 };
    out.push(
        Dispatch::new(
            ctx,
            "fft",
            "fft_scatter",
            &consts,
            &[
                uniform(0, &u),
                read(1, &cur.0),
                write(2, pass.dst),
                write(6, slot),
            ],
            all,
        )?
        .with_bytes(scatter_bytes),
    );
    Ok(out)
}

/// A planned, unitary, batched 2-D FFT of one field, in place (mirrors [`crate::cpu::Fft2`]):
/// a row pass into a scratch buffer and a column pass back.
pub struct Fft2 {
    dispatches: Vec<Dispatch>,
}

impl Fft2 {
    /// Plans the unitary transform (scale `1/√(nx·ny)`) of every image of `field`. Sides must be
    /// powers of two (see [`check_fft_len`]); anything else is refused before any work.
    pub fn new(ctx: &GpuContext, field: &Field, dir: Direction) -> Result<Self> {
        Self::scaled(ctx, field, dir, 1.0)
    }

    /// As [`Fft2::new`], with the result multiplied by `extra` as well.
    pub(crate) fn scaled(
        ctx: &GpuContext,
        field: &Field,
        dir: Direction,
        extra: f64,
    ) -> Result<Self> {
        let (nx, ny, batch) = (field.nx(), field.ny(), field.batch());
        check_fft_len("grid nx", nx)?;
        check_fft_len("grid ny", ny)?;
        let tw = Twiddles::new(ctx, &[nx, ny])?;
        let scratch = GpuBuffer::<Complex32>::new(ctx, "fft.scratch", field.len())?;
        let mut work = Work::default();
        let inverse = dir == Direction::Inverse;
        let rows = LinePass {
            n: nx,
            lines: batch * ny,
            lines_per_img: ny,
            src: field.buffer(),
            src_at: Lines::rows(nx, ny, 0),
            dst: scratch.buffer(),
            dst_at: Lines::rows(nx, ny, 0),
            inverse,
            scale: 1.0 / (nx as f64).sqrt(),
            transfer: None,
            premul: None,
            postabs: None,
        };
        let cols = LinePass {
            n: ny,
            lines: batch * nx,
            lines_per_img: nx,
            src: scratch.buffer(),
            src_at: Lines::cols(nx, ny, 0),
            dst: field.buffer(),
            dst_at: Lines::cols(nx, ny, 0),
            inverse,
            scale: extra / (ny as f64).sqrt(),
            transfer: None,
            premul: None,
            postabs: None,
        };
        let mut dispatches = line_pass(ctx, "fft.rows", &rows, &tw, &mut work)?;
        dispatches.extend(line_pass(ctx, "fft.cols", &cols, &tw, &mut work)?);
        Ok(Fft2 { dispatches })
    }

    /// Records the transform.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "fft", &self.dispatches);
    }
}
