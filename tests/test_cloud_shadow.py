"""The dust cloud's shadow on what lies under it (issue 10: the building and debris receive it)."""

import numpy as np
import pytest

from setpiece.artifacts import DustFrame
from setpiece.camera import Camera
from setpiece.geometry import Mesh
from setpiece.render.raster import PreviewRenderer, cloud_shadow

SUN = np.array([0.0, -1.0, 1.0]) / np.sqrt(2.0)  # low in front of the wall, 45 degrees up
SUN_RGB, SKY_RGB = (3.0, 3.0, 3.0), (0.3, 0.35, 0.4)


def _wall() -> Mesh:
    """A 6 x 4 m wall in the plane y = 0, facing -y (the camera and the sun)."""
    quad = np.array([[-3, 0, 0], [3, 0, 0], [3, 0, 4], [-3, 0, 4]], float)
    return Mesh(quad, np.array([[0, 1, 2], [0, 2, 3]]), (0.5, 0.5, 0.5), "wall")


BOX_LO = np.array([-8.0, -10.0, 0.0])  # the dust grid: 16 m a side, 1 m cells, around the wall


def _dust(lo, hi, density: float) -> DustFrame:
    """Dust of uniform `density` in the block [lo, hi] (metres) of the grid, clear elsewhere."""
    grid = np.zeros((16, 16, 16), np.float32)
    a = np.subtract(lo, BOX_LO).astype(int)
    b = np.subtract(hi, BOX_LO).astype(int)
    grid[a[0] : b[0], a[1] : b[1], a[2] : b[2]] = density
    return DustFrame(0, 0.0, grid, tuple(BOX_LO), tuple(BOX_LO + 16.0))


@pytest.fixture(scope="module")
def wall_frames():
    renderer = PreviewRenderer([_wall()], supersample=1)
    cam = Camera((0.0, -14.0, 2.0), (0.0, 0.0, 2.0), 35.0, 36.0, 96, 64)

    def draw(dust):
        frame = renderer.render_frame(cam, None, SUN, SUN_RGB, SKY_RGB, 20.0, dust_shadow=cloud_shadow(dust, SUN))
        return frame.passes

    yield draw
    renderer.release()


def test_a_thick_cloud_between_sun_and_wall_darkens_the_wall(wall_frames):
    clear = wall_frames(None)
    wall = clear.part == 0
    assert wall.sum() > 500
    # dense dust 3-9 m in front of the wall and up towards the sun: every sun ray crosses it
    cloud = wall_frames(_dust((-4, -9, 5), (4, -3, 11), 4.0))
    lit, shaded = clear.beauty[wall].mean(axis=0), cloud.beauty[wall].mean(axis=0)
    assert (shaded < 0.6 * lit).all()
    # the sky light still reaches it: shaded, not black
    assert (shaded > 0.05 * lit).all()
    assert cloud.shadow[wall].mean() == pytest.approx(clear.shadow[wall].mean())  # the wall is not ground
    # the part the cloud shades is the part it stands in front of
    assert np.array_equal(cloud.part, clear.part)


def test_no_dust_or_dust_out_of_the_sun_changes_nothing(wall_frames):
    clear = wall_frames(None)
    wall = clear.part == 0
    empty = wall_frames(_dust((-4, -9, 5), (4, -3, 11), 0.0))
    assert np.array_equal(empty.beauty, clear.beauty)
    # a cloud behind the wall, away from the sun, casts nothing on its lit face
    behind = wall_frames(_dust((-4, 2, 0), (4, 5, 6), 4.0))
    assert np.allclose(behind.beauty[wall], clear.beauty[wall], rtol=1e-5, atol=1e-6)


def test_the_ground_under_a_cloud_is_in_its_shadow():
    ground_only = PreviewRenderer([], supersample=1)  # the plain ground, id -2
    cam = Camera((0.0, -20.0, 10.0), (0.0, 0.0, 0.0), 35.0, 36.0, 64, 48)
    sun = np.array([0.0, 0.0, 1.0])
    try:
        clear = ground_only.render_frame(cam, None, sun, SUN_RGB, SKY_RGB, 20.0).passes
        dust = _dust((-3, -3, 3), (3, 3, 9), 4.0)  # hangs 3-9 m over the middle of the view
        cloud = ground_only.render_frame(
            cam, None, sun, SUN_RGB, SKY_RGB, 20.0, dust_shadow=cloud_shadow(dust, sun)
        ).passes
    finally:
        ground_only.release()
    centre = (slice(20, 28), slice(28, 36))
    assert cloud.beauty[centre].mean() < 0.6 * clear.beauty[centre].mean()
    assert cloud.shadow[centre].mean() < 0.5  # the shadow pass (for plates) shows it too
    assert clear.shadow[centre].mean() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def building():
    from setpiece.physics.fracture import fracture
    from setpiece.render import fragment_meshes
    from setpiece.world.building import build_scene
    from tests.conftest import small_spec

    spec = small_spec(environment={"kind": "none"})
    scene = build_scene(spec)
    frags = fracture(scene.building, 90, 6, np.random.default_rng(3))
    return spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0))


def _overcast_band() -> DustFrame:
    """A dense layer of dust 12-20 m up over the whole neighbourhood: the sun is behind it."""
    grid = np.zeros((40, 40, 20), np.float32)
    grid[:, :, 6:10] = 3.0  # 2 m cells from z = 0
    return DustFrame(0, 0.0, grid, (-40.0, -40.0, 0.0), (40.0, 40.0, 40.0))


@pytest.mark.parametrize("backend_name", ["preview", "final"])
def test_the_building_is_in_the_shadow_of_the_cloud_over_it(building, backend_name):
    from setpiece.render import make_backend

    spec, scene, meshes = building
    spec = spec.model_copy(update={"render": spec.render.model_copy(update={"backend": backend_name, "spp": 4})})
    backend = make_backend(spec, scene, meshes)
    rest = np.broadcast_to(np.eye(4), (len(meshes), 4, 4)).copy()
    try:
        clear, _ = backend.render(0, rest)
        shaded, layer = backend.render(0, rest, None, _overcast_band())
    finally:
        backend.close()
    walls = clear.part >= 0
    assert walls.sum() > 200 and layer is not None
    lum_clear, lum_shaded = clear.beauty[walls].mean(), shaded.beauty[walls].mean()
    assert lum_shaded < 0.7 * lum_clear
    assert lum_shaded > 0.05 * lum_clear  # the sky still lights it
