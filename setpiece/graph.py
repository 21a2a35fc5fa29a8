"""The stage graph: runs a shot's stages in order, each on exactly what it declares.

A stage (see setpiece/stages/) declares its name, the spec fields it reads, the
upstream artifacts it needs and a version of its own. The graph hands it a view
of the spec that holds only the declared fields (reading any other is an error),
its upstream artifacts, and a random stream of its own. Whole-shot stages are
cached in the shot folder under hash(declared reads, upstream keys, version,
schema), so a render-only change re-runs nothing upstream and a solver change
invalidates exactly its own results. Frame stages (render, comp, deliver) run
frame by frame in lock step, so a long shot never holds all its frames.

Every failure inside a stage leaves as one StageError naming the stage.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from setpiece.errors import OutputError, SetpieceError, StageError

Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class Stage:
    """One step of the shot. `run(ctx)` returns the stage's artifact.

    reads: spec fields ("trigger" for a whole section, "shot.fps" for one field).
    needs: names of upstream stages whose artifacts `ctx.inputs` holds.
    key_values: turns the declared values into what the cache key hashes, for
    values that must be resolved first (a device "auto" keys as the device used).
    """

    name: str
    reads: tuple[str, ...]
    needs: tuple[str, ...]
    version: str
    run: Callable[[Context], Any]
    schema: str = ""
    cached: bool = True
    key_values: Callable[[dict], dict] | None = None


class SpecView:
    """Read-only view of the spec holding only a stage's declared fields."""

    def __init__(self, spec, reads: tuple[str, ...], stage: str):
        sections: dict[str, Any] = {}
        for path in reads:
            section, _, name = path.partition(".")
            if not name:
                sections[section] = getattr(spec, section)
                continue
            part = sections.setdefault(section, _Section(section, stage))
            if isinstance(part, _Section):  # a whole-section read already gives every field
                part._fields[name] = getattr(getattr(spec, section), name)
        self._sections, self._stage = sections, stage

    def __getattr__(self, section: str):
        if section.startswith("_"):
            raise AttributeError(section)
        try:
            return self._sections[section]
        except KeyError:
            raise StageError(
                f"stage {self._stage} reads spec section {section!r} but does not declare it in its `reads`"
            ) from None


class _Section:
    def __init__(self, section: str, stage: str):
        self._section, self._stage, self._fields = section, stage, {}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise StageError(
                f"stage {self._stage} reads {self._section}.{name} but does not declare it in its `reads`"
            ) from None


def declared_values(spec, reads: tuple[str, ...]) -> dict:
    """The JSON values of the declared spec fields (what the cache key hashes)."""
    data = spec.model_dump(mode="json")
    out = {}
    for path in reads:
        section, _, name = path.partition(".")
        out[path] = data[section][name] if name else data[section]
    return out


def stage_rng(seed: int, stage: str, frame: int | None = None) -> np.random.Generator:
    """A random stream of the stage's own (and the frame's, for frame stages), from
    one SeedSequence(shot.seed): adding a stage or a frame never shifts another's."""
    key = (zlib.crc32(stage.encode()),) if frame is None else (zlib.crc32(stage.encode()), frame)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class Context:
    """What a stage gets: its spec view, its inputs, its random stream, progress."""

    stage: str
    spec: SpecView
    inputs: dict[str, Any]
    seed: int
    report: Callable[[int, int], None]
    work: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)  # how the stage runs, never what it computes

    def rng(self, frame: int | None = None) -> np.random.Generator:
        return stage_rng(self.seed, self.stage, frame)


@dataclass
class Run:
    """What the graph did: artifacts, cache keys, seconds per stage, which were cached."""

    artifacts: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)

    def clock(self, stage: str):
        return _Timer(self.timings, stage)


class _Timer:
    def __init__(self, timings: dict[str, float], stage: str):
        self.timings, self.stage = timings, stage

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.perf_counter() - self.t0


def run_stages(
    stages: list[Stage], spec, cache_dir: Path | None, progress: Progress | None = None, work: Path | None = None
) -> Run:
    """Run whole-shot stages in order (each after its needs), caching where declared."""
    run = Run()
    cache = Cache(cache_dir) if cache_dir else None
    for stage in stages:
        missing = [n for n in stage.needs if n not in run.artifacts]
        if missing:
            raise StageError(f"stage {stage.name} needs {missing}, which no earlier stage made")
        key = guarded(stage.name, lambda s=stage: stage_key(s, spec, run.keys))
        run.keys[stage.name] = key
        ctx = make_context(stage, spec, run.artifacts, progress, work)
        with run.clock(stage.name):
            value, hit = guarded(stage.name, lambda s=stage, c=ctx, k=key: _compute(s, c, k, cache))
        if hit:
            run.cached.add(stage.name)
        run.artifacts[stage.name] = value
    return run


def _compute(stage: Stage, ctx: Context, key: str, cache: Cache | None):
    if cache is None or not stage.cached:
        return stage.run(ctx), False
    return cache.get(stage.name, key, lambda: stage.run(ctx))


def stage_key(stage: Stage, spec, upstream: dict[str, str]) -> str:
    values = declared_values(spec, stage.reads)
    if stage.key_values:
        values = stage.key_values(values)
    blob = {
        "stage": stage.name,
        "version": stage.version,
        "schema": stage.schema,
        "reads": values,
        "upstream": {n: upstream[n] for n in stage.needs},
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:20]


def make_context(
    stage: Stage, spec, artifacts: dict, progress: Progress | None, work: Path | None, options: dict | None = None
) -> Context:
    def report(done: int, total: int) -> None:
        if progress:
            progress(stage.name, done, total)

    inputs = {n: artifacts[n] for n in stage.needs}
    view = SpecView(spec, stage.reads, stage.name)
    return Context(stage.name, view, inputs, spec.shot.seed, report, work, dict(options or {}))


def guarded(stage: str, fn: Callable[[], Any]):
    """Run fn; whatever fails inside becomes one SetpieceError line naming the stage.
    KeyboardInterrupt passes through untouched, so Ctrl-C stops at once."""
    try:
        return fn()
    except StageError:
        raise
    except SetpieceError as err:
        raise type(err)(f"{stage}: {err}") from None
    except OSError as err:
        raise OutputError(f"{stage}: {describe_os_error(err)}") from None
    except MemoryError:
        raise StageError(f"{stage}: out of memory; lower render size, fracture.fragments or dust.resolution") from None
    except Exception as err:  # a library failed in a way we did not foresee: still one line
        raise StageError(
            f"{stage}: {type(err).__name__}: {err} (unexpected failure; please report it with the spec)"
        ) from None


def describe_os_error(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    if err.errno == errno.ENOSPC:
        return f"disk full while writing{where}; free space or choose another output folder with -o"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write{where}; choose a writable output folder with -o"
    return f"cannot read or write{where}: {err.strerror or err}"


class Cache:
    """Pickled stage artifacts keyed by content hash, written atomically under unique temp names."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key}.pkl"

    def get(self, stage: str, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """(artifact, True) from the cache, or (computed artifact, False) after storing it."""
        path = self.path(stage, key)
        if path.is_file():
            try:
                with path.open("rb") as fh:
                    return pickle.load(fh), True
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
                path.unlink(missing_ok=True)  # a broken entry is recomputed
        value = compute()
        self.put(path, value)
        return value, False

    def put(self, path: Path, value: Any) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".part", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class FrameWorker(Protocol):
    """A frame stage opened for one run: frame() per frame in order, then close()."""

    def frame(self, index: int, upstream: Any) -> Any:
        """This stage's result for one frame, given the previous frame stage's."""

    def close(self, ok: bool) -> Any:
        """Release resources; on success (ok) return the stage's summary (e.g. files written)."""


@dataclass(frozen=True)
class FrameStage:
    """A stage that runs frame by frame in lock step with the other frame stages."""

    name: str
    reads: tuple[str, ...]
    needs: tuple[str, ...]
    version: str
    open: Callable[[Context], FrameWorker]


def run_frames(
    stages: list[FrameStage],
    spec,
    run: Run,
    frames: range,
    progress: Progress | None = None,
    work: Path | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open every frame stage, push each frame through them in order, close them.
    Returns each stage's close() summary by name. options reach every stage's context."""
    opened: list[tuple[FrameStage, FrameWorker]] = []
    ok = False
    try:
        for stage in stages:
            ctx = make_context(stage, spec, run.artifacts, progress, work, options)
            with run.clock(stage.name):
                opened.append((stage, guarded(stage.name, lambda s=stage, c=ctx: s.open(c))))
        for done, index in enumerate(frames, 1):
            value = None
            for stage, worker in opened:
                with run.clock(stage.name):
                    value = guarded(stage.name, lambda w=worker, v=value, i=index: w.frame(i, v))
            if progress:
                progress("render", done, len(frames))
        ok = True
    finally:
        summaries = _close_all(opened, run, ok)
    return summaries


def _close_all(opened, run: Run, ok: bool) -> dict[str, Any]:
    """Close in reverse order; every worker is closed even if one fails, the first failure is raised."""
    summaries, failure = {}, None
    for stage, worker in reversed(opened):
        with run.clock(stage.name):
            try:
                summaries[stage.name] = guarded(stage.name, lambda w=worker: w.close(ok))
            except SetpieceError as err:
                failure = failure or err
    if failure and ok:
        raise failure
    return summaries
