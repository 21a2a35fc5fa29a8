"""Camera projection mapping: the photo as a texture on the proxy, seen from the matched camera.

A fragment keeps, per vertex, the UV where its rest position projects into the
photo; as it falls it carries that patch of the real facade with it. Faces the
camera does not see (and fresh fracture faces) have no photo texture: ``facing``
tells which do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.plate.camera_match import CameraMatch
from setpiece.plate.facade import Proxy
from setpiece.plate.photo import Photo


@dataclass(frozen=True)
class Projection:
    texture: np.ndarray  # (H, W, 3) uint8, the photo (row 0 at the top)
    match: CameraMatch
    proxy: Proxy

    def uv(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> UVs (N, 2) into ``texture`` (u right, v up, OpenGL convention) and
        a bool mask of the points in front of the camera and inside the frame."""
        px = self.match.project(np.asarray(points, float))
        u = px[:, 0] / self.match.width
        v = 1.0 - px[:, 1] / self.match.height
        inside = (px[:, 2] > 0) & (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
        return np.c_[u, v], inside

    def facing(self, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Which surface points (with outward normals) face the camera, so the photo shows them."""
        to_eye = self.match.position - np.asarray(points, float)
        return np.einsum("ij,ij->i", to_eye, np.asarray(normals, float)) > 0

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Photo colour (N, 3) uint8 at world points, bilinear; black outside the frame."""
        import cv2

        px = self.match.project(np.asarray(points, float))
        maps = (px[:, 0:1] - 0.5).astype(np.float32), (px[:, 1:2] - 0.5).astype(np.float32)
        out = cv2.remap(self.texture, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return out.reshape(-1, 3)

    def face_uvs(self) -> dict[str, np.ndarray]:
        """UVs of the corners of every proxy face the camera sees."""
        return {name: self.uv(self.proxy.face(name))[0] for name in self.proxy.visible_faces(self.match.position)}


def projection(image: Photo | np.ndarray, match: CameraMatch, proxy: Proxy) -> Projection:
    rgb = image.pixels if isinstance(image, Photo) else np.asarray(image)
    if rgb.shape[:2] != (match.height, match.width):
        raise ValueError(f"photo is {rgb.shape[1]}x{rgb.shape[0]}, the camera match {match.width}x{match.height}")
    return Projection(np.ascontiguousarray(rgb), match, proxy)
