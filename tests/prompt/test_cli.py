"""`setpiece shot "PROMPT"`: the table on stderr, --dry-run TOML on stdout, --spec, rendering."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import setpiece.pipeline
from setpiece.cli import app
from setpiece.pipeline import TakeResult
from setpiece.prompt import reader
from setpiece.spec import load_spec
from setpiece.vocab import LIGHT_PRESETS

PROMPT = "A twelve-storey brick apartment block implodes at dusk, seen from across the street, heavy dust"


@pytest.fixture
def no_render(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may render")

    monkeypatch.setattr(setpiece.pipeline, "run_shot", refuse)


def test_dry_run_prints_only_toml_that_load_spec_accepts(tmp_path, no_render):
    result = CliRunner().invoke(app, ["shot", PROMPT, "--dry-run"])
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.stdout)  # nothing but TOML on stdout
    assert data["building"]["floors"] == 12 and data["trigger"]["mode"] == "implode"
    path = tmp_path / "shot.toml"
    path.write_text(result.stdout)
    spec = load_spec(path)
    assert (spec.building.material, spec.light.sun_elevation) == ("brick", LIGHT_PRESETS["dusk"].sun_elevation)
    assert "building.floors" in result.stderr and "twelve-storey" in result.stderr  # the table


def test_dry_run_applies_command_line_overrides(no_render):
    result = CliRunner().invoke(app, ["shot", "a 10 second shot", "--dry-run", "--frames", "12"])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.stdout)["shot"]["frames"] == 12


def test_spec_keeps_the_fields_the_prompt_does_not_mention(tmp_path, no_render):
    base = tmp_path / "base.toml"
    base.write_text('[shot]\nseed = 99\n[building]\nfloors = 9\nmaterial = "sandstone"\n[render]\nwidth = 320\n')
    result = CliRunner().invoke(app, ["shot", "at dusk it topples to the right", "--spec", str(base), "--dry-run"])
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.stdout)
    assert (data["shot"]["seed"], data["building"]["floors"], data["building"]["material"]) == (99, 9, "sandstone")
    assert data["render"]["width"] == 320
    assert (data["trigger"]["side"], data["light"]["sun_elevation"]) == ("right", LIGHT_PRESETS["dusk"].sun_elevation)


def test_contradiction_is_printed_as_a_warning(no_render):
    result = CliRunner().invoke(app, ["shot", "it falls to the left and to the right", "--dry-run"])
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "using left" in result.stderr


def test_empty_prompt_is_one_clear_error(no_render):
    result = CliRunner().invoke(app, ["shot", "  ", "--dry-run"])
    assert result.exit_code == 2
    assert "prompt is empty" in result.stderr and "Traceback" not in result.output


def test_missing_spec_file_is_one_clear_error(tmp_path, no_render):
    result = CliRunner().invoke(app, ["shot", "a brick block", "--spec", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "spec file not found" in result.stderr


def test_without_the_model_the_cli_says_so(monkeypatch, no_render):
    monkeypatch.setattr(reader, "load_encoder", lambda: (None, "sentence-embedding model not installed"))
    result = CliRunner().invoke(app, ["shot", "a 12-storey brick block", "--dry-run"])
    assert result.exit_code == 0
    assert "model not installed" in result.stderr
    assert tomllib.loads(result.stdout)["building"]["floors"] == 12


def test_shot_writes_the_spec_beside_the_takes_and_renders_it(tmp_path, monkeypatch):
    rendered = {}

    def fake_run_shot(spec, shot_dir, progress=None, farm=None):
        rendered["spec"], rendered["dir"] = spec, Path(shot_dir)
        return TakeResult(Path(shot_dir) / "take_001", spec.shot.frames, 0, {"scene": 0.1})

    monkeypatch.setattr(setpiece.pipeline, "run_shot", fake_run_shot)
    out = tmp_path / "shots" / "tower"
    result = CliRunner().invoke(app, ["shot", PROMPT, "-o", str(out), "--frames", "8", "--backend", "preview"])
    assert result.exit_code == 0, result.output
    assert rendered["dir"] == out and rendered["spec"].shot.frames == 8
    written = load_spec(out / "shot.toml")
    assert written == rendered["spec"] and written.building.floors == 12
    assert "take written" in result.stderr


def test_shot_with_a_plate_needs_no_prompt(tmp_path):
    from PIL import Image

    photo = tmp_path / "street.png"
    Image.new("RGB", (320, 200), (120, 130, 140)).save(photo)
    result = CliRunner().invoke(app, ["shot", "--plate", str(photo), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.stdout)["plate"]["photo"] == str(photo.resolve())
