"""Pinhole camera shared by every renderer (world is Z-up, metres).

Matrices follow OpenGL: camera looks down -Z in view space, clip space is
[-1, 1]^3, and image row 0 is the top of the frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    target: tuple[float, float, float]
    focal_length: float = 28.0  # mm
    sensor_width: float = 36.0  # mm
    width: int = 640
    height: int = 360
    near: float = 0.1
    far: float = 1000.0

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def fov_x(self) -> float:
        """Horizontal field of view, degrees."""
        return math.degrees(2 * math.atan(self.sensor_width / (2 * self.focal_length)))

    @property
    def fov_y(self) -> float:
        """Vertical field of view, degrees."""
        half = math.atan(self.sensor_width / self.aspect / (2 * self.focal_length))
        return math.degrees(2 * half)

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit right, up and forward vectors in world space."""
        eye, tgt = np.asarray(self.position, float), np.asarray(self.target, float)
        forward = tgt - eye
        forward /= np.linalg.norm(forward)
        world_up = np.array([0.0, 0.0, 1.0])
        if abs(forward @ world_up) > 0.999:
            world_up = np.array([0.0, 1.0, 0.0])
        right = np.cross(forward, world_up)
        right /= np.linalg.norm(right)
        return right, np.cross(right, forward), forward

    def view_matrix(self) -> np.ndarray:
        right, up, forward = self.basis()
        eye = np.asarray(self.position, float)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = right, up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view

    def projection_matrix(self) -> np.ndarray:
        f = 1.0 / math.tan(math.radians(self.fov_y) / 2)
        n, fa = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0], proj[1, 1] = f / self.aspect, f
        proj[2, 2], proj[2, 3] = (fa + n) / (n - fa), 2 * fa * n / (n - fa)
        proj[3, 2] = -1.0
        return proj

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N,3) -> pixel coords (N,2) and view depth (N,), as (N,3)."""
        pts = np.c_[np.asarray(points, float), np.ones(len(points))]
        view = pts @ self.view_matrix().T
        clip = view @ self.projection_matrix().T
        ndc = clip[:, :3] / clip[:, 3:4]
        px = (ndc[:, 0] + 1) * 0.5 * self.width
        py = (1 - ndc[:, 1]) * 0.5 * self.height
        return np.c_[px, py, -view[:, 2]]

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel ray origin (3,) and unit directions (H, W, 3) through pixel centres."""
        right, up, forward = self.basis()
        half_w = math.tan(math.radians(self.fov_x) / 2)
        half_h = half_w / self.aspect
        xs = ((np.arange(self.width) + 0.5) / self.width * 2 - 1) * half_w
        ys = (1 - (np.arange(self.height) + 0.5) / self.height * 2) * half_h
        dirs = forward + xs[None, :, None] * right + ys[:, None, None] * up
        dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
        return np.asarray(self.position, float), dirs


def sun_direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector pointing from the ground towards the sun (azimuth 0 = +Y, clockwise)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])
