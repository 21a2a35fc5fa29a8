"""read_prompt: the grammar, the vocabulary, contradictions, limits and --spec style bases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setpiece.prompt import read_prompt, reader
from setpiece.prompt.encoder import model_dir
from setpiece.spec import ShotSpec, spec_from_dict

needs_model = pytest.mark.skipif(model_dir() is None, reason="sentence-embedding model package not installed")


@pytest.mark.parametrize(
    ("prompt", "field", "value"),
    [
        ("a twelve-storey block", "building.floors", 12),
        ("12 floors of flats", "building.floors", 12),
        ("a twenty-two story tower", "building.floors", 22),
        ("a 60 m concrete tower", "building.floors", 19),  # 60 / 3.2 m storeys
        ("it stands 200 feet tall", "building.floors", 19),  # 61 m
        ("a 40 by 20 metre footprint", "building.footprint", (40.0, 20.0)),
        ("an 8 second shot", "shot.frames", 192),
        ("5s, at 30 frames per second", "shot.frames", 150),
        ("at 30 frames per second", "shot.fps", 30.0),
        ("24fps", "shot.fps", 24.0),
        ("on a 35mm", "camera.focal_length", 35.0),
        ("through a 50 mm lens", "camera.focal_length", 50.0),
        ("a telephoto view", "camera.focal_length", 200.0),
        ("the charges fire after 2 seconds", "trigger.time", 2.0),
        ("brick", "building.material", "brick"),
        ("an old cotton mill", "building.material", "brick"),  # implied by the building type
        ("a multi-storey car park", "building.material", "concrete"),
        ("it falls to the right", "trigger.side", "right"),
        ("it topples over backwards", "trigger.mode", "topple"),
        ("dynamite brings it down", "trigger.kind", "charges"),
        ("the columns give way", "trigger.kind", "supports"),
    ],
)
def test_grammar_and_keywords_read_the_field(prompt, field, value):
    section, name = field.split(".")
    assert getattr(getattr(read_prompt(prompt).spec, section), name) == value


def test_the_example_prompt_reads_every_part_with_its_words():
    reading = read_prompt(
        "A twelve-storey brick apartment block implodes at dusk, seen from across the street, heavy dust"
    )
    spec = reading.spec
    assert (spec.building.floors, spec.building.material) == (12, "brick")
    assert (spec.trigger.kind, spec.trigger.mode, spec.trigger.side) == ("charges", "implode", "all")
    assert spec.light.sun_elevation < 10 and spec.dust.amount > 1.0
    assert spec.camera.position is not None and spec.camera.position[2] < 2.5
    assert reading.row("building.floors").words == "twelve-storey"
    assert reading.row("dust.amount").words == "heavy dust"
    assert all(0.0 < r.confidence <= 1.0 for r in reading.rows)
    assert reading.warnings == ()


def test_words_not_understood_are_listed():
    reading = read_prompt("a purple giraffe watches the ten storey block fall")
    assert {"purple", "giraffe"} <= set(reading.unused)
    assert "ten" not in reading.unused and "storey" not in reading.unused


def test_contradiction_warns_and_uses_the_first_mention():
    reading = read_prompt("the tower topples to the left and to the right")
    assert reading.spec.trigger.side == "left"
    assert any("both 'left' and" in w and "right" in w and "using left" in w for w in reading.warnings)


def test_charges_cutting_supports_is_no_contradiction():
    reading = read_prompt("demolition charges cut the supports")
    assert reading.spec.trigger.kind == "charges" and reading.warnings == ()


@pytest.mark.parametrize("prompt", ["", "   ", " , . ; "])
def test_empty_prompt_warns_and_keeps_the_base(prompt):
    base = spec_from_dict({"building": {"floors": 9}})
    reading = read_prompt(prompt, base)
    assert reading.spec == base and reading.rows == ()
    assert len(reading.warnings) == 1 and reading.warnings[0].startswith("empty prompt")


@pytest.mark.parametrize(
    ("prompt", "field", "value"),
    [
        ("a 900-storey tower", "building.floors", 40),
        ("at 500 fps", "shot.fps", 120.0),
        ("a 3000 frame shot", "shot.frames", 2400),
        ("on a 2mm lens", "camera.focal_length", 8.0),
        ("a 500 by 2 metre footprint", "building.footprint", (120.0, 3.0)),
    ],
)
def test_absurd_values_are_clamped_with_a_warning_naming_the_field(prompt, field, value):
    reading = read_prompt(prompt)
    section, name = field.split(".")
    assert getattr(getattr(reading.spec, section), name) == value
    assert any(w.startswith(field + ":") for w in reading.warnings)


def test_a_base_spec_changes_only_what_the_prompt_mentions():
    base = spec_from_dict(
        {
            "shot": {"seed": 99, "frames": 48},
            "building": {"floors": 9, "material": "sandstone"},
            "render": {"width": 320},
        }
    )
    reading = read_prompt("at dusk it topples to the left", base)
    changed = {r.field for r in reading.rows}
    assert changed >= {"light.sun_elevation", "trigger.side", "trigger.mode"}
    before, after = base.model_dump(), reading.spec.model_dump()
    for section, values in before.items():
        for name, value in values.items():
            if f"{section}.{name}" not in changed:
                assert after[section][name] == value, f"{section}.{name} changed"


def test_a_shorter_building_keeps_only_the_trigger_floors_it_has():
    base = spec_from_dict({"building": {"floors": 6}, "trigger": {"floors": [0, 2, 4]}})
    assert read_prompt("a three-storey house", base).spec.trigger.floors == (0, 2)


def test_the_same_prompt_reads_the_same():
    prompt = "Drone shot at golden hour: the 14-storey hotel leans and falls forward, thick dust, 10 seconds"
    assert read_prompt(prompt).spec == read_prompt(prompt).spec


def test_without_the_model_the_grammar_still_reads_and_says_so(monkeypatch):
    monkeypatch.setattr(reader, "load_encoder", lambda: (None, "sentence-embedding model not installed"))
    reading = read_prompt("a 12-storey brick block topples left, 8 second shot at 24fps, 35mm")
    spec = reading.spec
    assert (spec.building.floors, spec.building.material, spec.trigger.side) == (12, "brick", "left")
    assert (spec.shot.frames, spec.camera.focal_length) == (192, 35.0)
    assert not reading.model_used
    assert any("model not installed" in w for w in reading.warnings)


@needs_model
@pytest.mark.parametrize(
    ("prompt", "field", "check"),
    [
        ("just as the sun is going down", "light.sun_elevation", lambda s: s.light.sun_elevation < 10),
        ("the tower collapses on itself", "trigger.mode", lambda s: s.trigger.mode == "implode"),
    ],
)
def test_paraphrases_no_keyword_covers_are_matched_by_the_model(prompt, field, check):
    reading = read_prompt(prompt)
    assert reading.model_used and check(reading.spec), reading.rows
    assert reading.row(field).confidence < 0.95  # a model match (keywords read 0.95)


@needs_model
def test_without_the_model_those_paraphrases_are_not_read(monkeypatch):
    monkeypatch.setattr(reader, "load_encoder", lambda: (None, "sentence-embedding model not installed"))
    assert read_prompt("just as the sun is going down").row("light.sun_elevation") is None


def test_default_spec_is_the_base_when_none_is_given():
    assert read_prompt("nothing relevant here").spec == ShotSpec()


@needs_model
def test_phrase_vectors_are_kept_on_disk_between_runs(tmp_path, monkeypatch):
    from setpiece.prompt.encoder import load_encoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    encoder, _ = load_encoder()
    first = encoder.encode_cached(["heavy dust", "at dusk"])
    assert list((tmp_path / "setpiece").glob("phrases-*.npy"))

    def no_forward(texts):
        raise AssertionError("the cached vectors should have been read")

    monkeypatch.setattr(encoder, "encode", no_forward)
    assert (encoder.encode_cached(["heavy dust", "at dusk"]) == first).all()


def test_across_the_street_widens_the_lens_only_when_none_is_asked_for():
    tall = read_prompt("a twelve-storey block seen from across the street")
    assert tall.spec.camera.focal_length < ShotSpec().camera.focal_length
    assert "widened" in tall.row("camera.focal_length").words
    asked = read_prompt("a twelve-storey block seen from across the street on a 35mm")
    assert asked.spec.camera.focal_length == 35.0
    x, y, z = asked.spec.camera.position
    assert abs((x * x + y * y) ** 0.5 - 30.0) < 0.5 and z == 1.7


WORDS = (
    "0 1 2.5 12 900 -3 1,000 twelve twenty-two a dozen storey floors m metres feet by x wide tall s second seconds"
    " minute frames fps mm lens wide telephoto left right forward away from the camera implodes topples charges"
    " supports dusk noon night overcast drone across street low angle dust heavy no engulfs brick concrete stone"
    " 's , . ; : - ( ) ° % é 東京 \n \t"
).split(" ")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30), st.text(max_size=40))
def test_any_text_reads_into_a_valid_spec_without_raising(words, noise):
    reading = read_prompt(" ".join(words) + " " + noise)
    assert isinstance(reading.spec, ShotSpec)
    assert all(isinstance(w, str) for w in reading.warnings)


def test_a_trigger_after_the_shot_ends_is_warned_about():
    reading = read_prompt("a 3 second shot; the charges fire after 8 seconds")
    assert reading.spec.trigger.time == 8.0
    assert any(w.startswith("trigger.time:") and "after the shot ends" in w for w in reading.warnings)
