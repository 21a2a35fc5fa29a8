"""Plain triangle meshes passed between stages and renderers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Mesh:
    vertices: np.ndarray  # (N, 3) float, world metres
    faces: np.ndarray  # (M, 3) int, counter-clockwise seen from outside
    color: tuple[float, float, float] = (0.5, 0.5, 0.5)  # linear RGB albedo
    name: str = "mesh"
    meta: dict = field(default_factory=dict)


# Triangles of a box whose 8 corners are listed x-major, then y, then z, each -1 then
# +1 (corner k = (x, y, z) with x = k >> 2, y = (k >> 1) & 1, z = k & 1), wound outwards.
BOX_FACES = np.array(
    [
        [0, 1, 3],
        [0, 3, 2],
        [4, 6, 7],
        [4, 7, 5],
        [0, 4, 5],
        [0, 5, 1],
        [2, 3, 7],
        [2, 7, 6],
        [0, 2, 6],
        [0, 6, 4],
        [1, 5, 7],
        [1, 7, 3],
    ]
)
BOX_FACES.setflags(write=False)
BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
BOX_CORNERS.setflags(write=False)


def box_mesh(center, size, color=(0.5, 0.5, 0.5), name="box") -> Mesh:
    """Axis-aligned box with outward-facing triangles."""
    c, h = np.asarray(center, float), np.asarray(size, float) / 2
    return Mesh(c + BOX_CORNERS * h, BOX_FACES.copy(), color, name)
