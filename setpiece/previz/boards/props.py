"""Hand-prop proxies (flashlight, radio, clipboard, hard hat...) sized from
their names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.geometry import Mesh
from setpiece.previz.boards.shapes import UNIT_SPHERE_FINE, box, hull, limb, merge, ring

PROP_COLORS = ((0.55, 0.42, 0.10), (0.10, 0.30, 0.45), (0.50, 0.14, 0.10), (0.20, 0.40, 0.18))


_ROUND = (
    "flashlight",
    "bottle",
    "cup",
    "mug",
    "coffee",
    "extinguisher",
    "fire extinguisher",
    "dynamite",
    "stopwatch",
    "timer",
    "megaphone",
    "bullhorn",
    "hose",
    "rope",
)
_FLAT = (
    "clipboard",
    "map",
    "letter",
    "photo",
    "photograph",
    "book",
    "notebook",
    "folder",
    "envelope",
    "blueprint",
    "newspaper",
    "tablet",
    "laptop",
    "badge",
    "wallet",
)
_DOME = ("hard hat", "hardhat", "helmet")


def prop_mesh(name: str, color) -> tuple[Mesh, np.ndarray]:
    """A hand-prop proxy resting on z = 0 at the origin, and its size."""
    n = name.lower()
    if n in _DOME:
        pts = UNIT_SPHERE_FINE * [0.15, 0.13, 0.12]
        pts = np.vstack([pts[pts[:, 2] >= 0], ring((0, 0), 0.19, 0.16, 0.0, 12)])
        return hull(pts, color), np.array([0.38, 0.32, 0.13])
    if n in _ROUND:
        length = 0.26 if n in ("flashlight", "megaphone", "bullhorn", "extinguisher", "fire extinguisher") else 0.14
        if n in ("flashlight", "megaphone", "bullhorn", "dynamite", "hose", "rope"):
            m = limb((-length / 2, 0, 0.035), (length / 2, 0, 0.035), 0.03, 0.04, color, 10)
            return m, np.array([length, 0.08, 0.08])
        m = limb((0, 0, 0), (0, 0, length), 0.045, 0.045, color, 10)
        return m, np.array([0.09, 0.09, length])
    if n in _FLAT:
        size = np.array([0.24, 0.32, 0.02]) if n != "laptop" else np.array([0.34, 0.24, 0.025])
        return box(-size * [0.5, 0.5, 0], size * [0.5, 0.5, 1], color), size
    if n in ("radio", "walkie", "walkie-talkie", "phone", "cell phone", "remote", "detonator"):
        body = box((-0.04, -0.025, 0), (0.04, 0.025, 0.17), color)
        aerial = box((0.02, -0.006, 0.17), (0.032, 0.006, 0.3), (0.05, 0.05, 0.05))
        return merge([body, aerial], name), np.array([0.09, 0.06, 0.3])
    size = np.array([0.22, 0.16, 0.14])
    return box(-size * [0.5, 0.5, 0], size * [0.5, 0.5, 1], color), size


@dataclass
class PropPlace:
    name: str
    center: np.ndarray
    size: np.ndarray
    part: int
