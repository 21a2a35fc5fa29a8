"""Dust benchmark: solver time per frame and ray-march time per frame.

    PYTHONPATH=. python bench/dust.py [--quick]

Workload: a synthetic top-down collapse of a 20 x 20 x 30 m building (400
break/impact events over 3.3 s) at 24 fps, one substep per frame. Prints
seconds per frame for the solver at 64^3 and 128^3 (plus the shot-shaped
default grid, 64 cells on the longest axis) on the CPU and on CUDA when
present, and for the ray march at 640x360."""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from setpiece.artifacts import Event
from setpiece.camera import Camera, sun_direction
from setpiece.fx.smoke import DustSolver, resolve_device
from setpiece.fx.volume import raymarch

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames at 128^3")
    args = parser.parse_args()
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
