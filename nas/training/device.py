"""Choosing the torch device, knowing how much memory it has left, and how a forward pass runs
there (precision and memory layout).

The device is never hard-coded: ``cuda`` when a GPU is visible, else the CPU, and any torch
device string can override that choice. A device that does not exist is a
:class:`~nas.exceptions.DeviceError` naming what was asked for and what is available.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nas.exceptions import ConfigError, DeviceError
from nas.training.config import TrainConfig

__all__ = ["resolve_device", "device_name", "free_memory_bytes", "set_threads", "default_threads", "threads_for", "synchronize", "autocast", "memory_format"]


def _available() -> list[str]:
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """The torch device to train on.

    Parameters
    ----------
    name : str or torch.device, optional
        ``None`` or ``"auto"`` picks ``cuda`` when available, else ``cpu``. Otherwise any torch
        device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        The string is not a torch device, or the device does not exist on this machine.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name is None or (isinstance(name, str) and name.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError) as err:
        raise DeviceError(f"device {name!r} is not a torch device; expected one of {_available()} or 'auto'") from err
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available; expected one of {_available()}")
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s); "
                f"expected one of {_available()}"
            )
        return torch.device("cuda", index)
    if device.type == "mps" and "mps" in _available():
        return device
    raise DeviceError(f"device {name!r} is not available on this machine; expected one of {_available()}")


def device_name(device: torch.device) -> str:
    """A human-readable name for result records, e.g. ``"cuda:0 (NVIDIA H100 80GB HBM3)"``."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


def free_memory_bytes(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device``.

    On CUDA this is ``torch.cuda.mem_get_info``'s free memory; on the CPU (and other devices) the
    kernel's ``MemAvailable`` from ``/proc/meminfo``, or 4 GiB when that file cannot be read.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 * 1024**3


def set_threads(threads: int | None) -> None:
    """Set torch's CPU threads for this process (``--threads`` of the entry points); None keeps torch's choice.

    Library code never calls this: on a small shared machine the right count depends on what else
    runs (two intra-op threads on 2 busy cores made tiny-model steps several times slower).

    Raises
    ------
    ConfigError
        ``threads`` is not an integer >= 1.
    """
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"--threads {threads!r}; expected an integer >= 1")
    torch.set_num_threads(threads)


def default_threads(families, device: str | None) -> int | None:
    """The intra-op threads a training command takes when ``--threads`` is not given: one on the
    CPU for the small feed-forward and recurrent networks (``families`` without ``cnn``), whose
    steps are too short to split across threads — parallelism comes from stacking candidates and
    from running processes side by side; torch's choice for CNNs and on a GPU.

    Measured on the 2-core Xeon (``docs/benchmarks.md``, one run each): beside one busy process the
    README's quick search took 62 s with one thread and 1,068 s with torch's two; idle 65 s and
    49 s.
    """
    families = (families,) if isinstance(families, str) else tuple(families)
    on_cpu = device == "cpu" or (device is None and not torch.cuda.is_available())
    return 1 if on_cpu and families and "cnn" not in families else None


def threads_for(threads: int | None, families, device: str | None) -> int | None:
    """``threads`` when given (``--threads``), else :func:`default_threads` for the work."""
    return threads if threads is not None else default_threads(families, device)


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued kernels (a no-op on the CPU), so wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory_format(config: TrainConfig, x: torch.Tensor) -> torch.memory_format:
    """Channels-last for image batches when ``config.channels_last`` asks, else the default layout."""
    return torch.channels_last if config.channels_last and x.dim() == 4 else torch.contiguous_format


def autocast(device: torch.device, config: TrainConfig):
    """bf16 autocast when ``config.precision`` is ``"bf16"`` (or ``"auto"`` on CUDA), else a no-op context."""
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
