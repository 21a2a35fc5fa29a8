"""Screenplay previz: Fountain script -> breakdown -> shot list -> boards -> animatic.

Boards are drawn from simple 3D blocking with the preview renderer
(``setpiece.previz.boards.StoryboardRenderer``) unless another board renderer
is given; a contact sheet (HTML and PDF) lists every board with its action.

``run_previz`` writes one take folder per run (``out_dir/v001``, ``v002``, ...),
built in a hidden temporary folder and renamed into place when complete, so an
earlier take is never overwritten and a failed, interrupted (Ctrl-C) or terminated
(SIGTERM) run leaves nothing half-written. A run draws at most ``MAX_SHOTS`` boards;
a longer script is refused up front with a ``scenes`` range that fits.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
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
Progress = Callable[[str, int, int], None]

__all__ = [
    "MAX_SHOTS",
    "BoardRenderer",
    "PrevizLimitError",
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
    "select_scenes",
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


MAX_SHOTS = 1500  # boards a run draws (~0.5 s each on 2 cores): a feature's previz is ~1,000 shots


class PrevizLimitError(ScreenplayError):
    """A script too long to previz in one run."""


def run_previz(
    script_path: str | Path,
    out_dir: str | Path,
    board_renderer: BoardRenderer | None = None,
    *,
    shot_list: str | Path | None = None,
    board_size: tuple[int, int] = (640, 360),
    fps: int = 24,
    progress: Progress | None = None,
    scenes: str | None = None,
) -> PrevizResult:
    """Parse, break down, plan shots (or read an edited ``shot_list``), draw boards
    (3D blocking unless ``board_renderer`` is given), cut the animatic and write the
    contact sheet into a new take folder under out_dir. ``scenes`` picks part of the
    script by scene number ("1-40,52,7A"). ``progress(stage, done, total)`` hears
    about each scene blocked, board drawn and board encoded.

    At most MAX_SHOTS shots a run (PrevizLimitError names a --scenes range that fits).
    The take is built in a hidden folder: an error, Ctrl-C or SIGTERM removes it."""
    play = parse_file(script_path)
    every_scene = break_down(play)
    if not every_scene:
        raise ScreenplayError(
            f"{script_path}: no scenes to previz (the script has no scene headings, action or dialogue)"
        )
    chosen = select_scenes(every_scene, scenes, str(script_path)) if scenes else every_scene
    by_number = {s.number: s for s in chosen}
    if shot_list:
        shots = [s for s in read_shotlist(shot_list) if not scenes or s.scene in by_number]
    else:
        shots = generate_shots(chosen)
    for shot in shots:
        if shot.scene not in by_number:
            raise ShotListError(f"shot {shot.number} is in scene {shot.scene!r}, which {script_path} does not have")
    if len(shots) > MAX_SHOTS:
        raise PrevizLimitError(_too_long(script_path, chosen, shots))

    out_dir = Path(out_dir)
    tmp = takes.start(out_dir)
    try:
        with _terminate_as_exit():
            take, files, boards, mp4, otio_path = _build_take(
                tmp, out_dir, Path(script_path), play, chosen, shots, board_renderer, board_size, fps, progress
            )
    except BaseException as err:
        takes.discard(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write previz into {out_dir}: {err}") from None
        raise
    moved = {name: take / path.relative_to(tmp) for name, path in files.items()}
    return PrevizResult(
        take,
        play,
        chosen,
        shots,
        [take / b.relative_to(tmp) for b in boards],
        take / mp4.name,
        take / otio_path.name,
        moved,
        moved.get("contact_sheet.html"),
    )


def _build_take(tmp, out_dir, script, play, scenes, shots, board_renderer, board_size, fps, progress):
    files = _write_reports(tmp, script, play, scenes, shots)
    renderer = board_renderer or StoryboardRenderer(scenes, shots, progress=progress)
    try:
        by_number = {s.number: s for s in scenes}
        boards = _write_boards(tmp / "boards", shots, by_number, renderer, board_size, progress)
    finally:
        if board_renderer is None:
            renderer.close()
    mp4, otio_path = write_animatic(boards, shots, tmp, fps=fps, progress=progress)
    files |= write_contact_sheet(tmp, boards, shots, scenes, title=play.title)
    files |= {"animatic.mp4": mp4, "animatic.otio": otio_path}
    take = takes.publish(tmp, out_dir, "v")
    return take, files, boards, mp4, otio_path


def select_scenes(scenes: list[SceneBreakdown], choice: str, source: str = "script") -> list[SceneBreakdown]:
    """The scenes a choice like "1-40,52,7A" names: ranges by the leading number of a
    scene's number (so 7-8 takes 7, 7A and 8), single items by the exact number."""
    picked: set[str] = set()
    for item in (part.strip() for part in choice.split(",")):
        if not item:
            continue
        if m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", item):
            lo, hi = int(m[1]), int(m[2])
            picked |= {s.number for s in scenes if (n := _leading_number(s.number)) is not None and lo <= n <= hi}
        elif any(s.number.upper() == item.upper() for s in scenes):
            picked |= {s.number for s in scenes if s.number.upper() == item.upper()}
        else:
            raise ScreenplayError(
                f"--scenes: {item!r} is not a scene of {source} (scenes {scenes[0].number} to {scenes[-1].number}); "
                "use numbers and ranges like 1-40,52"
            )
    chosen = [s for s in scenes if s.number in picked]
    if not chosen:
        raise ScreenplayError(
            f"--scenes {choice!r} names none of the scenes of {source} ({scenes[0].number} to {scenes[-1].number})"
        )
    return chosen


def _leading_number(number: str) -> int | None:
    m = re.match(r"\d+", number)
    return int(m[0]) if m else None


def _too_long(script, scenes: list[SceneBreakdown], shots: list[Shot]) -> str:
    per_scene: dict[str, int] = {}
    for shot in shots:
        per_scene[shot.scene] = per_scene.get(shot.scene, 0) + 1
    total, last = 0, scenes[0]
    for scene in scenes:
        total += per_scene.get(scene.number, 0)
        if total > MAX_SHOTS:
            break
        last = scene
    return (
        f"{script}: {len(scenes):,} scenes make {len(shots):,} shots; previz draws at most {MAX_SHOTS:,} shots a run. "
        f"Previz part of the script, e.g. --scenes {scenes[0].number}-{last.number}, or trim an edited --shots list"
    )


@contextmanager
def _terminate_as_exit():
    """While a take is built, SIGTERM (kill, a closed terminal) exits through Python's
    cleanup like Ctrl-C does, so the hidden take folder is removed. (SIGKILL cannot be
    caught: setpiece.takes sweeps folders left by dead runs.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    progress: Progress | None = None,
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
