"""Clean plate: the building's rows of windows are gone, the sky continues, the rest is untouched."""

import numpy as np
import pytest

from setpiece.plate import clean_plate, find_facade, match_camera
from setpiece.plate.clean import _as_mask, sky_mask
from setpiece.plate.facade_search import rectify
from tests.plate.synth import render_photo, three_quarter


@pytest.fixture(scope="module")
def scene():
    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    img = render_photo(cam, floors=6, footprint=(16, 12))
    match = match_camera(img)
    facade = find_facade(img, match)
    return img, match, facade, clean_plate(img, facade.mask(), grow_px=6)


def _storey_periodicity(rgb, facade) -> float:
    """Normalised autocorrelation, one storey apart, of the rectified facade's row profile's
    derivative: rows of windows repeat there (near 1), a lone step from sky to street does not."""
    face = rectify(rgb, facade.quad, facade.proxy.width / facade.proxy.height).astype(float).mean(axis=2)
    profile = face[:, int(0.05 * face.shape[1]) : int(0.95 * face.shape[1])].mean(axis=1)
    d = np.diff(profile)
    lag = round(len(profile) / facade.storeys)
    return float((d[:-lag] * d[lag:]).sum() / max((d * d).sum(), 1e-9))


def test_window_rows_vanish(scene):
    img, match, facade, clean = scene
    assert _storey_periodicity(img, facade) > 0.5  # six rows of windows repeat clearly
    assert _storey_periodicity(clean, facade) < 0.1  # nothing repeats a storey apart any more


def test_sky_continues_where_the_building_stood(scene):
    img, match, facade, clean = scene
    hole = facade.mask()
    sky = sky_mask(img, hole)
    # the band above the horizon, beside the building and inside its outline
    ys, xs = np.nonzero(hole)
    top, bottom = ys.min() + 10, int(np.percentile(ys, 60))
    inside = clean[top:bottom][hole[top:bottom]].astype(float)
    rows = np.arange(img.shape[0])[:, None]
    beside = sky & (rows >= top) & (rows < bottom)
    facade_color = img[hole].astype(float).mean(axis=0)
    sky_color = img[beside].mean(axis=0)
    assert np.abs(inside.mean(axis=0) - sky_color).max() < 12  # now reads as sky ...
    assert np.abs(inside.mean(axis=0) - facade_color).max() > 40  # ... not as concrete


def test_outside_the_region_nothing_changes(scene):
    import cv2

    img, _, facade, clean = scene
    grown = cv2.dilate(facade.mask().astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    assert np.array_equal(clean[~grown], img[~grown])
    assert not np.array_equal(clean[grown], img[grown])


def test_polygon_and_mask_give_the_same_plate(scene):
    img, _, facade, clean = scene
    from_polygon = clean_plate(img, facade.outline(), grow_px=6)
    assert np.abs(from_polygon.astype(int) - clean.astype(int)).mean() < 1.0


def test_deterministic(scene):
    img, _, facade, clean = scene
    assert np.array_equal(clean_plate(img, facade.mask(), grow_px=6), clean)


def test_a_12_megapixel_photo_cleans_in_seconds(scene):
    import time

    import cv2

    img, _, facade, _ = scene
    big = cv2.resize(img, (4096, 2560), interpolation=cv2.INTER_LINEAR)
    outline = facade.outline() * (4096 / img.shape[1])
    start = time.perf_counter()
    clean = clean_plate(big, outline)
    assert time.perf_counter() - start < 15.0
    grown = cv2.dilate(_as_mask(outline, 2560, 4096).astype(np.uint8), np.ones((81, 81)))
    assert np.array_equal(clean[grown == 0], big[grown == 0])  # the fill is pasted into the hole only
