"""The exceptions wavetrain raises (the Rust extension raises them by name).

Every one derives from :class:`WavetrainError`; each carries the message the CLI prints for
the same error (what is wrong and what to do).
"""


class WavetrainError(Exception):
    """Base class of every wavetrain error."""


class ConfigError(WavetrainError, ValueError):
    """A config value, override or argument is out of range or inconsistent (the message names
    the key, e.g. ``--set od=-1`` or ``elements[2].distance``). CLI exit code 2."""


class DataError(WavetrainError):
    """A data file (IDX images or labels) is malformed or does not fit the network. CLI exit
    code 3."""


class CheckpointError(WavetrainError):
    """A checkpoint cannot be read or does not fit its network. CLI exit code 4."""


class GpuError(WavetrainError, RuntimeError):
    """The GPU could not be used (no adapter, or the network needs what the GPU backend does
    not do). CLI exit code 6."""


class NumericalFault(WavetrainError, ArithmeticError):
    """A NaN or an infinity appeared during training; the message names where and the last
    checkpoint to resume from. CLI exit code 7."""


class LabError(WavetrainError, RuntimeError):
    """An external lab in the training loop (``wavetrain.train(..., lab=obj)``) raised, or
    returned what the trainer cannot use (a wrong shape, a NaN): the message names the lab's
    method, what it said or returned, the checkpoint written (the state before the failing
    step) and how to resume; the lab's own exception is the ``__cause__``. CLI exit code 8."""


class LabTimeout(LabError, TimeoutError):
    """A lab's method did not return within ``lab_timeout`` seconds: the run stopped with a
    resumable checkpoint, as for :class:`LabError`."""


class InternalError(WavetrainError, RuntimeError):
    """A bug in wavetrain: a Rust panic, stopped at the boundary, naming the function."""


__all__ = [
    "WavetrainError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "GpuError",
    "NumericalFault",
    "LabError",
    "LabTimeout",
    "InternalError",
]
