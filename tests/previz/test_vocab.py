"""The shared vocabulary is the one source its users read."""

import math
import typing

from setpiece import vocab
from setpiece.previz import boards, breakdown, shotlist
from setpiece.previz.boards import drawing
from setpiece.previz.breakdown import break_down
from setpiece.previz.fountain import parse
from setpiece.spec import BuildingSection, LightSection, ShotSpec, spec_from_dict


def test_spec_materials_are_the_vocabulary_materials():
    from setpiece import spec

    assert spec.MATERIALS is vocab.MATERIALS
    choices = typing.get_args(BuildingSection.model_fields["material"].annotation)
    assert set(choices) == set(vocab.MATERIALS)
    density, glue, colour = vocab.MATERIALS["brick"]  # world/building.py unpacks it so
    assert (density, glue, colour) == (1900.0, 1.2e5, (0.45, 0.22, 0.14))


def test_every_light_preset_is_a_valid_spec_light():
    for name, preset in vocab.LIGHT_PRESETS.items():
        light = LightSection(**preset.spec_fields())
        assert light.sun_elevation == preset.sun_elevation, name


def test_light_presets_are_physically_ordered():
    p = vocab.LIGHT_PRESETS
    assert p["noon"].sun_elevation > p["morning"].sun_elevation > p["golden hour"].sun_elevation
    assert p["golden hour"].sun_elevation > p["dusk"].sun_elevation
    assert p["night"].sun_intensity < 0.1 * p["day"].sun_intensity
    assert p["overcast"].sky_intensity > p["overcast"].sun_intensity  # light comes from the sky
    for name in ("dawn", "golden hour", "dusk"):  # a low sun is warm: red over blue
        r, _, b = p[name].sun_color
        assert r > 1.5 * b, name
    assert p["night"].sun_color[2] > p["night"].sun_color[0]  # moonlight drawn blue


def test_heading_times_resolve_to_presets():
    for word, preset in breakdown._TIMES.items():
        assert preset == "" or preset in vocab.LIGHT_PRESETS, word
    scenes = break_down(parse("EXT. ROOF - GOLDEN HOUR\n\nWind.\n\nINT. HALL - NOON\n\nQuiet.\n"))
    assert [s.lighting for s in scenes] == ["golden hour", "noon"]


def test_shot_list_and_spec_read_the_vfx_table():
    scenes = break_down(parse("EXT. TOWER - NIGHT\n\nThe tower explodes.\n"))
    vfx = next(s for s in shotlist.generate_shots(scenes) if s.kind == "vfx")
    category = vocab.VFX_CATEGORIES["explosion"]
    assert (vfx.size, vfx.angle, vfx.lens_mm, vfx.move, vfx.duration_s) == (
        category.size,
        category.angle,
        category.lens_mm,
        category.move,
        category.seconds,
    )
    spec = shotlist.shot_to_spec(vfx, scenes[0], ShotSpec())
    assert spec.trigger.kind == category.trigger
    assert spec.dust.amount == category.dust
    night = vocab.LIGHT_PRESETS["night"]
    assert spec.light.sun_intensity == night.sun_intensity
    assert tuple(spec.light.sky_color) == night.sky_color


def test_vfx_categories_drive_detection_and_drawing():
    assert tuple(breakdown._VFX_RE) == tuple(vocab.VFX_CATEGORIES)  # same priority order
    for name, category in vocab.VFX_CATEGORIES.items():
        assert category.size in vocab.SHOT_SIZES, name
        assert category.trigger in ("supports", "charges"), name
    assert set(drawing.GLOW) == {n for n, c in vocab.VFX_CATEGORIES.items() if c.glow}
    assert set(drawing.SOFT_FX) == {f"fx:{n}" for n, c in vocab.VFX_CATEGORIES.items() if c.soft}
    assert vocab.VFX_CATEGORIES["dust"].regex.search("Dust rolls in")
    assert not vocab.VFX_CATEGORIES["fire"].regex.search("He grabs the fire extinguisher")


def test_shot_sizes_frame_tighter_as_they_close_in():
    sizes = list(vocab.SHOT_SIZES.values())
    assert [s.name for s in sizes] == list(shotlist.SIZES)
    for wide, close in zip(sizes, sizes[1:]):
        assert wide.body[1] - wide.body[0] > close.body[1] - close.body[0]
        assert wide.place_m > close.place_m and wide.room_m > close.room_m
        assert wide.sketch_scale > close.sketch_scale


def test_board_exposure_meters_every_preset_into_a_readable_range():
    exposures = {}
    for name in vocab.LIGHT_PRESETS:
        blk = boards.Blocking("1", True, name)
        sun, sun_rgb, sky_rgb, exposure = drawing.board_light(blk)
        assert math.isfinite(exposure) and exposure > 0, name
        exposures[name] = exposure
    # brighter light, less exposure: the board reads at every hour
    assert exposures["night"] > exposures["dusk"] > exposures["day"]


def test_spec_toml_round_trip_leaves_none_out(tmp_path):
    from setpiece.spec import dump_spec, load_spec

    spec = spec_from_dict({"camera": {"position": [1.0, -30.0, 2.0], "target": None}, "comp": {"view": 'a "b" \\ c'}})
    text = dump_spec(spec)
    assert "target" not in text  # TOML has no null: unset fields are left out
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert load_spec(path) == spec
