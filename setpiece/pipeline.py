"""One shot, stage by stage: spec -> scene -> fracture -> sim -> render -> comp -> deliver.

Fracture and sim results are cached in the shot folder under a hash of the
spec sections they depend on, so changing render settings re-runs nothing
upstream. Every run writes a new take folder (take_001, take_002, ...), built
under a hidden name and renamed only when complete: earlier takes are never
touched, and a failed run leaves no half take behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from setpiece import __version__, takes
from setpiece.color import check_display
from setpiece.comp import comp_frame, load_plate
from setpiece.deliver.writers import Mp4Writer, write_exr, write_png, write_usd
from setpiece.fx.smoke import DustEvent, DustFrame, simulate_dust
from setpiece.physics.debris import Debris, debris_meshes, half_heights, simulate_debris
from setpiece.physics.fracture import Fragments, fracture
from setpiece.physics.rigid import SimResult, simulate
from setpiece.render import make_backend
from setpiece.spec import ShotSpec, dump_spec
from setpiece.world.building import build_scene

DUST_GAIN = 100.0  # dust.amount = 1 gives a thick demolition cloud from a concrete collapse
CRACK_DUST = 0.2  # dust of a glue crack relative to an impact of equal mass and speed
Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass
class TakeResult:
    take_dir: Path
    frames: int
    fragments: int
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def run_shot(spec: ShotSpec, shot_dir: str | Path, progress: Progress | None = None) -> TakeResult:
    shot_dir = Path(shot_dir)
    check_display(spec.comp.ocio_config, spec.comp.display, spec.comp.view)
    if spec.comp.plate:  # a bad plate fails now, not after the sim
        load_plate(spec.comp.plate, 16, 16)
    work = takes.start(shot_dir)
    try:
        result = _run_stages(spec, shot_dir, work, progress)
        result.take_dir = takes.publish(work, shot_dir, "take_")
    except BaseException:
        takes.discard(work)
        raise
    return result


def _run_stages(spec: ShotSpec, shot_dir: Path, work: Path, progress: Progress | None) -> TakeResult:
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    with clock("scene"):
        scene = build_scene(spec)
    cache = _Cache(shot_dir / ".cache")
    with clock("fracture"):
        frags: Fragments = cache.get(
            "fracture",
            spec.digest("building", "fracture") + str(spec.shot.seed),
            lambda: fracture(scene.building, spec.fracture.fragments, spec.fracture.cluster_size, spec.shot.seed),
        )
    with clock("sim"):
        sim: SimResult = cache.get(
            "sim",
            spec.digest("shot", "building", "fracture", "trigger", "sim"),
            lambda: simulate(spec, scene.building, frags, _stage(progress, "sim")),
        )
    with clock("debris"):
        debris = _debris(spec, scene, sim, cache)
    with clock("dust_sim"):
        dust = _dust(spec, scene, sim, cache, _stage(progress, "dust"))
    files = _render_and_deliver(spec, scene, frags, sim, debris, dust, work, clock, progress)
    (work / "spec.toml").write_text(dump_spec(spec), encoding="utf-8")
    (work / "events.json").write_text(json.dumps([asdict(e) for e in sim.events]), encoding="utf-8")
    (work / "timings.json").write_text(json.dumps(timings, indent=1), encoding="utf-8")
    return TakeResult(work, sim.frames, len(frags), timings, files)


def _debris(spec: ShotSpec, scene, sim: SimResult, cache: _Cache) -> Debris | None:
    d = spec.debris
    if not d.enabled or d.count == 0:
        return None
    meshes = debris_meshes(d.count, d.size, scene.building.color, spec.shot.seed)
    motion = cache.get(
        "debris",
        spec.digest("shot", "building", "fracture", "trigger", "sim", "debris"),
        lambda: simulate_debris(sim.events, sim.frames, spec.shot.fps, d.count, half_heights(meshes), spec.shot.seed),
    )
    return Debris(meshes, motion)


def _dust(spec: ShotSpec, scene, sim: SimResult, cache: _Cache, progress) -> list[DustFrame] | None:
    """Dust density per frame (stored as float16), sourced from the sim's breaks and impacts."""
    d = spec.dust
    if not d.enabled or d.amount == 0:
        return None

    def compute() -> list[DustFrame]:
        lo, hi = dust_bounds(scene)
        events = [_dust_event(e) for e in sim.events]
        frames = []
        for frame in simulate_dust(
            events,
            lo,
            hi,
            sim.frames,
            spec.shot.fps,
            d.resolution,
            device=spec.render.device,
            seed=spec.shot.seed,
            amount=d.amount * DUST_GAIN,
        ):
            frames.append(dataclasses.replace(frame, density=frame.density.astype(np.float16)))
            progress(len(frames), sim.frames)
        return frames

    return cache.get(
        "dust", spec.digest("shot", "building", "fracture", "trigger", "sim", "dust") + spec.render.device, compute
    )


def _dust_event(e) -> DustEvent:
    """Glue cracking in mid-air puffs far less than pulverised supports and impacts."""
    mass = e.mass * (CRACK_DUST if e.kind == "break" and e.speed <= 1.0 else 1.0)
    return DustEvent(e.time, e.position, mass, e.speed, e.kind)


def dust_bounds(scene) -> tuple[np.ndarray, np.ndarray]:
    """The box dust can fill: the collapse's reach around the footprint, up past the roof."""
    reach = max(scene.building.height, *scene.building.footprint) * 1.6
    return np.array([-reach, -reach, 0.0]), np.array([reach, reach, scene.building.height * 1.4])


def _render_and_deliver(spec, scene, frags, sim, debris, dust, work: Path, clock, progress) -> dict[str, str]:
    plate = load_plate(spec.comp.plate, spec.render.width, spec.render.height) if spec.comp.plate else None
    with clock("render_init"):
        traced = dust and spec.dust.path_traced
        box = (dust[0].bounds_min, dust[0].bounds_max, dust[0].density.shape) if traced else None
        backend = make_backend(spec, scene, frags, debris.meshes if debris else [], box)
    parts = sim.concat(debris.motion) if debris else sim
    tick = _stage(progress, "render")
    writer = _FrameWriter(spec, work)
    try:
        previous = None
        for frame in range(sim.frames):
            matrices = parts.matrices(frame)
            with clock("render"):
                passes, dust_layer = backend.render(matrices, previous, dust[frame] if dust else None)
            previous = matrices
            with clock("comp"):
                result = comp_frame(spec, passes, frame, plate, dust_layer)
            with clock("deliver"):
                writer.add(frame, passes, result)
            tick(frame + 1, sim.frames)
    finally:
        backend.close()
        with clock("deliver"):
            files = writer.close()
    if spec.output.usd:
        with clock("usd"):
            name = spec.shot.name
            write_usd(
                work / f"{name}.usd", frags.vertices, frags.faces, sim, spec.shot.fps, scene.building.color, debris
            )
        files["usd"] = f"{name}.usd"
    return files


class _FrameWriter:
    """PNG and EXR frames encoded on a worker thread (their compressors release
    the GIL, so encoding overlaps the next frame's render); the MP4 in order."""

    def __init__(self, spec: ShotSpec, work: Path):
        self.out, self.work, self.name = spec.output, work, spec.shot.name
        for sub, wanted in (("png", self.out.png), ("exr", self.out.exr)):
            if wanted:
                (work / sub).mkdir()
        self.movie = (
            Mp4Writer(work / f"{self.name}.mp4", spec.render.width, spec.render.height, spec.shot.fps)
            if self.out.mp4
            else None
        )
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending = []

    def add(self, frame: int, passes, result) -> None:
        stem = f"{self.name}.{frame + 1:04d}"
        if self.out.png:
            self.pending.append(self.pool.submit(write_png, self.work / "png" / f"{stem}.png", result.display8))
        if self.out.exr:
            self.pending.append(self.pool.submit(write_exr, self.work / "exr" / f"{stem}.exr", passes, result.linear))
        if self.movie:
            self.movie.add(result.display8)
        while len(self.pending) > 8:  # bounded backlog: memory stays flat on long shots
            self.pending.pop(0).result()

    def close(self) -> dict[str, str]:
        try:
            for job in self.pending:
                job.result()  # re-raises a failed write
        finally:
            self.pool.shutdown()
            if self.movie:
                self.movie.close()
        return {"mp4": f"{self.name}.mp4"} if self.movie else {}


class _Cache:
    """Pickled stage results keyed by content hash and setpiece version."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(exist_ok=True)

    def get(self, stage: str, key: str, compute):
        path = self.root / f"{stage}-{key}-{__version__}.pkl"
        if path.is_file():
            try:
                with path.open("rb") as fh:
                    return pickle.load(fh)
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
                path.unlink(missing_ok=True)  # a broken cache entry is recomputed
        value = compute()
        tmp = path.with_suffix(".part")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return value


class _Clock:
    """Context manager factory adding wall time per stage into a dict."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    def __call__(self, stage: str):
        return _Timer(self.timings, stage)


class _Timer:
    def __init__(self, timings, stage):
        self.timings, self.stage = timings, stage

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.perf_counter() - self.t0


def _stage(progress: Progress | None, name: str):
    return (lambda done, total: progress(name, done, total)) if progress else (lambda done, total: None)
