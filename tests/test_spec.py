import pytest

from setpiece.errors import SpecError
from setpiece.spec import ShotSpec, dump_spec, load_spec, spec_from_dict


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    assert load_spec(path) == ShotSpec()


def test_example_spec_loads():
    spec = load_spec("examples/collapse.toml")
    assert spec.building.floors == 6 and spec.fracture.fragments >= 500


def test_round_trip_through_toml(tmp_path):
    spec = spec_from_dict({"building": {"floors": 9}, "camera": {"position": [1.0, 2.0, 3.0]}})
    path = tmp_path / "s.toml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


@pytest.mark.parametrize(
    "data, field",
    [
        ({"building": {"floors": 0}}, "building.floors"),
        ({"building": {"footprint": [1000.0, 5.0]}}, "footprint width"),
        ({"render": {"width": 100000}}, "render.width"),
        ({"trigger": {"floors": [12]}}, "trigger.floors"),
        ({"building": {"material": "cheese"}}, "building.material"),
        ({"camera": {"lens": 35}}, "camera.lens"),
    ],
)
def test_invalid_values_name_the_field(data, field):
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        spec_from_dict(data)


def test_malformed_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[building\nfloors = 3")
    with pytest.raises(SpecError, match="bad.toml.*not valid TOML"):
        load_spec(path)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")


def test_digest_tracks_only_named_sections():
    a = ShotSpec()
    b = spec_from_dict({"render": {"width": 320}})
    assert a.digest("building", "sim") == b.digest("building", "sim")
    assert a.digest() != b.digest()


@pytest.mark.parametrize("text", ["\U0001f600 emoji", "del\x7f", "nul\x00", 'quote" back\\slash', "line\nbreak"])
def test_odd_strings_survive_the_toml_round_trip(tmp_path, text):
    spec = spec_from_dict({"comp": {"display": text}})
    path = tmp_path / "s.toml"
    path.write_text(dump_spec(spec), encoding="utf-8")
    assert load_spec(path) == spec


def test_text_that_is_not_unicode_is_refused():
    with pytest.raises(SpecError, match="comp.view: holds characters that are not valid Unicode"):
        spec_from_dict({"comp": {"view": "\ud800"}})


def test_dust_that_cannot_fit_in_memory_is_refused_naming_both_fields(monkeypatch):
    from setpiece import spec as specmod

    monkeypatch.setattr(specmod, "_physical_memory", lambda: 4 * 2**30)
    spec_from_dict({"dust": {"resolution": 128}, "shot": {"frames": 120}})  # ~0.2 GiB: fine
    with pytest.raises(SpecError, match=r"dust\.resolution 256 over 2400 frames \(shot\.frames\).*GiB"):
        spec_from_dict({"dust": {"resolution": 256}, "shot": {"frames": 2400}})
    spec_from_dict({"dust": {"resolution": 256, "enabled": False}, "shot": {"frames": 2400}})
