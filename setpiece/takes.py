"""Versioned output folders: every run builds a hidden folder and publishes it
under the next free name (take_001, v001, ...), so earlier results are never
touched and a failed run leaves nothing behind."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from setpiece.errors import OutputError


def start(out_dir: Path) -> Path:
    """Create out_dir if needed and a fresh hidden work folder inside it."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} exists and is not a folder; choose another -o path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        work = out_dir / f".partial-{os.getpid()}-{secrets.token_hex(4)}"
        work.mkdir()
    except OSError as err:
        raise OutputError(f"cannot create output folder {out_dir}: {err.strerror}") from None
    return work


def publish(work: Path, out_dir: Path, prefix: str) -> Path:
    """Rename the finished work folder to the next free PREFIXnnn (atomic on one filesystem)."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d{{3,}})$")
    numbers = [int(m.group(1)) for p in Path(out_dir).iterdir() if (m := pattern.match(p.name))]
    number = max(numbers, default=0) + 1
    for _ in range(100):
        take = Path(out_dir) / f"{prefix}{number:03d}"
        if not take.exists():
            try:
                os.rename(work, take)  # fails if another run just took this name
                return take
            except OSError:
                pass
        number += 1
    raise OutputError(f"could not find a free take folder name in {out_dir}")


def discard(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
