//! The saturable absorber on the GPU (mirrors `src/cpu/absorber.rs`, runs
//! `shaders/absorber.wgsl`): pump in place (optionally keeping the field that entered, for the
//! probe pass), and the optical or exact probe.

use super::buffer::Field;
use super::context::GpuContext;
use super::kernel::{encode_pass, groups_for, read, u32_of, uniform, write, Dispatch};
use super::uniforms::AbsorberParams;
use crate::error::Result;
use crate::optics::{Absorber, AbsorberModel};

fn params(
    ctx: &GpuContext,
    field: &Field,
    absorber: &Absorber,
    exact: bool,
) -> Result<wgpu::Buffer> {
    let p = AbsorberParams {
        len: u32_of("field samples", field.len())?,
        model: match absorber.model {
            AbsorberModel::Thin => 0,
            AbsorberModel::BeerLambert => 1,
        },
        exact: exact as u32,
        od: absorber.od as f32,
        ..Default::default()
    };
    ctx.uniform("wavetrain.absorber.params", &p)
}

/// Pump action `u = t(|v|²)·v` in place (mirrors [`crate::cpu::absorber_pump`]).
pub struct AbsorberPump {
    dispatch: Dispatch,
}

impl AbsorberPump {
    /// Plans the pump on `field`; with `save`, the field entering the absorber is copied there in
    /// the same kernel (the probe pass needs it).
    ///
    /// # Panics
    /// If `save` differs from `field` in shape.
    pub fn new(
        ctx: &GpuContext,
        field: &Field,
        absorber: &Absorber,
        save: Option<&Field>,
    ) -> Result<Self> {
        let u = params(ctx, field, absorber, false)?;
        let groups = groups_for(ctx, field.len())?;
        let dispatch = match save {
            None => Dispatch::new(
                ctx,
                "absorber",
                "absorber_pump",
                &[],
                &[uniform(0, &u), write(1, field.buffer())],
                groups,
            )?,
            Some(s) => {
                if !s.same_shape(field) {
                    bad_shape("AbsorberPump", field, s);
                }
                Dispatch::new(
                    ctx,
                    "absorber",
                    "absorber_pump_save",
                    &[],
                    &[
                        uniform(0, &u),
                        write(1, field.buffer()),
                        write(2, s.buffer()),
                    ],
                    groups,
                )?
            }
        };
        Ok(AbsorberPump { dispatch })
    }

    /// Records the pump.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "absorber_pump", std::slice::from_ref(&self.dispatch));
    }
}

/// Probe action in place on the probe field (mirrors [`crate::cpu::absorber_probe`]): optical
/// `b_v = t(s)·b_u`, or exact `b_v = t·b_u + 2·t'(s)·Re(b_u·v)·conj(v)`.
pub struct AbsorberProbe {
    dispatch: Dispatch,
}

impl AbsorberProbe {
    /// Plans the probe on `probe`, with `pump_in` the pump field that entered the absorber.
    ///
    /// # Panics
    /// If `probe` and `pump_in` differ in shape.
    pub fn new(
        ctx: &GpuContext,
        probe: &Field,
        pump_in: &Field,
        absorber: &Absorber,
        exact: bool,
    ) -> Result<Self> {
        if !probe.same_shape(pump_in) {
            bad_shape("AbsorberProbe", probe, pump_in);
        }
        let u = params(ctx, probe, absorber, exact)?;
        let dispatch = Dispatch::new(
            ctx,
            "absorber",
            "absorber_probe",
            &[],
            &[
                uniform(0, &u),
                write(1, probe.buffer()),
                read(3, pump_in.buffer()),
            ],
            groups_for(ctx, probe.len())?,
        )?;
        Ok(AbsorberProbe { dispatch })
    }

    /// Records the probe.
    pub fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        encode_pass(enc, "absorber_probe", std::slice::from_ref(&self.dispatch));
    }
}

#[cold]
#[inline(never)]
fn bad_shape(what: &str, a: &Field, b: &Field) -> ! {
    panic!(
        "{what}: fields differ in shape: {}×{}×{} vs {}×{}×{}",
        a.nx(),
        a.ny(),
        a.batch(),
        b.nx(),
        b.ny(),
        b.batch()
    )
}
