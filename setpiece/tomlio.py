"""TOML writing, the one way: tomli-w (the writer paired with the standard
library's tomllib reader), with None values left out (TOML has no null) and an
optional comment header for files people edit."""

from __future__ import annotations

from collections.abc import Mapping

import tomli_w


def dumps(data: Mapping, header: str = "") -> str:
    """``data`` as TOML text; ``header`` lines are written first as ``#`` comments."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    body = tomli_w.dumps(_without_none(data))
    return f"{comments}\n{body}" if comments else body


def _without_none(value):
    if isinstance(value, Mapping):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value if v is not None]
    return value
