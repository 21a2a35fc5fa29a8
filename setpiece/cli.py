"""Command line: `setpiece render SPEC.toml -o shots/NAME`, `setpiece previz SCRIPT.fountain`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from setpiece.errors import SetpieceError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="setpiece: building-collapse shots and screenplay previz."
)
console = Console(stderr=True)


@app.command()
def render(
    spec: Path = typer.Argument(..., help="shot spec (TOML); see examples/collapse.toml"),
    output: Path = typer.Option(None, "-o", "--output", help="shot folder; takes go in take_NNN inside"),
    backend: str = typer.Option(None, "--backend", help="override render.backend: preview or final"),
    frames: int = typer.Option(None, "--frames", help="override shot.frames"),
    plate: Path = typer.Option(None, "--plate", help="photo to comp over; the ground becomes a shadow catcher"),
) -> None:
    """Build, fracture, simulate, render and deliver one shot."""
    from setpiece.pipeline import run_shot
    from setpiece.spec import load_spec, spec_from_dict

    try:
        shot = load_spec(spec)
        overrides = shot.model_dump()
        if backend:
            overrides["render"]["backend"] = backend
        if frames:
            overrides["shot"]["frames"] = frames
        if plate:
            overrides["comp"]["plate"] = str(plate.resolve())
        shot = spec_from_dict(overrides, f"{spec} (with command-line overrides)")
        out = output or Path("shots") / shot.shot.name
        with _progress() as bars:
            result = run_shot(shot, out, _reporter(bars))
    except (SetpieceError, OSError) as err:
        _fail(err)
    except KeyboardInterrupt:
        console.print("interrupted: this take was discarded; earlier takes are untouched")
        raise typer.Exit(130) from None
    console.print(f"[green]take written:[/] {result.take_dir}  ({result.frames} frames, {result.fragments} fragments)")
    for stage, seconds in result.timings.items():
        console.print(f"  {stage:<12} {seconds:7.2f} s")
    report = result.take_dir / "report.json"
    if report.is_file():  # the physics report of the collapse (setpiece/physics/report.py)
        from setpiece.physics.report import format_report

        console.print("physics report:")
        console.print(format_report(json.loads(report.read_text())), markup=False)


@app.command()
def previz(
    script: Path = typer.Argument(..., help="screenplay in Fountain format"),
    output: Path = typer.Option(Path("previz"), "-o", "--output", help="previz folder; runs go in vNNN inside"),
    shots: Path = typer.Option(None, "--shots", help="edited shot list (.csv or .toml from an earlier take)"),
    size: str = typer.Option("640x360", "--size", help="board size in pixels, WIDTHxHEIGHT"),
    fps: int = typer.Option(24, "--fps", min=1, max=120, help="animatic frame rate"),
    boards: str = typer.Option(
        "3d",
        "--boards",
        help="3d (blocking drawn with the preview renderer) or placeholder (framing sketches, no OpenGL needed)",
    ),
) -> None:
    """Screenplay -> breakdown, shot list, storyboards, animatic and contact sheet."""
    from setpiece.previz import placeholder_board, run_previz

    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", size)
    if not match or not (32 <= int(match[1]) <= 4096 and 32 <= int(match[2]) <= 4096):
        console.print(
            f"[bold red]error:[/] --size: expected WIDTHxHEIGHT between 32 and 4096, e.g. 640x360; got {size!r}"
        )
        raise typer.Exit(2)
    if boards not in ("3d", "placeholder"):
        console.print(f"[bold red]error:[/] --boards: expected 3d or placeholder, got {boards!r}")
        raise typer.Exit(2)
    renderer = (lambda shot, scene, w, h: placeholder_board(shot, (w, h))) if boards == "placeholder" else None
    try:
        with _progress() as bars:
            result = run_previz(
                script,
                output,
                renderer,
                shot_list=shots,
                board_size=(int(match[1]), int(match[2])),
                fps=fps,
                progress=_reporter(bars),
            )
    except (SetpieceError, OSError) as err:
        _fail(err)
    for warning in getattr(result, "warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"[green]previz written:[/] {result.out_dir}  ({len(result.shots)} shots)")
    if result.contact_sheet:
        console.print(f"  contact sheet: {result.contact_sheet}")


def _fail(err: Exception) -> None:
    """One line naming the problem and the fix, exit status 2: never a traceback."""
    from setpiece.graph import describe_os_error

    message = describe_os_error(err) if isinstance(err, OSError) else str(err)
    console.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _reporter(bars: Progress):
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done)

    return report


if __name__ == "__main__":
    app()
