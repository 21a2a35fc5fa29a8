"""Camera match on real street photos committed in fixtures/ (see its README for sources)."""

import tomllib
from pathlib import Path

import numpy as np
import pytest

from setpiece.plate import PlateSection, find_facade, load_photo, match_camera
from setpiece.plate.lines import angle_errors

FIXTURES = Path(__file__).parent / "fixtures"
ANNOTATIONS = tomllib.loads((FIXTURES / "facades.toml").read_text())


def _photo(name):
    return load_photo(FIXTURES / ANNOTATIONS[name]["photo"])


def _angle_to_vp(match, ends, axis) -> float:
    """Degrees between an annotated segment and the direction to the match's vanishing point."""
    segs = match.segments
    norm = (np.asarray(ends, float).reshape(1, 4) - [segs.width / 2, segs.height / 2] * 2) / segs.scale
    vp = match.vanishing_point(axis)
    vp = np.array(
        [(vp[0] - vp[2] * segs.width / 2) / segs.scale, (vp[1] - vp[2] * segs.height / 2) / segs.scale, vp[2]]
    )
    return float(np.degrees(angle_errors(norm, vp)[0, 0]))


@pytest.mark.parametrize("name", ["leuvenA", "leuvenA_left"])  # facing us; receding into the street
def test_proxy_facade_edges_within_4px_of_the_annotated_corners(name):
    photo = _photo(name)
    corners = ANNOTATIONS[name]["corners"]
    match = match_camera(photo, PlateSection(corners=[tuple(c) for c in corners]))
    facade = find_facade(photo, match)
    # rotation and focal length come from the photo's lines alone; the corners only place the facade
    assert match.focal_source == "lines"
    projected = facade.projected_face("front")[[3, 2, 1, 0]]
    assert np.abs(projected - np.asarray(corners)).max() <= 4.0
    assert facade.edge_error() <= 4.0


def test_automatic_match_agrees_with_annotated_lines():
    leuven = match_camera(_photo("leuvenA"))
    top = ANNOTATIONS["leuvenA"]["corners"][0] + ANNOTATIONS["leuvenA"]["corners"][1]
    bottom = ANNOTATIONS["leuvenA"]["corners"][3] + ANNOTATIONS["leuvenA"]["corners"][2]
    # 150 px edges clicked to a pixel: 1.5 deg is under 4 px at their far ends
    assert _angle_to_vp(leuven, top, 0) < 1.5 and _angle_to_vp(leuven, bottom, 0) < 1.5
    building = match_camera(_photo("building"))
    edge = sum(ANNOTATIONS["building"]["vertical_edge"], [])
    assert _angle_to_vp(building, edge, 2) < 1.0
    for match in (leuven, building):  # hand-held street photos: a nearly level horizon
        assert abs(match.roll) < 3.0
        assert 12.0 < match.focal_length < 120.0


@pytest.mark.parametrize("name", ["building", "leuvenA"])
def test_real_photos_match_in_a_fraction_of_a_second(name):
    import time

    photo = _photo(name)
    start = time.perf_counter()
    match_camera(photo)
    assert time.perf_counter() - start < 2.0


def test_focal_length_from_lines_agrees_with_the_phone():
    photo = _photo("leuvenA")
    assert photo.focal_35mm == 29.0  # the iPhone 6 wrote it in EXIF
    match = match_camera(photo)
    assert match.focal_source == "lines"  # measured, not read: lines come before EXIF
    assert match.focal_length == pytest.approx(photo.focal_35mm, rel=0.1)
