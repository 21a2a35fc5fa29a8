"""Deliver writers, picked by the spec's [output] flags from one registry.

A writer is opened once per take with a `DeliverJob`, gets every frame in
order (`add`), and on `close(ok=True)` finishes its files and returns them by
name. Image sequences are encoded on a worker thread (their compressors release
the GIL, so encoding overlaps the next frame's render). Writers marked `late`
(the USD shot, the editorial clip) refer to other writers' files, so they are
closed after them. New formats plug in with `register_writer` and an `[output]`
flag of the same name.
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
    frames: int = 0
    spec: Any = None  # the whole ShotSpec (the editorial record carries it)
    camera: Any = None  # setpiece.camera.Camera the frames were rendered through
    sun: Any = None  # unit vector towards the sun


class Writer(Protocol):
    """One delivery format. A class attribute `late = True` has it closed after the
    others, for formats that refer to the others' files (USD, OTIO)."""

    def add(self, frame: int, passes, comp) -> None: ...

    def close(self, ok: bool) -> dict[str, str]: ...


_WRITERS: dict[str, type | str] = {
    "png": "setpiece.deliver:PngSequence",
    "exr": "setpiece.deliver.exr:ExrSequence",
    "mp4": "setpiece.deliver:Movie",
    "usd": "setpiece.deliver.usd:UsdShot",
    "otio": "setpiece.deliver.otio:EditorialClip",
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


def enabled_writers(flags: dict) -> list[str]:
    """Names of the registered writers whose [output] flag is on."""
    return [name for name in _WRITERS if flags.get(name)]


def dust_vdb_file(name: str, frame: int) -> str:
    """Where a frame's dust VDB lies in the take (frame counted from 0, files from 1):
    the VDB writer writes it, the USD shot's dust volume points at it."""
    return f"dust/{name}.{frame + 1:04d}.vdb"


def open_writers(ctx) -> list[Writer]:
    """The writers whose [output] flag is on, opened for this take; late writers last.
    ctx.options["writers"] picks "per_frame" ones (a file per frame: they can run on any
    farm worker), "sequence" ones (every frame in order, or the whole shot) or "all"."""
    from setpiece.camera import sun_direction
    from setpiece.spec import ShotSpec
    from setpiece.world.building import make_camera

    view = ctx.spec
    if ctx.work is None:
        raise OutputError("deliver: no take folder to write into")
    spec = ShotSpec(**{section: getattr(view, section) for section in ShotSpec.model_fields})
    building = ctx.inputs["scene"]
    job = DeliverJob(
        ctx.work,
        spec.shot.name,
        spec.shot.fps,
        spec.render.width,
        spec.render.height,
        ctx.inputs,
        frames=spec.shot.frames,
        spec=spec,
        camera=make_camera(spec, building),
        sun=sun_direction(spec.light.sun_elevation, spec.light.sun_azimuth),
    )
    classes = [writer_class(name) for name in enabled_writers(spec.output.model_dump())]
    which = ctx.options.get("writers", "all")
    if which != "all":
        classes = [c for c in classes if getattr(c, "per_frame", False) == (which == "per_frame")]
    classes.sort(key=lambda cls: bool(getattr(cls, "late", False)))  # stable: registry order otherwise
    writers: list[Writer] = []
    try:
        for cls in classes:
            writers.append(cls(job))
    except BaseException:
        for writer in writers:  # a later writer refused the job: release the earlier ones
            writer.close(ok=False)
        raise
    return writers


class _Sequence:
    """Frames written as NAME.0001.EXT in a sub-folder, encoded on one worker thread."""

    ext = ""
    per_frame = True  # one file per frame: farm workers write their own frames
    backlog = 8  # bounded: memory stays flat on long shots

    def __init__(self, job: DeliverJob):
        self.job = job
        self.folder = job.work / self.ext
        self.folder.mkdir(exist_ok=True)
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
