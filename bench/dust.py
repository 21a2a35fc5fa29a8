"""Dust benchmark: solver time per frame and ray-march time per frame.

    PYTHONPATH=. python bench/dust.py [--quick]
    PYTHONPATH=. python bench/dust.py --targets      # the issue's two speed targets
    PYTHONPATH=. python bench/dust.py --march examples/collapse.toml   # the preview dust of a real shot

Workload: a synthetic top-down collapse of a 20 x 20 x 30 m building (400
break/impact events over 3.3 s) at 24 fps, one substep per frame. Prints
seconds per frame for the solver at 64^3 and 128^3 (plus the shot-shaped
default grid, 64 cells on the longest axis) on the CPU and on CUDA when
present, and for the ray march at 640x360. On the CPU the solver works only in
a box grown around the dust, so its seconds per frame grow as the cloud spreads
(ns/cell divides by the whole grid).

--targets: the whole 96^3 sim for 120 frames (target <= 20 s) and the preview
dust layer (ray march with detail) of a 640x360 frame (target <= 0.1 s), with
the CPU seconds beside the wall seconds (on a shared machine the wall clock
also counts other people's work).

--march: the preview dust layer of a shot's frames 30-150 (every 4th; the shot's
stages come from its cache), wall and CPU seconds per frame of
the layer alone (the march and its lighting, not the rasteriser).

docs/dust.png (frames 30-120 from both backends) comes from `bench/sheet.py dust`."""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from setpiece.artifacts import Event
from setpiece.camera import Camera, sun_direction
from setpiece.fx.smoke import DustSolver, resolve_device
from setpiece.fx.volume import DETAIL, raymarch

FPS = 24
SHOT_BOUNDS = ((-40.0, -40.0, 0.0), (40.0, 40.0, 35.0))
CUBE_BOUNDS = ((-40.0, -40.0, 0.0), (40.0, 40.0, 80.0))
CAMERA = Camera(position=(55.0, -75.0, 18.0), target=(0.0, 0.0, 8.0), width=640, height=360)
SUN = sun_direction(35.0, 120.0)


def collapse_events(seed: int = 1, count: int = 400) -> list[Event]:
    """Breaks at a crush front moving down the building, impacts around its base."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(count):
        t = rng.uniform(0.0, 3.0)
        if rng.random() < 0.5:
            front = 30.0 * (1.0 - t / 3.0)
            pos = (rng.uniform(-10, 10), rng.uniform(-10, 10), front + rng.uniform(-2, 2))
            events.append(Event(t, pos, rng.uniform(500, 4000), rng.uniform(2, 8), "break"))
        else:
            pos = (rng.uniform(-14, 14), rng.uniform(-14, 14), rng.uniform(0, 1.5))
            events.append(Event(t + 0.3, pos, rng.uniform(500, 5000), rng.uniform(8, 22), "impact"))
    return sorted(events, key=lambda e: e.time)


def run_frames(solver: DustSolver, events: list[Event], start: int, stop: int) -> list[float]:
    """Advance frames start..stop-1 (emit + step); seconds for each."""
    dt = 1.0 / FPS
    times = np.array([e.time for e in events])
    seconds = []
    for frame in range(start, stop):
        t0 = time.perf_counter()
        window = (times > frame * dt) & (times <= (frame + 1) * dt)
        solver.emit([e for e, hit in zip(events, window) if hit], dt)
        solver.step(dt)
        if solver.device != "cpu":
            solver.density  # noqa: B018  (waits for the GPU)
        seconds.append(time.perf_counter() - t0)
    return seconds


def bench_solver(bounds, resolution: int, device: str, frames: int) -> tuple[tuple, float]:
    """Mean seconds per frame over `frames` frames in the middle of the collapse."""
    events = collapse_events()
    solver = DustSolver(*bounds, resolution, device=device)
    run_frames(solver, events, 0, 24)  # compile kernels, get dust moving
    return solver.shape, float(np.mean(run_frames(solver, events, 24, 24 + frames)))


def bench_raymarch(resolution: int, repeats: int = 5) -> tuple[float, float, float]:
    """(seconds per ray march, fraction of pixels covered, seconds to reach frame 72)."""
    solver = DustSolver(*SHOT_BOUNDS, resolution, device="cpu")
    t0 = time.perf_counter()
    run_frames(solver, collapse_events(), 0, 72)
    sim = time.perf_counter() - t0
    lo, hi = solver.bounds
    density = solver.density
    raymarch(density, lo, hi, CAMERA, SUN)  # compile
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rgba = raymarch(density, lo, hi, CAMERA, SUN, sun_color=(3.0, 2.8, 2.5), sky_color=(0.35, 0.45, 0.6))
        seconds.append(time.perf_counter() - t0)
    return float(np.median(seconds)), float((rgba[..., 3] > 0.01).mean()), sim


def bench_targets() -> None:
    """The issue's targets: 96^3 x 120 frames of sim, and one 640x360 preview dust layer."""
    events = collapse_events()
    solver = DustSolver(*CUBE_BOUNDS, 96, device="cpu")
    run_frames(solver, events, 0, 2)  # compile the kernels outside the timing
    solver = DustSolver(*CUBE_BOUNDS, 96, device="cpu")
    wall, cpu = time.perf_counter(), time.process_time()
    run_frames(solver, events, 0, 120)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  sim  cpu 96^3 {'x'.join(map(str, solver.shape))}, 120 frames: {wall:6.1f} s wall, {cpu:6.1f} s CPU")
    lo, hi = solver.bounds
    density = solver.density
    kwargs = dict(sun_color=(1.0, 0.95, 0.9), sky_color=(0.35, 0.45, 0.6), detail=DETAIL, time=5.0)
    raymarch(density, lo, hi, CAMERA, SUN, **kwargs)  # compile
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        rgba = raymarch(density, lo, hi, CAMERA, SUN, **kwargs)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"  preview dust 640x360 (ray march with detail, 96^3 grid at frame 120): {np.median(walls):.3f} s wall, "
        f"{np.median(cpus):.3f} s CPU per frame ({(rgba[..., 3] > 0.01).mean():.0%} of pixels show dust)"
    )


def bench_shot_march(spec_path: str, shot_dir: str | None = None, frames=range(29, 150, 4)) -> None:
    """Wall and CPU seconds of the preview dust layer (setpiece.fx.volume.dust_layer) per
    frame of a shot, timed inside the preview backend as it renders those frames."""
    from pathlib import Path

    import setpiece.render.preview as preview
    from setpiece.graph import run_frames as run_frame_stages
    from setpiece.graph import run_stages
    from setpiece.spec import load_spec
    from setpiece.stages import SHOT_STAGES, render

    spec = load_spec(spec_path)
    shot = spec.model_copy(update={"render": spec.render.model_copy(update={"backend": "preview"})})
    run = run_stages(SHOT_STAGES, shot, Path(shot_dir or Path("shots") / shot.shot.name) / ".cache")
    layer, timings = preview.dust_layer, []

    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        out = layer(*args, **kwargs)
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
        return out

    preview.dust_layer = timed
    try:
        run_frame_stages([render.STAGE], shot, run, list(frames))
    finally:
        preview.dust_layer = layer
    walls, cpus = np.array(timings[1:]).T  # the first frame also loads the kernels
    print(
        f"  preview dust {shot.render.width}x{shot.render.height}, frames {frames[1] + 1}-{frames[-1] + 1}: "
        f"{walls.mean():.3f} s wall (max {walls.max():.3f}), {cpus.mean():.3f} s CPU (max {cpus.max():.3f}) per frame"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames at 128^3")
    parser.add_argument("--targets", action="store_true", help="only the issue's two speed targets")
    parser.add_argument("--march", metavar="SPEC", help="time the preview dust layer on a shot's frames 30-150")
    parser.add_argument("--shot-dir", help="--march: the shot folder whose cache to reuse (shots/NAME)")
    args = parser.parse_args()
    if args.march:
        bench_shot_march(args.march, shot_dir=args.shot_dir)
        return
    if args.targets:
        bench_targets()
        return
    print(f"dust bench on {platform.processor() or platform.machine()}, fps {FPS}, 1 substep")
    devices = ["cpu"] + (["cuda"] if resolve_device("auto") == "cuda" else [])
    for device in devices:
        cases = [
            ("shot", SHOT_BOUNDS, 64, 48),
            ("cube", CUBE_BOUNDS, 64, 48),
            ("cube", CUBE_BOUNDS, 128, 4 if args.quick else 12),
        ]
        for name, bounds, res, frames in cases:
            shape, sec = bench_solver(bounds, res, device, frames)
            cells = int(np.prod(shape))
            print(
                f"  sim  {device:4s} {name:4s} {'x'.join(map(str, shape)):>11s} "
                f"{sec:7.3f} s/frame  ({sec / cells * 1e9:.0f} ns/cell)"
            )
    for res in (64, 128):
        sec, coverage, sim = bench_raymarch(res)
        print(
            f"  march cpu  640x360 of the {res}-cell shot grid at frame 72: {sec:7.3f} s/frame "
            f"({coverage:.0%} of pixels show dust; reaching frame 72 took {sim:.1f} s)"
        )


if __name__ == "__main__":
    main()
