"""One shot: the stage graph (setpiece/stages/) run into a new take folder.

Whole-shot stages are cached in the shot folder (`.cache`), so changing render
settings re-runs nothing upstream. Every run writes a new take folder
(take_001, take_002, ...), built under a hidden name and renamed only when
complete: earlier takes are never touched, and a failed or interrupted run
leaves no half take behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from setpiece import takes
from setpiece.farm import Farm, farm_client, render_on_farm
from setpiece.graph import Progress, Run, guarded, run_frames, run_stages
from setpiece.spec import ShotSpec, dump_spec


@dataclass
class TakeResult:
    take_dir: Path
    frames: int
    fragments: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage in this run
    files: dict[str, str] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)  # stages that came from the cache


def run_shot(
    spec: ShotSpec, shot_dir: str | Path, progress: Progress | None = None, farm: Farm | None = None
) -> TakeResult:
    """Run every stage of the shot into shot_dir/take_NNN and return what was made;
    with a farm, frames render on Dask workers (setpiece/farm.py)."""
    from setpiece.stages import FRAME_STAGES, SHOT_STAGES

    shot_dir = Path(shot_dir)
    if spec.plate.photo:  # the building, camera and frame come from the photo
        from setpiece.plate.shot import resolve

        spec = guarded("plate", lambda: resolve(spec))
    guarded("comp", lambda: preflight(spec))
    with farm_client(farm) as client:
        work = takes.start(shot_dir)
        try:
            run = run_stages(SHOT_STAGES, spec, shot_dir / ".cache", progress)
            if client is not None:
                summaries = render_on_farm(client, spec, run, work, FRAME_STAGES, progress)
            else:
                summaries = run_frames(FRAME_STAGES, spec, run, range(spec.shot.frames), progress, work)
            guarded("deliver", lambda: write_records(work, spec, run))
            take = takes.publish(work, shot_dir, "take_")
        except BaseException:
            takes.discard(work)
            raise
    files = summaries.get("deliver") or {}
    return TakeResult(take, spec.shot.frames, len(run.artifacts["fracture"]), run.timings, files, run.cached)


def preflight(spec: ShotSpec) -> None:
    """Fail on a bad display transform or plate now, not after minutes of sim."""
    from setpiece.color import check_display
    from setpiece.comp import load_plate

    check_display(spec.comp.ocio_config, spec.comp.display, spec.comp.view)
    if spec.comp.plate:
        load_plate(spec.comp.plate, 16, 16)


def write_records(work: Path, spec: ShotSpec, run: Run) -> None:
    """The exact spec, the sim's events, the physics report and the seconds each stage took, beside the frames."""
    (work / "spec.toml").write_text(dump_spec(spec), encoding="utf-8")
    events = [asdict(e) for e in run.artifacts["sim"].events]
    (work / "events.json").write_text(json.dumps(events), encoding="utf-8")
    (work / "timings.json").write_text(json.dumps(run.timings, indent=1), encoding="utf-8")
    from setpiece.physics.report import physics_report

    a = run.artifacts
    report = physics_report(a["scene"], a["fracture"], a["sim"], spec.trigger.time)
    (work / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
