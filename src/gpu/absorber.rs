//! The saturable absorber on the GPU (mirrors `src/cpu/absorber.rs`, runs
//! `shaders/absorber.wgsl`): pump in place (optionally keeping the field that entered, for the
//! probe pass), and the optical or exact probe; each optionally with an optical-depth map
//! `α₀(x, y)` (the imperfect system's non-uniform absorber, mirrors
//! [`crate::cpu::hardware::absorber_pump_map`] and [`crate::cpu::hardware::absorber_probe_map`]).

use super::buffer::{Field, GpuBuffer};
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
        plane: u32_of("field samples", field.nx() * field.ny())?,
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
        Self::with_map(ctx, field, absorber, None, save)
    }

    /// As [`AbsorberPump::new`], with the optical depth of each sample read from `od_map`
    /// (`ny × nx`, shared by every image; `absorber.od` is then unused) when given.
    ///
    /// # Panics
    /// If `save` differs from `field` in shape, or `od_map` is not `nx·ny` long.
    pub fn with_map(
        ctx: &GpuContext,
        field: &Field,
        absorber: &Absorber,
        od_map: Option<&GpuBuffer<f32>>,
        save: Option<&Field>,
    ) -> Result<Self> {
        let u = params(ctx, field, absorber, false)?;
        let groups = groups_for(ctx, field.len())?;
        if let Some(m) = od_map {
            check_map(field, m);
        }
        if let Some(s) = save {
            if !s.same_shape(field) {
                bad_shape("AbsorberPump", field, s);
            }
        }
        let entry = match (od_map.is_some(), save.is_some()) {
            (false, false) => "absorber_pump",
            (false, true) => "absorber_pump_save",
            (true, false) => "absorber_pump_map",
            (true, true) => "absorber_pump_map_save",
        };
        let mut binds = vec![uniform(0, &u), write(1, field.buffer())];
        if let Some(s) = save {
            binds.push(write(2, s.buffer()));
        }
        if let Some(m) = od_map {
            binds.push(read(4, m.buffer()));
        }
        let dispatch = Dispatch::new(ctx, "absorber", entry, &[], &binds, groups)?;
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
        Self::with_map(ctx, probe, pump_in, absorber, None, exact)
    }

    /// As [`AbsorberProbe::new`], with the optical depth of each sample read from `od_map`
    /// when given.
    ///
    /// # Panics
    /// If `probe` and `pump_in` differ in shape, or `od_map` is not `nx·ny` long.
    pub fn with_map(
        ctx: &GpuContext,
        probe: &Field,
        pump_in: &Field,
        absorber: &Absorber,
        od_map: Option<&GpuBuffer<f32>>,
        exact: bool,
    ) -> Result<Self> {
        Self::build(ctx, probe, pump_in, absorber, od_map, exact, None)
    }

    /// The optical probe of finite strength (mirrors
    /// [`crate::cpu::absorber::absorber_probe_saturating`]): `b ← t(|v|² + σ²|b|²)·b`, with `σ`
    /// the scale of each image's physical probe (`scales`, one per image,
    /// [`super::ProbeScale`]), and the optical depth of each sample read from `od_map` when
    /// given.
    ///
    /// # Panics
    /// If `probe` and `pump_in` differ in shape, `scales` does not hold one value per image,
    /// or `od_map` is not `nx·ny` long.
    pub fn saturating(
        ctx: &GpuContext,
        probe: &Field,
        pump_in: &Field,
        absorber: &Absorber,
        od_map: Option<&GpuBuffer<f32>>,
        scales: &GpuBuffer<f32>,
    ) -> Result<Self> {
        assert_eq!(
            scales.len(),
            probe.batch(),
            "AbsorberProbe::saturating: {} probe scales for {} images",
            scales.len(),
            probe.batch()
        );
        Self::build(ctx, probe, pump_in, absorber, od_map, false, Some(scales))
    }

    /// The probe's dispatch: the entry point of the map and saturation options, its bindings.
    fn build(
        ctx: &GpuContext,
        probe: &Field,
        pump_in: &Field,
        absorber: &Absorber,
        od_map: Option<&GpuBuffer<f32>>,
        exact: bool,
        scales: Option<&GpuBuffer<f32>>,
    ) -> Result<Self> {
        if !probe.same_shape(pump_in) {
            bad_shape("AbsorberProbe", probe, pump_in);
        }
        let u = params(ctx, probe, absorber, exact)?;
        let mut binds = vec![
            uniform(0, &u),
            write(1, probe.buffer()),
            read(3, pump_in.buffer()),
        ];
        if let Some(m) = od_map {
            check_map(probe, m);
            binds.push(read(4, m.buffer()));
        }
        if let Some(sc) = scales {
            binds.push(read(5, sc.buffer()));
        }
        let entry = match (od_map.is_some(), scales.is_some()) {
            (false, false) => "absorber_probe",
            (true, false) => "absorber_probe_map",
            (false, true) => "absorber_probe_sat",
            (true, true) => "absorber_probe_sat_map",
        };
        let dispatch = Dispatch::new(
            ctx,
            "absorber",
            entry,
            &[],
            &binds,
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

fn check_map(field: &Field, map: &GpuBuffer<f32>) {
    if map.len() != field.nx() * field.ny() {
        panic!(
            "absorber: an optical-depth map of {} values does not fit a {}×{} grid",
            map.len(),
            field.nx(),
            field.ny()
        );
    }
}
