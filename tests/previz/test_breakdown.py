"""Scene breakdown: heading parts, people, props, VFX beats, page eighths."""

import csv
import io
import json

import pytest

from setpiece.previz.breakdown import (
    break_down,
    breakdown_csv,
    breakdown_json,
    breakdown_markdown,
    format_eighths,
    parse_heading,
    vfx_beats,
)
from setpiece.previz.fountain import Action, parse


@pytest.fixture
def small(load):
    play = load("breakdown_small")
    return play, break_down(play)


def test_where_and_when(small):
    _, scenes = small
    assert [(s.number, s.int_ext, s.location, s.time_of_day, s.lighting) for s in scenes] == [
        ("1", "EXT", "OLD MILL", "NIGHT", "night"),
        ("2", "INT", "MILL OFFICE", "CONTINUOUS", "night"),  # CONTINUOUS keeps the light
        ("3", "EXT", "RIVERBANK", "DAWN", "dawn"),
    ]
    assert [s.line for s in scenes] == [3, 19, 23]


def test_speaking_and_mentioned_characters(small):
    _, scenes = small
    assert scenes[0].speaking == ["TESSA", "BORIS"]
    assert scenes[0].mentioned == []
    assert scenes[1].speaking == [] and scenes[1].mentioned == []
    assert scenes[2].speaking == [] and scenes[2].mentioned == ["TESSA", "BORIS"]
    first = scenes[0].speeches[-1]
    assert (first.character, first.line, first.text, first.parenthetical) == (
        "TESSA",
        13,
        "Then we go.",
        "(to herself)",
    )


def test_props_from_lexicon_and_caps(small):
    _, scenes = small
    assert [(p.name, p.line) for p in scenes[0].props] == [
        ("flashlight", 5),
        ("truck", 5),
        ("megaphone", 5),
        ("winch", 5),
    ]
    assert [p.name for p in scenes[2].props] == ["detonator"]
    # the introduced character "TESSA (40s)" is not a prop
    assert all(p.name != "tessa" for s in scenes for p in s.props)


def test_vfx_beats_with_category_and_line(small):
    _, scenes = small
    assert [(b.category, b.keyword, b.line) for b in scenes[0].vfx] == [
        ("collapse", "collapses", 17),
        ("fire", "fire", 17),
        ("cracks", "cracks", 17),
        ("dust", "dust", 17),
    ]
    assert [(b.category, b.line) for b in scenes[1].vfx] == [("glass", 21)]
    assert [(b.category, b.line) for b in scenes[2].vfx] == [("smoke", 25)]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("The tower topples into the street.", ["collapse"]),
        ("The charges detonate. A fireball rolls up.", ["explosion"]),
        ("Flames lick the roof.", ["fire"]),
        ("Windows blow out along the facade.", ["glass"]),
        ("Rubble everywhere.", ["debris"]),
        ("The ground shakes.", ["shake"]),
        ("Sparks rain from the cut cable.", ["sparks"]),
        ("The guards open fire.", []),
        ("He grabs the fire extinguisher.", []),
        ("She shakes her head and cracks a smile.", []),
        ("They explore the detonator manual.", []),
    ],
)
def test_vfx_lexicon(line, expected):
    action = Action(line=1, text=line)
    assert [b.category for b in vfx_beats(action)] == expected


@pytest.mark.parametrize(
    "heading, parts",
    [
        ("INT./EXT. TAXI - MOVING - DAY", ("INT/EXT", "TAXI - MOVING", "DAY")),
        ("I/E VAN - NIGHT", ("INT/EXT", "VAN", "NIGHT")),
        ("est. harbour - dusk", ("EXT", "harbour", "dusk")),
        ("EXT. ALLEY", ("EXT", "ALLEY", "")),
        ("INT. HOUSE - DAY (FLASHBACK)", ("INT", "HOUSE", "DAY (FLASHBACK)")),
        ("DRONE POV", ("", "DRONE POV", "")),
    ],
)
def test_parse_heading(heading, parts):
    assert parse_heading(heading) == parts


def test_page_eighths_and_screen_time():
    page = "INT. ROOM - DAY\n\n" + "\n".join(f"Line {i}." for i in range(53)) + "\n"
    scene = break_down(parse(page))[0]  # 2 heading lines + 53 action + 1 blank = 1 page
    assert (scene.eighths, scene.pages, scene.screen_time_s) == (8, "1", 60.0)
    short = break_down(parse("INT. ROOM - DAY\n\nDoor.\n"))[0]
    assert (short.eighths, short.pages, short.screen_time_s) == (1, "1/8", 7.5)


def test_dialogue_wraps_narrower_than_action():
    words = "word " * 10  # 50 characters: one action line, two dialogue lines
    action = break_down(parse("INT. A - DAY\n\n" + ("\n".join([words] * 20)) + "\n"))[0]
    talk = break_down(parse("INT. A - DAY\n\nBOB\n" + ("\n".join([words] * 20)) + "\n"))[0]
    assert talk.eighths > action.eighths


def test_off_screen_speech_is_flagged(load):
    speeches = break_down(load("dialogue"))[0].speeches
    off = {s.character for s in speeches if s.off_screen}
    assert off == {"DISPATCH", "KIM"}  # (V.O.) and (O.S.); KIM also speaks on screen later
    assert any(s.character == "KIM" and not s.off_screen for s in speeches)


@pytest.mark.parametrize("eighths, text", [(1, "1/8"), (8, "1"), (11, "1 3/8"), (16, "2")])
def test_format_eighths(eighths, text):
    assert format_eighths(eighths) == text


def test_reports(small):
    play, scenes = small
    data = json.loads(breakdown_json(scenes, play))
    assert data["title"] == "Small Test" and len(data["scenes"]) == 3
    assert data["scenes"][0]["vfx"][0]["category"] == "collapse"
    assert data["total_eighths"] == sum(s.eighths for s in scenes)
    rows = list(csv.DictReader(io.StringIO(breakdown_csv(scenes))))
    assert [r["location"] for r in rows] == ["OLD MILL", "MILL OFFICE", "RIVERBANK"]
    assert rows[0]["speaking"] == "TESSA; BORIS"
    md = breakdown_markdown(scenes, play)
    assert "## Scene 1: EXT. OLD MILL - NIGHT" in md and "**collapse** (line 17)" in md


def test_forced_mixed_case_names_are_kept_and_found():
    play = parse("INT. A - DAY\n\n@McCLANE\nYippee.\n\nEXT. B - DAY\n\nMcCLANE jumps.\n")
    first, second = break_down(play)
    assert first.speaking == ["McCLANE"]
    assert second.mentioned == ["McCLANE"]
