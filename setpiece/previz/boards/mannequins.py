"""Mannequins: low-poly figures whose face, nose and hair make facing read,
one muted costume colour per character name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from setpiece.geometry import Mesh
from setpiece.previz.boards.shapes import box, hull, limb, merge, ring, sphere, stable_seed

# Muted linear-RGB costume colours; a name picks one by hash, the same in every scene.
CHARACTER_COLORS = (
    (0.42, 0.10, 0.08),
    (0.08, 0.18, 0.42),
    (0.18, 0.30, 0.08),
    (0.50, 0.34, 0.05),
    (0.26, 0.11, 0.36),
    (0.05, 0.30, 0.28),
    (0.46, 0.18, 0.04),
    (0.20, 0.22, 0.30),
)
SKIN = (0.50, 0.33, 0.24)
HAIR = (0.05, 0.04, 0.035)


def character_color(name: str) -> tuple:
    return CHARACTER_COLORS[stable_seed(name.upper()) % len(CHARACTER_COLORS)]


def character_height(name: str) -> float:
    return 1.66 + (stable_seed("height", name.upper()) % 17) / 100  # 1.66 .. 1.82 m


def mannequin(color, height: float = 1.75) -> Mesh:
    """A low-poly figure standing at the origin, facing +X (face, nose), in one mesh."""
    s = height / 1.75
    body = np.asarray(color, float)
    legs = body * 0.45 + 0.02
    shoe = (0.04, 0.035, 0.03)
    pieces = []
    for side in (-1, 1):
        y = 0.095 * side * s
        pieces.append(box((-0.06 * s, y - 0.055 * s, 0), (0.17 * s, y + 0.055 * s, 0.075 * s), shoe))
        pieces.append(limb((0, y, 0.06 * s), (0, y * 1.05, 0.9 * s), 0.055 * s, 0.085 * s, legs))
        shoulder = np.array([0.0, 0.205 * side * s, 1.42 * s])
        elbow = np.array([0.03 * s, 0.235 * side * s, 1.12 * s])
        hand = np.array([0.09 * s, 0.235 * side * s, 0.86 * s])
        pieces.append(limb(shoulder, elbow, 0.05 * s, 0.043 * s, body))
        pieces.append(limb(elbow, hand, 0.043 * s, 0.036 * s, body))
        pieces.append(sphere(hand, 0.045 * s, SKIN))
    pieces.append(box((-0.1 * s, -0.17 * s, 0.84 * s), (0.1 * s, 0.17 * s, 1.0 * s), legs))
    torso = np.vstack(
        [
            ring((0, 0), 0.10 * s, 0.165 * s, 0.95 * s, 10),
            ring((0, 0), 0.125 * s, 0.215 * s, 1.36 * s, 10),
            ring((0, 0), 0.09 * s, 0.17 * s, 1.47 * s, 10),
        ]
    )
    pieces.append(hull(torso, body))
    pieces.append(limb((0, 0, 1.44 * s), (0.01 * s, 0, 1.56 * s), 0.05 * s, 0.045 * s, SKIN))
    head = sphere((0.01 * s, 0, 1.635 * s), 0.105 * s, SKIN, fine=True, squash=1.15)
    centres = head.vertices[head.faces].mean(axis=1) - np.array([0.01 * s, 0, 1.635 * s])
    hair = (
        (centres[:, 0] < -0.03 * s)
        | (centres[:, 2] > 0.07 * s)
        | ((centres[:, 0] < 0.03 * s) & (centres[:, 2] > 0.02 * s))
    )
    head.color = np.where(hair[:, None], np.asarray(HAIR), np.asarray(SKIN))
    pieces.append(head)
    pieces.append(box((0.095 * s, -0.017 * s, 1.60 * s), (0.135 * s, 0.017 * s, 1.645 * s), SKIN))
    for side in (-1, 1):  # eyes: which way a head faces reads at any size
        pieces.append(
            box(
                (0.088 * s, (side * 0.042 - 0.014) * s, 1.655 * s),
                (0.112 * s, (side * 0.042 + 0.014) * s, 1.675 * s),
                HAIR,
            )
        )
    return merge(pieces, "mannequin")


@dataclass
class Actor:
    name: str
    position: np.ndarray  # feet, world metres
    yaw: float  # facing direction, radians from +X
    height: float
    part: int
    color: tuple = (0.5, 0.5, 0.5)  # costume (linear RGB)

    @property
    def facing(self) -> np.ndarray:
        return np.array([math.cos(self.yaw), math.sin(self.yaw), 0.0])

    def at(self, fraction: float) -> np.ndarray:
        """The point on the body's axis at this fraction of its height."""
        return self.position + np.array([0.0, 0.0, self.height * fraction])

    @property
    def eye(self) -> np.ndarray:
        return self.at(0.935) + self.facing * 0.08 * self.height / 1.75
