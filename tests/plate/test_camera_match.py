"""Camera match on synthetic photos drawn by our own rasteriser with a known camera."""

import math

import numpy as np
import pytest

from setpiece.plate import PlateSection, find_facade, match_camera, projection
from tests.plate.synth import render_photo, three_quarter

# (distance, azimuth, camera height, target height, focal mm), building
CASES = {
    "wide_left_block": ((40, 35, 1.7, 9, 24), dict(floors=6, footprint=(16, 12))),
    "normal_long_block": ((50, 25, 1.6, 10, 35), dict(floors=8, footprint=(20, 12))),
    "from_the_right": ((35, -40, 2.0, 7, 28), dict(floors=4, footprint=(12, 14))),
    "tele_tower": ((70, 20, 1.7, 14, 50), dict(floors=10, footprint=(18, 14))),
}


def _true_pitch(cam) -> float:
    f = np.subtract(cam.target, cam.position)
    return math.degrees(math.asin(f[2] / np.linalg.norm(f)))


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    cam_args, building = CASES[request.param]
    cam = three_quarter(*cam_args, size=(960, 600))
    img = render_photo(cam, **building)
    return cam, building, img, match_camera(img)


def test_focal_length_within_five_percent(case):
    cam, _, _, match = case
    assert match.focal_source == "lines"
    assert match.focal_length == pytest.approx(cam.focal_length, rel=0.05)


def test_horizon_within_one_degree(case):
    cam, _, _, match = case
    assert abs(match.roll) < 1.0  # the synthetic camera is level
    assert match.pitch == pytest.approx(_true_pitch(cam), abs=1.0)
    # the horizon line passes where the true camera sees the horizon, within 1 degree of view
    a, b, c = match.horizon()
    y_centre = -(c + a * cam.width / 2) / b
    true_y = cam.height / 2 + match.focal_px * math.tan(math.radians(_true_pitch(cam)))
    assert abs(math.degrees(math.atan((y_centre - true_y) / match.focal_px))) < 1.0


def test_storeys_counted_from_the_window_rows():
    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    match = match_camera(render_photo(cam, floors=6, footprint=(16, 12)))
    assert match.storeys_source == "windows"
    assert match.storeys == 6
    width, height = match.facade_size
    assert height == pytest.approx(6 * 3.2)
    assert width == pytest.approx(16.0, rel=0.1)  # metric scale carries to the width
    # the camera stands where it stood, relative to the building (footprint centred on the origin)
    assert np.linalg.norm(match.position - np.asarray(cam.position)) < 0.06 * np.linalg.norm(cam.position)


def _true_front(cam, building) -> np.ndarray:
    """Front facade corners as a user would click them: tl, tr, br, bl, whole pixels."""
    w, d = building["footprint"]
    h = building["floors"] * 3.2
    world = np.array([[-w / 2, -d / 2, h], [w / 2, -d / 2, h], [w / 2, -d / 2, 0], [-w / 2, -d / 2, 0]])
    return np.round(cam.project(world)[:, :2])


@pytest.mark.parametrize("name", ["wide_left_block", "from_the_right"])  # whole facade in frame
def test_proxy_faces_lie_on_the_clicked_corners_and_the_side_wall(name):
    cam_args, building = CASES[name]
    cam = three_quarter(*cam_args, size=(960, 600))
    img = render_photo(cam, **building)
    corners = _true_front(cam, building)
    match = match_camera(img, PlateSection(corners=[tuple(p) for p in corners]))
    facade = find_facade(img, match)
    got = facade.projected_face("front")[[3, 2, 1, 0]]
    assert np.abs(got - corners).max() < 2.0
    assert facade.proxy.width == pytest.approx(building["footprint"][0], rel=0.05)
    assert facade.storeys == building["floors"]
    # the side wall in view runs back as far as the block's does: depth from its lines
    w, d = building["footprint"]
    assert facade.proxy.depth == pytest.approx(d, rel=0.05)
    sx = 1 if cam.position[0] > 0 else -1
    far_foot = cam.project(np.array([[sx * w / 2, d / 2, 0.0]]))[0, :2]
    side = facade.projected_face("right" if sx > 0 else "left")
    assert np.linalg.norm(side - far_foot, axis=1).min() < 6.0


def _visible_faces(cam, building):
    """Bottom corners (bottom-right, bottom-left as seen) and widths of the block's faces the camera sees."""
    w, d = building["footprint"]
    front = np.array([[w / 2, -d / 2, 0], [-w / 2, -d / 2, 0]])
    sx = 1 if cam.position[0] > 0 else -1  # the side wall facing the camera
    side = np.array([[sx * w / 2, sx * d / 2, 0], [sx * w / 2, -sx * d / 2, 0]])
    if sx < 0:
        side = side[::-1]
    return [(cam.project(front)[:, :2], w), (cam.project(side)[:, :2], d)]


def test_automatic_facade_is_a_face_of_the_block(case):
    cam, building, img, match = case
    facade = find_facade(img, match)
    got = facade.projected_face("front")[:2][::-1]  # bottom-right, bottom-left
    errors = [
        (np.abs(np.sort(got, axis=0) - np.sort(true, axis=0)).max(), width)
        for true, width in _visible_faces(cam, building)
    ]
    error, width = min(errors)
    assert error < 0.04 * cam.width  # the facade's foot, within a few per cent of the frame
    assert facade.proxy.width == pytest.approx(width, rel=0.1)


def test_to_camera_projects_like_the_match(case):
    _, _, _, match = case
    camera = match.to_camera()
    pts = np.random.default_rng(1).uniform(-6, 6, (20, 3)) + [0, 0, 8]
    assert np.abs(camera.project(pts)[:, :2] - match.project(pts)[:, :2]).max() < 0.5


def test_hints_win():
    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    img = render_photo(cam, floors=6, footprint=(16, 12))
    match = match_camera(img, PlateSection(focal_length=30.0, storeys=4, storey_height=3.0))
    assert match.focal_source == "hint" and match.focal_length == pytest.approx(30.0)
    assert match.storeys == 4 and match.facade_size[1] == pytest.approx(12.0)
    measured = match_camera(img, PlateSection(facade_height=25.0))
    assert measured.facade_size[1] == pytest.approx(25.0) and measured.storeys_source == "measurement"


def test_projection_uvs_land_on_the_facade_texture():
    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    img = render_photo(cam, floors=6, footprint=(16, 12))
    match = match_camera(img)
    proxy = find_facade(img, match).proxy
    proj = projection(img, match, proxy)
    front = proxy.face("front")
    uv, inside = proj.uv(front)
    assert inside.all()
    px = match.project(front)[:, :2]
    assert np.allclose(uv[:, 0] * match.width, px[:, 0]) and np.allclose((1 - uv[:, 1]) * match.height, px[:, 1])
    assert proj.facing(front.mean(axis=0)[None], np.array([[0.0, -1.0, 0.0]])).all()
    assert not proj.facing(proxy.face("back").mean(axis=0)[None], np.array([[0.0, 1.0, 0.0]])).any()
    # a point in the middle of the front face samples the facade (concrete), not the sky
    centre = proj.sample(np.array([[0.0, -proxy.depth / 2, proxy.height * 0.55]]))[0].astype(int)
    assert abs(centre[2] - centre[0]) < 40  # grey concrete; the sky is strongly blue
    assert set(proj.face_uvs()) == set(proxy.visible_faces(match.position))


def test_same_photo_same_match(case):
    _, _, img, match = case
    again = match_camera(img)
    assert again.focal_px == match.focal_px
    assert np.array_equal(again.rotation, match.rotation) and np.array_equal(again.quad, match.quad)


def test_corners_of_a_downscaled_photo_are_scaled_with_it(tmp_path):
    import warnings

    from PIL import Image

    from setpiece.plate import PlateWarning, load_photo

    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    building = dict(floors=6, footprint=(16, 12))
    path = tmp_path / "street.png"
    Image.fromarray(render_photo(cam, **building)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlateWarning)
        photo = load_photo(path, max_pixels=480 * 300)
    corners = _true_front(cam, building)  # clicked on the full-size photo
    match = match_camera(photo, PlateSection(corners=[tuple(p) for p in corners]))
    assert match.width == 480
    assert np.abs(match.quad - corners * photo.scale).max() < 1e-9


def test_camera_height_from_the_ground_plane(case):
    cam, _, _, match = case
    normal, offset = match.ground_plane()
    assert np.linalg.norm(normal) == pytest.approx(1.0)
    assert offset == pytest.approx(cam.position[2], abs=0.6)  # metres above the street


def _frontal_photo(tmp_path, exif_focal=None):
    """Straight at the facade from eye height, level: vertical and facade lines stay parallel, so
    the lines cannot tell the focal length."""
    from PIL import Image

    cam = three_quarter(45, 0, 6.0, 6.0, 40, size=(960, 600))
    img = Image.fromarray(render_photo(cam, floors=4, footprint=(18, 10)))
    path = tmp_path / "frontal.jpg"
    exif = Image.Exif()
    if exif_focal:
        exif.get_ifd(0x8769)[0xA405] = exif_focal
    img.save(path, quality=95, exif=exif)
    return path


def test_unmeasurable_focal_length_falls_back_to_exif_then_default(tmp_path):
    from setpiece.plate import PlateWarning, load_photo

    with pytest.warns(PlateWarning, match="plate.focal_length"):
        plain = match_camera(load_photo(_frontal_photo(tmp_path)))
    assert plain.focal_source == "default" and plain.focal_length == pytest.approx(28.0)
    noted = match_camera(load_photo(_frontal_photo(tmp_path, exif_focal=40)))
    assert noted.focal_source == "exif" and noted.focal_length == pytest.approx(40.0)
    assert abs(noted.pitch) < 1.0 and abs(noted.roll) < 1.0  # level, as shot
