"""Editorial: each take as an OpenTimelineIO clip, and rendered takes cut into the animatic.

NAME.otio holds a timeline with one clip whose media is the EXR sequence (an
ImageSequenceReference, the default), the PNG sequence (key "png") and the MP4
(an ExternalReference, key "mp4"), whichever the take has; all cover frames
1..N of the take, so switching between them keeps the cut. The clip's
metadata["setpiece"] carries the take's whole spec and its report.json when one
is there. Media paths are relative to the .otio file.

`take_clip` reads a take back as a clip whose paths are relative to another
folder, and `swap_in_take` puts it in place of a storyboard clip of the previz
animatic, keeping the board as another media reference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from setpiece.deliver import DeliverJob
from setpiece.deliver.writers import atomic
from setpiece.errors import OutputError

EXR_KEY = "DEFAULT_MEDIA"  # OTIO's name for the default media reference
MP4_KEY = "mp4"
PNG_KEY = "png"
BOARD_KEY = "board"


class EditorialClip:
    """Writes NAME.otio once the EXR and MP4 writers are done."""

    late = True  # refers to the frame writers' files

    def __init__(self, job: DeliverJob):
        out = job.spec.output
        if not (out.exr or out.png or out.mp4):
            raise OutputError("output.otio needs frames to cut: turn on output.exr, output.png or output.mp4")
        self.job = job

    def add(self, frame: int, passes, comp) -> None:
        pass

    def close(self, ok: bool) -> dict[str, str]:
        if not ok:
            return {}
        job = self.job
        path = job.work / f"{job.name}.otio"
        clip = make_clip(job.work, job.name, job.frames, job.fps, job.spec.model_dump(mode="json"))
        write_timeline(path, job.name, [clip], job.fps)
        return {"otio": path.name}


def make_clip(take: Path, name: str, frames: int, fps: float, spec: dict | None):
    """The take's clip: the EXR sequence (default), the PNG sequence and the MP4, each where
    the take has it, with the spec and report as metadata."""
    import opentimelineio as otio

    available = otio.opentime.TimeRange(otio.opentime.RationalTime(1, fps), otio.opentime.RationalTime(frames, fps))
    references = {}
    for key, ext in ((EXR_KEY, "exr"), (PNG_KEY, "png")):
        if (take / ext).is_dir():
            references[key] = otio.schema.ImageSequenceReference(
                target_url_base=f"{ext}/",
                name_prefix=f"{name}.",
                name_suffix=f".{ext}",
                start_frame=1,
                frame_step=1,
                rate=fps,
                frame_zero_padding=4,
                available_range=available,
            )
    if (take / f"{name}.mp4").is_file():
        references[MP4_KEY] = otio.schema.ExternalReference(target_url=f"{name}.mp4", available_range=available)
    if not references:
        raise OutputError(f"take {take} has no frames to cut; turn on output.exr, output.png or output.mp4")
    clip = otio.schema.Clip(name=name, source_range=available)
    active = next(k for k in (EXR_KEY, MP4_KEY, PNG_KEY) if k in references)
    clip.set_media_references(references, active)
    clip.metadata["setpiece"] = {"spec": spec, "report": read_report(take)}
    return clip


def read_report(take: Path) -> dict | None:
    report = take / "report.json"
    if not report.is_file():
        return None
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise OutputError(f"cannot read {report}: {err}; remove or rewrite it") from None


def write_timeline(path: Path, name: str, clips: list, fps: float) -> None:
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, fps))
    track = otio.schema.Track(name="shots", kind=otio.schema.TrackKind.Video)
    for clip in clips:
        track.append(clip)
    timeline.tracks.append(track)
    tmp = atomic(path)
    otio.adapters.write_to_file(timeline, str(tmp), adapter_name="otio_json")
    os.replace(tmp, path)


def take_clip(take: str | Path, relative_to: str | Path | None = None):
    """A rendered take as a clip, read from its NAME.otio, with media paths relative to
    `relative_to` (the folder of the timeline it goes into) or absolute when None.
    The metadata holds the take's folder and its current report.json."""
    import opentimelineio as otio

    take = Path(take).resolve()
    found = sorted(take.glob("*.otio"))
    if len(found) != 1:
        raise OutputError(f"take {take} should hold one NAME.otio, found {len(found)}; pick a take folder (take_NNN)")
    timeline = otio.adapters.read_from_file(str(found[0]))
    clip = next(iter(timeline.find_clips()), None)
    if clip is None:
        raise OutputError(f"{found[0]} holds no clip; render the take again")
    clip = clip.deepcopy()
    for reference in clip.media_references().values():
        _rebase(reference, take, relative_to)
    clip.metadata["setpiece"]["take"] = str(take)
    clip.metadata["setpiece"]["report"] = read_report(take)
    return clip


def _rebase(reference, take: Path, relative_to) -> None:
    import opentimelineio as otio

    def moved(url: str) -> str:
        target = take / url
        if relative_to is None:
            return target.as_posix()
        return Path(os.path.relpath(target, Path(relative_to).resolve())).as_posix()

    if isinstance(reference, otio.schema.ImageSequenceReference):
        reference.target_url_base = moved(reference.target_url_base) + "/"
    elif isinstance(reference, otio.schema.ExternalReference):
        reference.target_url = moved(reference.target_url)


def swap_in_take(timeline, clip_name: str, take: str | Path, relative_to: str | Path | None = None):
    """Put a rendered take in place of the clip named `clip_name` (a previz shot number)
    in `timeline`, keeping the cut: the take plays from its first frame for the board's
    duration (a shorter take is followed by a gap, so later shots keep their time).
    The board stays on the clip as the "board" media reference. Returns the new clip."""
    import opentimelineio as otio

    board = next((c for c in timeline.find_clips() if c.name == clip_name), None)
    if board is None:
        names = [c.name for c in timeline.find_clips()]
        raise OutputError(f"animatic has no clip named {clip_name!r}; choose one of {names}")
    clip = take_clip(take, relative_to)
    available = clip.source_range
    length = board.source_range.duration.rescaled_to(available.start_time.rate)
    length = otio.opentime.RationalTime(round(length.value), length.rate)
    clip.source_range = otio.opentime.TimeRange(available.start_time, min(length, available.duration))
    references = dict(clip.media_references())
    references[BOARD_KEY] = board.media_reference.deepcopy()
    clip.set_media_references(references, clip.active_media_reference_key)
    clip.name = board.name
    clip.markers.extend(m.deepcopy() for m in board.markers)
    track = board.parent()
    index = track.index(board)
    track[index] = clip
    short = length - clip.source_range.duration
    if short.value > 0:  # a take shorter than its board: a gap keeps the later shots in sync
        track.insert(index + 1, otio.schema.Gap(duration=short))
    return clip
