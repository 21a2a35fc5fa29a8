"""Hostile and careless screenplays: one clear error or a result, never a
traceback, a hang or a leftover folder (issue 8)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import setpiece.previz as previz
from setpiece.errors import ScreenplayError, SetpieceError
from setpiece.previz import PrevizLimitError, placeholder_board, run_previz, select_scenes
from setpiece.previz.breakdown import break_down
from setpiece.previz.fountain import MAX_LINE_CHARS, decode_screenplay, parse, parse_file
from setpiece.previz.shotlist import generate_shots

FAST = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def sketch(shot, scene, w, h):
    return placeholder_board(shot, (w, h))


def screenplay_or_error(data: bytes, tmp: Path):
    """What a user gets: a breakdown and shots, or one SetpieceError line."""
    path = tmp / "script.fountain"
    path.write_bytes(data)
    try:
        play = parse_file(path)
    except ScreenplayError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return None
    scenes = break_down(play)
    generate_shots(scenes)
    return play


TOKENS = st.sampled_from(
    [
        "INT. ",
        "EXT. ",
        "HOUSE",
        " - DAY",
        " - NIGHT",
        "\n",
        "\n\n",
        "MAYA",
        "(V.O.)",
        "^",
        "(beat)",
        "The wall collapses.",
        "Dust. Sparks. Fire!",
        "*",
        "**",
        "_",
        "\\",
        "/*",
        "*/",
        "[[",
        "]]",
        "#1A#",
        ">",
        "<",
        "~",
        "=",
        "#",
        "!",
        "@",
        ".",
        "===",
        "Title: X",
        "CUT TO:",
        "\t",
        "\r",
        "é",
        "\u2028",
        "日本",
        "\ufeff",
    ]
)


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_give_a_screenplay_or_one_error(tmp_path_factory, data):
    screenplay_or_error(data, tmp_path_factory.mktemp("s"))


@FAST
@given(st.lists(TOKENS, max_size=80).map("".join), st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"]))
def test_screenplay_like_text_in_any_encoding_gives_a_result_or_one_error(tmp_path_factory, text, codec):
    data = text.encode(codec, errors="replace")
    screenplay_or_error(data, tmp_path_factory.mktemp("s"))


@FAST
@given(st.lists(TOKENS, max_size=60).map("".join), st.binary(min_size=1, max_size=20), st.integers(0, 10_000))
def test_junk_spliced_into_a_script_gives_a_result_or_one_error(tmp_path_factory, text, junk, at):
    data = text.encode()
    at = at % (len(data) + 1)
    screenplay_or_error(data[:at] + junk + data[at:], tmp_path_factory.mktemp("s"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=60).map("".join))
def test_previz_of_any_script_publishes_a_take_or_fails_cleanly(tmp_path_factory, text):
    tmp = tmp_path_factory.mktemp("p")
    script = tmp / "s.fountain"
    script.write_text(text, encoding="utf-8")
    out = tmp / "out"
    try:
        result = run_previz(script, out, sketch, board_size=(32, 18), fps=2)
    except SetpieceError as err:
        assert "\n" not in str(err)
        assert not out.exists() or list(out.iterdir()) == []  # nothing half-written
    else:
        assert [p.name for p in out.iterdir()] == ["v001"]
        assert result.animatic.is_file()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"INT. A - DAY\n\n" + b"x" * (MAX_LINE_CHARS + 1), "line 3: 20,001 characters on one line"),
        (b"INT. A\n\nHi\x01there\n", "line 3: binary data (control character 0x01)"),
        (b"INT. A\n\x00\n", "line 2: binary data (NUL byte)"),
        ("INT. A - DAY\n\nHello.\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        ("INT. CAFÉ - DAY\n".encode("latin-1"), "line 1: byte 0xc9 is not valid UTF-8"),
        (b"%PDF-1.7\n...", "this is a PDF"),
    ],
)
def test_broken_screenplays_name_the_problem(tmp_path, data, message):
    path = tmp_path / "bad.fountain"
    path.write_bytes(data)
    with pytest.raises(ScreenplayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_file(path)


def test_utf16_and_utf32_with_a_bom_are_read():
    text = "INT. CAFÉ - NIGHT\n\nMaya waits.\n"
    for codec in ("utf-16", "utf-32"):
        assert decode_screenplay(text.encode(codec), "s") == text


def test_a_screenplay_too_big_to_be_one_is_refused(tmp_path, monkeypatch):
    import setpiece.previz.fountain as fountain

    monkeypatch.setattr(fountain, "MAX_SCRIPT_BYTES", 1000)
    path = tmp_path / "big.fountain"
    path.write_text("INT. A - DAY\n\nx\n" * 200)
    with pytest.raises(ScreenplayError, match="is 0 MiB; a screenplay is under"):
        parse_file(path)


def test_long_lines_of_markers_parse_in_linear_time():
    width = MAX_LINE_CHARS - 1
    for unit in ("*_", "**a ", "[[", "/*", "*/", "]]"):
        line = (unit * width)[:width]
        start = time.perf_counter()
        play = parse("INT. A - DAY\n\n" + "\n".join([line] * 2))
        break_down(play)
        assert time.perf_counter() - start < 4.0, unit  # ~0.4 s on 2 cores; was minutes


def huge_script(scenes: int) -> str:
    return "\n".join(f"EXT. STREET {k} - DAY\n\nMAYA (30s) waits. Dust rolls in.\n" for k in range(1, scenes + 1))


def test_too_many_shots_is_refused_with_a_range_that_fits(tmp_path, monkeypatch):
    monkeypatch.setattr(previz, "MAX_SHOTS", 10)
    script = tmp_path / "huge.fountain"
    script.write_text(huge_script(40))
    out = tmp_path / "out"
    with pytest.raises(PrevizLimitError, match=r"40 scenes make \d+ shots; previz draws at most 10") as err:
        run_previz(script, out, sketch, board_size=(32, 18))
    assert not out.exists()  # refused before any folder is made
    scenes = str(err.value).split("--scenes ")[1].split(",")[0]
    result = run_previz(script, out, sketch, board_size=(32, 18), scenes=scenes)
    assert 0 < len(result.shots) <= 10
    assert {s.scene for s in result.shots} == {s.number for s in result.scenes}


@pytest.mark.slow
def test_20000_scenes_are_refused_quickly(tmp_path):
    script = tmp_path / "huge.fountain"
    script.write_text(huge_script(20_000))
    start = time.perf_counter()
    with pytest.raises(PrevizLimitError, match="20,000 scenes make"):
        run_previz(script, tmp_path / "out", sketch)
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "out").exists()


def test_select_scenes_by_number_and_range():
    scenes = break_down(
        parse("".join(f"INT. R{k} - DAY #{n}#\n\nx\n\n" for k, n in enumerate(["1", "2", "2A", "3", "10"])))
    )
    assert [s.number for s in select_scenes(scenes, "2-3")] == ["2", "2A", "3"]
    assert [s.number for s in select_scenes(scenes, "10, 2a")] == ["2A", "10"]
    with pytest.raises(ScreenplayError, match="'7B' is not a scene"):
        select_scenes(scenes, "1,7B")
    with pytest.raises(ScreenplayError, match="names none of the scenes"):
        select_scenes(scenes, "40-50")


def test_sigterm_mid_previz_leaves_no_partial_folder(tmp_path, example):
    out = tmp_path / "out"
    code = f"""
import os, signal
from setpiece.previz import placeholder_board, run_previz
count = []
def board(shot, scene, w, h):
    count.append(1)
    if len(count) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return placeholder_board(shot, (w, h))
run_previz({str(example)!r}, {str(out)!r}, board, board_size=(32, 18))
"""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert done.returncode == 128 + 15, done.stderr.decode()[-500:]
    assert list(out.iterdir()) == []  # the hidden .partial-* folder went with it


SHOTLIST_TOKENS = st.sampled_from(
    [
        "number,scene,kind,size,lens_mm,move,duration_s\n",
        "1A,1,master,WS,28,static,3\n",
        "[[shot]]\n",
        'number = "1A"\n',
        'scene = "1"\n',
        'kind = "vfx"\n',
        "lens_mm = 1e999\n",
        "duration_s = nan\n",
        "line = -3\n",
        "characters = [1, 2]\n",
        "characters = 7\n",
        ",",
        '"',
        "\n",
        "nan",
        "inf",
        "-1",
        "é",
        "\x00",
        "=",
        "[",
        "]",
    ]
)


@FAST
@given(st.lists(SHOTLIST_TOKENS, max_size=40).map("".join), st.sampled_from([".csv", ".toml"]))
def test_edited_shot_lists_give_shots_or_one_error(tmp_path_factory, text, suffix):
    from setpiece.previz.shotlist import ShotListError, read_shotlist

    path = tmp_path_factory.mktemp("l") / f"shots{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        shots = read_shotlist(path)
    except ShotListError as err:
        assert "\n" not in str(err)
    else:
        for shot in shots:
            assert shot.duration_s > 0 and 8 <= shot.lens_mm <= 300
