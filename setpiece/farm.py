"""Render farm: a shot's frames spread over Dask workers.

After the whole-shot stages (sim, debris, dust: computed once, here), frames
are independent. They are cut into contiguous chunks; each chunk runs the
render and comp stages and the per-frame writers (PNG, EXR) on a worker, into
the take folder, which must therefore be on storage every worker sees (a
LocalCluster shares this machine's disk). The whole-shot artifacts are
scattered to the workers once. Writers that need every frame in order (MP4)
or the whole shot (USD) run here, fed in frame order as chunks come back.

A failed chunk is retried (Dask's retries); a chunk on a worker that dies is
rerun elsewhere (frames are written atomically, so a rerun just rewrites
them). Frames are bitwise the same as a plain render: each frame's random
stream and motion vectors depend on the frame number alone.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setpiece.errors import SetpieceError
from setpiece.graph import Progress, Run, guarded, run_frames

CONNECT_TIMEOUT_S = 5
CHUNKS_PER_WORKER = 3  # smaller chunks: smoother progress, less lost on a dead worker
RETRIES = 3

# A worker renders many chunks of one take: its renderer is built once per take and kept.
_OPEN: dict[str, Any] = {}


class FarmError(SetpieceError):
    """The Dask cluster cannot be reached or lost the render."""


@dataclass(frozen=True)
class Farm:
    """Where frames render: `workers` local processes, or an existing cluster at `scheduler`."""

    workers: int = 0
    scheduler: str | None = None


@dataclass
class _Shown:
    """The part of a comp result the sequence writers read (the MP4: display frames)."""

    display8: Any


def chunks(frames: int, parts: int) -> list[range]:
    """Contiguous frame ranges, as even as possible."""
    parts = max(1, min(parts, frames))
    edges = [round(i * frames / parts) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def connect(farm: Farm):
    """A Dask client for the farm: a LocalCluster of `workers` processes, or the scheduler's."""
    from distributed import Client, LocalCluster

    if farm.scheduler:
        try:
            return Client(farm.scheduler, timeout=f"{CONNECT_TIMEOUT_S}s"), None
        except (OSError, TimeoutError, ValueError) as err:
            raise FarmError(
                f"--scheduler {farm.scheduler}: cannot reach the Dask scheduler ({type(err).__name__}); "
                "start one with `dask scheduler` and workers with `dask worker tcp://HOST:8786`, "
                "or use --workers N for a local cluster"
            ) from None
    cluster = LocalCluster(
        n_workers=farm.workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    return Client(cluster), cluster


@contextmanager
def farm_client(farm: Farm | None):
    """A connected Dask client for the farm (None without one), closed afterwards.
    Connect before the sim: a bad address fails in seconds, not after minutes of work."""
    if farm is None or not (farm.workers or farm.scheduler):
        yield None
        return
    client, cluster = guarded("farm", lambda: connect(farm))
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def render_on_farm(
    client, spec, run: Run, work: Path, frame_stages: list, progress: Progress | None = None
) -> dict[str, Any]:
    """Render every frame on the farm; returns the frame stages' summaries (files written)."""
    from distributed import as_completed

    needed = sorted({n for s in frame_stages for n in s.needs})
    shared = client.scatter({n: run.artifacts[n] for n in needed}, broadcast=True)
    take_key = "-".join(run.keys[n] for n in needed) + f"-{os.getpid()}-{id(run)}"
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    spec_data = spec.model_dump(mode="json")
    futures = {
        client.submit(
            render_chunk, spec_data, shared, str(work), part.start, part.stop, take_key, pure=False, retries=RETRIES
        ): part
        for part in chunks(spec.shot.frames, workers * CHUNKS_PER_WORKER)
    }
    done, results = 0, {}
    try:
        for future in as_completed(futures):
            results[futures[future].start] = guarded("farm", future.result)
            done += len(futures[future])
            if progress:
                progress("render", done, spec.shot.frames)
    finally:
        client.run(release, take_key)
    return _finish(spec, run, work, frame_stages, results)


def _finish(spec, run: Run, work: Path, frame_stages: list, results: dict[int, dict]) -> dict[str, Any]:
    """Sum the workers' seconds into the run's timings and feed the sequence writers in frame order."""
    deliver = frame_stages[-1]
    for chunk in results.values():
        for stage, seconds in chunk["timings"].items():
            run.timings[stage] = run.timings.get(stage, 0.0) + seconds
    shown = [frame for start in sorted(results) for frame in results[start]["shown"]]
    sequence = run_frames([_replay(deliver, shown)], spec, run, range(len(shown)), None, work, {"writers": "sequence"})
    files = {}
    for chunk in results.values():
        files.update(chunk["files"])
    files.update(sequence.get(deliver.name) or {})
    return {deliver.name: files}


def _replay(deliver, shown: list):
    """The deliver stage fed the display frames the workers sent back, in order."""
    from setpiece.graph import FrameStage

    def open_(ctx):
        worker = deliver.open(ctx)
        return _Replayed(worker, shown)

    return FrameStage(deliver.name, deliver.reads, deliver.needs, deliver.version, open_)


class _Replayed:
    def __init__(self, worker, shown):
        self.worker, self.shown = worker, shown

    def frame(self, index: int, upstream=None):
        return self.worker.frame(index, (None, _Shown(self.shown[index])))

    def close(self, ok: bool):
        return self.worker.close(ok)


def render_chunk(spec_data: dict, artifacts: dict, work: str, start: int, stop: int, take_key: str) -> dict:
    """On a worker: render, comp and write frames start..stop-1; send back the display frames
    (for the MP4), the files written and the seconds each stage took."""
    from setpiece.spec import spec_from_dict
    from setpiece.stages import FRAME_STAGES

    spec = spec_from_dict(spec_data, "farm")
    run = Run(artifacts=dict(artifacts))
    render, comp, deliver = FRAME_STAGES
    kept = _OPEN.get(take_key)
    if kept is None:
        kept = _OPEN[take_key] = _Kept()
    shown: list = []
    stages = [kept.stage(render), kept.stage(comp, shown if spec.output.mp4 else None), deliver]
    summaries = run_frames(stages, spec, run, range(start, stop), None, Path(work), {"writers": "per_frame"})
    return {"shown": shown, "files": summaries.get(deliver.name) or {}, "timings": run.timings}


class _Kept:
    """Render and comp workers opened once per take on this worker, reused by its chunks."""

    def __init__(self):
        self.workers: dict[str, Any] = {}

    def stage(self, stage, sink: list | None = None):
        """The stage, opened once; sink (if given) receives each frame's display image."""
        from setpiece.graph import FrameStage

        def open_(ctx):
            if stage.name not in self.workers:
                self.workers[stage.name] = stage.open(ctx)
            return _Reused(self.workers[stage.name], sink)

        return FrameStage(stage.name, stage.reads, stage.needs, stage.version, open_)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close(True)


class _Reused:
    def __init__(self, worker, sink: list | None):
        self.worker, self.sink = worker, sink

    def frame(self, index: int, upstream):
        value = self.worker.frame(index, upstream)
        if self.sink is not None:
            self.sink.append(value[1].display8)
        return value

    def close(self, ok: bool) -> None:
        return None  # kept open for the take's next chunk; `release` closes it


def release(take_key: str) -> None:
    """On every worker, when a take is done: close its kept renderers."""
    kept = _OPEN.pop(take_key, None)
    if kept is not None:
        kept.close()
