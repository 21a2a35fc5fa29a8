"""Contact sheet of the example shot from both backends: docs/look.png.

    .venv/bin/python bench/look.py [--frames 1 30 60 90 120] [--out docs/look.png]

Runs (or reuses, from bench/out/look/.cache) the example's whole-shot stages,
then renders and comps only the listed frames (1-based, as the PNG names) with
the preview and the final backend: one row per backend, one column per frame.
Prints the seconds each backend took per frame.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

from setpiece.graph import make_context, run_stages
from setpiece.spec import load_spec, spec_from_dict
from setpiece.stages import SHOT_STAGES
from setpiece.stages import comp as comp_stage
from setpiece.stages import render as render_stage

ROOT = Path(__file__).resolve().parent


def render_frames(spec, run, frames: list[int]) -> tuple[list[Image.Image], float]:
    """Comped frames (display-referred) of the listed frame numbers, and seconds per frame."""
    render = render_stage.STAGE.open(make_context(render_stage.STAGE, spec, run.artifacts, None, None))
    comp = comp_stage.STAGE.open(make_context(comp_stage.STAGE, spec, run.artifacts, None, None))
    images, start = [], time.perf_counter()
    try:
        for number in frames:
            _, result = comp.frame(number - 1, render.frame(number - 1))
            images.append(Image.fromarray(result.display8))
    finally:
        render.close(True)
    return images, (time.perf_counter() - start) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[1, 30, 60, 90, 120])
    parser.add_argument("--out", default=str(ROOT.parent / "docs" / "look.png"))
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    data = load_spec(ROOT.parent / "examples" / "collapse.toml").model_dump()
    data["render"].update(width=args.width, height=args.width * 9 // 16)
    rows = []
    for backend in ("preview", "final"):
        data["render"]["backend"] = backend
        spec = spec_from_dict(data, "bench")
        run = run_stages(SHOT_STAGES, spec, ROOT / "out" / "look" / ".cache")
        images, per_frame = render_frames(spec, run, args.frames)
        print(f"{backend:<8} {per_frame:6.2f} s per frame (render + comp)")
        rows.append((backend, images))
    w, h = rows[0][1][0].size
    sheet = Image.new("RGB", (w * len(args.frames), h * len(rows)), "black")
    draw = ImageDraw.Draw(sheet)
    for r, (backend, images) in enumerate(rows):
        for c, (number, image) in enumerate(zip(args.frames, images)):
            sheet.paste(image, (c * w, r * h))
            draw.text((c * w + 6, r * h + 4), f"{backend}  frame {number}", fill=(255, 255, 255))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
