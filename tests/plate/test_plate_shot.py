"""The building in a photo collapses: spec from the photo, frame 1 is the photo, the clean plate shows."""

import numpy as np
import OpenImageIO as oiio
import pytest
from PIL import Image

from setpiece import pipeline
from setpiece.errors import SetpieceError
from setpiece.plate.shot import make_plates, resolve
from setpiece.spec import spec_from_dict
from tests.plate.synth import render_photo, three_quarter

FRAMES = 40


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "street.png"
    Image.fromarray(render_photo(three_quarter(40, 35, 1.7, 9, 24), floors=6, footprint=(16, 12))).save(path)
    return path


def _spec(photo, **sections):
    data = {
        "shot": {"frames": FRAMES, "seed": 3},
        "fracture": {"fragments": 200},
        "trigger": {"time": 0.2, "floors": [0, 2]},
        "debris": {"count": 200},
        "dust": {"enabled": False},
        "render": {"width": 320},
        "output": {"usd": False, "exr": True},
        "plate": {"photo": str(photo)},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def take(photo_path, tmp_path_factory):
    return pipeline.run_shot(_spec(photo_path), tmp_path_factory.mktemp("shot")).take_dir


def _png(take, frame):
    return np.asarray(Image.open(take / "png" / f"collapse.{frame:04d}.png"), float)


def _alpha(take, frame):
    buf = oiio.ImageBuf(str(take / "exr" / f"collapse.{frame:04d}.exr"))
    return buf.get_pixels(oiio.FLOAT)[..., buf.spec().channelnames.index("A")]


def test_the_photo_sets_building_camera_and_frame(photo_path):
    spec = resolve(_spec(photo_path))
    assert spec.building.floors == 6  # counted from the photo's window rows
    assert spec.building.footprint[0] == pytest.approx(16.0, rel=0.1)
    assert spec.camera.focal_length == pytest.approx(24.0, rel=0.05)
    assert (spec.render.width, spec.render.height) == (320, 200)  # the photo's aspect
    assert spec.plate.corners is not None and spec.plate.storeys == 6  # written back: reruns are exact
    again = resolve(spec)  # from the written-back corners: the same shot
    assert again.building.floors == spec.building.floors
    assert again.building.footprint == pytest.approx(spec.building.footprint, rel=1e-2)
    assert again.camera.position == pytest.approx(spec.camera.position, abs=0.05)


def test_frame_one_is_the_photo(take, photo_path):
    photo = np.asarray(Image.open(photo_path).resize((320, 200), Image.Resampling.BOX), float)
    assert np.abs(_png(take, 1) - photo).mean() <= 3.0


def test_the_clean_plate_shows_where_the_building_stood(take, photo_path):
    spec = resolve(_spec(photo_path))
    plates = make_plates(spec.plate).sized(320, 200)
    stood = _alpha(take, 1) > 0.99
    gone = stood & (_alpha(take, FRAMES) < 0.01)  # the building covered it at the start, no longer
    assert gone.sum() > 200
    last = _png(take, FRAMES)[gone]
    clean = _to8(plates.clean)[gone]
    photo = _to8(plates.photo)[gone]
    assert np.abs(last - clean).mean() < 2.0
    assert np.abs(last - photo).mean() > 10.0  # and that is not the building's facade


def _to8(linear):
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.clip(linear, 0, None) ** (1 / 2.4) - 0.055)
    return np.round(np.clip(srgb, 0, 1) * 255).astype(float)


def test_a_photo_without_a_building_names_plate_corners(tmp_path):
    sky = tmp_path / "sky.png"
    ramp = np.linspace(80, 230, 240)[:, None, None] * np.ones((240, 320, 3))
    Image.fromarray(ramp.astype(np.uint8)).save(sky)
    with pytest.raises(SetpieceError, match=r"plate\.corners = \[\[x,y\]"):
        pipeline.run_shot(_spec(sky), tmp_path / "shot")
    assert not list((tmp_path / "shot").glob("take_*"))
