"""Command-line option parsing shared by several ``nas`` commands."""

from __future__ import annotations

import json

from nas.exceptions import ConfigError

__all__ = ["parse_key_values"]


def parse_key_values(pairs, option: str, what: str = "NAME=VALUE") -> dict:
    """``("a=1", "b=x")`` -> ``{"a": 1, "b": "x"}``: values are JSON where they parse, else strings.

    Raises
    ------
    ConfigError
        An item without ``=`` or without a name; the message names ``option``.
    """
    out = {}
    for item in pairs:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} expects {what}, got {item!r}")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out
