"""Raster-only time of the preview backend on the example shot (640x360, its 3,500 pieces).

    .venv/bin/python bench/raster.py [--frames 30 150 10] [--no-dust] [--png out.png]

Runs (or reuses, from bench/out/look/.cache) the example's whole-shot stages,
then times the preview backend's frames over the range (start, stop, step;
0-based) and splits each into the ray-marched dust layer (`fx.volume.dust_layer`,
its own budget: 0.1 s) and the rest, the raster part: shadow maps, the dust
cloud's shadow, the opaque, glass and resolve passes, read-back. Prints seconds
per frame, wall and CPU of this process, the CPU of its main thread, the load,
and what a frame would take alone on 2 cores: the main thread's CPU as if
serial plus half the rest (llvmpipe's rasteriser threads share the cores). Target (issue 11:
the raster share of the preview's 0.3 s): <= 0.2 s per frame on 2 cores.
With --png, writes the beauty of the first timed frame (a quick tone map, not
the comp) for before/after comparisons.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from setpiece.graph import make_context, run_stages
from setpiece.render import preview
from setpiece.spec import load_spec, spec_from_dict
from setpiece.stages import SHOT_STAGES
from setpiece.stages import render as render_stage

ROOT = Path(__file__).resolve().parent
TARGET = 0.2  # s per frame, raster share of the preview's 0.3 s


class Clock:
    """Wall, process CPU and main-thread CPU seconds spent inside `timed` calls."""

    def __init__(self):
        self.wall = self.cpu = self.main = 0.0

    def timed(self, fn):
        def call(*args, **kwargs):
            w, c, m = time.perf_counter(), time.process_time(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - w
                self.cpu += time.process_time() - c
                self.main += time.thread_time() - m

        return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs=3, default=[30, 150, 10], metavar=("START", "STOP", "STEP"))
    parser.add_argument("--no-dust", action="store_true", help="render without the dust (no cloud shadow either)")
    parser.add_argument("--png", help="write the first timed frame's beauty here")
    args = parser.parse_args()
    data = load_spec(ROOT.parent / "examples" / "collapse.toml").model_dump()
    data["render"].update(backend="preview", width=640, height=360)
    spec = spec_from_dict(data, "bench")
    run = run_stages(SHOT_STAGES, spec, ROOT / "out" / "look" / ".cache")
    worker = render_stage.STAGE.open(make_context(render_stage.STAGE, spec, run.artifacts, None, None))
    frames = list(range(*args.frames))
    worker.frame(frames[0])  # warm up: shaders compiled, targets made
    total, dust = Clock(), Clock()
    preview.dust_layer = dust.timed(preview.dust_layer)
    if args.no_dust:
        worker.dust = None
    render = total.timed(worker.frame)
    for k, index in enumerate(frames):
        passes, _ = render(index)
        if k == 0 and args.png:
            _save(passes.beauty, args.png)
    worker.close(True)
    n = len(frames)
    wall, cpu, main_cpu = (total.wall - dust.wall) / n, (total.cpu - dust.cpu) / n, (total.main - dust.main) / n
    # the main thread's share taken as serial, the rest shared by llvmpipe's threads: an upper bound
    alone = main_cpu + (cpu - main_cpu) / 2
    print(f"raster: {wall:.3f} s/frame wall, {cpu:.3f} s/frame CPU (main thread {main_cpu:.3f}) over {n} frames")
    verdict = "met" if alone <= TARGET else "MISSED"
    print(f"  alone on 2 cores about {alone:.3f} s/frame (target <= {TARGET} s): {verdict}")
    if not args.no_dust:
        print(f"dust layer: {dust.wall / n:.3f} s/frame wall, {dust.cpu / n:.3f} s/frame CPU")
    print(f"load average {os.getloadavg()[0]:.2f} (others' work inflates the wall time, not the CPU)")


def _save(beauty: np.ndarray, path: str) -> None:
    from PIL import Image

    srgb = np.clip(beauty / (1.0 + beauty), 0, 1) ** (1 / 2.2)  # a quick look, not the comp's view
    Image.fromarray((srgb * 255 + 0.5).astype(np.uint8)).save(path)


if __name__ == "__main__":
    main()
