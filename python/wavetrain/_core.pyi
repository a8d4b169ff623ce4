"""Type stubs of ``wavetrain._core``, the Rust extension (PyO3) behind the ``wavetrain``
package. Import from ``wavetrain`` rather than from here."""

import os
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union, final, overload

import numpy as np
import numpy.typing as npt

from . import compose as _compose

__version__: str
__all__ = [
    "propagate",
    "absorber",
    "sampling",
    "load_idx",
    "presets",
    "bundled_data",
    "_panic_for_test",
    "train",
    "export",
    "read_masks",
    "evaluate_masks",
    "capture",
    "read_captures",
    "calibrate",
    "Network",
    "__version__",
]

_Path = Union[str, "os.PathLike[str]"]
_Override = Union[bool, int, float, str]
_Backend = Literal["auto", "cpu", "gpu"]
_Precision = Literal["f32", "f64"]
_Gradient = Literal["optical", "exact"]

@overload
def propagate(  # type: ignore[overload-overlap]
    field: npt.NDArray[np.complex64],
    *,
    pitch: float,
    wavelength: float,
    distance: float,
    padding: float = 2.0,
    band_limit: bool = True,
) -> npt.NDArray[np.complex64]: ...
@overload
def propagate(
    field: npt.NDArray[np.complex128],
    *,
    pitch: float,
    wavelength: float,
    distance: float,
    padding: float = 2.0,
    band_limit: bool = True,
) -> npt.NDArray[np.complex128]:
    """Free-space propagation by the band-limited angular spectrum method, as the engine runs
    it: ``field`` complex64 (f32 engine) or complex128 (f64 engine) of shape (ny, nx) or
    (batch, ny, nx), pitch ``pitch`` (m), over ``distance`` (m, negative: backwards) at
    ``wavelength`` (m), zero-padded by ``padding`` (1–8, the field in the middle of the padded
    grid), with the Matsushima–Shimobaba band limit when ``band_limit``. Returns a new array of
    the same dtype and shape; the global carrier e^{ikz} is dropped.

    Raises ConfigError for an out-of-range parameter, ValueError for a bad array."""

@overload
def absorber(z: float, *, od: float = 10.0, model: str = "thin") -> Tuple[float, float, float]: ...
@overload
def absorber(
    z: npt.ArrayLike, *, od: float = 10.0, model: str = "thin"
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The saturable absorber's response to input field amplitudes ``z`` (z² = I/I_sat), as
    ``wavetrain absorber`` prints it: ``(g, t_probe, g_exact)`` — the output field amplitude
    (√I_sat units, as ``z``), the weak probe's field transmission (dimensionless; the optical
    derivative) and the true derivative dg/dz (dimensionless). ``od``: optical depth α₀ on
    resonance (dimensionless, ≥ 0); ``model``: ``"thin"`` or ``"beer-lambert"``."""

def sampling(
    *,
    nx: int,
    pitch: float,
    wavelength: float,
    distance: float,
    padding: float = 2.0,
    ny: Optional[int] = None,
) -> Dict[str, Any]:
    """The sampling report of ``wavetrain sampling --json`` as a dict, plus ``warnings``:
    grid ``nx × ny`` (pixels), ``pitch``, ``wavelength``, ``distance`` (m), ``padding`` (a
    factor); see ``wavetrain.sampling`` for the keys and their units."""

def load_idx(path: _Path) -> npt.NDArray[np.uint8]:
    """An IDX file (MNIST format, gzip or not): images (count, rows, cols), labels (count,)."""

def presets() -> Dict[str, str]:
    """The built-in networks, {name: TOML text}."""

def bundled_data() -> str:
    """The folder of the bundled MNIST subset."""

def _panic_for_test() -> None:
    """Panics in Rust (the test that a panic becomes InternalError)."""

def train(
    *,
    preset: Optional[str] = None,
    config: Optional[str] = None,
    config_text: Optional[str] = None,
    resume: Optional[str] = None,
    data: Optional[str] = None,
    out: Optional[str] = None,
    epochs: Optional[int] = None,
    seed: Optional[int] = None,
    batch: Optional[int] = None,
    lr: Optional[float] = None,
    max_train: Optional[int] = None,
    gradient: Optional[str] = None,
    activation: Optional[str] = None,
    backend: str = "auto",
    adapter: Optional[str] = None,
    overrides: Optional[Dict[str, _Override]] = None,
    progress: bool = True,
    pictures: bool = True,
    checkpoint_every: Optional[float] = None,
    callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
    lab: Optional[Any] = None,
    lab_timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """Trains as ``wavetrain train`` does; returns the summary (the CLI's ``--json`` line).
    ``lab``: a ``wavetrain.lab.Lab`` called (on this thread) instead of the simulated
    ``[hardware]``; ``lab_timeout``: seconds each of its calls may take. Use
    ``wavetrain.train``, which returns a ``Run``."""

@final
class Network:
    """A network ready to run: a resolved config and its parameters (and optimiser state).

    Made by ``Network.preset``, ``Network.from_toml`` or ``Network.from_checkpoint``; immutable
    (``with_params`` returns a new one). Inputs are uint8 images (batch, rows, cols), encoded
    as the trainer encodes them, or float32/float64 values already encoded (batch,
    *input_shape) — see ``encode``."""

    @staticmethod
    def preset(
        name: str = "d2nn-mnist",
        overrides: Optional[Mapping[str, _Override]] = None,
        **kwargs: _Override,
    ) -> "Network":
        """A built-in network with ``overrides`` applied as ``--set KEY=VALUE`` applies them
        (``od=10``, ``{"train.lr": 0.01, "elements[3].od": 1}``); fresh parameters."""
    @staticmethod
    def from_toml(
        source: Union[str, "os.PathLike[str]"],
        overrides: Optional[Mapping[str, _Override]] = None,
        **kwargs: _Override,
    ) -> "Network":
        """A network from a TOML file (path) or TOML text; ``overrides`` as in ``preset``."""
    @staticmethod
    def from_elements(
        elements: Sequence["_compose.Element"],
        *,
        input: "_compose.Section",
        grid: Union[int, Tuple[int, int]] = (64, 64),
        pitch: float = 8e-6,
        wavelength: float = 780e-9,
        padding: float = 2.0,
        band_limit: bool = True,
        readout: Optional["_compose.Section"] = None,
        train: Optional["_compose.Section"] = None,
        hardware: Optional["_compose.Section"] = None,
        twin: Optional["_compose.Section"] = None,
        name: str = "custom",
    ) -> "Network":
        """A network composed in Python from element objects (``wavetrain.compose``; pitch,
        wavelength in metres), validated as ``from_toml`` validates the same TOML (attached by
        the ``wavetrain`` package)."""
    @staticmethod
    def from_checkpoint(path: _Path) -> "Network":
        """The network and trained parameters of a ``checkpoint.safetensors`` or a run folder."""
    @staticmethod
    def from_masks(
        checkpoint: _Path, masks: _Path, *, kind: Optional[Literal["slm", "height"]] = None
    ) -> "Network":
        """The checkpoint's network running the masks read back from an exported folder (the
        checkpoint's SHA-256 and every file's are checked; the SLM response options of
        [hardware] are cleared, as the exported levels already went through them)."""
    @property
    def name(self) -> str:
        """The config's name."""
    @property
    def toml(self) -> str:
        """The resolved config as TOML text."""
    @property
    def config(self) -> Dict[str, Any]:
        """The resolved config as a dict."""
    @property
    def is_dense(self) -> bool:
        """True for dense (matrix–vector) layers, False for a field (diffractive) network."""
    @property
    def classes(self) -> int:
        """Number of classes (detectors or outputs)."""
    @property
    def input_shape(self) -> Tuple[int, ...]:
        """Shape of one encoded input: (ny, nx), or (input_len,) for a dense network."""
    @property
    def elements(self) -> List[str]:
        """Every element's name, "elements[i] KIND", in config order."""
    def params(self) -> Dict[str, npt.NDArray[np.float32]]:
        """Trainable parameters {element name: array}: SLM phases (rad) or amplitude
        transmissions (dimensionless, |w| ≤ 1), (sy, sx); dense weights (dimensionless),
        (out, in)."""
    def with_params(self, params: Mapping[str, npt.NDArray[Any]]) -> "Network":
        """A copy with some parameters replaced (same names and shapes as ``params()``)."""
    def encode(self, images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """uint8 images (batch, rows, cols) encoded as the trainer encodes them: field
        amplitudes (batch, ny, nx) (√I/I_sat), or (batch, input_len) for a dense network."""
    @overload
    def forward(
        self,
        images: npt.NDArray[Any],
        *,
        backend: _Backend = "cpu",
        precision: Literal["f32"] = "f32",
        params: Optional[Dict[str, npt.NDArray[Any]]] = None,
    ) -> npt.NDArray[np.float32]: ...
    @overload
    def forward(
        self,
        images: npt.NDArray[Any],
        *,
        backend: _Backend = "cpu",
        precision: Literal["f64"],
        params: Optional[Dict[str, npt.NDArray[Any]]] = None,
    ) -> npt.NDArray[np.float64]:
        """Readout (batch, classes): detector powers Σ|E|²·dx² (units of I_sat·m²), or a
        dense network's output field amplitudes (√I_sat units). ``backend``: cpu or gpu (the engine is built once per network);
        ``precision="f64"``: the CPU reference engine in double precision. Complex input fields
        (field networks) and ``params`` (full-precision parameters) run on the CPU."""
    def _forward_timed(
        self, images: npt.NDArray[Any], *, backend: _Backend = "cpu"
    ) -> Tuple[npt.NDArray[np.float32], float, float]:
        """``forward`` with the engine's own timing: (readout, encode seconds, engine seconds)."""
    def planes(self, image: npt.NDArray[Any]) -> List[Tuple[str, npt.NDArray[np.complex64]]]:
        """The field leaving every element for one input (image (rows, cols) or encoded
        (ny, nx)): [("input", …), (element name, complex64 (ny, nx)), …], amplitudes with
        |E|² = I/I_sat on the grid of pitch ``optics.pitch`` (m). Field networks."""
    def vjp(
        self,
        inputs: npt.NDArray[Any],
        upstream: npt.NDArray[Any],
        *,
        gradient: _Gradient = "exact",
        system: Optional[Literal["model", "hardware"]] = None,
        params: Optional[Dict[str, npt.NDArray[Any]]] = None,
        precision: _Precision = "f64",
        backend: Literal["cpu", "gpu"] = "cpu",
    ) -> Tuple[Dict[str, npt.NDArray[np.float64]], Optional[npt.NDArray[Any]]]:
        """Vector–Jacobian product: the gradient of Σ upstream·readout with respect to every
        parameter and to the inputs (float64; complex128 for complex inputs). ``backend="gpu"``
        (``precision="f32"``, real inputs): the GPU executor's pump and probe passes, the
        parameters' gradients only (the input's is ``None``)."""
    def gradients(
        self,
        images: npt.NDArray[Any],
        labels: npt.ArrayLike,
        *,
        gradient: _Gradient = "optical",
        precision: _Precision = "f32",
    ) -> Dict[str, npt.NDArray[Any]]:
        """Gradient of the batch's mean training loss per trainable element, shaped as
        ``params()``, in loss per unit of the parameter (per rad for a phase SLM), without an
        update: ``gradient="optical"`` (the probe's transmission, what
        the hardware measures) or ``"exact"`` (the true derivative)."""

def export(
    source: _Path,
    out: _Path,
    *,
    slm_bits: Optional[int] = None,
    lut: Optional[str] = None,
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
    """Exports a checkpoint's phase masks (``wavetrain export``); returns ``export.json``."""

def read_masks(
    folder: _Path, *, kind: Optional[Literal["slm", "height"]] = None
) -> Dict[str, npt.NDArray[np.float64]]:
    """The phases read back from an exported folder, {element name: (sy, sx) float64}."""

def evaluate_masks(
    checkpoint: _Path,
    masks: _Path,
    *,
    kind: Optional[Literal["slm", "height"]] = None,
    data: Optional[_Path] = None,
) -> Dict[str, float]:
    """Accuracies of the trained and the exported masks (``wavetrain eval --masks``)."""

def capture(
    out: _Path,
    *,
    config: Optional[_Path] = None,
    checkpoint: Optional[_Path] = None,
    patterns: str = "blank,gratings,defocus,random",
    slm_planes: bool = False,
    noise: bool = True,
    exposure: Optional[float] = None,
    seed: int = 0,
    data: Optional[_Path] = None,
) -> Dict[str, Any]:
    """Simulated camera captures (``wavetrain capture``); returns ``captures.json``."""

def read_captures(folder: _Path) -> Tuple[Dict[str, Any], npt.NDArray[np.float64]]:
    """A captures folder: (manifest, frames (count, ny, nx) float64 intensities)."""

def calibrate(
    config: _Path,
    captures: _Path,
    out: _Path,
    *,
    fit: str = ...,
    section: str = ...,
    iterations: int = ...,
    lut_knots: int = ...,
    progress: bool = ...,
) -> Dict[str, Any]:
    """Fits the digital twin to captures (``wavetrain calibrate``); returns the fit."""
