"""Contact sheet of a plate-driven shot: docs/plate.png.

    PYTHONPATH=. .venv/bin/python bench/plate.py [--photo street.jpg] [--frames 120]

Photo, clean plate, then frames 30, 60 and 120 of the shot in which the photo's
building collapses. Without --photo it uses a synthetic street photo drawn by our
own rasteriser (tests/plate/synth.py). Prints the seconds the shot took.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from setpiece.pipeline import run_shot
from setpiece.plate.shot import make_plates, resolve
from setpiece.spec import spec_from_dict

ROOT = Path(__file__).resolve().parent


def _synthetic(path: Path) -> Path:
    from tests.plate.synth import render_photo, three_quarter

    Image.fromarray(render_photo(three_quarter(40, 35, 1.7, 9, 24, size=(960, 600)), floors=6)).save(path)
    return path


def _display(linear: np.ndarray) -> Image.Image:
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.clip(linear, 0, None) ** (1 / 2.4) - 0.055)
    return Image.fromarray((np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--out", type=Path, default=ROOT.parent / "docs" / "plate.png")
    args = parser.parse_args()
    out = ROOT / "out" / "plate"
    out.mkdir(parents=True, exist_ok=True)
    photo = args.photo or _synthetic(out / "street.png")
    spec = spec_from_dict({"shot": {"frames": args.frames}, "plate": {"photo": str(photo)}, "render": {"width": 640}})
    start = time.perf_counter()
    take = run_shot(spec, out / "shot").take_dir
    print(f"plate shot: {args.frames} frames in {time.perf_counter() - start:.1f} s -> {take}")
    resolved = resolve(spec)
    w, h = resolved.render.width, resolved.render.height
    plates = make_plates(resolved.plate).sized(w, h)
    tiles = [("photo", _display(plates.photo)), ("clean plate", _display(plates.clean))]
    for f in (30, 60, args.frames):
        tiles.append((f"frame {f}", Image.open(take / "png" / f"collapse.{f:04d}.png").convert("RGB")))
    sheet = Image.new("RGB", (w * len(tiles), h), "black")
    for k, (label, tile) in enumerate(tiles):
        sheet.paste(tile.resize((w, h)), (k * w, 0))
        ImageDraw.Draw(sheet).text((k * w + 6, 4), label, fill=(255, 255, 255))
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
