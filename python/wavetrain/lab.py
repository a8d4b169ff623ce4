"""A lab in the training loop: the :class:`Lab` protocol that ``wavetrain.train(..., lab=obj)``
calls instead of the simulated imperfect system, and :class:`StandInLab`, a stand-in for a real
bench written in plain numpy (its own propagation, independent of the engine) with a fixed
misalignment.

The protocol (``docs/src/lab.md``):

- ``forward(masks, inputs)``: ``masks`` is a dict {element name: float32 array} shaped as
  :meth:`Network.params` gives them (phases in radians; amplitude transmissions), ``inputs`` the
  encoded input amplitudes, float32 ``(batch, ny, nx)`` with ``|E|² = I/I_sat``. Returns the
  detector powers, ``(batch, classes)`` in ``I_sat·m²`` (``Σ I·dx²`` over each detector), or
  intensity frames of the detector plane, ``(batch, ny, nx)`` in ``I_sat`` (the trainer
  integrates them over the detectors exactly as the engine does).
- ``probe(masks, inputs, upstream)`` (optional; needed for ``train.target = "hardware"``): the
  in-situ gradient ``Σ_b Σ_k upstream[b, k]·∂P[b, k]/∂θ`` for ``upstream = ∂L/∂P``, float32
  ``(batch, classes)`` per ``I_sat·m²``; returns a dict {element name: gradient array shaped as
  the mask}.
- ``name`` (optional): the lab's name in messages and records (default: its class name).

Each call runs on the thread that called ``train`` (instrument drivers and notebooks keep their
thread); with ``lab_timeout`` it runs on a daemon thread and a call that does not return in time
raises :class:`LabTimeout`. Either way the run stops with a resumable checkpoint of the state
before the failing step.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

from ._errors import LabTimeout

__all__ = ["Lab", "StandInLab", "LabTimeout"]


@runtime_checkable
class Lab(Protocol):
    """What ``wavetrain.train(..., lab=obj)`` calls (module doc). ``probe`` is optional."""

    def forward(self, masks: Dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
        """Detector powers ``(batch, classes)`` in ``I_sat·m²``, or frames ``(batch, ny, nx)``
        in ``I_sat``, of ``inputs`` (float32 amplitudes ``(batch, ny, nx)``, ``|E|² = I/I_sat``)
        with ``masks`` (phases in rad)."""
        ...


def _describe(lab: Any) -> Tuple[str, bool]:
    """The lab's name and whether it has a probe; refuses an object without ``forward``."""
    if not callable(getattr(lab, "forward", None)):
        raise TypeError(
            f"lab={type(lab).__name__!s} has no forward(masks, inputs) method: a lab must return "
            "detector powers (batch, classes) or frames (batch, ny, nx) (see wavetrain.lab.Lab)"
        )
    name = getattr(lab, "name", None)
    if not isinstance(name, str) or not name:
        name = type(lab).__name__
    return name, callable(getattr(lab, "probe", None))


def _call(lab: Any, method: str, args: tuple, timeout: Optional[float]) -> Any:
    """``lab.method(*args)``; with ``timeout`` (s), on a daemon thread, raising
    :class:`LabTimeout` when it has not returned in time (the thread is left behind: a daemon
    thread does not keep the process alive)."""
    fn = getattr(lab, method)
    if timeout is None:
        return fn(*args)
    box: Dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread as it is
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name=f"wavetrain-lab-{method}", daemon=True).start()
    if not done.wait(timeout):
        raise LabTimeout(
            f"{_describe(lab)[0]}.{method} did not return within lab_timeout = {timeout:g} s; "
            "the run stopped and can be resumed with wavetrain.train(resume=<run folder>, lab=...)"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


def _forward(lab: Any, masks: dict, inputs: np.ndarray, classes: int, timeout: Optional[float]) -> np.ndarray:
    """The lab's forward, checked: float32 ``(batch, classes)`` powers or ``(batch, ny, nx)``
    frames."""
    batch, ny, nx = inputs.shape
    out = np.asarray(_call(lab, "forward", (masks, inputs), timeout))
    if out.shape not in ((batch, classes), (batch, ny, nx)) or not np.issubdtype(out.dtype, np.number):
        raise ValueError(
            f"{_describe(lab)[0]}.forward returned an array of shape {out.shape} and dtype {out.dtype}; "
            f"expected detector powers of shape (batch, classes) = ({batch}, {classes}) in I_sat·m², "
            f"or intensity frames of shape (batch, ny, nx) = ({batch}, {ny}, {nx}) in I_sat"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def _probe(
    lab: Any, masks: dict, inputs: np.ndarray, upstream: np.ndarray, names: List[str], timeout: Optional[float]
) -> List[np.ndarray]:
    """The lab's probe, checked: one gradient per mask, of its shape, in ``names`` order."""
    out = _call(lab, "probe", (masks, inputs, upstream), timeout)
    who = f"{_describe(lab)[0]}.probe"
    if not isinstance(out, Mapping):
        raise TypeError(f"{who} returned {type(out).__name__}; expected a dict {{element name: gradient array}} "
                        f"with the keys {names}")
    if set(out) != set(names):
        raise ValueError(f"{who} returned gradients for {sorted(out)}; expected one for each of {names}")
    grads = []
    for n in names:
        g = np.asarray(out[n])
        if g.shape != masks[n].shape:
            raise ValueError(f"{who} returned a gradient of shape {g.shape} for '{n}'; expected {masks[n].shape}, "
                             "the mask's shape")
        grads.append(np.ascontiguousarray(g, dtype=np.float32))
    return grads


def _regions(readout: Mapping[str, Any], nx: int, ny: int) -> List[Tuple[int, int, int, int]]:
    """Detector regions ``(x0, y0, w, h)``: the config's list, or the automatic layout (3-4-3
    rows for ten classes, rows of ⌈√n⌉ otherwise; gaps ⌈d/2⌉; each row and the block centred
    at ⌊(n − w)/2⌋; ARCHITECTURE.md, "Conventions")."""
    if readout.get("regions"):
        return [(r["x0"], r["y0"], r["w"], r["h"]) for r in readout["regions"]]
    n, d = readout["classes"], readout["detector_size"]
    if n == 10:
        rows = [3, 4, 3]
    else:
        per = int(np.ceil(np.sqrt(n)))
        rows = [per] * (n // per) + ([n % per] if n % per else [])
    gap = max(-(-d // 2), 1)
    pitch = d + gap
    h = len(rows) * pitch - gap
    y0 = (ny - h) // 2
    out = []
    for r, count in enumerate(rows):
        x0 = (nx - (count * pitch - gap)) // 2
        out += [(x0 + c * pitch, y0 + r * pitch, d, d) for c in range(count)]
    return out


def _padded_len(n: int, pad: float) -> int:
    """The padded side: ⌈n·pad⌉, at least n, with n's parity."""
    p = max(int(np.ceil(n * pad)), n)
    return p + (p - n) % 2


def _transfer(nx: int, ny: int, dx: float, wavelength: float, z: float, band_limit: bool) -> np.ndarray:
    """The band-limited angular-spectrum transfer function (DESIGN.md §3) on an ``ny × nx``
    grid of pitch ``dx`` (m), unshifted FFT order, the carrier ``e^{ikz}`` dropped."""
    fx = np.fft.fftfreq(nx, dx)[None, :]
    fy = np.fft.fftfreq(ny, dx)[:, None]
    f2 = fx**2 + fy**2
    inv_l2 = 1.0 / wavelength**2
    prop = f2 < inv_l2
    kz = -f2 / (np.sqrt(np.where(prop, inv_l2 - f2, 0.0)) + 1.0 / wavelength)
    h = np.where(prop, np.exp(2j * np.pi * z * kz), np.exp(-2 * np.pi * abs(z) * np.sqrt(np.where(prop, 0.0, f2 - inv_l2))))
    if band_limit:
        lim = lambda n: 1.0 / (wavelength * np.sqrt((2.0 * z / (n * dx)) ** 2 + 1.0))  # noqa: E731
        h = np.where((np.abs(fx) > lim(nx)) | (np.abs(fy) > lim(ny)), 0.0, h)
    return h


class StandInLab:
    """A stand-in for a real optical bench, in plain numpy (float64), independent of the engine:
    the network of ``network`` (a :class:`wavetrain.Network`, or its TOML text) with a fixed
    misalignment: each trainable SLM displaced by a whole number of grid pixels, ``shifts`` =
    ``[(sx, sy), ...]`` one per SLM in element order (default: the config's ``[hardware] shifts``,
    metres divided by the pitch). The displaced mask acts as ``u(x) = m(x − s)·v(x)``, periodic
    on the grid, as the engine's integer shifts do.

    Elements: free space (band-limited angular spectrum, zero-padded as ``optics.padding``
    says), phase and amplitude SLMs (``macro_pixel = 1``), thin saturable absorbers
    (``t = exp(−(α₀/2)/(1 + s))``, ``s = |E|²``); others raise ``NotImplementedError``.

    ``output``: ``"frames"`` (intensity of the detector plane, ``(batch, ny, nx)`` in ``I_sat``)
    or ``"powers"`` (``(batch, classes)``, ``Σ|E|²·dx²`` over each detector, ``I_sat·m²``).
    ``probe``: whether the lab offers :meth:`probe` (its own adjoint, through the absorbers as
    ``gradient`` says: ``"optical"`` the probe's transmission ``t``, ``"exact"`` the derivative;
    default the config's ``train.gradient``). ``calls`` counts the calls of each method.
    """

    name = "StandInLab"

    def __init__(
        self,
        network: Any,
        *,
        shifts: Optional[Sequence[Tuple[int, int]]] = None,
        output: str = "frames",
        probe: bool = True,
        gradient: Optional[str] = None,
    ) -> None:
        if isinstance(network, str):
            from . import Network

            network = Network.from_toml(network)
        cfg = network.config
        o = cfg["optics"]
        self.nx, self.ny, self.dx = o["nx"], o["ny"], o["pitch"]
        if output not in ("frames", "powers"):
            raise ValueError(f"output must be 'frames' or 'powers', got {output!r}")
        self.output = output
        self.gradient = gradient or cfg["train"]["gradient"]
        if self.gradient not in ("optical", "exact"):
            raise ValueError(f"gradient must be 'optical' or 'exact', got {self.gradient!r}")
        if not probe:
            self.probe = None  # type: ignore[assignment]
        self.regions = _regions(cfg["readout"], self.nx, self.ny)
        qx, qy = _padded_len(self.nx, o["padding"]), _padded_len(self.ny, o["padding"])
        self.elements: List[Tuple[str, Any]] = []
        names = iter(network.params())
        for i, e in enumerate(cfg["elements"]):
            kind = e["type"]
            if kind == "free-space":
                h = _transfer(qx, qy, self.dx, o["wavelength"], e["distance"], o["band_limit"])
                self.elements.append(("free-space", h))
            elif kind in ("phase", "amplitude") and e.get("macro_pixel", 1) == 1:
                self.elements.append((kind, next(names)))
            elif kind == "absorber" and e["model"] == "thin":
                self.elements.append(("absorber", e["od"]))
            else:
                raise NotImplementedError(
                    f"StandInLab models free space, phase and amplitude SLMs (macro_pixel = 1) and thin "
                    f"absorbers; elements[{i}] is {e}: use a network of those"
                )
        slms = [n for k, n in self.elements if k in ("phase", "amplitude")]
        if shifts is None:
            shifts = [(sx / self.dx, sy / self.dx) for sx, sy in cfg.get("hardware", {}).get("shifts", [])]
        shifts = list(shifts) + [(0, 0)] * (len(slms) - len(shifts))
        if len(shifts) != len(slms):
            raise ValueError(f"{len(shifts)} shifts for {len(slms)} SLMs: give one (sx, sy) per SLM")
        self.shifts: Dict[str, Tuple[int, int]] = {}
        for n, (sx, sy) in zip(slms, shifts):
            if abs(sx - round(sx)) > 1e-9 or abs(sy - round(sy)) > 1e-9:
                raise NotImplementedError(f"{n}: StandInLab shifts SLMs by whole pixels, got ({sx}, {sy})")
            self.shifts[n] = (int(round(sx)), int(round(sy)))
        self.calls = {"forward": 0, "probe": 0}

    def _free_space(self, u: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Zero-pad, multiply the spectrum by ``h``, crop (``h`` or ``conj(h)``: the adjoint)."""
        qy, qx = h.shape
        pad = np.zeros(u.shape[:-2] + (qy, qx), complex)
        pad[..., : self.ny, : self.nx] = u
        return np.fft.ifft2(np.fft.fft2(pad) * h)[..., : self.ny, : self.nx]

    def _mask(self, kind: str, name: str, masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """The SLM's transmission where it sits: rolled by its shift."""
        m = np.asarray(masks[name], float)
        m = np.exp(1j * m) if kind == "phase" else m.astype(complex)
        sx, sy = self.shifts[name]
        return np.roll(m, (sy, sx), axis=(0, 1))

    def _run(self, masks: Mapping[str, np.ndarray], inputs: np.ndarray) -> Tuple[np.ndarray, list]:
        """The field at the detector plane and what the adjoint needs (each element's input)."""
        u = np.asarray(inputs, float).astype(complex)
        saved = []
        for kind, arg in self.elements:
            saved.append(u)
            if kind == "free-space":
                u = self._free_space(u, arg)
            elif kind == "absorber":
                u = u * np.exp(-(arg / 2) / (1 + np.abs(u) ** 2))
            else:
                u = u * self._mask(kind, arg, masks)
        return u, saved

    def _powers(self, u: np.ndarray) -> np.ndarray:
        i = np.abs(u) ** 2
        return np.stack([i[:, y : y + h, x : x + w].sum(axis=(1, 2)) for x, y, w, h in self.regions], 1) * self.dx**2

    def forward(self, masks: Dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
        """Frames ``(batch, ny, nx)`` in ``I_sat`` or powers ``(batch, classes)`` in ``I_sat·m²``
        (``output``) of ``inputs`` (amplitudes, ``|E|² = I/I_sat``) with ``masks`` (rad)."""
        self.calls["forward"] += 1
        u, _ = self._run(masks, inputs)
        return (np.abs(u) ** 2 if self.output == "frames" else self._powers(u)).astype(np.float32)

    def probe(self, masks: Dict[str, np.ndarray], inputs: np.ndarray, upstream: np.ndarray) -> Dict[str, np.ndarray]:
        """The gradient of ``Σ upstream·P`` (``upstream`` per ``I_sat·m²``) with respect to each
        mask (rad⁻¹ for phases), by the lab's own adjoint (Wirtinger, DESIGN.md §4)."""
        self.calls["probe"] += 1
        u, saved = self._run(masks, inputs)
        a = np.zeros_like(u)  # a = ∂L/∂u*
        g = np.asarray(upstream, float)
        for k, (x, y, w, h) in enumerate(self.regions):
            a[:, y : y + h, x : x + w] = g[:, k, None, None] * u[:, y : y + h, x : x + w] * self.dx**2
        grads: Dict[str, np.ndarray] = {}
        for (kind, arg), v in zip(reversed(self.elements), reversed(saved)):
            if kind == "free-space":
                a = self._free_space(a, np.conj(arg))
            elif kind == "absorber":
                s = np.abs(v) ** 2
                t = np.exp(-(arg / 2) / (1 + s))
                if self.gradient == "exact":
                    dt = t * (arg / 2) / (1 + s) ** 2
                    a = t * a + 2 * dt * v * np.real(np.conj(v) * a)
                else:
                    a = t * a
            else:
                m = self._mask(kind, arg, masks)
                # dL = 2·Re(conj(a)·du): phase du = i·m·v dφ, amplitude du = v dw.
                d = -2 * np.imag(np.conj(a) * m * v) if kind == "phase" else 2 * np.real(np.conj(a) * v)
                sx, sy = self.shifts[arg]
                grads[arg] = np.roll(d.sum(axis=0), (-sy, -sx), axis=(0, 1)).astype(np.float32)
                a = np.conj(m) * a
        return grads
