"""Animatic MP4 and OTIO timeline: frame counts, durations, references."""

import av
import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image

from setpiece.errors import InputError
from setpiece.previz.animatic import captioned, placeholder_board, write_animatic
from setpiece.previz.shotlist import Shot


def shot(number, seconds, size="WS"):
    return Shot(number, "1", "master", size, "eye level", 28.0, "static", seconds, description=f"board {number}")


@pytest.fixture
def boards(tmp_path):
    shots = [shot("1A", 0.5, "EWS"), shot("1B", 1.0, "CU"), shot("1C", 0.25, "MS")]
    folder = tmp_path / "boards"
    folder.mkdir()
    paths = []
    for s in shots:
        path = folder / f"{s.number}.png"
        placeholder_board(s, (161, 91)).save(path)  # odd size: the MP4 must make it even
        paths.append(path)
    return paths, shots


def test_mp4_holds_each_board_for_its_shot(tmp_path, boards):
    paths, shots = boards
    mp4, _ = write_animatic(paths, shots, tmp_path / "out", fps=24)
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 160, 90)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(container.duration / av.time_base) == pytest.approx(42 / 24, abs=0.05)
    assert len(frames) == 12 + 24 + 6
    # cuts land on the shot boundaries: same picture within a shot, a change at each cut
    diff = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    cuts = [i + 1 for i, d in enumerate(diff) if d > 2.0]
    assert cuts == [12, 36]


def test_otio_clips_match_the_edit(tmp_path, boards):
    paths, shots = boards
    _, otio_path = write_animatic(paths, shots, tmp_path / "out", fps=24)
    timeline = otio.adapters.read_from_file(str(otio_path))
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["1A", "1B", "1C"]
    assert [c.duration().to_frames() for c in clips] == [12, 24, 6]
    assert timeline.duration().to_frames() == 42
    assert [m.name for c in clips for m in c.markers] == ["1A", "1B", "1C"]
    assert clips[1].metadata["setpiece"]["size"] == "CU"
    for clip, path in zip(clips, paths):
        target = otio_path.parent / clip.media_reference.target_url
        assert target.resolve() == path.resolve()


def test_one_board_per_shot_is_required(tmp_path, boards):
    paths, shots = boards
    with pytest.raises(InputError, match="2 boards for 3 shots"):
        write_animatic(paths[:2], shots, tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(InputError, match="bad.png cannot be read"):
        write_animatic([bad], shots[:1], tmp_path)


def test_placeholder_board_draws_the_framing():
    wide = np.asarray(placeholder_board(shot("1A", 1, "EWS"), (160, 90))).astype(int)
    close = np.asarray(placeholder_board(shot("1A", 1, "CU"), (160, 90))).astype(int)
    assert wide.shape == close.shape == (90, 160, 3)
    # the CU frame line sits well inside the picture, the EWS one at its edge
    row = 40

    def bright(img):
        return [x for x in range(160) if img[row, x].min() > 200]

    assert min(bright(close)) > 40 and min(bright(wide)) < 10


def test_caption_strip_is_burned_in():
    board = Image.new("RGB", (160, 90), (128, 128, 128))
    out = np.asarray(captioned(board, shot("7B", 2.0))).astype(int)
    strip, above = out[-12:], out[:60]
    assert strip.mean() < 80 and strip.max() > 200  # dark strip with white text
    assert (above == 128).all()
