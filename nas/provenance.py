"""What produced a result: code version, library versions, device — written beside every result."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from search_spaces.atomic import (  # re-exported: nas writes results with them
    atomic_path,
    write_text_atomic,
)

__all__ = [
    "library_versions", "code_version", "provenance", "to_jsonable",
    "atomic_path", "write_text_atomic", "write_json_atomic",
]

_LIBRARIES = ("sparse-nas", "torch", "numpy", "scipy", "networkx", "scikit-learn", "deap", "optuna", "pandas")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour shapes results."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version() -> str:
    """``git describe`` of the checkout when available, else the package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        if described:
            return described
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return metadata.version("sparse-nas")
    except metadata.PackageNotFoundError:
        return "unknown"


def provenance() -> dict[str, Any]:
    """Code version, library versions and host facts, for ``config.json`` and ledger attributes."""
    return {"code_version": code_version(), "libraries": library_versions(), "platform": platform.platform()}


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, paths and numpy scalars made JSON-serialisable (recursively)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write JSON to ``path`` through :func:`atomic_path`: never half-written."""
    return write_text_atomic(path, json.dumps(to_jsonable(payload), indent=2, sort_keys=True) + "\n")
