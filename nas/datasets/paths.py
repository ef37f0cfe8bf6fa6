"""Where dataset files live: ``--data-dir``, else ``NAS_DATA_DIR``, else a per-user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "default_cache_dir", "resolve_data_dir"]

ENV_VAR = "NAS_DATA_DIR"


def default_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/sparse-nas/data``, else ``~/.cache/sparse-nas/data``.

    Returns
    -------
    pathlib.Path
        The folder (not created here; it is created only when a download needs it).
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "sparse-nas" / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory in force: the argument, else ``NAS_DATA_DIR``, else :func:`default_cache_dir`.

    Parameters
    ----------
    data_dir : str or path-like, optional
        An explicit folder (e.g. from ``--data-dir``); ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        An absolute path; it need not exist.

    Examples
    --------
    >>> resolve_data_dir("/tmp/somewhere")
    PosixPath('/tmp/somewhere')
    """
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get(ENV_VAR)
        path = Path(env) if env else default_cache_dir()
    else:
        path = Path(data_dir)
    # abspath normalises '..' without resolving symlinks (messages show the path the user gave).
    return Path(os.path.abspath(path.expanduser()))
