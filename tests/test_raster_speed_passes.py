"""What the rasteriser's one-pass resolve computes on the GPU matches its reference: motion in
output pixels, the haze of distance (sky.aerial_perspective), the sky behind (sky.background),
and hidden parts drawn nowhere."""

import numpy as np
import pytest

from setpiece.camera import Camera
from setpiece.geometry import box_mesh
from setpiece.render.raster import PreviewRenderer
from setpiece.render.sky import aerial_perspective, make_sky
from tests.conftest import small_spec

SUN = np.array([0.3, -0.6, 0.74])


@pytest.fixture(scope="module")
def boxes():
    sky = make_sky(small_spec().light)
    parts = [box_mesh((x, 30.0 + 40 * k, 1.0), (2.0, 2.0, 2.0), (0.4, 0.4, 0.4)) for k, x in enumerate((-3.0, 3.0))]
    renderer = PreviewRenderer(parts, sky=sky)  # supersampled 2 x 2
    cam = Camera((0.0, -10.0, 3.0), (0.0, 30.0, 1.0), 35.0, 36.0, 128, 72)
    yield renderer, cam, sky
    renderer.release()


def test_motion_is_in_output_pixels(boxes):
    renderer, cam, _ = boxes
    now = np.broadcast_to(np.eye(4), (2, 4, 4)).copy()
    before = now.copy()
    before[0, 0, 3] = -0.5  # box 0 moved 0.5 m to the right since the last frame
    passes = renderer.render(cam, now, SUN, (3, 3, 3), (0.3, 0.3, 0.3), 60.0, before)
    centre = np.array([[-3.0, 30.0, 1.0]])
    (x1, y1, _), (x0, y0, _) = cam.project(centre)[0], cam.project(centre - [0.5, 0, 0])[0]
    mask = passes.part == 0
    assert mask.sum() > 20
    moved = np.median(passes.motion[mask], axis=0)
    assert moved == pytest.approx([x1 - x0, y1 - y0], abs=0.1)
    assert np.abs(passes.motion[passes.part == 1]).max() < 1e-3  # box 1 stood still


def test_haze_and_sky_match_the_reference(boxes):
    renderer, cam, sky = boxes
    args = (cam, None, SUN, (3, 3, 3), (0.3, 0.3, 0.3), 60.0)
    plain = renderer.render_frame(*args, glass_over=True).passes
    hazy = renderer.render_frame(*args, glass_over=True, haze=True).passes
    reference = aerial_perspective(plain.beauty, plain.alpha, plain.depth, cam, sky)
    far = plain.part == 1  # 70 m away: visibly hazed
    assert np.abs(hazy.beauty[far] - plain.beauty[far]).mean() > 0.005
    assert np.allclose(hazy.beauty, reference, rtol=0.03, atol=2e-3)
    assert np.allclose(plain.background, sky.lookup(cam.rays()[1]), rtol=1e-3, atol=1e-4)


def test_hidden_parts_are_not_drawn_and_the_rest_are(boxes):
    renderer, cam, _ = boxes
    xf = np.broadcast_to(np.eye(4), (2, 4, 4)).copy()
    xf[0] = np.diag([0.0, 0.0, 0.0, 1.0])  # a board's hidden prop: its linear part is zero
    passes = renderer.render(cam, xf, SUN, (3, 3, 3), (0.3, 0.3, 0.3))
    assert not (passes.part == 0).any() and (passes.part == 1).sum() > 5
