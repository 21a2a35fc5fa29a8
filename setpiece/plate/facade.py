"""The target facade and a proxy building standing where the photo's building stands.

The proxy is a box in the camera match's world (footprint centred on the
origin, front face at y = -depth/2, ground at z = 0), so setpiece's own
procedural building of the same width, depth and storeys lines up with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.plate.camera_match import CameraMatch
from setpiece.plate.photo import Photo
from setpiece.plate.section import PlateSection

# box corners as (sx, sy, sz) signs / offsets, faces counter-clockwise seen from outside
_FACES = {
    "front": [(-1, -1, 0), (1, -1, 0), (1, -1, 1), (-1, -1, 1)],
    "back": [(1, 1, 0), (-1, 1, 0), (-1, 1, 1), (1, 1, 1)],
    "left": [(-1, 1, 0), (-1, -1, 0), (-1, -1, 1), (-1, 1, 1)],
    "right": [(1, -1, 0), (1, 1, 0), (1, 1, 1), (1, -1, 1)],
    "top": [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)],
}
_NORMALS = {"front": (0, -1, 0), "back": (0, 1, 0), "left": (-1, 0, 0), "right": (1, 0, 0), "top": (0, 0, 1)}


@dataclass(frozen=True)
class Proxy:
    """A box building: footprint width x depth centred on the origin, height above z = 0."""

    width: float
    depth: float
    height: float

    def face(self, name: str) -> np.ndarray:
        """(4, 3) world corners of a face, counter-clockwise seen from outside
        (front: bottom-left, bottom-right, top-right, top-left)."""
        half = np.array([self.width / 2, self.depth / 2, 1.0])
        return np.array([[sx * half[0], sy * half[1], sz * self.height] for sx, sy, sz in _FACES[name]])

    def visible_faces(self, eye: np.ndarray) -> list[str]:
        """Faces whose outside the camera at ``eye`` sees."""
        out = []
        for name, normal in _NORMALS.items():
            centre = self.face(name).mean(axis=0)
            if np.dot(normal, np.asarray(eye) - centre) > 1e-9:
                out.append(name)
        return out


@dataclass(frozen=True)
class Facade:
    quad: np.ndarray  # (4, 2) pixels: top-left, top-right, bottom-right, bottom-left
    storeys: int
    storey_height: float
    proxy: Proxy
    match: CameraMatch

    def projected_face(self, name: str = "front") -> np.ndarray:
        """(4, 2) pixels of a proxy face (front: bottom-left, bottom-right, top-right, top-left)."""
        return self.match.project(self.proxy.face(name))[:, :2]

    def outline(self) -> np.ndarray:
        """Pixel polygon of the proxy as the camera sees it (convex hull of its visible faces)."""
        import cv2

        pts = np.vstack([self.projected_face(f) for f in self.proxy.visible_faces(self.match.position)])
        return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)

    def mask(self) -> np.ndarray:
        """(H, W) bool: where the proxy covers the photo."""
        import cv2

        m = np.zeros((self.match.height, self.match.width), np.uint8)
        cv2.fillPoly(m, [np.round(self.outline() * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        return m.astype(bool)

    def edge_error(self) -> float:
        """Largest distance (pixels) from the quad's corners to the projected front face's edges."""
        face = self.projected_face("front")[[3, 2, 1, 0]]  # as the quad: tl, tr, br, bl
        return float(max(_point_to_polygon(p, face) for p in self.quad))


def find_facade(image: Photo | np.ndarray, match: CameraMatch, hints: PlateSection | None = None) -> Facade:
    """The facade the camera match was built on (it is found with the camera, since the world
    frame hangs on it), its storeys and a proxy building (depth from ``hints.depth``, else as
    measured from the side wall, else a default)."""
    hints = hints or PlateSection()
    rgb = image.pixels if isinstance(image, Photo) else np.asarray(image)
    if rgb.shape[:2] != (match.height, match.width):
        raise ValueError(f"photo is {rgb.shape[1]}x{rgb.shape[0]}, the camera match {match.width}x{match.height}")
    width, height = match.facade_size
    depth = hints.depth or match.depth
    if depth != match.depth:
        # the facade stays where it is; a deeper proxy only extends backwards
        match = _with_depth(match, depth)
    return Facade(match.quad, match.storeys, match.storey_height, Proxy(width, depth, height), match)


def _with_depth(match: CameraMatch, depth: float) -> CameraMatch:
    from dataclasses import replace

    shift = np.array([0.0, (match.depth - depth) / 2, 0.0])
    return replace(match, depth=depth, position=match.position + shift)


def _point_to_polygon(p: np.ndarray, poly: np.ndarray) -> float:
    best = np.inf
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        t = np.clip(np.dot(p - a, b - a) / max(np.dot(b - a, b - a), 1e-12), 0, 1)
        best = min(best, float(np.linalg.norm(a + t * (b - a) - p)))
    return best
