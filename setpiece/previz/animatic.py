"""Animatic: boards held for their shot's duration, as an H.264 MP4 with a
burned-in caption strip, plus an OpenTimelineIO timeline of the same edit.

Both use the same whole-frame length per shot, so the MP4 and the .otio agree
frame for frame. Clip media references are paths relative to the .otio file,
so a take folder can be moved or renamed without breaking the timeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
from PIL import Image, ImageDraw

from setpiece.deliver.writers import Mp4Writer
from setpiece.errors import InputError, OutputError
from setpiece.previz.shotlist import Shot, frames_at
from setpiece.previz.text import fit_text, load_font
from setpiece.vocab import SHOT_SIZES

Progress = Callable[[str, int, int], None]
GREY = (92, 92, 96)


def write_animatic(
    board_pngs: list[Path],
    shots: list[Shot],
    out_dir: str | Path,
    fps: int = 24,
    name: str = "animatic",
    progress: Progress | None = None,
) -> tuple[Path, Path]:
    """Write ``name.mp4`` and ``name.otio`` into out_dir; return both paths.
    ``progress("animatic", done, total)`` hears about each board encoded."""
    if len(board_pngs) != len(shots):
        raise InputError(f"animatic needs one board per shot: got {len(board_pngs)} boards for {len(shots)} shots")
    if not shots:
        raise InputError("animatic needs at least one shot")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [frames_at(s.duration_s, fps) for s in shots]
    mp4 = out_dir / f"{name}.mp4"
    otio_path = out_dir / f"{name}.otio"
    _write_mp4(mp4, [Path(p) for p in board_pngs], shots, frames, fps, progress)
    _write_otio(otio_path, [Path(p) for p in board_pngs], shots, frames, fps, name)
    return mp4, otio_path


# --------------------------------------------------------------------------- MP4


def _write_mp4(
    path: Path, boards: list[Path], shots: list[Shot], frames: list[int], fps: int, progress: Progress | None = None
) -> None:
    """The boards through deliver's MP4 writer (the shot pipeline's), each held for its frames."""
    width, height = _even_size(open_board(boards[0]).size)
    writer = None
    try:
        writer = Mp4Writer(path, width, height, Fraction(fps), crf=20)
        for k, (board, shot, count) in enumerate(zip(boards, shots, frames), start=1):
            picture = np.asarray(captioned(open_board(board).resize((width, height)), shot))
            for _ in range(count):
                writer.add(picture)
            if progress:
                progress("animatic", k, len(boards))
        writer.close()
    except (av.error.FFmpegError, OSError) as err:
        raise OutputError(f"cannot write animatic {path}: {err}") from None
    finally:
        if writer is not None:
            writer.discard()


def open_board(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as err:
        raise InputError(f"board image {path} cannot be read: {err}") from None


def _even_size(size: tuple[int, int]) -> tuple[int, int]:
    """H.264 with 4:2:0 chroma needs even dimensions."""
    w, h = size
    return max(2, w - w % 2), max(2, h - h % 2)


def captioned(image: Image.Image, shot: Shot) -> Image.Image:
    """The board with a dark strip at the bottom: number, size, move, description."""
    image = image.copy()
    w, h = image.size
    strip = max(12, h // 12)
    font = load_font(max(8, int(strip * 0.55)))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, h - strip, w, h), fill=(0, 0, 0, 190))
    label = f"{shot.number}  {shot.size} {shot.move}  {shot.duration_s:g}s  {shot.description}"
    draw.text(
        (strip // 3, h - strip // 2),
        fit_text(label, font, w - strip),
        font=font,
        fill=(255, 255, 255, 255),
        anchor="lm",
    )
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


# --------------------------------------------------------------------------- OTIO


def _write_otio(path: Path, boards: list[Path], shots: list[Shot], frames: list[int], fps: int, name: str) -> None:
    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, fps))
    track = otio.schema.Track(name="boards", kind=otio.schema.TrackKind.Video)
    for board, shot, count in zip(boards, shots, frames):
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(count, fps))
        ref = otio.schema.ExternalReference(
            target_url=Path(os.path.relpath(board, path.parent)).as_posix(), available_range=span
        )
        clip = otio.schema.Clip(
            name=shot.number, media_reference=ref, source_range=span, metadata={"setpiece": shot.to_dict()}
        )
        clip.markers.append(
            otio.schema.Marker(
                name=shot.number,
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(0, fps)
                ),
                metadata={"setpiece": {"shot": shot.number, "scene": shot.scene, "kind": shot.kind}},
            )
        )
        track.append(clip)
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))


# --------------------------------------------------------------------------- placeholder boards


def placeholder_board(shot: Shot, size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A grey board: the shot's framing as a rectangle inside the widest frame."""
    w, h = size
    image = Image.new("RGB", (w, h), GREY)
    draw = ImageDraw.Draw(image)
    horizon = int(h * 0.62)
    draw.line((0, horizon, w, horizon), fill=(120, 120, 126), width=max(1, h // 180))
    scale = SHOT_SIZES[shot.size].sketch_scale if shot.size in SHOT_SIZES else 0.6
    fw, fh = w * scale * 0.94, h * scale * 0.94
    cx, cy = w / 2, h * 0.45
    box = (cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2)
    draw.rectangle(box, outline=(235, 235, 235), width=max(1, h // 120))
    big, small = load_font(max(8, h // 8)), load_font(max(7, h // 16))
    draw.text((w / 2, cy), f"{shot.number}  {shot.size}", font=big, fill=(250, 250, 250), anchor="mm")
    detail = f"{shot.kind} · {shot.angle} · {shot.lens_mm:g}mm · {shot.move}"
    draw.text((w / 2, cy + h // 8), fit_text(detail, small, w - 8), font=small, fill=(215, 215, 215), anchor="mm")
    if shot.subject:
        draw.text(
            (w / 2, h * 0.08), fit_text(shot.subject, small, w - 8), font=small, fill=(200, 200, 200), anchor="mm"
        )
    return image
