import json

import av
import numpy as np
import OpenImageIO as oiio
import pytest
from typer.testing import CliRunner

from setpiece import pipeline
from setpiece.cli import app
from setpiece.errors import StageError
from setpiece.spec import dump_spec
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    out = tmp_path_factory.mktemp("shot")
    result = pipeline.run_shot(small_spec(shot={"frames": 24}), out)
    return out, result


def test_take_has_every_delivery(shot):
    out, result = shot
    take = result.take_dir
    assert take.name == "take_001"
    assert len(list((take / "png").glob("*.png"))) == 24
    assert len(list((take / "exr").glob("*.exr"))) == 24
    assert (take / "collapse.mp4").is_file() and (take / "collapse.usda").is_file()
    assert (take / "collapse.otio").is_file()
    assert json.loads((take / "timings.json").read_text())["sim"] > 0
    assert not list(out.glob(".partial-*"))


def test_exr_holds_beauty_alpha_depth(shot):
    _, result = shot
    img = oiio.ImageBuf(str(result.take_dir / "exr" / "collapse.0001.exr"))
    names = img.spec().channelnames
    assert {"R", "G", "B", "A", "Z"} <= set(names)
    px = img.get_pixels(oiio.FLOAT)
    alpha, depth = px[..., names.index("A")], px[..., names.index("Z")]
    assert alpha.max() == pytest.approx(1.0, abs=1e-3)
    ids = px[..., names.index("id")]
    assert (ids[alpha == 0] == -1).all() and (alpha[ids == -1] < 1).all()  # clear only where there is sky
    assert 5.0 < np.median(depth[alpha > 0.99]) < 200.0


def test_mp4_has_all_frames(shot):
    _, result = shot
    with av.open(str(result.take_dir / "collapse.mp4")) as movie:
        frames = [f for f in movie.decode(video=0)]
    assert len(frames) == 24
    assert frames[0].width == 160 and frames[0].height == 96


def test_usd_animates_fragments(shot):
    from pxr import Usd, UsdGeom

    _, result = shot
    stage = Usd.Stage.Open(str(result.take_dir / "collapse.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    meshes = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and p.GetName().startswith("frag_")]
    assert len(meshes) == result.fragments
    debris = UsdGeom.PointInstancer(stage.GetPrimAtPath("/shot/debris"))
    assert len(debris.GetPositionsAttr().Get(24)) == 1500
    # at the last frame some fragment has fallen below its rest height
    drops = []
    for prim in meshes:
        xf = UsdGeom.Xformable(prim)
        start = xf.ComputeLocalToWorldTransform(1).ExtractTranslation()
        end = xf.ComputeLocalToWorldTransform(24).ExtractTranslation()
        drops.append(start[2] - end[2])
    assert max(drops) > 0.5


def test_second_run_is_a_new_take_and_reuses_the_sim(shot, monkeypatch):
    out, first = shot
    before = sorted(p.name for p in (first.take_dir / "png").iterdir())

    def no_sim(*args, **kwargs):
        raise AssertionError("sim should come from the cache")

    monkeypatch.setattr("setpiece.physics.rigid.simulate", no_sim)
    second = pipeline.run_shot(small_spec(shot={"frames": 24}, render={"width": 128}), out)
    assert second.take_dir.name == "take_002"
    assert {"fracture", "sim", "debris", "dust"} <= second.cached
    assert sorted(p.name for p in (first.take_dir / "png").iterdir()) == before


def test_failed_run_leaves_earlier_takes_and_no_partial(shot, monkeypatch):
    out, first = shot

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("setpiece.render.make_backend", broken)
    with pytest.raises(StageError, match="render: RuntimeError: boom"):
        pipeline.run_shot(small_spec(shot={"frames": 24}), out)
    assert first.take_dir.is_dir()
    assert not list(out.glob(".partial-*"))


def test_cli_renders_a_spec(tmp_path):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(dump_spec(small_spec(shot={"frames": 8}, output={"usd": False, "exr": False})))
    result = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "take_001" / "collapse.mp4").is_file()


def test_cli_bad_spec_is_a_clear_error_not_a_traceback(tmp_path):
    spec_path = tmp_path / "bad.toml"
    spec_path.write_text("[building]\nfloors = -2\n")
    result = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "building.floors" in result.output
    assert "Traceback" not in result.output


def test_dust_shows_after_the_trigger_only(shot, tmp_path):
    from PIL import Image

    _, with_dust = shot
    without = pipeline.run_shot(small_spec(shot={"frames": 24}, dust={"enabled": False}), tmp_path)

    def frame(take, n):
        return np.asarray(Image.open(take.take_dir / "png" / f"collapse.{n:04d}.png"), float)

    assert np.array_equal(frame(with_dust, 1), frame(without, 1))  # nothing has broken yet
    assert np.abs(frame(with_dust, 24) - frame(without, 24)).mean() > 0.5


def test_cli_plate_comp_and_corrupt_plate(tmp_path):
    from PIL import Image

    plate = tmp_path / "plate.png"
    Image.new("RGB", (320, 180), (40, 120, 60)).save(plate)  # a green field
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(
        dump_spec(
            small_spec(
                shot={"frames": 4},
                output={"usd": False, "exr": False},
                dust={"enabled": False},
                debris={"enabled": False},
                comp={"plate": str(plate)},
            )
        )
    )
    ok = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    png = np.asarray(Image.open(tmp_path / "out" / "take_001" / "png" / "collapse.0001.png"), float)
    corner = png[-3:, :3].mean(axis=(0, 1))
    assert corner[1] > corner[0] + 20 and corner[1] > corner[2] + 20  # plate shows where the ground was

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    result = CliRunner().invoke(app, ["render", str(spec_path), "-o", str(tmp_path / "out"), "--plate", str(bad)])
    assert result.exit_code == 2 and "plate.photo" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("take")) == ["take_001"]
