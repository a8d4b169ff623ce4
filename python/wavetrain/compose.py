"""Networks composed in Python: one small class per config element and section, turned into the
TOML a config file would hold and validated by the same Rust code (``Config::resolve``).

>>> import wavetrain as wt
>>> net = wt.Network.from_elements(
...     [wt.FreeSpace(distance=1e-3), wt.Phase(), wt.FreeSpace(distance=1e-3),
...      wt.Absorber(od=3.0), wt.Phase(), wt.FreeSpace(distance=1e-3)],
...     grid=(32, 32), pitch=8e-6, wavelength=780e-9,
...     input=wt.Input(intensity=10.0, size=20), readout=wt.Readout(detector_size=3))
>>> net.input_shape
(32, 32)

Every class mirrors one table of the config (``src/model/mod.rs``): the element classes the
``type`` of an ``[[elements]]`` table (``Phase`` is ``"phase"``, ``FreeSpace``
``"free-space"``, …), with the same field names and defaults; :class:`Input`,
:class:`Readout`, :class:`Train`, :class:`Hardware` and :class:`Twin` the sections of those
names. Units are the config's: lengths in metres, phases in radians, intensities in units of
the absorber's saturation intensity ``I_sat``, optical depths ``α₀`` dimensionless.

The classes check only what Python can: an unknown keyword argument is a ``TypeError`` naming
the class and the argument, a value of the wrong type (a string for a length) a ``TypeError``
naming the field. Values are checked by the library when the network is built
(:func:`from_elements`): a bad one raises :class:`wavetrain.ConfigError` naming the element's
index, its class and the field, e.g. ``invalid elements[3] (FreeSpace).distance: must be a
positive length in metres, got -0.001``.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._errors import ConfigError

# ---------------------------------------------------------------------------------------------
# Values: what a field takes, checked and normalised to plain Python values TOML can hold.


def _scalar(v: Any) -> Any:
    """A numpy scalar as the Python scalar it holds."""
    return v.item() if isinstance(v, np.generic) else v


def _real(owner: str, key: str, v: Any) -> float:
    v = _scalar(v)
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{owner}: {key} must be a number, got {v!r}")
    return float(v)


def _integer(owner: str, key: str, v: Any) -> int:
    v = _scalar(v)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{owner}: {key} must be an integer, got {v!r}")
    return int(v)


def _boolean(owner: str, key: str, v: Any) -> bool:
    v = _scalar(v)
    if not isinstance(v, bool):
        raise TypeError(f"{owner}: {key} must be True or False, got {v!r}")
    return v


def _text(owner: str, key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{owner}: {key} must be a string, got {v!r}")
    return v


def _sequence(owner: str, key: str, v: Any, what: str) -> List[Any]:
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, Sequence):
        raise TypeError(f"{owner}: {key} must be a list of {what}, got {v!r}")
    return list(v)


def _reals(owner: str, key: str, v: Any) -> List[float]:
    return [_real(owner, f"{key}[{i}]", x) for i, x in enumerate(_sequence(owner, key, v, "numbers"))]


def _pairs(owner: str, key: str, v: Any) -> List[List[float]]:
    out = []
    for i, p in enumerate(_sequence(owner, key, v, "[x, y] pairs")):
        p = _sequence(owner, f"{key}[{i}]", p, "two numbers")
        if len(p) != 2:
            raise TypeError(f"{owner}: {key}[{i}] must be a pair [x, y], got {p!r}")
        out.append([_real(owner, f"{key}[{i}]", x) for x in p])
    return out


_REGION_KEYS = ("x0", "y0", "w", "h")


def _regions(owner: str, key: str, v: Any) -> List[Dict[str, int]]:
    out = []
    for i, r in enumerate(_sequence(owner, key, v, "(x0, y0, w, h) regions")):
        k = f"{key}[{i}]"
        if isinstance(r, Mapping):
            extra = sorted(set(r) - set(_REGION_KEYS))
            if extra or set(r) != set(_REGION_KEYS):
                raise TypeError(f"{owner}: {k} must have the keys x0, y0, w, h, got {sorted(r)}")
            vals = [r[n] for n in _REGION_KEYS]
        else:
            vals = _sequence(owner, k, r, "four integers")
            if len(vals) != 4:
                raise TypeError(f"{owner}: {k} must be (x0, y0, w, h), got {r!r}")
        out.append({n: _integer(owner, f"{k}.{n}", x) for n, x in zip(_REGION_KEYS, vals)})
    return out


class _Field:
    """One key of a table: its name, how its value is checked, its default (``_REQUIRED``: none)."""

    def __init__(self, name: str, check: Callable[[str, str, Any], Any], default: Any) -> None:
        self.name, self.check, self.default = name, check, default


_REQUIRED = inspect.Parameter.empty


def _f(name: str, check: Callable[[str, str, Any], Any], default: Any = _REQUIRED) -> _Field:
    return _Field(name, check, default)


# ---------------------------------------------------------------------------------------------
# TOML text.


def _toml_string(s: str) -> str:
    out = ['"']
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)  # the shortest text that reads back to the same f64 (inf, nan as TOML)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")  # not reached: fields are checked first


# ---------------------------------------------------------------------------------------------
# Tables.


class _Table:
    """A config table: fields checked on construction and again when written."""

    _fields: Tuple[_Field, ...] = ()
    _header: str = ""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for f in cls._fields:
            kind = (
                inspect.Parameter.POSITIONAL_OR_KEYWORD
                if f.default is _REQUIRED
                else inspect.Parameter.KEYWORD_ONLY
            )
            params.append(inspect.Parameter(f.name, kind, default=f.default))
        # What help(), pdoc and IDEs show: the fields as keyword arguments with their defaults.
        cls.__signature__ = inspect.Signature(params[1:])  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        name = type(self).__name__
        positional = [f for f in self._fields if f.default is _REQUIRED]
        if len(args) > len(positional):
            takes = ", ".join(f.name for f in positional) or "no positional arguments"
            raise TypeError(
                f"{name}: {len(args)} positional arguments given, it takes {takes} "
                "(give the others by keyword)"
            )
        values: Dict[str, Any] = {}
        for f, v in zip(positional, args):
            values[f.name] = v
        known = {f.name for f in self._fields}
        for k, v in kwargs.items():
            if k not in known:
                near = difflib.get_close_matches(k, sorted(known), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise TypeError(
                    f"{name}: unknown argument {k!r}{hint}; it takes "
                    f"{', '.join(f.name for f in self._fields) or 'no arguments'}"
                )
            if k in values:
                raise TypeError(f"{name}: {k!r} given twice (by position and by keyword)")
            values[k] = v
        for f in self._fields:
            if f.name in values:
                v = values[f.name]
            elif f.default is _REQUIRED:
                raise TypeError(f"{name}: missing the argument {f.name!r}")
            else:
                v = f.default
            setattr(self, f.name, None if v is None else f.check(name, f.name, v))

    def table(self) -> Dict[str, Any]:
        """The table's keys and values as the config holds them (plain Python values; keys whose
        value is ``None``, meaning absent, left out)."""
        name = type(self).__name__
        out: Dict[str, Any] = {}
        for f in self._fields:
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = f.check(name, f.name, v)
        return out

    @property
    def toml(self) -> str:
        """The table as TOML text: its header (``[[elements]]``, ``[input]``, …) and one
        ``key = value`` line per key."""
        lines = [self._header] + [f"{k} = {_toml_value(v)}" for k, v in self.table().items()]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.table() == other.table()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class Element(_Table):
    """Base class of the optical elements (one ``[[elements]]`` table each): :class:`Phase`,
    :class:`Amplitude`, :class:`FreeSpace`, :class:`Lens`, :class:`Fourier`, :class:`Dense`,
    :class:`Relu`, :class:`Absorber`. Its ``table()`` starts with the config's ``type``."""

    _type = ""
    _header = "[[elements]]"

    def table(self) -> Dict[str, Any]:
        """The element's table as the config holds it: ``type`` (e.g. ``"free-space"``) then its
        fields (lengths in metres, phases in radians; ``None`` values left out)."""
        return {"type": self._type, **super().table()}


class Phase(Element):
    """A trainable phase-only SLM (``type = "phase"``).

    ``macro_pixel``: each SLM pixel spans ``macro_pixel × macro_pixel`` grid pixels (default 1);
    ``init_std``: standard deviation of the random initial phase, radians (default 0)."""

    _type = "phase"
    _fields = (_f("macro_pixel", _integer, 1), _f("init_std", _real, 0.0))


class Amplitude(Element):
    """A trainable signed-amplitude SLM, weights ``|w| ≤ 1`` (``type = "amplitude"``).

    ``macro_pixel``: grid pixels per SLM pixel along each side (default 1); ``init``: the initial
    value of every weight, dimensionless (default 1)."""

    _type = "amplitude"
    _fields = (_f("macro_pixel", _integer, 1), _f("init", _real, 1.0))


class FreeSpace(Element):
    """Free-space propagation (angular spectrum) over ``distance`` (m) (``type =
    "free-space"``)."""

    _type = "free-space"
    _fields = (_f("distance", _real),)


class Lens(Element):
    """A thin lens, a fixed phase mask, of focal length ``focal_length`` (m) (``type =
    "lens"``)."""

    _type = "lens"
    _fields = (_f("focal_length", _real),)


class Fourier(Element):
    """A 2f system of focal length ``focal_length`` (m): the next plane is the Fourier plane, of
    pitch ``λf/(N·dx)`` (m) (``type = "fourier"``)."""

    _type = "fourier"
    _fields = (_f("focal_length", _real),)


class Dense(Element):
    """A fully connected optical layer ``z = gain·W a`` on signed real field amplitudes, an SLM
    holding ``W`` (``|w| ≤ 1``) between a fan-out and a summing lens (``type = "dense"``; dense
    networks).

    ``out``: output size; ``fidelity``: ``"ideal"`` (default), ``"wave"`` or ``"digital"``;
    ``gain``: the layer's gain (optical power budget), dimensionless, > 0 (default 1);
    ``init_std``: standard deviation of the initial weights, dimensionless (default
    ``1/√in``); wave fidelity only: ``fill_factor`` (modulating fraction of an SLM pixel, in
    (0, 1], default 1), ``na`` (numerical aperture of the imaging optics; default unlimited),
    ``fanout_focal_length`` (focal length of the cylindrical fan-out lens (m); default a
    uniform fan-out), ``samples`` (grid samples per SLM pixel, default 8)."""

    _type = "dense"
    _fields = (
        _f("out", _integer),
        _f("fidelity", _text, "ideal"),
        _f("gain", _real, 1.0),
        _f("init_std", _real, None),
        _f("fill_factor", _real, 1.0),
        _f("na", _real, None),
        _f("fanout_focal_length", _real, None),
        _f("samples", _integer, 8),
    )


class Relu(Element):
    """A digital ReLU (``type = "relu"``; baseline dense networks only, not an optical
    element). It takes no arguments."""

    _type = "relu"
    _fields = ()


class Absorber(Element):
    """A saturable absorber, one per pixel (``type = "absorber"``), of optical depth ``od``
    (``α₀ ≥ 0``, dimensionless); ``model``: ``"thin"`` (default, ``t(s) = exp(−(α₀/2)/(1+s))``
    with ``s = I/I_sat``) or ``"beer-lambert"``."""

    _type = "absorber"
    _fields = (_f("od", _real), _f("model", _text, "thin"))


ELEMENTS: Tuple[type, ...] = (Phase, Amplitude, FreeSpace, Lens, Fourier, Dense, Relu, Absorber)


class Input(_Table):
    """The ``[input]`` section: how an image becomes a field.

    ``intensity``: intensity of a white pixel, in units of the absorber's saturation intensity
    ``I_sat``; ``size``: side of the resampled image on the grid, pixels (dense networks:
    ``size × size`` inputs; default 28); ``task``: a generated 2-D task instead of images
    (``"rings"``, ``"moons"``, ``"spirals"``; dense networks), with ``points`` training points
    (default 1000) and Gaussian ``jitter`` (default 0.1, in the task's units); ``bias``: a
    constant extra input of this field amplitude (√I_sat; dense networks; default 0: none)."""

    _header = "[input]"
    _fields = (
        _f("intensity", _real),
        _f("size", _integer, 28),
        _f("task", _text, None),
        _f("points", _integer, 1000),
        _f("jitter", _real, 0.1),
        _f("bias", _real, 0.0),
    )


class Readout(_Table):
    """The ``[readout]`` section: detectors and loss.

    ``classes``: number of classes (detector regions; default 10); ``detector_size``: side of
    each square detector, grid pixels (default 5), used when ``regions`` is empty;
    ``regions``: explicit detector regions, a list of ``(x0, y0, w, h)`` in grid pixels (or
    dicts with those keys); ``loss``: ``"cross-entropy"`` (default) or ``"mse"``;
    ``temperature``: softmax temperature on the normalised powers, dimensionless (default
    0.05)."""

    _header = "[readout]"
    _fields = (
        _f("classes", _integer, 10),
        _f("detector_size", _integer, 5),
        _f("regions", _regions, None),
        _f("loss", _text, "cross-entropy"),
        _f("temperature", _real, 0.05),
    )


class Train(_Table):
    """The ``[train]`` section: optimiser and schedule.

    ``optimizer``: ``"adam"`` (default) or ``"sgd"``; ``lr``: the optimiser's step size
    (dimensionless, per unit of gradient; default 0.05); ``batch``: images per step (64);
    ``epochs`` (5); ``seed`` (0); ``gradient``: ``"optical"`` (default) or ``"exact"``;
    ``max_train``: at most this many training images (default all); ``target``: ``"model"``,
    ``"hardware"`` (default) or ``"physics-aware"``; ``method``: ``"backprop"`` (default),
    ``"dfa"``, ``"spsa"`` or ``"pepita"``; ``spsa_samples`` (perturbation pairs per update),
    ``spsa_sigma`` (the perturbation's size, in the parameters' units: rad or weight units),
    ``feedback_scale`` (DFA/PEPITA, relative to the default 1); ``None``: the config's
    default."""

    _header = "[train]"
    _fields = (
        _f("optimizer", _text, "adam"),
        _f("lr", _real, 0.05),
        _f("batch", _integer, 64),
        _f("epochs", _integer, 5),
        _f("seed", _integer, 0),
        _f("gradient", _text, "optical"),
        _f("max_train", _integer, None),
        _f("target", _text, "hardware"),
        _f("method", _text, "backprop"),
        _f("spsa_samples", _integer, None),
        _f("spsa_sigma", _real, None),
        _f("feedback_scale", _real, None),
    )


class Hardware(_Table):
    """The ``[hardware]`` section: imperfections of the physical system, every one off unless
    given (``None``, the default of each keyword, leaves the key out of the config). The keys
    are the config's (see the guide's hardware chapter), with its units:

    ``seed`` (the drawn system); dense networks: ``signal_error``, ``noise_error``,
    ``weight_error``, ``gain_error`` (relative), ``crosstalk`` (fraction, [0, 0.25)),
    ``slm_bits``, ``probe_power`` (peak probe intensity, I_sat); the camera: ``shot_noise``
    (photo-electrons at full scale), ``read_noise`` (relative to full scale), ``camera_bits``;
    field networks: ``shifts`` (``[[dx, dy], …]`` per SLM, m), ``shift_std`` (m),
    ``distance_errors`` (per free-space step, m), ``distance_std`` (m), ``phase_range`` (rad),
    ``phase_bits``, ``phase_lut`` (a CSV file), ``fringing`` (SLM pixels), ``fill_factor``
    ((0, 1]), ``od_std`` (relative), ``od_correlation`` (m), ``od_errors`` (relative, per
    absorber), ``input_bits``; the gradient read-out: ``readout`` (``"ideal"``,
    ``"phase-stepping"``, ``"heterodyne"``), ``readout_steps``, ``probe_ratio`` (field amplitude
    relative to the pump's), ``readout_shot_noise`` (photo-electrons), ``readout_read_noise``
    (relative), ``readout_bits``, ``readout_binning`` (SLM pixels per camera pixel side)."""

    _header = "[hardware]"
    _fields = (
        _f("seed", _integer, None),
        _f("signal_error", _real, None),
        _f("noise_error", _real, None),
        _f("shot_noise", _real, None),
        _f("read_noise", _real, None),
        _f("camera_bits", _integer, None),
        _f("slm_bits", _integer, None),
        _f("probe_power", _real, None),
        _f("weight_error", _real, None),
        _f("gain_error", _real, None),
        _f("crosstalk", _real, None),
        _f("shifts", _pairs, None),
        _f("shift_std", _real, None),
        _f("distance_errors", _reals, None),
        _f("distance_std", _real, None),
        _f("phase_range", _real, None),
        _f("phase_bits", _integer, None),
        _f("phase_lut", _text, None),
        _f("fringing", _real, None),
        _f("fill_factor", _real, None),
        _f("od_std", _real, None),
        _f("od_correlation", _real, None),
        _f("od_errors", _reals, None),
        _f("input_bits", _integer, None),
        _f("readout", _text, None),
        _f("readout_steps", _integer, None),
        _f("probe_ratio", _real, None),
        _f("readout_shot_noise", _real, None),
        _f("readout_read_noise", _real, None),
        _f("readout_bits", _integer, None),
        _f("readout_binning", _integer, None),
    )


class Twin(Hardware):
    """The ``[twin]`` section: the digital twin, the fixed imperfections the *model* has (e.g. a
    ``[hardware]`` section fitted by ``wavetrain calibrate``). The keys and units of
    :class:`Hardware`; fixed options only (the library refuses noise and read-out options)."""

    _header = "[twin]"
    _fields = Hardware._fields


# ---------------------------------------------------------------------------------------------
# The whole config.

_OPTICS = (
    _f("wavelength", _real),
    _f("pitch", _real),
    _f("nx", _integer),
    _f("ny", _integer),
    _f("padding", _real),
    _f("band_limit", _boolean),
)

Section = Union[_Table, Mapping[str, Any]]


def _section(cls: type, value: Any, keyword: str) -> Any:
    """``value`` as an instance of ``cls``: an instance, or a dict of its keyword arguments."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls(**dict(value))
    raise TypeError(
        f"from_elements: {keyword} must be a wavetrain.{cls.__name__} (or a dict of its "
        f"arguments), got {value!r}"
    )


def _grid(value: Any) -> Tuple[int, int]:
    if isinstance(_scalar(value), numbers.Integral) and not isinstance(value, bool):
        n = int(value)
        return n, n
    vals = _sequence("from_elements", "grid", value, "two integers (nx, ny)")
    if len(vals) != 2:
        raise TypeError(f"from_elements: grid must be (nx, ny), got {value!r}")
    nx, ny = (_integer("from_elements", "grid", v) for v in vals)
    return nx, ny


def _compose(
    elements: Sequence[Element],
    *,
    input: Section,
    grid: Union[int, Tuple[int, int]],
    pitch: float,
    wavelength: float,
    padding: float,
    band_limit: bool,
    readout: Optional[Section],
    train: Optional[Section],
    hardware: Optional[Section],
    twin: Optional[Section],
    name: str,
) -> Tuple[str, List[str], List[Element]]:
    """The config's TOML text, the owner of each of its lines (a key such as
    ``readout.loss``, or ``elements[i]``) and the elements."""
    if isinstance(elements, (str, bytes, Mapping, Element)) or not hasattr(elements, "__iter__"):
        raise TypeError(
            "from_elements: elements must be a list of elements such as "
            f"[wavetrain.FreeSpace(distance=3e-3), wavetrain.Phase()], got {elements!r}"
        )
    els = list(elements)
    for i, e in enumerate(els):
        if not isinstance(e, Element):
            raise TypeError(
                f"from_elements: elements[{i}] must be an element such as wavetrain.Phase() or "
                f"wavetrain.FreeSpace(distance=3e-3), got {e!r}"
            )
    nx, ny = _grid(grid)
    optics = {
        "wavelength": wavelength,
        "pitch": pitch,
        "nx": nx,
        "ny": ny,
        "padding": padding,
        "band_limit": band_limit,
    }
    optics = {f.name: f.check("from_elements", f.name, optics[f.name]) for f in _OPTICS}
    lines: List[str] = []
    owners: List[str] = []

    def emit(owner: str, line: str) -> None:
        lines.append(line)
        owners.append(owner)

    emit("name", f"name = {_toml_value(_text('from_elements', 'name', name))}")
    emit("", "")
    emit("optics", "[optics]")
    for k, v in optics.items():
        emit(f"optics.{k}", f"{k} = {_toml_value(v)}")
    sections: List[Tuple[str, Any]] = [("input", _section(Input, input, "input"))]
    for key, cls, value in (
        ("readout", Readout, Readout() if readout is None else readout),
        ("train", Train, train),
        ("hardware", Hardware, hardware),
        ("twin", Twin, twin),
    ):
        if value is not None:
            sections.append((key, _section(cls, value, key)))
    for key, sec in sections[:1]:
        emit("", "")
        emit(key, sec._header)
        for k, v in sec.table().items():
            emit(f"{key}.{k}", f"{k} = {_toml_value(v)}")
    for i, e in enumerate(els):
        emit("", "")
        for line in e.toml.splitlines():
            emit(f"elements[{i}]", line)
    for key, sec in sections[1:]:
        emit("", "")
        emit(key, sec._header)
        for k, v in sec.table().items():
            emit(f"{key}.{k}", f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n", owners, els


def compose_toml(
    elements: Sequence[Element],
    *,
    input: Section,
    grid: Union[int, Tuple[int, int]] = (64, 64),
    pitch: float = 8e-6,
    wavelength: float = 780e-9,
    padding: float = 2.0,
    band_limit: bool = True,
    readout: Optional[Section] = None,
    train: Optional[Section] = None,
    hardware: Optional[Section] = None,
    twin: Optional[Section] = None,
    name: str = "custom",
) -> str:
    """The TOML config text of a network composed in Python (what :func:`from_elements` builds
    and the library validates), with the arguments of :func:`from_elements`: ``pitch`` (m),
    ``wavelength`` (m), ``grid`` ``(nx, ny)`` pixels, and so on. It is not validated here:
    ``Network.from_toml(text)`` does that."""
    return _compose(
        elements,
        input=input,
        grid=grid,
        pitch=pitch,
        wavelength=wavelength,
        padding=padding,
        band_limit=band_limit,
        readout=readout,
        train=train,
        hardware=hardware,
        twin=twin,
        name=name,
    )[0]


def config_toml(config: Mapping[str, Any]) -> str:
    """A config as a dict (what ``Network.config`` returns: ``{"name": …, "optics": {…},
    "input": {…}, "elements": [{"type": …, …}, …], "readout": {…}, …}``) as TOML text, for
    ``Network.from_toml`` and ``wavetrain.train(config=…)``. Keys whose value is ``None`` are
    left out; values are not checked here (the library does that when it reads the text)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of the config's sections, got {config!r}")
    head: List[str] = []
    tables: List[str] = []
    for key, value in config.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            body = [f"{k} = {_toml_value(_plain(v))}" for k, v in value.items() if v is not None]
            tables.append("\n".join([f"[{key}]", *body]))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            for v in value:
                body = [f"{k} = {_toml_value(_plain(x))}" for k, x in v.items() if x is not None]
                tables.append("\n".join([f"[[{key}]]", *body]))
        else:
            head.append(f"{key} = {_toml_value(_plain(value))}")
    return "\n\n".join(["\n".join(head)] + tables if head else tables) + "\n"


def _plain(v: Any) -> Any:
    """A value as TOML can hold it: numpy scalars and arrays as Python values, tuples as lists,
    dicts' ``None`` values left out."""
    v = _scalar(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items() if x is not None}
    return v


_AT_LINE = re.compile(r"^invalid <toml text> \(line (\d+)\): ")
_INDEX = re.compile(r"elements\[(\d+)\](?! \()")


def _parse_error(e: ConfigError) -> Optional[str]:
    """The message of a TOML parse error (a wrong type, an unknown name), ``None`` for a
    validation error (which names its key)."""
    m = _AT_LINE.match(str(e))
    return None if m is None else str(e)[m.end():]


def _probe(table: Dict[str, Any]) -> Optional[str]:
    """The parse error of a config holding only the element ``table`` (``None``: it parses)."""
    from ._core import Network

    text = "[input]\nintensity = 1.0\n\n[readout]\n\n[[elements]]\n" + "".join(
        f"{k} = {_toml_value(v)}\n" for k, v in table.items()
    )
    try:
        Network.from_toml(text)
    except ConfigError as e:
        return _parse_error(e)
    return None


def _locate(message: str, owners: List[str], els: List[Element]) -> str:
    """``message`` naming the element (index and class) or section key where it has a line."""
    m = _AT_LINE.match(message)
    if m is not None:
        rest = message[m.end():]
        line = int(m.group(1))
        owner = owners[line - 1] if 0 < line <= len(owners) else ""
        if owner.startswith("elements[") or owner == "":
            # The TOML parser points at the array of elements, not at the element: parse each
            # element on its own to find it, then leave out one field at a time to find the field.
            for i, e in enumerate(els):
                table = e.table()
                err = _probe(table)
                if err is None:
                    continue
                owner = f"elements[{i}]"
                for k in [k for k in table if k != "type"]:
                    if _probe({x: v for x, v in table.items() if x != k}) != err:
                        owner = f"elements[{i}].{k}"
                        break
                break
        if owner:
            message = f"invalid {owner}: {rest}"

    def named(mi: "re.Match[str]") -> str:
        i = int(mi.group(1))
        return f"{mi.group(0)} ({type(els[i]).__name__})" if i < len(els) else mi.group(0)

    return _INDEX.sub(named, message)


def from_elements(
    elements: Sequence[Element],
    *,
    input: Section,
    grid: Union[int, Tuple[int, int]] = (64, 64),
    pitch: float = 8e-6,
    wavelength: float = 780e-9,
    padding: float = 2.0,
    band_limit: bool = True,
    readout: Optional[Section] = None,
    train: Optional[Section] = None,
    hardware: Optional[Section] = None,
    twin: Optional[Section] = None,
    name: str = "custom",
) -> Any:
    """A network composed in Python: ``elements``, a list of element objects from input to
    detectors (:class:`Phase`, :class:`FreeSpace`, :class:`Absorber`, :class:`Dense`, …),
    and the other sections as keyword arguments — the same network as the TOML config
    :func:`compose_toml` writes, validated by the same library code as ``Network.from_toml``.

    ``grid``: ``(nx, ny)`` pixels (an int: square); ``pitch``: the grid's pixel pitch (m);
    ``wavelength`` (m); ``padding``: zero-padding factor of the free-space steps (≥ 1);
    ``band_limit``: the band-limited angular spectrum (dense networks ignore these four);
    ``input``: an :class:`Input` (required); ``readout``: a :class:`Readout` (default
    ``Readout()``); ``train``, ``hardware``, ``twin``: a :class:`Train`, :class:`Hardware`,
    :class:`Twin` (absent: the config's defaults, an ideal system, no twin); each section may
    also be a dict of its class's keyword arguments. ``name``: the config's name.

    A value the library refuses raises :class:`wavetrain.ConfigError` naming the element's index,
    its class and the field (``invalid elements[3] (FreeSpace).distance: must be a positive
    length in metres, got -0.001``); an element that is not one of these classes, or a value of
    the wrong type, a ``TypeError``. ``net.toml`` is the resolved config as TOML text."""
    from ._core import Network

    text, owners, els = _compose(
        elements,
        input=input,
        grid=grid,
        pitch=pitch,
        wavelength=wavelength,
        padding=padding,
        band_limit=band_limit,
        readout=readout,
        train=train,
        hardware=hardware,
        twin=twin,
        name=name,
    )
    try:
        return Network.from_toml(text)
    except ConfigError as e:
        e.args = (_locate(str(e), owners, els),) + tuple(e.args[1:])
        raise


__all__ = [
    "Element",
    "Phase",
    "Amplitude",
    "FreeSpace",
    "Lens",
    "Fourier",
    "Dense",
    "Relu",
    "Absorber",
    "Input",
    "Readout",
    "Train",
    "Hardware",
    "Twin",
    "compose_toml",
    "config_toml",
    "from_elements",
]
