"""wavetrain: wave-optics simulation of optical neural networks trained with end-to-end
optical backpropagation, from numpy and notebooks.

The engine is the Rust library of the same name (``wavetrain._core``, built with PyO3); this
package gives it Python conventions: keyword arguments, numpy arrays in and out, exceptions.

>>> import numpy as np, wavetrain as wt
>>> u = wt.propagate(np.ones((64, 64), np.complex64), pitch=8e-6, wavelength=780e-9,
...                  distance=3e-3)
>>> net = wt.Network.preset("d2nn-mnist", od=10)
>>> powers = net.forward(wt.load_idx(wt.bundled_data() / "mnist5k-test-images-idx3-ubyte.gz")[:8])
>>> powers.shape
(8, 10)

Conventions are the library's (SI units; fields row-major ``[batch][y][x]``; intensity in units
of the absorber's saturation intensity, ``s = |E|²``; detector power ``Σ|E|²·dx²``). The GIL is
released while the engine computes.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import os
import pathlib
import tempfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ._errors import (
    CheckpointError,
    ConfigError,
    DataError,
    GpuError,
    InternalError,
    LabError,
    LabTimeout,
    NumericalFault,
    WavetrainError,
)
from . import _core
from . import lab
from .lab import Lab, StandInLab
from ._core import Network, absorber, load_idx, propagate, presets
from .compose import (
    Absorber,
    Amplitude,
    Dense,
    Element,
    Fourier,
    FreeSpace,
    Hardware,
    Input,
    Lens,
    Phase,
    Readout,
    Relu,
    Train,
    Twin,
    compose_toml,
    config_toml,
    from_elements as _from_elements,
)

# `Network.from_elements`: a network composed in Python (wavetrain.compose), validated by the
# library through `Network.from_toml`; attached here, as `Network` is the extension's class.
Network.from_elements = staticmethod(_from_elements)  # type: ignore[attr-defined]

__version__: str = _core.__version__

PathLike = Union[str, "os.PathLike[str]"]


def sampling(
    *,
    nx: int,
    pitch: float,
    wavelength: float,
    distance: float,
    padding: float = 2.0,
    ny: Optional[int] = None,
) -> Dict[str, Any]:
    """Whether an ``nx × ny`` grid (pixels; ``ny`` defaults to ``nx``) of pitch ``pitch``
    (m) can represent a free-space step of ``distance`` (m) at ``wavelength`` (m) with
    zero-padding factor ``padding``: the report of ``wavetrain sampling --json`` as a dict —
    ``cutoff`` (the band limit along x and y, cycles/m), ``nyquist`` (cycles/m),
    ``kept_fraction`` and ``evanescent_fraction`` (0–1), ``lateral_spread`` (how far the
    steepest ray moves sideways, m), ``margin`` (the padding on each side, m),
    ``wraparound_likely``, ``aliasing_likely`` (bools) — plus ``warnings``, the list of lines
    the CLI warns with."""
    return _core.sampling(
        nx=nx, pitch=pitch, wavelength=wavelength, distance=distance, padding=padding, ny=ny
    )


def bundled_data() -> pathlib.Path:
    """The folder of the bundled 4,000/500-image MNIST subset: ``$WAVETRAIN_DATA`` when set, else
    the source checkout's ``data/`` while it holds the files, else the copy compiled into the
    extension, unpacked once into ``~/.cache/wavetrain/`` (so an installed package, or one built
    from a clone since moved or deleted, keeps its default data)."""
    return pathlib.Path(_core.bundled_data())


def export(
    source: PathLike,
    out: PathLike,
    *,
    slm_bits: Optional[int] = None,
    lut: Optional[PathLike] = None,
    panel: Optional[Tuple[int, int]] = None,
    offset: Optional[Tuple[int, int]] = None,
    fill: int = 0,
    replicate: int = 1,
    height: bool = False,
    index: Optional[float] = None,
    wavelength: Optional[float] = None,
    step: Optional[float] = None,
    base: float = 1e-3,
) -> Dict[str, Any]:
    """Exports the phase masks of a checkpoint or run folder ``source`` into the new folder
    ``out``, as ``wavetrain export`` does, and returns its manifest (``export.json``) as a dict.

    SLM bitmaps (when ``slm_bits`` is given or ``height`` is not): ``slm_bits`` 8, 10, 12 or 16
    (default 8); ``lut`` ``"linear"``, ``"config"`` (the checkpoint's ``hardware.phase_lut``)
    or a ``level,phase[,amplitude]`` CSV file; ``panel`` ``(width, height)``, ``offset``
    ``(x, y)`` (default centred), ``fill`` (level outside the mask), ``replicate`` (panel
    pixels per SLM pixel). Fabrication files with ``height=True``: ``index`` (refractive
    index, required), ``wavelength`` (the design wavelength (m), default the simulation's),
    ``step`` (the printer's height step (m)), ``base`` (the plate's thickness (m)). Bad options raise ConfigError naming the flag."""
    return _core.export(
        os.fspath(source),
        os.fspath(out),
        slm_bits=slm_bits,
        lut=None if lut is None else os.fspath(lut),
        panel=panel,
        offset=offset,
        fill=fill,
        replicate=replicate,
        height=height,
        index=index,
        wavelength=wavelength,
        step=step,
        base=base,
    )


def read_masks(folder: PathLike, *, kind: Optional[str] = None) -> Dict[str, np.ndarray]:
    """The phases read back from an exported folder, ``{element name: float64 (sy, sx)}`` in
    [0, 2π): from the SLM bitmaps (``kind="slm"``, the default when there are some) or the
    height maps (``kind="height"``). Every file's SHA-256 is checked (a mismatch raises
    DataError naming the file)."""
    return _core.read_masks(os.fspath(folder), kind=kind)


def evaluate_masks(
    checkpoint: PathLike,
    masks: PathLike,
    *,
    kind: Optional[str] = None,
    data: Optional[PathLike] = None,
) -> Dict[str, float]:
    """The test accuracy of the checkpoint's trained masks and of the masks read back from the
    exported folder ``masks`` (the CPU engine), as ``wavetrain eval --masks --json``:
    ``accuracy``, ``loss``, ``model_accuracy``, ``hardware_accuracy`` and the same with a
    ``masks_`` prefix. A checkpoint other than the source raises CheckpointError."""
    return _core.evaluate_masks(
        os.fspath(checkpoint),
        os.fspath(masks),
        kind=kind,
        data=None if data is None else os.fspath(data),
    )


def capture(
    out: PathLike,
    *,
    config: Optional[PathLike] = None,
    checkpoint: Optional[PathLike] = None,
    patterns: str = "blank,gratings,defocus,random",
    slm_planes: bool = False,
    noise: bool = True,
    exposure: Optional[float] = None,
    seed: int = 0,
    data: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Simulated camera frames of probe patterns on the imperfect system of ``config`` (or of
    the checkpoint's config), as ``wavetrain capture``; returns the manifest
    (``captures.json``) as a dict. ``patterns``: comma-separated ``blank``, ``gratings``,
    ``defocus``, ``random``, ``inputs:N``; ``slm_planes`` also records the plane after each SLM;
    ``noise=False`` leaves out the camera's shot and read noise; ``exposure``: fixed full scale
    in I_sat units (default: each frame's peak)."""
    return _core.capture(
        os.fspath(out),
        config=None if config is None else os.fspath(config),
        checkpoint=None if checkpoint is None else os.fspath(checkpoint),
        patterns=patterns,
        slm_planes=slm_planes,
        noise=noise,
        exposure=exposure,
        seed=seed,
        data=None if data is None else os.fspath(data),
    )


def read_captures(folder: PathLike) -> Tuple[Dict[str, Any], np.ndarray]:
    """A captures folder (written by :func:`capture`, or by a lab in the same format):
    ``(manifest, frames)`` with ``frames`` float64 ``(count, ny, nx)`` intensities in I_sat
    units (level × the frame's scale). Every file's SHA-256 is checked."""
    return _core.read_captures(os.fspath(folder))


def calibrate(
    config: PathLike,
    captures: PathLike,
    out: PathLike,
    *,
    fit: str = "shifts,distances,fringing",
    section: str = "hardware",
    iterations: int = 30,
    lut_knots: int = 9,
    progress: bool = False,
) -> Dict[str, Any]:
    """Fits the digital twin to camera captures, as ``wavetrain calibrate``: the fixed
    imperfections of the nominal ``config`` (a TOML file) that reproduce the frames of the
    ``captures`` folder, by Levenberg–Marquardt through the simulation. ``fit``: comma-separated
    ``shifts``, ``distances``, ``fringing``, ``phase_lut``, ``od``, ``gain``. Writes ``out`` (a
    TOML file holding the fitted ``[hardware]`` section, or ``[twin]`` with ``section="twin"``:
    the model of a run on the real system) and beside it ``<stem>.calibration.json``,
    ``<stem>.calibration.png`` and, for ``phase_lut``, ``<stem>.lut.csv``. Returns a dict:
    ``parameters`` (name, unit, start, value, sigma: the standard error, None when no capture
    constrains it), ``gain``, ``converged``, ``iterations``, ``frames`` (each frame's relative
    misfit before and after), ``misfit_before``, ``misfit_after`` and ``files``. ``progress``
    prints each iteration's cost on stderr."""
    return _core.calibrate(
        os.fspath(config),
        os.fspath(captures),
        os.fspath(out),
        fit=fit,
        section=section,
        iterations=iterations,
        lut_knots=lut_knots,
        progress=progress,
    )


def _number(key: str, v: str) -> Optional[float]:
    if v == "":
        return None
    return int(v) if key == "epoch" else float(v)


class Run:
    """A run folder written by :func:`train` or ``wavetrain train``: ``config.toml``,
    ``metrics.csv``, ``confusion.csv``, ``checkpoint.safetensors``, ``provenance.json`` and
    pictures.

    Attributes: ``dir`` (the folder), ``summary`` (the final metrics :func:`train` returned;
    for a run loaded from disk, its ``summary.json``, or ``None`` for a run that has not
    finished).
    """

    def __init__(self, path: PathLike, summary: Optional[Dict[str, Any]] = None) -> None:
        self.dir = pathlib.Path(path)
        if summary is None and (self.dir / "summary.json").is_file():
            import json

            with open(self.dir / "summary.json") as f:
                summary = json.load(f)
        self.summary = summary
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{self.dir}: no such run folder")
        if not (self.dir / "metrics.csv").is_file() and not (
            self.dir / "checkpoint.safetensors"
        ).is_file():
            raise FileNotFoundError(
                f"{self.dir} is not a run folder: it holds neither metrics.csv nor "
                "checkpoint.safetensors (give the folder wavetrain train wrote)"
            )

    @classmethod
    def load(cls, path: PathLike) -> "Run":
        """The run in folder ``path``."""
        return cls(path)

    @property
    def metrics(self) -> List[Dict[str, Optional[float]]]:
        """The rows of ``metrics.csv`` as dicts (``epoch``, ``train_loss``,
        ``train_accuracy``, ``test_accuracy``, ``images_per_second``, ``seconds``,
        ``test_loss``, ``model_accuracy``, ``hardware_accuracy``, ``forward_passes`` and
        ``probe_passes`` (image passes through the hardware in the epoch), ``gradient_cosine``
        (the update's cosine similarity to the exact gradient), and with a gradient read-out
        ``camera_frames``, ``photoelectrons``); the first row, epoch 0, is the untrained network
        (its training columns ``None``)."""
        path = self.dir / "metrics.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as f:
            return [
                {k: _number(k, v) for k, v in row.items()} for row in csv.DictReader(f)
            ]

    def curve(self, column: str) -> np.ndarray:
        """One column of ``metrics.csv`` over the epochs as a float array (NaN where empty)."""
        rows = self.metrics
        if rows and column not in rows[0]:
            raise KeyError(f"{column!r}: metrics.csv has columns {list(rows[0])}")
        return np.array(
            [np.nan if r[column] is None else r[column] for r in rows], dtype=float
        )

    @property
    def test_accuracy(self) -> float:
        """Test accuracy after the last epoch (NaN before the first)."""
        rows = [r for r in self.metrics if r["epoch"]]
        last = rows[-1]["test_accuracy"] if rows else None
        return float("nan") if last is None else float(last)

    @property
    def confusion(self) -> np.ndarray:
        """The test confusion matrix after the last epoch, rows the true class."""
        with open(self.dir / "confusion.csv", newline="") as f:
            rows = list(csv.reader(f))[1:]
        return np.array([[int(c) for c in r[1:]] for r in rows], dtype=np.int64)

    @property
    def network(self) -> Network:
        """The trained network, from the run's checkpoint."""
        return Network.from_checkpoint(self.dir / "checkpoint.safetensors")

    @property
    def config(self) -> Dict[str, Any]:
        """The run's resolved config as a dict (its checkpoint's)."""
        return self.network.config

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, test_accuracy={self.test_accuracy:.4f})"


def _idx_bytes(a: np.ndarray) -> bytes:
    """``a`` (uint8) as an IDX file: magic (0, 0, 0x08 unsigned byte, rank), big-endian sizes,
    the bytes."""
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + np.ascontiguousarray(a).tobytes()


def _split_arrays(name: str, pair: Any) -> Tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of one split, checked: uint8 images (n, rows, cols) and n integer
    labels in 0..255."""
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"data['{name}'] must be a pair (images, labels), got {type(pair).__name__}")
    images, labels = np.asarray(pair[0]), np.asarray(pair[1])
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"data['{name}'] images must be uint8 (n, rows, cols), got {images.dtype} {images.shape}: "
            "scale pixel values to 0..255 and convert with .astype(np.uint8)"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"data['{name}'] labels must be one per image ({images.shape[0]}), got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or (labels.size and (labels.min() < 0 or labels.max() > 255)):
        raise ValueError(f"data['{name}'] labels must be integer classes 0, 1, …, got {labels.dtype}")
    return images, labels.astype(np.uint8)


def _data_folder(data: Any) -> Optional[str]:
    """The ``data`` argument of :func:`train` as the library takes it: a name or a folder as
    given; in-memory arrays written as gzipped IDX files into a folder named by their SHA-256
    in the user's cache (``~/.cache/wavetrain/arrays-…``, ``$XDG_CACHE_HOME`` when set), so the
    run's ``provenance.json`` names a folder that holds them and ``train(resume=…)`` finds them
    again."""
    if data is None or isinstance(data, (str, os.PathLike)):
        return None if data is None else os.fspath(data)
    if isinstance(data, Mapping) and set(data) == {"train", "test"}:
        splits = {"train": data["train"], "test": data["test"]}
    elif isinstance(data, (tuple, list)) and len(data) == 4:
        splits = {"train": (data[0], data[1]), "test": (data[2], data[3])}
    else:
        raise TypeError(
            "data must be a dataset name, a folder of IDX files, {'train': (images, labels), "
            "'test': (images, labels)} or (train_images, train_labels, test_images, test_labels)"
        )
    arrays = {k: _split_arrays(k, v) for k, v in splits.items()}
    files = {}
    for split, stem in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[split]
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            # mtime=0 and no file name in the header: the same arrays give the same bytes.
            files[f"{stem}-{kind}.gz"] = gzip.compress(_idx_bytes(arr), mtime=0)
    digest = hashlib.sha256(b"".join(files[k] for k in sorted(files))).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "wavetrain", f"arrays-{digest}")
    os.makedirs(folder, exist_ok=True)
    for name, blob in files.items():
        path = os.path.join(folder, name)
        if os.path.isfile(path) and pathlib.Path(path).read_bytes() == blob:
            continue
        # A temporary file, then a rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return folder


def train(
    preset: Optional[str] = None,
    *,
    config: Union[PathLike, Network, Mapping[str, Any], None] = None,
    resume: Optional[PathLike] = None,
    data: Any = None,
    out: Optional[PathLike] = None,
    epochs: Optional[int] = None,
    seed: Optional[int] = None,
    backend: str = "auto",
    overrides: Optional[Mapping[str, Any]] = None,
    progress: bool = True,
    callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
    batch: Optional[int] = None,
    lr: Optional[float] = None,
    max_train: Optional[int] = None,
    gradient: Optional[str] = None,
    activation: Optional[str] = None,
    adapter: Optional[str] = None,
    pictures: bool = True,
    checkpoint_every: Optional[float] = None,
    lab: Optional["Lab"] = None,
    lab_timeout: Optional[float] = None,
) -> Run:
    """Trains a network as ``wavetrain train`` does and returns its :class:`Run`.

    The same library path as the CLI: the same run folder (``out``, default
    ``runs/NAME-YYYYMMDD-HHMMSS-XXXX``) and, for the same seed and backend, the same metrics.
    ``preset`` (default ``d2nn-mnist``) or ``config`` (a TOML file; the TOML text itself; a
    dict as ``Network.config`` gives; or a :class:`Network`, whose config is used: training
    starts from the config's initial parameters, not the network's — continue a run with
    ``resume``) or ``resume`` (a run folder to continue; ``epochs`` may extend it, nothing else
    may change it); ``data``: a dataset by name (``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``:
    found and checked as ``wavetrain train --data NAME`` does), a folder of MNIST-format IDX
    files (default: the bundled subset), or arrays in memory: ``{"train": (images, labels),
    "test": (images, labels)}`` or ``(train_images, train_labels, test_images, test_labels)``,
    uint8 images ``(n, rows, cols)`` and integer labels, written as IDX files into a folder of
    the user's cache named by their SHA-256 (what ``provenance.json`` records; a resume finds
    them there); ``overrides``: the keys and
    values of ``--set`` (``{"od": 3, "train.lr": 0.01}``); ``epochs``, ``seed``, ``batch``,
    ``lr``, ``max_train``, ``gradient`` (``"optical"``/``"exact"``), ``activation``
    (``"relu"``/``"linear"``) as the CLI flags of those names (a flag and an override of the
    same key are refused); ``lr`` is the optimiser's step size (dimensionless, per unit of
    gradient), ``checkpoint_every`` the seconds of training between mid-epoch checkpoints
    (default 60; 0: after every step). ``backend``: ``auto``, ``gpu`` or ``cpu``. ``progress`` draws the
    progress bar on stderr. ``callback(epoch_metrics)`` is called after each epoch (metrics
    written, checkpoint saved) with that epoch's row of ``metrics.csv`` as a dict; an exception
    it raises stops the run (resumable) and propagates.

    Ctrl-C (``KeyboardInterrupt``) stops the run after the current step, writes a checkpoint
    and raises ``KeyboardInterrupt`` naming the folder; ``train(resume=folder)`` continues it
    to the same result as an uninterrupted run.

    ``lab``: an external lab in the loop (a :class:`wavetrain.lab.Lab`: ``forward(masks,
    inputs)`` returning detector powers ``(batch, classes)`` in I_sat·m² or frames ``(batch,
    ny, nx)`` in I_sat, and optionally ``probe(masks, inputs, upstream)``), called instead of
    the simulated ``[hardware]`` for ``train.target = "physics-aware"`` (the lab's forward pass,
    the backward pass through the model: the ``[twin]``, else the ideal network) or
    ``"hardware"`` (the lab's probe); see the guide's "A lab in the loop". Its calls run on this
    thread; ``lab_timeout`` (seconds) runs each on a daemon thread and stops the run with
    :class:`LabTimeout` when one does not return in time. A lab that raises, times out or
    returns a wrong shape or a NaN stops the run with :class:`LabError` (the lab's exception as
    its ``__cause__``) after writing the checkpoint of the state before that step;
    ``train(resume=folder, lab=lab)`` continues it (a lab run resumes only with a lab, a
    simulated one only without).
    """
    # TOML text (no existing file, and TOML syntax: a line break, `=` or a `[table]` header, as
    # Network.from_toml decides) or a path.
    config_text = None
    if isinstance(config, Network):
        config_text, config = config.toml, None
    elif isinstance(config, Mapping):
        config_text, config = config_toml(config), None
    elif isinstance(config, str) and any(c in config for c in "\n=[") and not os.path.isfile(config):
        config_text, config = config, None
    data = _data_folder(data)
    summary = _core.train(
        preset=preset,
        config=None if config is None else os.fspath(config),
        config_text=config_text,
        resume=None if resume is None else os.fspath(resume),
        data=None if data is None else os.fspath(data),
        out=None if out is None else os.fspath(out),
        epochs=epochs,
        seed=seed,
        batch=batch,
        lr=lr,
        max_train=max_train,
        gradient=gradient,
        activation=activation,
        backend=backend,
        adapter=adapter,
        overrides=None if overrides is None else dict(overrides),
        progress=progress,
        pictures=pictures,
        checkpoint_every=checkpoint_every,
        callback=callback,
        lab=lab,
        lab_timeout=lab_timeout,
    )
    return Run(summary["run_dir"], summary=summary)


__all__ = [
    "propagate",
    "absorber",
    "sampling",
    "presets",
    "bundled_data",
    "load_idx",
    "Network",
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
    "train",
    "Run",
    "export",
    "read_masks",
    "evaluate_masks",
    "capture",
    "read_captures",
    "calibrate",
    "WavetrainError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "GpuError",
    "NumericalFault",
    "LabError",
    "LabTimeout",
    "InternalError",
    "Lab",
    "StandInLab",
    "lab",
]
