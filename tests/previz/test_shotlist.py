"""Shot list: coverage rules, timing, CSV/TOML round trip, edit errors, ShotSpec."""

import pytest

from setpiece.previz.breakdown import break_down
from setpiece.previz.fountain import parse
from setpiece.previz.shotlist import (
    MIN_FLEX_S,
    Shot,
    ShotListError,
    generate_shots,
    read_shotlist,
    shot_number,
    shot_to_spec,
    shots_from_csv,
    shots_from_toml,
    shots_to_csv,
    shots_to_toml,
    write_shotlist,
)
from setpiece.spec import ShotSpec, spec_from_dict


@pytest.fixture
def small(load):
    scenes = break_down(load("breakdown_small"))
    return scenes, generate_shots(scenes)


def table(shots):
    return [(s.number, s.kind, s.size, s.subject) for s in shots]


def test_coverage_rules_in_story_order(small):
    _, shots = small
    assert table([s for s in shots if s.scene == "1"]) == [
        ("1A", "establishing", "EWS", "OLD MILL"),
        ("1B", "master", "WS", "OLD MILL"),
        ("1C", "insert", "CU", "flashlight"),
        ("1D", "insert", "CU", "megaphone"),
        ("1E", "insert", "CU", "winch"),  # the truck is too big for an insert
        ("1F", "ots", "MS", "TESSA"),
        ("1G", "ots", "MS", "BORIS"),
        ("1H", "vfx", "EWS", "collapse"),  # collapse leads fire, cracks and dust
    ]
    ots = shots[5]
    assert ots.characters == ["TESSA", "BORIS"] and ots.line == 7
    assert "[also: fire, cracks, dust]" in shots[7].description


def test_interior_and_no_dialogue_scene(small):
    _, shots = small
    assert [(s.kind, s.size, s.move) for s in shots if s.scene == "2"] == [
        ("establishing", "WS", "pan"),
        ("master", "WS", "dolly"),
        ("vfx", "CU", "static"),
    ]


def test_establishing_only_when_location_changes():
    play = parse("INT. LAB - DAY\n\nA.\n\nINT. LAB - DAY\n\nB.\n\nEXT. YARD - DAY\n\nC.\n")
    shots = generate_shots(break_down(play))
    assert [s.scene for s in shots if s.kind == "establishing"] == ["1", "3"]


def test_singles_for_one_or_three_speakers_and_none_for_voice_over():
    play = parse(
        "INT. A - DAY\n\nANN\nHi.\n\nBEN\nHi.\n\nCAL\nHi.\n\nINT. B - DAY\n\nANN\nAlone.\n\nRADIO (V.O.)\nStatic.\n"
    )
    shots = generate_shots(break_down(play))
    assert [(s.scene, s.kind, s.subject) for s in shots if s.kind in ("single", "ots")] == [
        ("1", "single", "ANN"),
        ("1", "single", "BEN"),
        ("1", "single", "CAL"),
        ("2", "single", "ANN"),
    ]


def test_durations_fill_the_scene_screen_time(small):
    scenes, shots = small
    for scene in scenes:
        mine = [s for s in shots if s.scene == scene.number]
        flexible = [s for s in mine if s.kind in ("master", "single", "ots")]
        fixed = sum(s.duration_s for s in mine if s not in flexible)
        target = max(scene.screen_time_s, fixed + MIN_FLEX_S * len(flexible))
        assert abs(sum(s.duration_s for s in mine) - target) <= 0.5 * len(flexible)
        assert all(s.duration_s >= MIN_FLEX_S for s in flexible)


def test_dialogue_scene_time_is_shared_by_lines_spoken():
    talk = "\n".join("Words and more words here." for _ in range(12))
    play = parse(f"INT. A - DAY\n\nANN\n{talk}\n\nBEN\nYes.\n")
    scene = break_down(play)[0]
    shots = generate_shots([scene])
    ann, ben = [s for s in shots if s.kind == "ots"]
    assert ann.duration_s > 4 * ben.duration_s
    assert sum(s.duration_s for s in shots) == pytest.approx(scene.screen_time_s, abs=1.0)


def test_generation_is_deterministic(load):
    a = generate_shots(break_down(load("breakdown_small")))
    b = generate_shots(break_down(load("breakdown_small")))
    assert a == b


@pytest.mark.parametrize(
    "scene, index, number",
    [
        ("3", 0, "3A"),
        ("3", 7, "3H"),
        ("3", 8, "3J"),  # no I or O
        ("3", 23, "3Z"),
        ("3", 24, "3AA"),
        ("12A", 1, "12A-B"),
    ],
)
def test_shot_numbers(scene, index, number):
    assert shot_number(scene, index) == number


# --------------------------------------------------------------------------- CSV / TOML


def odd_shot():
    return Shot(
        number="9A",
        scene="9",
        kind="vfx",
        size="CU",
        angle="low",
        lens_mm=85.5,
        move="push-in",
        duration_s=2.25,
        subject="glass",
        line=40,
        description='Glass "rains", slowly\nover the street; é \\ ok',
        characters=["ANN", "McCLANE"],
    )


def test_csv_and_toml_round_trip(small):
    _, shots = small
    shots = shots + [odd_shot()]
    assert shots_from_csv(shots_to_csv(shots)) == shots
    assert shots_from_toml(shots_to_toml(shots)) == shots


def test_files_by_suffix(tmp_path, small):
    _, shots = small
    for name in ("s.csv", "s.toml"):
        assert read_shotlist(write_shotlist(shots, tmp_path / name)) == shots
    with pytest.raises(ShotListError, match="csv or .toml"):
        write_shotlist(shots, tmp_path / "s.json")
    with pytest.raises(ShotListError, match="not found"):
        read_shotlist(tmp_path / "gone.csv")


def edit_csv(shots, row, column, value):
    """The shots as CSV with one cell changed, as a spreadsheet edit would."""
    lines = shots_to_csv(shots).splitlines()
    cells = lines[row + 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    lines[row + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("lens_mm", "wide", "edited.csv, line 3, field 'lens_mm': expected a number from 8 to 300, got 'wide'"),
        ("lens_mm", "500", "'lens_mm'"),
        ("duration_s", "0", "'duration_s'"),
        ("kind", "drone", "'kind': expected one of establishing, master"),
        ("size", "huge", "'size'"),
        ("move", "zoom", "'move'"),
        ("number", "", "'number': expected a non-empty value"),
        ("line", "x", "'line': expected a whole number"),
    ],
)
def test_bad_csv_edit_names_line_and_field(column, value, expected):
    shots = [
        Shot("1A", "1", "master", "WS", "eye level", 28.0, "static", 3.0, "master"),
        Shot("1B", "1", "insert", "CU", "high", 85.0, "static", 2.0, "cup"),
    ]
    with pytest.raises(ShotListError, match=expected):
        shots_from_csv(edit_csv(shots, 1, column, value), "edited.csv")


def test_csv_edits_that_are_fine():
    text = "number,scene,kind,size,lens_mm,move,duration_s,my notes\n1A,1,Master,ws,35,STATIC,4,ask the DP\n,,,,,,,\n"
    [shot] = shots_from_csv(text)
    assert (shot.kind, shot.size, shot.move, shot.angle, shot.lens_mm) == ("master", "WS", "static", "eye level", 35.0)


def test_csv_structure_errors():
    with pytest.raises(ShotListError, match="line 1: missing column.*lens_mm"):
        shots_from_csv("number,scene,kind,size,move,duration_s\n1A,1,master,WS,static,3\n")
    row = "1A,1,master,WS,eye level,28,static,3,,,,0\n"
    header = shots_to_csv([]).strip() + "\n"
    with pytest.raises(ShotListError, match="'1A' appears twice"):
        shots_from_csv(header + row + row)


def test_toml_errors_name_the_shot():
    with pytest.raises(ShotListError, match="not valid TOML"):
        shots_from_toml("[[shot]\nnumber = 1")
    with pytest.raises(ShotListError, match=r"\[\[shot\]\] #1 \(2B\): missing field\(s\) size"):
        shots_from_toml(
            '[[shot]]\nnumber = "2B"\nscene = "2"\nkind = "master"\nlens_mm = 28\nmove = "static"\nduration_s = 3\n'
        )
    good = shots_to_toml([odd_shot()])
    with pytest.raises(ShotListError, match=r"#1 \(9A\), field 'duration_s'"):
        shots_from_toml(good.replace("duration_s = 2.25", "duration_s = -1"))


# --------------------------------------------------------------------------- ShotSpec


def test_collapse_shot_becomes_a_spec(small):
    scenes, shots = small
    shot = next(s for s in shots if s.kind == "vfx" and s.subject == "collapse")
    spec = shot_to_spec(shot, scenes[0])
    assert isinstance(spec, ShotSpec)
    assert spec.shot.frames == round(shot.duration_s * 24) and spec.shot.fps == 24
    assert spec.shot.name == "shot_1H"
    assert spec.camera.focal_length == shot.lens_mm
    assert spec.trigger.kind == "supports" and spec.dust.enabled
    assert spec.light.sun_intensity < 1.0  # night scene


def test_explosion_uses_charges_and_keeps_the_base_spec():
    base = spec_from_dict({"building": {"floors": 9}, "render": {"width": 320, "height": 180}})
    shot = Shot("5C", "5", "vfx", "WS", "eye level", 35.0, "handheld", 4.0, subject="explosion")
    spec = shot_to_spec(shot, base=base, fps=30)
    assert (spec.trigger.kind, spec.trigger.side) == ("charges", "all")
    assert spec.shot.frames == 120 and spec.building.floors == 9 and spec.render.width == 320


def test_only_vfx_shots_become_specs(small):
    _, shots = small
    with pytest.raises(ShotListError, match="1A is of kind 'establishing'"):
        shot_to_spec(shots[0])


def test_a_vfx_shot_carries_its_other_categories_to_the_boards():
    from setpiece.previz.boards.blocking import shot_categories
    from setpiece.previz.shotlist import also_categories

    scenes = break_down(parse("EXT. TOWER - DAY\n\nThe tower collapses in a cloud of dust and smoke.\n"))
    vfx = next(s for s in generate_shots(scenes) if s.kind == "vfx")
    assert vfx.subject == "collapse"
    assert also_categories(vfx.description) == ["dust", "smoke"]
    assert shot_categories(vfx) == ["collapse", "dust", "smoke"]
