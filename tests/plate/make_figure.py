"""Draws docs/plate_analysis.png: line families, horizon, facade and proxy, and clean plates.

Run from the repository root: python -m tests.plate.make_figure
"""

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from setpiece.plate import PlateSection, PlateWarning, clean_plate, find_facade, load_photo, match_camera
from setpiece.plate.overlay import draw_analysis
from tests.plate.synth import render_photo, three_quarter

FIXTURES = Path(__file__).parent / "fixtures"
TILE = (480, 315)


def _proxy_edges(facade) -> np.ndarray:
    edges = []
    for name in facade.proxy.visible_faces(facade.match.position):
        face = facade.projected_face(name)
        edges += [np.r_[a, b] for a, b in zip(face, np.roll(face, -1, axis=0))]
    return np.array(edges)


def _tile(rgb, label):
    h, w = rgb.shape[:2]
    s = min(TILE[0] / w, TILE[1] / h)
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.full((TILE[1], TILE[0], 3), 24, np.uint8)
    out[: small.shape[0], : small.shape[1]] = small
    cv2.putText(out, label, (8, TILE[1] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _house_corners(rgb) -> list[tuple[float, float]]:
    """The brick house on the right, from its left corner (x 487) to the frame, eave (y 210) to the
    garden wall (y 378), squared up on the facade plane the annotated windows give."""
    windows = [(599, 311), (747, 310), (747, 362), (600, 367)]
    m = match_camera(rgb, PlateSection(corners=windows))
    plane_y = -m.depth / 2
    ends = []
    for u, v in ((487, 210), (747, 378)):
        ray = m.rotation.T @ np.linalg.inv(m.K) @ np.array([u, v, 1.0])
        ends.append(m.position + ray * (plane_y - m.position[1]) / ray[1])
    (x0, _, z1), (x1, _, z0) = ends
    world = np.array([[x0, plane_y, z1], [x1, plane_y, z1], [x1, plane_y, z0], [x0, plane_y, z0]])
    return [tuple(map(float, p)) for p in np.clip(m.project(world)[:, :2], 0, [rgb.shape[1], rgb.shape[0]])]


def _analyse(rgb, hints=None):
    match = match_camera(rgb, hints)
    facade = find_facade(rgb, match, hints)
    return draw_analysis(rgb, match, _proxy_edges(facade)), clean_plate(rgb, facade.mask()), match


def main() -> None:
    warnings.simplefilter("ignore", PlateWarning)
    tiles = []
    cam = three_quarter(40, 35, 1.7, 9, 24, size=(960, 600))
    synth = render_photo(cam, floors=6, footprint=(16, 12))
    drawn, clean, m = _analyse(synth)
    tiles += [
        _tile(drawn, f"synthetic: {m.focal_length:.1f} mm (true 24), {m.storeys} storeys, automatic facade"),
        _tile(clean, "synthetic: clean plate (sky extended, street inpainted)"),
    ]
    building = load_photo(FIXTURES / "building.jpg").pixels
    drawn, clean, m = _analyse(building)
    tiles += [
        _tile(drawn, f"building.jpg: {m.focal_length:.0f} mm, roll {m.roll:.1f} deg, automatic facade"),
        _tile(clean, "building.jpg: clean plate of the automatic facade"),
    ]
    leuven = load_photo(FIXTURES / "leuvenA.jpg").pixels
    corners = _house_corners(leuven)
    drawn, clean, m = _analyse(leuven, PlateSection(corners=corners))
    tiles += [
        _tile(drawn, f"leuvenA.jpg: house corners given, {m.focal_length:.0f} mm ({m.focal_source}), proxy magenta"),
        _tile(clean, "leuvenA.jpg: clean plate of the given facade"),
    ]
    rows = [np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]
    Path("docs").mkdir(exist_ok=True)
    Image.fromarray(np.vstack(rows)).save("docs/plate_analysis.png", optimize=True)


if __name__ == "__main__":
    main()
