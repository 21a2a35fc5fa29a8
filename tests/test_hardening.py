"""Bad input, probed as a careless or hostile user would: every spec either validates
and renders finite frames inside its take, or is refused with a SetpieceError naming
the field; every corrupt plate is refused or read as finite pixels.

The spec strategies are built from the ShotSpec schema itself (field types and
bounds), so a field added later is probed without editing this file."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

import annotated_types as at
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from setpiece import pipeline
from setpiece.cli import app
from setpiece.comp import load_plate
from setpiece.errors import InputError, OutputError, SetpieceError, SpecError
from setpiece.spec import SAFE_NAME, ShotSpec, dump_spec, load_spec, spec_from_dict

SECTIONS = {name: info.annotation for name, info in ShotSpec.model_fields.items()}
STAGES = ("scene", "fracture", "sim", "debris", "dust", "render", "comp", "deliver")
NAMES_A_FIELD = re.compile(r"\b(" + "|".join([*SECTIONS, *STAGES]) + r"|extra_section)\b")
# SETPIECE_FUZZ=N runs N times the examples, freshly random: a deeper search by hand
FUZZ = int(os.environ.get("SETPIECE_FUZZ", "0"))
HYPOTHESIS = dict(
    deadline=None,
    derandomize=not FUZZ,  # CI sees the same examples every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # shrinking slow renders takes many minutes


def examples(n: int) -> int:
    return n * max(FUZZ, 1)


# A shot that renders in about a second: one or two storeys, four frames of 32 px.
TINY = {
    "shot": {"frames": 4},
    "building": {"floors": 1, "footprint": [4.0, 3.0], "bays": [1, 1]},
    "fracture": {"fragments": 40, "cluster_size": 4},
    "trigger": {"time": 0.0},
    "render": {"width": 32, "height": 32},
    "dust": {"resolution": 8},
    "debris": {"count": 8},
}


def tiny_spec(**sections) -> ShotSpec:
    data = {k: dict(v) for k, v in TINY.items()}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return spec_from_dict(data)


def assert_names_a_field(err: SetpieceError) -> None:
    lines = str(err).splitlines()
    body = lines[1:] if lines[0].startswith("invalid shot spec") else lines
    assert body, str(err)
    for line in body:
        assert NAMES_A_FIELD.search(line), f"error line names no field: {line!r}"


# --- the inputs the issue lists ----------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"shot": {"name": "../../../../evil"}}, "shot.name"),
        ({"shot": {"name": "a\x00b"}}, "shot.name"),
        ({"shot": {"name": "a/b"}}, "shot.name"),
        ({"shot": {"name": "a\\b"}}, "shot.name"),
        ({"shot": {"name": ".."}}, "shot.name"),
        ({"shot": {"name": ".hidden"}}, "shot.name"),
        ({"camera": {"position": [math.nan, 0.0, 5.0]}}, "camera.position.0"),
        ({"camera": {"target": [0.0, math.inf, 5.0]}}, "camera.target.1"),
        ({"camera": {"position": [3.0, 4.0, 5.0], "target": [3.0, 4.0, 5.0]}}, "camera.position"),
        ({"camera": {"position": [0.0, 0.0, 7.68]}}, "camera.position"),  # at the default target
        ({"trigger": {"time": math.inf}}, "trigger.time"),
        ({"trigger": {"time": math.nan}}, "trigger.time"),
        ({"light": {"sun_color": [1.0, math.nan, 1.0]}}, "light.sun_color.1"),
        ({"light": {"sky_color": [-1.0, 0.5, 0.5]}}, "light.sky_color.0"),
        ({"sim": {"max_speed": math.inf}}, "sim.max_speed"),
        ({"shot": {"fps": 1e-300}}, "shot.fps"),  # a sim step of 1e300 s overflowed the debris
        ({"building": {"footprint": [0.0, 9.0]}}, "footprint width"),
        ({"building": {"footprint": [3.0, 3.0], "bays": [12, 1], "column_size": 1.5}}, "building: bays: 12 bays"),
        ({"building": {"storey_height": 2.2, "slab_thickness": 1.0}}, "building: slab_thickness"),
        ({"comp": {"exposure": -math.inf}}, "comp.exposure"),
        ({"comp": {"ocio_config": "/no/such/config.ocio"}}, "comp.ocio_config"),
        ({"comp": {"plate": "/no/such/plate.jpg"}}, "comp.plate"),
        ({"comp": {"plate": "/tmp"}}, "comp.plate"),
        ({"comp": {"plate": "a\x00b.jpg"}}, "comp.plate"),
    ],
)
def test_issue_inputs_are_refused_naming_the_field(data, field):
    with pytest.raises(SpecError, match=re.escape(field)) as err:
        spec_from_dict(data)
    assert_names_a_field(err.value)


def test_unsafe_name_error_says_what_is_allowed():
    with pytest.raises(SpecError, match=r"letters, digits.*e\.g\. 'collapse_v2'"):
        spec_from_dict({"shot": {"name": "../evil"}})


def test_nan_in_toml_is_refused(tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text("[camera]\nposition = [nan, 0.0, 5.0]\n")
    with pytest.raises(SpecError, match=r"camera\.position\.0: Input should be a finite number"):
        load_spec(path)


def test_relative_ocio_config_is_found_next_to_the_spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[comp]\nocio_config = "studio.ocio"\n')
    with pytest.raises(SpecError, match=re.escape(str(tmp_path / "studio.ocio"))):
        load_spec(path)


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "trigger", [{"floors": []}, {"time": 3600.0}], ids=["no floors cut", "trigger after the last frame"]
)
def test_shot_where_nothing_breaks_renders_with_debris_on(tmp_path, trigger):
    spec = tiny_spec(trigger=trigger, debris={"count": 12})
    result = pipeline.run_shot(spec, tmp_path)
    take = result.take_dir
    assert len(list((take / "png").glob("*.png"))) == 4 and (take / "collapse.mp4").stat().st_size > 0
    assert not [e for e in json.loads((take / "events.json").read_text()) if e["kind"] == "break"]


def test_full_disk_is_one_output_error_and_no_partial_take(tmp_path, monkeypatch):
    from PIL import Image

    first = pipeline.run_shot(tiny_spec(output={"exr": False, "usd": False}), tmp_path).take_dir
    before = {p: p.read_bytes() for p in _files_under(first)}

    def full_disk(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OutputError, match=r"disk full while writing .*collapse\.\d{4}\.png; free space"):
        pipeline.run_shot(tiny_spec(output={"exr": False, "usd": False}), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".cache")) == ["take_001"]
    assert {p: p.read_bytes() for p in _files_under(first)} == before


def test_full_disk_on_the_cli_is_one_line_exit_2(tmp_path, monkeypatch):
    from PIL import Image

    def full_disk(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(dump_spec(tiny_spec(output={"exr": False, "usd": False, "mp4": False})))
    result = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "disk full" in result.output and "Traceback" not in result.output
    assert result.output.count("error:") == 1


# --- schema-driven spec generation ------------------------------------------------------


def _bounds(metadata) -> tuple:
    lo = hi = None
    lo_open = hi_open = False
    for m in metadata:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi, hi_open = m.lt, True
    return lo, hi, lo_open, hi_open


def _split(annotation) -> tuple:
    """(base type, constraint metadata) of a possibly Annotated type."""
    if hasattr(annotation, "__metadata__"):
        base, *extra = get_args(annotation)
        metadata = [m for info in extra for m in getattr(info, "metadata", [info])]
        return base, metadata
    return annotation, []


ODD_STRINGS = st.sampled_from(
    ["", " ", "../../../../evil", "a\x00b", "a/b", "..", ".x", "\u202e", "x" * 300, "nan", "inf", "/", "C:\\x"]
    + ["\U0001f600", "\ud800", "a\x7fb", 'q"\\', "\n[shot]"]
)
WRONG_TYPES = st.sampled_from([None, True, "12", [], {}, [1, 2, 3, 4, 5], {"a": 1}, "nan"])
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def valid_value(annotation, metadata=()):
    base, more = _split(annotation)
    metadata = [*metadata, *more]
    origin = get_origin(base)
    if origin is Union or type(base).__name__ == "UnionType":
        return st.one_of([valid_value(a) for a in get_args(base)])
    if base is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(get_args(base))
    if origin is tuple:
        args = get_args(base)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(valid_value(args[0]), max_size=4)
        return st.tuples(*[valid_value(a) for a in args]).map(list)
    if base is bool:
        return st.booleans()
    lo, hi, lo_open, hi_open = _bounds(metadata)
    if base is int:
        lo = 0 if lo is None else lo + lo_open
        hi = lo + 1000 if hi is None else hi - hi_open
        return st.integers(lo, hi)
    if base is float:
        return st.floats(
            -1e3 if lo is None else lo,
            1e3 if hi is None else hi,
            exclude_min=lo_open,
            exclude_max=hi_open,
            allow_nan=False,
        )
    if base is str:
        return st.one_of(st.text(max_size=20), st.text(st.characters(codec="utf-8"), max_size=8))
    raise AssertionError(f"no strategy for {annotation!r}: extend valid_value")


def invalid_value(annotation, metadata=()):
    base, more = _split(annotation)
    lo, hi, _, _ = _bounds([*metadata, *more])
    wrong = [WRONG_TYPES, ODD_STRINGS, NON_FINITE, st.floats(-1e300, 1e300), st.integers(-(10**30), 10**30)]
    if lo is not None:
        wrong.append(st.just(lo - 1))
    if hi is not None:
        wrong.append(st.just(hi + 1))
    args = get_args(base)
    if get_origin(base) is tuple:  # a tuple with one bad element, or the wrong length
        wrong.append(st.tuples(*[st.one_of(valid_value(a), invalid_value(a)) for a in args if a is not Ellipsis]))
        wrong.append(st.lists(st.floats(allow_nan=True), max_size=6))
    return st.one_of(wrong)


def any_value(annotation, metadata):
    return st.one_of(valid_value(annotation, metadata), invalid_value(annotation, metadata))


def section_dict(section, value=any_value):
    fields = {name: value(info.annotation, info.metadata) for name, info in section.model_fields.items()}
    return st.fixed_dictionaries({}, optional=fields)


any_section = {
    name: st.one_of(
        section_dict(cls),
        section_dict(cls).map(lambda d: {**d, "lens": 35}),  # an unknown key
        WRONG_TYPES,
    )
    for name, cls in SECTIONS.items()
}
any_spec = st.fixed_dictionaries({}, optional={**any_section, "extra_section": st.just({"a": 1})})


def _all_floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _all_floats(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _all_floats(v)


@settings(max_examples=examples(400), **HYPOTHESIS)
@given(any_spec)
def test_any_spec_validates_or_is_refused_naming_a_field(data):
    try:
        spec = spec_from_dict(data)
    except SpecError as err:
        event("refused")
        assert_names_a_field(err)
        return
    event("accepted")
    assert all(math.isfinite(x) for x in _all_floats(spec.model_dump()))
    assert SAFE_NAME.fullmatch(spec.shot.name) and ".." not in spec.shot.name


valid_spec = st.fixed_dictionaries(
    {}, optional={name: section_dict(cls, lambda a, m: valid_value(a, m)) for name, cls in SECTIONS.items()}
)


@settings(max_examples=examples(150), **HYPOTHESIS)
@given(valid_spec)
def test_accepted_spec_survives_its_toml_round_trip(data):
    try:
        spec = spec_from_dict(data)
    except SpecError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        assert load_spec(path) == spec


# --- tiny renders of generated specs --------------------------------------------------

TINY_FIELDS = {
    # sizes stay tiny so each example renders in about a second
    ("shot", "frames"): st.integers(1, 4),
    ("shot", "name"): st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,15}", fullmatch=True),
    ("building", "floors"): st.integers(1, 2),
    ("building", "bays"): st.tuples(st.integers(1, 2), st.integers(1, 2)).map(list),
    ("building", "footprint"): st.tuples(st.floats(3.0, 30.0), st.floats(3.0, 30.0)).map(list),
    ("fracture", "fragments"): st.integers(40, 64),
    ("fracture", "cluster_size"): st.integers(1, 12),
    ("trigger", "time"): st.sampled_from([0.0, 0.04, 0.1, 5.0, 3600.0]),
    ("trigger", "floors"): st.lists(st.integers(0, 1), max_size=2),
    ("sim", "substeps"): st.integers(1, 4),
    ("render", "backend"): st.just("preview"),
    ("render", "width"): st.integers(16, 32),
    ("render", "height"): st.integers(16, 32),
    ("dust", "resolution"): st.integers(8, 10),
    ("debris", "count"): st.integers(0, 20),
    ("comp", "plate"): st.sampled_from([None, "PLATE"]),
    ("comp", "ocio_config"): st.just(""),
    ("comp", "display"): st.just("sRGB - Display"),
    ("comp", "view"): st.sampled_from(["ACES 2.0 - SDR 100 nits (Rec.709)", "No Such View"]),
}


def _tiny_section(name, cls):
    fields = {
        f: TINY_FIELDS[(name, f)] if (name, f) in TINY_FIELDS else valid_value(i.annotation, i.metadata)
        for f, i in cls.model_fields.items()
    }
    required = {f: s for f, s in fields.items() if (name, f) in TINY_FIELDS and name != "comp"}
    optional = {f: s for f, s in fields.items() if f not in required}
    return st.fixed_dictionaries(required, optional=optional)


tiny_specs = st.fixed_dictionaries({name: _tiny_section(name, cls) for name, cls in SECTIONS.items()})


@pytest.fixture(scope="module")
def plate_file(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("plate") / "plate.jpg"
    Image.new("RGB", (96, 54), (90, 140, 200)).save(path)
    return str(path)


def _check_take(spec: ShotSpec, out: Path) -> None:
    import OpenImageIO as oiio

    assert {p.name for p in out.iterdir()} <= {"take_001", ".cache"}, "a file landed outside the take"
    take = out / "take_001"
    frames = spec.shot.frames
    if spec.output.png:
        assert len(list((take / "png").glob("*.png"))) == frames
    if spec.output.exr:
        exrs = sorted((take / "exr").glob("*.exr"))
        assert len(exrs) == frames
        for path in exrs:
            assert np.isfinite(oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT)).all(), path
    events = json.loads((take / "events.json").read_text())
    assert all(math.isfinite(x) for x in _all_floats(events))
    assert all(math.isfinite(x) for x in json.loads((take / "timings.json").read_text()).values())


@settings(max_examples=examples(18), phases=NO_SHRINK, **HYPOTHESIS)
@given(tiny_specs)
def test_generated_specs_render_finite_frames_or_are_refused(plate_file, data):
    if data.get("comp", {}).get("plate") == "PLATE":
        data["comp"]["plate"] = plate_file
    try:
        spec = spec_from_dict(data)
    except SpecError as err:
        event(f"refused by validation: {str(err).splitlines()[1].split(':')[0]}")
        assert_names_a_field(err)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "shot"
        try:
            pipeline.run_shot(spec, out)
        except SetpieceError as err:  # checks that need the scene or machine (too few fragments, no GPU)
            event(f"refused at run time: {str(err).split(':')[0]}")
            assert "unexpected failure" not in str(err), err  # a crash the error boundary caught
            assert_names_a_field(err)
            assert not out.exists() or not [p for p in out.iterdir() if p.name.startswith("take")]
            return
        event("rendered")
        _check_take(spec, out)


# --- corrupt plates ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def plate_bytes(tmp_path_factory):
    """A small photo-like plate saved as PNG, JPEG and EXR."""
    import OpenImageIO as oiio
    from PIL import Image

    root = tmp_path_factory.mktemp("plates")
    rng = np.random.default_rng(1)
    img = (np.linspace(0, 1, 48)[None, :, None] * rng.uniform(0.5, 1.0, (32, 1, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(root / "p.png")
    Image.fromarray(img).save(root / "p.jpg", quality=85)
    buf = oiio.ImageBuf(oiio.ImageSpec(48, 32, 3, oiio.HALF))
    buf.set_pixels(oiio.ROI(), (img / 255.0).astype(np.float32))
    buf.specmod().attribute("DateTime", "2026:01:01 00:00:00")  # else the header holds today's time
    buf.write(str(root / "p.exr"))
    return {ext: (root / f"p.{ext}").read_bytes() for ext in ("png", "jpg", "exr")}


corruptions = st.one_of(
    st.tuples(st.just("random"), st.binary(max_size=600)),
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 255)), min_size=1, max_size=8)),
)


def _corrupt(data: bytes, how) -> bytes:
    kind, arg = how
    if kind == "random":
        return arg
    if kind == "truncate":
        return data[: int(len(data) * arg)]
    out = bytearray(data)
    for where, value in arg:
        out[int(len(out) * where)] = value
    return bytes(out)


@settings(max_examples=examples(150), **HYPOTHESIS)
@given(ext=st.sampled_from(["png", "jpg", "exr"]), how=corruptions)
def test_corrupt_plates_are_refused_or_read_as_finite_pixels(plate_bytes, ext, how):
    """Truncated files and junk are refused; a flipped byte that still decodes (JPEG
    entropy data has no checksum) must at least give finite pixels of the right shape."""
    data = _corrupt(plate_bytes[ext], how)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"plate.{ext}"
        path.write_bytes(data)
        try:
            plate = load_plate(str(path), 40, 24)
        except InputError as err:
            event(f"{ext} {how[0]}: refused")
            assert "comp.plate" in str(err)
            return
    event(f"{ext} {how[0]}: read")
    assert how[0] != "truncate" or len(data) == len(plate_bytes[ext]), "a truncated plate was used"
    assert plate.shape == (24, 40, 3) and np.isfinite(plate).all()


@settings(max_examples=examples(120), **HYPOTHESIS)
@given(section_dict(SECTIONS["building"], lambda a, m: valid_value(a, m)))
def test_accepted_buildings_have_solid_members_that_do_not_overlap(data):
    """Bays too narrow for the columns, or slabs filling the storey, are refused;
    whatever is accepted builds members with volume that never overlap."""
    from setpiece.world.building import make_building

    data = {**data, "floors": min(data.get("floors", 1), 3)}  # members repeat per storey
    try:
        section = spec_from_dict({"building": data}).building
    except SpecError as err:
        assert_names_a_field(err)
        return
    elements = make_building(section).elements
    lo = np.array([e.lo for e in elements])
    hi = np.array([e.hi for e in elements])
    assert (hi - lo).min() > 1e-6
    overlap = np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None])
    inside = np.all(overlap > 1e-6, axis=-1)
    np.fill_diagonal(inside, False)
    assert not inside.any()


@pytest.mark.parametrize(
    "toml, field",
    [
        ('[shot]\nname = "../../../../evil"\n', "shot.name"),
        ("[camera]\nposition = [nan, 0.0, 5.0]\n", "camera.position.0"),
        ("[trigger]\ntime = inf\n", "trigger.time"),
        ('[comp]\nocio_config = "missing.ocio"\n', "comp.ocio_config"),
    ],
)
def test_cli_refuses_hostile_specs_in_one_line_and_writes_nothing(tmp_path, toml, field):
    spec_path = tmp_path / "bad.toml"
    spec_path.write_text(toml)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert field in result.output and "Traceback" not in result.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
