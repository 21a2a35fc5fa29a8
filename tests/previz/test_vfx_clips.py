"""--render-vfx: a collapse beat of the shot list becomes a rendered clip in the animatic and its OTIO."""

import av
import numpy as np
import opentimelineio as otio

from setpiece.previz import run_previz
from setpiece.previz.clips import clip_spec
from setpiece.previz.shotlist import Shot

SCRIPT = """INT. OFFICE - DAY

MARA looks out of the window.

EXT. MILL STREET - DAY

The old brick mill topples to the left in heavy dust.
"""


def _shots(tmp_path):
    from setpiece.previz.shotlist import write_shotlist

    shots = [
        Shot("1A", "1", "establishing", "WS", "eye level", 24.0, "static", 1.0, "Office", subject="OFFICE"),
        Shot(
            "2A",
            "2",
            "vfx",
            "WS",
            "low",
            24.0,
            "static",
            1.0,
            "The old brick mill topples to the left in heavy dust.",
            subject="collapse",
        ),
    ]
    return write_shotlist(shots, tmp_path / "shots.toml"), shots


def test_a_collapse_beat_reads_as_its_words(tmp_path):
    _, shots = _shots(tmp_path)
    spec = clip_spec(shots[1], None, (96, 54), 24.0)
    assert (spec.building.material, spec.trigger.side) == ("brick", "left")
    assert spec.dust.amount > 1.0 and spec.shot.frames == 24
    assert (spec.render.backend, spec.render.width, spec.render.height) == ("preview", 96, 54)


def test_the_clip_replaces_its_board_in_the_animatic_and_the_timeline(tmp_path):
    script = tmp_path / "mill.fountain"
    script.write_text(SCRIPT)
    shot_list, _ = _shots(tmp_path)
    result = run_previz(script, tmp_path / "out", shot_list=shot_list, board_size=(96, 54), render_vfx=True)
    clips = list(otio.adapters.read_from_file(str(result.timeline)).find_clips())
    assert isinstance(clips[0].media_reference, otio.schema.ExternalReference)  # a board
    assert isinstance(clips[1].media_reference, otio.schema.ImageSequenceReference)  # the rendered take
    take = result.take_dir / "clips" / "2A" / "take_001"
    assert len(list((take / "png").glob("*.png"))) == 24
    with av.open(str(result.animatic)) as movie:
        frames = [f.to_ndarray(format="rgb24").astype(float) for f in movie.decode(video=0)]
    assert len(frames) == 48
    clip = frames[24:]  # the clip moves; a held board would not
    assert np.abs(clip[0] - clip[-1]).mean() > 1.0
