"""Contact sheets of the example shot: one row per variant, one column per frame.

    .venv/bin/python bench/sheet.py look      # docs/look.png: preview and final backends
    .venv/bin/python bench/sheet.py dust      # docs/dust.png: frames 30-120 of both backends
    .venv/bin/python bench/sheet.py collapse  # docs/collapse.png: implode and topple, dust off and on
    .venv/bin/python bench/sheet.py look --spec my.toml --out /tmp/look.png --frames 1 60

Each variant runs (or reuses, from bench/out/sheet/.cache) the shot's whole-shot
stages, then renders and comps only the listed frames (1-based, as the PNG
sequence numbers them) through the shot's own render and comp stages. Prints
the seconds per frame (render + comp) of each row.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from setpiece.graph import make_context, run_stages
from setpiece.spec import load_spec, spec_from_dict
from setpiece.stages import SHOT_STAGES
from setpiece.stages import comp as comp_stage
from setpiece.stages import render as render_stage

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "examples" / "collapse.toml"
CACHE = ROOT / "out" / "sheet" / ".cache"
MAX_WIDTH = 2560  # pixels: wider sheets are scaled down


# each row: spec changes by section
SHEETS = {
    "look": {
        "frames": [1, 30, 60, 90, 120],
        "rows": {
            "preview": {"render": {"backend": "preview"}},
            "final": {"render": {"backend": "final"}},
        },
    },
    "dust": {
        "frames": [30, 60, 90, 120],
        "rows": {
            "preview": {"render": {"backend": "preview"}},
            "final": {"render": {"backend": "final"}},
        },
    },
    "collapse": {
        "frames": [1, 30, 60, 90, 120],
        "rows": {
            "implode, dust off": {"trigger": {"mode": "implode"}, "dust": {"enabled": False}},
            "implode": {"trigger": {"mode": "implode"}},
            "topple left, dust off": {"trigger": {"mode": "topple", "side": "left"}, "dust": {"enabled": False}},
            "topple left": {"trigger": {"mode": "topple", "side": "left"}},
        },
    },
}


def render_frames(spec, frames: list[int]) -> tuple[list[np.ndarray], float]:
    """Comped display frames of the listed frame numbers, and seconds per frame."""
    run = run_stages(SHOT_STAGES, spec, CACHE)
    render = render_stage.STAGE.open(make_context(render_stage.STAGE, spec, run.artifacts, None, None))
    comp = comp_stage.STAGE.open(make_context(comp_stage.STAGE, spec, run.artifacts, None, None))
    images, start = [], time.perf_counter()
    try:
        for number in frames:
            _, result = comp.frame(number - 1, render.frame(number - 1))
            images.append(result.display8)
    finally:
        render.close(True)
    return images, (time.perf_counter() - start) / len(frames)


def compose(rows: dict[str, list[np.ndarray]], frames: list[int]) -> Image.Image:
    """One row per variant, labelled with the variant and frame number."""
    h, w = next(iter(rows.values()))[0].shape[:2]
    sheet = Image.new("RGB", (w * len(frames), h * len(rows)), "black")
    draw = ImageDraw.Draw(sheet)
    for r, (label, images) in enumerate(rows.items()):
        for c, (number, image) in enumerate(zip(frames, images)):
            sheet.paste(Image.fromarray(image), (c * w, r * h))
            draw.text((c * w + 6, r * h + 4), f"{label}  frame {number}", fill=(255, 255, 255))
    if sheet.width > MAX_WIDTH:
        scale = MAX_WIDTH / sheet.width
        sheet = sheet.resize((MAX_WIDTH, round(sheet.height * scale)), Image.LANCZOS)
    return sheet


def make_sheet(name: str, spec_path: Path, out: Path, frames: list[int] | None, width: int) -> None:
    kind = SHEETS[name]
    frames = frames or kind["frames"]
    base = load_spec(spec_path).model_dump()
    base["render"].update(width=width, height=width * 9 // 16)
    rows = {}
    for label, changes in kind["rows"].items():
        data = copy.deepcopy(base)
        for section, values in changes.items():
            data[section].update(values)
        images, per_frame = render_frames(spec_from_dict(data, str(spec_path)), frames)
        print(f"{label:<24} {per_frame:6.2f} s per frame (render + comp)")
        rows[label] = images
    out.parent.mkdir(parents=True, exist_ok=True)
    compose(rows, frames).save(out)
    print(f"wrote {out} (rows: {', '.join(rows)}; frames {', '.join(map(str, frames))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sheet", choices=sorted(SHEETS))
    parser.add_argument("--spec", type=Path, default=EXAMPLE)
    parser.add_argument("--out", type=Path, help="default docs/SHEET.png")
    parser.add_argument("--frames", type=int, nargs="+")
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    out = args.out or ROOT.parent / "docs" / f"{args.sheet}.png"
    make_sheet(args.sheet, args.spec, out, args.frames, args.width)


if __name__ == "__main__":
    main()
