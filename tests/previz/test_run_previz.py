"""End to end: take folders, outputs, edited shot lists, renderer hook."""

import json

import av
import opentimelineio as otio
import pytest
from PIL import Image

from setpiece.errors import OutputError, RenderError, ScreenplayError
from setpiece.previz import run_previz
from setpiece.previz.shotlist import ShotListError, read_shotlist, write_shotlist

SMALL = (160, 90)


def test_example_screenplay_end_to_end(tmp_path, example):
    result = run_previz(example, tmp_path / "collapse", board_size=SMALL, fps=12)
    take = result.take_dir
    assert take == tmp_path / "collapse" / "v001"
    for name in (
        "screenplay.fountain",
        "breakdown.json",
        "breakdown.md",
        "breakdown.csv",
        "shotlist.csv",
        "shotlist.toml",
        "animatic.mp4",
        "animatic.otio",
    ):
        assert (take / name).is_file(), name
    assert result.warnings == []
    assert len(result.scenes) == 4
    data = json.loads((take / "breakdown.json").read_text())
    with_collapse = [s["number"] for s in data["scenes"] if any(b["category"] == "collapse" for b in s["vfx"])]
    assert with_collapse == ["3"]
    assert any(s.dual for s in result.scenes[2].speeches)
    assert read_shotlist(take / "shotlist.toml") == result.shots
    assert len(result.boards) == len(result.shots)
    assert Image.open(result.boards[0]).size == SMALL
    frames = sum(max(1, round(s.duration_s * 12)) for s in result.shots)
    with av.open(str(result.animatic)) as c:
        assert c.streams.video[0].frames == frames
    timeline = otio.adapters.read_from_file(str(result.timeline))
    assert timeline.duration().to_frames() == frames


def test_every_run_is_a_new_take(tmp_path, example):
    out = tmp_path / "p"
    first = run_previz(example, out, board_size=SMALL, fps=6)
    before = (first.take_dir / "shotlist.csv").stat().st_mtime_ns
    second = run_previz(example, out, board_size=SMALL, fps=6)
    assert [first.take_dir.name, second.take_dir.name] == ["v001", "v002"]
    assert (first.take_dir / "shotlist.csv").stat().st_mtime_ns == before
    assert sorted(p.name for p in out.iterdir()) == ["v001", "v002"]  # no temp folders left


def test_custom_board_renderer(tmp_path, example):
    calls = []

    def renderer(shot, scene, width, height):
        calls.append((shot.number, scene.number, width, height))
        return Image.new("RGB", (width, height), (200, 30, 30))

    result = run_previz(example, tmp_path, renderer, board_size=SMALL, fps=6)
    assert calls[0] == ("1A", "1", 160, 90) and len(calls) == len(result.shots)
    assert Image.open(result.boards[0]).getpixel((5, 5)) == (200, 30, 30)


def test_failed_run_leaves_no_take(tmp_path, example):
    def broken(shot, scene, width, height):
        raise RuntimeError("renderer exploded")

    with pytest.raises(RuntimeError):
        run_previz(example, tmp_path / "p", broken, board_size=SMALL)
    assert list((tmp_path / "p").iterdir()) == []


def test_empty_screenplay_is_an_error(tmp_path):
    script = tmp_path / "empty.fountain"
    script.write_text("Title: Nothing\n\n")
    with pytest.raises(ScreenplayError, match="no scenes to previz"):
        run_previz(script, tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_odd_screenplay_runs_and_reports_warnings(tmp_path, fixtures_dir):
    result = run_previz(fixtures_dir / "odd.fountain", tmp_path, board_size=SMALL, fps=6)
    report = (result.take_dir / "warnings.txt").read_text().splitlines()
    assert len(report) == len(result.warnings) == 7
    assert report[0].endswith("odd.fountain:1: scene heading is not followed by a blank line")


def test_edited_shot_list_drives_the_animatic(tmp_path, example):
    first = run_previz(example, tmp_path / "p", board_size=SMALL, fps=6)
    edited = first.shots[:3]
    edited[1].duration_s = 5.0
    path = write_shotlist(edited, tmp_path / "mine.csv")
    second = run_previz(example, tmp_path / "p", board_size=SMALL, fps=6, shot_list=path)
    assert [s.number for s in second.shots] == [s.number for s in edited]
    clips = list(otio.adapters.read_from_file(str(second.timeline)).find_clips())
    assert [c.duration().to_frames() for c in clips] == [max(1, round(s.duration_s * 6)) for s in edited]

    edited[0].scene = "99"
    write_shotlist(edited, path)
    with pytest.raises(ShotListError, match="scene '99'"):
        run_previz(example, tmp_path / "p", shot_list=path)


def test_unwritable_output_is_an_output_error(tmp_path, example):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create output folder"):
        run_previz(example, blocker / "p")


def test_renderer_must_return_an_image(tmp_path, example):
    with pytest.raises(RenderError, match="returned NoneType for shot 1A"):
        run_previz(example, tmp_path / "p", lambda *args: None, board_size=SMALL)
    assert list((tmp_path / "p").iterdir()) == []
