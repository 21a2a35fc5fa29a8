"""Deliver writers, picked by the spec's [output] flags from one registry.

A writer is opened once per take with a `DeliverJob`, gets every frame in
order (`add`), and on `close(ok=True)` finishes its files and returns them by
name. Image sequences are encoded on a worker thread (their compressors release
the GIL, so encoding overlaps the next frame's render). New formats plug in with
`register_writer` and an `[output]` flag of the same name.
"""

from __future__ import annotations

import importlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from setpiece.errors import OutputError


@dataclass
class DeliverJob:
    """What writers know about the take."""

    work: Path  # the take's (hidden, not yet published) folder
    name: str  # shot name: file stem
    fps: float
    width: int
    height: int
    inputs: dict[str, Any] = field(default_factory=dict)  # upstream artifacts (scene, fracture, sim, debris, dust)


class Writer(Protocol):
    def add(self, frame: int, passes, comp) -> None: ...

    def close(self, ok: bool) -> dict[str, str]: ...


_WRITERS: dict[str, type | str] = {
    "png": "setpiece.deliver:PngSequence",
    "exr": "setpiece.deliver:ExrSequence",
    "mp4": "setpiece.deliver:Movie",
    "usd": "setpiece.deliver:UsdCache",
    "vdb": "setpiece.deliver.vdb:VdbSequence",
}


def register_writer(name: str, cls: type | str) -> None:
    """Make a writer available; it runs when the spec's output.NAME is true."""
    _WRITERS[name] = cls


def writer_class(name: str) -> type:
    entry = _WRITERS[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = _WRITERS[name] = getattr(importlib.import_module(module), attr)
    return entry


def open_writers(ctx) -> list[Writer]:
    """The writers whose [output] flag is on, opened for this take."""
    spec = ctx.spec
    if ctx.work is None:
        raise OutputError("deliver: no take folder to write into")
    job = DeliverJob(ctx.work, spec.shot.name, spec.shot.fps, spec.render.width, spec.render.height, ctx.inputs)
    flags = spec.output.model_dump()
    return [writer_class(name)(job) for name in _WRITERS if flags.get(name)]


class _Sequence:
    """Frames written as NAME.0001.EXT in a sub-folder, encoded on one worker thread."""

    ext = ""
    backlog = 8  # bounded: memory stays flat on long shots

    def __init__(self, job: DeliverJob):
        self.job = job
        self.folder = job.work / self.ext
        self.folder.mkdir()
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: list[Future] = []

    def path(self, frame: int) -> Path:
        return self.folder / f"{self.job.name}.{frame + 1:04d}.{self.ext}"

    def submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.backlog:
            self.pending.pop(0).result()  # re-raises a failed write

    def close(self, ok: bool) -> dict[str, str]:
        try:
            for job in self.pending:
                job.result()
        finally:
            self.pool.shutdown()
        return {self.ext: self.ext}


class PngSequence(_Sequence):
    ext = "png"

    def add(self, frame: int, passes, comp) -> None:
        from setpiece.deliver.writers import write_png

        self.submit(write_png, self.path(frame), comp.display8)


class ExrSequence(_Sequence):
    ext = "exr"

    def add(self, frame: int, passes, comp) -> None:
        from setpiece.deliver.writers import write_exr

        self.submit(write_exr, self.path(frame), passes, comp.linear)


class Movie:
    """H.264 MP4 of the display-referred frames, in order."""

    def __init__(self, job: DeliverJob):
        from setpiece.deliver.writers import Mp4Writer

        self.file = f"{job.name}.mp4"
        self.movie = Mp4Writer(job.work / self.file, job.width, job.height, job.fps)

    def add(self, frame: int, passes, comp) -> None:
        self.movie.add(comp.display8)

    def close(self, ok: bool) -> dict[str, str]:
        self.movie.close()
        return {"mp4": self.file}


class UsdCache:
    """The animated fragments and debris as USD, written once the frames are done."""

    def __init__(self, job: DeliverJob):
        self.job = job

    def add(self, frame: int, passes, comp) -> None:
        pass

    def close(self, ok: bool) -> dict[str, str]:
        if not ok:
            return {}
        from setpiece.deliver.writers import write_usd

        job, inputs = self.job, self.job.inputs
        frags, building = inputs["fracture"], inputs["scene"]
        file = f"{job.name}.usd"
        write_usd(
            job.work / file, frags.vertices, frags.faces, inputs["sim"], job.fps, building.color, inputs["debris"]
        )
        return {"usd": file}
