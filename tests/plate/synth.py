"""Synthetic street photos: our procedural building drawn by the preview rasteriser with a known camera."""

from __future__ import annotations

import functools

import numpy as np

from setpiece.camera import Camera, sun_direction
from setpiece.geometry import box_mesh
from setpiece.render.raster import PreviewRenderer
from setpiece.spec import BuildingSection
from setpiece.world.building import make_building


def render_photo(camera: Camera, floors: int = 5, footprint=(14.0, 10.0), bays=(4, 3), **kw) -> np.ndarray:
    """(H, W, 3) uint8 sRGB photo of a concrete block under a blue sky (see _render); cached, as
    several tests look at the same street."""
    return _render(camera, floors, tuple(footprint), tuple(bays), **kw).copy()


@functools.lru_cache(maxsize=16)
def _render(
    camera: Camera,
    floors: int = 5,
    footprint=(14.0, 10.0),
    bays=(4, 3),
    storey_height: float = 3.2,
    sun_azimuth: float | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 sRGB photo of a concrete block under a blue sky; the sun comes from behind
    the camera unless ``sun_azimuth`` (degrees, 0 = +Y, clockwise) says otherwise."""
    if sun_azimuth is None:
        sun_azimuth = (np.degrees(np.arctan2(camera.position[0], camera.position[1])) + 25.0) % 360
    section = BuildingSection(floors=floors, footprint=footprint, bays=bays, storey_height=storey_height)
    building = make_building(section)
    solid = [e for e in building.elements if e.kind != "glass"]  # open windows: the photo shows their rows
    parts = [box_mesh((np.add(e.lo, e.hi)) / 2, np.subtract(e.hi, e.lo), building.color) for e in solid]
    renderer = PreviewRenderer(parts, ground_color=(0.16, 0.15, 0.14))
    try:
        passes = renderer.render(
            camera, None, sun_direction(35.0, sun_azimuth), (3.0, 2.85, 2.64), (0.33, 0.41, 0.54), scene_radius=60.0
        )
    finally:
        renderer.release()
    h = camera.height
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    sky = (1 - ramp) * np.array([0.35, 0.55, 1.0]) + ramp * np.array([0.9, 0.95, 1.0])
    linear = passes.beauty + (1 - passes.alpha[..., None]) * sky
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.clip(linear, 0, None) ** (1 / 2.4) - 0.055)
    return (np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def three_quarter(
    distance: float, azimuth_deg: float, height: float, target_z: float, focal: float, size=(640, 400)
) -> Camera:
    """Camera ``distance`` m from the building's front-left/right, ``azimuth`` from straight on (-Y)."""
    a = np.radians(azimuth_deg)
    pos = (distance * np.sin(a), -distance * np.cos(a), height)
    return Camera(pos, (0.0, 0.0, target_z), focal, 36.0, size[0], size[1], far=5000.0)
