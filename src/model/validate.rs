//! Validation of a [`Config`]: every value checked once, with errors that name the key and say
//! what to give instead. [`Config::resolve`](crate::network) calls it; so do the parsers and the
//! editors of this module, which hand back only valid configs.

use super::{Config, Element, Fidelity};
use crate::error::{Error, Result};

pub(crate) fn positive(key: &str, v: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be a positive {unit}, got {v}"),
        ))
    }
}

impl Config {
    /// Checks every value: physics (positive wavelength, pitch and distances, `α₀ ≥ 0`), sizes,
    /// macro-pixels that tile the grid, detectors inside the grid, training settings.
    pub fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        if self.is_dense() {
            if self.twin.is_some() {
                return Err(Error::config(
                    "twin",
                    "a [twin] models a field (diffractive) network's fixed imperfections; a dense network's model is its ideal layers: remove [twin]",
                ));
            }
            return self.validate_dense();
        }
        self.refuse_dense_inputs()?;
        self.validate_optics()?;
        self.validate_field_elements()?;
        self.validate_field_hardware()?;
        self.validate_field_readout()?;
        self.validate_twin()?;
        self.validate_train()
    }

    /// The twin: fixed imperfections only, each valid as `[hardware]` would be (errors name
    /// `twin.…`).
    fn validate_twin(&self) -> Result<()> {
        let Some(t) = &self.twin else {
            return Ok(());
        };
        let fixed = super::Hardware {
            seed: t.seed,
            shifts: t.shifts.clone(),
            shift_std: t.shift_std,
            distance_errors: t.distance_errors.clone(),
            distance_std: t.distance_std,
            phase_range: t.phase_range,
            phase_bits: t.phase_bits,
            phase_lut: t.phase_lut.clone(),
            fringing: t.fringing,
            fill_factor: t.fill_factor,
            od_std: t.od_std,
            od_correlation: t.od_correlation,
            od_errors: t.od_errors.clone(),
            ..super::Hardware::default()
        };
        if fixed != *t {
            return Err(Error::config(
                "twin",
                "a twin holds the model's fixed imperfections only (shifts, distances, SLM response, fringing, fill factor, optical depths): noise, bit depths of the camera and input, and read-out options belong to [hardware]",
            ));
        }
        let mut c = self.clone();
        c.hardware = t.clone();
        c.twin = None;
        c.validate().map_err(|e| match e {
            Error::Config { key, message } => Error::config(
                key.strip_prefix("hardware")
                    .map_or(key.clone(), |rest| format!("twin{rest}")),
                message,
            ),
            other => other,
        })
    }

    /// A field network refuses what belongs to dense networks: `relu`, a generated task, a bias.
    fn refuse_dense_inputs(&self) -> Result<()> {
        if let Some(i) = self
            .elements
            .iter()
            .position(|e| matches!(e, Element::Relu))
        {
            return Err(Error::config(
                format!("elements[{i}]"),
                "'relu' is a digital activation for dense networks: use an 'absorber' in a diffractive network",
            ));
        }
        if self.input.task.is_some() {
            return Err(Error::config(
                "input.task",
                "generated 2-D tasks feed dense networks: add 'dense' layers or remove input.task",
            ));
        }
        if self.input.bias != 0.0 {
            return Err(Error::config(
                "input.bias",
                "a bias input belongs to dense networks: remove input.bias",
            ));
        }
        Ok(())
    }

    /// The optics (wavelength, pitch, grid, padding) and the input's intensity and size.
    fn validate_optics(&self) -> Result<()> {
        let o = &self.optics;
        positive("optics.wavelength", o.wavelength, "length in metres")?;
        positive("optics.pitch", o.pitch, "length in metres")?;
        if o.wavelength > 1e-3 || o.pitch > 1e-2 {
            return Err(Error::config("optics", format!("wavelength {} m / pitch {} m look like wrong units: give metres (780e-9, 8e-6)", o.wavelength, o.pitch)));
        }
        crate::grid::Grid::new(o.nx, o.ny, o.pitch).map_err(|e| match e {
            Error::Config { key, message } => {
                Error::config(key.replace("grid.", "optics."), message)
            }
            other => other,
        })?;
        if !(o.padding.is_finite() && (1.0..=8.0).contains(&o.padding)) {
            return Err(Error::config(
                "optics.padding",
                format!("must be between 1 and 8, got {}", o.padding),
            ));
        }
        positive(
            "input.intensity",
            self.input.intensity,
            "intensity in units of I_sat",
        )?;
        if self.input.size == 0 || self.input.size > o.nx || self.input.size > o.ny {
            return Err(Error::config(
                "input.size",
                format!(
                    "{} does not fit the {}×{} grid: use 1..={}",
                    self.input.size,
                    o.nx,
                    o.ny,
                    o.nx.min(o.ny)
                ),
            ));
        }
        Ok(())
    }

    /// The field elements, one by one: SLM initialisations and macro-pixels, distances, focal
    /// lengths, absorbers; a square grid for a 2f lens; at least one trainable SLM.
    fn validate_field_elements(&self) -> Result<()> {
        let o = &self.optics;
        if self.elements.is_empty() {
            return Err(Error::config(
                "elements",
                "the network has no elements: add at least one [[elements]] table",
            ));
        }
        let mut trainable = 0;
        let mut square_needed = false;
        for (i, el) in self.elements.iter().enumerate() {
            let key = |f: &str| format!("elements[{i}].{f}");
            match *el {
                Element::Phase {
                    macro_pixel,
                    init_std,
                } => {
                    trainable += 1;
                    check_macro(&key("macro_pixel"), macro_pixel, o.nx, o.ny)?;
                    if !(init_std.is_finite() && init_std >= 0.0) {
                        return Err(Error::config(
                            key("init_std"),
                            format!("must be ≥ 0 radians, got {init_std}"),
                        ));
                    }
                }
                Element::Amplitude { macro_pixel, init } => {
                    trainable += 1;
                    check_macro(&key("macro_pixel"), macro_pixel, o.nx, o.ny)?;
                    if !(init.is_finite() && init.abs() <= 1.0) {
                        return Err(Error::config(
                            key("init"),
                            format!("an amplitude SLM holds weights in [−1, 1], got {init}"),
                        ));
                    }
                }
                Element::FreeSpace { distance } => {
                    if !(distance.is_finite() && distance > 0.0) {
                        return Err(Error::config(
                            key("distance"),
                            format!("must be a positive length in metres, got {distance}"),
                        ));
                    }
                }
                Element::Lens { focal_length } => {
                    if !(focal_length.is_finite() && focal_length != 0.0) {
                        return Err(Error::config(
                            key("focal_length"),
                            format!("must be a non-zero length in metres, got {focal_length}"),
                        ));
                    }
                }
                Element::Fourier { focal_length } => {
                    positive(&key("focal_length"), focal_length, "length in metres")?;
                    square_needed = true;
                }
                Element::Absorber { od, .. } => check_od(&key("od"), od)?,
                Element::Dense { .. } | Element::Relu => unreachable!("handled by validate_dense"),
            }
        }
        if square_needed && (o.nx != o.ny || o.nx % 2 == 1) {
            return Err(Error::config(
                "optics",
                "a 'fourier' (2f lens) element needs a square grid with an even side",
            ));
        }
        if trainable == 0 {
            return Err(Error::config(
                "elements",
                "nothing to train: add a 'phase' or 'amplitude' element",
            ));
        }
        Ok(())
    }

    /// A field network's read-out: the number of classes, the temperature, regions inside the grid.
    fn validate_field_readout(&self) -> Result<()> {
        let o = &self.optics;
        let r = &self.readout;
        if !(2..=256).contains(&r.classes) {
            return Err(Error::config(
                "readout.classes",
                format!("must be between 2 and 256, got {}", r.classes),
            ));
        }
        positive("readout.temperature", r.temperature, "number")?;
        let regions = self.regions()?;
        for (k, reg) in regions.iter().enumerate() {
            if !reg.fits(o.nx, o.ny) {
                return Err(Error::config(
                    format!("readout.regions[{k}]"),
                    format!("{reg:?} does not fit the {}×{} grid", o.nx, o.ny),
                ));
            }
        }
        Ok(())
    }

    fn validate_train(&self) -> Result<()> {
        let t = &self.train;
        positive("train.lr", t.lr, "number")?;
        if t.batch == 0 || t.batch > 65536 {
            return Err(Error::config(
                "train.batch",
                format!("must be between 1 and 65536, got {}", t.batch),
            ));
        }
        if t.epochs == 0 {
            return Err(Error::config(
                "train.epochs",
                "must be at least 1 (the untrained network's test loss and accuracy are the epoch-0 row of every run's metrics.csv)",
            ));
        }
        if t.max_train == Some(0) {
            return Err(Error::config("train.max_train", "must be at least 1"));
        }
        self.validate_method()
    }

    /// The training method and its settings: each setting only with its method, SPSA's
    /// samples in `1..=4096` and its σ > 0, a feedback scale > 0; DFA and PEPITA only for dense
    /// networks (a diffractive network has no per-layer error to project onto).
    fn validate_method(&self) -> Result<()> {
        use super::Method;
        let t = &self.train;
        let m = t.method;
        let only = |key: &str, on: bool, method: &str| -> Result<()> {
            if on {
                Err(Error::config(
                    format!("train.{key}"),
                    format!("is a setting of train.method = \"{method}\", but the method is \"{}\": set the method or remove it", m.name()),
                ))
            } else {
                Ok(())
            }
        };
        only(
            "spsa_samples",
            t.spsa_samples.is_some() && m != Method::Spsa,
            "spsa",
        )?;
        only(
            "spsa_sigma",
            t.spsa_sigma.is_some() && m != Method::Spsa,
            "spsa",
        )?;
        only(
            "feedback_scale",
            t.feedback_scale.is_some() && !matches!(m, Method::Dfa | Method::Pepita),
            "dfa\" or \"pepita",
        )?;
        if let Some(n) = t.spsa_samples {
            if !(1..=100).contains(&n) {
                return Err(Error::config(
                    "train.spsa_samples",
                    format!("must be between 1 and 100 perturbation pairs per update, got {n} (the noise counter tells at most 255 passes of a step apart)"),
                ));
            }
        }
        if let Some(s) = t.spsa_sigma {
            if !(s.is_finite() && s > 0.0 && s <= 10.0) {
                return Err(Error::config(
                    "train.spsa_sigma",
                    format!("must be a perturbation size > 0 and ≤ 10 (radians or weight units), got {s}"),
                ));
            }
        }
        if let Some(s) = t.feedback_scale {
            if !(s.is_finite() && s > 0.0 && s <= 1e6) {
                return Err(Error::config(
                    "train.feedback_scale",
                    format!("must be > 0 (1 is the default scale), got {s}"),
                ));
            }
        }
        let dense = self
            .elements
            .iter()
            .any(|e| matches!(e, Element::Dense { .. }));
        if matches!(m, Method::Dfa | Method::Pepita) && !dense {
            return Err(Error::config(
                "train.method",
                format!("\"{}\" needs a dense (matrix–vector) network: a diffractive network's SLMs have no per-layer output on which to project the error; use \"backprop\" or \"spsa\"", m.name()),
            ));
        }
        Ok(())
    }

    fn validate_dense(&self) -> Result<()> {
        self.validate_dense_input()?;
        let n = self.validate_dense_layers()?;
        self.validate_dense_readout(n)?;
        self.validate_dense_hardware()?;
        self.validate_train()
    }

    /// A dense network's input: intensity, bias, a generated task's points and jitter or an
    /// image's size.
    fn validate_dense_input(&self) -> Result<()> {
        let inp = &self.input;
        positive(
            "input.intensity",
            inp.intensity,
            "intensity in units of I_sat",
        )?;
        if !(inp.bias.is_finite() && inp.bias.abs() <= 1e6) {
            return Err(Error::config(
                "input.bias",
                format!("must be a finite field amplitude, got {}", inp.bias),
            ));
        }
        if inp.task.is_some() {
            if inp.points < 10 || inp.points > 10_000_000 {
                return Err(Error::config(
                    "input.points",
                    format!("must be between 10 and 10000000, got {}", inp.points),
                ));
            }
            if !(inp.jitter.is_finite() && inp.jitter >= 0.0) {
                return Err(Error::config(
                    "input.jitter",
                    format!("must be ≥ 0, got {}", inp.jitter),
                ));
            }
        } else if inp.size == 0 || inp.size > 1024 {
            return Err(Error::config(
                "input.size",
                format!("must be between 1 and 1024 pixels, got {}", inp.size),
            ));
        }
        Ok(())
    }

    /// A dense network's elements, one by one; gives the last layer's width.
    fn validate_dense_layers(&self) -> Result<usize> {
        let mut n = self.input_len();
        for (i, el) in self.elements.iter().enumerate() {
            let key = |f: &str| format!("elements[{i}].{f}");
            match *el {
                Element::Dense {
                    out,
                    fidelity,
                    gain,
                    init_std,
                    fill_factor,
                    na,
                    fanout_focal_length,
                    samples,
                } => {
                    if out == 0 || out > 65536 {
                        return Err(Error::config(
                            key("out"),
                            format!("must be between 1 and 65536, got {out}"),
                        ));
                    }
                    if n.saturating_mul(out) > 1 << 28 {
                        return Err(Error::config(
                            key("out"),
                            format!("a {out}×{n} weight matrix is larger than 2^28 values: use a smaller layer"),
                        ));
                    }
                    positive(&key("gain"), gain, "number")?;
                    if let Some(s) = init_std {
                        positive(&key("init_std"), s, "number")?;
                    }
                    if fidelity == Fidelity::Wave {
                        if !(fill_factor.is_finite() && fill_factor > 0.0 && fill_factor <= 1.0) {
                            return Err(Error::config(
                                key("fill_factor"),
                                format!("must be in (0, 1], got {fill_factor}"),
                            ));
                        }
                        if let Some(a) = na {
                            if !(a.is_finite() && a > 0.0 && a <= 1.0) {
                                return Err(Error::config(
                                    key("na"),
                                    format!("a numerical aperture is in (0, 1], got {a}"),
                                ));
                            }
                        }
                        if let Some(f) = fanout_focal_length {
                            positive(&key("fanout_focal_length"), f, "length in metres")?;
                        }
                        if !(1..=64).contains(&samples) {
                            return Err(Error::config(
                                key("samples"),
                                format!("must be between 1 and 64, got {samples}"),
                            ));
                        }
                        positive("optics.wavelength", self.optics.wavelength, "length in metres")?;
                        positive("optics.pitch", self.optics.pitch, "length in metres")?;
                    }
                    n = out;
                }
                Element::Absorber { od, .. } => check_od(&key("od"), od)?,
                Element::Relu => {}
                _ => {
                    return Err(Error::config(
                        format!("elements[{i}]"),
                        "a dense network holds only 'dense', 'absorber' and 'relu' elements: field elements (SLMs, free space, lenses) belong in a separate diffractive network",
                    ))
                }
            }
        }
        Ok(n)
    }

    /// A dense network's read-out: classes equal to the last layer's `n` outputs, a temperature.
    fn validate_dense_readout(&self, n: usize) -> Result<()> {
        let r = &self.readout;
        if n != r.classes {
            return Err(Error::config(
                "readout.classes",
                format!(
                    "the last dense layer has {n} outputs but readout.classes is {}: make them equal",
                    r.classes
                ),
            ));
        }
        if !(2..=65536).contains(&r.classes) {
            return Err(Error::config(
                "readout.classes",
                format!("must be between 2 and 65536, got {}", r.classes),
            ));
        }
        positive("readout.temperature", r.temperature, "number")?;
        Ok(())
    }

    /// A dense network's `[hardware]` table: field-only options refused, errors and noises ≥ 0,
    /// the cross-talk in [0, 0.25), bit depths 1..=24.
    fn validate_dense_hardware(&self) -> Result<()> {
        let h = &self.hardware;
        if let Some(k) = field_only(h) {
            return Err(Error::config(
                format!("hardware.{k}"),
                "this imperfection belongs to field (diffractive) networks: for a dense network use hardware.weight_error, gain_error, crosstalk (the weight SLM's pixel cross-talk), signal_error, noise_error or the camera options",
            ));
        }
        if h.input_bits.is_some() {
            return Err(Error::config(
                "hardware.input_bits",
                "input quantisation is modelled for field (diffractive) networks: remove it",
            ));
        }
        for (k, v) in [
            ("hardware.weight_error", h.weight_error),
            ("hardware.gain_error", h.gain_error),
            ("hardware.signal_error", h.signal_error),
            ("hardware.noise_error", h.noise_error),
            ("hardware.read_noise", h.read_noise),
            ("hardware.probe_power", h.probe_power),
        ] {
            if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
                return Err(Error::config(k, format!("must be ≥ 0, got {v}")));
            }
        }
        if !(h.crosstalk.is_finite() && (0.0..0.25).contains(&h.crosstalk)) {
            return Err(Error::config(
                "hardware.crosstalk",
                format!(
                    "must be in [0, 0.25), got {}: it is the fraction of each weight pixel's field that leaks into each neighbour (0 turns it off; from 0.25 on a pixel would keep less than it gives away)",
                    h.crosstalk
                ),
            ));
        }
        if let Some(p) = h.shot_noise {
            positive("hardware.shot_noise", p, "number of photo-electrons")?;
        }
        for (k, b) in [
            ("hardware.camera_bits", h.camera_bits),
            ("hardware.slm_bits", h.slm_bits),
        ] {
            if let Some(b) = b {
                if !(1..=24).contains(&b) {
                    return Err(Error::config(
                        k,
                        format!("must be between 1 and 24 bits, got {b}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The first field-only hardware option that is on, by key.
fn field_only(h: &super::Hardware) -> Option<&'static str> {
    [
        ("shifts", !h.shifts.is_empty()),
        ("shift_std", h.shift_std != 0.0),
        ("distance_errors", !h.distance_errors.is_empty()),
        ("distance_std", h.distance_std != 0.0),
        ("phase_range", h.phase_range.is_some()),
        ("phase_bits", h.phase_bits.is_some()),
        ("phase_lut", h.phase_lut.is_some()),
        ("fringing", h.fringing != 0.0),
        ("fill_factor", h.fill_factor.is_some()),
        ("od_std", h.od_std != 0.0),
        ("od_correlation", h.od_correlation != 0.0),
        ("od_errors", !h.od_errors.is_empty()),
        ("readout", h.readout != super::ReadoutMethod::Ideal),
        ("probe_ratio", h.probe_ratio.is_some()),
        ("readout_steps", h.readout_steps.is_some()),
        ("readout_shot_noise", h.readout_shot_noise.is_some()),
        ("readout_read_noise", h.readout_read_noise != 0.0),
        ("readout_bits", h.readout_bits.is_some()),
        ("readout_binning", h.readout_binning.is_some()),
    ]
    .into_iter()
    .find(|&(_, on)| on)
    .map(|(k, _)| k)
}

/// A length or width that must be finite and at least 0.
fn non_negative(key: &str, v: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be a finite {unit} ≥ 0, got {v}: give 0 to turn it off"),
        ))
    }
}

impl Config {
    /// The `[hardware]` table of a field network: dense-only options refused, widths and
    /// deviations ≥ 0, one shift per SLM and one distance error per free-space step, shifts
    /// within the grid, bit depths 1..=16, the phase range in (0, 2π], the fill factor in (0, 1].
    /// The lookup table's file is read (and checked) when the network is resolved.
    fn validate_field_hardware(&self) -> Result<()> {
        self.validate_field_widths()?;
        self.validate_misalignment()?;
        self.validate_slm_response()?;
        self.validate_readout()
    }

    /// Dense-only options refused; widths, deviations and noises ≥ 0, a fringing of at most 64
    /// SLM pixels.
    fn validate_field_widths(&self) -> Result<()> {
        let h = &self.hardware;
        for (k, on) in [
            ("signal_error", h.signal_error != 0.0),
            ("noise_error", h.noise_error != 0.0),
            ("slm_bits", h.slm_bits.is_some()),
            ("probe_power", h.probe_power != 0.0),
            ("weight_error", h.weight_error != 0.0),
            ("gain_error", h.gain_error != 0.0),
            ("crosstalk", h.crosstalk != 0.0),
        ] {
            if on {
                return Err(Error::config(
                    format!("hardware.{k}"),
                    "this option belongs to dense (matrix–vector) networks: for a field network use phase_bits (SLM levels), shifts, distance errors, the SLM response, od_std or the detector options",
                ));
            }
        }
        non_negative("hardware.shift_std", h.shift_std, "length in metres")?;
        non_negative("hardware.distance_std", h.distance_std, "length in metres")?;
        non_negative("hardware.fringing", h.fringing, "width in SLM pixels")?;
        non_negative("hardware.od_std", h.od_std, "relative deviation")?;
        non_negative(
            "hardware.od_correlation",
            h.od_correlation,
            "length in metres",
        )?;
        non_negative(
            "hardware.read_noise",
            h.read_noise,
            "fraction of full scale",
        )?;
        if h.fringing > 64.0 {
            return Err(Error::config(
                "hardware.fringing",
                format!("{} SLM pixels of cross-talk is more than 64: give the kernel's standard deviation in SLM pixels (e.g. 0.5)", h.fringing),
            ));
        }
        if let Some(p) = h.shot_noise {
            positive("hardware.shot_noise", p, "number of photo-electrons")?;
        }
        Ok(())
    }

    /// Shifts (one per SLM, inside the grid) and distance errors (one per free-space step, each
    /// leaving a positive distance), or their standard deviations, not both.
    fn validate_misalignment(&self) -> Result<()> {
        let h = &self.hardware;
        let slms = self
            .elements
            .iter()
            .filter(|e| matches!(e, Element::Phase { .. } | Element::Amplitude { .. }))
            .count();
        let spaces = self
            .elements
            .iter()
            .filter(|e| matches!(e, Element::FreeSpace { .. }))
            .count();
        if !h.shifts.is_empty() {
            if h.shift_std != 0.0 {
                return Err(Error::config(
                    "hardware.shifts",
                    "give explicit shifts or shift_std, not both",
                ));
            }
            if h.shifts.len() != slms {
                return Err(Error::config(
                    "hardware.shifts",
                    format!(
                        "{} shifts given for {slms} SLMs: give one [dx, dy] (metres) per SLM, in element order",
                        h.shifts.len()
                    ),
                ));
            }
        }
        let o = &self.optics;
        let (wx, wy) = (o.nx as f64 * o.pitch, o.ny as f64 * o.pitch);
        for (i, s) in h.shifts.iter().enumerate() {
            if !(s[0].is_finite() && s[1].is_finite()) || s[0].abs() >= wx || s[1].abs() >= wy {
                return Err(Error::config(
                    format!("hardware.shifts[{i}]"),
                    format!(
                        "[{}, {}] m is not a shift inside the {wx:.3e} × {wy:.3e} m grid: give metres smaller than the grid (e.g. 4e-6)",
                        s[0], s[1]
                    ),
                ));
            }
        }
        if h.shift_std > wx.min(wy) / 4.0 {
            return Err(Error::config(
                "hardware.shift_std",
                format!(
                    "{} m is larger than a quarter of the grid ({:.3e} m): give metres (e.g. 4e-6)",
                    h.shift_std,
                    wx.min(wy) / 4.0
                ),
            ));
        }
        if !h.distance_errors.is_empty() {
            if h.distance_std != 0.0 {
                return Err(Error::config(
                    "hardware.distance_errors",
                    "give explicit distance errors or distance_std, not both",
                ));
            }
            if h.distance_errors.len() != spaces {
                return Err(Error::config(
                    "hardware.distance_errors",
                    format!(
                        "{} errors given for {spaces} free-space steps: give one (metres) per 'free-space' element, in order",
                        h.distance_errors.len()
                    ),
                ));
            }
        }
        let mut j = 0;
        for (i, e) in self.elements.iter().enumerate() {
            if let Element::FreeSpace { distance } = *e {
                if let Some(&d) = h.distance_errors.get(j) {
                    if !(d.is_finite() && distance + d > 0.0) {
                        return Err(Error::config(
                            format!("hardware.distance_errors[{j}]"),
                            format!("{d} m makes elements[{i}]'s distance {distance} m non-positive: give a smaller error in metres"),
                        ));
                    }
                }
                if h.distance_std > 0.25 * distance {
                    return Err(Error::config(
                        "hardware.distance_std",
                        format!("{} m is more than a quarter of elements[{i}]'s distance {distance} m: give metres (e.g. 50e-6)", h.distance_std),
                    ));
                }
                j += 1;
            }
        }
        Ok(())
    }

    /// The SLM's response (phase range or lookup table, bit depths, fill factor) and the
    /// absorber's optical-depth deviations.
    fn validate_slm_response(&self) -> Result<()> {
        let h = &self.hardware;
        if let Some(r) = h.phase_range {
            if !(r.is_finite() && r > 0.0 && r <= std::f64::consts::TAU + 1e-12) {
                return Err(Error::config(
                    "hardware.phase_range",
                    format!("must be in (0, 2π] radians, got {r}"),
                ));
            }
            if h.phase_lut.is_some() {
                return Err(Error::config(
                    "hardware.phase_range",
                    "give phase_range or phase_lut, not both: a lookup table already holds the device's range",
                ));
            }
        }
        for (k, b) in [
            ("hardware.phase_bits", h.phase_bits),
            ("hardware.input_bits", h.input_bits),
            ("hardware.camera_bits", h.camera_bits),
        ] {
            if let Some(b) = b {
                if !(1..=16).contains(&b) {
                    return Err(Error::config(
                        k,
                        format!("must be between 1 and 16 bits, got {b}"),
                    ));
                }
            }
        }
        if let Some(f) = h.fill_factor {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(Error::config(
                    "hardware.fill_factor",
                    format!("must be in (0, 1], got {f}"),
                ));
            }
        }
        if h.od_correlation != 0.0 && h.od_std == 0.0 {
            return Err(Error::config(
                "hardware.od_correlation",
                "a correlation length without od_std does nothing: set od_std too (or remove it)",
            ));
        }
        let absorbers = self
            .elements
            .iter()
            .filter(|e| matches!(e, Element::Absorber { .. }))
            .count();
        if !h.od_errors.is_empty() && h.od_errors.len() != absorbers {
            return Err(Error::config(
                "hardware.od_errors",
                format!(
                    "{} errors given for {absorbers} absorbers: give one relative error per absorber, in element order (e.g. 0.05 for 5 % more optical depth)",
                    h.od_errors.len()
                ),
            ));
        }
        for (i, &e) in h.od_errors.iter().enumerate() {
            if !(e.is_finite() && e > -1.0 && e <= 10.0) {
                return Err(Error::config(
                    format!("hardware.od_errors[{i}]"),
                    format!("{e} is not a relative error of an optical depth: give a number above -1 and at most 10 (0.05: 5 % more)"),
                ));
            }
        }
        if h.od_std != 0.0
            && !self
                .elements
                .iter()
                .any(|e| matches!(e, Element::Absorber { .. }))
        {
            return Err(Error::config(
                "hardware.od_std",
                "the network has no absorber: remove od_std",
            ));
        }
        Ok(())
    }

    /// The SLM gradient's read-out (`hardware.readout`, `probe_ratio`, `readout_*`): a probe
    /// ratio > 0, `3 ≤ readout_steps ≤ 64` (the synchronous-detection sums need three frames;
    /// the random counter keeps 64 frames per SLM apart), camera options only with a camera
    /// read-out, camera noise only with a probe of known strength, a binning that divides every
    /// SLM's pixel grid.
    fn validate_readout(&self) -> Result<()> {
        use super::ReadoutMethod;
        let h = &self.hardware;
        if let Some(r) = h.probe_ratio {
            if !(r.is_finite() && r > 0.0 && r <= 1e6) {
                return Err(Error::config(
                    "hardware.probe_ratio",
                    format!("must be a field amplitude ratio > 0 (probe to pump, at the detectors), got {r}: remove it for the ideal weak probe"),
                ));
            }
        }
        if h.readout == ReadoutMethod::Ideal {
            if let Some(k) = h.readout_camera_options() {
                return Err(Error::config(
                    format!("hardware.{k}"),
                    "is an option of the read-out camera: set hardware.readout = \"phase-stepping\" or \"heterodyne\" (or remove it)",
                ));
            }
            return Ok(());
        }
        if let Some(n) = h.readout_steps {
            if !(3..=64).contains(&n) {
                return Err(Error::config(
                    "hardware.readout_steps",
                    format!("must be between 3 and 64 frames, got {n}: N-bucket synchronous detection separates the cross term from its conjugate only for N ≥ 3"),
                ));
            }
        }
        if let Some(p) = h.readout_shot_noise {
            positive(
                "hardware.readout_shot_noise",
                p,
                "number of photo-electrons",
            )?;
        }
        non_negative(
            "hardware.readout_read_noise",
            h.readout_read_noise,
            "fraction of full scale",
        )?;
        if let Some(b) = h.readout_bits {
            if !(1..=16).contains(&b) {
                return Err(Error::config(
                    "hardware.readout_bits",
                    format!("must be between 1 and 16 bits, got {b}"),
                ));
            }
        }
        let noisy = h.readout_shot_noise.is_some()
            || h.readout_read_noise != 0.0
            || h.readout_bits.is_some();
        if noisy && h.probe_ratio.is_none() {
            return Err(Error::config(
                "hardware.probe_ratio",
                "the read-out camera's noise needs the probe's strength: set hardware.probe_ratio (the probe's peak field amplitude relative to the pump's at the detectors, e.g. 0.1)",
            ));
        }
        let slms = self
            .elements
            .iter()
            .filter(|e| matches!(e, Element::Phase { .. } | Element::Amplitude { .. }))
            .count();
        if slms > 1000 {
            return Err(Error::config(
                "hardware.readout",
                format!("the read-out models at most 1000 SLMs, the network has {slms}"),
            ));
        }
        if let Some(k) = h.readout_binning {
            let o = &self.optics;
            for (i, e) in self.elements.iter().enumerate() {
                if let Element::Phase { macro_pixel, .. } | Element::Amplitude { macro_pixel, .. } =
                    *e
                {
                    let (sx, sy) = (o.nx / macro_pixel.max(1), o.ny / macro_pixel.max(1));
                    if k == 0 || sx % k as usize != 0 || sy % k as usize != 0 {
                        return Err(Error::config(
                            "hardware.readout_binning",
                            format!("{k} does not divide elements[{i}]'s {sx} × {sy} SLM pixels: give a binning ≥ 1 that divides both sides"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_od(key: &str, od: f64) -> Result<()> {
    if od.is_finite() && (0.0..=1000.0).contains(&od) {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("optical depth must be between 0 and 1000, got {od}"),
        ))
    }
}

fn check_macro(key: &str, k: usize, nx: usize, ny: usize) -> Result<()> {
    if k == 0 || !nx.is_multiple_of(k) || !ny.is_multiple_of(k) {
        return Err(Error::config(
            key,
            format!("{k} does not divide the {nx}×{ny} grid: SLM pixels must tile the grid"),
        ));
    }
    Ok(())
}

/// A run's name becomes part of its folder's name: letters, digits and `._+-` only, not starting
/// with `.` or `-`, at most 100 characters (so it can never name a path outside `runs/`).
fn check_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
    if name.is_empty()
        || name.len() > 100
        || name.starts_with(['.', '-'])
        || !name.chars().all(ok_char)
    {
        return Err(Error::config(
            "name",
            format!("{name:?} is not a usable run name: use 1 to 100 letters, digits, '.', '_', '+' or '-', not starting with '.' or '-' (it names the run folder)"),
        ));
    }
    Ok(())
}
