"""Versioned output folders: every run builds a hidden folder and publishes it
under the next free name (take_001, v001, ...), so earlier results are never
touched and a failed run leaves nothing behind."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from pathlib import Path

from setpiece.errors import OutputError

PARTIAL = re.compile(r"\.partial-(\d+)-[0-9a-f]+")
STALE_AFTER = 10.0  # seconds: a folder this young may belong to a run still starting up


def start(out_dir: Path) -> Path:
    """Create out_dir if needed and a fresh hidden work folder inside it; first sweep
    away the work folders of earlier runs that were killed."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} exists and is not a folder; choose another -o path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        sweep_stale(out_dir)
        work = out_dir / f".partial-{os.getpid()}-{secrets.token_hex(4)}"
        work.mkdir()
    except OSError as err:
        raise OutputError(f"cannot create output folder {out_dir}: {err.strerror}") from None
    return work


def sweep_stale(out_dir: Path, min_age: float = STALE_AFTER) -> list[Path]:
    """Remove `.partial-PID-*` folders whose process is gone and that are older than
    min_age seconds. A live process's folder is never touched (its pid answers
    signal 0); a pid reused by an unrelated process only keeps a leftover a while longer."""
    removed = []
    now = time.time()
    for entry in Path(out_dir).iterdir():
        match = PARTIAL.fullmatch(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink() or _alive(int(match[1])):
            continue
        try:
            if now - entry.stat().st_mtime < min_age:
                continue
        except OSError:  # another run swept it first
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    if pid <= 0:  # kill(0) would mean our own process group: not a name we make, keep it
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or a number no pid can be
        return False
    except OSError:  # PermissionError: alive under another user; anything else: keep to be safe
        return True
    return True


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
