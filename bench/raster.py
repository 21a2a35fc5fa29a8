"""Raster-only time of the preview backend on the example shot (640x360, its 3,500 pieces).

    .venv/bin/python bench/raster.py [--frames 30 150 10] [--png out.png] [--dust]

Runs (or reuses, from bench/out/look/.cache) the example's whole-shot stages,
then times only the rasteriser part of the preview backend's frame (everything
`PreviewBackend.render` does except the ray-marched dust layer) over the frame
range (start, stop, step; 0-based). Prints seconds per frame, wall and CPU of
this process (CPU / wall = cores kept busy), and the load. Target (issue 11,
the raster share of the preview's 0.3 s): <= 0.2 s per frame on 2 cores.
With --dust the dust layer is timed as well (its own budget: 0.1 s).
With --png, writes the beauty of the first frame of the range (tone-mapped as
a quick look, not the comp) for before/after comparisons.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np

from setpiece.graph import make_context, run_stages
from setpiece.spec import load_spec, spec_from_dict
from setpiece.stages import SHOT_STAGES
from setpiece.stages import render as render_stage

ROOT = Path(__file__).resolve().parent
TARGET = 0.2  # s per frame, raster share of the preview's 0.3 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs=3, default=[30, 150, 10], metavar=("START", "STOP", "STEP"))
    parser.add_argument("--png", help="write the first timed frame's beauty here")
    parser.add_argument("--dust", action="store_true", help="time the dust layer too")
    args = parser.parse_args()
    data = load_spec(ROOT.parent / "examples" / "collapse.toml").model_dump()
    data["render"].update(backend="preview", width=640, height=360)
    spec = spec_from_dict(data, "bench")
    run = run_stages(SHOT_STAGES, spec, ROOT / "out" / "look" / ".cache")
    worker = render_stage.STAGE.open(make_context(render_stage.STAGE, spec, run.artifacts, None, None))
    backend = worker.backend
    frames = list(range(*args.frames))
    backend.render(frames[0], worker.parts.matrices(frames[0]), worker.parts.matrices(frames[0] - 1))  # warm up
    wall = cpu = dust_wall = dust_cpu = 0.0
    threads0 = _thread_cpu()
    for k, index in enumerate(frames):
        matrices, previous = worker.parts.matrices(index), worker.parts.matrices(index - 1)
        w0, c0 = time.perf_counter(), time.process_time()
        passes, _ = backend.render(index, matrices, previous, None)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        if args.dust and worker.dust:
            from setpiece.fx.volume import dust_layer
            from setpiece.render import frame_scene

            w0, c0 = time.perf_counter(), time.process_time()
            dust_layer(worker.dust[index], passes, frame_scene(worker.scene, backend.look.camera(worker.scene, index)), spec)
            dust_wall += time.perf_counter() - w0
            dust_cpu += time.process_time() - c0
        if k == 0 and args.png:
            _save(passes.beauty, args.png)
    threads = {k: v - threads0.get(k, 0.0) for k, v in _thread_cpu().items()}
    main_cpu = threads.pop(threading.get_native_id(), 0.0)
    worker.close(True)
    n = len(frames)
    print(f"raster: {wall / n:.3f} s/frame wall, {cpu / n:.3f} s/frame CPU ({cpu / wall:.2f} cores busy) over {n} frames")
    # the main thread (Python, numpy, llvmpipe's vertex work and binning) is the serial part;
    # llvmpipe's rasteriser threads share the rest: alone on 2 cores a frame takes about this
    alone = max(main_cpu, (main_cpu + sum(threads.values())) / 2) / n
    print(f"  main thread {main_cpu / n:.3f} s/frame CPU, other threads {sum(threads.values()) / n:.3f} s/frame CPU")
    verdict = "met" if alone <= TARGET else "MISSED"
    print(f"  alone on 2 cores about {alone:.3f} s/frame (target <= {TARGET} s): {verdict}; load {os.getloadavg()[0]:.2f}")
    if args.dust:
        print(f"dust:   {dust_wall / n:.3f} s/frame wall, {dust_cpu / n:.3f} s/frame CPU")


def _thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by thread id (Linux)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _save(beauty: np.ndarray, path: str) -> None:
    from PIL import Image

    srgb = np.clip(beauty / (1.0 + beauty), 0, 1) ** (1 / 2.2)  # a quick look, not the comp's view
    Image.fromarray((srgb * 255 + 0.5).astype(np.uint8)).save(path)


if __name__ == "__main__":
    main()
