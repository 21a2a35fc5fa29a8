"""Final-backend throughput on the render farm (Dask LocalCluster).

    .venv/bin/python bench/farm.py [--frames 24] [--spp 16]

Prints frames per minute of the final backend (Mitsuba + OIDN, 640x360) with
1 and 2 local workers, after the whole-shot stages are cached; where a CUDA GPU
is present, also the 120-frame 1080p final shot's time on it (no farm).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from setpiece.farm import Farm
from setpiece.pipeline import run_shot
from setpiece.spec import load_spec, spec_from_dict

ROOT = Path(__file__).resolve().parent


def _spec(frames: int, spp: int, width: int, height: int):
    data = load_spec(ROOT.parent / "examples" / "collapse.toml").model_dump()
    data["shot"]["frames"] = frames
    data["render"].update(backend="final", width=width, height=height, spp=spp)
    data["output"].update(exr=False, usd=False)
    return spec_from_dict(data, "bench")


def _has_cuda() -> bool:
    try:
        import drjit

        return bool(drjit.has_backend(drjit.JitBackend.CUDA))
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--spp", type=int, default=4)
    args = parser.parse_args()
    out = ROOT / "out" / "farm"
    shutil.rmtree(out, ignore_errors=True)
    spec = _spec(args.frames, args.spp, 640, 360)
    run_shot(spec, out)  # warm the cache: the sim, debris and dust are not what is measured
    for workers in (0, 1, 2):
        start = time.perf_counter()
        run_shot(spec, out, farm=Farm(workers=workers))
        seconds = time.perf_counter() - start
        label = "no farm" if workers == 0 else f"{workers} worker{'s' * (workers > 1)}"
        print(
            f"final 640x360 {args.spp} spp, {label:<9}: {args.frames / seconds * 60:6.1f} frames/min ({seconds:.1f} s)"
        )
    if _has_cuda():
        gpu = _spec(120, 64, 1920, 1080)
        start = time.perf_counter()
        run_shot(gpu, out / "gpu")
        print(f"final 1080p 64 spp, 120 frames on CUDA: {time.perf_counter() - start:.1f} s")
    else:
        print("no CUDA GPU here: the 1080p GPU figure needs one")


if __name__ == "__main__":
    main()
