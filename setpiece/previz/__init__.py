"""Screenplay previz: Fountain script -> breakdown -> shot list -> boards -> animatic.

Boards are drawn from simple 3D blocking with the preview renderer
(``setpiece.previz.boards.StoryboardRenderer``) unless another board renderer
is given; a contact sheet (HTML and PDF) lists every board with its action.

``run_previz`` writes one take folder per run (``out_dir/v001``, ``v002``, ...),
built in a hidden temporary folder and renamed into place when complete, so an
earlier take is never overwritten and a failed run leaves nothing half-written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from setpiece import takes
from setpiece.errors import OutputError, RenderError, ScreenplayError
from setpiece.previz.animatic import placeholder_board, write_animatic
from setpiece.previz.boards import StoryboardRenderer
from setpiece.previz.breakdown import SceneBreakdown, break_down, breakdown_csv, breakdown_json, breakdown_markdown
from setpiece.previz.contact_sheet import write_contact_sheet
from setpiece.previz.fountain import ParseWarning, Screenplay, parse, parse_file
from setpiece.previz.shotlist import (
    Shot,
    ShotListError,
    generate_shots,
    read_shotlist,
    shot_to_spec,
    shots_to_csv,
    shots_to_toml,
)

BoardRenderer = Callable[[Shot, SceneBreakdown, int, int], Image.Image]

__all__ = [
    "BoardRenderer",
    "PrevizResult",
    "ParseWarning",
    "SceneBreakdown",
    "Screenplay",
    "Shot",
    "StoryboardRenderer",
    "break_down",
    "generate_shots",
    "parse",
    "parse_file",
    "placeholder_board",
    "read_shotlist",
    "run_previz",
    "shot_to_spec",
    "write_animatic",
    "write_contact_sheet",
]


@dataclass
class PrevizResult:
    take_dir: Path
    screenplay: Screenplay
    scenes: list[SceneBreakdown]
    shots: list[Shot]
    boards: list[Path]
    animatic: Path  # .mp4
    timeline: Path  # .otio
    files: dict[str, Path] = field(default_factory=dict)  # every report by name
    contact_sheet: Path | None = None  # .html (a .pdf beside it)

    @property
    def warnings(self) -> list[ParseWarning]:
        return self.screenplay.warnings

    @property
    def out_dir(self) -> Path:
        """Alias of take_dir (the name setpiece.cli uses)."""
        return self.take_dir


def run_previz(
    script_path: str | Path,
    out_dir: str | Path,
    board_renderer: BoardRenderer | None = None,
    *,
    shot_list: str | Path | None = None,
    board_size: tuple[int, int] = (640, 360),
    fps: int = 24,
    progress: Callable[[str, int, int], None] | None = None,
) -> PrevizResult:
    """Parse, break down, plan shots (or read an edited ``shot_list``), draw boards
    (3D blocking unless ``board_renderer`` is given), cut the animatic and write the
    contact sheet into a new take folder under out_dir. ``progress(stage, done, total)``
    hears about each board drawn."""
    play = parse_file(script_path)
    scenes = break_down(play)
    if not scenes:
        raise ScreenplayError(
            f"{script_path}: no scenes to previz (the script has no scene headings, action or dialogue)"
        )
    shots = read_shotlist(shot_list) if shot_list else generate_shots(scenes)
    by_number = {s.number: s for s in scenes}
    for shot in shots:
        if shot.scene not in by_number:
            raise ShotListError(f"shot {shot.number} is in scene {shot.scene!r}, which {script_path} does not have")
    own_renderer = board_renderer is None
    renderer = board_renderer or StoryboardRenderer(scenes, shots)

    out_dir = Path(out_dir)
    tmp = takes.start(out_dir)
    try:
        files = _write_reports(tmp, Path(script_path), play, scenes, shots)
        try:
            boards = _write_boards(tmp / "boards", shots, by_number, renderer, board_size, progress)
        finally:
            if own_renderer:
                renderer.close()
        mp4, otio_path = write_animatic(boards, shots, tmp, fps=fps)
        files |= write_contact_sheet(tmp, boards, shots, scenes, title=play.title)
        take = takes.publish(tmp, out_dir, "v")
    except BaseException as err:
        takes.discard(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write previz into {out_dir}: {err}") from None
        raise
    files |= {"animatic.mp4": mp4, "animatic.otio": otio_path}
    moved = {name: take / path.relative_to(tmp) for name, path in files.items()}
    return PrevizResult(
        take,
        play,
        scenes,
        shots,
        [take / b.relative_to(tmp) for b in boards],
        take / mp4.name,
        take / otio_path.name,
        moved,
        moved.get("contact_sheet.html"),
    )


def _write_reports(
    folder: Path, script: Path, play: Screenplay, scenes: list[SceneBreakdown], shots: list[Shot]
) -> dict[str, Path]:
    reports = {
        "screenplay.fountain": script.read_bytes(),
        "breakdown.json": breakdown_json(scenes, play),
        "breakdown.md": breakdown_markdown(scenes, play),
        "breakdown.csv": breakdown_csv(scenes),
        "shotlist.csv": shots_to_csv(shots),
        "shotlist.toml": shots_to_toml(shots),
    }
    if play.warnings:
        reports["warnings.txt"] = "".join(f"{script}:{w.line}: {w.message}\n" for w in play.warnings)
    files = {}
    for name, content in reports.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        files[name] = path
    return files


def _write_boards(
    folder: Path,
    shots: list[Shot],
    scenes: dict[str, SceneBreakdown],
    renderer: BoardRenderer,
    size: tuple[int, int],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Path]:
    folder.mkdir()
    paths = []
    if progress:
        progress("boards", 0, len(shots))
    for k, shot in enumerate(shots, start=1):
        image = renderer(shot, scenes[shot.scene], *size)
        if not isinstance(image, Image.Image):
            raise RenderError(
                f"board renderer returned {type(image).__name__} for shot {shot.number}; it must return a PIL image"
            )
        path = folder / f"{k:03d}_{re.sub(r'[^A-Za-z0-9_-]+', '_', shot.number)}.png"
        image.save(path)
        paths.append(path)
        if progress:
            progress("boards", k, len(shots))
    return paths
