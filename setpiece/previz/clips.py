"""VFX shots of a shot list rendered as preview collapse clips, for the animatic.

A VFX shot becomes a spec the way a prompt does: the shot list's lens, length and
scene light (`shot_to_spec`) as the base, then the shot's description read by the
prompt reader, so "the tower topples left in heavy dust" comes out as it reads.
Each clip is a small preview render (the board's size, PNG frames only) in the
previz take's `clips/SHOT/take_001`; the animatic plays its frames in place of the
board and the OTIO timeline references the take.
"""

from __future__ import annotations

from pathlib import Path

from setpiece.previz.breakdown import SceneBreakdown
from setpiece.previz.shotlist import Shot, shot_to_spec
from setpiece.spec import enough_fragments

RENDERED = ("collapse", "explosion", "debris", "dust", "smoke")  # categories a collapse clip can show


def wants_clip(shot: Shot) -> bool:
    return shot.kind == "vfx" and shot.subject.lower() in RENDERED


def clip_spec(shot: Shot, scene: SceneBreakdown | None, size: tuple[int, int], fps: float):
    """The shot list's setup, then what the shot's words say, as a small preview spec."""
    from setpiece.prompt import read_prompt
    from setpiece.spec import spec_from_dict

    base = shot_to_spec(shot, scene, fps=fps)
    reading = read_prompt(shot.description, base=base) if shot.description.strip() else None
    data = (reading.spec if reading else base).model_dump(mode="json")
    data["shot"].update(name=base.shot.name, frames=base.shot.frames, fps=fps)  # the cut decides the length
    data["render"].update(backend="preview", width=size[0], height=size[1])
    data["output"] = {name: name in ("png", "otio") for name in data["output"]}  # frames + the clip the OTIO swaps in
    return spec_from_dict(enough_fragments(data), f"shot {shot.number}")


def render_clips(
    shots: list[Shot], scenes: dict[str, SceneBreakdown], folder: Path, size: tuple[int, int], fps: float, progress=None
) -> dict[int, Path]:
    """Render every VFX shot that wants a clip; returns shot index -> its take folder."""
    from setpiece.pipeline import run_shot

    wanted = [(k, s) for k, s in enumerate(shots) if wants_clip(s)]
    takes: dict[int, Path] = {}
    for done, (k, shot) in enumerate(wanted, start=1):
        spec = clip_spec(shot, scenes.get(shot.scene), size, fps)
        takes[k] = run_shot(spec, folder / shot.number).take_dir
        if progress:
            progress("vfx clips", done, len(wanted))
    return takes


def clip_frames(take: Path) -> list[Path]:
    return sorted((take / "png").glob("*.png"))
