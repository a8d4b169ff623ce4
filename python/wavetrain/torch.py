"""A wavetrain network as a PyTorch layer, with the optical (or exact) gradient as its backward.

An optional extra: ``pip install ./python[torch]``; ``import wavetrain`` never imports torch.

>>> import torch, wavetrain as wt
>>> from wavetrain.torch import OpticalLayer
>>> layer = OpticalLayer(wt.Network.preset("d2nn-mnist"), gradient="optical")
>>> x = layer.network.encode(images)            # (batch, ny, nx) input amplitudes
>>> powers = layer(torch.from_numpy(x))         # (batch, classes) detector powers
>>> powers.sum().backward()                     # the optical gradient into layer.parameters()

The layer's parameters are the network's SLM phases (field networks; radians) or weights (dense
networks), one ``torch.nn.Parameter`` per trainable element, shaped as ``Network.params()``.
Its forward returns the readout (detector powers ``Σ|E|²·dx²`` in I_sat·m², or a dense network's
output amplitudes); its backward is the engine's vector–Jacobian product
(:meth:`wavetrain.Network.vjp`): the probe pass of the optics, with the absorbers' optical
derivative (``gradient="optical"``, what the hardware measures) or the exact one, on the model
or on the imperfect system (``system``), with respect to the parameters and to the input.

Both run on the CPU reference engine, in double precision for float64 tensors
(``torch.autograd.gradcheck`` passes in exact mode) and in single precision for float32, or with
``backend="gpu"`` on the engine's GPU executor (float32; parameter gradients); tensors cross as numpy arrays (no copy on the torch side for CPU tensors). Inputs are
float tensors of encoded amplitudes ``(batch, ny, nx)`` (``Network.encode`` turns uint8 images
into them), or complex tensors of input fields (field networks).

:class:`Absorber` is the saturable absorber as an activation for any torch model: its forward is
the absorber's field transmission ``g(z)``, its backward the weak probe's transmission (the
optical derivative of Guo et al. 2021) or the exact derivative.
"""

from typing import Any, Dict, List, Optional

import numpy as np
import torch

from . import Network, absorber

__all__ = ["OpticalLayer", "Absorber", "optical_function"]


def _numpy(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().resolve_conj().numpy()
    return np.ascontiguousarray(a)


class _Optics(torch.autograd.Function):
    """``readout = network(inputs; params)`` with the engine's vector–Jacobian product as the
    backward."""

    @staticmethod
    def forward(ctx: Any, spec: Dict[str, Any], x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        net: Network = spec["network"]
        precision = "f64" if params[0].dtype == torch.float64 else "f32"
        xs = _numpy(x)
        if not np.iscomplexobj(xs):
            xs = xs.astype(np.float64 if precision == "f64" else np.float32, copy=False)
        p = {n: _numpy(t) for n, t in zip(spec["names"], params)}
        y = net.forward(xs, precision=precision, params=p, backend=spec["backend"])
        ctx.spec = spec
        ctx.precision = precision
        ctx.xs = xs
        ctx.p = p
        ctx.x_dtype, ctx.x_device = x.dtype, x.device
        # Back where the parameters live (a CUDA model's tensors come back to its device).
        return torch.from_numpy(np.asarray(y)).to(device=params[0].device, dtype=params[0].dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> Any:
        spec = ctx.spec
        net: Network = spec["network"]
        up = _numpy(grad_out).astype(np.float64)
        if spec["backend"] == "gpu" and ctx.needs_input_grad[1]:
            raise RuntimeError(
                "the GPU's vector–Jacobian product gives the parameters' gradient only: use "
                "backend='cpu' for a gradient with respect to the layer's input")
        grads, gx = net.vjp(ctx.xs, up, gradient=spec["gradient"], system=spec["system"],
                            params=ctx.p, precision=ctx.precision, backend=spec["backend"])
        dtype, device = grad_out.dtype, grad_out.device
        gin = (torch.from_numpy(gx).to(device=ctx.x_device, dtype=ctx.x_dtype)
               if ctx.needs_input_grad[1] else None)
        gparams = [torch.from_numpy(grads[n]).to(device=device, dtype=dtype) for n in spec["names"]]
        return (None, gin, *gparams)


def optical_function(network: Network, x: torch.Tensor, params: List[torch.Tensor], *,
                     gradient: str = "optical", system: Optional[str] = None,
                     backend: str = "cpu") -> torch.Tensor:
    """The network's readout of ``x`` with the given parameter tensors (in ``Network.params()``
    order), differentiable with respect to both: the functional form of :class:`OpticalLayer`."""
    if gradient not in ("optical", "exact"):
        raise ValueError(f"gradient={gradient!r}: give 'optical' or 'exact'")
    if backend not in ("cpu", "gpu"):
        raise ValueError(f"backend={backend!r}: give 'cpu' or 'gpu'")
    if backend == "gpu" and params and params[0].dtype != torch.float32:
        raise ValueError("backend='gpu' runs in single precision: use torch.float32 parameters")
    spec = {"network": network, "names": list(network.params()), "gradient": gradient,
            "system": system, "backend": backend}
    if len(params) != len(spec["names"]):
        raise ValueError(f"{len(params)} parameter tensors given; the network has "
                         f"{len(spec['names'])}: {spec['names']}")
    return _Optics.apply(spec, x, *params)


class OpticalLayer(torch.nn.Module):
    """A wavetrain network as a ``torch.nn.Module``: parameters are its SLM phases or weights
    (initialised from the network's), forward returns the readout, backward is the optical (or
    exact) gradient of the engine.

    ``gradient``: ``"optical"`` (the probe's transmission at the absorbers, what the hardware
    measures) or ``"exact"``. ``system``: the system of the backward, ``"model"`` or
    ``"hardware"`` (absent: the network's own, ``train.target``); the forward always runs the
    network's own system, so ``system="model"`` on a network whose target is ``hardware`` is
    physics-aware training (forward on the imperfect system, backward through the model). ``dtype``: ``torch.float32`` (the single-precision engine) or
    ``torch.float64`` (the double-precision reference; ``gradcheck`` passes in exact mode).
    ``backend``: ``"cpu"`` (default) or ``"gpu"``: the engine's GPU executor (wgpu) runs the
    forward and the probe pass, float32 only, gradients with respect to the parameters only
    (the input's gradient needs the CPU)."""

    def __init__(self, network: Network, *, gradient: str = "optical",
                 system: Optional[str] = None, dtype: torch.dtype = torch.float32,
                 backend: str = "cpu") -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype}: give torch.float32 or torch.float64")
        if gradient not in ("optical", "exact"):
            raise ValueError(f"gradient={gradient!r}: give 'optical' or 'exact'")
        if backend not in ("cpu", "gpu"):
            raise ValueError(f"backend={backend!r}: give 'cpu' or 'gpu'")
        if backend == "gpu" and dtype != torch.float32:
            raise ValueError("backend='gpu' runs in single precision: use dtype=torch.float32")
        self.network = network
        self.gradient = gradient
        self.system = system
        self.backend = backend
        self.names = list(network.params())
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.from_numpy(np.array(v, dtype=np.float64)).to(dtype))
            for v in network.params().values()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Readout ``(batch, classes)`` of ``x``: encoded amplitudes ``(batch, *input_shape)``
        (any float dtype) or complex input fields ``(batch, ny, nx)``."""
        return optical_function(self.network, x, list(self.weights), gradient=self.gradient,
                                system=self.system, backend=self.backend)

    def params(self) -> Dict[str, np.ndarray]:
        """The current parameters by element name, as ``Network.params()`` names them."""
        return {n: w.detach().cpu().numpy().copy() for n, w in zip(self.names, self.weights)}

    def to_network(self) -> Network:
        """The network with this layer's current parameters (float32, as checkpoints hold them)."""
        return self.network.with_params({n: v.astype(np.float32) for n, v in self.params().items()})

    def extra_repr(self) -> str:
        return (f"{self.network!r}, gradient={self.gradient!r}, system={self.system!r}, "
                f"backend={self.backend!r}")


class _AbsorberFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, od: float, model: str, exact: bool) -> torch.Tensor:
        a = np.abs(_numpy(z).astype(np.float64))
        g, t, ge = absorber(a, od=od, model=model)
        ctx.save_for_backward(torch.from_numpy(np.asarray(ge if exact else t)).to(z.dtype))
        return torch.sign(z) * torch.from_numpy(np.asarray(g)).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (d,) = ctx.saved_tensors
        return grad * d, None, None, None


class Absorber(torch.nn.Module):
    """The saturable absorber as an activation on signed real field amplitudes ``z``
    (``z² = I/I_sat``): forward ``sign(z)·g(|z|)``, the output field; backward the weak probe's
    field transmission ``t(z²)`` (``gradient="optical"``: the optical derivative of Guo et al.,
    Photonics Research 9, B71 (2021)) or the true derivative ``dg/dz`` (``"exact"``). ``od``:
    the optical depth α₀ (dimensionless); ``model``: ``"thin"`` or ``"beer-lambert"``."""

    def __init__(self, od: float = 10.0, model: str = "thin", gradient: str = "optical") -> None:
        super().__init__()
        if gradient not in ("optical", "exact"):
            raise ValueError(f"gradient={gradient!r}: give 'optical' or 'exact'")
        absorber(0.0, od=od, model=model)  # checks od and model, raising ConfigError
        self.od, self.model, self.gradient = float(od), model, gradient

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _AbsorberFn.apply(z, self.od, self.model, self.gradient == "exact")

    def extra_repr(self) -> str:
        return f"od={self.od}, model={self.model!r}, gradient={self.gradient!r}"
