"""Command line: `setpiece render SPEC.toml -o shots/NAME`, `setpiece shot "PROMPT"`,
`setpiece previz SCRIPT.fountain`."""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from setpiece.errors import SetpieceError, SpecError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="setpiece: building-collapse shots and screenplay previz."
)
console = Console(stderr=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (a huge plate read smaller, a guessed storey count...) as one line each, deduplicated."""
    text = str(message)
    if text not in _SHOWN:
        _SHOWN.add(text)
        console.print(Text("warning: ", style="yellow") + Text(text), soft_wrap=True)


_SHOWN: set[str] = set()
warnings.showwarning = _show_warning


@app.command()
def render(
    spec: Path = typer.Argument(..., help="shot spec (TOML); see examples/collapse.toml"),
    output: Path = typer.Option(None, "-o", "--output", help="shot folder; takes go in take_NNN inside"),
    backend: str = typer.Option(None, "--backend", help="override render.backend: preview or final"),
    frames: int = typer.Option(None, "--frames", help="override shot.frames"),
    plate: Path = typer.Option(None, "--plate", help="street photo: the building in it collapses (sets plate.photo)"),
    workers: int = typer.Option(0, "--workers", min=0, max=256, help="render frames on N local Dask workers"),
    scheduler: str = typer.Option(
        None, "--scheduler", help="render frames on an existing Dask cluster, e.g. tcp://HOST:8786"
    ),
) -> None:
    """Build, fracture, simulate, render and deliver one shot."""
    from setpiece.spec import load_spec

    with _one_line_errors():
        shot = _with_overrides(load_spec(spec), str(spec), backend, frames, plate)
        _render_shot(shot, output, workers, scheduler)


@app.command()
def shot(
    prompt: str = typer.Argument(
        "", help='the shot in words, e.g. "a twelve-storey brick block implodes at dusk" (optional with --plate)'
    ),
    output: Path = typer.Option(None, "-o", "--output", help="shot folder; takes go in take_NNN inside"),
    backend: str = typer.Option(None, "--backend", help="override render.backend: preview or final"),
    frames: int = typer.Option(None, "--frames", help="override shot.frames"),
    plate: Path = typer.Option(None, "--plate", help="street photo: the building in it collapses (sets plate.photo)"),
    workers: int = typer.Option(0, "--workers", min=0, max=256, help="render frames on N local Dask workers"),
    scheduler: str = typer.Option(
        None, "--scheduler", help="render frames on an existing Dask cluster, e.g. tcp://HOST:8786"
    ),
    spec: Path = typer.Option(None, "--spec", help="start from this spec: the prompt changes only what it mentions"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the spec as TOML to stdout and render nothing"),
) -> None:
    """Read a shot description into a spec, show what was understood, and render it."""
    from setpiece.prompt import read_prompt
    from setpiece.spec import dump_spec, load_spec

    with _one_line_errors():
        reading = read_prompt(prompt, load_spec(spec) if spec else None)
        _print_reading(reading)
        if not reading.rows and not prompt.strip() and not plate:
            raise SpecError('the prompt is empty: describe the shot, e.g. "a ten-storey brick block implodes at dusk"')
        shot = _with_overrides(reading.spec, "prompt", backend, frames, plate)
        if dry_run:
            typer.echo(dump_spec(shot))
            return
        out = output or Path("shots") / shot.shot.name
        out.mkdir(parents=True, exist_ok=True)
        header = "# setpiece shot: " + " ".join(prompt.split()) + "\n"
        (out / "shot.toml").write_text(header + dump_spec(shot), encoding="utf-8")  # beside the takes
        _render_shot(shot, out, workers, scheduler)


def _with_overrides(shot, source: str, backend: str | None, frames: int | None, plate: Path | None):
    """The spec with the command line's --backend, --frames and --plate applied (and validated)."""
    from setpiece.spec import spec_from_dict

    overrides = shot.model_dump()
    if backend:
        overrides["render"]["backend"] = backend
    if frames:
        overrides["shot"]["frames"] = frames
    if plate:
        overrides["plate"]["photo"] = str(plate.resolve())
    return spec_from_dict(overrides, f"{source} (with command-line overrides)")


def _render_shot(shot, output: Path | None, workers: int = 0, scheduler: str | None = None) -> None:
    """Run the pipeline with progress bars and print the take and its stage timings."""
    from setpiece.farm import Farm
    from setpiece.pipeline import run_shot

    out = output or Path("shots") / shot.shot.name
    with _progress() as bars:
        result = run_shot(shot, out, _reporter(bars), Farm(workers, scheduler))
    console.print(f"[green]take written:[/] {result.take_dir}  ({result.frames} frames, {result.fragments} fragments)")
    for stage, seconds in result.timings.items():
        console.print(f"  {stage:<12} {seconds:7.2f} s")
    report = result.take_dir / "report.json"
    if report.is_file():  # the physics report of the collapse (setpiece/physics/report.py)
        from setpiece.physics.report import format_report

        console.print("physics report:")
        console.print(format_report(json.loads(report.read_text())), markup=False)


def _print_reading(reading) -> None:
    """What the prompt reader understood, as a table on stderr, then unused words and warnings."""
    from rich.table import Table

    table = Table(title="understood from the prompt", title_justify="left")
    for column in ("field", "value", "from the words", "confidence"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for row in reading.rows:
        table.add_row(row.field, _shown(row.value), row.words, f"{row.confidence:.2f}")
    if reading.rows:
        console.print(table)
    if reading.unused:
        console.print("[dim]words not used:[/] " + ", ".join(reading.unused))
    for warning in reading.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def _shown(value) -> str:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
    scenes: str = typer.Option(None, "--scenes", help="previz only these scenes, by number: 1-40,52,7A"),
    render_vfx: bool = typer.Option(
        False, "--render-vfx", help="render collapse VFX shots as preview clips in place of their boards"
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
                scenes=scenes,
                render_vfx=render_vfx,
            )
    except (SetpieceError, OSError) as err:
        _fail(err)
    except KeyboardInterrupt:
        _interrupted()
    for warning in getattr(result, "warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"[green]previz written:[/] {result.out_dir}  ({len(result.shots)} shots)")
    if result.contact_sheet:
        console.print(f"  contact sheet: {result.contact_sheet}")


@contextmanager
def _one_line_errors():
    """Any SetpieceError or OSError as one line and exit 2; Ctrl-C as a clean stop."""
    try:
        yield
    except (SetpieceError, OSError) as err:
        _fail(err)
    except KeyboardInterrupt:
        _interrupted()


def _interrupted() -> None:
    """Ctrl-C: the take is already discarded; leave now. Library exit hooks (Warp, Bullet,
    Dask) take seconds to run and have nothing left to save, so they are skipped."""
    console.print("interrupted: this take was discarded; earlier takes are untouched")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


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
